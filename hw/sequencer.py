"""The step sequencer: a step's phases, and the slices read for the datapaths in each.

docs/hardware.md, "Step engine", describes the phases and their cycle budget.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .. import spec
from ..spec import neuron_bits, src_bits
from .checks import check_lanes, check_positive
from .control import Settings
from .groups import GroupSlices
from .pipeline import delay_line
from .plasticity import StdpSlices
from .ports import ReadRequest, Task, WriteRequest, XWord, YWord
from .traces import SourceJumps
from .weights import Access

__all__ = ["StepSequencer"]


class StepSequencer(wiring.Component):
    """Run each step's phases: take its inputs, then walk the delivered lists and the groups.

    RECV awaits the ``InputCollector``. ACC reads, group by group, the row slice of every
    delivered source (this step's inputs, then the last step's spikes) for ``GroupUpdate``;
    with the last group's reads (which wait for ``PreTraceDecay``) the delivered sources'
    pre-traces jump (``PreTraceJump``). Learning on: ROW reads the delivered rows and COL
    the spiking neurons' columns, with their traces and masks, for ``SliceUpdate``. FINISH
    awaits the passes that run alongside: the spike list and output and ``PostTraceJump``.

    A walk is a pipeline: stage 0 reads the lists, stage 1 the weights, and stage 2 gets the
    slice *read_latency* clocks later (the traces and masks are read a clock before it).

    Parameters
    ----------
    n_inputs, n_neurons, lanes : int
        The core's geometry.
    read_latency : int
        The weight store's.
    alternate : bool
        The weight banks are single-port: ROW and COL read a slice every other clock (it is
        written in the clock between).

    Members
    -------
    waiting : In(1)
        A beat waits on ``step_in``: a step is to start.
    ctl_busy : In(1)
        A control command executes: no step starts.
    idle : Out(1)
        No step is running.
    settings : In(Settings)
        ``enabled`` is used.
    counting : Out(1)
        This clock counts in ``cycles``.
    stepped : Out(1)
        A pulse: a step ends.
    forget : In(1)
        Forget the last step's spikes (``CONTROL.RESET``).
    parity : Out(1)
        The half of ``sl_mem`` that holds this step's spike list.
    received : In(range(n_inputs + 1))
        This step's inputs (``InputCollector.count``).
    spikes : In(range(n_neurons + 1))
        This step's spikes listed so far (``SpikeLister.count``).
    out_stalled : In(1)
        A beat on ``spike_out`` waits to be taken.
    collector, pre_decay, lister, emitter, post_jump : Out(Task)
        ``InputCollector`` (RECV), ``PreTraceDecay`` (started with ACC), ``SpikeLister`` and
        ``SpikeEmitter`` (started after ACC), ``PostTraceJump`` (started after ROW, which
        reads the post-traces).
    groups : Out(GroupSlices(n_neurons // lanes, lanes))
    slices : Out(StdpSlices(n_rows, n_neurons, lanes))
        ``n_rows``: ``n_inputs + n_neurons`` rounded up to a multiple of *lanes*.
    pre_jump : Out(SourceJumps(n_rows, lanes))
    dl_rd, in_wr : Out(ReadRequest(...)), Out(WriteRequest(...))
        This step's inputs, and their flags (cleared as ACC reads the list).
    slp_rd, slc_rd : Out(ReadRequest(range(2 << neuron_bits), neuron_bits))
        The last step's spike list (delivered now), this step's (its columns).
    w_rd, x_rd, y_rd, psrc_rd, pdst_rd : Out(ReadRequest(...))
        The weight slices, the pre- and post-trace words, the plasticity mask words.
    """
    def __init__(self, n_inputs, n_neurons, lanes, read_latency=1, alternate=False):
        check_positive(n_inputs=n_inputs, read_latency=read_latency)
        check_lanes(lanes, n_neurons=n_neurons)
        self.n_inputs, self.n_neurons, self.lanes = n_inputs, n_neurons, lanes
        self.read_latency, self.alternate = read_latency, alternate
        L, G, HS = lanes, n_neurons // lanes, -(-(n_inputs + n_neurons) // lanes)
        nb, sb = neuron_bits(n_neurons), src_bits(n_inputs, n_neurons)
        super().__init__({
            "waiting": In(1), "ctl_busy": In(1), "idle": Out(1), "settings": In(Settings),
            "counting": Out(1), "stepped": Out(1), "forget": In(1),
            "parity": Out(1), "spikes": In(range(n_neurons + 1)), "out_stalled": In(1),
            "collector": Out(Task()), "received": In(range(n_inputs + 1)),
            "pre_decay": Out(Task()), "lister": Out(Task()), "emitter": Out(Task()),
            "post_jump": Out(Task()),
            "groups": Out(GroupSlices(G, L)), "slices": Out(StdpSlices(HS * L, n_neurons, L)),
            "dl_rd": Out(ReadRequest(range(n_inputs), unsigned(sb))),
            "in_wr": Out(WriteRequest(range(n_inputs), 1)),
            "slp_rd": Out(ReadRequest(range(2 << nb), unsigned(nb))),
            "slc_rd": Out(ReadRequest(range(2 << nb), unsigned(nb))),
            "w_rd": Out(ReadRequest(Access, data.ArrayLayout(signed(spec.WEIGHT_BITS), L))),
            "x_rd": Out(ReadRequest(range(HS), data.ArrayLayout(XWord, L))),
            "pre_jump": Out(SourceJumps(HS * L, L)),
            "y_rd": Out(ReadRequest(range(G), data.ArrayLayout(YWord, L))),
            "psrc_rd": Out(ReadRequest(range(HS), data.ArrayLayout(1, L))),
            "pdst_rd": Out(ReadRequest(range(G), data.ArrayLayout(1, L))),
        })

    def elaborate(self, platform):
        m = Module()
        n_in, N, L = self.n_inputs, self.n_neurons, self.lanes
        S, G, HS = n_in + N, N // L, -(-(n_in + N) // L)
        lb, nb, RL = ceil_log2(L), neuron_bits(N), self.read_latency
        groups, slices = self.groups, self.slices
        dl_rd, slp_rd, x_rd, w_rd = self.dl_rd, self.slp_rd, self.x_rd, self.w_rd

        n_e = self.received                 # this step's external inputs (entries of dl_mem)
        n_sprev = Signal(range(N + 1))      # the last step's spikes
        n_d = Signal(range(S + 1))          # delivered sources
        m.d.comb += n_d.eq(n_e + n_sprev)
        half = Signal()                     # single-port banks: the clock between two reads
        issue_ok = ~half if self.alternate else Const(1)

        # The walks' pipeline: stage 0 (list entry k0, group g0), 1, and 2 (RL clocks later).
        k0 = Signal(range(max(S, N) + 1))
        g0 = Signal(range(max(G, HS) + 1))
        p1_valid, p1_from_in, p1_last = (Signal(name=f"p1_{name}")
                                         for name in ("valid", "from_in", "last"))
        p1_g = Signal.like(g0)
        p1_j = Signal(range(HS * L))        # stage 1: source (rows)
        p1_i = Signal(range(N))             # stage 1: neuron (columns)
        valid_line = delay_line(m, p1_valid, RL, "p_valid")
        g_line = delay_line(m, p1_g, RL, "p_g")
        j_line = delay_line(m, p1_j, RL, "p_j")
        i_line = delay_line(m, p1_i, RL, "p_i")
        p2_valid, p2_g, p2_j, p2_i = valid_line[-1], g_line[-1], j_line[-1], i_line[-1]
        p2_last = delay_line(m, p1_last, RL, "p_last")[-1]
        p2_from_in = delay_line(m, p1_from_in, RL, "p_from_in")[-1]
        pipe_busy = Cat(valid_line).any()   # a slice is still on its way through stage 2
        m.d.comb += [groups.last.eq(p2_last), groups.group.eq(p2_g), groups.dummy.eq(n_d == 0),
                     groups.rec.eq(~p2_from_in),
                     groups.w.eq(w_rd.data),
                     slices.j.eq(p2_j), slices.i.eq(p2_i), slices.group.eq(p2_g),
                     slices.w.eq(w_rd.data), slices.x.eq(x_rd.data),
                     slices.y.eq(self.y_rd.data), slices.src.eq(self.psrc_rd.data),
                     slices.dst.eq(self.pdst_rd.data), self.pre_jump.j.eq(p2_j),
                     self.pre_jump.x.eq(x_rd.data)]

        def read_rows():
            """Stages 0 and 1 of ACC and ROW: read entry k0 of the delivered sources (inputs,
            then the last step's spikes), then the row slice of group p1_g of its source."""
            m.d.comb += [dl_rd.en.eq(1), dl_rd.addr.eq(k0), slp_rd.en.eq(1),
                         slp_rd.addr.eq(Cat((k0 - n_e)[:nb], ~self.parity)),
                         p1_j.eq(Mux(p1_from_in, dl_rd.data, n_in + slp_rd.data)),
                         w_rd.en.eq(1), w_rd.addr.col.eq(0), w_rd.addr.j.eq(p1_j),
                         w_rd.addr.i.eq(p1_g << lb)]
            m.d.sync += p1_from_in.eq(k0 < n_e)

        def walk(count, inner):
            """Stage 0 of ROW and COL: entries below *count*, *inner* groups each."""
            issuing = (k0 < count) & issue_ok
            m.d.sync += [half.eq(~half), p1_valid.eq(issuing), p1_g.eq(g0)]
            with m.If(issuing):
                with m.If(g0 == inner - 1):
                    m.d.sync += [g0.eq(0), k0.eq(k0 + 1)]
                with m.Else():
                    m.d.sync += g0.eq(g0 + 1)
            m.d.comb += [slices.valid.eq(p2_valid), self.counting.eq(1)]
            return (k0 == count) & ~pipe_busy & ~slices.busy     # the walk is done

        def read_traces(x_addr, dst_addr):
            """Stage 2 − 1: read the x and mask words that go with the slice."""
            m.d.comb += [x_rd.en.eq(1), x_rd.addr.eq(x_addr),
                         self.psrc_rd.en.eq(1), self.psrc_rd.addr.eq(x_addr),
                         self.pdst_rd.en.eq(1), self.pdst_rd.addr.eq(dst_addr)]

        with m.FSM(name="step") as fsm:
            with m.State("IDLE"):
                with m.If(self.waiting & ~self.ctl_busy):
                    m.d.comb += self.collector.start.eq(1)
                    m.next = "RECV"

            # The input beats taken count, then the clock after the end beat.
            with m.State("RECV"):
                m.d.comb += self.counting.eq(~self.collector.busy | self.waiting)
                with m.If(~self.collector.busy):
                    m.d.comb += self.pre_decay.start.eq(1)
                    m.d.sync += [k0.eq(0), g0.eq(0), p1_valid.eq(0), half.eq(0)]
                    m.next = "ACC"

            # Each group g in turn gets max(n_d, 1) slices (a dummy one when nothing is
            # delivered). The first group's list reads clear the input flags; the last
            # group's wait for the decay pass and make the pre-traces jump.
            with m.State("ACC"):
                m.d.comb += self.counting.eq(1)
                last_k = Mux(n_d == 0, 0, n_d - 1)
                issuing = (g0 < G) & ~((g0 == G - 1) & self.pre_decay.busy)
                read_rows()
                with m.If(issuing):
                    with m.If(k0 == last_k):
                        m.d.sync += [k0.eq(0), g0.eq(g0 + 1)]
                    with m.Else():
                        m.d.sync += k0.eq(k0 + 1)
                m.d.sync += [p1_valid.eq(issuing), p1_g.eq(g0), p1_last.eq(k0 == last_k)]
                m.d.comb += [self.in_wr.addr.eq(p1_j),
                             self.in_wr.en.eq(p1_valid & p1_from_in & (p1_g == 0))]
                with m.If(~self.pre_decay.busy):
                    m.d.comb += [x_rd.en.eq(1), x_rd.addr.eq(j_line[RL - 1] >> lb)]
                m.d.comb += [groups.valid.eq(p2_valid),
                             self.pre_jump.valid.eq(p2_valid & (p2_g == G - 1) & (n_d != 0))]
                with m.If(groups.done):
                    rows = self.settings.enabled & (n_d != 0)
                    m.d.comb += [self.lister.start.eq(1), self.emitter.start.eq(1),
                                 self.post_jump.start.eq(~rows)]    # else after ROW
                    m.d.sync += [k0.eq(0), g0.eq(0)]
                    with m.If(rows):
                        m.next = "ROW"
                    with m.Elif(self.settings.enabled):
                        m.next = "COL_WAIT"
                    with m.Else():
                        m.next = "FINISH"

            # The rows of the delivered sources, with the traces and masks of x and y.
            with m.State("ROW"):
                done = walk(n_d, G)
                read_rows()
                read_traces(j_line[RL - 1] >> lb, g_line[RL - 1])
                m.d.comb += [self.y_rd.en.eq(1), self.y_rd.addr.eq(g_line[RL - 1])]
                with m.If(done):
                    m.d.comb += self.post_jump.start.eq(1)
                    m.d.sync += [k0.eq(0), g0.eq(0), half.eq(0)]
                    m.next = "COL_WAIT"

            with m.State("COL_WAIT"):
                m.d.comb += self.counting.eq(1)
                with m.If(~self.lister.busy):
                    m.next = "COL"

            # The columns of this step's spiking neurons, with the x traces and masks.
            with m.State("COL"):
                done = walk(self.spikes, HS)
                m.d.comb += [self.slc_rd.en.eq(1), p1_i.eq(self.slc_rd.data),
                             self.slc_rd.addr.eq(Cat(k0[:nb], self.parity)),
                             w_rd.en.eq(1), w_rd.addr.col.eq(1), w_rd.addr.j.eq(p1_g << lb),
                             w_rd.addr.i.eq(p1_i), slices.col.eq(1)]
                read_traces(g_line[RL - 1], i_line[RL - 1] >> lb)
                with m.If(done):
                    m.next = "FINISH"

            # The post-traces and the spike output; a stalled output is the receiver's time.
            with m.State("FINISH"):
                m.d.comb += self.counting.eq(~(~self.post_jump.busy & self.out_stalled))
                with m.If(~self.post_jump.busy & ~self.emitter.busy):
                    m.d.comb += self.stepped.eq(1)
                    m.d.sync += [n_sprev.eq(self.spikes), self.parity.eq(~self.parity)]
                    m.next = "IDLE"
        with m.If(self.forget):
            m.d.sync += n_sprev.eq(0)
        m.d.comb += self.idle.eq(fsm.ongoing("IDLE"))
        return m
