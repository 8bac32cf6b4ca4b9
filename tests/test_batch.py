"""spikecore.batch: the batched and the fast golden-model paths against spikecore.model.Model.

Each must give the same spikes as ``Model`` bit for bit (and FastModel the same weights, theta
and state), over seeded random networks that cover every decay, refractory period, weight
exponent, mask and v2 setting (tests/randnet.py).
"""

import random

import numpy as np
import pytest

import spikecore
from randnet import random_inputs, random_network
from spikecore.batch import FastModel, FastModelCore, exact_dtype, run_batch
from spikecore.model import Model

STATE = ("u", "v", "ref", "x", "y", "s_prev", "theta")


def test_exact_dtype_follows_the_largest_sum():
    # 128 · n must stay within 2**24 for float32: n = 131072 is the last.
    assert exact_dtype(64) is np.float32
    assert exact_dtype(1 << 17) is np.float32
    assert exact_dtype((1 << 17) + 1) is np.float64


def test_run_batch_hand_case():
    # One input of weight 10, w_exp 2: u = 40 each step (du 4096), v integrates (dv 0):
    # 40, 80, 120 > vth 100 -> spike at step 2, then t_ref 1 holds v at 0 in step 3,
    # then 40, 80, 120 -> spike at step 6. Neuron 1 gets nothing. Theta 20 raises the
    # threshold to 120: 120 is not > 120, so the spike comes at step 3 (v 160), then
    # step 4 is refractory and 40, 80, 120 in steps 5-7 stay silent.
    net = spikecore.Network(1, 2, seed=None)
    net.weights[0, 0] = 10
    net.w_exp = 2
    net.du[:], net.dv[:], net.t_ref[:], net.vth[:] = 4096, 0, 1, 100
    inputs = np.ones((2, 8, 1), dtype=bool)
    spikes = run_batch(net, inputs)
    assert np.flatnonzero(spikes[0, :, 0]).tolist() == [2, 6]
    assert not spikes[:, :, 1].any()
    net.theta[0] = 20
    assert np.flatnonzero(run_batch(net, inputs)[1, :, 0]).tolist() == [3]


@pytest.mark.parametrize("trial", range(2))
def test_run_batch_matches_the_model(trial):
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    for k in range(6):
        n_in, n = int(rng.integers(1, 12)), int(rng.integers(1, 20))
        net = random_network(n_in, n, seed + k, learning=False)
        if k == 0:                                  # the widest sums: int64 state
            net.w_exp = net.w_exp_rec = 15
        inputs = rng.random((7, 25, n_in)) < rng.choice([0.05, 0.3, 0.8])
        got = run_batch(net, inputs, block=int(rng.integers(1, 5)))
        model = Model(net)
        for b in range(len(inputs)):
            model.reset()
            assert np.array_equal(got[b], model.run(inputs[b])), \
                f"seed {seed}, network {k}, presentation {b}"


def test_run_batch_refuses_learning_and_bad_inputs():
    net = spikecore.Network(3, 2)
    net.learning.enabled = True
    with pytest.raises(ValueError, match="run_batch computes without learning"):
        run_batch(net, np.zeros((1, 2, 3), dtype=bool))
    net.learning.enabled = False
    with pytest.raises(ValueError, match=r"inputs must have shape \(batch, steps, 3\)"):
        run_batch(net, np.zeros((2, 3), dtype=bool))
    with pytest.raises(ValueError, match="inputs must be bool"):
        run_batch(net, np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="block must be a positive integer"):
        run_batch(net, np.zeros((1, 2, 3), dtype=bool), block=0)


def assert_same_model(fast, ref, where):
    assert np.array_equal(fast.W, ref.W), f"weights differ ({where})"
    for name in STATE:
        assert np.array_equal(getattr(fast, name), getattr(ref, name)), \
            f"{name} differs ({where})"
    assert fast.steps == ref.steps


@pytest.mark.parametrize("trial", range(2))
def test_fast_model_matches_the_model(trial):
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    for k in range(8):
        n_in, n = int(rng.integers(1, 12)), int(rng.integers(1, 20))
        net = random_network(n_in, n, seed + k, learning=k % 4 != 0)
        if k % 2:                               # often no LTD: the skipped update
            net.learning.a_minus = 0
        fast, ref = FastModel(net), Model(net)
        for run in range(3):                    # state and weights carry over between runs
            inputs = random_inputs(int(rng.integers(1, 80)), n_in, seed + 10 * k + run,
                                   p=float(rng.choice([0.05, 0.3, 0.8])))
            assert np.array_equal(fast.run(inputs), ref.run(inputs)), \
                f"seed {seed}, network {k}, run {run}"
            assert_same_model(fast, ref, f"seed {seed}, network {k}, run {run}")
            if run == 1:
                fast.reset()
                ref.reset()


def test_fast_model_digits_like_network_matches_the_model():
    # The digits network (inputs -> 64 neurons, fixed inhibition, a_minus 0, soft bounds):
    # the skip of step 5 happens in most steps here.
    from spikecore.digits import digits_network
    net = digits_network({"n_neurons": 64}, seed=1)
    net.learning.enabled = True
    inputs = np.random.default_rng(1).random((300, 64)) < 0.2
    fast, ref = FastModel(net), Model(net)
    for chunk in np.split(inputs, [40, 80, 200]):
        assert np.array_equal(fast.run(chunk), ref.run(chunk))
        fast.reset()
        ref.reset()
    assert_same_model(fast, ref, "digits network")
    assert not np.array_equal(fast.W, np.asarray(net.weights))      # it learned


def test_fast_model_core_is_model_core():
    net = random_network(6, 10, 3, learning=True)
    inputs = random_inputs(60, 6, 3)
    with FastModelCore() as fast, spikecore.connect("model://") as ref:
        for core in (fast, ref):
            core.load(net)
        assert np.array_equal(fast.run(inputs), ref.run(inputs))
        fast.set_learning(enabled=False)
        ref.set_learning(enabled=False)
        assert np.array_equal(fast.run(inputs), ref.run(inputs))
        assert np.array_equal(fast.read_weights(), ref.read_weights())
        assert fast.read_state() == ref.read_state()
        assert fast.info()["backend"] == "model"
