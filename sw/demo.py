"""The main job: an STDP network learns which of its inputs fire together.

64 inputs; the first 16 ("the pattern") fire together in bursts, the rest fire at random
at the same average rate. 16 neurons start with random input weights. With STDP on, the
synapses from the pattern grow (their spikes come just before the neurons' spikes) and the
others shrink: the neurons become detectors of the pattern.
"""

import time

import numpy as np

from .network import Network

__all__ = ["demo_network", "demo_inputs", "run_demo", "write_raster", "plot_raster"]

N_INPUTS, N_NEURONS, PATTERN = 64, 16, 16


def demo_network(seed=0):
    """Return the demo network (64 inputs, 16 neurons, STDP on)."""
    net = Network(N_INPUTS, N_NEURONS, seed=None)
    rng = np.random.default_rng(seed)
    net.weights[:N_INPUTS] = rng.integers(10, 40, (N_INPUTS, N_NEURONS))
    net.weights[N_INPUTS:] = -20                      # lateral inhibition
    np.fill_diagonal(net.weights[N_INPUTS:], 0)
    net.vth[:] = 80000
    net.du[:] = 1024
    net.dv[:] = 512
    net.t_ref[:] = 3
    net.w_exp = 4
    lr = net.learning
    lr.enabled = True
    lr.a_plus, lr.a_minus = 48, 90
    lr.x_imp, lr.y_imp = 96, 96
    lr.x_decay, lr.y_decay = 200, 200
    lr.w_min, lr.w_max = 0, 100
    net.plastic_src[N_INPUTS:] = False                # keep the inhibition fixed
    return net


def demo_inputs(steps, seed=0):
    """Return the demo's input spikes (bool, (steps, 64)): a recurring pattern in noise."""
    rng = np.random.default_rng(seed + 1)
    inputs = rng.random((steps, N_INPUTS)) < 0.04
    bursts = rng.random(steps) < 0.15
    inputs[bursts, :PATTERN] |= rng.random((int(bursts.sum()), PATTERN)) < 0.8
    inputs[:, PATTERN:] |= rng.random((steps, N_INPUTS - PATTERN)) < 0.1
    return inputs


def run_demo(core, steps=2000, plot=None, out=print, check=True):
    """Run the demo on *core*; print a summary; write a raster plot to *plot* if given.

    With *check*, a core that is not the golden model is compared with it: every step's
    spikes and the final weights must be identical. Returns a dict of what happened (spike
    count, mean pattern and background weights before and after, steps/s, ``matches_model``
    when checked).
    """
    net = demo_network()
    inputs = demo_inputs(steps)
    core.load(net)
    start = time.perf_counter()
    spikes = core.run(inputs)
    elapsed = time.perf_counter() - start
    weights = core.read_weights().astype(int)
    before = net.weights[:N_INPUTS].astype(int)
    after = weights[:N_INPUTS]
    result = {
        "steps": steps, "steps_per_s": steps / elapsed, "spikes": int(spikes.sum()),
        "pattern_before": before[:PATTERN].mean(), "pattern_after": after[:PATTERN].mean(),
        "background_before": before[PATTERN:].mean(),
        "background_after": after[PATTERN:].mean(),
        "counters": core.counters(),
    }
    info = core.info()
    out(f"spikecore demo on {info.get('backend', '?')}: {N_INPUTS} inputs, {N_NEURONS} "
        f"neurons, STDP on, {steps} steps")
    out(f"  {result['spikes']} spikes ({result['spikes'] / steps / N_NEURONS:.1%} of "
        f"neuron-steps), {result['steps_per_s']:,.0f} steps/s")
    cycles = result["counters"].get("cycles")
    if cycles:
        out(f"  hardware: {cycles / max(1, result['counters']['steps']):,.0f} clock "
            f"cycles/step")
    out(f"  mean weight from the {PATTERN} pattern inputs: "
        f"{result['pattern_before']:.1f} -> {result['pattern_after']:.1f}")
    out(f"  mean weight from the {N_INPUTS - PATTERN} noise inputs:   "
        f"{result['background_before']:.1f} -> {result['background_after']:.1f}")
    if check and info.get("backend") != "model":
        from .model import Model
        model = Model(net)
        same = np.array_equal(model.run(inputs), spikes) and np.array_equal(model.W, weights)
        result["matches_model"] = same
        out(f"  bit-exact with the golden model (spikes every step, final weights): "
            f"{'yes' if same else 'NO'}")
        if not same:
            raise RuntimeError(f"the {info.get('backend')} core disagrees with the golden model")
    if plot:
        write_raster(plot, inputs, spikes, before, after)
        out(f"  raster plot: {plot}")
    return result


def write_raster(path, inputs, spikes, before, after, window=300):
    """Write a PNG with the first and last *window* steps' rasters and the weight change."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = len(spikes)
    fig, axes = plt.subplots(2, 3, figsize=(14, 7), gridspec_kw={"width_ratios": [3, 3, 2]})
    for col, (label, sl) in enumerate([("first", slice(0, window)),
                                       ("last", slice(max(0, steps - window), steps))]):
        t0 = sl.start
        t, j = np.nonzero(inputs[sl])
        colors = np.where(j < PATTERN, "tab:red", "0.6")
        axes[0, col].scatter(t + t0, j, s=2, c=colors)
        axes[0, col].set_title(f"inputs, {label} {window} steps (red: pattern)")
        axes[0, col].set_ylabel("input")
        t, i = np.nonzero(spikes[sl])
        axes[1, col].scatter(t + t0, i, s=4, c="k")
        axes[1, col].set_title(f"neuron spikes, {label} {window} steps")
        axes[1, col].set_xlabel("step")
        axes[1, col].set_ylabel("neuron")
    for row, (label, w) in enumerate([("weights before", before), ("weights after", after)]):
        im = axes[row, 2].imshow(w, aspect="auto", vmin=0, vmax=100, cmap="viridis")
        axes[row, 2].set_title(label)
        axes[row, 2].set_xlabel("neuron")
        axes[row, 2].set_ylabel("input")
        fig.colorbar(im, ax=axes[row, 2])
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_raster(path, inputs, spikes):
    """Write a PNG raster of *inputs* (top) and *spikes* (bottom), one dot per spike."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7), sharex=True)
    for ax, data, label in [(top, inputs, "input"), (bottom, spikes, "neuron")]:
        t, k = np.nonzero(data)
        ax.scatter(t, k, s=2, c="k")
        ax.set_ylabel(label)
    bottom.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
