"""Amaranth-simulator tests of the link's parts against the host side of docs/protocol.md.

Each part is compared with the ``spikecore.protocol`` function of the same meaning:
``FrameReceiver`` with ``FrameDecoder``, ``ReplySender`` with ``encode_frame``'s payload and
CRC, ``RecordFeeder`` with ``decode_records``, ``SpikeCollector`` with ``encode_records``,
``ProbeReader`` with the probe rules of docs/protocol.md (RUN_WITH), and the whole ``Link``
(its ``Executor`` and ``AccessCheck``) with ``DeviceEmulator`` on the requests whose replies
do not depend on the core's state, and by hand on RUN_WITHs over a ``StandInCore`` that says
what it was told. Hand-derived cases come first; random cases are seeded and print their seed.
"""

import binascii
import random

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Fragment, Module
from amaranth.sim import Simulator

from spikecore import protocol, spec
from spikecore.emulator import DeviceEmulator
from spikecore.hw.access import AccessCheck
from spikecore.hw.executor import Executor
from spikecore.hw.frames import CRC16, FrameReceiver, ReplySender
from spikecore.hw.link import Link
from spikecore.hw.records import ProbeReader, RecordFeeder, SpikeCollector
from spikecore.spec import Command, Feature, Space, Status

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
    with pytest.raises(ValueError, match="n_neurons must be a positive integer, not 0"):
        ProbeReader(5, 0)
    with pytest.raises(TypeError, match="features must be a spikecore.spec.Feature, not 3"):
        ProbeReader(5, 8, 3)
    with pytest.raises(TypeError, match="features must be a spikecore.spec.Feature, not 64"):
        RecordFeeder(5, 8, 4, 64)
    with pytest.raises(TypeError, match="features must be a spikecore.spec.Feature, not None"):
        SpikeCollector(8, 4, 64, None)


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

def _feeder_pass(dut, records, steps, rng, *, feed, empty=False):
    """Return a testbench running one pass over *records*; it fills the dict it returns."""
    result = {}

    async def testbench(ctx):
        if Feature.RUN_WITH in dut.features:
            ctx.set(dut.empty, empty)
        else:
            assert not empty and not hasattr(dut, "empty")
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


def _check_records(n_inputs, records, steps, rng, features=Feature.all()):
    """Run the check pass; return ``decode_records``' verdict: None, "length" or a step."""
    dut = RecordFeeder(n_inputs, 8, 64, features)
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


def _feed_records(n_inputs, records, steps, rng, features=Feature.all()):
    dut = RecordFeeder(n_inputs, 8, 64, features)
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


def test_record_feeder_feeds_empty_steps():
    # RUN_WITH without INPUTS: 300 steps (more than a RUN's), a lone end beat each, no byte
    # of the records taken.
    rng = seeded()
    dut = RecordFeeder(5, 8, spec.MAX_STEPS)
    testbench, got = _feeder_pass(dut, b"\x02\x01\x04", 300, rng, feed=True, empty=True)
    run(dut, testbench)
    assert got["done"] and got["taken"] == 0 and got["sets"] == [[]] * 300


#: The builds of the feeder and the collector: with RUN_WITH's modes, and a RUN's alone.
_BUILDS = pytest.mark.parametrize("features", [Feature.all(), Feature.all() & ~Feature.RUN_WITH],
                                  ids=["run-with", "run-only"])


@_BUILDS
@pytest.mark.parametrize("n_inputs", [5, 16, 300])
def test_record_feeder_matches_decode_records(n_inputs, features):
    rng = seeded()
    for _ in range(4):
        steps = rng.randrange(1, 6)
        sets = np.array([[rng.random() < rng.choice([0.0, 0.05, 0.3, 0.9])
                          for _ in range(n_inputs)] for _ in range(steps)])
        records = protocol.encode_records(sets)
        got = _feed_records(n_inputs, records, steps, rng, features)
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
            assert _check_records(n_inputs, bytes(bad), steps, rng, features) \
                == _verdict(n_inputs, bytes(bad), steps)


# --- SpikeCollector --------------------------------------------------------------------------

def _collect(dut, runs, rng, *, reset=None, reset_after=None, gap=0, drop=False):
    """Return a testbench collecting each of *runs* (bool arrays (steps, n)); fill the list.

    With *reset* (the clock domain's reset), first a RUN is cut short by a reset. With *gap*,
    the testbench writes *gap* bytes ``0xe0 + step`` into the room after each step's record,
    a few clocks after the collector has paused, and resumes it.
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

    run_with = Feature.RUN_WITH in dut.features
    assert run_with or not (gap or drop or hasattr(dut, "gap") or hasattr(dut, "drop"))

    async def one_run(ctx, sets, stop=None):
        await ctx.tick().until(~dut.clearing)
        if run_with:
            ctx.set(dut.gap, gap)
            ctx.set(dut.drop, drop)
        ctx.set(dut.steps, len(sets))
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        beats = []
        for row in sets:
            beats += [{"index": int(i), "end": 0} for i in np.flatnonzero(row)]
            beats.append({"index": 0, "end": 1})
        reply = {}
        paused = 0
        while not ctx.get(dut.done):
            if stop is not None and not stop:
                return None
            if run_with and ctx.get(dut.paused):
                at = ctx.get(dut.length)
                for _ in range(rng.randrange(4)):
                    assert not ctx.get(dut.spikes.ready) and not ctx.get(dut.reply.en)
                    await ctx.tick()
                for k in range(gap):
                    assert at + k not in reply
                    reply[at + k] = 0xe0 + paused
                ctx.set(dut.resume, 1)
                await ctx.tick()
                ctx.set(dut.resume, 0)
                paused += 1
                continue
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
        assert paused == (len(sets) if gap else 0)
        assert sorted(reply) == list(range(2, length))
        return bytes(reply[at] for at in range(2, length))

    return testbench, replies


@_BUILDS
@pytest.mark.parametrize("n_neurons,max_payload", [(8, 64), (20, 64), (264, 256)])
def test_spike_collector_matches_encode_records(n_neurons, max_payload, features):
    rng = seeded()
    max_steps = spec.max_run_steps(n_neurons, max_payload)
    runs = []
    for _ in range(3):
        steps = rng.randrange(1, min(max_steps, 8) + 1)
        runs.append(np.array([[rng.random() < rng.choice([0.0, 0.02, 0.1, 0.5, 1.0])
                               for _ in range(n_neurons)] for _ in range(steps)]))
    dut = SpikeCollector(n_neurons, max_steps, max_payload, features)
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


@pytest.mark.parametrize("drop", [False, True], ids=["records", "drop"])
@pytest.mark.parametrize("n_neurons,gap", [(8, 3), (20, 24), (264, 6), (20, 0)])
def test_spike_collector_leaves_gaps(n_neurons, gap, drop):
    # RUN_WITH: each step's record (or none: drop), then the room for its probe values.
    rng = seeded()
    runs = [np.array([[rng.random() < rng.choice([0.0, 0.1, 0.5, 1.0]) for _ in range(n_neurons)]
                      for _ in range(steps)]) for steps in (1, 5)]
    dut = SpikeCollector(n_neurons, spec.MAX_STEPS, 256)
    testbench, replies = _collect(dut, runs, rng, gap=gap, drop=drop)
    run(dut, testbench)
    assert replies == [b"".join((b"" if drop else protocol.encode_records(row[None, :]))
                                + bytes([0xe0 + t] * gap) for t, row in enumerate(sets))
                       for sets in runs]


@_BUILDS
def test_spike_collector_clears_its_bitmap_after_a_reset(features):
    rng = seeded()
    # 16 neurons: cut a step of all 16 spikes short after 11 (byte 0 of the bitmap written,
    # byte 1 being filled), then collect a bitmap record of neurons 0 … 2: no stale bit.
    sets = np.zeros((1, 16), dtype=bool)
    sets[0, :3] = True
    dut = SpikeCollector(16, 8, 64, features)
    top = Module()
    top.domains.sync = sync = ClockDomain()
    top.submodules.dut = dut
    testbench, replies = _collect(dut, [sets], rng, reset=sync.rst, reset_after=11)
    run(top, testbench)
    assert replies == [b"\xff\x07\x00"] == [protocol.encode_records(sets)]


# --- ProbeReader -----------------------------------------------------------------------------

def _probe_pass(dut, probes, rng, *, check, answer=lambda space, addr: 0):
    """Run one pass of *dut* over *probes* ((space, addr) pairs); return what it did.

    The core's side answers each read with ``answer(space, addr)``, after a while; the
    probes' bytes, the commands and the values' bytes are taken at random.
    """
    data = b"".join(bytes([space]) + addr.to_bytes(3, "little") for space, addr in probes)
    got = {}

    async def testbench(ctx):
        ctx.set(dut.n_probes, len(probes))
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        ctx.set(dut.check if check else dut.read, 1)
        at, rsp, commands, values = 0, [], [], bytearray()
        offer_byte = offer_rsp = False          # an offer stays until it is taken
        for _ in range(100 * len(probes) + 20):
            if ctx.get(dut.done):
                break
            offer_byte = at < len(data) and (offer_byte or rng.random() < 0.7)
            ctx.set(dut.probes.valid, offer_byte)
            ctx.set(dut.probes.payload, data[at] if offer_byte else 0)
            offer_rsp = bool(rsp) and (offer_rsp or rng.random() < 0.5)
            ctx.set(dut.ctl_rsp.valid, offer_rsp)
            ctx.set(dut.ctl_rsp.payload, rsp[0] if offer_rsp else 0)
            ctx.set(dut.ctl_cmd.ready, rng.random() < 0.6)
            ctx.set(dut.values.ready, rng.random() < 0.6)
            took_byte = offer_byte and ctx.get(dut.probes.ready)
            cmd = ctx.get(dut.ctl_cmd.payload) if (ctx.get(dut.ctl_cmd.valid)
                                                    and ctx.get(dut.ctl_cmd.ready)) else None
            took_rsp = offer_rsp and ctx.get(dut.ctl_rsp.ready)
            value = ctx.get(dut.values.payload) if (ctx.get(dut.values.valid)
                                                     and ctx.get(dut.values.ready)) else None
            await ctx.tick()
            if took_byte:
                at, offer_byte = at + 1, False
            if took_rsp:
                rsp.pop(0)
                offer_rsp = False
            if cmd is not None:
                commands.append((cmd.write, cmd.space.value, cmd.addr))
                rsp.append(answer(cmd.space.value, cmd.addr) & 0xFFFFFFFF)
            if value is not None:
                values.append(value)
        got.update(done=bool(ctx.get(dut.done)), taken=at, commands=commands,
                   values=bytes(values), bad=ctx.get(dut.bad) and ctx.get(dut.bad_probe))
        if not ctx.get(dut.bad):
            got["bad"] = None
        ctx.set(dut.check if check else dut.read, 0)

    return testbench, got


def _check_probes(probes, rng, features=spec.Feature.all()):
    dut = ProbeReader(5, 8, features)
    testbench, got = _probe_pass(dut, probes, rng, check=True)
    run(dut, testbench)
    assert got["done"] and not got["commands"] and not got["values"]
    assert got["taken"] == 4 * (len(probes) if got["bad"] is None else got["bad"] + 1)
    return got["bad"]


def test_probe_reader_checks_the_probes():
    # 5 inputs, 8 neurons: STATE addresses (field << 4) | index, NEURON (field << 3) | neuron.
    rng = seeded()
    F, THETA = spec.StateField, spec.NeuronField.THETA.value
    good = [(space.value, addr) for space, addr in [
        _state(F.U, 0), (Space.NEURON, 7), _state(F.X, 12), (Space.NEURON, THETA << NB),
        _state(F.COUNT, 7)]]
    assert _check_probes(good, rng) is None
    assert _check_probes(good, rng, spec.Feature.all() & ~spec.Feature.COUNTS) == 4
    assert _check_probes(good, rng, spec.Feature(0)) == 3           # no theta
    assert _check_probes([], rng) is None
    state = Space.STATE.value
    for bad, position in [
            ([(state, 0), (Space.WEIGHT.value, 0)], 1),             # not a probe space
            ([(Space.COUNTER.value, 0)], 0),                        # READ can, a probe not
            ([(Space.INPUT.value, 0)], 0),
            ([(Space.CONTROL.value, 0)], 0),
            ([(state, 0)] * 7 + [(0x14, 0)], 7),                    # space 0x14, not 4
            ([(state, 8)], 0),                                      # neuron 8 of 8
            ([(state, 4 << SB | 13)], 0),                           # source 13 of 13
            ([(state, 7 << SB)], 0),                                # no field 7
            ([(state, 1 << 23)], 0)]:
        assert _check_probes(bad, rng) == position, bad


def test_probe_reader_reads_the_values():
    # Each value's low 3 bytes, lowest first, in the probes' order; a read each, no write.
    rng = seeded()
    for n in (1, 2, spec.MAX_PROBES):
        probes = [(rng.choice([Space.STATE.value, Space.NEURON.value]), rng.randrange(1 << 24))
                  for _ in range(n)]
        dut = ProbeReader(5, 8)
        answer = lambda space, addr: (space << 28 | addr) ^ 0x0F00_0000   # noqa: E731
        testbench, got = _probe_pass(dut, probes, rng, check=False, answer=answer)
        run(dut, testbench)
        assert got["done"] and got["taken"] == 4 * n and got["bad"] is None
        assert got["commands"] == [(0, space, addr) for space, addr in probes]
        assert got["values"] == b"".join(answer(*p).to_bytes(4, "little")[:3] for p in probes)


# --- The Link (Executor, AccessCheck) --------------------------------------------------------

class StandInCore:
    """A core for the link's tests, played clock by clock by the testbench (CoreSignature).

    Step events are taken at any time; a step whose end beat has arrived is computed in a few
    clocks, and until no step is computing or waiting commands are refused, as the real core
    refuses them. The computed step's spikes, ``spikes(t, inputs)`` (t counts the steps from
    0), are then offered on ``spike_out``. A read answers ``read(space, addr, steps)`` (steps:
    the steps computed so far), a write 0; every command is kept in ``commands``.

    By default it answers what a device holds at power-up (0; ``spec.SETTING_POWER_UP``; the
    generator states j + 1) and no neuron spikes: a device at power-up, for the requests
    that change nothing it would have to remember.
    """
    def __init__(self, rng, n_inputs, n_neurons, *, spikes=None, read=None):
        self.rng, self.n_inputs, self.sb = rng, n_inputs, spec.src_bits(n_inputs, n_neurons)
        self.spikes = spikes or (lambda t, inputs: [])
        self.read = read or self.power_up
        self.steps, self.commands = 0, []
        self._inputs, self._waiting, self._computing = [], [], None
        self._rsp, self._out, self._offer = [], [], None

    def power_up(self, space, addr, steps):
        if space == Space.SETTING:
            return {s.value: v for s, v in spec.SETTING_POWER_UP.items()}.get(addr, 0)
        if space == Space.INPUT and addr >> self.sb == spec.InputField.GEN.value:
            return (addr & ((1 << self.sb) - 1)) + 1
        return 0

    def drive(self, ctx, core):
        """Set this clock's ready, valid and payload signals; return what to sample."""
        rng = self.rng
        idle = self._computing is None and not self._waiting
        ctx.set(core.ctl_cmd.ready, idle and rng.random() < 0.8)
        ctx.set(core.step_in.ready, rng.random() < 0.8)
        ctx.set(core.ctl_rsp.valid, bool(self._rsp))
        ctx.set(core.ctl_rsp.payload, self._rsp[0] if self._rsp else 0)
        if self._offer is None and self._out and rng.random() < 0.7:
            self._offer = self._out.pop(0)      # once offered, held until taken
        ctx.set(core.spike_out.valid, self._offer is not None)
        if self._offer is not None:
            ctx.set(core.spike_out.payload, self._offer)

    def advance(self, ctx, core):
        """Sample the link's side of this clock (call before the tick); return the update."""
        took_cmd = ctx.get(core.ctl_cmd.valid) and ctx.get(core.ctl_cmd.ready)
        cmd = ctx.get(core.ctl_cmd.payload)
        took_rsp = bool(self._rsp) and ctx.get(core.ctl_rsp.ready)
        beat = ctx.get(core.step_in.payload) if (ctx.get(core.step_in.valid)
                                                 and ctx.get(core.step_in.ready)) else None
        took_spike = self._offer is not None and ctx.get(core.spike_out.ready)

        def update():
            if took_rsp:
                self._rsp.pop(0)
            if took_cmd:
                self.commands.append((cmd.write, Space(cmd.space), cmd.addr, cmd.data))
                self._rsp.append(0 if cmd.write else
                                 self.read(Space(cmd.space), cmd.addr, self.steps) & 0xFFFFFFFF)
            if took_spike:
                self._offer = None
            if beat is not None and beat.end:
                self._waiting.append(self._inputs)
                self._inputs = []
            elif beat is not None:
                self._inputs.append(beat.index)
            if self._computing is None and self._waiting:
                self._computing = [self.rng.randint(1, 6), self._waiting.pop(0)]
            elif self._computing is not None:
                self._computing[0] -= 1
                if not self._computing[0]:
                    spikes = sorted(set(self.spikes(self.steps, self._computing[1])))
                    self._out += [{"index": i, "end": 0} for i in spikes]
                    self._out.append({"index": 0, "end": 1})
                    self.steps += 1
                    self._computing = None
        return update


def _link_session(requests, rng, *, errors=(), link=None, core=None):
    """Send *requests* ((wire bytes, reply bytes expected) pairs) to a Link; return its replies.

    The link is Link(5, 8, …, max_payload=64) unless given; the core a ``StandInCore`` at
    power-up unless given. *errors* are (request, offset) pairs of bytes received with a UART
    framing error.
    """
    link = link or Link(5, 8, 1, clk_hz=1_000_000, baud=250_000, rx_window=512, max_payload=64)
    core = core or StandInCore(rng, link.n_inputs, link.n_neurons)
    answers = []

    async def testbench(ctx):
        for n, (wire, expect) in enumerate(requests):
            bytes_in = [(b, int((n, k) in errors)) for k, b in enumerate(wire)]
            out = bytearray()
            for _ in range(100 * len(wire) + 40 * expect + 20000):
                if not bytes_in and len(out) >= expect:
                    break
                offer = bool(bytes_in) and rng.random() < 0.8
                ctx.set(link.rx.valid, offer)
                if offer:
                    ctx.set(link.rx.payload, {"data": bytes_in[0][0], "ferr": bytes_in[0][1]})
                tx_ready = rng.random() < 0.8
                ctx.set(link.tx.ready, tx_ready)
                core.drive(ctx, link.core)
                took = offer and ctx.get(link.rx.ready)
                tx_valid, tx_byte = ctx.get(link.tx.valid), ctx.get(link.tx.payload)
                update = core.advance(ctx, link.core)
                await ctx.tick()
                update()
                if took:
                    bytes_in.pop(0)
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
        Space.INPUT: lambda: rng.randrange(len(spec.InputField) + 1) << sb
        | rng.randrange(n_inputs + 1),
    }[space]()


#: The geometry of the Link tests: 5 inputs, 8 neurons (nb 3, sb 4), payloads of 64 bytes.
NB, SB = spec.neuron_bits(8), spec.src_bits(5, 8)


def _state(field, index):
    return Space.STATE, field.value << SB | index


def _run_with_requests(features):
    """Return RUN_WITH and RESET payloads (seq 0) for a device at power-up, hand-picked.

    Their replies do not depend on the core's state at power-up (no neuron spikes, every
    probe reads 0), whatever the steps.
    """
    F, RW, STATE, NEURON = spec.StateField, spec.RunFlags, Space.STATE, Space.NEURON
    rw = protocol.run_with_request
    most = spec.max_run_with_steps(8, 64, True, 1)                      # 12
    good = [_state(F.U, 2), (NEURON, 7), _state(F.X, 12), _state(F.SPIKED, 0),
            (NEURON, spec.NeuronField.THETA.value << NB | 3), _state(F.COUNT, 7),
            _state(F.V, 7), _state(F.REF, 0)]
    return [
        rw(3, 0, [_state(F.U, 2)]),                                     # OK: 9 bytes
        rw(2, RW.INPUTS | RW.SPIKES, [(NEURON, 7), _state(F.X, 12)], b"\x02\x01\x04\x00"),
        rw(4, RW.SPIKES),
        rw(5, RW.INPUTS, (), b"\x00" * 4 + b"\xff\x1f"),
        rw(2, 0, good),                                                 # 8 probes
        rw(300, 0),                                                     # steps > 255
        rw(most, RW.SPIKES, [_state(F.Y, 1)]),
        rw(most + 1, RW.SPIKES, [_state(F.Y, 1)]),                      # BAD_LENGTH
        rw(1, 0, good + [_state(F.U, 0)]),                              # 9 probes: BAD_LENGTH
        rw(1, 0)[:5],                                                   # no n_probes
        rw(1, 0) + b"\x00",                                             # a byte more
        rw(1, 0, [_state(F.U, 0)])[:-1],                                # a probe cut short
        rw(2, RW.INPUTS, (), b"\x00"),                                  # a record missing
        rw(1, RW.INPUTS, (), b"\x00\x00"),                              # a byte left over
        rw(1, RW.INPUTS, (), b"\x02\x01"),                              # an index short
        rw(0xFFFF, RW.INPUTS, (), b"\x00" * 20),                        # records run out
        rw(1, 0, [_state(F.U, 0), (Space.WEIGHT, 0)]),                  # BAD_ADDRESS at 1
        rw(1, 0, [(Space.COUNTER, 0)]),
        rw(1, 0, [(Space.SETTING, 0)]),
        rw(1, 0, [(Space.INPUT, 0)]),
        rw(1, 0, [(Space.CONTROL, 0)]),
        rw(1, 0, [(Space.MASK, 0)]),
        rw(1, 0, [(8, 0)]),
        rw(1, 0, [(0xFF, 0)]),
        rw(1, 0, [_state(F.U, 8)]),                                     # neuron 8 of 8
        rw(1, 0, [_state(F.X, 13)]),                                    # source 13 of 13
        rw(1, 0, [(STATE, 7 << SB)]),                                   # no field 7
        rw(1, 0, [(NEURON, 6 << NB)]),                                  # no field 6
        rw(1, 0, [(NEURON, 8)] * 3),                                    # neuron 8 (nb 3)
        rw(1, 0, [_state(F.U, 0)] * 3 + [_state(F.COUNT, 0)]),          # COUNTS only
        rw(0, 0, [_state(F.U, 0), (Space.WEIGHT, 0)]),                  # BAD_ADDRESS first
        rw(0, 0, [_state(F.U, 0)]),                                     # BAD_VALUE at 0
        rw(0, RW.INPUTS),
        rw(1, 0x04),
        rw(1, 0x80 | RW.SPIKES.value, [_state(F.U, 0)]),
        rw(2, RW.INPUTS, (), b"\x00\x01\x05"),                          # BAD_VALUE at 1
        rw(2, RW.INPUTS.value | 0x10, (), b"\x00\x01\x05"),                   # ... the flags first
        protocol.reset_request(spec.ResetFlags.SPIKE_COUNTS.value),     # COUNTS only
        protocol.reset_request(7),
        protocol.reset_request(8),                                      # BAD_VALUE
        protocol.reset_request(0x84),
    ]


@pytest.mark.parametrize("features", [spec.Feature.all(), spec.Feature(0),
                                      spec.Feature.all() & ~spec.Feature.RUN_WITH],
                         ids=["all", "none", "no-run-with"])
def test_link_answers_as_the_emulator(features):
    # Without RUN_WITH (none, no-run-with) the emulator answers each RUN_WITH UNKNOWN_COMMAND.
    rng = seeded()
    emulator = DeviceEmulator(5, 8, 1, clk_hz=1_000_000, baud=250_000, rx_window=512,
                              max_payload=64, features=features)
    frame = protocol.encode_frame
    damaged = bytearray(frame(protocol.identify_request(seq=3)))
    damaged[2] ^= 0x10
    # Requests that change nothing the stand-in core would have to remember: frame-level
    # errors, sequence rules, failed checks, reads of the power-up state, RESETs, and
    # RUN_WITHs, whose probes read the power-up state.
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
        frame(protocol.reset_request(8, seq=5)),                # BAD_VALUE at 0
        frame(protocol.reset_request(3, seq=6)),
        frame(protocol.run_request(b"\x00\x00", 1, seq=7)),     # BAD_LENGTH: a byte more
        frame(protocol.run_request(b"\x00\xff\x20", 2, seq=8)),  # BAD_VALUE at step 1
        frame(protocol.run_request(b"", 0, seq=9)),             # BAD_VALUE at 0
        frame(bytes([10, Command.WRITE.value]) + bytes(7)),     # BAD_LENGTH: count 0
    ]
    errors = {(2, 1)}
    seq = 11
    for write in [False] * 12 + ["run_with", "bounds"] + [True] * 20:
        if write == "run_with":
            for payload in _run_with_requests(features):
                wires.append(frame(bytes([seq & 0xFF]) + payload[1:]))
                seq += 1
            continue
        if write == "bounds":
            # w_min 5 over w_max 0: BAD_VALUE at W_MIN's position; then -3 and 4; then
            # w_max -4 under w_min -3: BAD_VALUE at 0.
            wires += [frame(protocol.write_request(Space.SETTING, 7, [0, 5], 2, seq=seq)),
                      frame(protocol.write_request(Space.SETTING, 8, [-3, 4], 2, seq=seq + 1)),
                      frame(protocol.write_request(Space.SETTING, 9, [-4], 1, seq=seq + 2))]
            seq += 3
            continue
        space = rng.choice(list(Space) + [None])    # None: 8, outside the map
        addr = _near_the_map(space, rng)
        count, width = rng.randrange(1, 6), rng.randrange(1, 5)
        if write:
            values = [rng.choice([0, 1, -1, 15, 16, 127, -128, -129, 4096, 4097,
                                  rng.randrange(-1 << 23, 1 << 23)]) for _ in range(count)]
            request = protocol.write_request(space or Space.WEIGHT, addr, values, width,
                                             seq=seq & 0xFF)
        else:
            request = protocol.read_request(space or Space.WEIGHT, addr, count, width,
                                            seq=seq & 0xFF)
        if space is None:
            request = request[:2] + b"\x08" + request[3:]
        wires.append(frame(request))
        seq += 1
    expected = [emulator.feed(wire, errors=[k for n, k in errors if n == i])
                for i, wire in enumerate(wires)]
    link = Link(5, 8, 1, clk_hz=1_000_000, baud=250_000, rx_window=512, max_payload=64,
                features=features)
    answers = _link_session(list(zip(wires, map(len, expected))), rng, errors=errors, link=link)
    decoder = protocol.FrameDecoder()
    for wire, want, got in zip(wires, expected, answers):
        assert got == want, (f"request {wire.hex()}: emulator {decoder.feed(want)}, "
                             f"link {decoder.feed(got)}")


def test_run_with_hand_cases():
    """RUN_WITH's replies, derived by hand from a stand-in core that says what it was told.

    Step t (counted from 0 over the session) spikes neuron t % 8 and the inputs it was given
    (< 8); a read after t steps of (space, addr) answers 0xA5_tt_s_aaa (t's low byte, the space,
    addr's low 12 bits), whose low 3 bytes are its value: ``aa sa tt`` on the wire.
    """
    rng = seeded()
    F, RW, NEURON = spec.StateField, spec.RunFlags, Space.NEURON
    core = StandInCore(rng, 5, 8, spikes=lambda t, inputs: [t % 8, *inputs],
                       read=lambda space, addr, t: 0xA5 << 24 | (t & 0xFF) << 16
                       | space.value << 12 | addr & 0xFFF)
    rw = protocol.run_with_request
    requests = [
        # 3 steps (0 … 2), no inputs, no spikes, 1 probe (u of neuron 2: STATE 4, addr 2).
        (rw(3, 0, [_state(F.U, 2)], seq=1), "00", "024001" "024002" "024003"),
        # Steps 3 and 4 with inputs {1, 4} and {}: spikes {1, 3, 4} and {4} (8 neurons:
        # bitmaps), each followed by vth of neuron 7 (NEURON 1, addr 7) and x of source 12
        # (STATE 4, addr 0x4c).
        (rw(2, RW.INPUTS | RW.SPIKES, [(NEURON, 7), _state(F.X, 12)], b"\x02\x01\x04\x00",
            seq=2), "00", "ff1a" "071004" "4c4004" "ff10" "071005" "4c4005"),
        # Steps 5 and 6, spikes only: {5}, {6}.
        (rw(2, RW.SPIKES, seq=3), "00", "ff20" "ff40"),
        # 9 probes; a probe in WEIGHT (1); 13 steps of 5 reply bytes in 62: nothing runs.
        (rw(1, 0, [_state(F.U, 0)] * 9, seq=4), "04", ""),
        (rw(1, 0, [_state(F.U, 0), (Space.WEIGHT, 0)], seq=5), "05", "0100"),
        (rw(13, RW.SPIKES, [_state(F.U, 0)], seq=6), "04", ""),
        # 12 steps (7 … 18) fit: spikes {t % 8}, then u of neuron 0 (addr 0, t + 1).
        (rw(12, RW.SPIKES, [_state(F.U, 0)], seq=7), "00",
         "".join(f"ff{1 << (t % 8):02x}0040{t + 1:02x}" for t in range(7, 19))),
        # RESET of state, counters and spike counts: three CONTROL writes, in that order.
        (protocol.reset_request(7, seq=8), "00", ""),
    ]
    wires = [protocol.encode_frame(payload) for payload, _, _ in requests]
    wants = [protocol.encode_frame(bytes([payload[0], int(status, 16)]) + bytes.fromhex(data))
             for payload, status, data in requests]
    answers = _link_session(list(zip(wires, map(len, wants))), rng, core=core)
    for (payload, _, _), want, got in zip(requests, wants, answers):
        assert got == want, f"request {payload.hex()}"
    assert core.steps == 19
    reads = [c for c in core.commands if not c[0]]
    assert len(reads) == 3 + 2 * 2 + 12
    assert [c[1:3] for c in core.commands if c[0]] == [
        (Space.CONTROL, spec.Control.RESET.value),
        (Space.CONTROL, spec.Control.CLEAR_COUNTERS.value),
        (Space.CONTROL, spec.Control.CLEAR_COUNTS.value)]


@pytest.mark.parametrize("features", [spec.Feature(0),
                                      spec.Feature.all() & ~spec.Feature.RUN_WITH],
                         ids=["none", "no-run-with"])
def test_run_with_is_a_build_option(features):
    """Without ``Feature.RUN_WITH``, 0x06 is ``UNKNOWN_COMMAND``, and RUN runs as before.

    By hand, over the stand-in core of ``test_run_with_hand_cases`` (step t spikes neuron
    t % 8 and its inputs): a RUN_WITH is refused (no position, nothing reaches the core) and
    remembered like any refused command (its retransmission gets the same reply, the next seq
    is the one after it); then a RUN of two steps and a RESET of state and counters execute.
    """
    rng = seeded()
    F, RW = spec.StateField, spec.RunFlags
    core = StandInCore(rng, 5, 8, spikes=lambda t, inputs: [t % 8, *inputs],
                       read=lambda space, addr, t: 0xA5 << 24 | t)
    rw = protocol.run_with_request
    unknown = "03"
    requests = [
        (rw(3, 0, [_state(F.U, 2)], seq=1), unknown, ""),
        (rw(3, 0, [_state(F.U, 2)], seq=1), unknown, ""),           # retransmitted
        (rw(2, RW.INPUTS | RW.SPIKES, (), b"\x02\x01\x04\x00", seq=2), unknown, ""),
        (bytes([3, Command.RUN_WITH.value]), unknown, ""),          # no header at all
        (rw(1, 0, seq=9), "07", ""),                                # seq 4 expected
        # Steps 0 and 1 with inputs {} and {1, 4}: spikes {0} and {1, 4} (8 neurons: bitmaps).
        (protocol.run_request(b"\x00\x02\x01\x04", 2, seq=4), "00", "ff01" "ff12"),
        (protocol.reset_request(3, seq=5), "00", ""),
    ]
    wires = [protocol.encode_frame(payload) for payload, _, _ in requests]
    wants = [protocol.encode_frame(bytes([payload[0], int(status, 16)]) + bytes.fromhex(data))
             for payload, status, data in requests]
    link = Link(5, 8, 1, clk_hz=1_000_000, baud=250_000, rx_window=512, max_payload=64,
                features=features)
    answers = _link_session(list(zip(wires, map(len, wants))), rng, link=link, core=core)
    for (payload, _, _), want, got in zip(requests, wants, answers):
        assert got == want, f"request {payload.hex()}"
    assert core.steps == 2
    assert [c[:3] for c in core.commands] == [
        (1, Space.CONTROL, spec.Control.RESET.value),
        (1, Space.CONTROL, spec.Control.CLEAR_COUNTERS.value)]
    # Nothing that RUN_WITH alone needs is built: no probe reader, no empty steps, no gaps or
    # dropped records, and RUN's step counts (at most 62 // 2 = 31 steps of 8 neurons in 64
    # bytes: 5 bits, not MAX_STEPS's 16).
    executor = Executor(5, 8, 64, bytes(20), features)
    feeder, collector = executor._feeder, executor._collector
    assert executor._reader is None
    assert "empty" not in feeder.signature.members
    assert not {"drop", "gap", "paused", "resume"} & set(collector.signature.members)
    assert feeder.max_steps == collector.max_steps == spec.max_run_steps(8, 64) == 31
    assert len(feeder.bad_step) == len(collector.steps) == 5
    full = Executor(5, 8, 64, bytes(20), features | spec.Feature.RUN_WITH)
    assert full._reader is not None and "empty" in full._feeder.signature.members
    assert len(full._collector.steps) == 16
    parts = [[name for _, name, _ in Fragment.get(build, None).subfragments]
             for build in (executor, full)]
    assert parts == [["check", "feeder", "collector"], ["check", "feeder", "collector", "reader"]]
