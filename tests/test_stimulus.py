"""On-device stimulus and readout in the golden model and the Network: hand-derived cases.

docs/model.md, "Input generators and spike counts": each worked example there is a test here,
checkable on paper. The backends are compared with each other in tests/test_conformance.py.
"""

import numpy as np
import pytest

import spikecore
from spikecore import spec
from spikecore.model import Model, generate, xorshift32

#: A state whose next state's top 16 bits are all ones (found by searching 1, 2, …; the test
#: below checks it).
TOP_ONES = 0xBA2B


def one_input(rate, gen, *, w=10, n_neurons=1):
    """A network of one input (weight *w* to every neuron) with this generator."""
    net = spikecore.Network(1, n_neurons, seed=None)
    net.weights[0] = w
    net.w_exp = 0
    net.du[:] = 4096
    net.dv[:] = 4096
    net.vth[:] = spec.STATE_MAX
    net.rate[:] = rate
    net.gen_state[:] = gen
    return net


def test_xorshift32_from_one():
    assert xorshift32(1) == 270369 == 0x00042021
    assert xorshift32(270369) == 67634689 == 0x04080601
    assert xorshift32(67634689) == 2647435461 == 0x9DCCA8C5


def test_xorshift32_top_bit_only():
    # g << 13 is 0 mod 2**32; g >> 17 = 0x4000; then (0x80004000 << 5) mod 2**32 = 0x80000.
    assert xorshift32(0x80000000) == 0x80084000


def test_xorshift32_is_vectorized_and_never_reaches_zero():
    g = np.array([1, spec.GEN_MAX, 1 << 31, 12345], dtype=np.int64)
    out = xorshift32(g)
    assert out.dtype == np.int64 and out.tolist() == [int(xorshift32(int(v))) for v in g]
    assert np.all(out >= 1) and np.all(out <= spec.GEN_MAX)


def test_rate_compares_the_top_16_bits_strictly():
    # From g = 1 the new state is 0x00042021: top bits 4.
    assert generate(np.array([1, 1]), np.array([5, 4]))[1].tolist() == [True, False]
    # 0x80084000: top bits 0x8008 = 32776.
    assert generate(np.array([1 << 31] * 2), np.array([32777, 32776]))[1].tolist() == \
        [True, False]
    assert xorshift32(TOP_ONES) >> 16 == 0xFFFF
    g, fired = generate(np.array([TOP_ONES]), np.array([spec.RATE_MAX]))
    assert not fired[0] and g[0] == xorshift32(TOP_ONES)
    assert not generate(np.array([1]), np.array([0]))[1][0]


def test_generators_advance_every_step_whatever_the_rate():
    model = Model(one_input(0, 1))
    for expected in (270369, 67634689, 2647435461):
        model.step(np.zeros(1, bool))
        assert model.gen[0] == expected
    model.reset()                                   # the generators run on
    assert model.gen[0] == 2647435461


def test_a_generated_input_is_delivered_like_a_streamed_one():
    net = one_input(5, 1)                           # fires in step 1 (top bits 4 < 5)
    model = Model(net)
    model.step(np.zeros(1, bool))
    assert model.u[0] == 10 and model.x[0] == net.learning.x_imp


def test_streamed_and_generated_in_one_step_is_delivered_once():
    net = one_input(5, 1)
    model = Model(net)
    model.step(np.ones(1, bool))
    assert model.u[0] == 10, "the weight counts once"
    assert model.x[0] == net.learning.x_imp, "one x_imp"


def test_counts_count_spikes_and_saturate():
    net = one_input(0, 1)
    net.vth[:] = 0
    net.bias[:] = 1                                 # v = 1 > 0 every step: a spike a step
    net.t_ref[:] = 0
    model = Model(net)
    model.run(np.zeros((3, 1), bool))
    assert model.count[0] == 3
    model.reset()                                   # reset keeps the counts
    assert model.count[0] == 3
    model.count[0] = spec.COUNT_MAX - 1
    model.run(np.zeros((3, 1), bool))
    assert model.count[0] == spec.COUNT_MAX
    model.clear_counts()
    assert model.count[0] == 0


def test_network_stimulus_fields_defaults_and_checks():
    net = spikecore.Network(5, 3, seed=4)
    assert net.rate.tolist() == [0] * 5
    assert net.gen_state.tolist() == \
        np.random.default_rng(4).integers(1, 2**32, 5).tolist()
    assert np.array_equal(net.weights, spikecore.Network(5, 3, seed=4).weights)
    assert spikecore.Network(5, 3, seed=None).gen_state.tolist() == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match=r"rate = 65536 is outside the allowed range "
                                         r"\[0, 65535\]"):
        net.rate[0] = 65536
    with pytest.raises(ValueError, match=r"gen_state = 0 is outside the allowed range "
                                         r"\[1, 4294967295\]"):
        net.gen_state[:] = 0
    with pytest.raises(ValueError, match=r"rate must have shape \(5,\), not \(3,\)"):
        net.rate = np.zeros(3)
    assert net.features() == spec.Feature(0), "the host generates where a device cannot"


def test_network_file_keeps_the_stimulus(tmp_path):
    net = spikecore.Network(4, 2, seed=1)
    net.rate[:] = [0, 1, 6554, spec.RATE_MAX]
    net.gen_state[:] = [1, spec.GEN_MAX, 1 << 31, 77]
    net.save(tmp_path / "net.npz")
    back = spikecore.Network.load(tmp_path / "net.npz")
    assert back.rate.tolist() == net.rate.tolist()
    assert back.gen_state.tolist() == net.gen_state.tolist()


def test_a_version_2_file_takes_the_default_stimulus(tmp_path):
    net = spikecore.Network(4, 2, seed=1)
    net.save(tmp_path / "net.npz")
    with np.load(tmp_path / "net.npz") as f:
        entries = {k: f[k] for k in f.files if k not in ("rate", "gen_state")}
    entries["format"] = np.asarray("spikecore.network/2")
    np.savez(tmp_path / "v2.npz", **entries)
    back = spikecore.Network.load(tmp_path / "v2.npz")
    assert back.rate.tolist() == [0] * 4
    assert back.gen_state.tolist() == [1, 2, 3, 4]


def test_model_core_runs_steps_counts_and_probes():
    net = one_input(5, 1, n_neurons=2)
    net.vth[:] = 5
    net.t_ref[:] = 0
    with spikecore.connect("model://") as core:
        core.load(net)
        spikes = core.run(steps=3)
        assert spikes.shape == (3, 2) and spikes.dtype == bool
        core.load(net)
        counts = core.run(steps=3, record="counts")
        assert counts.tolist() == spikes.sum(axis=0).tolist()
        core.load(net)
        rec = core.run(steps=3, record=("spikes", "counts"), probes={"u": [1], "v": [0, 1]})
        assert np.array_equal(rec.spikes, spikes) and rec.counts.tolist() == counts.tolist()
        assert rec.probes["u"].shape == (3, 1) and rec.probes["v"].shape == (3, 2)
        assert core.read_state().gen_state[0] == 2647435461


def test_emulator_and_driver_run_with_counts_and_probes_like_the_model():
    from spikecore.driver import open_device
    from spikecore.emulator import DeviceEmulator, EmulatorTransport
    from randnet import random_network
    for version, features in ((4, spec.Feature.all()), (3, spec.Feature(0x0F)),
                              (4, spec.Feature.all() & ~spec.Feature.GENERATORS),
                              (4, spec.Feature.all() & ~spec.Feature.COUNTS),
                              (4, spec.Feature.all() & ~spec.Feature.RUN_WITH),
                              (4, spec.Feature.X_TAR)):        # the iCEBreaker's
        net = random_network(6, 10, 5, stimulus=True, v2=bool(features & spec.Feature.THETA))
        net.w_exp_rec = None if features & spec.Feature.W_EXP_REC else net.w_exp_rec
        emu = DeviceEmulator(6, 10, features=features, version=version)
        with open_device(EmulatorTransport(emu), timeout=1.0) as core, \
                spikecore.connect("model://") as model:
            for c in (core, model):
                c.load(net)
            what = f"v{version} {features}"
            a = core.run(steps=40, record=("spikes", "counts"), probes={"v": [0, 3], "x": [1]})
            b = model.run(steps=40, record=("spikes", "counts"), probes={"v": [0, 3], "x": [1]})
            assert np.array_equal(a.spikes, b.spikes), what
            assert np.array_equal(a.counts, b.counts), what
            for k in b.probes:
                assert np.array_equal(a.probes[k], b.probes[k]), (what, k)
            assert np.array_equal(core.run(steps=7, record="counts"),
                                  model.run(steps=7, record="counts")), what
            rates = np.random.default_rng(1).integers(0, 30000, (3, 6))
            assert np.array_equal(core.present(rates, 20), model.present(rates, 20)), what
            assert core.read_state() == model.read_state(), what


def test_fast_model_and_run_batch_generate_like_the_model():
    from randnet import random_network, random_inputs
    from spikecore.batch import FastModel, run_batch
    net = random_network(7, 12, 9, stimulus=True)
    inputs = random_inputs(50, 7, 9, p=0.05)
    a, b = Model(net), FastModel(net)
    assert np.array_equal(a.run(inputs), b.run(inputs))
    assert np.array_equal(a.gen, b.gen) and np.array_equal(a.count, b.count)
    net.learning.enabled = False
    batch = random_inputs(3 * 20, 7, 10, p=0.05).reshape(3, 20, 7)
    model = Model(net)
    want = []
    for x in batch:
        model.reset()
        want.append(model.run(x))
    assert np.array_equal(run_batch(net, batch), np.array(want))
