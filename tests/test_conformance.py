"""One backend conformance suite: the same cases on every backend of ``spikecore.connect``.

model:// (the golden model), the protocol emulator behind the driver, rtl:// (the Top
gateware in Amaranth's simulator: small geometry, few steps) and sim:// (the Verilator virtual
board). Each case runs on a backend against a fresh ``model://`` and compares everything a user
can read back; bad input must raise the same error class with the same message on every
backend, and change nothing. A new feature adds its cases here once.

The run-time calls (``write_weights``, ``set``, ``set_learning``) are compared the same way:
each changes exactly what it says on every backend, bit for bit with the model in the steps
that follow, and leaves the state alone. Devices built without some features of model v2
(``spikecore.spec.Feature``) are emulated at the end: they refuse what needs one, and run the
rest bit-exact.
"""

import random

import numpy as np
import pytest

import spikecore
from randnet import random_inputs, random_network
from simboard import N_INPUTS, N_NEURONS, needs_top, sim_exe  # noqa: F401 (fixture)
from spikecore import protocol, spec
from spikecore.driver import DeviceError, open_device
from spikecore.emulator import DeviceEmulator, EmulatorTransport
from spikecore.spec import Feature

STATE_FIELDS = ("u", "v", "ref", "x", "y", "spikes", "theta", "gen_state")

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
        assert not any(np.any(getattr(core.read_state(), k)) for k in STATE_FIELDS
                       if k not in ("theta", "gen_state")), "reset keeps theta and gen_state only"
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


@pytest.mark.slow_on_rtl
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
        # Run-time calls.
        ("weights of the wrong shape", lambda core: core.write_weights(np.zeros((n, n))),
         ValueError, rf"weights must have shape \({n_in + n}, {n}\), not \({n}, {n}\)"),
        ("a weight of 128", lambda core: core.write_weights(np.full((n_in + n, n), 128)),
         ValueError, r"weights = 128 is outside the allowed range \[-128, 127\]"),
        ("rows of the wrong length", lambda core: core.write_weights(np.zeros((2, n)), [0]),
         ValueError, rf"weights must have shape \(1, {n}\), not \(2, {n}\)"),
        ("a row past the sources", lambda core: core.write_weights(np.zeros((1, n)),
                                                                    [n_in + n]),
         ValueError, rf"rows = {n_in + n} is outside the allowed range \[0, {n_in + n - 1}\]"),
        ("a row twice", lambda core: core.write_weights(np.zeros((2, n)), [0, 0]),
         ValueError, r"rows holds source 0 twice"),
        ("bool rows", lambda core: core.write_weights(np.zeros((1, n)), [True]),
         ValueError, r"rows must be a sequence of source indices"),
        ("set an unknown field", lambda core: core.set(vth=5, w_exp=3),
         TypeError, r"set\(\) got an unknown field 'w_exp'; the fields are vth, bias, du, dv, "
                    r"t_ref, theta"),
        ("set vth -1", lambda core: core.set(bias=0, vth=-1),
         ValueError, r"vth = -1 is outside the allowed range \[0, 8388607\]"),
        ("set a field of the wrong shape", lambda core: core.set(du=np.zeros(n + 1, int)),
         ValueError, rf"du must be a scalar or have shape \({n},\), not \({n + 1},\)"),
        ("set theta 2**23", lambda core: core.set(theta=np.full(n, 2**23)),
         ValueError, r"theta = 8388608 is outside the allowed range \[0, 8388607\]"),
        ("set a float t_ref", lambda core: core.set(t_ref=1.5),
         ValueError, r"t_ref must hold integers"),
        ("set_learning an unknown setting", lambda core: core.set_learning(w_exp=3),
         TypeError, r"set_learning\(\) got an unknown setting 'w_exp'; the settings are "
                    r"enabled, a_plus"),
        ("set_learning a_plus 256", lambda core: core.set_learning(enabled=True, a_plus=256),
         ValueError, r"learning.a_plus = 256 is outside the allowed range \[0, 255\]"),
        ("set_learning th_shift 0", lambda core: core.set_learning(th_shift=0),
         ValueError, r"learning.th_shift = 0 is outside the allowed range \[1, 24\]"),
        ("set_learning enabled 2", lambda core: core.set_learning(enabled=2),
         ValueError, r"learning.enabled must be a bool, not 2"),
        ("set_learning bounds crossed", lambda core: core.set_learning(w_min=9, w_max=-9),
         ValueError, r"learning.w_min = 9 is above learning.w_max = -9"),
        ("set_learning w_min above the current w_max",
         lambda core: core.set_learning(a_plus=1, w_min=127),
         ValueError, r"learning.w_min = 127 is above learning.w_max = "),
        # Stimulus and readout.
        ("run no steps", lambda core: core.run(),
         TypeError, r"run\(\) needs inputs, or steps= for steps with no streamed inputs"),
        ("run -1 steps", lambda core: core.run(steps=-1),
         ValueError, r"steps must be an integer >= 0, not -1"),
        ("run inputs and steps", lambda core: core.run(np.zeros((2, n_in), bool), steps=2),
         TypeError, r"run\(\) takes inputs or steps=, not both"),
        ("record volts", lambda core: core.run(steps=2, record="volts"),
         ValueError, r"record must be 'spikes', 'counts', both or None, not 'volts'"),
        ("probe an unknown field", lambda core: core.run(steps=2, probes={"w": [0]}),
         ValueError, r"probes: unknown field 'w'; the fields are u, v, ref, y, x, theta"),
        ("probe a neuron past the last", lambda core: core.run(steps=2, probes={"v": [n]}),
         ValueError, rf"probes\['v'\] = {n} is outside the allowed range \[0, {n - 1}\]"),
        ("nine probes", lambda core: core.run(steps=2, probes={"v": [0] * 5, "u": [0] * 4}),
         ValueError, r"probes: at most 8 in all, not 9"),
        ("a rate of 65536", lambda core: core.set_rates(65536),
         ValueError, r"rate = 65536 is outside the allowed range \[0, 65535\]"),
        ("rates of the wrong shape", lambda core: core.set_rates(np.zeros(n_in + 1, int)),
         ValueError, rf"rate must be a scalar or have shape \({n_in},\), not \({n_in + 1},\)"),
        ("a generator state of 0", lambda core: core.set_rates(7, gen_state=np.zeros(n_in, int)),
         ValueError, r"gen_state = 0 is outside the allowed range \[1, 4294967295\]"),
        ("present rates of the wrong width",
         lambda core: core.present(np.zeros((2, n_in + 1), int), 5),
         ValueError, rf"rates must have shape \(samples, {n_in}\), not \(2, {n_in + 1}\)"),
        ("present for 0 steps", lambda core: core.present(np.zeros((2, n_in), int), 0),
         ValueError, r"steps must be a positive integer, not 0"),
    ]


def test_bad_input_is_refused_alike_and_changes_nothing(backend):
    """Each bad call raises the same error on every backend; weights, state and the step count
    are as before it (read back after each call, or once after all where read-backs are slow:
    rtl://)."""
    name, core, (n_in, n), steps_per_case = backend
    net = random_network(n_in, n, seed=13)
    net.learning.w_max = min(net.learning.w_max, 126)      # so that w_min = 127 crosses it
    core.load(net)
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
    # Parameters and settings are as they were too: the next steps are the model's.
    with spikecore.connect("model://") as model:
        model.load(net)
        model.run(random_inputs(4, n_in, seed=13, p=0.5))
        more = random_inputs(min(steps_per_case, 60), n_in, seed=14, p=0.4)
        assert_same_spikes(core.run(more), model.run(more), f"{name} after the bad calls")
        assert_same(core, model, f"{name} after the bad calls: ")


# --- Stimulus and readout ---------------------------------------------------------------------

def test_generators_counts_and_probes_are_the_models(backend):
    """Random rates and generator states (at the edges too): streamed and generated inputs,
    steps with none, spike counts, probes, rates changed at run time and a presentation give
    the model's spikes, counts, probe values and state, bit for bit."""
    name, core, (n_in, n), steps = backend
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    net = random_network(n_in, n, seed, stimulus=True)
    k = min(steps, 60)
    probes = {"v": [0, n - 1], "u": [n // 2], "x": [n_in], "theta": [n - 1]}
    rates = np.random.default_rng(seed).integers(0, 20000, (3, n_in))
    with spikecore.connect("model://") as model:
        for c in (core, model):
            c.load(net)
        inputs = random_inputs(k, n_in, seed, p=0.1)
        assert_same_spikes(core.run(inputs), model.run(inputs), f"{name}, streamed + generated")
        got = core.run(steps=k, record=("spikes", "counts"), probes=probes)
        want = model.run(steps=k, record=("spikes", "counts"), probes=probes)
        assert_same_spikes(got.spikes, want.spikes, f"{name}, generated only")
        assert np.array_equal(got.counts, want.counts), f"{name}: counts differ"
        for field in probes:
            assert np.array_equal(got.probes[field], want.probes[field]), f"{name}: {field}"
        for c in (core, model):
            c.set_rates(rates[0])
        assert np.array_equal(core.run(steps=k, record="counts"),
                              model.run(steps=k, record="counts")), f"{name}: counts"
        assert_same(core, model, f"{name} after set_rates: ")
        assert np.array_equal(core.present(rates, max(2, k // 3)),
                              model.present(rates, max(2, k // 3))), f"{name}: present()"
        assert_same(core, model, f"{name} at the end: ")


# --- Run-time calls --------------------------------------------------------------------------

def runtime_calls(n_in, n, seed):
    """(what, call, fields) of run-time changes: *call(core)* is made on a backend and on
    model://; *fields* are the state fields it changes (theta, for ``set(theta=...)``)."""
    rng = np.random.default_rng(seed)
    S = n_in + n
    every = rng.integers(-40, 128, (S, n))
    rows = rng.choice(S, size=min(3, S), replace=False)
    some = rng.integers(-128, 128, (len(rows), n))
    theta = rng.integers(0, 2000, n)
    params = dict(bias=rng.integers(-300, 600, n), du=rng.choice([0, 512, 4096], n), dv=256,
                  t_ref=rng.integers(0, 16, n))
    return [
        ("write_weights(w)", lambda core: core.write_weights(every), ()),
        ("write_weights(w, rows)", lambda core: core.write_weights(some, rows), ()),
        ("write_weights(w, [last source])",
         lambda core: core.write_weights(np.full((1, n), -7), [S - 1]), ()),
        ("set(vth=scalar, theta=array)", lambda core: core.set(vth=1500, theta=theta),
         ("theta",)),
        ("set(bias, du, dv, t_ref)", lambda core: core.set(**params), ()),
        ("set_learning(x_tar, th_imp, th_shift, soft_bound)", lambda core: core.set_learning(
            x_tar=40, th_imp=300, th_shift=3, soft_bound=True), ()),
        ("set_learning(w_min alone)", lambda core: core.set_learning(w_min=-20), ()),
        ("set_learning(a_plus, w_max)",
         lambda core: core.set_learning(a_plus=200, w_max=50, enabled=True), ()),
        ("set_learning(enabled=False)", lambda core: core.set_learning(enabled=False), ()),
        ("set_learning(enabled=True, soft_bound=False)",
         lambda core: core.set_learning(enabled=True, soft_bound=False), ()),
        ("set(theta=0)", lambda core: core.set(theta=0), ("theta",)),
    ]


@pytest.mark.slow_on_rtl
def test_runtime_calls_change_what_they_say(backend):
    """Each run-time call, on a running network, leaves the state (u, v, ref, traces, spikes)
    as it was and changes what it says: the weights, state and the spikes of the steps after
    it are the model's, given the same calls, bit for bit."""
    name, core, (n_in, n), steps = backend
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    net = random_network(n_in, n, seed)
    net.learning.enabled = True
    check_each = name != "rtl"          # rtl:// reads back slowly: once at the end
    chunk = max(2, min(30, steps // 10))
    inputs = random_inputs(chunk * 12, n_in, seed, p=0.4)
    with spikecore.connect("model://") as model:
        core.load(net)
        model.load(net)
        assert_same_spikes(core.run(inputs[:chunk]), model.run(inputs[:chunk]), name)
        for k, (what, call, changes) in enumerate(runtime_calls(n_in, n, seed)):
            before = core.read_state() if check_each else None
            call(core)
            call(model)
            if check_each:
                after = core.read_state()
                for field in STATE_FIELDS:
                    if field not in changes:
                        assert np.array_equal(getattr(after, field), getattr(before, field)), \
                            f"{name}, {what}: state.{field} changed"
                assert_same(core, model, f"{name}, after {what}: ")
            part = inputs[(k + 1) * chunk:(k + 2) * chunk]
            assert_same_spikes(core.run(part), model.run(part), f"{name}, after {what}")
            if check_each:
                assert_same(core, model, f"{name}, steps after {what}: ")
        assert_same(core, model, f"{name} at the end: ")


@pytest.mark.slow_on_rtl
def test_theta_is_set_read_back_and_kept_by_reset(backend):
    name, core, (n_in, n), _ = backend
    net = random_network(n_in, n, seed=21, v2=False)
    core.load(net)
    assert not core.read_state().theta.any()
    theta = (np.arange(n) * 977) % (spec.THETA_MAX + 1)
    theta[-1] = spec.THETA_MAX
    core.set(theta=theta)
    core.run(random_inputs(3, n_in, seed=21))      # learning off: theta stays
    assert np.array_equal(core.read_state().theta, theta)
    core.reset()
    state = core.read_state()
    assert np.array_equal(state.theta, theta) and not state.u.any()
    core.load(net)                                  # load sets it from the network
    assert not core.read_state().theta.any()


@pytest.mark.slow_on_rtl
def test_learning_off_freezes_weights_and_theta(backend):
    """set_learning(enabled=False) stops STDP and theta's adaptation (its decay and its
    increments); enabled again, both go on as in the model."""
    name, core, (n_in, n), steps = backend
    net = random_network(n_in, n, seed=22)
    net.learning.enabled = True
    net.learning.th_imp, net.learning.th_shift = 500, 4
    net.theta[:] = 1000
    steps = min(steps, 60)
    inputs = random_inputs(3 * steps, n_in, seed=22, p=0.5)
    with spikecore.connect("model://") as model:
        for c in (core, model):
            c.load(net)
            c.run(inputs[:steps])
        assert_same(core, model, f"{name} learning: ")
        assert not np.array_equal(core.read_weights(), net.weights), "nothing was learned"
        assert not np.array_equal(core.read_state().theta, net.theta), "theta did not move"
        for c in (core, model):
            c.set_learning(enabled=False)
        weights, theta = core.read_weights(), core.read_state().theta
        assert_same_spikes(core.run(inputs[steps:2 * steps]), model.run(inputs[steps:2 * steps]),
                           f"{name} learning off")
        assert np.array_equal(core.read_weights(), weights), f"{name}: weights moved"
        assert np.array_equal(core.read_state().theta, theta), f"{name}: theta moved"
        for c in (core, model):
            c.set_learning(enabled=True)
        assert_same_spikes(core.run(inputs[2 * steps:]), model.run(inputs[2 * steps:]),
                           f"{name} learning on again")
        assert_same(core, model, f"{name} at the end: ")


def test_features_of_a_backend(backend):
    name, core, _, _ = backend
    assert core.features == Feature.all()
    if hasattr(core, "identity"):
        assert core.identity.features == Feature.all()


# --- Devices without some features -----------------------------------------------------------

#: Feature sets of emulated devices: none, and all but one of them.
PARTIAL = [Feature(0), *(Feature.all() & ~f for f in Feature.all())]


def _needs(n_in, n, w_exp):
    """(feature, what, call, message) of networks and calls that need a feature."""
    def network(change):
        net = random_network(n_in, n, seed=31, v2=False)
        net.w_exp = w_exp
        change(net)
        return lambda core: core.load(net)

    def theta(net):
        net.theta[2] = 5

    def th_imp(net):
        net.learning.th_imp = 3

    def x_tar(net):
        net.learning.x_tar = 4

    def soft_bound(net):
        net.learning.soft_bound = True

    def w_exp_rec(net):
        net.w_exp_rec = w_exp + 1

    lacks = r"feature, which the device lacks \(it has [a-zA-Z_, ]+\): "
    return [
        (Feature.THETA, "a network with theta", network(theta),
         r"the network needs the THETA " + lacks + r"theta\[2\] = 5 is not its default 0"),
        (Feature.THETA, "a network with th_imp", network(th_imp),
         r"the network needs the THETA " + lacks + r"learning.th_imp = 3 is not its default 0"),
        (Feature.THETA, "set(theta)", lambda core: core.set(theta=5, vth=3),
         r"set\(\) needs the THETA " + lacks + r"theta = 5 is not its default 0"),
        (Feature.THETA, "set_learning(th_imp)", lambda core: core.set_learning(th_imp=3),
         r"set_learning\(\) needs the THETA " + lacks + r"learning.th_imp = 3 is not its"),
        (Feature.X_TAR, "a network with x_tar", network(x_tar),
         r"the network needs the X_TAR " + lacks + r"learning.x_tar = 4 is not its default 0"),
        (Feature.X_TAR, "set_learning(x_tar)", lambda core: core.set_learning(x_tar=4, a_plus=3),
         r"set_learning\(\) needs the X_TAR " + lacks + r"learning.x_tar = 4"),
        (Feature.SOFT_BOUND, "a network with soft bounds", network(soft_bound),
         r"the network needs the SOFT_BOUND " + lacks + r"learning.soft_bound = True is not "
                                                        r"its default False"),
        (Feature.SOFT_BOUND, "set_learning(soft_bound)",
         lambda core: core.set_learning(soft_bound=True),
         r"set_learning\(\) needs the SOFT_BOUND " + lacks + r"learning.soft_bound = True"),
        (Feature.W_EXP_REC, "a network with w_exp_rec", network(w_exp_rec),
         r"the network needs the W_EXP_REC " + lacks + rf"w_exp_rec = {w_exp + 1} differs from "
                                                       rf"w_exp = {w_exp}"),
    ]


@pytest.mark.parametrize("features", PARTIAL, ids=str)
@pytest.mark.parametrize("geometry", [(N_INPUTS, N_NEURONS), (20, 260)], ids=str)
def test_a_device_without_some_features(features, geometry):
    """IDENTIFY reports the features and the core has them; the settings and fields of the
    others are BAD_ADDRESS; a network or a call that needs one is refused with a clear error
    before anything is sent, a value at its default is accepted, and a network that needs
    none runs bit-exact."""
    n_in, n = geometry
    sent = []

    def record(index, frame):
        sent.append(protocol.FrameDecoder().feed(frame)[0])
        return frame

    emulator = DeviceEmulator(n_in, n, features=features)
    transport = EmulatorTransport(emulator, host_to_device=record)
    with open_device(transport, timeout=2.0) as core, spikecore.connect("model://") as model:
        assert core.features == core.identity.features == features
        for setting in set(spec.Setting) - set(spec.settings_of(features)):
            with pytest.raises(DeviceError, match="BAD_ADDRESS at position 0"):
                core.link.transact([protocol.read_request(spec.Space.SETTING, setting.value, 1,
                                                          spec.SETTING_BYTES)])
        # A network that needs none of them, with the v2 values that do not need one.
        net = random_network(n_in, n, seed=30, v2=False)
        net.w_exp_rec = net.w_exp
        net.learning.th_shift = 5
        for c in (core, model):
            c.load(net)
        inputs = random_inputs(90, n_in, seed=30, p=0.4)
        assert_same_spikes(core.run(inputs[:30]), model.run(inputs[:30]), str(features))
        assert_same(core, model, f"{features}: ")
        # What needs a missing feature is refused; nothing is sent.
        for feature, what, call, message in _needs(n_in, n, net.w_exp):
            if feature & features:
                continue
            before = len(sent)
            with pytest.raises(ValueError, match=message):
                call(core)
            assert len(sent) == before, f"{features}, {what}: {len(sent) - before} frames sent"
        # Their defaults are fine, and change nothing.
        for c in (core, model):
            c.set(theta=np.zeros(n, int), vth=900)
            c.set_learning(x_tar=0, th_imp=0, soft_bound=False, a_plus=77)
        if not features & Feature.THETA:
            before = len(sent)
            assert not core.read_state().theta.any()
            assert not any(payload[2] == spec.Space.NEURON.value for payload in sent[before:]), \
                "theta was read from a device without THETA"
        assert_same_spikes(core.run(inputs[30:]), model.run(inputs[30:]), f"{features} after")
        assert_same(core, model, f"{features} at the end: ")
