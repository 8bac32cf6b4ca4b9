"""Fuzzing the link protocol: the emulator against the virtual board, and the emulator alone.

``test_emulator_and_virtual_board_agree`` sends one seeded stream of fuzz frames
(tests/fuzzframes.py: every command, edge seqs, addresses, widths, counts, values and
records, and frame-level errors) to ``spikecore.emulator.DeviceEmulator`` and to the virtual
board (the Verilated gateware), pipelined within the ``rx_window`` the board reports; the two
reply streams must be identical byte for byte. Each session starts with an IDENTIFY (a new
sequence), loads a random network (but the first, which fuzzes the power-up state), fuzzes,
and ends by reading back the complete state, compared the same way. ``SPIKECORE_FUZZ_SEED``
replays a seed; ``SPIKECORE_FUZZ_DUMP=FILE`` writes every unit sent when one disagrees.

The Hypothesis tests feed the emulator arbitrary bytes and structured frames and check the
protocol's invariants: every non-empty frame gets exactly one well-formed reply (valid COBS and
CRC, a ``Status``, the frame's seq), a reply other than ``OK`` leaves the state as it was,
READ and IDENTIFY change nothing, and the emulator never raises.
"""

import copy
import os
import random
import socket
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from fuzzframes import FrameFuzzer, Unit, load_payloads, readback_payloads
from randnet import random_inputs, random_network
from simboard import needs_top
from spikecore import protocol, spec
from spikecore.emulator import DeviceEmulator
from spikecore.spec import (Command, InputField, NeuronField, RunFlags, Setting, StateField,
                            Status)

#: Inputs not a multiple of 8 (padding bits in input bitmaps); neurons neither a power of two
#: (neuron addresses past n within their bits) nor a multiple of 8 (padding in spike bitmaps);
#: 4 lanes.
N_INPUTS = 5
N_NEURONS = 12


def _seed():
    env = os.environ.get("SPIKECORE_FUZZ_SEED")
    seed = int(env) if env else random.randrange(2**32)
    print(f"seed {seed} (SPIKECORE_FUZZ_SEED={seed} replays it)")
    return seed


def _describe(item):
    """Return a decoded request or reply payload (or FrameError) in words, for messages."""
    if isinstance(item, protocol.FrameError):
        return f"{item.status.name} seq {item.seq:#04x} ({item.length} decoded bytes)"
    if not isinstance(item, bytes) or len(item) < 2:
        return repr(item)
    return f"seq {item[0]:#04x} code {item[1]:#04x} data {item[2:].hex() or '-'}"


def _reply(item):
    """Return a reply payload in words: its seq, status name and data."""
    if not isinstance(item, bytes) or len(item) < 2:
        return _describe(item)
    try:
        status = Status(item[1]).name
    except ValueError:
        status = f"status {item[1]:#04x}"
    return f"seq {item[0]:#04x} {status} {item[2:].hex()}"


def _frames(wire):
    """Split bytes into frames at each 0x00 (kept); an unfinished tail is one more."""
    parts = bytes(wire).split(b"\x00")
    return [p + b"\x00" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _decode(frame):
    items = protocol.FrameDecoder().feed(frame if frame.endswith(b"\x00") else frame + b"\x00")
    return items[0] if items else None


# --- Differential: emulator vs virtual board -------------------------------------------------

#: The gateware options of the fuzzed builds beyond a board's: none, or without on-device
#: stimulus and readout (no INPUT space, no COUNT, RESET without SPIKE_COUNTS).
_TOP_OPTIONS = {"no-stimulus": {"features": spec.Feature.all() & ~(spec.Feature.GENERATORS
                                                                  | spec.Feature.COUNTS)}}


def _virtual_board(board=None, top_options=None):
    """Start the virtual board of N_INPUTS + N_NEURONS with *board*'s gateware options."""
    from spikecore.sim import VirtualBoard, board_gateware, build
    n_inputs, n_neurons, lanes, options = board_gateware(board, N_INPUTS, N_NEURONS,
                                                         top_options=top_options)
    return VirtualBoard(build(n_inputs, n_neurons, lanes, options=options))


@pytest.fixture(scope="module")
def fuzz_board():
    with _virtual_board() as board:
        yield board


class Differential:
    """The virtual board and an emulator of its identity, fed the same bytes and compared.

    Units are fed to the emulator as they are drawn (the fuzzer follows its replies to pick
    the next seqs) and sent to the board in batches of at most ``rx_window`` wire bytes, whose
    replies must equal the emulator's byte for byte.
    """

    def __init__(self, board, seed):
        self.board, self.seed = board, seed
        self.emulator = None
        self.sock = None
        self.session = 0
        self.frames = self.wire_bytes = 0
        self._batch, self._wants, self._size = [], [], 0
        self.statuses = {}
        self.log = []       # every unit sent since the board started, for SPIKECORE_FUZZ_DUMP

    # --- the connection ---

    def connect(self):
        host, port = self.board.url[len("socket://"):].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def disconnect(self):
        self.flush()
        self.sock.settimeout(0.05)
        try:
            extra = self.sock.recv(4096)
        except TimeoutError:
            extra = b""
        self.sock.close()
        assert not extra, (f"seed {self.seed}: the board sent bytes the emulator did not: "
                           f"{extra.hex()}")

    def _recv(self, n, timeout=10.0):
        """Return *n* bytes, or fewer if none come for *timeout* seconds."""
        data = bytearray()
        self.sock.settimeout(timeout)
        while len(data) < n:
            try:
                chunk = self.sock.recv(max(65536, n - len(data)))
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
        return bytes(data)

    def start(self, seq):
        """Ask the board who it is (a lone 0x00 and IDENTIFY); make the emulator to match."""
        wire = b"\x00" + protocol.encode_frame(protocol.identify_request(seq=seq))
        self.sock.sendall(wire)
        self.log.append(Unit(wire, "IDENTIFY (start)"))
        got = self._recv(1)
        while not got.endswith(b"\x00"):
            more = self._recv(1)
            assert more, f"seed {self.seed}: no reply to IDENTIFY, got {got.hex()}"
            got += more
        reply = protocol.parse_reply(_decode(got))
        assert reply.status == Status.OK, f"IDENTIFY: {_reply(_decode(got))}"
        ident = protocol.parse_identify(reply.data)
        assert (ident.n_inputs, ident.n_neurons) == (N_INPUTS, N_NEURONS), ident
        self.emulator = DeviceEmulator(
            N_INPUTS, N_NEURONS, lanes=ident.lanes, clk_hz=ident.clk_hz, baud=ident.baud,
            rx_window=ident.rx_window, max_payload=ident.max_payload, features=ident.features)
        want = self.emulator.feed(wire)
        assert got == want, (f"seed {self.seed}: IDENTIFY: board {_reply(_decode(got))}, "
                             f"emulator {_reply(_decode(want))}")
        return ident

    # --- feeding ---

    def send(self, unit, fuzzer=None):
        """Feed *unit* to the emulator now (tell *fuzzer*), queue it for the board."""
        window = self.emulator.identity.rx_window
        assert len(unit.wire) <= window, f"a unit of {len(unit.wire)} bytes: {unit.what}"
        if self._size + len(unit.wire) > window:
            self.flush()
        want = self.emulator.feed(unit.wire)
        replies = protocol.FrameDecoder(spec.MAX_PAYLOAD).feed(want)
        if fuzzer is not None:
            fuzzer.observe(unit.payload, replies)
        for item in replies:
            name = Status(item[1]).name
            self.statuses[name] = self.statuses.get(name, 0) + 1
        self._batch.append(unit)
        self._wants.append(want)
        self._size += len(unit.wire)
        return replies

    def flush(self):
        """Send the queued units to the board; compare its replies with the emulator's."""
        if not self._batch:
            return
        units, wants = self._batch, self._wants
        self._batch, self._wants, self._size = [], [], 0
        want = b"".join(wants)
        self.log += units
        self.sock.sendall(b"".join(unit.wire for unit in units))
        got = self._recv(len(want))
        self.frames += sum(len(_frames(w)) for w in wants)
        self.wire_bytes += sum(len(unit.wire) for unit in units)
        if got != want:
            self._fail(units, wants, got)

    def _fail(self, units, wants, got):
        got += self._recv(1 << 20, timeout=0.5)      # the rest of a longer reply
        dump = os.environ.get("SPIKECORE_FUZZ_DUMP")
        if dump:
            with open(dump, "w") as f:
                f.writelines(f"{unit.wire.hex()} {unit.what}\n" for unit in self.log)
        got_frames = _frames(got)
        at = 0
        for k, (unit, want) in enumerate(zip(units, wants)):
            for frame in _frames(want):
                other = got_frames[at] if at < len(got_frames) else b""
                if other != frame:
                    context = "".join(f"\n    {u.what}: {u.wire.hex()}"
                                      for u in units[max(0, k - 4):k])
                    decoded = protocol.FrameDecoder(1 << 16).feed(unit.wire)
                    request = _describe(decoded[0]) if decoded else "-"
                    pytest.fail(
                        f"seed {self.seed}, session {self.session}: the board and the "
                        f"emulator disagree on {unit.what}\n"
                        f"  request   {request}\n  wire      {unit.wire.hex()}\n"
                        f"  emulator  {_reply(_decode(frame))}  [{frame.hex()}]\n"
                        f"  board     {_reply(_decode(other)) if other else 'nothing'}  "
                        f"[{other.hex()}]\n  after (same batch):{context or ' -'}",
                        pytrace=False)
                at += 1
        pytest.fail(f"seed {self.seed}: the board sent more than the emulator: "
                    f"{b''.join(got_frames[at:]).hex()}", pytrace=False)

    def send_payloads(self, payloads, what, fuzzer):
        """Send well-formed requests; return the emulator's replies (one each)."""
        out = []
        for payload in payloads:
            out += self.send(Unit(protocol.encode_frame(payload), what, payload), fuzzer)
        return out


def _session(diff, fuzzer, rng, n_units, *, load):
    """IDENTIFY, maybe load a network, fuzz, read everything back; compare all replies."""
    diff.session += 1
    seq = rng.randrange(256)
    diff.send(Unit(b"\x00" + protocol.encode_frame(protocol.identify_request(seq=seq)),
                   "IDENTIFY (a session starts)", protocol.identify_request(seq=seq)), fuzzer)
    if load:
        net = random_network(N_INPUTS, N_NEURONS, rng.randrange(2**32),
                             learning=rng.random() < 0.7, stimulus=rng.random() < 0.7)
        replies = diff.send_payloads(load_payloads(fuzzer, net, seq=fuzzer.expect), "load",
                                     fuzzer)
        assert all(r[1] == Status.OK.value for r in replies), [_reply(r) for r in replies]
    for _ in range(n_units):
        diff.send(fuzzer.unit(), fuzzer)
    # Read the complete state back, after an IDENTIFY that restarts the sequence.
    seq = rng.randrange(256)
    diff.send_payloads([protocol.identify_request(seq=seq)], "IDENTIFY", fuzzer)
    replies = diff.send_payloads(readback_payloads(fuzzer, seq=seq + 1), "read back", fuzzer)
    assert all(r[1] == Status.OK.value for r in replies), [_reply(r) for r in replies]
    diff.flush()


def _differential(board, sessions, units_per_session):
    """Fuzz *board* against an emulator: one client, *sessions* sessions; print the counts."""
    seed = _seed()
    rng = random.Random(seed)
    diff = Differential(board, seed)
    t = time.monotonic()
    diff.connect()
    ident = diff.start(rng.randrange(256))
    fuzzer = FrameFuzzer(rng, N_INPUTS, N_NEURONS, ident.max_payload, ident.features)
    for k in range(sessions):
        _session(diff, fuzzer, rng, units_per_session, load=k > 0)
    diff.disconnect()
    elapsed = time.monotonic() - t
    print(f"{diff.frames} frames, {diff.wire_bytes} wire bytes in {sessions} sessions, "
          f"{elapsed:.1f} s; replies: {dict(sorted(diff.statuses.items()))}")
    assert diff.statuses.get("OK", 0) > diff.frames // 4, "too few requests executed"


@needs_top
def test_emulator_and_virtual_board_agree(fuzz_board):
    _differential(fuzz_board, sessions=4, units_per_session=700)


@needs_top
@pytest.mark.slow
@pytest.mark.parametrize("board,options", [(None, None), ("icebreaker", None),
                                           (None, "no-stimulus")],
                         ids=["default", "icebreaker", "no-stimulus"])
def test_emulator_and_virtual_board_agree_long(board, options):
    # The iCEBreaker's gateware options: single-port weight banks, the 2-stage neuron unit,
    # 256-byte payloads, a 1,024-byte window, and of the features x_tar alone (RUN_WITH is
    # UNKNOWN_COMMAND). Without GENERATORS and COUNTS: their addresses and RESET's flag are
    # refused, RUN_WITH runs without them.
    with _virtual_board(board, _TOP_OPTIONS.get(options)) as virtual_board:
        _differential(virtual_board, sessions=8, units_per_session=2500)


# --- Hypothesis: the emulator's frame handler ------------------------------------------------

#: The emulator's max_payload in the Hypothesis tests: the smallest and the largest allowed.
_PAYLOADS = (spec.MIN_PAYLOAD, spec.MAX_PAYLOAD)
_NB, _SB = spec.neuron_bits(N_NEURONS), spec.src_bits(N_INPUTS, N_NEURONS)
_S = N_INPUTS + N_NEURONS
#: Addresses at and past the edges of every space, for this geometry.
_EDGE_ADDRS = sorted({0, 1, N_NEURONS - 1, N_NEURONS, (1 << _NB) - 1, 1 << _NB,
                      ((_S - 1) << _NB) | (N_NEURONS - 1), _S << _NB,
                      (len(NeuronField) - 1) << _NB, len(NeuronField) << _NB,
                      Setting.W_MIN.value, Setting.W_MAX.value, len(Setting),
                      _S - 1, _S, (1 << _SB) - 1, 1 << _SB, (1 << _SB) + N_NEURONS - 1,
                      (1 << _SB) + N_NEURONS, (StateField.X.value << _SB) + _S - 1,
                      (StateField.X.value << _SB) + _S, len(StateField) << _SB,
                      (StateField.COUNT.value << _SB) + N_NEURONS - 1,
                      (StateField.COUNT.value << _SB) + N_NEURONS,
                      (InputField.GEN.value << _SB) + N_INPUTS - 1,
                      (InputField.GEN.value << _SB) + N_INPUTS, len(InputField) << _SB,
                      (1 << spec.ADDR_BITS) - 1})
_EDGE_VALUES = sorted({v for low, high in [*spec.NEURON_RANGES.values(),
                                           *spec.LEARNING_RANGES.values(), (0, 1),
                                           (0, spec.W_EXP_MAX), *spec.INPUT_RANGES.values()]
                       for v in (low - 1, low, high, high + 1)} | {-(1 << 31), (1 << 31) - 1})


def _int(value, size):
    return (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


@st.composite
def _arguments(draw, command):
    """The bytes after seq and command of a request, near and past what *command* needs."""
    most = [protocol.max_run_steps(N_NEURONS, p) for p in _PAYLOADS]
    if command in (Command.WRITE.value, Command.READ.value):
        space = draw(st.sampled_from([0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 0xFF]))
        addr = draw(st.one_of(st.sampled_from(_EDGE_ADDRS), st.integers(0, 64),
                              st.integers(0, (1 << 24) - 1)))
        width = draw(st.sampled_from([1, 1, 2, 2, 3, 4, 4, 0, 5]))
        count = draw(st.one_of(st.integers(1, 6), st.sampled_from(
            [0, _S * N_NEURONS, len(Setting), N_NEURONS, (spec.MAX_PAYLOAD - 2) // 4 + 1,
             0xFFFF])))
        out = bytes([space]) + _int(addr, 3) + _int(count, 2) + bytes([width])
        if command == Command.WRITE.value and 1 <= width <= 4:
            if count <= 16:
                values = draw(st.lists(st.one_of(st.sampled_from(_EDGE_VALUES),
                                                 st.integers(-2, 20),
                                                 st.integers(-(1 << 31), (1 << 32) - 1)),
                                       min_size=count, max_size=count))
                out += b"".join(_int(v, width) for v in values)
            elif count * width <= spec.MAX_PAYLOAD:
                out += bytes([draw(st.integers(0, 255))]) * (count * width)
    elif command == Command.RESET.value:
        out = bytes([draw(st.one_of(st.integers(0, 7), st.integers(0, 255)))])
    elif command == Command.RUN_WITH.value:
        out = draw(_run_with_arguments())
    elif command == Command.RUN.value:
        steps = draw(st.one_of(st.integers(0, 5),
                               st.sampled_from([*most, *(m + 1 for m in most), 0xFFFF])))
        records = draw(st.lists(st.one_of(
            st.lists(st.integers(0, 255), max_size=6).map(lambda m: bytes([len(m)] + m)),
            st.binary(min_size=(N_INPUTS + 7) // 8, max_size=(N_INPUTS + 7) // 8).map(
                lambda b: bytes([spec.RECORD_BITMAP]) + b)), max_size=6))
        out = _int(steps, 2) + b"".join(records)
    elif command == Command.IDENTIFY.value:
        out = b""
    else:
        out = draw(st.binary(max_size=12))
    cut = draw(st.sampled_from([0] * 12 + [-2, -1, 1, 2]))
    return out[:cut] if cut < 0 else out + bytes(cut)


@st.composite
def _run_with_arguments(draw):
    """A RUN_WITH's steps, flags, probes and records, near and past what they may be."""
    flags = draw(st.sampled_from([0, 1, 2, 3] * 3 + [4, 0x80, 0xFF]))
    n_probes = draw(st.sampled_from([0, 0, 1, 2, 3, spec.MAX_PROBES, spec.MAX_PROBES + 1,
                                     0xFF]))
    probes = draw(st.lists(st.tuples(
        st.sampled_from([4, 4, 4, 1, 1, 0, 2, 5, 6, 7, 0x14]),
        st.one_of(st.sampled_from(_EDGE_ADDRS), st.integers(0, 64))),
        min_size=min(n_probes, 9), max_size=min(n_probes, 9)))
    spikes = bool(flags & RunFlags.SPIKES.value)
    most = [spec.max_run_with_steps(N_NEURONS, p, spikes, min(n_probes, spec.MAX_PROBES))
            for p in _PAYLOADS]
    steps = draw(st.one_of(st.integers(0, 5), st.sampled_from(
        [*most, *(min(m + 1, spec.MAX_STEPS) for m in most), spec.MAX_STEPS])))
    if flags & ~RunFlags.INPUTS.value == 0 and n_probes == 0:
        steps = min(steps, 300)     # what runs 65,535 steps is too slow for the emulator
    out = _int(steps, 2) + bytes([flags, n_probes]) \
        + b"".join(bytes([space]) + _int(addr, 3) for space, addr in probes)
    if flags & RunFlags.INPUTS.value:
        out += b"".join(draw(st.lists(st.one_of(
            st.lists(st.integers(0, 255), max_size=4).map(lambda m: bytes([len(m)] + m)),
            st.binary(min_size=(N_INPUTS + 7) // 8, max_size=(N_INPUTS + 7) // 8).map(
                lambda b: bytes([spec.RECORD_BITMAP]) + b)), max_size=6)))
    return out


#: A unit the emulator is fed: ("raw", bytes), or ("frame", seq_mode, seq, command, arguments,
#: damage, damage_arg). Seq mode "next" takes the seq the host expects to execute next and
#: "last" the last executed one (a retransmission), when the frame is fed.
_raw = st.one_of(st.binary(max_size=80),
                 st.lists(st.sampled_from([0, 1, 2, 0xFF]), max_size=8).map(bytes))
_frame = st.sampled_from([1, 2, 2, 2, 3, 3, 4, 5, 5, 6, 6, 0, 7, 0x80, 0xFF]).flatmap(
    lambda command: st.tuples(
        st.just("frame"), st.sampled_from(["next"] * 6 + ["last", "random"]),
        st.integers(0, 255), st.just(command), _arguments(command),
        st.sampled_from(["none"] * 8 + ["crc", "cut", "long"]), st.integers(1, 0xFFFF)))
#: ("fuzz", seed): a unit of tests/fuzzframes.py, drawn with random.Random(seed) (which keeps
#: its biases: Hypothesis's own randoms favour the first choice of each).
_fuzz = st.tuples(st.just("fuzz"), st.integers(0, 2**32 - 1))
_units = st.one_of(st.tuples(st.just("raw"), _raw), _frame, _frame, _fuzz, _fuzz, _fuzz)


_LOADED = {}
#: The features of the emulators in the Hypothesis tests: all, none, and all but one in the
#: middle of the settings (W_EXP_REC, between W_MAX and X_TAR).
_FEATURES = (spec.Feature.all(), spec.Feature(0), spec.Feature.all() & ~spec.Feature.W_EXP_REC)


def _loaded(max_payload, features=spec.Feature.all()):
    """Return an emulator with a random network loaded and run, and a host-side tracker.

    Made once per *max_payload* and *features*; each call returns a deep copy.
    """
    if (max_payload, features) not in _LOADED:
        emulator = DeviceEmulator(N_INPUTS, N_NEURONS, max_payload=max_payload,
                                  features=features)
        tracker = FrameFuzzer(random.Random(0), N_INPUTS, N_NEURONS, max_payload, features)
        net = random_network(N_INPUTS, N_NEURONS, 5, stimulus=True)
        payloads = [protocol.identify_request(seq=0)] + load_payloads(tracker, net, seq=1)
        runs = protocol.split_run(random_inputs(40, N_INPUTS, 5), N_NEURONS,
                                  max_payload=max_payload)
        payloads += [bytes([len(payloads) + k]) + run[1:] for k, (_, _, run) in enumerate(runs)]
        for payload in payloads:
            replies = protocol.FrameDecoder().feed(emulator.feed(protocol.encode_frame(payload)))
            assert [r[1] for r in replies] == [Status.OK.value], [_reply(r) for r in replies]
            tracker.observe(payload, replies)
        assert emulator.model.steps == 40 and emulator.model.u.any()
        _LOADED[max_payload, features] = emulator, tracker
    return copy.deepcopy(_LOADED[max_payload, features])


def _state(emulator):
    """Return everything a command may change: the model, the settings and the counters."""
    m = emulator.model
    state = {name: np.array(getattr(m, name)).tolist()
             for name in ("W", "vth", "bias", "du", "dv", "t_ref", "theta", "plastic_src",
                          "plastic_dst", "u", "v", "ref", "x", "y", "s_prev")}
    state.update(w_exp=m.w_exp, w_exp_rec=m.w_exp_rec, steps=m.steps, cycles=emulator.cycles,
                 rate=m.rate.tolist(), gen=m.gen.tolist(), count=m.count.tolist(),
                 **m.learning.as_dict())
    return state


def _wires(unit, tracker, max_payload):
    """Yield the (wire, payload or None) of *unit*: one frame at a time, each ended by 0x00."""
    if unit[0] == "raw":
        for segment in unit[1].split(b"\x00"):
            yield segment + b"\x00", None
        return
    if unit[0] == "fuzz":
        tracker.rng = random.Random(unit[1])
        drawn = tracker.unit()
        for segment in drawn.wire.split(b"\x00")[:-1]:
            yield segment + b"\x00", drawn.payload
        return
    _, mode, seq, command, arguments, damage, arg = unit
    if mode == "next":
        seq = tracker.expect
    elif mode == "last" and tracker.last is not None:
        seq = tracker.last
    payload = bytes([seq, command]) + arguments
    wire = protocol.encode_frame(payload)
    if damage == "crc":
        crc = protocol.crc16(payload) ^ arg
        wire = protocol.cobs_encode(payload + crc.to_bytes(2, "big")) + b"\x00"
    elif damage == "cut":
        wire = wire[:-1][:-(1 + arg % 4)] + b"\x00"
    elif damage == "long":
        wire = protocol.encode_frame(payload + bytes(max_payload))
    well_formed = damage == "none" and len(payload) <= max_payload
    yield wire, payload if well_formed else None


def _check_reply(wire, reply, max_payload):
    """Check the emulator's *reply* to one frame *wire*; return its payload (None: no reply)."""
    try:
        decoded = protocol.cobs_decode(wire[:-1])
    except protocol.CobsError:
        decoded = None
    if decoded == b"":
        assert reply == b"", f"a frame of no bytes was answered: {reply.hex()}"
        return None
    frames = _frames(reply)
    assert len(frames) == 1 and frames[0].endswith(b"\x00"), \
        f"{len(frames)} reply frames to one frame: {reply.hex()}"
    body = protocol.cobs_decode(frames[0][:-1])
    assert len(body) >= 4, f"a reply of {len(body)} decoded bytes"
    payload = body[:-2]
    assert protocol.crc16(payload) == int.from_bytes(body[-2:], "big"), "reply CRC"
    assert len(payload) <= max_payload, f"a reply payload of {len(payload)} bytes"
    status = Status(payload[1])
    if decoded is not None:
        assert payload[0] == (decoded[0]), "the reply does not carry the frame's seq"
    if status in (Status.BAD_ADDRESS, Status.BAD_VALUE):
        assert len(payload) == 4, f"{status.name} without a position: {payload.hex()}"
    elif status is not Status.OK:
        assert len(payload) == 2, f"{status.name} with data: {payload.hex()}"
    return payload


def _check_units(max_payload, units, features=spec.Feature.all()):
    emulator, tracker = _loaded(max_payload, features)
    for unit in units:
        for wire, payload in _wires(unit, tracker, max_payload):
            before = _state(emulator)
            reply = _check_reply(wire, emulator.feed(wire), max_payload)
            if reply is None:
                continue
            tracker.observe(payload, [reply])
            event(f"{Status(reply[1]).name}")
            try:
                decoded = protocol.cobs_decode(wire[:-1])
            except protocol.CobsError:
                decoded = b""
            reads = len(decoded) >= 2 and decoded[1] in (Command.IDENTIFY.value,
                                                         Command.READ.value)
            if reply[1] != Status.OK.value or reads:
                after = _state(emulator)
                changed = [name for name in before if before[name] != after[name]]
                assert not changed, (f"{_reply(reply)} to {wire.hex()} changed "
                                     f"{', '.join(changed)}")


_HYPOTHESIS = dict(deadline=None, print_blob=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(max_examples=300, **_HYPOTHESIS)
@given(max_payload=st.sampled_from(_PAYLOADS), features=st.sampled_from(_FEATURES),
       units=st.lists(_units, min_size=1, max_size=8))
def test_emulator_frame_invariants(max_payload, features, units):
    _check_units(max_payload, units, features)


@pytest.mark.slow
@settings(max_examples=5000, **_HYPOTHESIS)
@given(max_payload=st.sampled_from(_PAYLOADS), features=st.sampled_from(_FEATURES),
       units=st.lists(_units, min_size=1, max_size=12))
def test_emulator_frame_invariants_long(max_payload, features, units):
    _check_units(max_payload, units, features)
