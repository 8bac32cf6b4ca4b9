"""A step's spikes: listed in increasing order, streamed out, and counted.

The spike list ``sl_mem`` holds two lists of ``2 ** neuron_bits`` entries: the half
*parity* is this step's (being written), the other the last step's (delivered now).
"""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .. import spec
from ..spec import neuron_bits
from .checks import check_lanes, check_positive
from .interface import Event
from .ports import ReadRequest, Task, WriteRequest

__all__ = ["SpikeLister", "SpikeEmitter", "SpikeCounter", "COUNT", "lowest_set"]

COUNT = unsigned(spec.COUNT_BITS)


def lowest_set(m, bits):
    """Return a signal holding the index of the lowest set bit of *bits* (0 if none)."""
    width = len(bits)
    index = Signal(range(max(width, 2)))
    for bit in reversed(range(width)):
        with m.If(bits[bit]):
            m.d.comb += index.eq(bit)
    return index


class SpikeLister(wiring.Component):
    """List this step's spikes, in increasing neuron order, into the spike list's half *parity*.

    It reads the spike bits group by group (``s_mem``, *lanes* neurons a word) and writes
    one spike a clock: the task is busy for 1 + spikes + groups without spikes clocks.

    Parameters
    ----------
    n_neurons : int
    lanes : int
        Neurons a word of ``s_mem``: a power of two dividing *n_neurons*.

    Members
    -------
    task : In(Task)
    parity : In(1)
    count : Out(range(n_neurons + 1))
        Spikes listed so far: entries ``0 … count − 1`` are written. Kept until the next start.
    s_rd : Out(ReadRequest(range(n_neurons // lanes), lanes))
    sl_wr : Out(WriteRequest(range(2 << neuron_bits), neuron_bits))
    """
    def __init__(self, n_neurons, lanes):
        check_lanes(lanes, n_neurons=n_neurons)
        self.n_neurons, self.lanes = n_neurons, lanes
        nb = neuron_bits(n_neurons)
        super().__init__({
            "task": In(Task()), "parity": In(1), "count": Out(range(n_neurons + 1)),
            "s_rd": Out(ReadRequest(range(n_neurons // lanes), lanes)),
            "sl_wr": Out(WriteRequest(range(2 << nb), unsigned(nb))),
        })

    def elaborate(self, platform):
        m = Module()
        N, L = self.n_neurons, self.lanes
        G, lb, nb = N // L, ceil_log2(L), neuron_bits(N)
        run = Signal()
        g = Signal(range(G))                # the group whose spikes are in mask
        mask = Signal(L)                    # its spikes not listed yet
        fresh = Signal(init=1)              # no group loaded yet: the next advance loads g
        advance = Signal()                  # load the next group into mask
        # s_mem is read ahead: its address is the group that the next advance loads.
        m.d.comb += [self.s_rd.en.eq(1),
                     self.s_rd.addr.eq(Mux(fresh, g, g + 1) + advance)]
        with m.If(run):
            low = lowest_set(m, mask)
            rest = mask & (mask - 1)
            with m.If(mask != 0):
                m.d.comb += [self.sl_wr.addr.eq(Cat(self.count[:nb], self.parity)),
                             self.sl_wr.data.eq(Cat(low[:lb], g) if lb else g),
                             self.sl_wr.en.eq(1)]
                m.d.sync += [self.count.eq(self.count + 1), mask.eq(rest)]
                m.d.comb += advance.eq(rest == 0)
            with m.Else():
                m.d.comb += advance.eq(1)
            with m.If(advance):
                m.d.sync += [mask.eq(self.s_rd.data), fresh.eq(0)]
                with m.If(~fresh):
                    m.d.sync += g.eq(g + 1)
                    with m.If(g == G - 1):
                        # Done: ready for the next step (s_mem word 0 is being read).
                        m.d.sync += [run.eq(0), g.eq(0), fresh.eq(1), mask.eq(0)]
        with m.If(self.task.start):
            m.d.sync += [run.eq(1), self.count.eq(0)]
        m.d.comb += self.task.busy.eq(run)
        return m


class SpikeEmitter(wiring.Component):
    """Stream the spike list's half *parity* out on *spike_out*, then the end beat.

    One spike a clock, each entry read once the lister has written it; a beat is held until
    it is taken (nothing is dropped). The end beat follows when the lister is done and every
    entry has gone.

    Parameters
    ----------
    n_neurons : int

    Members
    -------
    task : In(Task)
        Busy until the end beat has been taken.
    parity : In(1)
    count : In(range(n_neurons + 1))
        Entries the lister has written (``SpikeLister.count``).
    listed : In(1)
        The lister is done (read only once this task has started).
    sle_rd : Out(ReadRequest(range(2 << neuron_bits), neuron_bits))
    spike_out : Out(stream.Signature(Event(neuron_bits)))
    """
    def __init__(self, n_neurons):
        check_positive(n_neurons=n_neurons)
        self.n_neurons = n_neurons
        nb = neuron_bits(n_neurons)
        super().__init__({
            "task": In(Task()), "parity": In(1), "count": In(range(n_neurons + 1)),
            "listed": In(1),
            "sle_rd": Out(ReadRequest(range(2 << nb), unsigned(nb))),
            "spike_out": Out(stream.Signature(Event(nb))),
        })

    def elaborate(self, platform):
        m = Module()
        nb = neuron_bits(self.n_neurons)
        out = self.spike_out
        run = Signal()
        entry = Signal(range(self.n_neurons + 1))      # the entry on spike_out (or next)
        primed = Signal()                              # it has been read: spike_out is valid
        with m.FSM():
            with m.State("IDLE"):
                m.d.sync += primed.eq(0)
                with m.If(run):
                    m.next = "SEND"
            with m.State("SEND"):
                # The entry for the next clock is read as this one is taken.
                take = out.valid & out.ready
                addr = Signal.like(entry)
                m.d.comb += [addr.eq(Mux(take, entry + 1, entry)),
                             self.sle_rd.en.eq(1),
                             self.sle_rd.addr.eq(Cat(addr[:nb], self.parity)),
                             out.valid.eq(primed), out.payload.index.eq(self.sle_rd.data)]
                m.d.sync += [entry.eq(addr), primed.eq(addr < self.count)]
                with m.If(~primed & self.listed & (entry == self.count)):
                    m.next = "END"
            with m.State("END"):
                m.d.comb += [out.valid.eq(1), out.payload.end.eq(1)]
                with m.If(out.ready):
                    m.d.sync += run.eq(0)
                    m.next = "IDLE"
        with m.If(self.task.start):
            m.d.sync += [run.eq(1), entry.eq(0)]
        m.d.comb += self.task.busy.eq(run)
        return m


class SpikeCounter(wiring.Component):
    """Count each neuron's spikes: ``count[i] ← min(count[i] + 1, COUNT_MAX)`` (model step 6).

    Each spike on *spikes* (the lister's, one a clock at most, each neuron at most once a
    step) is a read of ``count_mem`` in its clock and a write of the count plus one,
    saturated, in the next; nothing waits for it. *clear* zeroes every count, one a clock:
    busy for *n_neurons* clocks.

    Parameters
    ----------
    n_neurons : int

    Members
    -------
    spikes : In(stream.Signature(neuron_bits, always_ready=True))
        The neurons that spike (``SpikeLister``'s entries as it writes them).
    clear : In(Task)
    count_rd, count_wr : Out(ReadRequest(range(n_neurons), 16)), Out(WriteRequest(...))
        ``count_mem``, a count per neuron.
    """
    def __init__(self, n_neurons):
        check_positive(n_neurons=n_neurons)
        self.n_neurons = n_neurons
        super().__init__({
            "spikes": In(stream.Signature(unsigned(neuron_bits(n_neurons)), always_ready=True)),
            "clear": In(Task()),
            "count_rd": Out(ReadRequest(range(n_neurons), COUNT)),
            "count_wr": Out(WriteRequest(range(n_neurons), COUNT)),
        })

    def elaborate(self, platform):
        m = Module()
        N = self.n_neurons
        counted = Signal()                          # a count read in the last clock to write
        index = Signal(neuron_bits(N))              # its neuron; the count being cleared
        clearing = Signal()
        m.d.comb += [self.count_rd.en.eq(self.spikes.valid),
                     self.count_rd.addr.eq(self.spikes.payload)]
        m.d.sync += [counted.eq(self.spikes.valid), index.eq(self.spikes.payload)]
        count = self.count_rd.data
        with m.If(counted):
            m.d.comb += [self.count_wr.addr.eq(index), self.count_wr.en.eq(1),
                         self.count_wr.data.eq(Mux(count == spec.COUNT_MAX, count, count + 1))]
        with m.If(clearing):
            m.d.comb += [self.count_wr.addr.eq(index), self.count_wr.en.eq(1),
                         self.count_wr.data.eq(0)]
            m.d.sync += index.eq(index + 1)
            with m.If(index == N - 1):
                m.d.sync += clearing.eq(0)
        with m.If(self.clear.start):
            m.d.sync += [clearing.eq(1), index.eq(0)]
        m.d.comb += self.clear.busy.eq(clearing)
        return m
