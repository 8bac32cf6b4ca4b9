"""Write tests/fixtures/nir/: snnTorch networks exported to NIR, with snnTorch's own spikes.

Run once, outside the project venv (it needs torch), and commit the result:

    python -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch snntorch nirtorch nir h5py numpy
    /tmp/torchvenv/bin/python tools/make_nir_fixtures.py

For each fixture NAME it writes ``NAME.nir`` (``snntorch.export_nir.export_to_nir``) and
``NAME.npz``: ``inputs`` (trials, steps, n_inputs) and ``spikes_<node>`` (trials, steps, n)
for every spiking node, bits packed along the last axis (``numpy.packbits``, with ``n_<key>``
giving the unpacked length), plus ``labels`` (the class of each trial, below), ``dt``,
``t_ref`` (JSON: the refractory steps spikecore needs to match snnTorch's reset,
docs/interop.md) and ``versions``.

The networks use ``reset_mechanism="zero"`` (spikecore resets to zero) and per-neuron parameter
vectors (scalar ones export as 0-d arrays that NIR's type check rejects). Synaptic layers use
``reset_delay=False``: with the default, snnTorch zeroes the synaptic current too, one step
after the spike, which no spikecore parameter expresses.

**The experiment.** The fixtures compare per-neuron spike counts and the output class (argmax
of the output counts) over the trials, so every neuron must fire in most trials with a count
that varies from trial to trial, and the output class must not hinge on a spike or two: int8
weights move a count by about one spike (a rounding-borderline crossing), so a class decided by
a margin of one or two spikes is chance, whatever the importer does. Hence:

- Each trial has a class c in [0, N_CLASSES), balanced over the trials. Input i belongs to
  class ``i % N_CLASSES``; every input fires Bernoulli at a rate drawn per trial and input from
  [0.05, 0.25), the inputs of class c 0.25 higher ([0.3, 0.5)).
- Every layer's weights are ``mean + spread·z + select·[class of source = class of target]``
  (``linear``; z uniform in [−1, 1], centred per neuron), neuron i of any population being of
  class ``i % N_CLASSES``. The common ``mean`` gives every neuron the same net excitation, so
  each fires in most trials; ``spread`` makes each neuron prefer its own sources, so counts
  vary with the trial's rates; ``select`` carries the class through, so the output neuron of
  the trial's class wins by many spikes. The recurrent layer also excites its own class and,
  on average, inhibits the others (``select`` > 0 over a negative ``mean``).

``main`` prints, per fixture, the spike counts and how often snnTorch's own output class
survives a jitter of ±0.5/127 of each neuron's largest incoming weight (the size of int8
rounding) on every weight and bias: the agreement a perfect int8 importer can expect.
"""

import copy
import json
import sys
from pathlib import Path

import nir
import numpy as np
import snntorch as snn
import torch
from snntorch.export_nir import export_to_nir

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "nir"
DT = 1e-4          # what snnTorch's export assumes
TRIALS, STEPS, N_IN = 100, 100, 16
N_CLASSES = 8      # output neurons; inputs i and i + 8 belong to class i
SEED = 23


def synaptic(n, alpha, beta, **kw):
    return snn.Synaptic(alpha=torch.full((n,), alpha), beta=torch.full((n,), beta),
                        threshold=torch.ones(n), reset_mechanism="zero", init_hidden=True,
                        **kw)


def linear(n_in, n_out, mean, spread, select, bias):
    """Return an Affine with weights ``mean + spread·z + select·same_class / n_same`` and biases
    uniform in [−bias, bias] (module docstring): z is uniform in [−1, 1], centred per row, so
    the random part adds no net excitation, and *select* is the total extra weight from a
    neuron's own class, shared by its n_same sources of that class."""
    layer = torch.nn.Linear(n_in, n_out)
    same = ((torch.arange(n_out)[:, None] % N_CLASSES)
            == (torch.arange(n_in)[None, :] % N_CLASSES)).float()
    with torch.no_grad():
        z = 2 * torch.rand(n_out, n_in) - 1
        layer.weight.copy_(mean + spread * (z - z.mean(dim=1, keepdim=True))
                           + select * same / same.sum(dim=1, keepdim=True))
        layer.bias.uniform_(-bias, bias)
    return layer


class CubaLIF(torch.nn.Module):
    """One CubaLIF layer: input → Affine → Synaptic."""

    def __init__(self):
        super().__init__()
        self.fc = linear(N_IN, N_CLASSES, 0.008, 0.012, 0.08, 0.004)
        self.lif = synaptic(N_CLASSES, 0.9, 0.8, reset_delay=False)

    def forward(self, x):
        return self.lif(self.fc(x))

    def step(self, x):
        return {"lif": self.lif(self.fc(x))}


class FeedForward(torch.nn.Module):
    """Two layers: input → Affine → Leaky (LIF) → Affine → Synaptic (CubaLIF)."""

    def __init__(self):
        super().__init__()
        self.fc1 = linear(N_IN, 24, 0.045, 0.08, 0.6, 0.03)
        self.lif1 = snn.Leaky(beta=torch.full((24,), 0.9), threshold=torch.ones(24),
                              reset_mechanism="zero", init_hidden=True)
        self.fc2 = linear(24, N_CLASSES, 0.005, 0.01, 0.24, 0.003)
        self.lif2 = synaptic(N_CLASSES, 0.85, 0.9, reset_delay=False)

    def forward(self, x):
        return self.lif2(self.fc2(self.lif1(self.fc1(x))))

    def step(self, x):
        s1 = self.lif1(self.fc1(x))
        return {"lif1": s1, "lif2": self.lif2(self.fc2(s1))}


class Recurrent(torch.nn.Module):
    """input → Affine → RSynaptic (all-to-all recurrent Affine) → Affine → Synaptic."""

    def __init__(self):
        super().__init__()
        self.fc1 = linear(N_IN, 20, 0.007, 0.012, 0.12, 0.004)
        self.rsyn = snn.RSynaptic(alpha=0.9, beta=0.85, linear_features=20,
                                  reset_mechanism="zero", init_hidden=True)
        recurrent = linear(20, 20, -0.004, 0.006, 0.05, 0.002)
        with torch.no_grad():
            self.rsyn.recurrent.weight.copy_(recurrent.weight)
            self.rsyn.recurrent.bias.copy_(recurrent.bias)
        self.fc2 = linear(20, N_CLASSES, 0.005, 0.01, 0.2, 0.003)
        self.lif2 = synaptic(N_CLASSES, 0.85, 0.9, reset_delay=False)

    def forward(self, x):
        return self.lif2(self.fc2(self.rsyn(self.fc1(x))))

    def step(self, x):
        s1 = self.rsyn(self.fc1(x))
        return {"rsyn.lif": s1, "lif2": self.lif2(self.fc2(s1))}


#: name -> (model class, refractory steps spikecore needs per node to match snnTorch)
FIXTURES = {
    "cubalif": (CubaLIF, {}),
    "feedforward": (FeedForward, {}),
    # RSynaptic's zero reset acts in the step after the spike, whatever reset_delay says
    # (snnTorch 1.0): spikecore's t_ref = 1 is the same.
    "recurrent": (Recurrent, {"rsyn.lif": 1}),
}


def inputs(rng):
    """Return (bool (trials, steps, N_IN), int labels (trials,)): the module docstring."""
    labels = rng.permutation(np.arange(TRIALS) % N_CLASSES)
    rates = rng.uniform(0.05, 0.25, (TRIALS, 1, N_IN))
    rates += 0.25 * (np.arange(N_IN) % N_CLASSES == labels[:, None, None])
    return rng.random((TRIALS, STEPS, N_IN)) < rates, labels


def simulate(model, x):
    """Run snnTorch on all trials as one batch; return {node: bool (trials, steps, n)}."""
    for module in model.modules():
        if isinstance(module, snn.SpikingNeuron):
            module.reset_mem()
    out = {}
    with torch.no_grad():
        for t in range(x.shape[1]):
            for name, s in model.step(torch.tensor(x[:, t], dtype=torch.float32)).items():
                out.setdefault(name, []).append(s.numpy() > 0)
    return {name: np.stack(v, axis=1) for name, v in out.items()}


def jittered(model, seed):
    """Return a copy of *model* with every weight and bias moved by up to ±0.5/127 of the
    largest weight or bias into its neuron: the size of int8 rounding."""
    model = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in (m for m in model.modules() if isinstance(m, torch.nn.Linear)):
            peak = torch.maximum(layer.weight.abs().amax(dim=1), layer.bias.abs())
            for p in (layer.weight, layer.bias):
                noise = torch.rand(p.shape, generator=generator) - 0.5
                p.add_(noise / 127 * (peak[:, None] if p.ndim == 2 else peak))
    return model


def output_class(spikes):
    """Return each trial's output class: the argmax of the output counts."""
    return spikes.sum(axis=1).argmax(axis=1)


def packed(array):
    return np.packbits(array, axis=-1), array.shape[-1]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for index, (name, (cls, t_ref)) in enumerate(FIXTURES.items()):
        torch.manual_seed(SEED + index)
        model = cls()
        graph = export_to_nir(model, torch.zeros(1, N_IN), ignore_dims=[0])
        nir.write(OUT / f"{name}.nir", graph)
        x, labels = inputs(np.random.default_rng(SEED + index))
        spikes = simulate(model, x)
        arrays = {}
        for key, array in {"inputs": x, **{f"spikes_{k}": v for k, v in spikes.items()}}.items():
            arrays[key], arrays[f"n_{key}"] = packed(array)
        versions = {"snntorch": snn.__version__, "torch": torch.__version__,
                    "nir": nir.__version__, "python": sys.version.split()[0]}
        np.savez_compressed(OUT / f"{name}.npz", dt=DT, t_ref=json.dumps(t_ref),
                            labels=labels.astype(np.uint8), versions=json.dumps(versions),
                            **arrays)
        print(f"{name}: nodes {list(graph.nodes)}")
        for node, s in spikes.items():
            counts = s.sum(axis=1)
            print(f"  {node}: counts per trial {counts.min()} … {counts.max()}, neuron means "
                  f"{counts.mean(axis=0).min():.1f} … {counts.mean(axis=0).max():.1f}; "
                  f"every neuron fires in ≥ {(counts > 0).mean(axis=0).min():.0%} of trials")
        output = list(spikes)[-1]
        want = output_class(spikes[output])
        top = np.sort(spikes[output].sum(axis=1), axis=1)
        margin = top[:, -1] - top[:, -2]
        survive = [np.mean(output_class(simulate(jittered(model, k), x)[output]) == want)
                   for k in range(3)]
        print(f"  output class = label in {np.mean(want == labels):.0%} of trials, winning "
              f"margin ≥ {margin.min()} spikes (median {np.median(margin):.0f}); same class "
              f"after int8-sized jitter {', '.join(f'{s:.0%}' for s in survive)}")

if __name__ == "__main__":
    main()
