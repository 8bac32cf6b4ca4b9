"""Step 5 of docs/model.md on the slices of the STDP passes: update each one and write it back.

Each lane's change is a ``SynapseUpdate`` (golden model: ``spikecore.model.stdp_update``).
"""

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .. import spec
from ..spec import Feature
from .checks import check_features, check_lanes
from .control import Settings
from .pipeline import delay_line
from .ports import WriteRequest, XWord, YWord, lane_of
from .stdp import SynapseUpdate, synapse_latency
from .weights import Access

__all__ = ["StdpSlices", "SliceUpdate"]


class StdpSlices(wiring.Signature):
    """The slices of the STDP passes with their traces and masks, seen from the sequencer.

    A row slice holds the synapses ``(j, group·L + l)`` of a delivered source j; a column
    slice the synapses ``(group·L + l, i)`` of a spiking neuron i (lanes ``l``, ``L`` of them).

    Parameters
    ----------
    n_rows, n_neurons, lanes : int
        Sources (padded to a multiple of *lanes*), neurons, lanes.

    Members
    -------
    valid : Out(1)
    col : Out(1)
        A column slice (else a row slice).
    j : Out(range(n_rows))
        The row's source.
    i : Out(range(n_neurons))
        The column's neuron.
    group : Out(range(max(n_rows, n_neurons) // lanes))
        The slice's neuron group (rows) or source group (columns).
    w : Out(ArrayLayout(signed(8), lanes))
    x : Out(ArrayLayout(XWord, lanes))
        The pre-trace word of the row's source (rows) or of the group (columns).
    y : Out(ArrayLayout(YWord, lanes))
        The post-trace word of the group (rows).
    src, dst : Out(ArrayLayout(1, lanes))
        The plasticity mask words read with *x* and with *y* (rows) or the column (columns).
    busy : In(1)
        Updated slices are still on their way to the weights (``SliceUpdate``).
    """
    def __init__(self, n_rows, n_neurons, lanes):
        super().__init__({
            "valid": Out(1), "col": Out(1), "j": Out(range(n_rows)), "i": Out(range(n_neurons)),
            "group": Out(range(max(n_rows, n_neurons) // lanes)),
            "w": Out(data.ArrayLayout(signed(spec.WEIGHT_BITS), lanes)),
            "x": Out(data.ArrayLayout(XWord, lanes)), "y": Out(data.ArrayLayout(YWord, lanes)),
            "src": Out(data.ArrayLayout(1, lanes)), "dst": Out(data.ArrayLayout(1, lanes)),
            "busy": In(1),
        })


class SliceUpdate(wiring.Component):
    """Give each slice of the STDP passes its combined change and write back the plastic lanes.

    Rows (delivered source j): ``SynapseUpdate`` with ``pre = 1`` and ``post`` the neuron's
    ``spiked`` bit, written where ``plastic_src[j] and plastic_dst[i]``. Columns (spiking
    neuron i): LTP only, written where ``plastic_dst[i] and plastic_src[j]`` and j was not
    delivered (its ``hit`` bit; its row had the combined change).

    Parameters
    ----------
    n_rows, n_neurons, lanes : int
        As ``StdpSlices``.
    pipelined : bool
        ``SynapseUpdate``'s: the writes are then made ``latency`` (2, or 4 with SOFT_BOUND)
        clocks after the slice, else in its clock.
    features : spikecore.spec.Feature
        ``SynapseUpdate``'s (X_TAR, SOFT_BOUND).

    Members
    -------
    slices : In(StdpSlices(n_rows, n_neurons, lanes))
    settings : In(Settings)
        ``a_plus``, ``a_minus``, ``x_tar``, ``w_min``, ``w_max`` and ``soft_bound`` are used.
    w_wr : Out(WriteRequest(Access, ArrayLayout(signed(8), lanes), lanes))
    """
    def __init__(self, n_rows, n_neurons, lanes, pipelined=False, features=Feature.all()):
        check_lanes(lanes, n_rows=n_rows, n_neurons=n_neurons)
        if not isinstance(pipelined, bool):
            raise TypeError(f"pipelined must be True or False, not {pipelined!r}")
        self.n_rows, self.n_neurons, self.lanes = n_rows, n_neurons, lanes
        self.pipelined, self.features = pipelined, check_features(features)
        #: Clocks from a slice to its writes.
        self.latency = synapse_latency(pipelined, features)
        super().__init__({
            "slices": In(StdpSlices(n_rows, n_neurons, lanes)), "settings": In(Settings),
            "w_wr": Out(WriteRequest(Access, data.ArrayLayout(signed(spec.WEIGHT_BITS), lanes),
                                     lanes)),
        })

    def elaborate(self, platform):
        m = Module()
        L, lb = self.lanes, ceil_log2(self.lanes)
        slices, settings = self.slices, self.settings
        request = Signal(Access)
        enables = Signal(L)
        x_j, src_j = lane_of(slices.x, slices.j), lane_of(slices.src, slices.j)
        dst_i = lane_of(slices.dst, slices.i)
        for l in range(L):
            m.submodules[f"synapse{l}"] = unit = SynapseUpdate(self.pipelined, self.features)
            m.d.comb += [unit.a_plus.eq(settings.a_plus), unit.a_minus.eq(settings.a_minus),
                         unit.x_tar.eq(settings.x_tar), unit.soft_bound.eq(settings.soft_bound),
                         unit.w_min.eq(settings.w_min), unit.w_max.eq(settings.w_max),
                         unit.w.eq(slices.w[l]), self.w_wr.data[l].eq(unit.w_next)]
            with m.If(slices.col):
                m.d.comb += [unit.x.eq(slices.x[l].trace), unit.y.eq(0), unit.pre.eq(0),
                             unit.post.eq(1),
                             enables[l].eq(slices.valid & dst_i & slices.src[l]
                                           & ~slices.x[l].hit)]
            with m.Else():
                m.d.comb += [unit.x.eq(x_j.trace), unit.y.eq(slices.y[l].trace),
                             unit.pre.eq(1), unit.post.eq(slices.y[l].spiked),
                             enables[l].eq(slices.valid & src_j & slices.dst[l])]
        with m.If(slices.col):
            m.d.comb += [request.col.eq(1), request.j.eq(slices.group << lb),
                         request.i.eq(slices.i)]
        with m.Else():
            m.d.comb += [request.col.eq(0), request.j.eq(slices.j),
                         request.i.eq(slices.group << lb)]
        # The writes wait for the units' results.
        requests = delay_line(m, request, self.latency, "request")
        enable_line = delay_line(m, enables, self.latency, "enables")
        m.d.comb += [self.w_wr.addr.eq(requests[-1]), self.w_wr.en.eq(enable_line[-1]),
                     slices.busy.eq(Cat(enable_line[1:]).any())]
        return m
