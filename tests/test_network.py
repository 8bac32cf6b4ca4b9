"""Network fields, their checks, and save/load."""

import numpy as np
import pytest

import spikecore
from spikecore import spec


def test_defaults_and_shapes():
    net = spikecore.Network(n_inputs=64, n_neurons=32)
    assert net.weights.shape == (96, 32) and net.weights.dtype == np.int8
    assert net.vth.shape == (32,) and net.plastic_src.shape == (96,)
    assert net.plastic_dst.all() and not net.learning.enabled
    assert net.weights[:64].min() >= 0 and net.weights[:64].max() < 32
    assert not net.weights[64:].any()


@pytest.mark.parametrize("bad", [0, -3, 2.5, "8", True])
def test_geometry_must_be_positive_integers(bad):
    with pytest.raises(ValueError, match=r"n_inputs must be a positive integer"):
        spikecore.Network(bad, 4)
    with pytest.raises(ValueError, match=r"n_neurons must be a positive integer"):
        spikecore.Network(4, bad)


@pytest.mark.parametrize("name, bad, allowed", [
    ("vth", -1, r"\[0, 8388607\]"), ("vth", 1 << 23, r"\[0, 8388607\]"),
    ("bias", 1 << 23, r"\[-8388608, 8388607\]"), ("du", 4097, r"\[0, 4096\]"),
    ("dv", -1, r"\[0, 4096\]"), ("t_ref", 16, r"\[0, 15\]"),
])
def test_out_of_range_neuron_parameter_names_field_value_and_range(name, bad, allowed):
    net = spikecore.Network(2, 3)
    before = getattr(net, name).copy()
    with pytest.raises(ValueError, match=rf"{name} = {bad} is outside the allowed range "
                                         rf"{allowed}"):
        getattr(net, name)[:] = bad
    assert np.array_equal(getattr(net, name), before)      # nothing written


def test_weights_never_wrap():
    net = spikecore.Network(2, 3)
    before = net.weights.copy()
    with pytest.raises(ValueError, match=r"weights = 128 is outside .* \[-128, 127\]"):
        net.weights[:] = 128
    with pytest.raises(ValueError, match=r"weights"):
        net.weights += 200                                  # int8 would wrap silently
    with pytest.raises(ValueError, match=r"weights"):
        net.weights[1, 1] = np.int64(-129)
    assert np.array_equal(net.weights, before)
    net.weights += 1                                        # in range: fine
    assert np.array_equal(net.weights, before + 1)


def test_non_integer_values_are_refused():
    net = spikecore.Network(2, 3)
    with pytest.raises(ValueError, match=r"vth must hold integers"):
        net.vth[:] = 1.5
    net.vth[:] = 7.0                                        # integral floats are fine
    assert net.vth[0] == 7


def test_whole_array_assignment_checks_shape():
    net = spikecore.Network(2, 3)
    with pytest.raises(ValueError, match=r"vth must have shape \(3,\), not \(4,\)"):
        net.vth = np.zeros(4)
    net.vth = np.array([1, 2, 3])
    assert net.vth.tolist() == [1, 2, 3]
    with pytest.raises(AttributeError, match=r"no settable attribute 'vthh'"):
        net.vthh = 3


def test_arithmetic_results_are_plain_arrays():
    net = spikecore.Network(2, 3)
    doubled = net.vth * 2
    assert type(doubled) is np.ndarray and doubled[0] == 20000


def test_masks_take_bools_or_0_1():
    net = spikecore.Network(2, 3)
    net.plastic_src[0] = 0
    assert not net.plastic_src[0]
    with pytest.raises(ValueError, match=r"plastic_dst = 2 is outside .* \[0, 1\]"):
        net.plastic_dst[:] = 2


def test_w_exp_range():
    net = spikecore.Network(2, 3)
    with pytest.raises(ValueError, match=r"w_exp = 16 is outside the allowed range \[0, 15\]"):
        net.w_exp = 16


def test_learning_settings_are_checked():
    lr = spikecore.Learning()
    with pytest.raises(ValueError, match=r"learning.a_plus = 256 is outside .* \[0, 255\]"):
        lr.a_plus = 256
    with pytest.raises(ValueError, match=r"learning.x_decay = 257 is outside .* \[0, 256\]"):
        lr.x_decay = 257
    with pytest.raises(ValueError, match=r"learning.w_min must be an integer"):
        lr.w_min = 1.5
    with pytest.raises(AttributeError, match=r"no setting 'a_pluss'"):
        lr.a_pluss = 1
    lr.w_min, lr.w_max = 10, 5
    with pytest.raises(ValueError, match=r"w_min = 10 is above learning.w_max = 5"):
        lr.check()


def test_check_catches_writes_that_bypassed_assignment():
    net = spikecore.Network(2, 3)
    net.du.view(np.ndarray)[0] = 5000
    with pytest.raises(ValueError, match=r"du\[0\] = 5000"):
        net.check()


def test_save_and_load_round_trip(tmp_path):
    net = spikecore.Network(3, 4, seed=7)
    net.vth[:] = [1, 2, 3, 4]
    net.learning.enabled = True
    net.learning.w_min = -9
    net.plastic_dst[2] = False
    path = tmp_path / "net.npz"
    net.save(path)
    back = spikecore.Network.load(path)
    for name in spikecore.Network._ARRAYS:
        assert np.array_equal(getattr(back, name), getattr(net, name)), name
    assert back.learning == net.learning and back.w_exp == net.w_exp
    back.vth[0] = 5                              # loaded arrays are checked Fields too
    with pytest.raises(ValueError):
        back.vth[0] = -5


def test_load_refuses_other_files(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match=r"is not a spikecore network file"):
        spikecore.Network.load(path)
