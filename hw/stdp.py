"""The synapse update of the STDP engine: step 5 of docs/model.md for one synapse.

Its golden-model counterpart is ``spikecore.model.stdp_update`` (for a single synapse).
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .. import spec
from .fixed import clip_w
from .pipeline import register

__all__ = ["SynapseUpdate"]

WEIGHT = signed(spec.WEIGHT_BITS)
TRACE = unsigned(spec.TRACE_BITS)


class SynapseUpdate(wiring.Component):
    """Compute the combined, once-clipped STDP change of one synapse (j, i).

    ``w' = clip_w(w + post·((x·a_plus) >> 8) − pre·((y·a_minus) >> 8))`` where *x* is the
    source's pre-trace, *y* the neuron's post-trace (both as they are after step 2), *pre*
    says source j was delivered this step and *post* that neuron i spiked. The caller writes
    ``w_next`` back only for plastic synapses touched this step (``pre or post``).

    Parameters
    ----------
    latency : int
        0: combinational. 2: a pipeline taking one synapse a clock, ``w_next`` belonging to
        the inputs presented two clocks earlier (inputs registered, then the two products),
        for clocks where the weight memory, the multiplies and the clipping do not fit one
        period. *a_plus*, *a_minus*, *w_min* and *w_max* are settings and are not delayed.

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

    def __init__(self, latency=0):
        if latency not in (0, 2):
            raise ValueError(f"latency must be 0 or 2, not {latency!r}")
        self.latency = latency
        super().__init__()

    def elaborate(self, platform):
        m = Module()

        def stage(value, name):
            return register(m, value, name) if self.latency else value

        w1, x1, y1 = stage(self.w, "w1"), stage(self.x, "x1"), stage(self.y, "y1")
        pre1, post1 = stage(self.pre, "pre1"), stage(self.post, "post1")
        ltp = stage(Mux(post1, (x1 * self.a_plus) >> spec.LEARN_SHIFT, 0), "ltp2")
        ltd = stage(Mux(pre1, (y1 * self.a_minus) >> spec.LEARN_SHIFT, 0), "ltd2")
        w2 = stage(w1, "w2")
        total = Signal(signed(spec.WEIGHT_BITS + 3))
        m.d.comb += [
            total.eq(w2 + ltp - ltd),
            self.w_next.eq(clip_w(total, self.w_min, self.w_max)),
        ]
        return m
