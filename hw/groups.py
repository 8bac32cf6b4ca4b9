"""Steps 3 and 4 of docs/model.md for a group of ``lanes`` neurons at a time.

The sequencer streams each group's weight row slices; the group's sums then enter ``lanes``
``NeuronUpdate`` pipelines (golden model: ``spikecore.model.neuron_update``), and the results
go back to the state memories with the post-traces decayed (``spikecore.model.trace_decay``).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .. import spec
from ..spec import Feature
from .checks import check_features, check_lanes, check_positive
from .control import Settings
from .fixed import trace_decay
from .neuron import NeuronUpdate
from .pipeline import delay_line, register
from .ports import ReadRequest, WriteRequest, neuron_words

__all__ = ["GroupSlices", "GroupUpdate"]

TRACE = unsigned(spec.TRACE_BITS)


class GroupSlices(wiring.Signature):
    """The weight row slices of each neuron group, seen from the sequencer that sends them.

    Each group gets one slice per delivered source, the last one marked.

    Parameters
    ----------
    groups, lanes : int
        Neuron groups and neurons a group.

    Members
    -------
    valid : Out(1)
        A slice is on *w*.
    last : Out(1)
        It is the group's last.
    group : Out(range(groups))
    dummy : Out(1)
        Nothing is delivered this step: the (single) slice of each group counts as zero.
    rec : Out(1)
        The slice's source is a neuron (else an input).
    w : Out(ArrayLayout(signed(8), lanes))
    done : In(1)
        A pulse: the last group's results are written (``GroupUpdate.done``).
    """
    def __init__(self, groups, lanes):
        super().__init__({
            "valid": Out(1), "last": Out(1), "group": Out(range(groups)), "dummy": Out(1),
            "rec": Out(1), "w": Out(data.ArrayLayout(signed(spec.WEIGHT_BITS), lanes)), "done": In(1),
        })


class GroupUpdate(wiring.Component):
    """Sum each neuron group's slices and update the group's neurons; write back their state.

    The sums are kept by source kind, inputs (``a_in``) and neurons (``a_rec``; with
    ``Feature.W_EXP_REC``, else one sum). A group enters ``lanes`` ``NeuronUpdate`` pipelines
    the clock after its last slice (one group a clock can enter) and its results are written
    ``neuron_latency`` clocks later: u, v, ref, theta (with ``Feature.THETA``), the spike bits
    (into ``s_mem``, and as ``spiked`` with the post-trace) and the post-traces decayed
    (``y ← trace_decay(y, y_decay)``). Each memory is read as late
    as its value is needed (``NeuronUpdate.delays``), so no register carries it.

    Parameters
    ----------
    n_sources, n_neurons, lanes : int
        The core's geometry (the sums are wide enough for *n_sources* weights).
    neuron_latency : int
        One of ``NeuronUpdate.LATENCIES``.
    features : spikecore.spec.Feature
        Those of the neuron units (THETA, W_EXP_REC).

    Members
    -------
    slices : In(GroupSlices(n_neurons // lanes, lanes))
    settings : In(Settings)
        ``w_exp``, ``w_exp_rec``, ``enabled``, ``th_imp``, ``th_shift`` and ``y_decay`` are used.
    u_rd, v_rd, ref_rd, y_rd, vth_rd, bias_rd, du_rd, dv_rd, t_ref_rd : Out(ReadRequest(...))
        Words of ``lanes`` values by group (and theta_rd with THETA).
    u_wr, v_wr, ref_wr, y_wr : Out(WriteRequest(...))
        (and theta_wr with THETA)
    s_wr : Out(WriteRequest(range(n_neurons // lanes), lanes))
        The group's spike bits.
    """
    def __init__(self, n_sources, n_neurons, lanes, neuron_latency=6, features=Feature.all()):
        check_positive(n_sources=n_sources)
        check_lanes(lanes, n_neurons=n_neurons)
        if neuron_latency not in NeuronUpdate.LATENCIES:
            raise ValueError(f"neuron_latency must be one of {NeuronUpdate.LATENCIES}, "
                             f"not {neuron_latency!r}")
        self.n_sources, self.n_neurons, self.lanes = n_sources, n_neurons, lanes
        self.neuron_latency = neuron_latency
        self.features = check_features(features)
        self.acc_width = spec.WEIGHT_BITS + n_sources.bit_length() + 1
        G = n_neurons // lanes
        members = {"slices": In(GroupSlices(G, lanes)), "settings": In(Settings)}
        for name, shape in neuron_words(features).items():
            word = data.ArrayLayout(shape, lanes)
            members[f"{name}_rd"] = Out(ReadRequest(range(G), word))
            if name in ("u", "v", "ref", "y", "theta"):
                members[f"{name}_wr"] = Out(WriteRequest(range(G), word, lanes))
        members["s_wr"] = Out(WriteRequest(range(G), lanes))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        L, G = self.lanes, self.n_neurons // self.lanes
        slices, settings = self.slices, self.settings
        theta = Feature.THETA in self.features
        units = []
        for l in range(L):
            m.submodules[f"neuron{l}"] = unit = NeuronUpdate(self.acc_width, self.neuron_latency,
                                                             self.features)
            units.append(unit)
        latency, delays = units[0].latency, units[0].delays

        # The sums, by source kind: a group's totals are held for its neurons as the next
        # group starts. Without W_EXP_REC every source goes into the inputs' sum.
        kinds = ("in", "rec") if Feature.W_EXP_REC in self.features else ("in",)
        total = {kind: [Signal(signed(self.acc_width), name=f"total_{kind}{l}")
                        for l in range(L)] for kind in kinds}
        enter = Signal()                        # the group `group` enters the pipelines
        group = Signal(range(G))
        for kind in kinds:
            skip = slices.dummy                 # a slice of the other kind adds nothing
            if len(kinds) > 1:
                skip = skip | (~slices.rec if kind == "rec" else slices.rec)
            for l in range(L):
                acc = Signal(signed(self.acc_width), name=f"acc_{kind}{l}")
                added = acc + Mux(skip, 0, slices.w[l])
                with m.If(slices.valid):
                    with m.If(slices.last):
                        m.d.sync += [total[kind][l].eq(added), acc.eq(0)]
                    with m.Else():
                        m.d.sync += acc.eq(added)
        with m.If(slices.valid & slices.last):
            m.d.sync += group.eq(slices.group)
        m.d.sync += enter.eq(slices.valid & slices.last)

        # Reads: the inputs needed as a group enters are addressed with its last slice, the
        # others `delay` clocks after it enters; y is decayed in two clocks on the way out.
        reads = {"du": 0, "dv": 0, "u": 0, "v": 0, "bias": delays["bias"], "vth": delays["vth"],
                 "t_ref": delays["t_ref"], "ref": delays["ref"], "y": latency - 2}
        if theta:
            reads["theta"] = delays["theta"]
        group_line = delay_line(m, group, latency, "group")
        for name, delay in reads.items():
            rd = getattr(self, f"{name}_rd")
            if delay == 0:
                with m.If(slices.valid & slices.last):
                    m.d.comb += [rd.en.eq(1), rd.addr.eq(slices.group)]
            else:
                m.d.comb += [rd.en.eq(1), rd.addr.eq(group_line[delay - 1])]
        y_next = []
        for l in range(L):
            y_in = register(m, self.y_rd.data[l].trace, f"y_in{l}")
            y_next.append(register(m, trace_decay(y_in, settings.y_decay), f"y_decayed{l}",
                                   TRACE))

        # The results, `latency` clocks after the group entered.
        out = delay_line(m, enter, latency, "out")[-1]
        out_group = group_line[-1]
        for l, unit in enumerate(units):
            m.d.comb += [
                unit.u.eq(self.u_rd.data[l]), unit.v.eq(self.v_rd.data[l]),
                unit.ref.eq(self.ref_rd.data[l]), unit.a_in.eq(total["in"][l]),
                unit.vth.eq(self.vth_rd.data[l]), unit.bias.eq(self.bias_rd.data[l]),
                unit.du.eq(self.du_rd.data[l]), unit.dv.eq(self.dv_rd.data[l]),
                unit.t_ref.eq(self.t_ref_rd.data[l]), unit.w_exp.eq(settings.w_exp),
                unit.w_exp_rec.eq(settings.w_exp_rec), unit.adapt.eq(settings.enabled),
                unit.th_imp.eq(settings.th_imp), unit.th_shift.eq(settings.th_shift),
                self.u_wr.data[l].eq(unit.u_next), self.v_wr.data[l].eq(unit.v_next),
                self.ref_wr.data[l].eq(unit.ref_next),
                self.y_wr.data[l].trace.eq(y_next[l]), self.y_wr.data[l].spiked.eq(unit.spike),
            ]
            if "rec" in total:
                m.d.comb += unit.a_rec.eq(total["rec"][l])
            if theta:
                m.d.comb += [unit.theta.eq(self.theta_rd.data[l]),
                             self.theta_wr.data[l].eq(unit.theta_next)]
        m.d.comb += [self.s_wr.data.eq(Cat(unit.spike for unit in units)),
                     self.s_wr.addr.eq(out_group)]
        writes = [self.u_wr, self.v_wr, self.ref_wr, self.y_wr]
        if theta:
            writes.append(self.theta_wr)
        with m.If(out):
            for wr in writes:
                m.d.comb += [wr.addr.eq(out_group), wr.en.eq(Const((1 << L) - 1, L))]
            m.d.comb += self.s_wr.en.eq(1)
        m.d.sync += slices.done.eq(out & (out_group == G - 1))
        return m
