"""cocotb testbenches of the core's combinational blocks against the golden model.

``NeuronUpdate`` (hw/neuron.py) against ``spikecore.model.neuron_update`` and
``SynapseUpdate`` (hw/stdp.py) against ``spikecore.model.stdp_update`` on one synapse: first
hand-derived cases whose expected values a reader can check on paper, then seeded random ones.
``TB_PARAMS`` (JSON): ``block`` ("neuron" or "synapse"), ``seed``, ``count``.
"""

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer

from spikecore import model, spec
from spikecore.network import Learning

PARAMS = json.loads(os.environ.get("TB_PARAMS", "{}"))
MAX, MIN = spec.STATE_MAX, spec.STATE_MIN

#: What the v1 cases leave at the v2 defaults.
V1 = dict(a_rec=0, w_exp_rec=0, theta=0, adapt=0, th_imp=0, th_shift=24)


def v1(**inputs):
    """A v1 case: ``a`` is ``a_in``, the v2 inputs at their defaults."""
    inputs["a_in"] = inputs.pop("a")
    return {**V1, **inputs}


def v2(base, **changes):
    """*base* (a v1 case's inputs) with v2 inputs changed."""
    return {**base, **changes}


#: (inputs, expected (u', v', ref', theta', spike), why) — each checkable by hand.
NEURON_CASES = [
    (v1(u=0, v=0, ref=0, a=10, w_exp=2, du=0, dv=0, bias=0, vth=100, t_ref=0),
     (40, 40, 0, 0, 0), "input scaled by 2**w_exp, no decay"),
    (v1(u=-7, v=0, ref=0, a=0, w_exp=0, du=2048, dv=0, bias=0, vth=100, t_ref=0),
     (-3, -3, 0, 0, 0), "u·(4096−2048)/4096 = −3.5 rounds toward zero to −3, not −4"),
    (v1(u=7, v=0, ref=0, a=0, w_exp=0, du=2048, dv=0, bias=0, vth=100, t_ref=0),
     (3, 3, 0, 0, 0), "+3.5 rounds toward zero to 3"),
    (v1(u=0, v=-4095, ref=0, a=0, w_exp=0, du=0, dv=1, bias=0, vth=100, t_ref=0),
     (0, -4094, 0, 0, 0), "−4095·4095/4096 = −4094.0002 → −4094"),
    (v1(u=1000, v=1000, ref=0, a=0, w_exp=0, du=4096, dv=4096, bias=0, vth=100, t_ref=0),
     (0, 0, 0, 0, 0), "du = dv = 4096 forget everything"),
    (v1(u=MAX, v=MAX, ref=0, a=1, w_exp=0, du=0, dv=0, bias=0, vth=MAX, t_ref=0),
     (MAX, MAX, 0, 0, 0), "u and v saturate at 2**23 − 1; v == vth does not spike"),
    (v1(u=MIN, v=MIN, ref=0, a=-1, w_exp=0, du=0, dv=0, bias=MIN, vth=0, t_ref=0),
     (MIN, MIN, 0, 0, 0), "u and v saturate at −2**23"),
    (v1(u=0, v=0, ref=0, a=-1000, w_exp=15, du=0, dv=0, bias=0, vth=0, t_ref=0),
     (MIN, MIN, 0, 0, 0), "−1000·2**15 saturates"),
    (v1(u=0, v=99, ref=0, a=1, w_exp=0, du=0, dv=0, bias=0, vth=100, t_ref=5),
     (1, 100, 0, 0, 0), "v = 99 + 1 = 100 == vth: no spike"),
    (v1(u=0, v=100, ref=0, a=1, w_exp=0, du=0, dv=0, bias=0, vth=100, t_ref=5),
     (1, 0, 5, 0, 1), "v = 101 > 100 spikes: v ← 0, ref ← t_ref"),
    (v1(u=50, v=500, ref=3, a=2, w_exp=1, du=0, dv=0, bias=7, vth=0, t_ref=9),
     (54, 0, 2, 0, 0), "refractory: u integrates, ref counts down, v held at 0, no spike"),
    (v1(u=0, v=0, ref=0, a=0, w_exp=0, du=0, dv=0, bias=-5, vth=0, t_ref=0),
     (0, -5, 0, 0, 0), "bias alone drives v negative"),
]
_QUIET = v1(u=0, v=0, ref=0, a=0, w_exp=0, du=0, dv=0, bias=0, vth=10, t_ref=0)
# v2: the split input and the adaptive threshold (docs/model.md's worked examples).
NEURON_CASES += [
    (v2(_QUIET, a_in=10, a_rec=-3, w_exp_rec=4, du=4096, dv=4096, vth=1000),
     (-38, -38, 0, 0, 0), "10 << 0 plus −3 << 4: u = −38"),
    (v2(_QUIET, theta=1000, adapt=1, th_shift=1), (0, 0, 0, 500, 0), "theta 1000 − 500"),
    (v2(_QUIET, theta=1000, adapt=1, th_shift=24), (0, 0, 0, 1000, 0), "theta >> 24 = 0"),
    (v2(_QUIET, theta=7, adapt=1, th_shift=2), (0, 0, 0, 6, 0), "7 − (7 >> 2) = 6"),
    (v2(_QUIET, theta=1000, adapt=0, th_shift=1, th_imp=5), (0, 0, 0, 1000, 0),
     "learning off: theta frozen"),
    (v2(_QUIET, bias=MAX, vth=0, theta=MAX - 10, adapt=1, th_imp=100), (0, 0, 0, MAX, 1),
     "v = 2**23 − 1 > theta: spike; theta + 100 saturates at 2**23 − 1"),
    (v2(_QUIET, u=MAX, v=MAX, bias=MAX, vth=MAX, theta=MAX), (MAX, MAX, 0, MAX, 0),
     "vth + theta = 2**24 − 2: no spike possible"),
    (v2(_QUIET, v=150, vth=100, theta=50, adapt=1, th_imp=3), (0, 150, 0, 50, 0),
     "v == vth + theta: no spike"),
    (v2(_QUIET, v=151, vth=100, theta=50, adapt=1, th_imp=3), (0, 0, 0, 53, 1),
     "v = vth + theta + 1: spike, theta + 3"),
    (v2(_QUIET, v=500, ref=2, vth=0, theta=64, adapt=1, th_imp=3, th_shift=3),
     (0, 0, 1, 56, 0), "refractory: theta decays (64 − 8), no spike, no increment"),
]

#: (w, x, y, pre, post, a_plus, a_minus, w_min, w_max, x_tar, soft_bound, expected, why)
SYNAPSE_CASES = [
    (10, 128, 0, 0, 1, 64, 0, -128, 127, 0, 0, 42, "LTP: (128·64) >> 8 = 32"),
    (10, 0, 200, 1, 0, 0, 64, -128, 127, 0, 0, -40, "LTD: (200·64) >> 8 = 50"),
    (0, 100, 50, 1, 1, 200, 100, -128, 127, 0, 0, 59, "both: +78 − 19, one combined change"),
    (120, 128, 0, 0, 1, 64, 0, -128, 127, 0, 0, 127, "clipped to w_max"),
    (120, 128, 0, 0, 1, 64, 0, -128, 50, 0, 0, 50, "clipped to a lower w_max"),
    (10, 0, 255, 1, 0, 0, 255, -128, 127, 0, 0, -128, "10 − 254 clipped to w_min"),
    (-60, 0, 255, 1, 0, 0, 255, -64, 127, 0, 0, -64, "clipped to w_min = −64"),
    (-128, 255, 255, 1, 1, 255, 255, -128, 127, 0, 0, -128, "+254 − 254 = 0 change"),
    (5, 1, 0, 0, 1, 255, 0, -128, 127, 0, 0, 5, "(1·255) >> 8 = 0: too small to change"),
    # v2: the target pre-trace, soft bounds (docs/model.md's worked examples).
    (0, 80, 0, 0, 1, 32, 0, -128, 127, 59, 0, 2, "x above x_tar: trunc0(21·32, 8) = 2"),
    (0, 40, 0, 0, 1, 32, 0, -128, 127, 59, 0, -2, "x below x_tar: trunc0(−608, 8) = −2"),
    (0, 59, 0, 0, 1, 32, 0, -128, 127, 59, 0, 0, "x == x_tar: no change"),
    (13, 255, 0, 0, 1, 128, 0, -63, 63, 0, 1, 62, "soft, d > 0: f = 50, +49"),
    (63, 255, 0, 0, 1, 128, 0, -63, 63, 0, 1, 63, "soft at w_max: f = 0"),
    (13, 0, 0, 0, 1, 128, 0, -63, 63, 255, 1, -62, "soft, d < 0: f = 76, −75"),
    (-63, 0, 0, 0, 1, 128, 0, -63, 63, 255, 1, -63, "soft at w_min: f = 0"),
    (-100, 0, 0, 0, 1, 128, 0, -63, 63, 255, 1, -63, "f = −37 < 0: +36, clipped to −63"),
    (13, 255, 0, 0, 1, 0, 0, -63, 63, 0, 1, 13, "soft with a_plus 0: d = 0"),
    (13, 255, 200, 1, 1, 128, 64, -63, 63, 0, 1, 12, "soft LTP +49 and LTD −50 combined"),
]

def set_inputs(dut, **values):
    for name, value in values.items():
        getattr(dut, name).value = int(value)


def start_clock(dut, latency):
    """Start the clock of a pipelined block (*latency* > 0; a combinational one has none)."""
    if latency:
        Clock(dut.clk, 10, unit="ns").start()
        dut.rst.value = 0


async def check_stream(dut, cases, latency, read, delays=None):
    """Present ``cases`` ((inputs, expected, why) each) and compare ``read(dut)`` with each
    expected value: at once for a combinational block (*latency* 0), else one case a clock,
    each result *latency* clocks after its inputs (which checks one-a-clock throughput); an
    input named in *delays* is presented that many clocks after the case's others.
    The caller starts the clock (``start_clock``)."""
    delays = delays or {}
    if latency == 0:
        for inputs, expected, why in cases:
            set_inputs(dut, **inputs)
            await Timer(1, unit="ns")
            got = read(dut)
            assert got == expected, f"{why}: {inputs} gave {got}, expected {expected}"
        return
    for t in range(len(cases) + latency - 1):
        for name in cases[0][0]:
            case = t - delays.get(name, 0)
            if 0 <= case < len(cases):
                set_inputs(dut, **{name: cases[case][0][name]})
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        if t >= latency - 1:
            inputs, expected, why = cases[t - (latency - 1)]
            got = read(dut)
            assert got == expected, f"{why}: {inputs} gave {got}, expected {expected}"


NEURON_INPUTS = ("u", "v", "ref", "theta", "a_in", "a_rec", "vth", "bias", "du", "dv", "t_ref")
#: Inputs the core holds for a whole step: the pipeline is not fed new ones every clock.
NEURON_SETTINGS = ("adapt", "th_imp", "th_shift")


def model_neurons(vectors):
    """``neuron_update`` on a list of input dicts; one (u', v', ref', theta', spike) each."""
    groups = {}
    for t, one in enumerate(vectors):
        key = tuple(one[k] for k in ("w_exp", "w_exp_rec") + NEURON_SETTINGS)
        groups.setdefault(key, []).append(t)
    out = [None] * len(vectors)
    for key, ts in groups.items():
        columns = (np.array([vectors[t][k] for t in ts]) for k in NEURON_INPUTS)
        result = model.neuron_update(*columns, *key)
        for n, t in enumerate(ts):
            out[t] = tuple(int(r[n]) for r in result)
    return out


def by_settings(cases, names):
    """Return *cases* grouped by the values of their inputs *names* (a list of lists)."""
    groups = {}
    for case in cases:
        groups.setdefault(tuple(case[0][k] for k in names), []).append(case)
    return list(groups.values())


@cocotb.test()
async def neuron(dut):
    """NeuronUpdate: hand-derived edges, then random vectors, against neuron_update.

    One vector enters the pipeline every clock (the settings change only between groups, as
    between steps); each result is checked ``latency`` clocks later, so this also checks that
    the unit takes a neuron a clock.
    """
    assert PARAMS.get("block") == "neuron", f"TB_PARAMS are for {PARAMS.get('block')!r}"
    latency = PARAMS["latency"]
    delays = PARAMS["delays"]
    cases = [(inputs, expected, why) for inputs, expected, why in NEURON_CASES]
    for (inputs, expected, why), ref in zip(cases, model_neurons([c[0] for c in cases])):
        assert ref == expected, f"model disagrees: {why}"
    seed = PARAMS["seed"]
    dut._log.info(f"seed {seed}")
    rng = np.random.default_rng(seed)
    count = PARAMS["count"]
    edge = np.array([MIN, MIN + 1, -1, 0, 1, MAX - 1, MAX])
    state = lambda: np.where(rng.random(count) < 0.3, rng.choice(edge, count),  # noqa: E731
                             rng.integers(MIN, MAX + 1, count))
    amax = (1 << (len(dut.a_in) - 1)) - 1
    acc = lambda: rng.integers(-amax - 1, amax + 1, count) >> rng.integers(0, 20, count)  # noqa
    group = np.arange(count) // 100         # the settings change every 100 vectors
    per_group = lambda choices: rng.choice(choices, count // 100 + 1)[group]  # noqa: E731
    vec = dict(u=state(), v=state(), ref=rng.choice([0, 0, 1, 15], count),
               a_in=acc(), a_rec=acc(),
               vth=np.minimum(np.abs(state()), MAX), bias=state() >> rng.integers(0, 24, count),
               du=rng.choice([0, 1, 2048, 4095, 4096, 77], count),
               dv=rng.choice([0, 1, 2048, 4095, 4096, 3001], count),
               t_ref=rng.integers(0, 16, count), w_exp=rng.integers(0, 16, count),
               w_exp_rec=rng.integers(0, 16, count),
               theta=np.minimum(np.abs(state()) >> rng.integers(0, 24, count), MAX),
               adapt=per_group([0, 1]), th_imp=per_group([0, 1, 168, 65535]),
               th_shift=per_group([1, 2, 14, 23, 24]))
    randoms = [{k: int(v[t]) for k, v in vec.items()} for t in range(count)]
    cases += [(one, expected, f"seed {seed} vector {t}")
              for t, (one, expected) in enumerate(zip(randoms, model_neurons(randoms)))]

    start_clock(dut, latency)
    for group in by_settings(cases, NEURON_SETTINGS):
        await check_stream(dut, group, latency,
                           lambda dut: (dut.u_next.value.to_signed(),
                                        dut.v_next.value.to_signed(), int(dut.ref_next.value),
                                        int(dut.theta_next.value), int(dut.spike.value)),
                           delays)


def model_synapse(w, x, y, pre, post, a_plus, a_minus, w_min, w_max, x_tar, soft_bound):
    """One synapse through ``stdp_update`` (a 1×1 matrix)."""
    W = np.array([[w]], dtype=np.int8)
    learning = Learning(enabled=True, a_plus=a_plus, a_minus=a_minus, w_min=w_min,
                        w_max=w_max, x_tar=x_tar, soft_bound=soft_bound)
    model.stdp_update(W, np.array([x]), np.array([y]), np.flatnonzero([pre]),
                      np.flatnonzero([post]), learning, np.array([True]), np.array([True]))
    return int(W[0, 0])


@cocotb.test()
async def synapse(dut):
    """SynapseUpdate: LTP, LTD, both, clipping, x_tar, soft bounds — by hand, then random."""
    assert PARAMS.get("block") == "synapse", f"TB_PARAMS are for {PARAMS.get('block')!r}"
    names = ("w", "x", "y", "pre", "post", "a_plus", "a_minus", "w_min", "w_max", "x_tar",
             "soft_bound")
    # The settings (a_plus ... soft_bound) are not delayed by the pipeline: group by them.
    cases = {}
    for *values, expected, why in SYNAPSE_CASES:
        assert model_synapse(*values) == expected, f"model disagrees: {why}"
        cases.setdefault(tuple(values[5:]), []).append((dict(zip(names, values)), expected, why))
    seed = PARAMS["seed"]
    dut._log.info(f"seed {seed}")
    rng = random.Random(seed)
    for t in range(PARAMS["count"]):
        if t % 100 == 0:
            w_min = rng.randint(-128, 127)
            w_max = rng.randint(w_min, 127)
            a_plus, a_minus = rng.randint(0, 255), rng.randint(0, 255)
            x_tar, soft_bound = rng.choice([0, rng.randint(0, 255)]), rng.randint(0, 1)
        pre, post = rng.choice([(1, 0), (0, 1), (1, 1)])
        values = (rng.randint(-128, 127), rng.randint(0, 255), rng.randint(0, 255), pre, post,
                  a_plus, a_minus, w_min, w_max, x_tar, soft_bound)
        cases.setdefault(tuple(values[5:]), []).append(
            (dict(zip(names, values)), model_synapse(*values), f"seed {seed} vector {t}"))
    start_clock(dut, PARAMS["latency"])
    for group in cases.values():
        await check_stream(dut, group, PARAMS["latency"], lambda dut: dut.w_next.value.to_signed())
