"""The neuron datapath: step 4 of docs/model.md for one neuron, combinational.

Its golden-model counterpart is ``spikecore.model.neuron_update``.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .. import spec

__all__ = ["NeuronUpdate", "trunc0", "saturate"]

STATE = signed(spec.STATE_BITS)
DECAY = unsigned(spec.DECAY_SHIFT + 1)      # du, dv in [0, 4096]
REF = unsigned(spec.REF_BITS)
W_EXP = unsigned(spec.W_EXP_MAX.bit_length())


def trunc0(value, k):
    """Return ``sign(value) * (|value| >> k)`` (division by 2**k rounding toward zero).

    Adding ``2**k - 1`` to a negative value before the arithmetic shift turns its rounding
    toward minus infinity into rounding toward zero; one adder, no negation.
    """
    return (value + Mux(value < 0, (1 << k) - 1, 0)) >> k


def saturate(value, low, high):
    """Return *value* clipped to [*low*, *high*]."""
    return Mux(value < low, low, Mux(value > high, high, value))


class NeuronUpdate(wiring.Component):
    """Update one leaky integrate-and-fire neuron for one step (docs/model.md, step 4).

    ``u' = sat24(decay(u, du) + (a << w_exp))``. A refractory neuron (``ref > 0``) gets
    ``ref' = ref - 1``, ``v' = 0`` and no spike. Otherwise ``v' = sat24(decay(v, dv) + u' +
    bias)``, ``spike = v' > vth`` (strict), and on a spike ``v' = 0``, ``ref' = t_ref``.
    ``decay(x, d) = trunc0(x * (4096 - d), 12)``. Every intermediate is wide enough that
    nothing wraps before saturation.

    Parameters
    ----------
    acc_width : int
        Width of the signed synaptic input *a* (enough for ``n_sources * 128``).

    Members
    -------
    u, v : In(signed(24))
    ref : In(unsigned(4))
    a : In(signed(acc_width))
        Sum of the delivered sources' weights.
    vth, bias : In(signed(24))
    du, dv : In(unsigned(13))
    t_ref : In(unsigned(4))
    w_exp : In(unsigned(4))
    u_next, v_next : Out(signed(24))
    ref_next : Out(unsigned(4))
    spike : Out(1)
    """
    def __init__(self, acc_width):
        if isinstance(acc_width, bool) or not isinstance(acc_width, int) or acc_width < 2:
            raise ValueError(f"acc_width must be an integer >= 2, not {acc_width!r}")
        self.acc_width = acc_width
        super().__init__({
            "u": In(STATE), "v": In(STATE), "ref": In(REF), "a": In(signed(acc_width)),
            "vth": In(STATE), "bias": In(STATE), "du": In(DECAY), "dv": In(DECAY),
            "t_ref": In(REF), "w_exp": In(W_EXP),
            "u_next": Out(STATE), "v_next": Out(STATE), "ref_next": Out(REF), "spike": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        one = spec.DECAY_ONE
        u_sum = Signal(signed(spec.STATE_BITS + self.acc_width + spec.W_EXP_MAX + 2))
        v_sum = Signal(signed(spec.STATE_BITS + 3))
        v_sat = Signal(STATE)
        m.d.comb += [
            u_sum.eq(trunc0(self.u * (one - self.du), spec.DECAY_SHIFT) + (self.a << self.w_exp)),
            self.u_next.eq(saturate(u_sum, spec.STATE_MIN, spec.STATE_MAX)),
            v_sum.eq(trunc0(self.v * (one - self.dv), spec.DECAY_SHIFT) + self.u_next
                     + self.bias),
            v_sat.eq(saturate(v_sum, spec.STATE_MIN, spec.STATE_MAX)),
        ]
        with m.If(self.ref != 0):
            m.d.comb += [self.ref_next.eq(self.ref - 1), self.v_next.eq(0), self.spike.eq(0)]
        with m.Elif(v_sat > self.vth):
            m.d.comb += [self.ref_next.eq(self.t_ref), self.v_next.eq(0), self.spike.eq(1)]
        with m.Else():
            m.d.comb += [self.ref_next.eq(0), self.v_next.eq(v_sat), self.spike.eq(0)]
        return m
