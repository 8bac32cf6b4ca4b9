"""The traces' steps: the pre-traces' decay and jumps, and the post-traces' jumps.

Golden-model counterparts: ``spikecore.model.trace_decay`` (step 2 for x) and ``sat8u``
(step 2 for the delivered sources' x, ``x ← sat8u(x + x_imp)``, and step 6 for the spiking
neurons' y, ``y ← sat8u(y + y_imp)``). The post-traces decay in ``GroupUpdate``.
"""

from amaranth.hdl import Cat, Const, Module, Signal, unsigned
from amaranth.utils import ceil_log2
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .. import spec
from .checks import check_lanes, check_positive
from .fixed import sat8u, trace_decay
from .ports import ReadRequest, Task, WriteRequest, XWord, YWord, lane_of

__all__ = ["PreTraceDecay", "SourceJumps", "PreTraceJump", "PostTraceJump"]

TRACE = unsigned(spec.TRACE_BITS)
RATE = range(spec.TRACE_DECAY_ONE + 1)


class PreTraceDecay(wiring.Component):
    """Decay every pre-trace of the x memory once and clear its ``hit`` bit, a word a clock.

    ``x ← trace_decay(x, rate)`` for each of the *groups* words of *lanes* sources. A word is
    read, its read registered (off the multiplier's path), decayed, and written: the task is
    busy for ``groups + 4`` clocks.

    Parameters
    ----------
    groups : int
        Words of the x memory (source groups).
    lanes : int
        Sources a word.

    Members
    -------
    task : In(Task)
    rate : In(range(257))
        The decay factor (``x_decay``), held during the pass.
    x_rd : Out(ReadRequest(range(groups), ArrayLayout(XWord, lanes)))
    x_wr : Out(WriteRequest(range(groups), ArrayLayout(XWord, lanes), lanes))
    """
    def __init__(self, groups, lanes):
        check_positive(groups=groups, lanes=lanes)
        self.groups, self.lanes = groups, lanes
        word = data.ArrayLayout(XWord, lanes)
        super().__init__({
            "task": In(Task()), "rate": In(RATE),
            "x_rd": Out(ReadRequest(range(groups), word)),
            "x_wr": Out(WriteRequest(range(groups), word, lanes)),
        })

    def elaborate(self, platform):
        m = Module()
        HS, L = self.groups, self.lanes
        run = Signal()
        h = Signal(range(HS + 1))                       # the word read next
        # Pipeline: a word read (1), registered (2), decayed (3), written.
        valid1, valid2, valid3 = (Signal(name=f"valid{n}") for n in (1, 2, 3))
        h1, h2, h3 = (Signal(range(HS), name=f"h{n}") for n in (1, 2, 3))
        traces = [Signal(TRACE, name=f"x{l}") for l in range(L)]
        decayed = [Signal(TRACE, name=f"decayed{l}") for l in range(L)]
        with m.If(run):
            with m.If(h < HS):
                m.d.comb += [self.x_rd.en.eq(1), self.x_rd.addr.eq(h)]
                m.d.sync += [h.eq(h + 1), h1.eq(h)]
            m.d.sync += [valid1.eq(h < HS), valid2.eq(valid1), valid3.eq(valid2),
                         h2.eq(h1), h3.eq(h2)]
            m.d.sync += [trace.eq(self.x_rd.data[l].trace) for l, trace in enumerate(traces)]
            m.d.sync += [decayed[l].eq(trace_decay(trace, self.rate))
                         for l, trace in enumerate(traces)]
            with m.If(valid3):
                m.d.comb += [self.x_wr.data[l].trace.eq(value) for l, value in enumerate(decayed)]
                m.d.comb += [self.x_wr.addr.eq(h3), self.x_wr.en.eq(Const((1 << L) - 1, L))]
            with m.If((h == HS) & ~valid1 & ~valid2 & ~valid3):
                m.d.sync += run.eq(0)
        with m.If(self.task.start):
            m.d.sync += [run.eq(1), h.eq(0), valid1.eq(0), valid2.eq(0), valid3.eq(0)]
        m.d.comb += self.task.busy.eq(run)
        return m


class SourceJumps(wiring.Signature):
    """The delivered sources whose pre-traces jump, seen from the sequencer that reads them.

    Parameters
    ----------
    n_rows, lanes : int
        Sources (a multiple of *lanes*) and sources a word of the x memory.

    Members
    -------
    valid : Out(1)
        Source *j* jumps; *x* is its word (read the clock before).
    j : Out(range(n_rows))
    x : Out(ArrayLayout(XWord, lanes))
    """
    def __init__(self, n_rows, lanes):
        super().__init__({"valid": Out(1), "j": Out(range(n_rows)),
                          "x": Out(data.ArrayLayout(XWord, lanes))})


class PreTraceJump(wiring.Component):
    """Make a delivered source's pre-trace jump: ``x ← sat8u(x + impulse)``, ``hit ← 1``.

    The word *x* of source *j* arrives with *valid*; the source's lane is written back in
    the same clock. The whole word is written with the new value, the other lanes disabled.

    Parameters
    ----------
    n_rows, lanes : int
        As ``SourceJumps``.

    Members
    -------
    jumps : In(SourceJumps(n_rows, lanes))
    impulse : In(unsigned(8))
        The jump (``x_imp``).
    x_wr : Out(WriteRequest(range(n_rows // lanes), ArrayLayout(XWord, lanes), lanes))
    """
    def __init__(self, n_rows, lanes):
        check_lanes(lanes, n_rows=n_rows)
        self.n_rows, self.lanes = n_rows, lanes
        super().__init__({
            "jumps": In(SourceJumps(n_rows, lanes)), "impulse": In(TRACE),
            "x_wr": Out(WriteRequest(range(n_rows // lanes), data.ArrayLayout(XWord, lanes),
                                     lanes)),
        })

    def elaborate(self, platform):
        m = Module()
        L, lb = self.lanes, ceil_log2(self.lanes)
        j = self.jumps.j
        with m.If(self.jumps.valid):
            jumped = sat8u(lane_of(self.jumps.x, j).trace + self.impulse)
            m.d.comb += [self.x_wr.addr.eq(j >> lb),
                         self.x_wr.en.eq(Const(1, L) << (j[:lb] if lb else 0))]
            m.d.comb += [self.x_wr.data[l].trace.eq(jumped) for l in range(L)]
            m.d.comb += [self.x_wr.data[l].hit.eq(1) for l in range(L)]
        return m


class PostTraceJump(wiring.Component):
    """Make the post-trace of every neuron that spiked jump: ``y ← sat8u(y + impulse)``.

    A word of *lanes* neurons a clock: read it, then write the lanes whose ``spiked`` bit is
    set (``spiked`` stays set). The task is busy for ``groups + 2`` clocks.

    Parameters
    ----------
    groups : int
        Words of the y memory (neuron groups).
    lanes : int
        Neurons a word.

    Members
    -------
    task : In(Task)
    impulse : In(unsigned(8))
        The jump (``y_imp``), held during the pass.
    y_rd : Out(ReadRequest(range(groups), ArrayLayout(YWord, lanes)))
    y_wr : Out(WriteRequest(range(groups), ArrayLayout(YWord, lanes), lanes))
    """
    def __init__(self, groups, lanes):
        check_positive(groups=groups, lanes=lanes)
        self.groups, self.lanes = groups, lanes
        word = data.ArrayLayout(YWord, lanes)
        super().__init__({
            "task": In(Task()), "impulse": In(TRACE),
            "y_rd": Out(ReadRequest(range(groups), word)),
            "y_wr": Out(WriteRequest(range(groups), word, lanes)),
        })

    def elaborate(self, platform):
        m = Module()
        G, L = self.groups, self.lanes
        run = Signal()
        g = Signal(range(G + 1))                        # the word read next
        valid1 = Signal()                               # a word was read last clock,
        g1 = Signal(range(G))                           # this one
        with m.If(run):
            with m.If(g < G):
                m.d.comb += [self.y_rd.en.eq(1), self.y_rd.addr.eq(g)]
                m.d.sync += [g.eq(g + 1), g1.eq(g)]
            m.d.sync += valid1.eq(g < G)
            with m.If(valid1):
                for l in range(L):
                    m.d.comb += [
                        self.y_wr.data[l].trace.eq(sat8u(self.y_rd.data[l].trace + self.impulse)),
                        self.y_wr.data[l].spiked.eq(1),
                    ]
                m.d.comb += [self.y_wr.addr.eq(g1),
                             self.y_wr.en.eq(Cat(self.y_rd.data[l].spiked for l in range(L)))]
            with m.If((g == G) & ~valid1):
                m.d.sync += run.eq(0)
        with m.If(self.task.start):
            m.d.sync += [run.eq(1), g.eq(0), valid1.eq(0)]
        m.d.comb += self.task.busy.eq(run)
        return m
