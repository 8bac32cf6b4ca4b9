"""Run a PyNN script's network on one spikecore core, and keep what it recorded.

The network is built (``spikecore.pynn.build``) and loaded at the first ``run()`` and after
``reset()``. A change after a run (a parameter, a weight) is applied in place with
``Core.set`` and ``Core.write_weights`` when the network keeps its quantization (the same
w_exp and per-neuron scales), so the state and learned weights carry on; otherwise it is
refused, since reloading would lose the state. Weights the script set are written whatever
the device holds; approximations that a change brings warn, as the first build's do.

Recording: every neuron's spikes come back from each ``Core.run``; SpikeSourceArray spikes
are known; Poisson spikes are the device generators' (docs/model.md, xorshift32), computed
again on the host from the states the host loaded. ``v`` of at most ``spec.MAX_PROBES``
neurons in all is probed by ``Core.run`` itself; more neurons are read with ``read_state``
after every step, one ``run`` per step: slow on a board.
"""

import warnings

import numpy as np

from .. import spec
from ..model import generate_steps, xorshift32
from .build import build
from .stimulus import Stimulus, segments

__all__ = ["Engine", "History"]


class History:
    """What happened since the last reset: spikes, and v of the recorded neurons.

    Neuron spikes are at the step they happen (time step·dt); source spikes at their step m
    (delivered at m + 1). ``v[i]`` holds neuron i's integer v in pieces ``(n, [arrays])``:
    samples n, n + 1, … (sample n is v at n·dt, before step n) while it was recorded.
    """

    def __init__(self):
        self.events = {"neuron": ([], []), "input": ([], [])}
        self.v = {}

    def v_end(self, neuron):
        """Return the last sample of *neuron*'s v held, or None."""
        if neuron not in self.v:
            return None
        first, arrays = self.v[neuron][-1]
        return first + sum(len(a) for a in arrays) - 1

    def start_v(self, neuron, step, value):
        """Start a piece of *neuron*'s v at sample *step*."""
        self.v.setdefault(neuron, []).append((step, [np.array([value])]))

    def add_v(self, neuron, values):
        """Append the samples after the last one held."""
        self.v[neuron][-1][1].append(np.asarray(values))

    def add(self, kind, steps, index):
        if len(steps):
            self.events[kind][0].append(np.asarray(steps, np.int64))
            self.events[kind][1].append(np.asarray(index, np.int64))

    def spikes(self, kind):
        """Return (steps, index) of every spike of *kind* ("neuron" or "input")."""
        steps, index = self.events[kind]
        if not steps:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        self.events[kind] = ([np.concatenate(steps)], [np.concatenate(index)])
        return self.events[kind][0][0], self.events[kind][1][0]

    def v_samples(self, neuron, first, last):
        """Return neuron's integer v at steps first … last (NaN where not recorded)."""
        out = np.full(last - first + 1, np.nan)
        for start, arrays in self.v.get(neuron, []):
            values = np.concatenate(arrays)
            lo, hi = max(first, start), min(last, start + len(values) - 1)
            if lo <= hi:
                out[lo - first:hi - first + 1] = values[lo - start:hi - start + 1]
        return out


class Engine:
    """One core, the network loaded on it, and the history of the current segment.

    Parameters
    ----------
    core : spikecore.Core
    dt : float
        ms.
    rng_seed : int
        Seeds the input generators' states (``numpy.random.default_rng``).
    """

    #: Steps per ``Core.run`` call at most (bounds the memory of the streamed inputs).
    CHUNK = 4096
    #: Relative error above which building warns (the report has them all).
    WARN_ERROR = 0.01

    def __init__(self, core, dt, rng_seed=0):
        self.core, self.dt = core, dt
        # A device's geometry is fixed (IDENTIFY); the model takes any (None until loaded).
        self._geometry = None if core.n_inputs is None else (core.n_inputs, core.n_neurons)
        self.mapping = None
        self._rng = np.random.default_rng(rng_seed)
        self._gen = None            # the generators' states the next load starts from
        self._loaded = False
        self._dirty = True
        self._built = []            # the projections of the network the device holds
        self._weights_set = set()   # projections whose weights the script set since the
                                    # last load or update (pending)
        self.history = History()

    def geometry(self):
        """Return the device's (n_inputs, n_neurons), or None (the model takes any)."""
        return self._geometry

    def changed(self):
        self._dirty = True

    def weights_set(self, prj):
        """Note that the script set *prj*'s weights: the next run writes them all, whatever
        the device holds (learned weights included)."""
        self._weights_set.add(prj)
        self._dirty = True

    def holds(self, prj):
        """Whether the device holds *prj*'s weights as they are now: a network is loaded,
        *prj* is in it, and the script has not set its weights since (they are pending)."""
        return (self._loaded and self.mapping is not None and prj in self._built
                and prj not in self._weights_set)

    def reset(self):
        """Load the network again at the next run (PyNN's reset: initial state and weights)."""
        self._loaded = False
        self._weights_set = set()
        self.history = History()

    # --- building and loading ---

    def prepare(self, state):
        """Build and load the network if it is not loaded, or apply the script's changes."""
        if self._loaded and not self._dirty:
            return
        mapping = build(state.populations, state.projections, self.dt, state.id_counter,
                        self.geometry())
        stim = Stimulus(mapping.layout, self.dt)
        if stim.poisson.size:
            mapping.report.add("Poisson", "rate", "Hz", stim.hz, stim.realised_hz())
        mapping.report.notes += stim.notes
        if self._loaded:
            self._update(mapping, state.projections)
            self._warn(mapping.report, since=self.mapping.report)
        else:
            self._load(mapping)
            self._warn(mapping.report)
        self.mapping, self._dirty = mapping, False
        self._built, self._weights_set = list(state.projections), set()

    def _load(self, mapping):
        net = mapping.network
        if self._gen is None or len(self._gen) != net.n_inputs:
            self._gen = self._rng.integers(1, 2**32, net.n_inputs)
        net.gen_state = self._gen
        self.core.load(net)
        self._loaded = True
        self._rate = np.zeros(net.n_inputs, np.int64)       # the device's, as loaded
        self._carry = None              # the rates and spikes of the sources' last step
        # The host's copy of the generators runs one step ahead of the device (below).
        self._replica = xorshift32(self._gen)

    def _warnings(self, report):
        """Return (relative errors above WARN_ERROR, approximation notes) of *report*."""
        worst = [f"{row['name']} ({row['where']}) {100 * row['error'].max():.3g} %"
                 for row in report.rows
                 if row["error"].size and row["error"].max() > self.WARN_ERROR]
        return worst, [note for note in report.notes if note.startswith("approximation")]

    def _warn(self, report, since=None):
        """Warn of *report*'s large errors and approximations (those not in *since*)."""
        worst, approx = self._warnings(report)
        if since is not None:
            old_worst, old_approx = self._warnings(since)
            worst = [item for item in worst if item not in old_worst]
            approx = [note for note in approx if note not in old_approx]
        if worst or approx:
            warnings.warn("spikecore.pynn: " + "; ".join(
                ([f"relative errors above {100 * self.WARN_ERROR:g} %: " + ", ".join(worst)]
                 if worst else []) + approx)
                + ". spikecore.pynn.quantization_report() lists every parameter.",
                stacklevel=4)

    def _update(self, new, projections):
        """Apply *new* to the loaded network in place, or refuse.

        Weights are written where *new*'s differ from the loaded network's, and every weight
        of the projections whose weights the script set (learning may have moved them away
        from both)."""
        old = self.mapping
        a, b = old.network, new.network
        same = (old.layout.n_inputs == new.layout.n_inputs
                and old.layout.n_neurons == new.layout.n_neurons
                and a.w_exp == b.w_exp and np.allclose(old.scale, new.scale, rtol=1e-12)
                and np.array_equal(old.v_reset, new.v_reset)
                and np.array_equal(a.plastic_src, b.plastic_src)
                and np.array_equal(a.plastic_dst, b.plastic_dst)
                and a.learning == b.learning)
        if not same:
            raise RuntimeError(
                "this change after run() changes how the network is quantized (its size, "
                "w_exp, a neuron's scale or v_reset, plasticity or learning parameters); "
                "loading it again "
                "would lose the state. Make the change before the first run(), or call reset() "
                "first")
        fields = {name: np.asarray(getattr(b, name)) for name in ("vth", "bias", "du", "dv",
                                                                   "t_ref")
                  if not np.array_equal(getattr(a, name), getattr(b, name))}
        if fields:
            self.core.set(**fields)
        changed = np.asarray(a.weights) != np.asarray(b.weights)
        layout = new.layout
        for prj in self._weights_set:
            if prj in projections and len(prj):
                pre_ids, post_ids = prj.connection_ids()
                changed[new.row(layout.source(pre_ids)), layout.index(post_ids)] = True
        rows = np.flatnonzero(changed.any(axis=1))
        if rows.size:
            merged = np.where(changed, b.weights, self.core.read_weights())
            self.core.write_weights(merged[rows], rows)

    # --- running ---

    def advance(self, state, steps):
        """Run *steps* steps from step ``state.steps``, recording into the history."""
        self.prepare(state)
        first, last = state.steps, state.steps + steps
        if steps <= 0:
            return
        stim = self._stimulus()
        probed = self._start_v(state, first)
        sent, carried_rates = self._deliveries(stim, first, last)
        cuts = [first + 1] + [m + 1 for m in stim.changes(first, last)]
        for a, b in segments(first, last, cuts, self.CHUNK):
            self._set_rates(stim, carried_rates if a == first else stim.rates(a - 1))
            inputs = np.zeros((b - a, self.mapping.network.n_inputs), bool)
            now = (sent[0] >= a) & (sent[0] < b)
            inputs[sent[0][now] - a, sent[1][now]] = True
            spikes, v = self._run(inputs, probed)
            t, i = np.nonzero(spikes[:, :self.mapping.layout.n_neurons])
            self.history.add("neuron", a + t, i)
            for col, neuron in enumerate(probed):
                self.history.add_v(neuron, v[:, col])
        self._carry = (stim.rates(last - 1), stim.spikes(last - 1, last)[1])
        self.history.add("input", *stim.spikes(first, last))
        self._replay_poisson(stim, first, last)

    def _stimulus(self):
        """Return the sources as the script has them now; report new approximations."""
        stim = Stimulus(self.mapping.layout, self.dt)
        new = [note for note in stim.notes if note not in self.mapping.report.notes]
        if new:
            self.mapping.report.notes += new
            warnings.warn("spikecore.pynn: " + "; ".join(new), stacklevel=5)
        return stim

    def _deliveries(self, stim, first, last):
        """Return ((steps, inputs) of the array spikes sent in steps first … last−1, and the
        Poisson rates of step *first*).

        Device step t delivers the sources' step t − 1: its spikes and rates(t − 1). Those of
        step *first* were decided in the run before (the carry), with the parameters of then.
        """
        if self._carry is None or len(self._carry[0]) != stim.poisson.size:
            self._carry = (np.zeros(stim.poisson.size, np.int64), np.zeros(0, np.int64))
        carried_rates, carried = self._carry
        m, j = stim.spikes(first, last - 1)
        sent = (np.concatenate([np.full(carried.size, first), m + 1]),
                np.concatenate([carried, j]))
        return sent, carried_rates

    def _set_rates(self, stim, rates):
        full = np.zeros(self.mapping.network.n_inputs, np.int64)
        full[stim.poisson] = rates
        if not np.array_equal(full, self._rate):
            self.core.set_rates(full)
            self._rate = full

    def _replay_poisson(self, stim, first, last):
        """Compute the Poisson spikes of steps first … last−1 (device steps + 1) on the host.

        The replica holds the generators' states after device step ``first`` (one ahead);
        every generator advances every step, whatever its rate (docs/model.md).
        """
        poisson = stim.poisson
        for a, b in segments(first, last, stim.changes(first, last), self.CHUNK):
            rates = np.zeros(len(self._replica), np.int64)
            rates[poisson] = stim.rates(a)
            self._replica, fired = generate_steps(self._replica, rates, b - a)
            t, j = np.nonzero(fired)
            self.history.add("input", a + t, j)
        self._gen = self._replica

    def _run(self, inputs, probed):
        """Run the steps of *inputs*; return (spikes, v of *probed*: (steps, k) ints)."""
        if len(probed) <= spec.MAX_PROBES:
            if not probed:
                return self.core.run(inputs), np.zeros((len(inputs), 0), np.int64)
            rec = self.core.run(inputs, record="spikes", probes={"v": probed})
            return rec.spikes, rec.probes["v"]
        spikes = np.zeros((len(inputs), self.core.n_neurons or
                           self.mapping.network.n_neurons), bool)
        v = np.zeros((len(inputs), len(probed)), np.int64)
        for t in range(len(inputs)):
            spikes[t] = self.core.run(inputs[t:t + 1])[0]
            v[t] = self.core.read_state().v[probed]
        return spikes, v

    def _start_v(self, state, step):
        """Return the neurons whose v is recorded; start a piece of history for those not
        recorded up to now (new ones, or recorded again after a pause)."""
        probed = set()
        for recorder in state.recorders:
            probed |= set(recorder.v_neurons())
        probed = sorted(int(i) for i in probed)
        new = [i for i in probed if self.history.v_end(i) != step]
        if new:
            now = self.core.read_state().v[new] if step else np.zeros(len(new), np.int64)
            for i, value in zip(new, now):
                self.history.start_v(i, step, value)
        return probed

    # --- reading back ---

    def weights(self, prj, pre_ids, post_ids, target):
        """Return the weights (nA) of *prj*'s connections as the device holds them now.

        A (source, neuron) pair that several connections share holds their sum: those
        connections report their target weights.
        """
        mapping = self.mapping
        layout = mapping.layout
        src, neuron = layout.source(pre_ids), layout.index(post_ids)
        W = self.core.read_weights()
        value = W[mapping.row(src), neuron] / mapping.per_nA[neuron]
        return np.where(mapping.multiplicity[src, neuron] == 1, value, target)
