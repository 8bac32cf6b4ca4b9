"""The synapse update of the STDP engine: step 5 of docs/model.md for one synapse.

Its golden-model counterpart is ``spikecore.model.stdp_update`` (for a single synapse).
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .. import spec
from ..spec import Feature
from .checks import check_features
from .fixed import clip_w, trunc0
from .pipeline import register

__all__ = ["SynapseUpdate", "synapse_latency"]

WEIGHT = signed(spec.WEIGHT_BITS)
TRACE = range(spec.TRACE_MAX + 1)


def synapse_latency(pipelined, features):
    """Return the clocks from a synapse's inputs to its ``w_next`` (``SynapseUpdate``)."""
    return (4 if Feature.SOFT_BOUND in features else 2) if pipelined else 0


class SynapseUpdate(wiring.Component):
    """Compute the combined, once-clipped STDP change of one synapse (j, i).

    ``w' = clip_w(w + post·p − pre·((y·a_minus) >> 8))`` where *x* is the source's pre-trace,
    *y* the neuron's post-trace (both as they are after step 2), *pre* says source j was
    delivered this step and *post* that neuron i spiked. The potentiation, with
    ``d = (x − x_tar)·a_plus``, is ``p = trunc0(d, 8)``, or with *soft_bound*
    ``p = trunc0(trunc0(d·f, 7), 8) = trunc0(d·f, 15)`` (rounding toward zero twice is rounding
    toward zero once), ``f = w_max − w`` if ``d > 0`` else ``w − w_min``. The caller writes
    ``w_next`` back only for plastic synapses touched this step (``pre or post``).

    Parameters
    ----------
    pipelined : bool
        False: combinational (``latency`` 0). True: a pipeline taking one synapse a clock,
        ``w_next`` belonging to the inputs presented ``latency`` clocks earlier: 2 (inputs
        registered, then the products), 4 with ``Feature.SOFT_BOUND`` (then ``d·f``, then the
        sum before its clip), for clocks where the weight memory, the multiplies and the
        clipping do not fit one period.
        The settings are not delayed.
    features : spikecore.spec.Feature
        X_TAR: *x_tar* is used (else 0). SOFT_BOUND: *soft_bound* is used (else off), one
        more multiplier.

    Members
    -------
    w : In(signed(8))
    x, y : In(unsigned(8))
    pre, post : In(1)
    a_plus, a_minus, x_tar : In(unsigned(8))
    w_min, w_max : In(signed(8))
    soft_bound : In(1)
    w_next : Out(signed(8))
    """
    w: In(WEIGHT)
    x: In(TRACE)
    y: In(TRACE)
    pre: In(1)
    post: In(1)
    a_plus: In(TRACE)
    a_minus: In(TRACE)
    x_tar: In(TRACE)
    w_min: In(WEIGHT)
    w_max: In(WEIGHT)
    soft_bound: In(1)
    w_next: Out(WEIGHT)

    def __init__(self, pipelined=False, features=Feature.all()):
        if not isinstance(pipelined, bool):
            raise TypeError(f"pipelined must be True or False, not {pipelined!r}")
        self.pipelined = pipelined
        self.features = check_features(features)
        self.latency = synapse_latency(pipelined, features)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        soft = Feature.SOFT_BOUND in self.features

        def stage(value, name, shape=None):
            return register(m, value, name, shape) if self.pipelined else value

        x_tar = self.x_tar if Feature.X_TAR in self.features else 0
        # 1: the inputs, the pre-trace relative to its target.
        w1, y1 = stage(self.w, "w1"), stage(self.y, "y1")
        xd1 = stage((self.x - x_tar).as_signed(), "xd1")
        pre1, post1 = stage(self.pre, "pre1"), stage(self.post, "post1")
        depression = Mux(pre1, (y1 * self.a_minus) >> spec.LEARN_SHIFT, 0)
        total = signed(spec.WEIGHT_BITS + 3)
        if soft:
            # 2: d, and the room left toward the bound that d points at.
            d2 = stage(xd1 * self.a_plus, "d2")
            f2 = stage(Mux(xd1 > 0, self.w_max - w1, w1 - self.w_min), "f2")
            w2, post2, ltd2 = stage(w1, "w2"), stage(post1, "post2"), stage(depression, "ltd2")
            # 3: the product d·f.
            df3, d3 = stage(d2 * f2, "df3"), stage(d2, "d3")
            w3, post3, ltd3 = stage(w2, "w3"), stage(post2, "post3"), stage(ltd2, "ltd3")
            # 4: the potentiation, soft or not, and the weight's sum before its clip.
            potentiation = Mux(self.soft_bound,
                               trunc0(df3, spec.SOFT_SHIFT + spec.LEARN_SHIFT),
                               trunc0(d3, spec.LEARN_SHIFT))
            ltp = Mux(post3, potentiation, 0)
            w_sum = stage(w3 + ltp - ltd3, "sum4", total)
        else:
            # 2: the products.
            ltp = stage(Mux(post1, trunc0(xd1 * self.a_plus, spec.LEARN_SHIFT), 0), "ltp2")
            w_last, ltd = stage(w1, "w2"), stage(depression, "ltd2")
            w_sum = w_last + ltp - ltd
        clipped = Signal(total)
        m.d.comb += [clipped.eq(w_sum), self.w_next.eq(clip_w(clipped, self.w_min, self.w_max))]
        return m
