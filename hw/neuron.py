"""The neuron datapath: step 4 of docs/model.md for one neuron a clock, pipelined.

Its golden-model counterpart is ``spikecore.model.neuron_update``.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .. import spec
from ..spec import Feature
from .checks import check_features
from .fixed import sat24, theta_decay, trunc0
from .pipeline import register

__all__ = ["NeuronUpdate"]

STATE = signed(spec.STATE_BITS)
DECAY = unsigned(spec.DECAY_SHIFT + 1)      # du, dv in [0, 4096]
REF = unsigned(spec.REF_BITS)
W_EXP = unsigned(spec.W_EXP_MAX.bit_length())
THETA = unsigned(spec.THETA_MAX.bit_length())
TH_IMP = unsigned(spec.TH_IMP_MAX.bit_length())
TH_SHIFT = range(spec.TH_SHIFT_MAX + 1)


class NeuronUpdate(wiring.Component):
    """Update one leaky integrate-and-fire neuron for one step (docs/model.md, step 4).

    With *adapt* (learning enabled) ``theta_d = theta − (theta >> th_shift)``, else
    ``theta_d = theta``. ``u' = sat24(decay(u, du) + (a_in << w_exp) + (a_rec << w_exp_rec))``.
    A refractory neuron (``ref > 0``) gets ``ref' = ref - 1``, ``v' = 0`` and no spike.
    Otherwise ``v' = sat24(decay(v, dv) + u' + bias)``, ``spike = v' > vth + theta_d``
    (strict), and on a spike ``v' = 0``, ``ref' = t_ref``. ``theta' = min(theta_d + th_imp,
    THETA_MAX)`` on a spike with *adapt*, else ``theta_d``. ``decay(x, d) = trunc0(x * (4096 -
    d), 12)``. Every intermediate is wide enough that nothing wraps before saturation.

    The unit is a pipeline that takes one neuron a clock: the outputs belong to the inputs
    presented ``latency`` clocks earlier. The inputs used only late in the update are
    presented late, ``delays[name]`` clocks after the others, so that they need no pipeline
    registers: a memory holding them is read that much later.

    Parameters
    ----------
    acc_width : int
        Width of the signed synaptic input *a* (enough for ``n_sources * 128``).
    latency : int
        One of ``LATENCIES``. 6: a multiply, or a few adds, or a saturation per stage, so
        that the update does not bound the clock (the ECP5 boards' 54 MHz); *bias* is
        presented 1 clock late, *vth*, *t_ref* and *ref* 5. 2: the products, then the rest
        of the update in one stage, for slow clocks where flip-flops are dear (the iCE40's
        12 MHz); *bias*, *vth*, *t_ref* and *ref* are presented 1 clock late.
        *theta* is presented a clock before *vth* (its decay has a stage of its own, its sum
        with *vth* another).
    features : spikecore.spec.Feature
        THETA: the adaptive threshold (else *theta* is 0 and its ports unused). W_EXP_REC:
        *a_rec* scaled by *w_exp_rec* (else the unit takes ``a_in << w_exp`` only: the caller
        sums every source into *a_in*).

    Members
    -------
    u, v : In(signed(24))
    ref : In(unsigned(4))
    a_in, a_rec : In(signed(acc_width))
        Sums of the delivered sources' weights: input sources, neuron sources.
    vth, bias : In(signed(24))
    du, dv : In(unsigned(13))
    t_ref : In(unsigned(4))
    w_exp, w_exp_rec : In(unsigned(4))
    theta : In(unsigned(23))
    adapt : In(1)
        Learning is enabled: theta decays, and grows on a spike.
    th_imp : In(unsigned(16))
    th_shift : In(range(25))
    u_next, v_next : Out(signed(24))
    ref_next : Out(unsigned(4))
    theta_next : Out(unsigned(23))
    spike : Out(1)
    """
    #: The pipeline depths the unit comes in.
    LATENCIES = (6, 2)

    def __init__(self, acc_width, latency=6, features=Feature.all()):
        if isinstance(acc_width, bool) or not isinstance(acc_width, int) or acc_width < 2:
            raise ValueError(f"acc_width must be an integer >= 2, not {acc_width!r}")
        if isinstance(latency, bool) or not isinstance(latency, int) \
                or latency not in self.LATENCIES:
            raise ValueError(f"latency must be one of {self.LATENCIES}, not {latency!r}")
        self.acc_width, self.latency = acc_width, latency
        self.features = check_features(features)
        late = latency - 1
        #: Clocks after the other inputs at which these are presented.
        self.delays = {"bias": 1, "vth": late, "t_ref": late, "ref": late, "theta": late - 1}
        super().__init__({
            "u": In(STATE), "v": In(STATE), "ref": In(REF),
            "a_in": In(signed(acc_width)), "a_rec": In(signed(acc_width)),
            "vth": In(STATE), "bias": In(STATE), "du": In(DECAY), "dv": In(DECAY),
            "t_ref": In(REF), "w_exp": In(W_EXP), "w_exp_rec": In(W_EXP),
            "theta": In(THETA), "adapt": In(1), "th_imp": In(TH_IMP), "th_shift": In(TH_SHIFT),
            "u_next": Out(STATE), "v_next": Out(STATE), "ref_next": Out(REF),
            "theta_next": Out(THETA), "spike": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        shift = spec.DECAY_SHIFT
        split = Feature.W_EXP_REC in self.features
        # (a_in << w_exp) + (a_rec << w_exp_rec)
        scaled = signed(self.acc_width + spec.W_EXP_MAX + split)
        u_sum_shape = signed(max(spec.STATE_BITS + 2, scaled.width) + 1)

        def scaled_input(a_in, w_exp, a_rec, w_exp_rec):
            return (a_in << w_exp) + (a_rec << w_exp_rec) if split else a_in << w_exp

        def stage(name, value, shape=None):
            return register(m, value, name, shape)

        def partial_products(name, x, k):
            """Return x·k summed from two registered products, x's signed high half times k and
            its unsigned low half times k: each multiplier sits directly between registers
            (without reset, so that a DSP block's output register can be them)."""
            high = register(m, x[shift:].as_signed() * k, f"{name}_high", reset_less=True)
            low = register(m, x[:shift] * k, f"{name}_low", reset_less=True)
            return (high << shift) + low

        if self.latency == 6:
            # 1: the inputs, with the decay factors 4096 - d.
            s1 = {name: stage(f"{name}1", getattr(self, name))
                  for name in ("u", "v", "a_in", "w_exp") + split * ("a_rec", "w_exp_rec")}
            ku = stage("ku1", spec.DECAY_ONE - self.du)
            kv = stage("kv1", spec.DECAY_ONE - self.dv)
            # 2: the decay products (in halves) and the scaled input.
            pu = partial_products("pu2", s1["u"], ku)
            pv = partial_products("pv2", s1["v"], kv)
            a2 = stage("a2", scaled_input(s1["a_in"], s1["w_exp"], s1.get("a_rec"),
                                          s1.get("w_exp_rec")), scaled)
            bias2 = stage("bias2", self.bias)                   # presented a clock late
            # 3: the products summed; u before saturation; v's decay plus bias (its sum with
            # u' comes next).
            u_sum = stage("u_sum3", trunc0(pu, shift) + a2, u_sum_shape)
            vb = stage("vb3", trunc0(pv, shift) + bias2, signed(spec.STATE_BITS + 2))
            # 4: u' saturated.
            u_next = stage("u_next4", sat24(u_sum), STATE)
            vb4 = stage("vb4", vb)
            # 5: v before saturation.
            v_sum = stage("v_sum5", vb4 + u_next, signed(spec.STATE_BITS + 3))
            u5 = stage("u_next5", u_next)
            # 6: v' saturated.
            v_sat = stage("v_sat6", sat24(v_sum), STATE)
            u_out = stage("u_next6", u5)
        else:
            # 1: the decay products (in halves) and the scaled input.
            pu = partial_products("pu1", self.u, spec.DECAY_ONE - self.du)
            pv = partial_products("pv1", self.v, spec.DECAY_ONE - self.dv)
            a1 = stage("a1", scaled_input(self.a_in, self.w_exp, self.a_rec, self.w_exp_rec),
                       scaled)
            # 2: the rest, bias presented a clock late.
            u_sum = Signal(u_sum_shape)
            u_new = Signal(STATE)
            v_sum = Signal(signed(spec.STATE_BITS + 3))
            m.d.comb += [u_sum.eq(trunc0(pu, shift) + a1),
                         u_new.eq(sat24(u_sum)),
                         v_sum.eq(trunc0(pv, shift) + self.bias + u_new)]
            u_out = stage("u_next2", u_new)
            v_sat = stage("v_sat2", sat24(v_sum), STATE)
        late = {name: stage(f"{name}{self.latency}", getattr(self, name))
                for name in ("ref", "t_ref")}
        if Feature.THETA in self.features:
            # Presented a clock before vth: decayed, then (as vth comes) the threshold and
            # the value after a spike, both registered.
            theta_d = stage(f"theta_d{self.latency - 1}",
                            Mux(self.adapt, theta_decay(self.theta, self.th_shift), self.theta))
            threshold = stage(f"threshold{self.latency}", self.vth + theta_d,
                              unsigned(spec.STATE_BITS + 1))
            sum_ = theta_d + self.th_imp
            theta_up = stage(f"theta_up{self.latency}",
                             Mux(sum_ > spec.THETA_MAX, spec.THETA_MAX, sum_), THETA)
            theta_kept = stage(f"theta_d{self.latency}", theta_d)
            adapt = stage(f"adapt{self.latency}", self.adapt)
        else:
            threshold = stage(f"vth{self.latency}", self.vth)
        # Out: the threshold and the refractory counter.
        m.d.comb += self.u_next.eq(u_out)
        with m.If(late["ref"] != 0):
            m.d.comb += [self.ref_next.eq(late["ref"] - 1), self.v_next.eq(0),
                         self.spike.eq(0)]
        with m.Elif(v_sat > threshold):
            m.d.comb += [self.ref_next.eq(late["t_ref"]), self.v_next.eq(0), self.spike.eq(1)]
        with m.Else():
            m.d.comb += [self.ref_next.eq(0), self.v_next.eq(v_sat), self.spike.eq(0)]
        if Feature.THETA in self.features:
            m.d.comb += self.theta_next.eq(Mux(self.spike & adapt, theta_up, theta_kept))
        return m
