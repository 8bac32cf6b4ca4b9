"""The Core API on the golden model backend (model://)."""

import numpy as np
import pytest

import spikecore
from randnet import random_inputs, random_network
from spikecore.model import Model


def test_model_core_runs_and_reads_back():
    net = random_network(4, 6, seed=3)
    inputs = random_inputs(50, 4, seed=3)
    with spikecore.connect("model://") as core:
        core.load(net)
        first = core.run(inputs[:20])
        second = core.run(inputs[20:])
        assert first.dtype == bool and first.shape == (20, 6)
        model = Model(net)
        assert np.array_equal(np.concatenate([first, second]), model.run(inputs))
        assert np.array_equal(core.read_weights(), model.W)
        state = core.read_state()
        assert np.array_equal(state.u, model.u) and np.array_equal(state.x, model.x)
        assert np.array_equal(state.spikes, model.s_prev)
        assert core.counters() == {"steps": 50, "cycles": None}
        core.reset()
        state = core.read_state()
        assert not any(np.any(getattr(state, k)) for k in ("u", "v", "ref", "x", "y", "spikes"))
        assert np.array_equal(core.read_weights(), model.W)


def test_load_copies_the_network():
    net = spikecore.Network(2, 2)
    with spikecore.connect("model://") as core:
        core.load(net)
        net.weights[:] = 5
        assert not np.all(core.read_weights() == 5)


def test_bad_inputs_are_refused_and_change_nothing():
    net = random_network(4, 6, seed=1)
    with spikecore.connect("model://") as core:
        core.load(net)
        core.run(random_inputs(5, 4, seed=1))
        before = core.read_state()
        with pytest.raises(ValueError, match=r"inputs must have shape \(steps, 4\), not \(3, 5\)"):
            core.run(np.zeros((3, 5), bool))
        with pytest.raises(ValueError, match=r"inputs must have shape"):
            core.run(np.zeros(4, bool))
        with pytest.raises(ValueError, match=r"inputs must be bool"):
            core.run(np.full((2, 4), 2))
        with pytest.raises(ValueError, match=r"inputs must be bool"):
            core.run(np.full((2, 4), 0.5))
        assert core.read_state() == before
        assert core.run(np.zeros((0, 4), bool)).shape == (0, 6)
        assert core.run(np.ones((1, 4), dtype=int)).shape == (1, 6)


def test_use_before_load_is_a_clear_error():
    with spikecore.connect("model://") as core:
        with pytest.raises(RuntimeError, match=r"no network is loaded"):
            core.run(np.zeros((1, 1), bool))


def test_load_checks_type_and_fields():
    with spikecore.connect("model://") as core:
        with pytest.raises(TypeError, match=r"load\(\) takes a spikecore.Network"):
            core.load("net.npz")
        net = spikecore.Network(2, 2)
        net.learning.w_min, net.learning.w_max = 5, 1
        with pytest.raises(ValueError, match=r"w_min = 5 is above"):
            core.load(net)


def test_connect_refuses_bad_urls():
    with pytest.raises(ValueError, match=r"connect\(\) takes a URL string"):
        spikecore.connect(42)
    with pytest.raises(ValueError, match=r"model:// takes no options"):
        spikecore.connect("model://", n_inputs=3)


def test_runtime_calls_on_the_model_by_hand():
    net = spikecore.Network(2, 3, seed=None)
    with spikecore.connect("model://") as core:
        with pytest.raises(RuntimeError, match=r"no network is loaded"):
            core.set(vth=1)
        assert core.features == spikecore.spec.Feature.all()
        core.load(net)
        core.set(vth=7, theta=[1, 2, 3])
        core.write_weights([[1, 2, 3]], rows=[4])
        core.set_learning(w_max=10, th_imp=5)
        m = core._model
        assert m.vth.tolist() == [7, 7, 7] and m.theta.tolist() == [1, 2, 3]
        assert core.read_state().theta.tolist() == [1, 2, 3]
        assert core.read_weights()[4].tolist() == [1, 2, 3] and not core.read_weights()[:4].any()
        assert (m.learning.w_max, m.learning.th_imp, m.learning.w_min) == (10, 5, -128)
        with pytest.raises(ValueError, match=r"learning.w_min = 11 is above learning.w_max = 10"):
            core.set_learning(w_min=11, a_plus=3)
        assert m.learning.a_plus == 16                  # all or nothing
        assert core.info()["features"] == spikecore.spec.Feature.all()
