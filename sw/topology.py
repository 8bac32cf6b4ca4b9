"""Build a Network from named populations instead of index arithmetic.

A spikecore core is all-to-all: one weight matrix over every source and neuron. A
:class:`Topology` names index ranges of it (input populations and neuron populations),
connects them with weight arrays or distributions, adds fixed lateral inhibition, and says
which population pairs learn. :meth:`Topology.build` returns an ordinary
:class:`spikecore.Network`.

>>> top = Topology()
>>> pixels = top.inputs("pixels", 64)
>>> exc = top.neurons("exc", 256, vth=2200, du=4096, dv=0, t_ref=1)
>>> top.connect(pixels, exc, uniform(0, 32), plastic=True)
>>> top.inhibit(exc, -128)
>>> net = top.build(seed=0)

Plasticity in the core is a product of two masks (``plastic_src[j] and plastic_dst[i]``), so
the plastic pairs must form such a product; :func:`plastic_masks` (used by :meth:`build` and by
the PyNN backend) says which pair breaks it if not.
"""

from dataclasses import dataclass

import numpy as np

from . import spec
from .network import Learning, Network

__all__ = ["Population", "Topology", "uniform", "normal", "constant", "plastic_masks"]


@dataclass(frozen=True)
class Population:
    """A named range of inputs or neurons.

    Members
    -------
    name : str
    kind : "input" or "neuron"
    start, stop : int
        The range ``start … stop−1`` among the inputs or among the neurons.
    """
    name: str
    kind: str
    start: int
    stop: int

    def __len__(self):
        return self.stop - self.start

    @property
    def index(self):
        """The inputs' or neurons' indices (int array)."""
        return np.arange(self.start, self.stop)


def uniform(low, high):
    """Return a weight distribution: integers uniform in [low, high) (numpy ``integers``)."""
    if not low < high:
        raise ValueError(f"uniform needs low < high, not {low} and {high}")
    return lambda rng, shape: rng.integers(low, high, shape)


def normal(mean, std):
    """Return a weight distribution: normal(mean, std), rounded to integers, clipped to int8."""
    if not std >= 0:
        raise ValueError(f"std must be >= 0, not {std}")
    return lambda rng, shape: np.clip(np.rint(rng.normal(mean, std, shape)),
                                      spec.WEIGHT_MIN, spec.WEIGHT_MAX).astype(np.int64)


def constant(value):
    """Return a weight distribution: every weight *value*."""
    return lambda rng, shape: np.full(shape, value, dtype=np.int64)


def plastic_masks(plastic, source_name, neuron_name, hint=""):
    """Return the masks (plastic_src, plastic_dst) whose product is *plastic*, or refuse.

    The core's synapse (source j, neuron i) learns iff ``plastic_src[j] and plastic_dst[i]``,
    so the plastic pairs, a bool array (sources, neurons), must be such a product. If not,
    ValueError names a synapse that breaks it, with ``source_name(j)`` and
    ``neuron_name(i)``, then the sentence *hint* if given (what the caller's user can change).
    """
    src, dst = plastic.any(axis=1), plastic.any(axis=0)
    wrong = np.argwhere(np.outer(src, dst) != plastic)
    if len(wrong):
        j, i = (int(k) for k in wrong[0])
        source, neuron = source_name(j), neuron_name(i)
        raise ValueError(f"plasticity is per source and per neuron in spikecore (plastic_src[j] "
                         f"and plastic_dst[i]): {source} learns onto some neurons and {neuron} "
                         f"from some sources, but {source} → {neuron} is not a plastic "
                         f"synapse" + (f". {hint}" if hint else ""))
    return src, dst


def _size(size):
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive integer, not {size!r}")
    return int(size)


class Topology:
    """Named populations and connections that :meth:`build` turns into a Network.

    Parameters
    ----------
    w_exp, w_exp_rec : int, int or None
        The network's weight exponents (docs/model.md).
    learning : spikecore.Learning or None
        The network's learning settings (None: the defaults).

    Members
    -------
    populations : dict of str to Population
        In the order they were added.
    """

    def __init__(self, *, w_exp=6, w_exp_rec=None, learning=None):
        self.populations = {}
        self.w_exp, self.w_exp_rec = w_exp, w_exp_rec
        self.learning = Learning() if learning is None else learning
        self._n = {"input": 0, "neuron": 0}
        self._params = []           # (population, {field: value})
        self._weights = []          # (pre, post, weights or distribution)
        self._plastic = []          # (pre, post, bool)

    def _add(self, name, size, kind):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a population needs a name (a non-empty str), not {name!r}")
        if name in self.populations:
            raise ValueError(f"population {name!r} exists already")
        size = _size(size)
        start = self._n[kind]
        self._n[kind] += size
        self.populations[name] = Population(name, kind, start, start + size)
        return self.populations[name]

    def _population(self, pop, kind=None):
        if isinstance(pop, str):
            if pop not in self.populations:
                raise ValueError(f"no population {pop!r}; there are "
                                 f"{', '.join(self.populations) or 'none'}")
            pop = self.populations[pop]
        if not isinstance(pop, Population) or self.populations.get(pop.name) != pop:
            raise ValueError(f"{pop!r} is not a population of this topology")
        if kind is not None and pop.kind != kind:
            raise ValueError(f"population {pop.name!r} is {pop.kind}s, not {kind}s")
        return pop

    def inputs(self, name, size):
        """Add *size* input axons named *name*; return the Population."""
        return self._add(name, size, "input")

    def neurons(self, name, size, **params):
        """Add *size* neurons named *name* with per-neuron *params*; return the Population.

        *params* are Network fields (``vth``, ``bias``, ``du``, ``dv``, ``t_ref``, ``theta``),
        each a scalar or an array of *size*; the others keep the Network defaults.
        """
        pop = self._add(name, size, "neuron")
        self.set(pop, **params)
        return pop

    def set(self, pop, **params):
        """Set per-neuron fields of the neurons of *pop* (checked when built)."""
        pop = self._population(pop, "neuron")
        unknown = [k for k in params if k not in spec.NEURON_RANGES]
        if unknown:
            raise ValueError(f"unknown neuron field {unknown[0]!r}; the fields are "
                             f"{', '.join(spec.NEURON_RANGES)}")
        self._params.append((pop, params))

    def connect(self, pre, post, weights, *, plastic=False):
        """Connect every source of *pre* to every neuron of *post*.

        Parameters
        ----------
        pre : Population or name
            Inputs or neurons (the sources).
        post : Population or name
            Neurons.
        weights : int, int array (len(pre), len(post)), or a distribution
            A distribution is a function ``(rng, shape) -> int array`` (:func:`uniform`,
            :func:`normal`, :func:`constant`), drawn from the build's random stream.
        plastic : bool
            Whether these synapses learn (see :meth:`build` for what can be expressed).
        """
        pre, post = self._population(pre), self._population(post, "neuron")
        if not callable(weights):
            array = np.asarray(weights)
            if array.ndim not in (0, 2) or array.ndim == 2 and array.shape != (len(pre),
                                                                                len(post)):
                raise ValueError(f"weights from {pre.name!r} to {post.name!r} must be a "
                                 f"scalar, an array of shape ({len(pre)}, {len(post)}) or a "
                                 f"distribution, not shape {array.shape}")
        self._weights.append((pre, post, weights))
        self._plastic.append((pre, post, bool(plastic)))

    def inhibit(self, pop, weight, *, self_weight=0):
        """Connect the neurons of *pop* to each other with *weight* (fixed, not plastic).

        Neuron i inhibits every other neuron of *pop*; its weight to itself is *self_weight*.
        """
        pop = self._population(pop, "neuron")
        w = np.full((len(pop), len(pop)), weight, dtype=np.int64)
        np.fill_diagonal(w, self_weight)
        self.connect(pop, pop, w, plastic=False)

    def sources(self, pop):
        """Return the source indices of *pop* (inputs first, then neurons) in the Network."""
        pop = self._population(pop)
        offset = 0 if pop.kind == "input" else self._n["input"]
        return pop.index + offset

    def build(self, seed=0):
        """Return the Network: geometry, parameters, weights and plasticity masks.

        Distributions are drawn in the order of the ``connect`` calls from
        ``numpy.random.default_rng(seed)``. Synapses never connected have weight 0 and do not
        learn. The plastic pairs (source j, neuron i) must equal ``plastic_src[j] and
        plastic_dst[i]`` for some masks; otherwise ValueError names a pair that breaks it.
        """
        n_in, n = self._n["input"], self._n["neuron"]
        if n_in == 0 or n == 0:
            raise ValueError("a network needs at least one input population and one neuron "
                             "population")
        net = Network(n_in, n, seed=None)
        net.w_exp, net.w_exp_rec = self.w_exp, self.w_exp_rec
        net.learning = Learning(**self.learning.as_dict())
        for pop, params in self._params:
            for name, value in params.items():
                getattr(net, name)[pop.start:pop.stop] = value
        rng = np.random.default_rng(seed)
        plastic = np.zeros((net.n_sources, n), dtype=bool)
        for (pre, post, weights), (_, _, learns) in zip(self._weights, self._plastic):
            rows, cols = self.sources(pre), post.index
            shape = (len(pre), len(post))
            w = weights(rng, shape) if callable(weights) else weights
            w = np.broadcast_to(np.asarray(w), shape)
            try:
                net.weights[np.ix_(rows, cols)] = w
            except ValueError as exc:
                raise ValueError(f"weights from {pre.name!r} to {post.name!r}: {exc}") \
                    from None
            plastic[np.ix_(rows, cols)] = learns
        net.plastic_src, net.plastic_dst = plastic_masks(
            plastic, lambda j: f"source {j} ({self._name_of_source(j)})",
            lambda i: f"neuron {i} ({self._name_of_neuron(i)})")
        net.check()
        return net

    def _name_of_source(self, j):
        n_in = self._n["input"]
        if j >= n_in:
            return self._name_of_neuron(j - n_in)
        return next(p.name for p in self.populations.values()
                    if p.kind == "input" and p.start <= j < p.stop)

    def _name_of_neuron(self, i):
        return next(p.name for p in self.populations.values()
                    if p.kind == "neuron" and p.start <= i < p.stop)
