"""spikecore sweep: a tiny digits sweep on a LocalCluster of 2 worker processes fills its table
(the same numbers as run_digits called directly), a failing task is reported in its row without
losing the others, the table is written as CSV, JSON and a plot, and the CLI runs one sweep on a
cluster of its own and leaves no process behind."""

import csv
import json

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("distributed")

import psutil                                               # noqa: E402 (distributed's)
from distributed import LocalCluster                        # noqa: E402

from spikecore.cli import main                              # noqa: E402
from spikecore.digits import run_digits                     # noqa: E402
from spikecore.sweep import plot_sweep, summary, sweep, write_csv, write_json  # noqa: E402

#: About a third of a second per task: 16 neurons, 40 training and 20 test images.
TINY = {"n_neurons": 16, "n_train": 40, "n_test": 20, "train_steps": 20, "test_steps": 30,
        "epochs": 1}
COLUMNS = ["th_imp", "rate", "seed", "accuracy", "accuracy_vote", "accuracy_weighted", "eval_set",
           "n_train", "n_eval", "backend", "url", "worker", "seconds", "error"]


def test_a_tiny_sweep_fills_its_table_reports_failures_and_writes_it(tmp_path):
    # An existing cluster (by its address); rate 2 is refused by run_digits in its tasks.
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster:
        rows = sweep({"th_imp": [100, 168], "rate": [0.5, 2.0]}, seeds=[0, 1], config=TINY,
                     scheduler=cluster.scheduler_address, progress=False)
        workers = set(cluster.scheduler_info["workers"])
    assert [(r["th_imp"], r["rate"], r["seed"]) for r in rows] == \
        [(t, rate, seed) for t in (100, 168) for rate in (0.5, 2.0) for seed in (0, 1)]
    assert all(list(r) == COLUMNS for r in rows)
    good = [r for r in rows if r["rate"] == 0.5]
    bad = [r for r in rows if r["rate"] == 2.0]
    assert all(r["error"] is None for r in good), [r["error"] for r in good]
    assert all(0 <= r["accuracy"] <= 1 and r["n_train"] == 40 and r["n_eval"] == 20 and
               r["backend"] == "model" and r["url"] == "model://" for r in good)
    assert {r["worker"] for r in rows} <= workers
    # A failing task: the exception in its row, no results; the others are all there.
    assert all(r["error"] == "ValueError: rate must be in (0, 1], not 2.0" and
               r["accuracy"] is None and r["url"] == "model://" for r in bad)

    # Determinism: a row is what run_digits gives for its settings and seed, here.
    direct = run_digits({**TINY, "th_imp": 168, "rate": 0.5}, seed=1)
    assert good[3]["accuracy"] == direct["accuracy"]
    assert good[3]["accuracy_vote"] == direct["epochs"][-1]["accuracy_by_readout"]["vote"]

    points = summary(rows)
    assert [(p["th_imp"], p["rate"], p["n"], p["failed"]) for p in points] == \
        [(100, 0.5, 2, 0), (100, 2.0, 0, 2), (168, 0.5, 2, 0), (168, 2.0, 0, 2)]
    assert points[0]["min"] <= points[0]["mean"] <= points[0]["max"]
    assert points[1]["mean"] is None

    write_csv(rows, tmp_path / "sweep.csv")
    write_json(rows, tmp_path / "sweep.json")
    plot_sweep(rows, tmp_path / "sweep.png")
    with open(tmp_path / "sweep.csv") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == COLUMNS and len(table) == 8
    assert table[7]["accuracy"] == "" and table[7]["error"] == bad[3]["error"]
    assert float(table[5]["accuracy"]) == good[3]["accuracy"] and table[5]["error"] == ""
    assert json.loads((tmp_path / "sweep.json").read_text()) == rows
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_grids_are_refused_before_any_cluster_starts():
    with pytest.raises(ValueError, match="unknown digits setting 'th_ipm' in the grid; the "
                                         "settings are n_neurons, rate, "):
        sweep({"th_ipm": [1, 2]}, seeds=[0])
    with pytest.raises(ValueError, match="give the seeds with seeds="):
        sweep({"seed": [1, 2]})
    with pytest.raises(TypeError, match="the grid's th_imp must be a list of values, not 100"):
        sweep({"th_imp": 100})
    with pytest.raises(ValueError, match="th_imp is both swept"):
        sweep({"th_imp": [100]}, config={"th_imp": 168})
    with pytest.raises(ValueError, match="seeds must be non-negative integers, not -1"):
        sweep({"th_imp": [100]}, seeds=[-1])
    with pytest.raises(ValueError, match="one board per worker; model://"):
        sweep({"th_imp": [100]}, url=["model://", "sim://"])


def test_cli_bad_grid_key_is_one_line(capsys):
    assert main(["sweep", "--grid", "vht=1,2", "--seeds", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spikecore: error: unknown digits setting "
                                               "'vht' in the grid; the settings are n_neurons")


@pytest.mark.slow      # the API test above covers a LocalCluster sweep in make test
def test_cli_sweeps_on_its_own_local_cluster_and_closes_it(tmp_path, capsys):
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    args = ["sweep", "--grid", "th_imp=100,168", "--grid", "rate=0.5,2", "--seeds", "0",
            "--workers", "1", "--n-train", "40", "--n-test", "20", "--no-progress",
            "--set", "n_neurons=16", "--set", "train_steps=20", "--set", "test_steps=30",
            "--csv", str(tmp_path / "t.csv"), "--json", str(tmp_path / "t.json"),
            "--plot", str(tmp_path / "t.png")]
    assert main(args) == 1                              # two tasks failed: rate 2
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("4 tasks, 2 failed, ")
    rows = json.loads((tmp_path / "t.json").read_text())
    assert [(r["th_imp"], r["rate"], r["error"] is None) for r in rows] == \
        [(100, 0.5, True), (100, 2, False), (168, 0.5, True), (168, 2, False)]
    assert (tmp_path / "t.csv").exists() and (tmp_path / "t.png").exists()
    # The cluster's processes are gone (multiprocessing's resource tracker stays: it serves
    # this process for its lifetime).
    new = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and
           "resource_tracker" not in " ".join(p.cmdline())]
    _, alive = psutil.wait_procs(new, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
