"""The 8x8 digits task, learned on chip: competitive STDP with an adaptive threshold.

scikit-learn's ``load_digits`` (1,797 images of 8x8 pixels in 0 … 16) is split 70/30 with
``train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)``. 64 inputs fire
Bernoulli spikes at ``pixel / 16 · rate`` per step into 256 neurons that inhibit each other
(a fixed −128 between distinct neurons); their input weights learn by STDP with an adaptive
threshold (model v2: theta, x_tar, soft bounds), on the core:

1. **train** — ``core.load`` once, ``core.set_learning(enabled=True)``, then per image
   ``core.run`` (``train_steps`` steps) and ``core.reset()``; nothing is written to the core
   but input spikes. Each epoch presents the training images in a new random order.
2. **label** — learning off; each training image is presented for ``test_steps`` steps and
   every neuron is labelled with the class it fired most for (``spikecore.readout``).
3. **test** — the test images likewise; the class whose neurons fired most is the
   prediction.

Labelling and testing run on the core itself, or (``batched``, on ``model://``) on the
network read back from it with ``spikecore.batch.run_batch``, which gives the same spikes.

:func:`run_digits` is a pure function of a configuration and a seed (plus where to run it):
it returns a JSON-ready dict, so a sweep can call it per grid point.
"""

import platform
import time

import numpy as np

from . import encode, readout, spec
from .batch import FastModelCore, run_batch
from .model import generate_steps
from .network import Learning
from .topology import Topology, uniform

__all__ = ["DEFAULT_CONFIG", "full_config", "open_core", "load_split", "digits_network",
           "run_digits", "write_plots"]

N_CLASSES = 10
N_PIXELS = 64
PIXEL_MAX = 16

#: The configuration of ``spikecore digits``, the same for every seed (tuned on a validation
#: split of the training part only; docs/experiments.md).
DEFAULT_CONFIG = {
    # Presentation.
    "n_neurons": 256,
    "rate": 0.5,               # spike probability per step of a white pixel (16)
    "train_steps": 80,         # steps per training image
    "test_steps": 100,         # steps per labelling and test image
    "epochs": 1,
    # Neurons.
    "vth": 2200, "du": 4096, "dv": 0, "t_ref": 1,
    "w_exp": 0, "w_exp_rec": 4,
    "inhibition": -128,        # fixed weight between distinct neurons
    "w_init": [0, 32],         # initial input weights, uniform in [low, high)
    # Learning (spikecore.Learning).
    "a_plus": 32, "a_minus": 0, "x_imp": 64, "y_imp": 64, "x_decay": 192, "y_decay": 224,
    "x_tar": 59, "w_min": -63, "w_max": 63, "soft_bound": True,
    "th_imp": 168, "th_shift": 14,
    # Readout (spikecore.readout.Readout).
    "readout": "weighted",
    # Evaluation: 0 scores on the test set; a fraction in (0, 1) carves a stratified
    # validation split from the training part, trains on the rest and scores on it.
    "validation": 0.0,
    # Evaluate after every epoch (accuracy per epoch), not only after the last.
    "eval_each_epoch": True,
    # Label and test on model:// with spikecore.batch.run_batch (identical spikes).
    "batched": True,
    # Where the rate code is drawn: "device", the core's input generators (set_rates and
    # present: the link carries rates and counts, not spikes), or "host" (spikecore.encode's
    # Bernoulli draws, streamed every step).
    "stimulus": "device",
    # Use only the first n training / test images (None: all); for quick runs and tests.
    "n_train": None, "n_test": None,
}

_LEARNING = ("a_plus", "a_minus", "x_imp", "y_imp", "x_decay", "y_decay", "x_tar", "w_min",
             "w_max", "soft_bound", "th_imp", "th_shift")


def full_config(config):
    """Return DEFAULT_CONFIG updated with *config*; unknown keys are an error."""
    config = dict(config or {})
    unknown = sorted(set(config) - set(DEFAULT_CONFIG))
    if unknown:
        raise ValueError(f"unknown digits setting {unknown[0]!r}; the settings are "
                         f"{', '.join(DEFAULT_CONFIG)}")
    merged = {**DEFAULT_CONFIG, **config}
    for key in ("n_neurons", "train_steps", "test_steps", "epochs"):
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{key} must be a positive integer, not {value!r}")
    if not 0 < merged["rate"] <= 1:
        raise ValueError(f"rate must be in (0, 1], not {merged['rate']!r}")
    if not 0 <= merged["validation"] < 1:
        raise ValueError(f"validation must be in [0, 1), not {merged['validation']!r}")
    if merged["stimulus"] not in ("device", "host"):
        raise ValueError(f"stimulus must be 'device' or 'host', not {merged['stimulus']!r}")
    return merged


def load_split(seed, validation=0.0):
    """Return ``(X_train, y_train, X_eval, y_eval)`` of the digits for *seed*.

    The test split is ``train_test_split(X, y, test_size=0.3, stratify=y,
    random_state=seed)``. With *validation* > 0 the evaluation set is instead a stratified
    fraction *validation* of the training part (same random_state), and the test set is not
    touched.
    """
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise RuntimeError("the digits experiment needs scikit-learn: pip install "
                           "'spikecore[experiments]'") from None
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y,
                                              random_state=seed)
    if validation:
        X_tr, X_te, y_tr, y_te = train_test_split(X_tr, y_tr, test_size=validation,
                                                  stratify=y_tr, random_state=seed)
    return X_tr, y_tr, X_te, y_te


def digits_network(config=None, seed=0):
    """Return the digits network (learning settings set, learning disabled) for *seed*."""
    c = full_config(config)
    learning = Learning(enabled=False, **{k: c[k] for k in _LEARNING})
    top = Topology(w_exp=c["w_exp"], w_exp_rec=c["w_exp_rec"], learning=learning)
    pixels = top.inputs("pixels", N_PIXELS)
    exc = top.neurons("exc", c["n_neurons"], vth=c["vth"], du=c["du"], dv=c["dv"],
                      t_ref=c["t_ref"])
    top.connect(pixels, exc, uniform(*c["w_init"]), plastic=True)
    top.inhibit(exc, c["inhibition"])
    return top.build(seed=seed)


def _encode(images, steps, rate, rng):
    """Return rate-coded spikes (len(images), steps, 64), one image after the other."""
    return np.stack([encode.rate(image / PIXEL_MAX * rate, steps, rng) for image in images])


def _rates(images, rate):
    """Return the generator rates (len(images), 64) of the images: pixel/16 · rate · 65536."""
    return encode.generator_rate(np.asarray(images) / PIXEL_MAX * rate)


def _generated(gen_state, rates, steps):
    """Return ``(inputs, gen_state)``: what the generators fire while each row of *rates* is
    presented for *steps* steps, one after the other (bool (len(rates), steps, 64)), and
    their states after it, exactly as ``Core.present`` draws them."""
    per_step = np.repeat(rates, steps, axis=0)
    gen_state, fired = generate_steps(gen_state, per_step, len(per_step))
    return fired.reshape(len(rates), steps, -1), gen_state


def open_core(url, n_neurons):
    """Open the core the experiment runs on: model:// as ``FastModelCore`` (bit-exact, faster),
    sim:// with the experiment's geometry, anything else as ``spikecore.connect`` does."""
    if url == "model://":
        return FastModelCore()
    from . import connect
    if url.startswith("sim:"):
        return connect(url, n_inputs=N_PIXELS, n_neurons=n_neurons)
    return connect(url)


def _counts(core, net, inputs, batched):
    """Return spike counts (len(inputs), n_neurons) of presentations with learning off.

    *batched*: with ``run_batch`` on the network *net* (the core's weights and theta);
    otherwise on the core, one presentation after another, each after a reset.
    """
    if batched:
        return readout.spike_counts(run_batch(net, inputs))
    counts = np.zeros((len(inputs), core.n_neurons), dtype=np.int64)
    for k, presentation in enumerate(inputs):
        counts[k] = core.run(presentation).sum(axis=0)
        core.reset()
    return counts


def _present(core, net, rates, steps, batched):
    """Return spike counts (len(rates), n_neurons) of presentations by the generators with
    learning off: ``core.present``, or with *batched* ``run_batch`` on the network *net*
    (the core's weights, theta and generator states) of the inputs the generators fire,
    which leaves *net*'s generator states where the core's would be."""
    if not batched:
        return core.present(rates, steps)
    inputs, net.gen_state = _generated(net.gen_state, rates, steps)
    return readout.spike_counts(run_batch(net, inputs))


def _read_back(core, net):
    """Return a copy of *net* with the core's weights, theta and generator states, learning
    disabled."""
    trained = net.copy()
    trained.weights = core.read_weights()
    state = core.read_state()
    trained.theta = state.theta
    trained.gen_state = state.gen_state
    trained.learning.enabled = False
    return trained


def _evaluate(core, net, c, data, seed, batched):
    """Label on the training images, score the evaluation images; return a dict."""
    X_tr, y_tr, X_ev, y_ev = data
    trained = _read_back(core, net)
    start = time.perf_counter()
    if c["stimulus"] == "device":
        label_counts = _present(core, trained, _rates(X_tr, c["rate"]), c["test_steps"],
                                batched)
    else:
        label_in = _encode(X_tr, c["test_steps"], c["rate"], np.random.default_rng([seed, 3]))
        label_counts = _counts(core, trained, label_in, batched)
    fit = readout.Readout(N_CLASSES, c["readout"]).fit(label_counts, y_tr)
    labelled = time.perf_counter()
    if c["stimulus"] == "device":
        test_rates = _rates(X_ev, c["rate"])
        test_counts = _present(core, trained, test_rates, c["test_steps"], batched)
        if batched:
            # Leave the core's generators where presenting on it would have left them.
            core.set_rates(test_rates[-1], gen_state=trained.gen_state)
    else:
        test_in = _encode(X_ev, c["test_steps"], c["rate"], np.random.default_rng([seed, 4]))
        test_counts = _counts(core, trained, test_in, batched)
    predicted = fit.predict(test_counts)
    done = time.perf_counter()
    # The other readouts of the same counts, for comparison (cheap).
    others = {method: readout.accuracy(readout.Readout(N_CLASSES, method)
                                       .fit(label_counts, y_tr).predict(test_counts), y_ev)
              for method in readout.Readout.METHODS}
    return {
        "accuracy": readout.accuracy(predicted, y_ev),
        "accuracy_by_readout": others,
        "confusion": readout.confusion_matrix(predicted, y_ev, N_CLASSES),
        "neuron_labels": fit.labels,
        "label_s": labelled - start, "test_s": done - labelled,
        "test_spikes_per_image": float(test_counts.sum(axis=1).mean()),
        "silent_test_images": int(np.sum(test_counts.sum(axis=1) == 0)),
        "trained": trained,
    }


def _versions():
    import numpy
    from . import __version__
    versions = {"spikecore": __version__, "numpy": numpy.__version__,
                "python": platform.python_version()}
    try:
        import sklearn
        versions["scikit-learn"] = sklearn.__version__
    except ImportError:
        pass
    return versions


def run_digits(config=None, seed=0, *, url="model://", core=None, log=None, plot=None):
    """Run the digits experiment; return its record (a JSON-ready dict).

    Parameters
    ----------
    config : dict or None
        Settings that differ from :data:`DEFAULT_CONFIG`.
    seed : int
        Seeds the split, the initial weights, the presentation order and every spike.
    url : str
        Where to run it (``spikecore.connect``); ignored if *core* is given.
    core : spikecore.Core or None
        An open core to run on (left open); None opens *url* (``model://``: the golden
        model with ``spikecore.batch.FastModel``, bit-exact) and closes it at the end.
    log : callable or None
        Called with one line of progress at a time.
    plot : str or None
        A directory to write the plots to (:func:`write_plots`).

    Returns
    -------
    dict
        ``config`` (every setting), ``seed``, ``backend``, ``versions``, ``accuracy`` (on the
        test set, or on the validation split with ``validation`` > 0), ``eval_set``,
        ``n_train``, ``n_eval``, ``epochs`` (accuracy per epoch if ``eval_each_epoch``),
        ``confusion``, ``timings`` (seconds), ``theta`` and spike statistics.
    """
    c = full_config(config)
    log = log or (lambda line: None)
    started = time.perf_counter()
    X_tr, y_tr, X_ev, y_ev = load_split(seed, c["validation"])
    if c["n_train"] is not None:
        X_tr, y_tr = X_tr[:c["n_train"]], y_tr[:c["n_train"]]
    if c["n_test"] is not None:
        X_ev, y_ev = X_ev[:c["n_test"]], y_ev[:c["n_test"]]
    data = (X_tr, y_tr, X_ev, y_ev)
    net = digits_network(c, seed)
    own = core is None
    if own:
        core = open_core(url, c["n_neurons"])
    try:
        backend = core.info().get("backend", "?")
        batched = c["batched"] and backend == "model"
        core.load(net)
        train_rng = np.random.default_rng([seed, 1])
        order_rng = np.random.default_rng([seed, 2])
        epochs, train_s, train_spikes = [], 0.0, 0
        log(f"digits on {backend}: {len(X_tr)} training images, {len(X_ev)} "
            f"{'validation' if c['validation'] else 'test'} images, {c['n_neurons']} neurons, "
            f"seed {seed}")
        result = None
        for epoch in range(1, c["epochs"] + 1):
            start = time.perf_counter()
            core.set_learning(enabled=True)
            order = order_rng.permutation(len(X_tr))
            if c["stimulus"] == "device":
                # Each image: its rates, a reset, train_steps steps (present()'s order).
                counts = core.present(_rates(X_tr[order], c["rate"]), c["train_steps"])
                train_spikes += int(counts.sum())
            else:
                for k in order:
                    p = X_tr[k] / PIXEL_MAX * c["rate"]
                    train_spikes += int(core.run(encode.rate(p, c["train_steps"],
                                                             train_rng)).sum())
                    core.reset()
            core.set_learning(enabled=False)
            train_s += time.perf_counter() - start
            entry = {"epoch": epoch, "train_s": time.perf_counter() - start}
            if c["eval_each_epoch"] or epoch == c["epochs"]:
                result = _evaluate(core, net, c, data, seed, batched)
                entry.update(accuracy=result["accuracy"],
                             accuracy_by_readout=result["accuracy_by_readout"],
                             label_s=result["label_s"],
                             test_s=result["test_s"])
                log(f"epoch {epoch}: accuracy {result['accuracy']:.3f} (train "
                    f"{entry['train_s']:.1f} s, label {result['label_s']:.1f} s, test "
                    f"{result['test_s']:.1f} s)")
            else:
                log(f"epoch {epoch}: trained in {entry['train_s']:.1f} s")
            epochs.append(entry)
    finally:
        if own:
            core.close()
    trained = result["trained"]
    theta = np.asarray(trained.theta)
    record = {
        "experiment": "digits",
        "config": c, "seed": seed, "backend": backend, "url": url if own else None,
        "batched_readout": batched, "versions": _versions(),
        "eval_set": "validation" if c["validation"] else "test",
        "n_train": len(X_tr), "n_eval": len(X_ev),
        "accuracy": result["accuracy"],
        "epochs": epochs,
        "confusion": result["confusion"].tolist(),
        "neuron_labels": result["neuron_labels"].tolist(),
        "theta": {"mean": float(theta.mean()), "min": int(theta.min()),
                  "max": int(theta.max()), "values": theta.tolist()},
        "train_spikes_per_image": train_spikes / (len(X_tr) * c["epochs"]),
        "test_spikes_per_image": result["test_spikes_per_image"],
        "silent_test_images": result["silent_test_images"],
        "timings": {"train_s": train_s,
                    "label_s": sum(e.get("label_s", 0) for e in epochs),
                    "test_s": sum(e.get("test_s", 0) for e in epochs),
                    "total_s": time.perf_counter() - started},
    }
    if plot:
        record["plots"] = write_plots(plot, record, np.asarray(trained.weights[:N_PIXELS]))
    return record


def write_plots(directory, record, input_weights):
    """Write the experiment's plots as PNGs into *directory*; return their paths.

    ``receptive_fields.png`` (each neuron's 64 input weights as an 8x8 image, titled with its
    label), ``confusion.png``, ``accuracy.png`` (per epoch) and ``theta.png`` (histogram).
    """
    from pathlib import Path

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    labels = record["neuron_labels"]
    n = input_weights.shape[1]
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    # One mosaic of 8x8 tiles, one pixel of gap between them.
    mosaic = np.full((rows * 9 - 1, cols * 9 - 1), np.nan)
    for k in range(n):
        r, c = divmod(k, cols)
        mosaic[r * 9:r * 9 + 8, c * 9:c * 9 + 8] = input_weights[:, k].reshape(8, 8)
    fig, ax = plt.subplots(figsize=(cols * 0.6 + 1, rows * 0.6 + 0.8))
    image = ax.imshow(mosaic, cmap="gray_r", vmin=record["config"]["w_min"],
                      vmax=record["config"]["w_max"], interpolation="nearest")
    for k in range(n):
        r, c = divmod(k, cols)
        ax.text(c * 9 + 0.2, r * 9 + 1.2, str(labels[k]) if labels[k] >= 0 else "-",
                color="tab:red", fontsize=6)
    ax.axis("off")
    fig.colorbar(image, ax=ax, shrink=0.6, label="input weight")
    ax.set_title(f"receptive fields (input weights) and labels, seed {record['seed']}")
    paths["receptive_fields"] = str(out / "receptive_fields.png")
    fig.savefig(paths["receptive_fields"], dpi=90)
    plt.close(fig)

    confusion = np.asarray(record["confusion"])
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(confusion, cmap="Blues")
    for (i, j), value in np.ndenumerate(confusion):
        ax.text(j, i, str(value), ha="center", va="center", fontsize=7,
                color="white" if value > confusion.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(N_CLASSES))
    ax.set_yticks(range(N_CLASSES))
    ax.set_title(f"{record['eval_set']} accuracy {record['accuracy']:.3f}")
    fig.tight_layout()
    paths["confusion"] = str(out / "confusion.png")
    fig.savefig(paths["confusion"], dpi=90)
    plt.close(fig)

    scored = [e for e in record["epochs"] if "accuracy" in e]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([e["epoch"] for e in scored], [e["accuracy"] for e in scored], "o-")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{record['eval_set']} accuracy")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    paths["accuracy"] = str(out / "accuracy.png")
    fig.savefig(paths["accuracy"], dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(record["theta"]["values"], bins=40)
    ax.set_xlabel("theta (adaptive threshold) after training")
    ax.set_ylabel("neurons")
    fig.tight_layout()
    paths["theta"] = str(out / "theta.png")
    fig.savefig(paths["theta"], dpi=90)
    plt.close(fig)
    return paths
