"""One backend conformance suite: the same cases on every backend of ``spikecore.connect``.

model:// (the golden model), the protocol emulator behind the driver, rtl:// (the Top
gateware in Amaranth's simulator: small geometry, few steps) and sim:// (the Verilator virtual
board). Each case runs on a backend against a fresh ``model://`` and compares everything a user
can read back; bad input must raise the same error class with the same message on every
backend, and change nothing. A new feature adds its cases here once.
"""

import random

import numpy as np
import pytest

import spikecore
from randnet import random_inputs, random_network
from simboard import N_INPUTS, N_NEURONS, needs_top, sim_exe  # noqa: F401 (fixture)
from spikecore.driver import open_device
from spikecore.emulator import DeviceEmulator, EmulatorTransport

STATE_FIELDS = ("u", "v", "ref", "x", "y", "spikes")

#: Backend name -> (geometry, steps per case). rtl:// simulates a few thousand cycles a second.
#: The emulator also runs at geometries whose indices take two bytes (inputs, then neurons).
BACKENDS = {
    "model": ((N_INPUTS, N_NEURONS), 300),
    "emulator": ((N_INPUTS, N_NEURONS), 300),
    "emulator-300x24": ((300, 24), 300),
    "emulator-20x260": ((20, 260), 300),
    "rtl": ((2, 3), 6),
    "sim": ((N_INPUTS, N_NEURONS), 300),
}


def _open(name, n_inputs, n_neurons, request):
    """Open backend *name* at this geometry (a device holds a network from the start: no
    use-before-load error there, unlike the model)."""
    if name == "model":
        return spikecore.connect("model://")
    if name.startswith("emulator"):
        return open_device(EmulatorTransport(DeviceEmulator(n_inputs, n_neurons)), timeout=2.0)
    if name == "rtl":
        return spikecore.connect("rtl://", n_inputs=n_inputs, n_neurons=n_neurons)
    request.getfixturevalue("sim_exe")
    return spikecore.connect("sim://", n_inputs=n_inputs, n_neurons=n_neurons)


@pytest.fixture(scope="module", params=[
    "model", "emulator", "emulator-300x24", "emulator-20x260",
    pytest.param("rtl", marks=needs_top),
    pytest.param("sim", marks=[pytest.mark.cocotb, needs_top]),
])
def backend(request):
    """(name, core, (n_inputs, n_neurons), steps): one open core per backend for the module."""
    name = request.param
    (n_inputs, n_neurons), steps = BACKENDS[name]
    with _open(name, n_inputs, n_neurons, request) as core:
        yield name, core, (n_inputs, n_neurons), steps


def assert_same(core, model, what=""):
    assert np.array_equal(core.read_weights(), model.read_weights()), f"{what}weights differ"
    got, want = core.read_state(), model.read_state()
    for name in STATE_FIELDS:
        assert np.array_equal(getattr(got, name), getattr(want, name)), \
            f"{what}state.{name} differs: {getattr(got, name)} vs {getattr(want, name)}"


def assert_same_spikes(got, want, what):
    assert got.dtype == bool and got.shape == want.shape, f"{what}: {got.shape} spikes"
    bad = np.flatnonzero(np.any(got != want, axis=1))
    assert bad.size == 0, (f"{what}: spikes differ first at step {bad[0]}: "
                           f"{np.flatnonzero(got[bad[0]])} vs {np.flatnonzero(want[bad[0]])}")


@pytest.mark.parametrize("learning", [True, False], ids=["stdp", "no-stdp"])
@pytest.mark.parametrize("p", [0.05, 0.3, 0.6])
def test_bit_exact_in_chunks_then_reset(backend, learning, p):
    """Random networks: every step's spikes, the weights and all state after each run() call
    (state carries over between calls), then after a reset, equal the golden model's."""
    name, core, (n_in, n), steps = backend
    if name == "rtl" and not (learning and p == 0.3):
        pytest.skip("rtl:// runs one combination: it simulates a few thousand cycles a second")
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    net = random_network(n_in, n, seed, learning=learning)
    inputs = random_inputs(steps, n_in, seed, p=p)
    with spikecore.connect("model://") as model:
        core.load(net)
        model.load(net)
        assert_same(core, model, f"{name} after load: ")
        start = core.counters()["steps"]
        done = 0
        for size in (1, 2, steps // 6, steps - 3 - steps // 6):
            chunk = inputs[done:done + size]
            assert_same_spikes(core.run(chunk), model.run(chunk), f"{name}, steps {done}+")
            done += size
            assert_same(core, model, f"{name} after {done} steps: ")
        assert core.counters()["steps"] - start == steps
        core.reset()
        model.reset()
        assert_same(core, model, f"{name} after reset: ")
        assert not any(np.any(getattr(core.read_state(), k)) for k in STATE_FIELDS)
        more = random_inputs(max(3, steps // 5), n_in, seed + 1, p=0.3)
        assert_same_spikes(core.run(more), model.run(more), f"{name} after reset")
        assert_same(core, model, f"{name} at the end: ")
    link = getattr(core, "link", None)
    if link is not None and not name == "sim":
        assert link.stats.resent == 0 and link.stats.damaged == 0


def test_extreme_parameters(backend):
    """Saturation, no decay, instant decay, silent and full inputs, everything plastic."""
    name, core, (n_in, n), steps = backend
    net = spikecore.Network(n_in, n, seed=None)
    rng = np.random.default_rng(7)
    net.weights[:] = rng.choice([-128, 127, 0, 1, -1], net.weights.shape)
    net.vth[:] = rng.choice([0, 1, 2**23 - 1], n)
    net.bias[:] = rng.choice([-2**23, 2**23 - 1, 0], n)
    net.du[:] = rng.choice([0, 4096], n)
    net.dv[:] = rng.choice([0, 4096], n)
    net.t_ref[:] = rng.choice([0, 15], n)
    net.w_exp = 15
    lr = net.learning
    lr.enabled = True
    lr.a_plus = lr.a_minus = lr.x_imp = lr.y_imp = 255
    lr.x_decay = lr.y_decay = 256
    lr.w_min, lr.w_max = -128, 127
    inputs = np.zeros((min(steps, 80), n_in), bool)
    inputs[::3] = True
    with spikecore.connect("model://") as model:
        model.load(net)
        core.load(net)
        assert_same_spikes(core.run(inputs), model.run(inputs), name)
        assert_same(core, model, f"{name}: ")


def test_learning_off_keeps_the_weights(backend):
    name, core, (n_in, n), steps = backend
    net = random_network(n_in, n, seed=12, learning=False)
    core.load(net)
    core.run(random_inputs(steps, n_in, seed=12, p=0.5))
    assert np.array_equal(core.read_weights(), net.weights)


def bad_calls(n_in, n):
    """(what, call, error class, message) of every bad input the Core API refuses."""
    def bad_network(**changes):
        net = spikecore.Network(n_in, n, seed=3)
        for key, value in changes.items():
            target = net.learning if key.startswith("learning.") else net
            object.__setattr__(target, key.split(".")[-1], value)
        return lambda core: core.load(net)

    return [
        ("inputs of the wrong width", lambda core: core.run(np.zeros((3, n_in + 1), bool)),
         ValueError, rf"inputs must have shape \(steps, {n_in}\), not \(3, {n_in + 1}\)"),
        ("inputs of 2s", lambda core: core.run(np.full((2, n_in), 2)),
         ValueError, r"inputs must be bool"),
        ("1-D inputs", lambda core: core.run(np.zeros(n_in, bool)),
         ValueError, r"inputs must have shape"),
        ("another geometry", lambda core: core.load(spikecore.Network(n_in + 1, n)),
         ValueError, r"does not match the device's"),
        ("not a network", lambda core: core.load("net.npz"),
         TypeError, r"load\(\) takes a spikecore.Network, not str"),
        ("w_exp 16", bad_network(w_exp=16),
         ValueError, r"w_exp = 16 is outside the allowed range \[0, 15\]"),
        ("a_plus 256", bad_network(**{"learning.a_plus": 256}),
         ValueError, r"learning.a_plus = 256 is outside the allowed range \[0, 255\]"),
        ("w_min above w_max", bad_network(**{"learning.w_min": 5, "learning.w_max": -5}),
         ValueError, r"learning.w_min = 5 is above learning.w_max = -5"),
    ]


def test_bad_input_is_refused_alike_and_changes_nothing(backend):
    """Each bad call raises the same error on every backend; weights, state and the step count
    are as before it (read back after each call, or once after all where read-backs are slow:
    rtl://)."""
    name, core, (n_in, n), _ = backend
    core.load(random_network(n_in, n, seed=13))
    core.run(random_inputs(4, n_in, seed=13, p=0.5))
    weights, state, steps = core.read_weights(), core.read_state(), core.counters()["steps"]
    calls = [call for call in bad_calls(n_in, n)
             if not (name == "model" and call[0] == "another geometry")]  # the model takes any
    for k, (what, call, error, message) in enumerate(calls):
        with pytest.raises(error, match=message):
            call(core)
        if name == "rtl" and k < len(calls) - 1:
            continue
        what = "the bad calls" if name == "rtl" else what
        assert np.array_equal(core.read_weights(), weights), f"{name}, {what}: weights changed"
        assert core.read_state() == state, f"{name}, {what}: state changed"
        assert core.counters()["steps"] == steps, f"{name}, {what}: steps changed"
