"""The synapse update of the STDP engine: step 5 of docs/model.md for one synapse.

Its golden-model counterpart is ``spikecore.model.stdp_update`` (for a single synapse).
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .. import spec
from .neuron import saturate

__all__ = ["SynapseUpdate"]

WEIGHT = signed(spec.WEIGHT_BITS)
TRACE = unsigned(spec.TRACE_BITS)


class SynapseUpdate(wiring.Component):
    """Compute the combined, once-clipped STDP change of one synapse (j, i).

    ``w' = clip_w(w + post·((x·a_plus) >> 8) − pre·((y·a_minus) >> 8))`` where *x* is the
    source's pre-trace, *y* the neuron's post-trace (both as they are after step 2), *pre*
    says source j was delivered this step and *post* that neuron i spiked. The caller writes
    ``w_next`` back only for plastic synapses touched this step (``pre or post``).

    Members
    -------
    w : In(signed(8))
    x, y : In(unsigned(8))
    pre, post : In(1)
    a_plus, a_minus : In(unsigned(8))
    w_min, w_max : In(signed(8))
    w_next : Out(signed(8))
    """
    w: In(WEIGHT)
    x: In(TRACE)
    y: In(TRACE)
    pre: In(1)
    post: In(1)
    a_plus: In(TRACE)
    a_minus: In(TRACE)
    w_min: In(WEIGHT)
    w_max: In(WEIGHT)
    w_next: Out(WEIGHT)

    def elaborate(self, platform):
        m = Module()
        ltp = Signal(TRACE)
        ltd = Signal(TRACE)
        total = Signal(signed(spec.WEIGHT_BITS + 3))
        m.d.comb += [
            ltp.eq((self.x * self.a_plus) >> spec.LEARN_SHIFT),
            ltd.eq((self.y * self.a_minus) >> spec.LEARN_SHIFT),
            total.eq(self.w + Mux(self.post, ltp, 0) - Mux(self.pre, ltd, 0)),
            self.w_next.eq(saturate(total, self.w_min, self.w_max)),
        ]
        return m
