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


# --- model v2 fields ---

def test_v2_defaults():
    net = spikecore.Network(2, 3)
    assert net.theta.tolist() == [0, 0, 0] and net.w_exp_rec is None
    lr = net.learning
    assert (lr.x_tar, lr.th_imp, lr.th_shift, lr.soft_bound) == (0, 0, 24, False)
    assert net.features() == spec.Feature(0)


@pytest.mark.parametrize("bad", [-1, 1 << 23])
def test_theta_range_names_field_value_and_range(bad):
    net = spikecore.Network(2, 3)
    with pytest.raises(ValueError, match=rf"theta = {bad} is outside the allowed range "
                                         rf"\[0, 8388607\]"):
        net.theta[:] = bad
    assert not net.theta.any()
    net.theta[:] = [0, 1, (1 << 23) - 1]                     # both ends are allowed
    with pytest.raises(ValueError, match=r"theta must have shape \(3,\), not \(2,\)"):
        net.theta = [1, 2]
    net.theta.view(np.ndarray)[2] = -5
    with pytest.raises(ValueError, match=r"theta\[2\] = -5"):
        net.check()


def test_w_exp_rec_is_none_or_0_to_15():
    net = spikecore.Network(2, 3)
    for value in (0, 15, None, np.int64(7)):
        net.w_exp_rec = value
        assert net.w_exp_rec == value
    net.w_exp_rec = 4
    with pytest.raises(ValueError, match=r"w_exp_rec = 16 is outside the allowed range "
                                         r"\[0, 15\]"):
        net.w_exp_rec = 16
    with pytest.raises(ValueError, match=r"w_exp_rec = -1 is outside .* \[0, 15\]"):
        net.w_exp_rec = -1
    for bad in (2.0, "4", True):
        with pytest.raises(ValueError, match=r"w_exp_rec must be an integer"):
            net.w_exp_rec = bad
    assert net.w_exp_rec == 4                                # nothing written
    object.__setattr__(net, "w_exp_rec", 99)
    with pytest.raises(ValueError, match=r"w_exp_rec = 99"):
        net.check()


@pytest.mark.parametrize("name, low, high", [
    ("x_tar", 0, 255), ("th_imp", 0, 65535), ("th_shift", 1, 24),
])
def test_v2_learning_setting_ranges(name, low, high):
    lr = spikecore.Learning()
    for good in (low, high):
        setattr(lr, name, good)
        assert getattr(lr, name) == good
    for bad in (low - 1, high + 1):
        with pytest.raises(ValueError, match=rf"learning.{name} = {bad} is outside the "
                                             rf"allowed range \[{low}, {high}\]"):
            setattr(lr, name, bad)
    with pytest.raises(ValueError, match=rf"learning.{name} must be an integer"):
        setattr(lr, name, 1.5)
    assert getattr(lr, name) == high                         # nothing written
    with pytest.raises(ValueError, match=rf"learning.{name} = {high + 1}"):
        spikecore.Learning(**{name: high + 1})


def test_soft_bound_is_a_bool():
    lr = spikecore.Learning(soft_bound=1)
    assert lr.soft_bound is True
    lr.soft_bound = np.bool_(False)
    assert lr.soft_bound is False
    for bad in (2, "yes", None, 0.5):
        with pytest.raises(ValueError, match=r"learning.soft_bound must be a bool"):
            lr.soft_bound = bad
    object.__setattr__(lr, "soft_bound", 3)
    with pytest.raises(ValueError, match=r"learning.soft_bound must be a bool"):
        lr.check()


def v2_network():
    """A network with every v2 field away from its default."""
    net = spikecore.Network(3, 4, seed=7)
    net.theta[:] = [0, 1, 5000, (1 << 23) - 1]
    net.w_exp, net.w_exp_rec = 6, 2
    net.learning = spikecore.Learning(enabled=True, x_tar=40, th_imp=65535, th_shift=1,
                                      soft_bound=True, w_min=-60, w_max=50)
    return net


def test_copy_is_independent_and_carries_v2_fields():
    net = v2_network()
    other = net.copy()
    assert other.theta.tolist() == net.theta.tolist() and other.w_exp_rec == 2
    assert other.learning == net.learning and other.learning is not net.learning
    other.theta[0] = 9
    other.learning.x_tar = 1
    other.w_exp_rec = None
    assert net.theta[0] == 0 and net.learning.x_tar == 40 and net.w_exp_rec == 2
    with pytest.raises(ValueError, match=r"theta"):
        other.theta[0] = -1                                  # a copy's arrays are Fields too


@pytest.mark.parametrize("w_exp_rec", [None, 0, 2, 15])
def test_save_and_load_round_trip_of_v2_fields(tmp_path, w_exp_rec):
    net = v2_network()
    net.w_exp_rec = w_exp_rec
    path = tmp_path / "net.npz"
    net.save(path)
    with np.load(path) as raw:
        assert str(raw["format"]) == "spikecore.network/3"
        assert int(raw["w_exp_rec"]) == (-1 if w_exp_rec is None else w_exp_rec)
    back = spikecore.Network.load(path)
    assert back.theta.tolist() == net.theta.tolist()
    assert back.w_exp_rec == w_exp_rec and back.w_exp == net.w_exp
    assert back.learning == net.learning
    assert back.learning.as_dict() == {**spikecore.Learning().as_dict(), "enabled": True,
                                       "x_tar": 40, "th_imp": 65535, "th_shift": 1,
                                       "soft_bound": True, "w_min": -60, "w_max": 50}
    assert back.learning.soft_bound is True
    with pytest.raises(ValueError, match=r"theta"):
        back.theta[0] = 1 << 23                              # loaded theta is checked


def v1_file(path, **override):
    """Write a "spikecore.network/1" file by hand: the entries v1 had, nothing of v2."""
    n_in, n = 2, 3
    learning = {"enabled": True, "a_plus": 10, "a_minus": 20, "x_imp": 30, "y_imp": 40,
                "x_decay": 200, "y_decay": 210, "w_min": -50, "w_max": 60}
    entries = {"format": np.asarray("spikecore.network/1"), "n_inputs": n_in,
               "n_neurons": n, "weights": np.arange(15, dtype=np.int8).reshape(5, 3),
               "vth": np.array([100, 200, 300]), "bias": np.array([-1, 0, 1]),
               "du": np.array([0, 1024, 4096]), "dv": np.array([1, 2, 3]),
               "t_ref": np.array([0, 15, 2]), "w_exp": 5,
               "plastic_src": np.array([1, 0, 1, 1, 0], bool),
               "plastic_dst": np.array([0, 1, 1], bool),
               **{f"learning_{k}": np.asarray(v) for k, v in learning.items()}, **override}
    np.savez(path, **entries)
    return entries


def test_loading_a_v1_file_gives_v2_defaults(tmp_path):
    path = tmp_path / "v1.npz"
    entries = v1_file(path)
    net = spikecore.Network.load(path)
    for name in ("weights", "vth", "bias", "du", "dv", "t_ref", "plastic_src", "plastic_dst"):
        assert np.array_equal(getattr(net, name), entries[name]), name
    assert net.w_exp == 5 and net.learning.a_minus == 20 and net.learning.w_min == -50
    # the v2 fields take their defaults
    assert net.theta.tolist() == [0, 0, 0] and net.w_exp_rec is None
    lr = net.learning
    assert (lr.x_tar, lr.th_imp, lr.th_shift, lr.soft_bound) == (0, 0, 24, False)
    assert net.features() == spec.Feature(0)
    # saved again, it is a v2 file
    net.save(tmp_path / "v2.npz")
    with np.load(tmp_path / "v2.npz") as raw:
        assert str(raw["format"]) == "spikecore.network/3"


def test_loading_a_v1_file_still_checks_it(tmp_path):
    path = tmp_path / "v1.npz"
    v1_file(path, vth=np.array([100, -2, 300]))
    with pytest.raises(ValueError, match=r"v1.npz: vth = -2 is outside"):
        spikecore.Network.load(path)


def test_a_v2_file_must_hold_the_v2_entries(tmp_path):
    path = tmp_path / "v2.npz"
    v1_file(path, format=np.asarray("spikecore.network/2"))
    with pytest.raises(ValueError, match=r"v2.npz: entry 'theta' is missing"):
        spikecore.Network.load(path)


def test_a_v2_file_with_a_bad_w_exp_rec_is_refused(tmp_path):
    net = v2_network()
    net.save(tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as raw:
        entries = dict(raw)
    for bad in (-2, 16):
        np.savez(tmp_path / "bad.npz", **{**entries, "w_exp_rec": np.asarray(bad)})
        with pytest.raises(ValueError, match=rf"bad.npz: w_exp_rec = {bad} is outside"):
            spikecore.Network.load(tmp_path / "bad.npz")


# --- features ---

F = spec.Feature


@pytest.mark.parametrize("change, needs", [
    (lambda net: None, F(0)),
    (lambda net: net.theta.__setitem__(1, 1), F.THETA),
    (lambda net: setattr(net.learning, "th_imp", 1), F.THETA),
    (lambda net: setattr(net.learning, "th_shift", 1), F(0)),     # acts on theta 0 only
    (lambda net: setattr(net.learning, "x_tar", 1), F.X_TAR),
    (lambda net: setattr(net.learning, "soft_bound", True), F.SOFT_BOUND),
    (lambda net: setattr(net, "w_exp_rec", 3), F.W_EXP_REC),
    (lambda net: setattr(net, "w_exp_rec", 6), F(0)),             # equal to w_exp (6)
    (lambda net: setattr(net, "w_exp_rec", None), F(0)),
], ids=["none", "theta", "th_imp", "th_shift", "x_tar", "soft_bound", "w_exp_rec",
        "w_exp_rec=w_exp", "w_exp_rec=None"])
def test_features_name_what_a_network_needs(change, needs):
    net = spikecore.Network(2, 3)
    assert net.w_exp == 6
    change(net)
    assert net.features() == needs


def test_features_of_a_network_with_every_v2_field():
    assert v2_network().features() == F.THETA | F.X_TAR | F.SOFT_BOUND | F.W_EXP_REC
    assert v2_network().features() == F.all() & ~(F.GENERATORS | F.COUNTS | F.RUN_WITH)
