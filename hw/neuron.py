"""The neuron datapath: step 4 of docs/model.md for one neuron a clock, pipelined.

Its golden-model counterpart is ``spikecore.model.neuron_update``.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .. import spec
from .pipeline import register

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

    The unit is a pipeline that takes one neuron a clock: the outputs belong to the inputs
    presented ``LATENCY`` clocks earlier (a multiply, or a few adds, or a saturation per
    stage, so the update does not bound the clock). The inputs used only late in the update
    are presented late, ``DELAYS[name]`` clocks after the others (*bias* 1, *vth*, *t_ref*
    and *ref* ``LATENCY - 1``), so that they need no pipeline registers: a memory holding
    them is read that much later.

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
    #: Clocks from inputs to outputs.
    LATENCY = 6
    #: Clocks after the other inputs at which these are presented.
    DELAYS = {"bias": 1, "vth": LATENCY - 1, "t_ref": LATENCY - 1, "ref": LATENCY - 1}

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
        shift = spec.DECAY_SHIFT
        product = signed(spec.STATE_BITS + shift + 2)
        scaled = signed(self.acc_width + spec.W_EXP_MAX)

        def stage(name, value, shape=None):
            return register(m, value, name, shape)

        # 1: the inputs, with the decay factors 4096 - d.
        s1 = {name: stage(f"{name}1", getattr(self, name)) for name in ("u", "v", "a", "w_exp")}
        ku, kv = stage("ku1", one - self.du), stage("kv1", one - self.dv)

        def partial_products(name, x, k):
            """Return x·k summed from two registered products, x's signed high half times k and
            its unsigned low half times k: each multiplier sits directly between registers."""
            high = stage(f"{name}_high2", x[shift:].as_signed() * k)
            low = stage(f"{name}_low2", x[:shift] * k)
            return (high << shift) + low

        # 2: the decay products (in halves) and the scaled input.
        pu = partial_products("pu", s1["u"], ku)
        pv = partial_products("pv", s1["v"], kv)
        a2 = stage("a2", s1["a"] << s1["w_exp"], scaled)
        bias2 = stage("bias2", self.bias)                       # presented a clock late
        # 3: the products summed; u before saturation; v's decay plus bias (its sum with u'
        # comes next).
        u_sum = stage("u_sum3", trunc0(pu, shift) + a2,
                      signed(max(product.width - shift, scaled.width) + 1))
        vb = stage("vb3", trunc0(pv, shift) + bias2, signed(spec.STATE_BITS + 2))
        # 4: u' saturated.
        u_next = stage("u_next4", saturate(u_sum, spec.STATE_MIN, spec.STATE_MAX), STATE)
        vb4 = stage("vb4", vb)
        # 5: v before saturation.
        v_sum = stage("v_sum5", vb4 + u_next, signed(spec.STATE_BITS + 3))
        u5 = stage("u_next5", u_next)
        # 6: v' saturated.
        v_sat = stage("v_sat6", saturate(v_sum, spec.STATE_MIN, spec.STATE_MAX), STATE)
        u6 = stage("u_next6", u5)
        s6 = {name: stage(f"{name}6", getattr(self, name))     # presented LATENCY - 1 late
              for name in ("ref", "vth", "t_ref")}
        # Out: the threshold and the refractory counter.
        m.d.comb += self.u_next.eq(u6)
        with m.If(s6["ref"] != 0):
            m.d.comb += [self.ref_next.eq(s6["ref"] - 1), self.v_next.eq(0), self.spike.eq(0)]
        with m.Elif(v_sat > s6["vth"]):
            m.d.comb += [self.ref_next.eq(s6["t_ref"]), self.v_next.eq(0), self.spike.eq(1)]
        with m.Else():
            m.d.comb += [self.ref_next.eq(0), self.v_next.eq(v_sat), self.spike.eq(0)]
        return m
