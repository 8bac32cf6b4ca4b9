"""The spikecore command line on the golden model."""

import numpy as np

import spikecore
from spikecore.cli import main
from spikecore.model import Model
from randnet import random_inputs, random_network


def test_run_saves_spikes_and_plot(tmp_path, capsys):
    net = random_network(4, 6, seed=5)
    inputs = random_inputs(40, 4, seed=5)
    net.save(tmp_path / "net.npz")
    np.save(tmp_path / "in.npy", inputs)
    status = main(["run", "model://", str(tmp_path / "net.npz"), str(tmp_path / "in.npy"),
                   "-o", str(tmp_path / "out.npy"), "--plot", str(tmp_path / "r.png")])
    assert status == 0
    assert np.array_equal(np.load(tmp_path / "out.npy"), Model(net).run(inputs))
    assert (tmp_path / "r.png").stat().st_size > 1000
    assert "40 steps" in capsys.readouterr().out


def test_run_reports_bad_inputs_clearly(tmp_path, capsys):
    spikecore.Network(4, 6).save(tmp_path / "net.npz")
    np.save(tmp_path / "in.npy", np.zeros((3, 5), bool))
    status = main(["run", "model://", str(tmp_path / "net.npz"), str(tmp_path / "in.npy"),
                   "-o", str(tmp_path / "out.npy")])
    assert status == 2
    assert "inputs must have shape (steps, 4), not (3, 5)" in capsys.readouterr().err
    assert not (tmp_path / "out.npy").exists()


def test_demo_on_the_model_learns(tmp_path, capsys):
    assert main(["demo", "--steps", "200", "--plot", str(tmp_path / "demo.png")]) == 0
    out = capsys.readouterr().out
    assert "spikes" in out and (tmp_path / "demo.png").stat().st_size > 1000
    from spikecore.demo import run_demo
    with spikecore.connect("model://") as core:
        result = run_demo(core, steps=2000, out=lambda *_: None)
    assert result["spikes"] > 0
    # STDP: the pattern's synapses grow, the noise synapses do not.
    assert result["pattern_after"] > result["pattern_before"] + 5
    assert result["background_after"] < result["background_before"]


def test_info_on_the_model(capsys):
    assert main(["info", "model://"]) == 0
    assert '"backend": "model"' in capsys.readouterr().out


def test_run_on_the_generators_saves_counts(tmp_path, capsys):
    net = random_network(4, 6, seed=6, stimulus=True)
    net.save(tmp_path / "net.npz")
    status = main(["run", "model://", str(tmp_path / "net.npz"), "--steps", "50", "--counts",
                   "-o", str(tmp_path / "counts.npy")])
    assert status == 0
    with spikecore.connect("model://") as core:
        core.load(net)
        assert np.array_equal(np.load(tmp_path / "counts.npy"), core.run(steps=50).sum(axis=0))
    assert "50 steps" in capsys.readouterr().out


def test_run_needs_inputs_or_steps(tmp_path, capsys):
    spikecore.Network(4, 6).save(tmp_path / "net.npz")
    status = main(["run", "model://", str(tmp_path / "net.npz"), "-o", str(tmp_path / "o.npy")])
    assert status == 2
    assert "run takes an inputs file or --steps N, not neither" in capsys.readouterr().err


def test_run_refuses_counts_with_a_plot_and_bad_steps(tmp_path, capsys):
    spikecore.Network(4, 6).save(tmp_path / "net.npz")
    base = ["run", "model://", str(tmp_path / "net.npz"), "-o", str(tmp_path / "o.npy")]
    assert main(base + ["--steps", "5", "--counts", "--plot", str(tmp_path / "r.png")]) == 2
    assert "--plot draws spikes; it does not go with --counts" in capsys.readouterr().err
    for bad in ("0", "-3", "ten"):
        try:
            status = main(base + ["--steps", bad])
        except SystemExit as exc:           # argparse refuses the value itself
            status = exc.code
        assert status == 2
        assert "must be a positive integer" in capsys.readouterr().err
    assert not (tmp_path / "o.npy").exists()
