"""Seeded random networks with activity, shared by the model, driver and hardware tests."""

import numpy as np

import spikecore
from spikecore import spec


def random_network(n_inputs, n_neurons, seed, *, learning=True, v2=True, stimulus=False):
    """Return a random network that spikes and (with *learning*) changes its weights.

    Parameters cover the interesting corners: negative weights, strong recurrence, every
    decay from 0 to 4096, t_ref 0 … 15, masks partly off, w_min/w_max that clip.

    With *v2* the model-v2 fields are drawn too (docs/model.md): theta (often 0, sometimes
    up to 2**23 − 1), w_exp_rec (sometimes None), x_tar (often near the pre-traces), th_imp
    (often small), th_shift (1 … 24, both ends included) and soft_bound. They come from a
    stream of their own, ``default_rng([seed, 2])``, so the rest of a seed's network is the
    same with or without *v2* (and the same as before v2 existed).

    With *stimulus* the input generators' rates and states are drawn too (docs/model.md,
    "Input generators and spike counts"): rates 0, 65535, small, about 0.1 and anywhere, and
    states at the edges (1, 2**32 − 1, 2**31) or anywhere, from ``default_rng([seed, 3])``.
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
    if v2:
        _draw_v2(net, np.random.default_rng([seed, 2]))
    if stimulus:
        _draw_stimulus(net, np.random.default_rng([seed, 3]))
    return net


def _draw_stimulus(net, rng):
    """Draw the generators' rates and states of *net* from *rng*."""
    n = net.n_inputs
    net.rate[:] = rng.choice([0, spec.RATE_MAX, int(rng.integers(1, 100)), 6554,
                              int(rng.integers(0, spec.RATE_MAX + 1))], n)
    edges = rng.choice([1, spec.GEN_MAX, 1 << 31], n)
    net.gen_state[:] = np.where(rng.random(n) < 0.3, edges, rng.integers(1, 1 << 32, n))


def _draw_v2(net, rng):
    """Draw the model-v2 fields of *net* from *rng*, keeping the network active."""
    n = net.n_neurons
    # theta: mostly 0 or about vth's size; now and then huge (that neuron may never spike).
    kind = rng.choice(["zero", "small", "huge"], n, p=[0.4, 0.5, 0.1])
    small = rng.integers(0, 3000, n)
    huge = rng.integers(1 << 20, spec.THETA_MAX + 1, n)
    huge[rng.random(n) < 0.5] = spec.THETA_MAX
    net.theta[:] = np.where(kind == "zero", 0, np.where(kind == "small", small, huge))
    # w_exp_rec: None (= w_exp) a third of the time, else small enough to keep activity.
    if rng.random() < 1 / 3:
        net.w_exp_rec = None
    else:
        net.w_exp_rec = int(rng.integers(0, 7))
    lr = net.learning
    # x_tar: 0, near what the pre-traces hold (about x_imp), or anywhere.
    near = int(np.clip(lr.x_imp + rng.integers(-30, 31), 0, spec.TRACE_MAX))
    lr.x_tar = int(rng.choice([0, near, int(rng.integers(0, spec.TRACE_MAX + 1))],
                              p=[0.25, 0.5, 0.25]))
    # th_imp: often 0 or small, sometimes anywhere up to its maximum.
    lr.th_imp = int(rng.choice([0, int(rng.integers(1, 200)),
                                int(rng.integers(0, spec.TH_IMP_MAX + 1))], p=[0.3, 0.55, 0.15]))
    # th_shift: both ends of its range, fast decays, anything.
    lr.th_shift = int(rng.choice([1, spec.TH_SHIFT_MAX, int(rng.integers(1, 9)),
                                  int(rng.integers(1, spec.TH_SHIFT_MAX + 1))]))
    lr.soft_bound = bool(rng.random() < 0.5)


def random_inputs(steps, n_inputs, seed, p=0.3):
    """Return seeded random inputs (bool, (steps, n_inputs))."""
    return np.random.default_rng(seed + 1_000_003).random((steps, n_inputs)) < p
