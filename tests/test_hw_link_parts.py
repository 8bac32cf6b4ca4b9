"""Amaranth-simulator tests of the link's parts against the host side of docs/protocol.md.

Each part is compared with the ``spikecore.protocol`` function of the same meaning:
``FrameReceiver`` with ``FrameDecoder``, ``ReplySender`` with ``encode_frame``'s payload and
CRC, ``RecordFeeder`` with ``decode_records``, ``SpikeCollector`` with ``encode_records``, and
the whole ``Link`` (its ``Executor`` and ``AccessCheck``) with ``DeviceEmulator`` on the
requests whose replies do not depend on the core's state. Hand-derived cases come first;
random cases are seeded and print their seed.
"""

import binascii
import random

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from spikecore import protocol, spec
from spikecore.emulator import DeviceEmulator
from spikecore.hw.access import AccessCheck
from spikecore.hw.executor import Executor
from spikecore.hw.frames import CRC16, FrameReceiver, ReplySender
from spikecore.hw.link import Link
from spikecore.hw.records import RecordFeeder, SpikeCollector
from spikecore.spec import Command, Space, Status

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


def run(dut, *testbenches):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for tb in testbenches:
        sim.add_testbench(tb)
    sim.run()


def seeded():
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    return random.Random(seed)


# --- Arguments -------------------------------------------------------------------------------

def test_arguments():
    with pytest.raises(ValueError, match="n_inputs must be a positive integer, not 0"):
        RecordFeeder(0, 8, 4)
    with pytest.raises(TypeError, match="max_steps must be a positive integer, not 2.0"):
        RecordFeeder(5, 8, 2.0)
    with pytest.raises(ValueError, match="max_payload must be a power of two, not 100"):
        SpikeCollector(8, 4, 100)
    with pytest.raises(TypeError, match="n_neurons must be a positive integer, not '8'"):
        AccessCheck(5, "8")
    with pytest.raises(ValueError, match=r"max_payload must be a power of two in \[64, 1024\]"):
        FrameReceiver(96)
    with pytest.raises(TypeError, match="max_payload must be an integer"):
        ReplySender(None)
    with pytest.raises(ValueError, match="n_inputs must be a positive integer, not -1"):
        Executor(-1, 8, 64, b"")
    with pytest.raises(TypeError, match="identify must be bytes"):
        Executor(5, 8, 64, "x")
    with pytest.raises(ValueError, match="IDENTIFY reply of 65 bytes does not fit max_payload 64"):
        Executor(5, 8, 64, bytes(63))


# --- CRC -------------------------------------------------------------------------------------

def test_crc_is_the_protocols():
    # The CRC-16/CCITT-FALSE check value: the CRC of the nine digits "123456789".
    assert CRC16.compute(b"123456789") == 0x29B1
    rng = seeded()
    for n in (0, 1, 2, 7, 64, 300):
        data = bytes(rng.randrange(256) for _ in range(n))
        crc = CRC16.compute(data)
        assert crc == protocol.crc16(data) == binascii.crc_hqx(data, spec.CRC_INIT)
        # A payload followed by its CRC (high byte first) leaves the register at 0.
        assert CRC16.compute(data + crc.to_bytes(2, "big")) == CRC16.residue() == 0


# --- FrameReceiver ---------------------------------------------------------------------------

def _with_crc(payload):
    return payload + protocol.crc16(payload).to_bytes(2, "big")


def test_frame_receiver_matches_frame_decoder():
    PL = 64
    rng = seeded()
    # (decoded bytes, error flag): hand-derived cases, then random frames and damage.
    cases = [
        (_with_crc(b"\x07\x01"), 0),                    # IDENTIFY, seq 7: OK, length 2
        (b"\x07\x01\x00\x00", 0),                        # a wrong CRC: BAD_CRC
        (b"", 0),                                       # an empty frame: dropped
        (b"\x09\x02\x03", 0),                           # 3 bytes: BAD_FRAME
        (_with_crc(b"\x05\x01"), 1),                    # a COBS or UART error: BAD_FRAME
        (b"", 1),                                       # an error in an empty frame
        (_with_crc(bytes(range(1, PL + 1))), 0),        # the longest payload: OK
        (_with_crc(bytes(range(1, PL + 2))), 0),        # one byte more: BAD_FRAME
        (bytes(300), 0),                                # far too long (count saturates)
        (_with_crc(b"\x00\x00"), 0),                    # the shortest good frame
    ]
    for _ in range(25):
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(2, PL + 1)))
        data = bytearray(_with_crc(payload))
        if rng.random() < 0.3:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        cases.append((bytes(data), int(rng.random() < 0.1)))
    dut = FrameReceiver(PL)
    frame = dut.frame

    def expected(data, error):
        decoder = protocol.FrameDecoder(PL)
        decoder.feed(protocol.cobs_encode(data))
        if error:
            decoder.mark_error()
        return decoder.feed(b"\x00")

    async def testbench(ctx):
        for data, error in cases:
            beats = [{"data": b, "end": 0, "error": 0} for b in data]
            beats.append({"data": 0, "end": 1, "error": error})
            for beat in beats:
                if rng.random() < 0.2:
                    await ctx.tick()
                ctx.set(dut.i.payload, beat)
                ctx.set(dut.i.valid, 1)
                await ctx.tick().until(dut.i.ready)
                ctx.set(dut.i.valid, 0)
            want = expected(data, error)
            if not want:
                assert not ctx.get(frame.ready)
                continue
            (want,) = want
            assert ctx.get(frame.ready)
            if isinstance(want, protocol.FrameError):
                assert (ctx.get(frame.status), ctx.get(frame.seq)) == (want.status, want.seq)
            else:
                assert ctx.get(frame.status) == Status.OK
                assert (ctx.get(frame.seq), ctx.get(frame.cmd)) == (want[0], want[1])
                assert ctx.get(frame.length) == len(want)
                held = bytearray()
                for at in range(len(want)):
                    ctx.set(frame.read.addr, at)
                    await ctx.tick()
                    held.append(ctx.get(frame.read.data))
                assert bytes(held) == want
            # Nothing more is taken until the frame is released.
            ctx.set(dut.i.valid, 1)
            assert not ctx.get(dut.i.ready)
            ctx.set(dut.i.valid, 0)
            ctx.set(frame.release, 1)
            await ctx.tick()
            ctx.set(frame.release, 0)
            assert not ctx.get(frame.ready)

    run(dut, testbench)


# --- ReplySender -----------------------------------------------------------------------------

def test_reply_sender_appends_the_crc():
    PL = 64
    rng = seeded()
    # An OK reply without data (seq 7), one byte, a full buffer, a buffer of zeros.
    replies = [b"\x07\x00", b"\x42", bytes(range(PL)), bytes(PL)]
    replies += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, PL + 1)))
                for _ in range(12)]
    dut = ReplySender(PL)
    reply = dut.reply
    sent = []

    async def testbench(ctx):
        for n, data in enumerate(replies):
            buf = n % 2
            # Write the buffer while the other one may still be sent.
            for at, byte in enumerate(data):
                ctx.set(reply.write.addr, buf * PL + at)
                ctx.set(reply.write.data, byte)
                ctx.set(reply.write.en, 1)
                await ctx.tick()
                if ctx.get(reply.busy):
                    assert ctx.get(reply.current) != buf
            ctx.set(reply.write.en, 0)
            await ctx.tick().until(~reply.busy)
            ctx.set(reply.start, 1)
            ctx.set(reply.buf, buf)
            ctx.set(reply.length, len(data))
            await ctx.tick()
            ctx.set(reply.start, 0)
            assert ctx.get(reply.busy) and ctx.get(reply.current) == buf

    async def consumer(ctx):
        frame = bytearray()
        while len(sent) < len(replies):
            ready = rng.random() < 0.7
            ctx.set(dut.o.ready, ready)
            _, _, valid, beat = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if ready and valid:
                frame.append(beat.data)
                if beat.last:
                    sent.append(bytes(frame))
                    frame = bytearray()

    run(dut, testbench, consumer)
    # encode_frame is COBS(payload ‖ CRC high ‖ CRC low): the sender gives what COBS encodes.
    assert sent == [protocol.cobs_decode(protocol.encode_frame(r)[:-1]) for r in replies]


# --- RecordFeeder ----------------------------------------------------------------------------

def _feeder_pass(dut, records, steps, rng, *, feed):
    """Return a testbench running one pass over *records*; it fills the dict it returns."""
    result = {}

    async def testbench(ctx):
        ctx.set(dut.steps, steps)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        ctx.set(dut.feed if feed else dut.check, 1)
        at, beats, current = 0, [], []
        for _ in range(20 * len(records) + 20 * steps + 100):
            if ctx.get(dut.done):
                break
            valid = at < len(records)
            if not (valid or feed):
                break                           # the check pass waits past the end
            ctx.set(dut.records.valid, valid)
            ctx.set(dut.records.payload, records[at] if valid else 0)
            step_ready = rng.random() < 0.7
            ctx.set(dut.step_in.ready, step_ready)
            took = ctx.get(dut.records.ready)
            beat_valid, beat = ctx.get(dut.step_in.valid), ctx.get(dut.step_in.payload)
            await ctx.tick()
            at += bool(took and valid)
            if beat_valid and step_ready:
                if beat.end:
                    beats.append(current)
                    current = []
                else:
                    current.append(beat.index)
        result.update(done=bool(ctx.get(dut.done)), taken=at, sets=beats,
                      bad=bool(ctx.get(dut.bad)), bad_step=ctx.get(dut.bad_step))

    return testbench, result


def _check_records(n_inputs, records, steps, rng):
    """Run the check pass; return ``decode_records``' verdict: None, "length" or a step."""
    dut = RecordFeeder(n_inputs, 8, 64)
    testbench, got = _feeder_pass(dut, records, steps, rng, feed=False)
    run(dut, testbench)
    if not got["done"] or got["taken"] != len(records):
        return "length"
    return got["bad_step"] if got["bad"] else None


def _verdict(n_inputs, records, steps):
    try:
        protocol.decode_records(records, steps, n_inputs)
    except protocol.RecordError as e:
        return "length" if e.kind == "length" else e.step
    return None


def _feed_records(n_inputs, records, steps, rng):
    dut = RecordFeeder(n_inputs, 8, 64)
    testbench, got = _feeder_pass(dut, records, steps, rng, feed=True)
    run(dut, testbench)
    assert got["done"] and got["taken"] == len(records)
    return got["sets"]


def test_record_feeder_hand_cases():
    rng = seeded()
    # 5 inputs: 1-byte indices, a 1-byte bitmap whose bits 5 … 7 are padding.
    records = b"\x02\x01\x04" + b"\xff\x1f" + b"\x00" + b"\xff\x12"
    assert _feed_records(5, records, 4, rng) == [[1, 4], [0, 1, 2, 3, 4], [], [1, 4]]
    assert _check_records(5, records, 4, rng) is None
    assert _check_records(5, b"\x00\xff\x20", 2, rng) == 1          # a padding bit set
    assert _check_records(5, b"\x01\x05\x00", 2, rng) == 0          # index 5 of 5 inputs
    assert _check_records(5, b"\x02\x01", 1, rng) == "length"       # an index short
    assert _check_records(5, b"\x00\x00", 1, rng) == "length"       # a byte left over
    # 300 inputs: 2-byte indices (low byte first), a 38-byte bitmap.
    records = b"\x02\x2b\x01\x00\x00" + b"\xff" + bytes(37) + b"\x08"
    assert _feed_records(300, records, 2, rng) == [[299, 0], [299]]
    assert _check_records(300, b"\x01\x2c\x01", 1, rng) == 0        # index 300


@pytest.mark.parametrize("n_inputs", [5, 16, 300])
def test_record_feeder_matches_decode_records(n_inputs):
    rng = seeded()
    for _ in range(4):
        steps = rng.randrange(1, 6)
        sets = np.array([[rng.random() < rng.choice([0.0, 0.05, 0.3, 0.9])
                          for _ in range(n_inputs)] for _ in range(steps)])
        records = protocol.encode_records(sets)
        got = _feed_records(n_inputs, records, steps, rng)
        assert got == [list(np.flatnonzero(row)) for row in sets]
        # Damage: a changed byte, a byte more or less; the check pass's verdict must match.
        for _ in range(3):
            bad = bytearray(records)
            kind = rng.randrange(3)
            if kind == 0:
                bad[rng.randrange(len(bad))] = rng.choice([0, 1, 2, 0xff, rng.randrange(256)])
            elif kind == 1:
                bad.insert(rng.randrange(len(bad) + 1), rng.randrange(256))
            else:
                del bad[rng.randrange(len(bad))]
            assert _check_records(n_inputs, bytes(bad), steps, rng) \
                == _verdict(n_inputs, bytes(bad), steps)


# --- SpikeCollector --------------------------------------------------------------------------

def _collect(dut, runs, rng, *, reset=None, reset_after=None):
    """Return a testbench collecting each of *runs* (bool arrays (steps, n)); fill the list.

    With *reset* (the clock domain's reset), first a RUN is cut short by a reset.
    """
    replies = []

    async def testbench(ctx):
        if reset_after is not None:
            # A RUN cut short by a reset once reset_after spikes are in: its bitmap bytes stay
            # in the memory until the collector clears it.
            await one_run(ctx, np.ones((1, dut.n_neurons), dtype=bool), stop=reset_after)
            ctx.set(reset, 1)
            await ctx.tick()
            ctx.set(reset, 0)
        for sets in runs:
            replies.append(await one_run(ctx, sets))

    async def one_run(ctx, sets, stop=None):
        await ctx.tick().until(~dut.clearing)
        ctx.set(dut.steps, len(sets))
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        beats = []
        for row in sets:
            beats += [{"index": int(i), "end": 0} for i in np.flatnonzero(row)]
            beats.append({"index": 0, "end": 1})
        reply = {}
        while not ctx.get(dut.done):
            if stop is not None and not stop:
                return None
            offer = bool(beats) and rng.random() < 0.7
            ctx.set(dut.spikes.valid, offer)
            if offer:
                ctx.set(dut.spikes.payload, beats[0])
            took = offer and ctx.get(dut.spikes.ready)
            if ctx.get(dut.reply.en):
                reply[ctx.get(dut.reply.addr)] = ctx.get(dut.reply.data)
            await ctx.tick()
            if took:
                beats.pop(0)
                if stop is not None:
                    stop -= 1
        ctx.set(dut.spikes.valid, 0)
        length = ctx.get(dut.length)
        assert sorted(reply) == list(range(2, length))
        return bytes(reply[at] for at in range(2, length))

    return testbench, replies


@pytest.mark.parametrize("n_neurons,max_payload", [(8, 64), (20, 64), (264, 256)])
def test_spike_collector_matches_encode_records(n_neurons, max_payload):
    rng = seeded()
    max_steps = spec.max_run_steps(n_neurons, max_payload)
    runs = []
    for _ in range(3):
        steps = rng.randrange(1, min(max_steps, 8) + 1)
        runs.append(np.array([[rng.random() < rng.choice([0.0, 0.02, 0.1, 0.5, 1.0])
                               for _ in range(n_neurons)] for _ in range(steps)]))
    dut = SpikeCollector(n_neurons, max_steps, max_payload)
    testbench, replies = _collect(dut, runs, rng)
    run(dut, testbench)
    assert replies == [protocol.encode_records(sets) for sets in runs]


def test_spike_collector_hand_cases():
    rng = seeded()
    # 20 neurons: a 3-byte bitmap, so sparse records win up to 2 spikes (1 + 2 < 1 + 3).
    sets = np.zeros((4, 20), dtype=bool)
    sets[1, [3]] = True
    sets[2, [0, 19]] = True
    sets[3, [0, 9, 19]] = True
    dut = SpikeCollector(20, 8, 64)
    testbench, replies = _collect(dut, [sets], rng)
    run(dut, testbench)
    assert replies == [b"\x00" + b"\x01\x03" + b"\x02\x00\x13" + b"\xff\x01\x02\x08"]
    # 4,100 neurons: 2-byte indices, a 513-byte bitmap; 254 spikes are sparse (509 bytes),
    # 255 are a bitmap (514 bytes: more than 254 indices never fit a sparse record).
    for count, size in ((254, 509), (255, 514)):
        sets = np.zeros((1, 4100), dtype=bool)
        sets[0, :count] = True
        assert spec.record_bytes(count, 4100) == size
        dut = SpikeCollector(4100, 1, 1024)
        testbench, replies = _collect(dut, [sets], rng)
        run(dut, testbench)
        assert replies == [protocol.encode_records(sets)] and len(replies[0]) == size


def test_spike_collector_clears_its_bitmap_after_a_reset():
    rng = seeded()
    # 16 neurons: cut a step of all 16 spikes short after 11 (byte 0 of the bitmap written,
    # byte 1 being filled), then collect a bitmap record of neurons 0 … 2: no stale bit.
    sets = np.zeros((1, 16), dtype=bool)
    sets[0, :3] = True
    dut = SpikeCollector(16, 8, 64)
    top = Module()
    top.domains.sync = sync = ClockDomain()
    top.submodules.dut = dut
    testbench, replies = _collect(dut, [sets], rng, reset=sync.rst, reset_after=11)
    run(top, testbench)
    assert replies == [b"\xff\x07\x00"] == [protocol.encode_records(sets)]


# --- The Link (Executor, AccessCheck) --------------------------------------------------------

def _link_session(requests, rng, *, errors=()):
    """Send *requests* (wire bytes) to a Link and return what it answered to each.

    The core is a stand-in that takes every command and answers what a device holds at
    power-up (0, or ``spec.SETTING_POWER_UP``): the replies are those of a device at power-up
    for reads, and writes only change the link's own w_min/w_max copy.
    *errors* are (request, offset) pairs of bytes received with a UART framing error.
    """
    link = Link(5, 8, 1, clk_hz=1_000_000, baud=250_000, rx_window=512, max_payload=64)
    core = link.core
    answers = []

    async def testbench(ctx):
        ctx.set(core.ctl_cmd.ready, 1)
        ctx.set(core.step_in.ready, 1)
        pending = []                    # the answers owed, in order
        for n, (wire, expect) in enumerate(requests):
            bytes_in = [(b, int((n, k) in errors)) for k, b in enumerate(wire)]
            out = bytearray()
            for _ in range(40 * len(wire) + 20 * expect + 400):
                if not bytes_in and len(out) >= expect:
                    break
                offer = bool(bytes_in) and rng.random() < 0.8
                ctx.set(link.rx.valid, offer)
                if offer:
                    ctx.set(link.rx.payload, {"data": bytes_in[0][0], "ferr": bytes_in[0][1]})
                tx_ready = rng.random() < 0.8
                ctx.set(link.tx.ready, tx_ready)
                ctx.set(core.ctl_rsp.valid, bool(pending))
                ctx.set(core.ctl_rsp.payload, pending[0] if pending else 0)
                took = offer and ctx.get(link.rx.ready)
                command = ctx.get(core.ctl_cmd.valid)
                cmd = ctx.get(core.ctl_cmd.payload)
                answered = bool(pending) and ctx.get(core.ctl_rsp.ready)
                tx_valid, tx_byte = ctx.get(link.tx.valid), ctx.get(link.tx.payload)
                await ctx.tick()
                if took:
                    bytes_in.pop(0)
                if answered:
                    pending.pop(0)
                if command:
                    power_up = {s.value: v for s, v in spec.SETTING_POWER_UP.items()}
                    pending.append(power_up.get(cmd.addr, 0)
                                   if cmd.space == Space.SETTING and not cmd.write else 0)
                if tx_valid and tx_ready:
                    out.append(tx_byte)
            answers.append(bytes(out))

    sim = Simulator(link)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return answers


def _near_the_map(space, rng, n_inputs=5, n_neurons=8):
    """Return an address in *space*, or just past its end, or anywhere (now and then)."""
    nb, sb = spec.neuron_bits(n_neurons), spec.src_bits(n_inputs, n_neurons)
    sources = n_inputs + n_neurons
    if rng.random() < 0.1 or space in (None, Space.CONTROL):
        return rng.randrange(1 << spec.ADDR_BITS)
    return {
        Space.WEIGHT: lambda: rng.randrange(sources + 1) << nb | rng.randrange(1 << nb),
        Space.NEURON: lambda: rng.randrange(len(spec.NeuronField) + 1) << nb
        | rng.randrange(1 << nb),
        Space.SETTING: lambda: rng.randrange(len(spec.Setting) + 1),
        Space.MASK: lambda: rng.choice([rng.randrange(sources + 1),
                                        1 << sb | rng.randrange(n_neurons + 1)]),
        Space.STATE: lambda: rng.randrange(len(spec.StateField) + 1) << sb
        | rng.randrange(sources + 1),
        Space.COUNTER: lambda: rng.randrange(len(spec.Counter) + 1),
    }[space]()


def test_link_answers_as_the_emulator():
    rng = seeded()
    emulator = DeviceEmulator(5, 8, 1, clk_hz=1_000_000, baud=250_000, rx_window=512,
                              max_payload=64)
    frame = protocol.encode_frame
    damaged = bytearray(frame(protocol.identify_request(seq=3)))
    damaged[2] ^= 0x10
    # Requests that change nothing the stand-in core would have to remember: frame-level
    # errors, sequence rules, failed checks, reads of the power-up state, a RESET.
    wires = [
        frame(protocol.identify_request(seq=0)),
        bytes(damaged),                                         # BAD_CRC
        frame(protocol.identify_request(seq=1)),                # a framing error: BAD_FRAME
        frame(b"\x01"),                                         # BAD_FRAME: too short
        frame(bytes(range(1, 66))),                             # BAD_FRAME: too long
        b"\x05\x01\x02\x00",                                    # BAD_FRAME: cut short
        frame(b"\x01\x09"),                                     # unknown command
        frame(b"\x01\x09"),                                     # ... retransmitted
        frame(b"\x07\x04\x00"),                                 # out of order
        frame(protocol.read_request(Space.SETTING, 0, 15, 2, seq=2)),   # th_shift reads 24
        frame(protocol.read_request(Space.SETTING, 10, 6, 1, seq=3)),   # BAD_ADDRESS at 5
        frame(protocol.read_request(Space.STATE, 0, 40, 2, seq=4)),     # BAD_LENGTH
        frame(protocol.reset_request(4, seq=5)),                # BAD_VALUE at 0
        frame(protocol.reset_request(3, seq=6)),
        frame(protocol.run_request(b"\x00\x00", 1, seq=7)),     # BAD_LENGTH: a byte more
        frame(protocol.run_request(b"\x00\xff\x20", 2, seq=8)),  # BAD_VALUE at step 1
        frame(protocol.run_request(b"", 0, seq=9)),             # BAD_VALUE at 0
        frame(bytes([10, Command.WRITE.value]) + bytes(7)),     # BAD_LENGTH: count 0
    ]
    errors = {(2, 1)}
    seq = 11
    for write in [False] * 12 + [None] + [True] * 20:
        if write is None:
            # w_min 5 over w_max 0: BAD_VALUE at W_MIN's position; then -3 and 4; then
            # w_max -4 under w_min -3: BAD_VALUE at 0.
            wires += [frame(protocol.write_request(Space.SETTING, 7, [0, 5], 2, seq=seq)),
                      frame(protocol.write_request(Space.SETTING, 8, [-3, 4], 2, seq=seq + 1)),
                      frame(protocol.write_request(Space.SETTING, 9, [-4], 1, seq=seq + 2))]
            seq += 3
            continue
        space = rng.choice(list(Space) + [None])    # None: 7, outside the map
        addr = _near_the_map(space, rng)
        count, width = rng.randrange(1, 6), rng.randrange(1, 5)
        if write:
            values = [rng.choice([0, 1, -1, 15, 16, 127, -128, -129, 4096, 4097,
                                  rng.randrange(-1 << 23, 1 << 23)]) for _ in range(count)]
            request = protocol.write_request(space or Space.WEIGHT, addr, values, width, seq=seq)
        else:
            request = protocol.read_request(space or Space.WEIGHT, addr, count, width, seq=seq)
        if space is None:
            request = request[:2] + b"\x07" + request[3:]
        wires.append(frame(request))
        seq += 1
    expected = [emulator.feed(wire, errors=[k for n, k in errors if n == i])
                for i, wire in enumerate(wires)]
    answers = _link_session(list(zip(wires, map(len, expected))), rng, errors=errors)
    for wire, want, got in zip(wires, expected, answers):
        assert got == want, f"request {wire.hex()}"
