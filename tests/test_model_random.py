"""The vectorized golden model against a scalar reading of the spec, and its invariants."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from spikecore import spec
from spikecore.model import Model
from randnet import random_inputs, random_network
from reference import Reference

SEEDS = range(12)


@pytest.mark.parametrize("learning", [True, False], ids=["learning", "frozen"])
@pytest.mark.parametrize("seed", SEEDS)
def test_model_matches_scalar_reference(seed, learning):
    print(f"seed = {seed}")
    n_inputs, n_neurons, steps = 5, 7, 60
    net = random_network(n_inputs, n_neurons, seed, learning=learning)
    inputs = random_inputs(steps, n_inputs, seed)
    model, ref = Model(net), Reference(net)
    spiked = 0
    for t in range(steps):
        s = model.step(inputs[t])
        assert s.tolist() == ref.step(inputs[t]), f"seed {seed}: spikes differ at step {t}"
        spiked += int(s.sum())
        for name in ("u", "v", "ref", "y", "x"):
            assert getattr(model, name).tolist() == getattr(ref, name), f"{name} at step {t}"
        assert model.W.tolist() == ref.W, f"seed {seed}: weights differ at step {t}"
    assert spiked > 0, "the random network never spiked: the comparison proves nothing"
    if learning:
        assert not np.array_equal(model.W, net.weights), "learning never changed a weight"


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
        touched = model.W != net.weights
        lr = net.learning
        assert np.all((model.W[touched] >= lr.w_min) & (model.W[touched] <= lr.w_max))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cut=st.integers(1, 20))
def test_reset_then_run_equals_fresh_model_with_learned_weights(seed, cut):
    net = random_network(4, 6, seed)
    inputs = random_inputs(40, 4, seed)
    model = Model(net)
    model.run(inputs[:cut])
    model.reset()
    fresh_net = net.copy()
    fresh_net.weights = model.W
    assert np.array_equal(model.run(inputs[cut:]), Model(fresh_net).run(inputs[cut:]))
