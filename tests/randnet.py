"""Seeded random networks with activity, shared by the model, driver and hardware tests."""

import numpy as np

import spikecore


def random_network(n_inputs, n_neurons, seed, *, learning=True):
    """Return a random network that spikes and (with *learning*) changes its weights.

    Parameters cover the interesting corners: negative weights, strong recurrence, every
    decay from 0 to 4096, t_ref 0 … 15, masks partly off, w_min/w_max that clip.
    """
    rng = np.random.default_rng(seed)
    net = spikecore.Network(n_inputs, n_neurons, seed=None)
    net.weights[:n_inputs] = rng.integers(-40, 128, (n_inputs, n_neurons))
    net.weights[n_inputs:] = rng.integers(-128, 128, (n_neurons, n_neurons))
    net.vth[:] = rng.integers(0, 6000, n_neurons)
    net.bias[:] = rng.integers(-300, 600, n_neurons)
    net.du[:] = rng.choice([0, 1, 512, 1024, 3000, 4095, 4096], n_neurons)
    net.dv[:] = rng.choice([0, 1, 256, 2048, 4095, 4096], n_neurons)
    net.t_ref[:] = rng.choice([0, 0, 1, 2, 15], n_neurons)
    net.w_exp = int(rng.integers(2, 7))
    lr = net.learning
    lr.enabled = learning
    lr.a_plus, lr.a_minus = (int(v) for v in rng.integers(0, 256, 2))
    lr.x_imp, lr.y_imp = (int(v) for v in rng.integers(0, 256, 2))
    lr.x_decay, lr.y_decay = (int(v) for v in rng.integers(128, 257, 2))
    lr.w_min = int(rng.integers(-128, -20))
    lr.w_max = int(rng.integers(20, 128))
    net.plastic_src[:] = rng.random(n_inputs + n_neurons) < 0.8
    net.plastic_dst[:] = rng.random(n_neurons) < 0.8
    return net


def random_inputs(steps, n_inputs, seed, p=0.3):
    """Return seeded random inputs (bool, (steps, n_inputs))."""
    return np.random.default_rng(seed + 1_000_003).random((steps, n_inputs)) < p
