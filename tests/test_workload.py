"""The standard workload is built exactly by the recipe in standard.json (``spikecore.workload``)."""

import json

import numpy as np

from spikecore.workload import standard_workload, workload_path


def recipe(spec, n_inputs, n_neurons, p):
    """Follow standard.json's recipe lines literally."""
    rng = np.random.default_rng(spec["seed"])
    weights = np.zeros((n_inputs + n_neurons, n_neurons), np.int64)
    weights[:n_inputs] = rng.integers(0, 40, (n_inputs, n_neurons))
    weights[n_inputs:] = rng.integers(-12, 12, (n_neurons, n_neurons))
    inputs = rng.random((spec["steps"], n_inputs)) < p
    return weights, inputs


def test_standard_workload_follows_the_recipe():
    spec = json.loads(workload_path().read_text())
    net, inputs, got_spec = standard_workload()
    assert got_spec == spec
    weights, expected_inputs = recipe(spec, spec["n_inputs"], spec["n_neurons"],
                                      spec["input_probability"])
    assert (net.n_inputs, net.n_neurons) == (256, 256)
    np.testing.assert_array_equal(net.weights, weights)
    np.testing.assert_array_equal(inputs, expected_inputs)
    assert 0.09 < inputs.mean() < 0.11
    assert net.w_exp == spec["w_exp"] and net.learning.enabled
    for name, value in spec["neurons"].items():
        assert (getattr(net, name) == value).all(), name
    for name, value in spec["learning"].items():
        assert getattr(net.learning, name) == value, name


def test_overrides_keep_the_order_of_draws():
    spec = json.loads(workload_path().read_text())
    net, inputs, _ = standard_workload(n_inputs=64, n_neurons=32, input_probability=0.3,
                                       learning=False)
    weights, expected_inputs = recipe(spec, 64, 32, 0.3)
    assert (net.n_inputs, net.n_neurons) == (64, 32) and not net.learning.enabled
    np.testing.assert_array_equal(net.weights, weights)
    np.testing.assert_array_equal(inputs, expected_inputs)
