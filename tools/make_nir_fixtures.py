"""Write tests/fixtures/nir/: snnTorch networks exported to NIR, with snnTorch's own spikes.

Run once, outside the project venv (it needs torch), and commit the result:

    python -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch snntorch nirtorch nir h5py numpy
    /tmp/torchvenv/bin/python tools/make_nir_fixtures.py

For each fixture NAME it writes ``NAME.nir`` (``snntorch.export_nir.export_to_nir``) and
``NAME.npz``: ``inputs`` (trials, steps, n_inputs) and ``spikes_<node>`` (trials, steps, n)
for every spiking node, bits packed along the last axis (``numpy.packbits``, with ``n_<key>``
giving the unpacked length), plus ``dt``, ``t_ref`` (JSON: the refractory steps spikecore needs
to match snnTorch's reset, docs/interop.md) and ``versions``.

The networks use ``reset_mechanism="zero"`` (spikecore resets to zero) and per-neuron parameter
vectors (scalar ones export as 0-d arrays that NIR's type check rejects). Synaptic layers use
``reset_delay=False``: with the default, snnTorch zeroes the synaptic current too, one step
after the spike, which no spikecore parameter expresses. Every input train is Bernoulli with a
rate drawn per trial and input from [0.05, 0.5).
"""

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
SEED = 23


def synaptic(n, alpha, beta, **kw):
    return snn.Synaptic(alpha=torch.full((n,), alpha), beta=torch.full((n,), beta),
                        threshold=torch.ones(n), reset_mechanism="zero", init_hidden=True,
                        **kw)


def linear(n_in, n_out, gain):
    layer = torch.nn.Linear(n_in, n_out)
    with torch.no_grad():
        layer.weight.mul_(gain)
        layer.bias.mul_(gain / 4)
    return layer


class CubaLIF(torch.nn.Module):
    """One CubaLIF layer: input → Affine → Synaptic."""
    names = {"lif": "lif"}

    def __init__(self):
        super().__init__()
        self.fc = linear(N_IN, 10, 2.0)
        self.lif = synaptic(10, 0.9, 0.8, reset_delay=False)

    def forward(self, x):
        return self.lif(self.fc(x))

    def step(self, x):
        return {"lif": self.lif(self.fc(x))}


class FeedForward(torch.nn.Module):
    """Two layers: input → Affine → Leaky (LIF) → Affine → Synaptic (CubaLIF)."""

    def __init__(self):
        super().__init__()
        self.fc1 = linear(N_IN, 24, 2.0)
        self.lif1 = snn.Leaky(beta=torch.full((24,), 0.9), threshold=torch.ones(24),
                              reset_mechanism="zero", init_hidden=True)
        self.fc2 = linear(24, 10, 2.5)
        self.lif2 = synaptic(10, 0.85, 0.9, reset_delay=False)

    def forward(self, x):
        return self.lif2(self.fc2(self.lif1(self.fc1(x))))

    def step(self, x):
        s1 = self.lif1(self.fc1(x))
        return {"lif1": s1, "lif2": self.lif2(self.fc2(s1))}


class Recurrent(torch.nn.Module):
    """input → Affine → RSynaptic (all-to-all recurrent Affine) → Affine → Synaptic."""

    def __init__(self):
        super().__init__()
        self.fc1 = linear(N_IN, 20, 2.0)
        self.rsyn = snn.RSynaptic(alpha=0.9, beta=0.85, linear_features=20,
                                  reset_mechanism="zero", init_hidden=True)
        with torch.no_grad():
            self.rsyn.recurrent.weight.mul_(1.5)
            self.rsyn.recurrent.bias.mul_(0.25)
        self.fc2 = linear(20, 10, 2.5)
        self.lif2 = synaptic(10, 0.85, 0.9, reset_delay=False)

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
    rates = rng.uniform(0.05, 0.5, (TRIALS, 1, N_IN))
    return rng.random((TRIALS, STEPS, N_IN)) < rates


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


def packed(array):
    return np.packbits(array, axis=-1), array.shape[-1]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for index, (name, (cls, t_ref)) in enumerate(FIXTURES.items()):
        torch.manual_seed(SEED + index)
        model = cls()
        graph = export_to_nir(model, torch.zeros(1, N_IN), ignore_dims=[0])
        nir.write(OUT / f"{name}.nir", graph)
        x = inputs(np.random.default_rng(SEED + index))
        spikes = simulate(model, x)
        arrays = {}
        for key, array in {"inputs": x, **{f"spikes_{k}": v for k, v in spikes.items()}}.items():
            arrays[key], arrays[f"n_{key}"] = packed(array)
        versions = {"snntorch": snn.__version__, "torch": torch.__version__,
                    "nir": nir.__version__, "python": sys.version.split()[0]}
        np.savez_compressed(OUT / f"{name}.npz", dt=DT, t_ref=json.dumps(t_ref),
                            versions=json.dumps(versions), **arrays)
        rates = ", ".join(f"{k} {v.mean():.3f}" for k, v in spikes.items())
        print(f"{name}: nodes {list(graph.nodes)}; spike rates {rates}")


if __name__ == "__main__":
    main()
