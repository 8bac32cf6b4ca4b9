"""The vectorized golden model against a scalar reading of the spec, and its invariants."""

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import spikecore
from spikecore import spec
from spikecore.model import Model, potentiation
from randnet import random_inputs, random_network
from reference import Reference

SEEDS = range(12)
STATE = ("u", "v", "ref", "y", "x", "theta")


@pytest.mark.parametrize("v2", [True, False], ids=["v2", "v1"])
@pytest.mark.parametrize("learning", [True, False], ids=["learning", "frozen"])
@pytest.mark.parametrize("seed", SEEDS)
def test_model_matches_scalar_reference(seed, learning, v2):
    print(f"seed = {seed}, learning = {learning}, v2 = {v2}")
    n_inputs, n_neurons, steps = 5, 7, 60
    net = random_network(n_inputs, n_neurons, seed, learning=learning, v2=v2)
    inputs = random_inputs(steps, n_inputs, seed)
    model, spiked = compare_with_reference(net, inputs, seed)
    assert spiked > 0, "the random network never spiked: the comparison proves nothing"
    if learning:
        assert not np.array_equal(model.W, net.weights), "learning never changed a weight"
    adapts = net.learning.th_imp or np.any(net.theta >> net.learning.th_shift)
    if learning and v2 and adapts:
        assert not np.array_equal(model.theta, net.theta), "theta never changed"


def compare_with_reference(net, inputs, seed):
    """Step the model and the reference side by side; return the model and the spike count."""
    model, ref = Model(net), Reference(net)
    spiked = 0
    for t, row in enumerate(inputs):
        s = model.step(row)
        assert s.tolist() == ref.step(row), f"seed {seed}: spikes differ at step {t}"
        spiked += int(s.sum())
        for name in STATE:
            assert getattr(model, name).tolist() == getattr(ref, name), f"{name} at step {t}"
        assert model.W.tolist() == ref.W, f"seed {seed}: weights differ at step {t}"
    return model, spiked


@pytest.mark.parametrize("seed", range(4))
def test_model_matches_scalar_reference_when_theta_saturates(seed):
    """Neuron 0 integrates without decay (du = dv = 0) a large bias and strong inputs until
    v saturates above vth + theta, and its theta then saturates at 2**23 − 1 (th_imp 65535).
    """
    print(f"seed = {seed}")
    net = random_network(5, 7, seed)
    net.vth[0], net.du[0], net.dv[0] = 0, 0, 0
    net.theta[0] = spec.THETA_MAX - 50_000
    net.bias[0] = 100_000
    net.weights[:5, 0] = 127
    net.weights[5:, 0] = 0
    net.plastic_dst[0] = False
    net.learning.th_imp, net.learning.th_shift = spec.TH_IMP_MAX, spec.TH_SHIFT_MAX
    model, _ = compare_with_reference(net, random_inputs(60, 5, seed, p=0.6), seed)
    assert model.theta[0] == spec.THETA_MAX, "theta never saturated: the case is not covered"


@settings(max_examples=200, deadline=None)
@given(x=st.integers(0, 255), w=st.integers(-128, 127), x_tar=st.integers(0, 255),
       a_plus=st.integers(0, 255), w_min=st.integers(-128, 127), w_max=st.integers(-128, 127),
       soft_bound=st.booleans())
def test_potentiation_matches_scalar_reference(x, w, x_tar, a_plus, w_min, w_max,
                                               soft_bound):
    """Every (x, W, setting) of step 5's potentiation, weights outside [w_min, w_max] too."""
    lr = spikecore.Learning(x_tar=x_tar, a_plus=a_plus, soft_bound=soft_bound)
    lr.w_min, lr.w_max = min(w_min, w_max), max(w_min, w_max)
    net = spikecore.Network(1, 1, seed=None)
    net.weights[0, 0] = w
    net.learning = lr
    ref = Reference(net)
    ref.x[0] = x
    assert potentiation(x, np.array([w], np.int8), lr).tolist() == [ref.potentiation(0, 0)]


def test_v2_networks_use_their_new_fields():
    """Across SEEDS the v2 networks draw every new field away from its default."""
    nets = [random_network(5, 7, seed) for seed in SEEDS]
    assert any(net.w_exp_rec is None for net in nets)
    assert any(net.w_exp_rec not in (None, net.w_exp) for net in nets)
    assert any(np.any(net.theta == 0) for net in nets)
    assert any(np.any(net.theta > 1 << 20) for net in nets)
    for name in ("x_tar", "th_imp", "soft_bound"):
        assert any(getattr(net.learning, name) for net in nets), name
        assert not all(getattr(net.learning, name) for net in nets), name
    shifts = {net.learning.th_shift for net in nets}
    assert {1, spec.TH_SHIFT_MAX} <= shifts and len(shifts) > 3


@pytest.mark.parametrize("seed", [0, 1, 5, 1234, 2**32 - 1])
def test_v2_draws_leave_the_v1_part_of_a_seed_unchanged(seed):
    print(f"seed = {seed}")
    v1, v2 = random_network(4, 6, seed, v2=False), random_network(4, 6, seed)
    for name in ("weights", "vth", "bias", "du", "dv", "t_ref", "plastic_src", "plastic_dst"):
        assert np.array_equal(getattr(v1, name), getattr(v2, name)), name
    assert v1.w_exp == v2.w_exp
    v1_settings = ("enabled", "a_plus", "a_minus", "x_imp", "y_imp", "x_decay", "y_decay",
                   "w_min", "w_max")
    for name in v1_settings:
        assert getattr(v1.learning, name) == getattr(v2.learning, name), name
    # and v1 networks hold the v2 defaults
    assert not v1.theta.any() and v1.w_exp_rec is None and v1.features() == spec.Feature(0)
    assert v1.learning.th_shift == spec.TH_SHIFT_MAX


#: Recorded with the v1 model (commit b07ba21, before v2): for random_network(5, 7, seed,
#: learning=learning, v2=False) run on random_inputs(60, 5, seed), the spikes per neuron and
#: the first 16 hex digits of sha256(packbits(spikes) + final int8 weights).
V1_RECORDED = [
    (0, True, [0, 4, 3, 0, 19, 57, 0], "723b07a6aeaee4b8"),
    (0, False, [0, 4, 3, 0, 18, 57, 0], "0c74157a4e0333be"),
    (1, True, [59, 4, 0, 4, 4, 0, 44], "dbc1c1105fd1b699"),
    (1, False, [48, 4, 0, 4, 3, 0, 40], "a07db3bbb35345a5"),
    (2, True, [20, 22, 0, 0, 13, 0, 47], "5d24672e5a68c25d"),
    (3, True, [25, 0, 13, 0, 0, 5, 3], "b08a405056354e38"),
]


@pytest.mark.parametrize("seed, learning, counts, digest", V1_RECORDED)
def test_v1_networks_compute_what_the_v1_model_computed(seed, learning, counts, digest):
    print(f"seed = {seed}, learning = {learning}")
    net = random_network(5, 7, seed, learning=learning, v2=False)
    # The v2 defaults written out (w_exp_rec = w_exp, any th_shift) change nothing either.
    explicit = net.copy()
    explicit.w_exp_rec = net.w_exp
    explicit.learning.th_shift = 1
    for net in (net, explicit):
        model = Model(net)
        spikes = model.run(random_inputs(60, 5, seed))
        assert spikes.sum(axis=0).tolist() == counts
        data = np.packbits(spikes).tobytes() + model.W.astype(np.int8).tobytes()
        assert hashlib.sha256(data).hexdigest()[:16] == digest


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cut=st.integers(0, 30))
def test_running_in_chunks_equals_running_at_once(seed, cut):
    net = random_network(4, 6, seed)
    inputs = random_inputs(30, 4, seed)
    whole = Model(net).run(inputs)
    chunked = Model(net)
    parts = np.concatenate([chunked.run(inputs[:cut]), chunked.run(inputs[cut:])])
    assert np.array_equal(whole, parts)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_state_stays_in_range(seed):
    net = random_network(4, 6, seed)
    model = Model(net)
    for row in random_inputs(40, 4, seed, p=0.6):
        model.step(row)
        assert np.all((spec.STATE_MIN <= model.u) & (model.u <= spec.STATE_MAX))
        assert np.all((spec.STATE_MIN <= model.v) & (model.v <= spec.STATE_MAX))
        assert np.all((0 <= model.ref) & (model.ref <= spec.REF_MAX))
        assert np.all((0 <= model.x) & (model.x <= spec.TRACE_MAX))
        assert np.all((0 <= model.y) & (model.y <= spec.TRACE_MAX))
        assert np.all((0 <= model.theta) & (model.theta <= spec.THETA_MAX))
        touched = model.W != net.weights
        lr = net.learning
        assert np.all((model.W[touched] >= lr.w_min) & (model.W[touched] <= lr.w_max))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cut=st.integers(1, 20))
def test_reset_then_run_equals_fresh_model_with_learned_weights_and_theta(seed, cut):
    net = random_network(4, 6, seed)
    inputs = random_inputs(40, 4, seed)
    model = Model(net)
    model.run(inputs[:cut])
    model.reset()
    fresh_net = net.copy()
    fresh_net.weights = model.W
    fresh_net.theta = model.theta
    assert np.array_equal(model.run(inputs[cut:]), Model(fresh_net).run(inputs[cut:]))
