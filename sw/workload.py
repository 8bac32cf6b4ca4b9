"""The standard workload behind every spikecore speed figure, built exactly by its recipe.

The recipe lives in ``shared/workloads/standard.json`` beside the project (a copy is kept in
``bench/standard.json`` for installs without it).
"""

import json
from pathlib import Path

import numpy as np

from .network import Network

__all__ = ["workload_path", "standard_workload"]

_ROOT = Path(__file__).resolve().parent.parent


def workload_path():
    """Return the path of standard.json: shared/ beside the project, else bench/'s copy."""
    shared = _ROOT.parent / "shared" / "workloads" / "standard.json"
    return shared if shared.exists() else _ROOT / "bench" / "standard.json"


def standard_workload(path=None, *, learning=None, input_probability=None, n_neurons=None,
                      n_inputs=None, rate_form=False):
    """Return ``(net, inputs, spec)`` built by the recipe in standard.json.

    *learning*, *input_probability*, *n_neurons* and *n_inputs* override the file's values for
    the variants the benchmarks sweep (STDP off, other activities, other sizes, the geometries
    of smaller boards); the recipe's order of random draws is kept.

    With *rate_form* the network is the file's ``rate_form``: every input's generator at its
    ``rate``, the generator states drawn from the seed as ``Network(..., seed=seed)`` draws
    them; *inputs* are still returned, for comparison, but the rate form streams none.
    """
    spec = json.loads(Path(path or workload_path()).read_text())
    n_inputs = n_inputs or spec["n_inputs"]
    n_neurons = n_neurons or spec["n_neurons"]
    p = spec["input_probability"] if input_probability is None else input_probability
    rng = np.random.default_rng(spec["seed"])
    net = Network(n_inputs, n_neurons, seed=None)
    net.weights[:n_inputs] = rng.integers(0, 40, (n_inputs, n_neurons))
    net.weights[n_inputs:] = rng.integers(-12, 12, (n_neurons, n_neurons))
    inputs = rng.random((spec["steps"], n_inputs)) < p
    for name, value in spec["neurons"].items():
        getattr(net, name)[:] = value
    net.w_exp = spec["w_exp"]
    for name, value in spec["learning"].items():
        setattr(net.learning, name, value)
    if learning is not None:
        net.learning.enabled = learning
    if rate_form:
        net.rate[:] = spec["rate_form"]["rate"]
        net.gen_state = np.random.default_rng(spec["seed"]).integers(1, 2**32, n_inputs)
    assert spec["plastic"] == "all synapses"   # the Network default
    return net, inputs, spec
