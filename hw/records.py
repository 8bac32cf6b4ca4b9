"""A RUN's step records (docs/protocol.md, "Step records"): input records in, spike records out.

``RecordFeeder`` checks a RUN frame's input records, then feeds them to the core as step
events; ``SpikeCollector`` turns the core's spike events into the reply's spike records. The
host side is ``spikecore.protocol`` (``encode_records``, ``decode_records``); the size rule
is ``spikecore.spec.record_bytes``.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.memory import Memory, WritePort
from amaranth.lib.wiring import In, Out

from .. import spec
from ..spec import RECORD_BITMAP, neuron_bits, src_bits
from .interface import Event

__all__ = ["RecordFeeder", "SpikeCollector"]


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
    best (a bitmap byte's bits lowest first), then its end beat.

    Parameters
    ----------
    n_inputs, n_neurons : int
        The core's geometry (>= 1 each): *n_inputs* bounds the indices, both size the beats.
    max_steps : int
        The most steps a RUN has (``spec.max_run_steps``).

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
    done : Out(1)
        The pass has walked ``steps`` records.
    bad : Out(1)
        The check pass has found a bad record: the first is ``bad_step``.
    bad_step : Out(range(max_steps + 1))
    step_in : Out(stream.Signature(Event(src_bits(n_inputs, n_neurons))))
        The core's step events (feed pass).
    """
    def __init__(self, n_inputs, n_neurons, max_steps):
        _check_positive("n_inputs", n_inputs)
        _check_positive("n_neurons", n_neurons)
        _check_positive("max_steps", max_steps)
        self.n_inputs, self.n_neurons, self.max_steps = n_inputs, n_neurons, max_steps
        self.index_bytes = spec.index_bytes(n_inputs)
        self.bitmap_bytes = spec.bitmap_bytes(n_inputs)
        super().__init__({
            "records":  In(stream.Signature(8)),
            "steps":    In(range(max_steps + 1)),
            "start":    In(1),
            "check":    In(1),
            "feed":     In(1),
            "done":     Out(1),
            "bad":      Out(1),
            "bad_step": Out(range(max_steps + 1)),
            "step_in":  Out(stream.Signature(Event(src_bits(n_inputs, n_neurons)))),
        })

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

    def _feed(self, m, walk):
        """Send the record's next index or its end beat, or take its next byte."""
        records, byte = self.records, self.records.payload
        step_in, beat = self.step_in, self.step_in.payload

        def end_beat():
            m.d.comb += [step_in.valid.eq(1), beat.end.eq(1)]
            with m.If(step_in.ready):
                m.d.sync += [walk.step.eq(walk.step + 1), walk.next.eq(_Next.HEADER)]

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

    Parameters
    ----------
    n_neurons : int
        Neurons (>= 1): the size of the sets.
    max_steps : int
        The most steps a RUN has (``spec.max_run_steps``): their records fit the reply.
    max_payload : int
        The reply buffer's size, a power of two.

    Members
    -------
    spikes : In(stream.Signature(Event(neuron_bits(n_neurons))))
        The core's spike events.
    steps : In(range(max_steps + 1))
        The steps of the RUN.
    start : In(1)
        Collect ``steps`` records into the reply from byte 2 on (after seq and status).
    done : Out(1)
        The records are written (also high before the first start).
    length : Out(range(max_payload + 1))
        The reply's length (when done).
    clearing : Out(1)
        The bitmap memory is being cleared after a reset: do not start.
    reply : In(WritePort.Signature(addr_width=log2(max_payload), shape=8))
        Writes into the reply buffer.
    """
    def __init__(self, n_neurons, max_steps, max_payload):
        _check_positive("n_neurons", n_neurons)
        _check_positive("max_steps", max_steps)
        _check_positive("max_payload", max_payload)
        if max_payload & (max_payload - 1):
            raise ValueError(f"max_payload must be a power of two, not {max_payload}")
        self.n_neurons, self.max_steps, self.max_payload = n_neurons, max_steps, max_payload
        super().__init__({
            "spikes":   In(stream.Signature(Event(neuron_bits(n_neurons)))),
            "steps":    In(range(max_steps + 1)),
            "start":    In(1),
            "done":     Out(1, init=1),
            "length":   Out(range(max_payload + 1)),
            "clearing": Out(1, init=1),
            "reply":    In(WritePort.Signature(addr_width=(max_payload - 1).bit_length(),
                                               shape=8)),
        })

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

        with m.If(self.start):
            m.d.sync += [step.eq(0), rec.eq(2), pos.eq(3), count.eq(0), byte.eq(0),
                         byte_at.eq(0), hi_pending.eq(0), walking.eq(0), self.done.eq(0)]
        with m.If(self.clearing):
            m.d.comb += [bm_wr.addr.eq(k_byte), bm_wr.data.eq(0), bm_wr.en.eq(k != 0)]
            m.d.sync += k.eq(k + 1)
            with m.If(k == bitmap_bytes):
                m.d.sync += self.clearing.eq(0)
        with m.Elif(self.done):
            pass                                # between RUNs
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
                m.d.sync += [walking.eq(0), byte.eq(0), byte_at.eq(0), count.eq(0),
                             step.eq(step + 1)]
                with m.If(~sparse):
                    m.d.sync += [rec.eq(rec + 1 + bitmap_bytes), pos.eq(rec + 2 + bitmap_bytes)]
        with m.Elif(hi_pending):
            m.d.comb += [reply.addr.eq(pos), reply.data.eq(hi), reply.en.eq(1)]
            m.d.sync += [pos.eq(pos + 1), hi_pending.eq(0)]
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
