"""cocotb testbench of ``spikecore.hw.top.Top`` (UART, COBS, CRC, protocol engine, core).

Every exchange is sent bit by bit on the rx line; the reply bytes decoded from the tx line
must equal, byte for byte, what ``spikecore.emulator.DeviceEmulator`` (the protocol on the
golden model) answers to the same bytes. Exchanges cover a whole load / run / read-back
session, pipelined frames, every error status, the w_min <= w_max rule, and a device reset in
the middle of a RUN. ``TB_PARAMS`` (JSON): ``n_inputs``, ``n_neurons``, ``lanes``,
``divisor``, ``clk_hz``, ``rx_window``, ``seed``, and optionally ``max_payload`` (the Top's
and the emulator's; default ``spec.MAX_PAYLOAD``).
"""

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

from spikecore import spec
from spikecore.emulator import DeviceEmulator
from spikecore.protocol import FrameDecoder, encode_frame, parse_position, parse_reply
from spikecore.spec import (Command, Counter, NeuronField, Setting, Space, StateField, Status,
                            neuron_bits, src_bits)
from randnet import random_network
from spikecore import Network
from uart_bfm import LineDriver, LineMonitor

PARAMS = json.loads(os.environ.get("TB_PARAMS", "{}"))


def code(value):
    """Return the number of an enum member (or of a plain int, for codes that do not exist)."""
    return getattr(value, "value", value)


def statuses(wire):
    """Return the statuses of the reply frames in *wire*."""
    return [parse_reply(payload).status for payload in FrameDecoder().feed(wire)]


def u(value, size):
    return int(value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


class Session:
    """Builds request payloads with incrementing sequence numbers."""

    def __init__(self, n_inputs, n_neurons, seq=0x40, max_payload=spec.MAX_PAYLOAD):
        self.n_inputs, self.n_neurons = n_inputs, n_neurons
        self.max_payload = max_payload
        self.n_src = n_inputs + n_neurons
        self.nb, self.sb = neuron_bits(n_neurons), src_bits(n_inputs, n_neurons)
        self.seq = seq

    def payload(self, command, args=b"", seq=None):
        if seq is None:
            seq, self.seq = self.seq, (self.seq + 1) & 0xff
        return bytes([seq, code(command)]) + args

    def write(self, space, addr, values, width):
        args = bytes([code(space)]) + u(addr, 3) + u(len(values), 2) + bytes([width])
        return self.payload(Command.WRITE, args + b"".join(u(v, width) for v in values))

    def read(self, space, addr, count, width):
        return self.payload(Command.READ, bytes([code(space)]) + u(addr, 3) + u(count, 2)
                            + bytes([width]))

    def run(self, records, steps=None):
        steps = len(records) if steps is None else steps
        return self.payload(Command.RUN, u(steps, 2) + b"".join(records))

    def record(self, members, n, bitmap):
        if bitmap:
            bits = np.zeros(spec.bitmap_bytes(n) * 8, dtype=np.uint8)
            bits[list(members)] = 1
            return bytes([spec.RECORD_BITMAP]) + np.packbits(bits, bitorder="little").tobytes()
        size = spec.index_bytes(n)
        return bytes([len(members)]) + b"".join(u(k, size) for k in members)


def load_frames(s, net):
    """Return the payloads that load *net*: weights, parameters, settings, masks, reset."""
    N = s.n_neurons
    if net.weights.size <= s.max_payload - 9:
        frames = [s.write(Space.WEIGHT, 0, net.weights.reshape(-1).tolist(), 1)]
    else:                               # a frame per source (a row of N weights)
        frames = [s.write(Space.WEIGHT, j << s.nb, row.tolist(), 1)
                  for j, row in enumerate(net.weights)]
    for field, values, width in ((NeuronField.VTH, net.vth, 3), (NeuronField.BIAS, net.bias, 3),
                                 (NeuronField.DU, net.du, 2), (NeuronField.DV, net.dv, 2),
                                 (NeuronField.T_REF, net.t_ref, 1)):
        frames.append(s.write(Space.NEURON, field.value << s.nb, values.tolist(), width))
    lr = net.learning
    settings = [net.w_exp, int(lr.enabled), lr.a_plus, lr.a_minus, lr.x_imp, lr.y_imp,
                lr.x_decay, lr.y_decay, lr.w_min, lr.w_max]
    frames.append(s.write(Space.SETTING, 0, settings, 2))
    frames.append(s.write(Space.MASK, 0, net.plastic_src.astype(int).tolist(), 1))
    frames.append(s.write(Space.MASK, 1 << s.sb, net.plastic_dst.astype(int).tolist(), 1))
    frames.append(s.payload(Command.RESET, bytes([3])))
    return frames


def readback_frames(s):
    """Return the payloads that read every weight, parameter, setting, mask and state."""
    N, S = s.n_neurons, s.n_src
    small = S * N <= s.max_payload - 2
    wide = 4 if N * 4 <= s.max_payload - 2 else 3      # 24-bit values: 3 bytes suffice
    frames = [s.read(Space.WEIGHT, 0, S * N, 1)] if small else [
        s.read(Space.WEIGHT, j << s.nb, N, 1) for j in range(S)]
    frames += [s.read(Space.NEURON, 0, len(NeuronField) * (1 << s.nb), 4)
               if N == 1 << s.nb and small
               else s.read(Space.NEURON, NeuronField.BIAS.value << s.nb, N, wide),
              s.read(Space.SETTING, 0, len(Setting), 2),
              s.read(Space.MASK, 0, S, 1), s.read(Space.MASK, 1 << s.sb, N, 1),
              s.read(Space.COUNTER, Counter.STEPS_LO.value, 2, 4)]
    for field, count, width in ((StateField.U, N, 3), (StateField.V, N, wide),
                                (StateField.REF, N, 1), (StateField.Y, N, 1),
                                (StateField.X, S, 1), (StateField.SPIKED, N, 1)):
        frames.append(s.read(Space.STATE, (field.value << s.sb), count, width))
    return frames


def run_frames(s, rng, steps, per_frame):
    frames = []
    for start in range(0, steps, per_frame):
        records = []
        for _ in range(min(per_frame, steps - start)):
            members = [k for k in range(s.n_inputs) if rng.random() < 0.4]
            if members and rng.random() < 0.3:
                members.append(rng.choice(members))      # a duplicate counts once
                rng.shuffle(members)
            records.append(s.record(members, s.n_inputs, bitmap=rng.random() < 0.4))
        frames.append(s.run(records))
    return frames


def corrupt(wire, rng):
    """Flip one bit of a non-delimiter byte (the frame then fails its CRC or its COBS)."""
    wire = bytearray(wire)
    k = rng.randrange(len(wire) - 1)
    bit = 1 << rng.randrange(8)
    if wire[k] ^ bit == 0:
        bit ^= 0x03
    wire[k] ^= bit
    return bytes(wire)


class TopBench:
    """Clock, reset, the rx line's driver and the tx line's monitor around a Top, and the
    emulator that must answer the same bytes."""

    def __init__(self, dut, params):
        self.dut, self.p = dut, params
        self.d = params["divisor"]
        self.max_payload = params.get("max_payload", spec.MAX_PAYLOAD)
        self.emulator = None
        Clock(dut.clk, 10, unit="ns").start()
        self.line = LineDriver(dut.clk, dut.rx, self.d)
        self.monitor = None

    async def start(self):
        await self.reset()
        self.monitor = LineMonitor(self.dut.clk, self.dut.tx, self.d)

    async def reset(self, clocks=3):
        """Hold the Top's reset for *clocks*; from then on it answers as a device powered up."""
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, clocks)
        self.dut.rst.value = 0
        p = self.p
        self.emulator = DeviceEmulator(p["n_inputs"], p["n_neurons"], lanes=p["lanes"],
                                       clk_hz=p["clk_hz"], baud=p["clk_hz"] // self.d,
                                       rx_window=p["rx_window"], max_payload=self.max_payload)

    async def exchange(self, wire, what):
        """Send *wire*; wait for the emulator's reply bytes to come back; compare."""
        clk, d, monitor = self.dut.clk, self.d, self.monitor
        want = self.emulator.feed(wire)
        start = len(monitor.bytes_)
        await self.line.send(wire)
        budget = 20 * d * (len(want) + 4) + 400_000
        while len(monitor.bytes_) - start < len(want) and budget > 0:
            await ClockCycles(clk, 64)
            budget -= 64
        await ClockCycles(clk, 12 * d)          # nothing more may follow
        got = bytes(monitor.bytes_[start:])
        assert got == want, f"{what}: device replied {got.hex()}, emulator {want.hex()}"
        assert monitor.stop_errors == 0
        return got

    async def reset_after_spikes(self, count):
        """Reset the Top once *count* spikes have left the core (``spike`` pulses)."""
        seen = 0
        while seen < count:
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            seen += int(self.dut.spike.value)
        await FallingEdge(self.dut.clk)
        await self.reset()


def bounds_frames(s, w_min, w_max):
    """Return (payload, status, position) of WRITEs that cross or touch w_min <= w_max: one
    bound at a time and as blocks, in both directions. The last restores (*w_min*, *w_max*).

    Each status is derived by hand from the settings the WRITE would leave (in the comments).
    """
    W_MIN, W_MAX = Setting.W_MIN.value, Setting.W_MAX.value
    OK, BAD_VALUE, BAD_ADDRESS = Status.OK, Status.BAD_VALUE, Status.BAD_ADDRESS
    return [
        (s.write(Space.SETTING, W_MIN, [-10, 10], 1), OK, None),          # (-10, 10)
        (s.write(Space.SETTING, W_MIN, [11], 1), BAD_VALUE, 0),           # (11, 10)
        (s.write(Space.SETTING, W_MAX, [-11], 1), BAD_VALUE, 0),          # (-10, -11)
        (s.write(Space.SETTING, W_MIN, [10], 1), OK, None),               # (10, 10)
        (s.write(Space.SETTING, W_MIN, [-10], 1), OK, None),              # (-10, 10)
        (s.write(Space.SETTING, W_MIN, [50], 1), BAD_VALUE, 0),           # up, min first
        (s.write(Space.SETTING, W_MAX, [60], 1), OK, None),               # up, max first
        (s.write(Space.SETTING, W_MIN, [50], 1), OK, None),               # (50, 60)
        (s.write(Space.SETTING, W_MAX, [-50], 1), BAD_VALUE, 0),          # down, max first
        (s.write(Space.SETTING, W_MIN, [-60], 1), OK, None),              # down, min first
        (s.write(Space.SETTING, W_MAX, [-50], 1), OK, None),              # (-60, -50)
        (s.write(Space.SETTING, W_MIN, [50, 60], 2), OK, None),           # a block, up
        (s.write(Space.SETTING, W_MIN, [-60, -50], 2), OK, None),         # a block, down
        (s.write(Space.SETTING, W_MIN, [10, 5], 1), BAD_VALUE, 0),        # (10, 5)
        (s.write(Space.SETTING, Setting.Y_DECAY.value, [7, 10, 5], 2), BAD_VALUE, 1),
        (s.write(Space.SETTING, Setting.A_PLUS.value, [1, 2, 3, 4, 5, 6, -49], 1),
         BAD_VALUE, 6),                                                   # (-49, -50)
        (s.write(Space.SETTING, W_MAX, [-61], 1), BAD_VALUE, 0),          # (-60, -61)
        (s.write(Space.SETTING, W_MIN, [10, 999], 2), BAD_VALUE, 1),      # 999: out of range
        (s.write(Space.SETTING, W_MAX, [-100, 0], 1), BAD_VALUE, 0),      # (-60, -100)
        (s.write(Space.SETTING, W_MIN, [10, 5, 0], 1), BAD_VALUE, 0),     # (10, 5), then 10
        (s.write(Space.SETTING, W_MIN, [-70, -65, 0, 0, 0, 24, 0, 0], 1),
         BAD_ADDRESS, 7),                                                 # no setting 15
        (s.write(Space.SETTING, W_MIN, [-70, -65, 3], 1), OK, None),      # (-70, -65)
        (s.write(Space.SETTING, W_MIN, [w_min, w_max], 2), OK, None),
    ]


@cocotb.test()
async def session_matches_emulator(dut):
    p = PARAMS
    n_in, N = p["n_inputs"], p["n_neurons"]
    rng = random.Random(p["seed"])
    tb = TopBench(dut, p)
    await tb.start()
    exchange = tb.exchange
    max_payload = tb.max_payload

    s = Session(n_in, N, max_payload=max_payload)
    net = random_network(n_in, N, p["seed"], learning=True)
    frame = encode_frame
    await exchange(b"\x00", "a lone delimiter")
    await exchange(frame(s.payload(Command.IDENTIFY)), "identify")
    await exchange(b"".join(frame(f) for f in load_frames(s, net)), "load, pipelined")
    await exchange(b"".join(frame(f) for f in run_frames(s, rng, 40, 7)), "run 40 steps")
    await exchange(b"".join(frame(f) for f in readback_frames(s)), "read back")
    for k, (payload, status, position) in enumerate(
            bounds_frames(s, net.learning.w_min, net.learning.w_max)):
        what = f"bounds {k} ({payload.hex()})"
        reply = parse_reply(FrameDecoder().feed(await exchange(frame(payload), what))[0])
        assert (reply.status, parse_position(reply.data)) == (status, position), what
    await exchange(frame(s.read(Space.SETTING, 0, len(Setting), 2)), "settings read back")

    # Errors, each answered, nothing applied, the next command fine.
    good = s.write(Space.WEIGHT, 5, [1, 2, 3], 1)
    await exchange(corrupt(frame(good), rng), "a corrupted frame")
    await exchange(frame(s.payload(Command.READ, b"", seq=(s.seq + 5) & 0xff)), "out of order")
    await exchange(frame(good), "the corrupted frame sent again")
    await exchange(frame(good), "a retransmission (deduplicated)")
    nb, sb = s.nb, s.sb
    bad = [
        s.write(Space.NEURON, (5 << nb), [1], 4),                              # no field 5
        s.write(Space.NEURON, (NeuronField.DU.value << nb), [0, 1, 4096, 4097, 9], 2),
        s.write(Space.NEURON, (NeuronField.VTH.value << nb), [-1], 4),
        s.write(Space.NEURON, (NeuronField.BIAS.value << nb), [5, 1 << 23], 4),   # too big
        s.write(Space.NEURON, (NeuronField.BIAS.value << nb), [-(1 << 23) - 1], 4),
        s.write(Space.NEURON, (NeuronField.BIAS.value << nb), [(1 << 31) - 5], 4),
        s.write(Space.WEIGHT, 0, [127, -128, 200], 2),
        s.write(Space.SETTING, Setting.W_EXP.value, [15, 1, 0, 0, 0, 0, 0, 257], 2),
        s.write(Space.SETTING, Setting.ENABLED.value, [2], 1),
        s.write(Space.MASK, 1 << sb, [1] * N + [1], 1),                        # one too many
        s.write(Space.STATE, 0, [0], 1),
        s.write(Space.COUNTER, 0, [0], 1),
        s.write(Space.CONTROL, 0, [0], 1),
        s.write(9, 0, [0], 1),
        s.payload(Command.WRITE, bytes([0, 0, 0, 0, 2, 0, 1, 5])),              # one value short
        s.write(Space.WEIGHT, 0, [1], 5),
        s.read(Space.CONTROL, 0, 1, 4),
        s.read(Space.STATE, (StateField.X.value << sb) + s.n_src - 1, 2, 1),
        s.read(Space.WEIGHT, 0, 512, 2),                                        # reply too long
        s.read(Space.WEIGHT, 0, 0, 1),
        s.payload(Command.RESET, bytes([4])),
        s.payload(Command.RESET, b""),
        s.payload(0x7f),                                                        # unknown
        s.run([s.record([0], n_in, False), s.record([n_in], n_in, False)]),     # index too big
        s.run([s.record([], n_in, False)], steps=2),                           # a record short
        s.run([s.record([], n_in, False)] * 2, steps=1),                       # one too many
        s.run([], steps=0),
        s.run([s.record([], n_in, False)], steps=0xffff),
    ]
    if n_in % 8:
        pad = bytes([spec.RECORD_BITMAP]) + bytes([0xff]) * ((n_in + 7) // 8)
        bad.append(s.run([s.record([], n_in, False), pad]))                    # padding bit
    for k, payload in enumerate(bad):
        await exchange(frame(payload), f"bad command {k} ({payload.hex()})")
    # Payloads of 1 and 0 bytes, empty frames, 1 decoded byte, a block cut short: none is a
    # frame that arrived intact (BAD_FRAME, the seq a fragment's first byte or 0).
    got = await exchange(frame(b"\x01") + frame(b"") + bytes(20) + b"\x02\x03\x00"
                         + b"\x07\x01\x02\x00", "short and malformed")
    assert statuses(got) == [Status.BAD_FRAME] * 4
    got = await exchange(frame(bytes([s.seq, Command.RUN.value]) + bytes(max_payload)),
                         "a frame longer than max_payload")
    assert statuses(got) == [Status.BAD_FRAME]
    await exchange(bytes(rng.randrange(1, 256) for _ in range(300)) + b"\x00", "garbage")

    # After all that: the state is what the golden model says.
    await exchange(b"".join(frame(f) for f in run_frames(s, rng, 20, 20)), "run 20 more")
    await exchange(b"".join(frame(f) for f in readback_frames(s)), "read back again")
    await exchange(frame(s.payload(Command.IDENTIFY, seq=3)), "identify again")
    s.seq = 4
    await exchange(frame(s.payload(Command.RESET, bytes([1]))), "reset the state")
    await exchange(b"".join(frame(f) for f in readback_frames(s)), "read back after reset")


def spiking_network(n_inputs, n_neurons, spiking):
    """Return a network whose neurons in *spiking* spike every step and the others never.

    No weights, no decay, no refractory steps, threshold 0: each step v is the bias, 1 for the
    neurons in *spiking* (1 > 0: a spike) and 0 for the others.
    """
    net = Network(n_inputs, n_neurons, seed=None)
    net.weights[:] = 0
    for name in ("vth", "bias", "du", "dv", "t_ref"):
        getattr(net, name)[:] = 0
    net.bias[list(spiking)] = 1
    net.w_exp = 0
    net.learning.enabled = False
    return net


@cocotb.test()
async def reset_mid_run(dut):
    """A reset while a RUN collects its spikes; afterwards the Top is a device powered up.

    Memories keep their contents through a reset. Network A makes every neuron spike, and the
    reset comes once the link has put A's first bitmap bytes into its memory, before the end
    of the step would have cleared them. Network B makes neurons 0 … m − 1 spike, just enough
    for a bitmap record, whose bytes the link takes from that memory: they must be B's.
    """
    p = PARAMS
    n_in, N = p["n_inputs"], p["n_neurons"]
    tb = TopBench(dut, p)
    await tb.start()
    bitmap, index_bytes = spec.bitmap_bytes(N), spec.index_bytes(N)
    m = -(-bitmap // index_bytes)           # the fewest spikes sent as a bitmap
    assert spec.record_bytes(m, N) == 1 + bitmap
    last = (m - 1) // 8                     # B's last bitmap byte
    # A's spikes 0 … 8·(last + 1) have put bytes 0 … last into the memory.
    spikes = 8 * (last + 1) + 2
    assert N > spikes, f"{N} neurons cannot show a bitmap byte left over (needs > {spikes})"
    frame = encode_frame

    s = Session(n_in, N, max_payload=tb.max_payload)
    await tb.exchange(frame(s.payload(Command.IDENTIFY)), "identify")
    await tb.exchange(b"".join(frame(f) for f in load_frames(s, spiking_network(n_in, N,
                                                                                range(N)))),
                      "load A")
    received = len(tb.monitor.bytes_)
    reset = cocotb.start_soon(tb.reset_after_spikes(spikes))
    await tb.line.send(frame(s.run([s.record([], n_in, False)])))
    await reset
    await ClockCycles(dut.clk, 12 * tb.d)
    assert len(tb.monitor.bytes_) == received, "the RUN was answered before the reset"

    s = Session(n_in, N, seq=0x10, max_payload=tb.max_payload)
    await tb.exchange(frame(s.payload(Command.IDENTIFY)), "identify after the reset")
    await tb.exchange(b"".join(frame(f) for f in load_frames(s, spiking_network(n_in, N,
                                                                                range(m)))),
                      "load B")
    got = await tb.exchange(frame(s.run([s.record([], n_in, False)] * 3)), "run B")
    records = parse_reply(FrameDecoder().feed(got)[0]).data
    assert records[0] == spec.RECORD_BITMAP, "B's first record is not a bitmap"
    await tb.exchange(b"".join(frame(f) for f in readback_frames(s)), "read back B")
