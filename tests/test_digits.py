"""spikecore digits: a reduced run (a few dozen images) is deterministic, every path to the
same result agrees bit for bit (batched or per-image readout, FastModel or Model, model:// or
sim://), and the CLI's last line has the documented form. The full run is marked slow."""

import json
import re

import numpy as np
import pytest

import spikecore
from simboard import needs_top
from spikecore.cli import main
from spikecore.digits import DEFAULT_CONFIG, digits_network, run_digits

pytest.importorskip("sklearn")

#: 64 inputs + 16 neurons (the demo's geometry, so sim:// reuses its virtual board), 40
#: training and 20 test images, short presentations, two epochs.
REDUCED = {"n_neurons": 16, "n_train": 40, "n_test": 20, "train_steps": 20, "test_steps": 30,
           "epochs": 2}
#: What may differ between two runs of one configuration.
VARYING = ("timings", "epochs", "backend", "url", "batched_readout", "config")


def same(a, b):
    keep = lambda r: {k: v for k, v in r.items() if k not in VARYING}   # noqa: E731
    accuracies = lambda r: [(e["epoch"], e.get("accuracy")) for e in r["epochs"]]  # noqa: E731
    return keep(a) == keep(b) and accuracies(a) == accuracies(b)


def test_the_network_is_the_documented_one():
    net = digits_network(seed=0)
    n_in = 64
    W = np.asarray(net.weights)
    assert (net.n_inputs, net.n_neurons, net.w_exp, net.w_exp_rec) == (64, 256, 0, 4)
    assert W[:n_in].min() >= 0 and W[:n_in].max() <= 31
    rec = W[n_in:]
    assert np.all(np.diag(rec) == 0) and np.all(rec[~np.eye(256, dtype=bool)] == -128)
    assert net.plastic_src.tolist() == [True] * 64 + [False] * 256
    assert net.plastic_dst.all() and not net.learning.enabled
    assert net.learning.x_tar == DEFAULT_CONFIG["x_tar"] and net.learning.soft_bound


def test_a_reduced_run_learns_and_depends_on_the_seed():
    a = run_digits(REDUCED, seed=3)
    assert a["n_train"] == 40 and a["n_eval"] == 20 and a["eval_set"] == "test"
    assert len(a["epochs"]) == 2 and 0 <= a["accuracy"] <= 1
    assert a["theta"]["max"] > 0                       # the thresholds adapted on chip
    assert not same(a, run_digits(REDUCED, seed=4))
    json.dumps(a)                                       # the record is JSON-ready


@pytest.mark.parametrize("stimulus", ["device", "host"])
def test_batched_readout_and_the_plain_model_give_the_same_run(stimulus):
    config = {**REDUCED, "stimulus": stimulus}
    batched = run_digits(config, seed=1)
    per_image = run_digits({**config, "batched": False}, seed=1)
    assert batched["batched_readout"] and not per_image["batched_readout"]
    with spikecore.connect("model://") as core:         # Model, not FastModel
        plain = run_digits({**config, "batched": False}, seed=1, core=core)
    assert same(batched, per_image) and same(batched, plain)


def test_validation_does_not_touch_the_test_set():
    record = run_digits({**REDUCED, "validation": 0.2, "n_test": None}, seed=0)
    assert record["eval_set"] == "validation"
    assert record["n_eval"] == 252                      # 20 % of the 1,257 training images


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="unknown digits setting 'vht'"):
        run_digits({"vht": 3})
    with pytest.raises(ValueError, match="epochs must be a positive integer, not 0"):
        run_digits({"epochs": 0})


def test_cli_is_deterministic_with_its_last_line_json_and_plots(tmp_path, capsys):
    # The same run twice (the CLI, then the function): the same record.
    args = ["digits", "--seed", "2", "--epochs", "1", "--n-train", "40", "--n-test", "20",
            "--json", str(tmp_path / "run.json"), "--plot", str(tmp_path / "plots")]
    for key in ("n_neurons", "train_steps", "test_steps"):
        args += ["--set", f"{key}={REDUCED[key]}"]
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    record = json.loads((tmp_path / "run.json").read_text())
    again = json.loads(json.dumps(run_digits({**REDUCED, "epochs": 1}, seed=2)))
    assert same({**record, "plots": None}, {**again, "plots": None})
    assert re.fullmatch(r"test accuracy \d\.\d{3} \(n_test=20, seed 2\)", lines[-1])
    assert lines[-1] == f"test accuracy {record['accuracy']:.3f} (n_test=20, seed 2)"
    assert record["seed"] == 2 and record["config"]["epochs"] == 1
    assert {"spikecore", "numpy", "scikit-learn"} <= set(record["versions"])
    for name in ("receptive_fields", "confusion", "accuracy", "theta"):
        assert (tmp_path / "plots" / f"{name}.png").stat().st_size > 1000


def test_cli_refuses_a_bad_setting(capsys):
    assert main(["digits", "--set", "nope=1"]) == 2
    assert "unknown digits setting 'nope'" in capsys.readouterr().err


@needs_top
def test_sim_gives_the_same_run_as_the_model():
    # The virtual board of 64 + 16 (built once, cached): same spikes, so the same weights,
    # theta, labels and accuracy as the golden model.
    config = {**REDUCED, "n_train": 24, "n_test": 10, "epochs": 1}
    on_model = run_digits(config, seed=5)
    on_sim = run_digits(config, seed=5, url="sim://")
    assert on_sim["backend"] == "sim"
    assert same(on_model, on_sim)


@pytest.mark.slow
def test_the_full_run_reaches_the_goal_on_seed_0():
    record = run_digits(seed=0)
    assert record["n_eval"] == 540 and record["accuracy"] >= 0.88
