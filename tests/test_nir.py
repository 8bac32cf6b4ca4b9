"""spikecore.nir: NIR import and export, validated against snnTorch's own simulation.

The fixtures (tests/fixtures/nir/, written by tools/make_nir_fixtures.py with torch) hold three
snnTorch networks exported to NIR and snnTorch's spikes on 100 fixed random input trains.
"""

import json
from pathlib import Path

import numpy as np
import pytest

nir = pytest.importorskip("nir")   # the PyPI package, not spikecore.nir

import spikecore                                    # noqa: E402
import spikecore.nir as snir                        # noqa: E402
from simboard import N_INPUTS, N_NEURONS, needs_top, sim_exe  # noqa: E402,F401 (fixture)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "nir"
MS = 1e-3


# --- Validation against snnTorch -------------------------------------------------------------

def _unpack(f, key):
    return np.unpackbits(f[key], axis=-1, count=int(f["n_" + key])).astype(bool)


def _fixture(name):
    with np.load(FIXTURES / f"{name}.npz") as f:
        spikes = {k[len("spikes_"):]: _unpack(f, k) for k in f.files
                  if k.startswith("spikes_")}
        return (FIXTURES / f"{name}.nir", float(f["dt"]), json.loads(str(f["t_ref"])),
                _unpack(f, "inputs"), spikes)


def _labels(name):
    with np.load(FIXTURES / f"{name}.npz") as f:
        return f["labels"].astype(int)


def _run_trials(imp, x, core=None):
    """Run every trial from the reset state; return {node: bool (trials, steps, n)}."""
    runs = []
    for trial in x:
        if core is None:
            runs.append(imp.read(imp.target.run(imp.stimulus(trial))))
        else:
            core.reset()
            runs.append(imp.run(core, trial))
    return {name: np.stack([r[name] for r in runs]) for name in runs[0]}


def agreement(ours, theirs):
    """Return (per-neuron count correlations, pooled correlation) of spike trains
    (trials, steps, n): neuron i's correlation is over the trials' spike counts. A neuron whose
    count does not vary (in either) has none: nan, which fails every comparison."""
    a, b = ours.sum(axis=1), theirs.sum(axis=1)
    per_neuron = np.array([np.corrcoef(a[:, i], b[:, i])[0, 1]
                           if a[:, i].std() > 0 and b[:, i].std() > 0 else np.nan
                           for i in range(b.shape[1])])
    return per_neuron, np.corrcoef(a.ravel(), b.ravel())[0, 1]


def output_class(spikes):
    """The output class of each trial: the argmax of the output neurons' spike counts."""
    return spikes.sum(axis=1).argmax(axis=1)


@pytest.mark.parametrize("name", ["cubalif", "feedforward", "recurrent"])
def test_fixture_is_a_sound_experiment(name):
    """In snnTorch, every neuron of every node fires in at least 90 % of the trials with a count
    that varies from trial to trial, and every output neuron wins some trials (the fixture
    design, tools/make_nir_fixtures.py): no neuron is left out of the comparison below."""
    path, dt, _, _, theirs = _fixture(name)
    for node, spikes in theirs.items():
        counts = spikes.sum(axis=1)
        assert np.all((counts > 0).mean(axis=0) >= 0.9), node
        assert np.all(counts.std(axis=0) > 0), node
    output = theirs[snir.from_nir(path, dt=dt).outputs["output"]]
    assert set(output_class(output)) == set(range(output.shape[2]))


@pytest.mark.parametrize("name", ["cubalif", "feedforward", "recurrent"])
def test_float_import_is_snntorch_exactly(name):
    """Before rounding, the imported dynamics are snnTorch's: every spike of every trial."""
    path, dt, t_ref, x, theirs = _fixture(name)
    imp = snir.from_nir(path, dt=dt, t_ref=t_ref)
    ours = _run_trials(imp, x)
    for node, spikes in theirs.items():
        assert np.array_equal(ours[node], spikes), node


@pytest.mark.parametrize("name", ["cubalif", "feedforward", "recurrent"])
def test_agreement_with_snntorch(name):
    """spikecore (model://) vs snnTorch, over the 100 trials: the spike-count correlation of
    every neuron of every node ≥ 0.95, and output class (argmax of the output counts)
    agreement ≥ 95 %."""
    path, dt, t_ref, x, theirs = _fixture(name)
    imp = snir.from_nir(path, dt=dt, t_ref=t_ref)
    print(f"\n{name}: {imp.network}, delays {imp.delay}\n{imp.report}")
    with spikecore.connect("model://") as core:
        core.load(imp.network)
        ours = _run_trials(imp, x, core)
    for node, spikes in theirs.items():
        per_neuron, pooled = agreement(ours[node], spikes)
        counts = spikes.sum(axis=1)
        print(f"  {node}: count correlation per neuron min {per_neuron.min():.4f} median "
              f"{np.median(per_neuron):.4f} mean {per_neuron.mean():.4f} over all "
              f"{per_neuron.size} neurons, pooled {pooled:.4f}; spikes identical "
              f"{np.mean(ours[node] == spikes):.2%}; snnTorch counts per trial "
              f"{counts.min()} … {counts.max()}")
        assert per_neuron.size == spikes.shape[2]
        assert per_neuron.min() >= 0.95, f"{node}: neuron {np.nanargmin(per_neuron)}"
        assert pooled >= 0.95
    output = imp.outputs["output"]
    want = output_class(theirs[output])
    classes = np.mean(output_class(ours[output]) == want)
    print(f"  output class agreement {classes:.0%} (snnTorch's class is the trial's label in "
          f"{np.mean(want == _labels(name)):.0%})")
    assert classes >= 0.95


def test_rsynaptic_resets_one_step_late():
    """snnTorch's RSynaptic zero reset acts in the step after a spike (whatever reset_delay
    says): with NIR's immediate reset (t_ref = 0) the recurrent layer does not match."""
    path, dt, _, x, theirs = _fixture("recurrent")
    ours = _run_trials(snir.from_nir(path, dt=dt), x[:10])
    assert not np.array_equal(ours["rsyn.lif"], theirs["rsyn.lif"][:10])


# --- Hand-derived import ---------------------------------------------------------------------

def _cuba(n, tau_syn, tau_mem, dt, threshold=1.0, **kw):
    """A CubaLIF whose Euler gains are 1 (r = tau_mem/dt, w_in = tau_syn/dt), as snnTorch's."""
    full = lambda v: np.full(n, float(v))   # noqa: E731
    fields = dict(tau_syn=full(tau_syn), tau_mem=full(tau_mem), r=full(tau_mem / dt),
                  v_leak=full(0), v_threshold=full(threshold), w_in=full(tau_syn / dt))
    fields.update({k: full(v) if np.ndim(v) == 0 else np.asarray(v, float)
                   for k, v in kw.items()})
    return nir.CubaLIF(**fields)


def _lif(n, tau, dt, threshold=1.0):
    full = lambda v: np.full(n, float(v))   # noqa: E731
    return nir.LIF(tau=full(tau), r=full(tau / dt), v_leak=full(0), v_threshold=full(threshold))


def test_hand_derived_import():
    """Input(1) → Affine(w = 0.5, b = 0.25) → CubaLIF(tau_syn = 4 ms, tau_mem = 8 ms) at
    dt = 1 ms: du = 4096/4 = 1024, dv = 4096/8 = 512; both Euler gains are 1.

    Worst case |u| ≤ (0.5 + 0.25)·4 = 3, |v| ≤ 3·8 = 24: k ≤ (2^23 − 1)/24 = 349525.3. The
    weight wants k = 2^w_exp·127/0.5 = 254·2^w_exp: w_exp = 10 (260096). So W = 127, the
    always-on bias axon (input 1) gets 0.25·260096/1024 = 63.5 → 64, vth = 260096.
    """
    dt = 1 * MS
    graph = nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([1])),
               "fc": nir.Affine(weight=np.array([[0.5]]), bias=np.array([0.25])),
               "lif": _cuba(1, 4 * MS, 8 * MS, dt), "out": nir.Output(output_type=np.array([1]))},
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")])
    imp = snir.from_nir(graph, dt=dt)
    net = imp.network
    assert (net.n_inputs, net.n_neurons, net.w_exp) == (2, 1, 10)
    assert (int(net.du[0]), int(net.dv[0]), int(net.vth[0])) == (1024, 512, 260096)
    assert net.weights[:, 0].tolist() == [127, 64, 0]
    assert imp.inputs["in"].tolist() == [0] and imp.bias_axons == {0: 1}
    assert imp.neurons == {"lif": [0]} and imp.outputs == {"out": "lif"}
    assert imp.stimulus(np.array([[1], [0]])).tolist() == [[True, True], [False, True]]
    # 63.5 → 64 units is 0.5 unit off; the largest weight into the neuron is 127 units.
    assert imp.report.error("bias (always-on axon)") == pytest.approx(0.5 / 127, rel=1e-6)


def test_layers_run_one_step_behind_and_read_aligns_them():
    """in → Linear(2.0) → LIF a → Linear(2.0) → LIF b, threshold 1, tau = dt (no memory): in
    NIR an input spike at t makes a and b fire at t. In spikecore b hears a one step later
    (delay 1); stimulus() appends a step and read() shifts b back."""
    dt = 1 * MS
    graph = nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([1])),
               "w1": nir.Linear(weight=np.array([[2.0]])), "a": _lif(1, dt, dt),
               "w2": nir.Linear(weight=np.array([[2.0]])), "b": _lif(1, dt, dt),
               "out": nir.Output(output_type=np.array([1]))},
        edges=[("in", "w1"), ("w1", "a"), ("a", "w2"), ("w2", "b"), ("b", "out")])
    imp = snir.from_nir(graph, dt=dt)
    assert imp.delay == {"a": 0, "b": 1} and imp.latency == 1
    x = np.zeros((6, 1), bool)
    x[[1, 4]] = True
    stimulus = imp.stimulus(x)
    assert stimulus.shape == (7, 1)
    with spikecore.connect("model://") as core:
        core.load(imp.network)
        raw = core.run(stimulus)
    assert np.flatnonzero(raw[:, imp.neurons["b"][0]]).tolist() == [2, 5]
    out = imp.read(raw)
    assert np.flatnonzero(out["a"]).tolist() == [1, 4] == np.flatnonzero(out["out"]).tolist()


def test_geometry_padding_and_refusal():
    path, dt, t_ref, x, _ = _fixture("cubalif")
    small = snir.from_nir(path, dt=dt, t_ref=t_ref)
    padded = snir.from_nir(path, dt=dt, t_ref=t_ref, n_inputs=20, n_neurons=12)
    assert (padded.network.n_inputs, padded.network.n_neurons) == (20, 12)
    with spikecore.connect("model://") as a, spikecore.connect("model://") as b:
        a.load(small.network)
        b.load(padded.network)
        assert np.array_equal(small.run(a, x[0])["lif"], padded.run(b, x[0])["lif"])
        assert not b.run(padded.stimulus(x[1]))[:, 8:].any()    # padding neurons are silent
    with pytest.raises(ValueError, match="needs 8 neurons .* but the target has 6"):
        snir.from_nir(path, dt=dt, n_neurons=6)
    with pytest.raises(ValueError, match="needs 17 input axons .* but the target has 16"):
        snir.from_nir(path, dt=dt, n_inputs=16)


# --- What is refused -------------------------------------------------------------------------

def _chain(*middle, n=2, dt=1 * MS):
    nodes = {"in": nir.Input(input_type=np.array([n]))}
    nodes.update({f"n{i}": node for i, node in enumerate(middle)})
    nodes["out"] = nir.Output(output_type=np.array([n]))
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:])), type_check=False)


@pytest.mark.parametrize("node, message", [
    (nir.Delay(delay=np.ones(2)), "NIR node 'n0': Delay is not supported: spikecore has no "
                                  "synaptic delays"),
    (nir.Flatten(input_type={"input": np.array([2])}), "'n0': Flatten is not supported"),
    (nir.LI(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2)),
     "'n0': LI is not supported: a non-spiking leaky integrator is a readout of v, which needs "
     "state probes"),
    (nir.Threshold(threshold=np.ones(2)), "'n0': Threshold is not supported"),
])
def test_unsupported_nodes_are_refused_by_name(node, message):
    with pytest.raises(ValueError, match=message):
        snir.from_nir(_chain(node, _cuba(2, 4 * MS, 8 * MS, 1 * MS)), dt=1 * MS)


def test_conv_is_refused_by_name():
    conv = nir.Conv1d(input_shape=2, weight=np.ones((1, 1, 1)), stride=1, padding=0,
                      dilation=1, groups=1, bias=np.zeros(1))
    with pytest.raises(ValueError, match="'n0': Conv1d is not supported: spikecore's synapses"):
        snir.from_nir(_chain(conv), dt=1 * MS)


@pytest.mark.parametrize("fields, message", [
    ({"v_reset": 0.1}, "'n0': v_reset = 0.1 is not 0: spikecore resets v to zero"),
    ({"v_threshold": -1.0}, "'n0': v_threshold = -1.0 is negative"),
    ({"tau_syn": 0.5 * MS}, r"'n0': tau_syn = 0.0005 s is shorter than dt = 0.001 s"),
])
def test_parameters_spikecore_cannot_express_are_refused(fields, message):
    node = _cuba(2, **{"tau_syn": 4 * MS, "tau_mem": 8 * MS, "dt": 1 * MS, **fields})
    with pytest.raises(ValueError, match=message):
        snir.from_nir(_chain(node), dt=1 * MS)


def test_paths_of_different_depth_are_refused():
    """in → a → b and in → b: b would hear a one step late but in on time."""
    dt = 1 * MS
    graph = nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([1])), "a": _lif(1, 2 * dt, dt),
               "b": _lif(1, 2 * dt, dt), "out": nir.Output(output_type=np.array([1]))},
        edges=[("in", "a"), ("a", "b"), ("in", "b"), ("b", "out")])
    with pytest.raises(ValueError, match="'b': would hear .* paths of different depth"):
        snir.from_nir(graph, dt=dt)


def test_non_spiking_readout_is_refused():
    graph = _chain(_cuba(2, 4 * MS, 8 * MS, 1 * MS), nir.Linear(weight=np.eye(2)))
    with pytest.raises(ValueError, match="'out': is fed by 'n1', not by one spiking node"):
        snir.from_nir(graph, dt=1 * MS)


def test_v_leak_behind_the_graph_is_refused():
    dt = 1 * MS
    graph = _chain(_lif(2, 2 * dt, dt), nir.Linear(weight=np.eye(2)),
                   nir.LIF(tau=np.full(2, 2 * dt), r=np.full(2, 2.0), v_leak=np.full(2, 0.5),
                           v_threshold=np.ones(2)))
    with pytest.raises(ValueError, match="'n2': v_leak ≠ 0 acts from step 0"):
        snir.from_nir(graph, dt=dt)


def test_bad_files_and_arguments():
    with pytest.raises(FileNotFoundError):
        snir.from_nir("/nonexistent.nir", dt=1e-4)
    with pytest.raises(TypeError, match="takes a nir.NIRGraph or a path"):
        snir.from_nir(42, dt=1e-4)
    with pytest.raises(ValueError, match="dt must be a positive"):
        snir.from_nir(FIXTURES / "cubalif.nir", dt=0)
    with pytest.raises(ValueError, match="is not a NIR file"):
        snir.from_nir(FIXTURES / "cubalif.npz", dt=1e-4)


# --- Export and round trip -------------------------------------------------------------------

def _random_net(seed, du=None, dv=None):
    rng = np.random.default_rng(seed)
    net = spikecore.Network(5, 7, seed=seed)
    net.weights[5:] = rng.integers(-128, 128, (7, 7))
    net.bias[:] = rng.integers(-1000, 1000, 7)
    net.du[:] = rng.integers(1, 4097, 7) if du is None else du
    net.dv[:] = rng.integers(1, 4097, 7) if dv is None else dv
    net.vth[:] = rng.integers(0, 100000, 7)
    net.w_exp = int(rng.integers(0, 16))
    return net


def _same(a, b):
    assert (a.n_inputs, a.n_neurons, a.w_exp) == (b.n_inputs, b.n_neurons, b.w_exp)
    for name in a._ARRAYS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.learning == b.learning


@pytest.mark.parametrize("seed", range(4))
def test_round_trip_through_a_file(tmp_path, seed):
    net = _random_net(seed)
    net.t_ref[:] = 0
    nir.write(tmp_path / "net.nir", snir.to_nir(net, dt=1e-3))
    _same(snir.from_nir(tmp_path / "net.nir", dt=1e-3).network, net)


def test_round_trip_keeps_extras_as_metadata(tmp_path):
    net = _random_net(9)
    net.learning.enabled = True
    net.learning.a_plus = 3
    net.plastic_src[2] = False
    with pytest.raises(ValueError, match="t_ref ≠ 0 .* learning enabled .* keep_extras=True"):
        snir.to_nir(net, dt=1e-3)
    nir.write(tmp_path / "net.nir", snir.to_nir(net, dt=1e-3, keep_extras=True))
    _same(snir.from_nir(tmp_path / "net.nir", dt=1e-3).network, net)


def test_round_trip_of_lif_and_if_populations():
    lif = _random_net(1, du=4096)
    lif.t_ref[:] = 0
    graph = snir.to_nir(lif, dt=1e-3)
    assert isinstance(graph.nodes["neurons"], nir.LIF)
    _same(snir.from_nir(graph, dt=1e-3).network, lif)
    integrate = _random_net(2, du=4096, dv=0)
    integrate.t_ref[:] = 0
    integrate.bias[:] = 0
    graph = snir.to_nir(integrate, dt=1e-3)
    assert isinstance(graph.nodes["neurons"], nir.IF)
    _same(snir.from_nir(graph, dt=1e-3).network, integrate)
    integrate.du[0] = 100
    with pytest.raises(ValueError, match="neuron 0 has dv = 0"):
        snir.to_nir(integrate, dt=1e-3)


def test_export_reads_back_in_snntorch_units():
    """to_nir's CubaLIF has tau = dt·4096/d and Euler gains of 1: snnTorch's import would take
    alpha = 1 − du/4096, beta = 1 − dv/4096 and weights W·2^w_exp."""
    net = spikecore.Network(2, 1, seed=None)
    net.du[:], net.dv[:], net.t_ref[:], net.w_exp = 1024, 512, 0, 3
    net.weights[0, 0] = 5
    node = snir.to_nir(net, dt=1e-3).nodes["neurons"]
    assert node.tau_syn[0] == pytest.approx(4e-3) and node.tau_mem[0] == pytest.approx(8e-3)
    assert node.w_in[0] * 1e-3 / node.tau_syn[0] == pytest.approx(1)
    assert node.r[0] * 1e-3 / node.tau_mem[0] == pytest.approx(1)
    assert snir.to_nir(net, dt=1e-3).nodes["w_in"].weight[0, 0] == 40


# --- The virtual board -----------------------------------------------------------------------

@pytest.mark.cocotb
@needs_top
def test_imported_network_is_bit_exact_on_sim(sim_exe):
    """A recurrent snnTorch-style graph with biases, padded to the virtual board's geometry."""
    dt = 1 * MS
    rng = np.random.default_rng(23)
    graph = nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([5])),
               "fc1": nir.Affine(weight=rng.normal(0, 1, (6, 5)), bias=rng.normal(0, .2, 6)),
               "hidden": _cuba(6, 4 * dt, 6 * dt, dt),
               "rec": nir.Affine(weight=rng.normal(0, .5, (6, 6)), bias=rng.normal(0, .1, 6)),
               "fc2": nir.Linear(weight=rng.normal(0, 1, (4, 6))),
               "top": _lif(4, 3 * dt, dt), "out": nir.Output(output_type=np.array([4]))},
        edges=[("in", "fc1"), ("fc1", "hidden"), ("hidden", "rec"), ("rec", "hidden"),
               ("hidden", "fc2"), ("fc2", "top"), ("top", "out")])
    imp = snir.from_nir(graph, dt=dt, n_inputs=N_INPUTS, n_neurons=N_NEURONS)
    x = rng.random((200, 5)) < 0.3
    with spikecore.connect("model://") as model, \
            spikecore.connect("sim://", n_inputs=N_INPUTS, n_neurons=N_NEURONS) as sim:
        model.load(imp.network)
        sim.load(imp.network)
        want, got = imp.run(model, x), imp.run(sim, x)
    assert want["top"].sum() > 0 and want["hidden"].sum() > 0
    for name in want:
        assert np.array_equal(got[name], want[name]), name


# --- The command line (once the lead has applied /tmp/issue23_patches.md) --------------------

def _cli_has_nir():
    from spikecore import cli
    return hasattr(cli, "cmd_import")


needs_cli = pytest.mark.skipif(not _cli_has_nir(), reason="spikecore import not in the CLI yet")


@needs_cli
def test_cli_import_prints_the_report(tmp_path, capsys):
    from spikecore.cli import main
    path, dt, t_ref, _, _ = _fixture("feedforward")
    assert main(["import", str(path), "--dt", str(dt), "-o", str(tmp_path / "net.npz")]) == 0
    out = capsys.readouterr().out
    assert "tau_mem" in out and "w_exp =" in out and "lif2" in out
    net = spikecore.Network.load(tmp_path / "net.npz")
    _same(net, snir.from_nir(path, dt=dt).network)


@needs_cli
def test_cli_run_takes_a_nir_file(tmp_path, capsys):
    from spikecore.cli import main
    path, dt, t_ref, x, _ = _fixture("cubalif")
    np.save(tmp_path / "in.npy", x[0])
    assert main(["run", "model://", str(path), str(tmp_path / "in.npy"), "--dt", str(dt),
                 "-o", str(tmp_path / "out.npy")]) == 0
    imp = snir.from_nir(path, dt=dt)
    with spikecore.connect("model://") as core:
        core.load(imp.network)
        want = imp.run(core, x[0])["output"]
    assert np.array_equal(np.load(tmp_path / "out.npy"), want)
    assert main(["run", "model://", str(path), str(tmp_path / "in.npy"),
                 "-o", str(tmp_path / "out.npy")]) == 2
    assert "--dt" in capsys.readouterr().err
