"""What a RUN or RUN_WITH takes in and gives back (docs/protocol.md, RUN and RUN_WITH).

``RecordFeeder`` checks a frame's input records, then feeds them to the core as step events;
``SpikeCollector`` turns the core's spike events into the reply's spike records;
``ProbeReader`` checks a RUN_WITH's probes, then reads their values after each step. RUN_WITH
is a build option (``Feature.RUN_WITH``): without it there is no ``ProbeReader``, and the
feeder and the collector have neither its modes nor its step counts (a RUN's are few). The
host side is ``spikecore.protocol`` (``encode_records``, ``decode_records``,
``decode_run_with``); the size rules are ``spikecore.spec.record_bytes`` and
``spikecore.spec.max_run_with_steps``.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.memory import Memory, WritePort
from amaranth.lib.wiring import In, Out

from .. import spec
from ..spec import (DATA_BITS, MAX_PROBES, PROBE_BYTES, PROBE_SPACES, RECORD_BITMAP, Feature,
                    neuron_bits, src_bits)
from .access import AccessCheck
from .checks import check_features
from .interface import CtlCommand, Event

__all__ = ["RecordFeeder", "SpikeCollector", "ProbeReader"]


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive integer, not {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value}")


class _Next(enum.Enum, shape=2):
    """What the next byte of the records is."""
    HEADER = 0
    SPARSE = 1                                  # a byte of a sparse record's index
    BITMAP = 2                                  # a bitmap byte


class RecordFeeder(wiring.Component):
    """Check a RUN's input records, then feed them to the core as its step events.

    Both passes walk the same records (``steps`` of them, each sparse or bitmap) with the same
    registers. The check pass takes a byte a clock and notes the first step holding an index
    ≥ *n_inputs* or a padding bit set; the feed pass sends each step's indices, one a clock at
    best (a bitmap byte's bits lowest first), then its end beat. With ``empty`` the feed pass
    sends ``steps`` empty steps (a lone end beat each) and takes no record (RUN_WITH without
    ``RunFlags.INPUTS``; built with ``Feature.RUN_WITH`` only).

    Parameters
    ----------
    n_inputs, n_neurons : int
        The core's geometry (>= 1 each): *n_inputs* bounds the indices, both size the beats.
    max_steps : int
        The most steps a RUN (``spec.max_run_steps``) or RUN_WITH (``spec.MAX_STEPS``) has.
    features : spikecore.spec.Feature
        The device's: ``RUN_WITH`` adds the ``empty`` port.

    Members
    -------
    records : In(stream.Signature(8))
        The records' bytes; ``valid`` low past their end, where the check pass stops. The feed
        pass walks records the check pass has accepted, so every byte it takes is there: it
        does not look at ``valid`` (which costs logic on the iCEBreaker).
    steps : In(range(max_steps + 1))
        The records in the RUN.
    start : In(1)
        Start a pass from the first record (low during the pass).
    check, feed : In(1)
        Run the check pass, or the feed pass, while high.
    empty : In(1)
        With ``RUN_WITH``: the feed pass sends empty steps.
    done : Out(1)
        The pass has walked ``steps`` records.
    bad : Out(1)
        The check pass has found a bad record: the first is ``bad_step``.
    bad_step : Out(range(max_steps + 1))
    step_in : Out(stream.Signature(Event(src_bits(n_inputs, n_neurons))))
        The core's step events (feed pass).
    """
    def __init__(self, n_inputs, n_neurons, max_steps, features=Feature.all()):
        _check_positive("n_inputs", n_inputs)
        _check_positive("n_neurons", n_neurons)
        _check_positive("max_steps", max_steps)
        self.n_inputs, self.n_neurons, self.max_steps = n_inputs, n_neurons, max_steps
        self.features = check_features(features)
        self.index_bytes = spec.index_bytes(n_inputs)
        self.bitmap_bytes = spec.bitmap_bytes(n_inputs)
        members = {
            "records":  In(stream.Signature(8)),
            "steps":    In(range(max_steps + 1)),
            "start":    In(1),
            "check":    In(1),
            "feed":     In(1),
            "done":     Out(1),
            "bad":      Out(1),
            "bad_step": Out(range(max_steps + 1)),
            "step_in":  Out(stream.Signature(Event(src_bits(n_inputs, n_neurons)))),
        }
        if Feature.RUN_WITH in features:
            members["empty"] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        walk = Signal(data.StructLayout({
            "step":   range(self.max_steps + 1),    # records walked (check) or fed (feed)
            "next":   _Next,
            "left":   range(max(self.bitmap_bytes, 254 * self.index_bytes) + 1),  # its bytes
            "lo":     8,                            # the low byte of a two-byte index
            "half":   1,                            # ... is in lo
            "base":   range(8 * self.bitmap_bytes + 8),     # the index of bit 0 of `bits`
            "bits":   8,                            # the bitmap byte's bits not yet fed
            "loaded": 1,                            # ... are in bits
        }))
        m.d.comb += self.done.eq(walk.step == self.steps)
        with m.If(self.start):
            m.d.sync += [walk.step.eq(0), walk.next.eq(_Next.HEADER), walk.left.eq(0),
                         walk.half.eq(0), walk.loaded.eq(0), self.bad.eq(0)]
        with m.If(self.check & ~self.done & self.records.valid):
            self._check(m, walk)
        if Feature.RUN_WITH in self.features:
            with m.If(self.feed & ~self.done & self.empty):
                self._end_beat(m, walk)
            with m.Elif(self.feed & ~self.done):
                self._feed(m, walk)
        else:
            with m.If(self.feed & ~self.done):
                self._feed(m, walk)
        return m

    def _check(self, m, walk):
        """Take one record byte; note the step if it is a bad index or padding bit."""
        byte = self.records.payload
        bad = Signal()
        record_done = Signal()
        m.d.comb += self.records.ready.eq(1)
        with m.Switch(walk.next):
            with m.Case(_Next.HEADER):
                with m.If(byte == RECORD_BITMAP):
                    m.d.sync += [walk.next.eq(_Next.BITMAP), walk.left.eq(self.bitmap_bytes)]
                with m.Elif(byte == 0):
                    m.d.comb += record_done.eq(1)
                with m.Else():
                    m.d.sync += [walk.next.eq(_Next.SPARSE),
                                 walk.left.eq(byte * self.index_bytes)]
            with m.Case(_Next.SPARSE):
                m.d.sync += walk.left.eq(walk.left - 1)
                m.d.comb += record_done.eq(walk.left == 1)
                if self.index_bytes == 1:
                    m.d.comb += bad.eq(byte >= self.n_inputs)
                else:
                    m.d.sync += [walk.lo.eq(byte), walk.half.eq(~walk.half)]
                    m.d.comb += bad.eq(walk.half & (Cat(walk.lo, byte) >= self.n_inputs))
            with m.Case(_Next.BITMAP):
                m.d.sync += walk.left.eq(walk.left - 1)
                m.d.comb += record_done.eq(walk.left == 1)
                if self.n_inputs % 8:
                    pad = 0xff & ~((1 << (self.n_inputs % 8)) - 1)
                    m.d.comb += bad.eq((walk.left == 1) & ((byte & pad) != 0))
        with m.If(bad & ~self.bad):
            m.d.sync += [self.bad.eq(1), self.bad_step.eq(walk.step)]
        with m.If(record_done):
            m.d.sync += [walk.step.eq(walk.step + 1), walk.next.eq(_Next.HEADER)]

    def _end_beat(self, m, walk):
        """Send the step's end beat; once it is taken, the next record is the next step's."""
        m.d.comb += [self.step_in.valid.eq(1), self.step_in.payload.end.eq(1)]
        with m.If(self.step_in.ready):
            m.d.sync += [walk.step.eq(walk.step + 1), walk.next.eq(_Next.HEADER)]

    def _feed(self, m, walk):
        """Send the record's next index or its end beat, or take its next byte."""
        records, byte = self.records, self.records.payload
        step_in, beat = self.step_in, self.step_in.payload

        def end_beat():
            self._end_beat(m, walk)

        def index_beat(index):
            m.d.comb += [step_in.valid.eq(1), beat.index.eq(index)]

        with m.Switch(walk.next):
            with m.Case(_Next.HEADER):
                with m.If(byte == RECORD_BITMAP):
                    m.d.comb += records.ready.eq(1)
                    m.d.sync += [walk.next.eq(_Next.BITMAP), walk.left.eq(self.bitmap_bytes),
                                 walk.base.eq(0), walk.loaded.eq(0)]
                with m.Elif(byte == 0):
                    end_beat()
                    m.d.comb += records.ready.eq(step_in.ready)
                with m.Else():
                    m.d.comb += records.ready.eq(1)
                    m.d.sync += [walk.next.eq(_Next.SPARSE),
                                 walk.left.eq(byte * self.index_bytes)]
            with m.Case(_Next.SPARSE):
                with m.If(walk.left == 0):
                    end_beat()
                with m.Elif((self.index_bytes == 2) & ~walk.half):
                    m.d.comb += records.ready.eq(1)
                    m.d.sync += [walk.lo.eq(byte), walk.half.eq(1), walk.left.eq(walk.left - 1)]
                with m.Else():
                    index_beat(Cat(walk.lo, byte) if self.index_bytes == 2 else byte)
                    m.d.comb += records.ready.eq(step_in.ready)
                    with m.If(step_in.ready):
                        m.d.sync += [walk.half.eq(0), walk.left.eq(walk.left - 1)]
            with m.Case(_Next.BITMAP):
                lowest = Signal(3)
                for b in reversed(range(8)):
                    with m.If(walk.bits[b]):
                        m.d.comb += lowest.eq(b)
                with m.If(walk.left == 0):
                    end_beat()
                with m.Elif(~walk.loaded):
                    m.d.sync += [walk.bits.eq(byte), walk.loaded.eq(1)]
                with m.Elif(walk.bits != 0):
                    index_beat(walk.base + lowest)
                    with m.If(step_in.ready):
                        m.d.sync += walk.bits.eq(walk.bits & (walk.bits - 1))
                with m.Else():
                    m.d.comb += records.ready.eq(1)
                    m.d.sync += [walk.loaded.eq(0), walk.base.eq(walk.base + 8),
                                 walk.left.eq(walk.left - 1)]


class SpikeCollector(wiring.Component):
    """Write each step's spikes into a RUN's reply as one spike record, sparse or bitmap.

    Spikes come in increasing order, each step ended by an end beat; the record takes the
    encoding ``spec.record_bytes`` chooses. Indices are written as they come while a sparse
    record can still win; the step is also built as a bitmap in a small memory (the byte being
    filled in a register, each finished byte written once). After the end beat a walk reads
    the bitmap into the reply (if the bitmap won) and clears it, a byte a clock. After a reset
    the same walk clears the memory (which keeps its contents through a reset) first.

    For RUN_WITH (built with ``Feature.RUN_WITH`` only), ``drop`` takes each step's spikes
    and writes no record, and ``gap`` leaves room for the step's probe values after its
    record: with ``gap`` ≠ 0 the collector pauses after each step (``paused``, ``length`` where
    the room starts) until ``resume``.

    Parameters
    ----------
    n_neurons : int
        Neurons (>= 1): the size of the sets.
    max_steps : int
        The most steps a RUN (``spec.max_run_steps``) or RUN_WITH (``spec.MAX_STEPS``) has.
    max_payload : int
        The reply buffer's size, a power of two.
    features : spikecore.spec.Feature
        The device's: ``RUN_WITH`` adds the ports ``drop``, ``gap``, ``paused`` and ``resume``.

    Members
    -------
    spikes : In(stream.Signature(Event(neuron_bits(n_neurons))))
        The core's spike events.
    steps : In(range(max_steps + 1))
        The steps of the RUN; their records (and gaps) must fit the reply.
    start : In(1)
        Collect ``steps`` records into the reply from byte 2 on (after seq and status).
    drop : In(1)
        With ``RUN_WITH``: take the spikes, write no record.
    gap : In(range(max_payload))
        With ``RUN_WITH``: the bytes to leave free after each step's record.
    paused : Out(1)
        With ``RUN_WITH``: a step's record is written, its gap not yet passed: the room
        starts at ``length``.
    resume : In(1)
        With ``RUN_WITH``: pass the gap and go on with the next step (while paused).
    done : Out(1)
        The records are written (also high before the first start).
    length : Out(range(max_payload + 1))
        The reply's length (when done).
    clearing : Out(1)
        The bitmap memory is being cleared after a reset: do not start.
    reply : In(WritePort.Signature(addr_width=log2(max_payload), shape=8))
        Writes into the reply buffer.
    """
    def __init__(self, n_neurons, max_steps, max_payload, features=Feature.all()):
        _check_positive("n_neurons", n_neurons)
        _check_positive("max_steps", max_steps)
        _check_positive("max_payload", max_payload)
        if max_payload & (max_payload - 1):
            raise ValueError(f"max_payload must be a power of two, not {max_payload}")
        self.n_neurons, self.max_steps, self.max_payload = n_neurons, max_steps, max_payload
        self.features = check_features(features)
        members = {
            "spikes":   In(stream.Signature(Event(neuron_bits(n_neurons)))),
            "steps":    In(range(max_steps + 1)),
            "start":    In(1),
            "done":     Out(1, init=1),
            "length":   Out(range(max_payload + 1)),
            "clearing": Out(1, init=1),
            "reply":    In(WritePort.Signature(addr_width=(max_payload - 1).bit_length(),
                                               shape=8)),
        }
        if Feature.RUN_WITH in features:
            members.update({"drop": In(1), "gap": In(range(max_payload)), "paused": Out(1),
                            "resume": In(1)})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        index_bytes = spec.index_bytes(self.n_neurons)
        bitmap_bytes = spec.bitmap_bytes(self.n_neurons)
        m.submodules.bitmap = bitmap = Memory(shape=8, depth=bitmap_bytes, init=[])
        bm_wr, bm_rd = bitmap.write_port(), bitmap.read_port(transparent_for=())
        spikes, beat, reply = self.spikes, self.spikes.payload, self.reply

        step = Signal(range(self.max_steps + 1))
        rec = self.length                       # where this step's record starts
        pos = Signal(len(rec) + 2)              # where the next sparse index byte goes
        count = Signal(range(self.n_neurons + 1))
        byte = Signal(8)                        # the bitmap byte being filled ...
        byte_at = Signal(range(bitmap_bytes + 1))   # ... and its offset
        hi = Signal(8)                          # a two-byte index's high byte ...
        hi_pending = Signal()                   # ... still to write
        walking = Signal()                      # reading and clearing the bitmap
        sparse = Signal()                       # ... of a step whose record is sparse
        k = Signal(range(bitmap_bytes + 1))     # the walk reads byte k, clears byte k - 1
        k_byte = (k - 1)[:len(k)]
        sparse_room = (count + 1) * index_bytes < bitmap_bytes
        m.d.comb += bm_rd.addr.eq(k)
        run_with = Feature.RUN_WITH in self.features

        def step_done():
            """Count the step; pause for its gap (RUN_WITH)."""
            m.d.sync += step.eq(step + 1)
            if run_with:
                m.d.sync += self.paused.eq(self.gap != 0)

        with m.If(self.start):
            m.d.sync += [step.eq(0), rec.eq(2), pos.eq(3), count.eq(0), byte.eq(0),
                         byte_at.eq(0), hi_pending.eq(0), walking.eq(0), self.done.eq(0)]
            if run_with:
                m.d.sync += self.paused.eq(0)
        with m.If(self.clearing):
            m.d.comb += [bm_wr.addr.eq(k_byte), bm_wr.data.eq(0), bm_wr.en.eq(k != 0)]
            m.d.sync += k.eq(k + 1)
            with m.If(k == bitmap_bytes):
                m.d.sync += self.clearing.eq(0)
        with m.Elif(self.done):
            pass                                # between RUNs
        if run_with:
            with m.Elif(self.paused):
                # Between records (pos == rec + 1): both move past the gap.
                with m.If(self.resume):
                    m.d.sync += [rec.eq(rec + self.gap), pos.eq(rec + self.gap + 1),
                                 self.paused.eq(0)]
        with m.Elif(step == self.steps):
            m.d.sync += self.done.eq(1)
        with m.Elif(walking):
            # The step's bitmap: a bitmap record writes it after its header (at k = 0).
            m.d.comb += [bm_wr.addr.eq(k_byte), bm_wr.data.eq(0), bm_wr.en.eq(k != 0)]
            with m.If(~sparse):
                m.d.comb += [reply.addr.eq(rec + k), reply.en.eq(1),
                             reply.data.eq(Mux(k == 0, RECORD_BITMAP,
                                               bm_rd.data | Mux(k_byte == byte_at, byte, 0)))]
            m.d.sync += k.eq(k + 1)
            with m.If(k == bitmap_bytes):
                m.d.sync += [walking.eq(0), byte.eq(0), byte_at.eq(0), count.eq(0)]
                step_done()
                with m.If(~sparse):
                    m.d.sync += [rec.eq(rec + 1 + bitmap_bytes), pos.eq(rec + 2 + bitmap_bytes)]
        with m.Elif(hi_pending):
            m.d.comb += [reply.addr.eq(pos), reply.data.eq(hi), reply.en.eq(1)]
            m.d.sync += [pos.eq(pos + 1), hi_pending.eq(0)]
        if run_with:
            with m.Elif(self.drop):
                # The spikes are dropped: the bitmap memory is not touched.
                m.d.comb += spikes.ready.eq(1)
                with m.If(spikes.valid & beat.end):
                    step_done()
        with m.Else():
            m.d.comb += spikes.ready.eq(1)
            with m.If(spikes.valid & beat.end):
                # The record's header if it is sparse (its indices are written already).
                m.d.sync += [walking.eq(1), k.eq(0), sparse.eq(0)]
                with m.If((count <= RECORD_BITMAP - 1) & (count * index_bytes < bitmap_bytes)):
                    m.d.comb += [reply.addr.eq(rec), reply.data.eq(count), reply.en.eq(1)]
                    m.d.sync += [rec.eq(pos), pos.eq(pos + 1), sparse.eq(1)]
            with m.Elif(spikes.valid):
                index = beat.index.as_unsigned()
                bit = (Const(1, 8) << index[:3])[:8]
                with m.If(index[3:] == byte_at):
                    m.d.sync += byte.eq(byte | bit)
                with m.Else():
                    m.d.comb += [bm_wr.addr.eq(byte_at), bm_wr.data.eq(byte), bm_wr.en.eq(1)]
                    m.d.sync += [byte_at.eq(index[3:]), byte.eq(bit)]
                m.d.sync += count.eq(count + 1)
                with m.If(sparse_room & (count < RECORD_BITMAP - 1)):
                    m.d.comb += [reply.addr.eq(pos), reply.data.eq(index[:8]), reply.en.eq(1)]
                    m.d.sync += pos.eq(pos + 1)
                    if index_bytes == 2:
                        m.d.sync += [hi.eq(index[8:16]), hi_pending.eq(1)]
        return m


class _Probe(enum.Enum, shape=2):
    """What the probe reader does with the probe at hand."""
    FETCH   = 0                                 # take its bytes
    VERIFY  = 1                                 # check its address (check pass)
    COMMAND = 2                                 # send its read to the core (read pass)
    VALUE   = 3                                 # send its value's bytes (read pass)


class ProbeReader(wiring.Component):
    """Check a RUN_WITH's probes, then read their values on the core's control interface.

    A probe is ``space:u8 addr:u24`` (docs/protocol.md, RUN_WITH). The check pass takes the
    probes' bytes and stops at the first whose space is not in ``spec.PROBE_SPACES`` or whose
    address a READ could not read (``AccessCheck``). Each read pass (one after every step)
    takes them again, reads each one's value and sends its ``spec.PROBE_BYTES`` low bytes,
    lowest first: a READ of that width.

    Parameters
    ----------
    n_inputs, n_neurons : int
        The core's geometry (>= 1 each).
    features : spikecore.spec.Feature
        The core's (``AccessCheck``).

    Members
    -------
    probes : In(stream.Signature(8))
        The probes' bytes, 4 a probe.
    n_probes : In(range(MAX_PROBES + 1))
        The probes of the RUN_WITH.
    start : In(1)
        Start a pass from the first probe (low during the pass).
    check, read : In(1)
        Run the check pass, or a read pass, while high.
    done : Out(1)
        The pass has handled ``n_probes`` probes, or found a bad one.
    bad : Out(1)
        The check pass has found a bad probe: the first is ``bad_probe``.
    bad_probe : Out(range(MAX_PROBES + 1))
    ctl_cmd : Out(stream.Signature(CtlCommand))
        The probes' reads (read pass), to the core.
    ctl_rsp : In(stream.Signature(DATA_BITS))
        Their values, from the core.
    values : Out(stream.Signature(8))
        The values' bytes (read pass).
    """
    def __init__(self, n_inputs, n_neurons, features=Feature.all()):
        _check_positive("n_inputs", n_inputs)
        _check_positive("n_neurons", n_neurons)
        self.n_inputs, self.n_neurons = n_inputs, n_neurons
        self.features = check_features(features)
        super().__init__({
            "probes":    In(stream.Signature(8)),
            "n_probes":  In(range(MAX_PROBES + 1)),
            "start":     In(1),
            "check":     In(1),
            "read":      In(1),
            "done":      Out(1),
            "bad":       Out(1),
            "bad_probe": Out(range(MAX_PROBES + 1)),
            "ctl_cmd":   Out(stream.Signature(CtlCommand)),
            "ctl_rsp":   In(stream.Signature(DATA_BITS)),
            "values":    Out(stream.Signature(8)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.access = access = AccessCheck(self.n_inputs, self.n_neurons,
                                                   self.features)
        probe = Signal(data.StructLayout({"space": 8, "addr": spec.ADDR_BITS}))
        phase = Signal(_Probe)
        k = self.bad_probe                      # the probe at hand
        b = Signal(2)                           # its byte at hand, or its value's
        readable = access.addr_ok & Cat(probe.space == s.value for s in PROBE_SPACES).any()
        m.d.comb += [self.done.eq(self.bad | (k == self.n_probes)),
                     access.space.eq(probe.space), access.addr.eq(probe.addr)]
        cmd, rsp = self.ctl_cmd, self.ctl_rsp
        m.d.comb += [cmd.payload.write.eq(0), cmd.payload.space.eq(probe.space),
                     cmd.payload.addr.eq(probe.addr),
                     self.values.payload.eq(rsp.payload.word_select(b, 8))]

        with m.If(self.start):
            m.d.sync += [k.eq(0), b.eq(0), phase.eq(_Probe.FETCH), self.bad.eq(0)]
        with m.Elif((self.check | self.read) & ~self.done):
            with m.Switch(phase):
                with m.Case(_Probe.FETCH):
                    m.d.comb += self.probes.ready.eq(1)
                    with m.If(self.probes.valid):
                        m.d.sync += [probe.eq(Cat(probe.as_value()[8:], self.probes.payload)),
                                     b.eq(b + 1)]
                        with m.If(b == 3):
                            m.d.sync += phase.eq(Mux(self.check, _Probe.VERIFY,
                                                     _Probe.COMMAND))
                with m.Case(_Probe.VERIFY):
                    with m.If(readable):
                        m.d.sync += k.eq(k + 1)
                    with m.Else():
                        m.d.sync += self.bad.eq(1)
                    m.d.sync += phase.eq(_Probe.FETCH)
                with m.Case(_Probe.COMMAND):
                    m.d.comb += cmd.valid.eq(1)
                    with m.If(cmd.ready):
                        m.d.sync += phase.eq(_Probe.VALUE)
                with m.Case(_Probe.VALUE):
                    # The response beat stays put until it is taken, with its last byte.
                    m.d.comb += self.values.valid.eq(rsp.valid)
                    with m.If(rsp.valid & self.values.ready):
                        m.d.sync += b.eq(b + 1)
                        with m.If(b == PROBE_BYTES - 1):
                            m.d.comb += rsp.ready.eq(1)
                            m.d.sync += [b.eq(0), k.eq(k + 1), phase.eq(_Probe.FETCH)]
        return m
