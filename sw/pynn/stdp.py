"""PyNN's pair-based additive STDP as spikecore's trace STDP (docs/model.md, step 5).

PyNN's ``STDPMechanism(SpikePairRule(tau_plus, tau_minus, A_plus, A_minus),
AdditiveWeightDependence(w_min, w_max))`` changes a weight, as pyNN.brian2 and pyNN.nest
define it, by ``+w_max·A_plus·exp(−Δt/tau_plus)`` for each earlier presynaptic arrival when
the neuron spikes, and by ``−w_max·A_minus·exp(−Δt/tau_minus)`` for each earlier
postsynaptic spike when a presynaptic spike arrives; weights are clipped to [w_min, w_max].

Spikecore's traces give ``trunc0(x_k·a_plus, 8)`` and ``(y_k·a_minus) >> 8`` integer weight
units at a lag of k steps, where a trace starts at its impulse and decays by flooring each
step (``model.trace_decay``)::

    x_0 = x_imp,   x_k = (x_(k−1)·x_decay) >> 8          (y likewise)

With c integer units per nA (the same for every plastic neuron), :func:`fit_trace` chooses
(x_imp, x_decay, a_plus) so that the core's change ``(x_k·a_plus) >> 8`` follows
``c·w_max·A_plus·exp(−k·dt/tau_plus)`` over the window that matters, k ≤ 2·tau_plus/dt, with
the smallest worst relative error (fitting the middle of each change's rounding), and
(y_imp, y_decay, a_minus) likewise; ``w_min, w_max (int) = round(c·w_min), round(c·w_max)``.
Flooring makes a small trace lose about half a unit a step more than the exponential, so
``256·exp(−dt/tau)`` is not the best decay: a trace that starts large (near 255) and decays a
little slower follows the exponential to the end of the window (a trace starting at 46 with
decay 243 reaches 0 after 31 steps at tau = 20 steps).

Approximations, in the report (the realised window against PyNN's, lag by lag): a change is
a whole number of weight steps, rounded toward zero (7–11 % off at worst for changes of tens
of steps at tau = 20 steps, more for changes of a few steps); the window grows worse with
tau/dt, since an 8-bit trace that decays at all is 0 after at most 255 steps (57 % at tau =
200 steps); and traces saturate at 255 where PyNN's pair rule adds every pair: with an
impulse near 255 a second spike within the window finds the trace nearly full. A pre
arrival and a post spike in the same step count as Δt = 0 potentiation.
"""

from dataclasses import dataclass

import numpy as np

from .. import spec
from ..network import Learning
from ..topology import plastic_masks

__all__ = ["PARAMETERS", "Trace", "plastic_pairs", "weight_bound", "trace",
           "fit_trace", "learning"]

#: The STDP parameters that spikecore holds once, for every plastic synapse.
PARAMETERS = ("tau_plus", "tau_minus", "A_plus", "A_minus", "w_min", "w_max")


def plastic_pairs(conns, multiplicity, layout):
    """Return the plastic (source, neuron) pairs (bool, script numbering), or refuse.

    Spikecore has one weight per pair, plastic iff ``plastic_src[j] and plastic_dst[i]``:
    a plastic pair must hold one connection, and the plastic pairs must be such a product
    (:func:`spikecore.topology.plastic_masks`).
    """
    n_in = layout.n_inputs
    plastic = np.zeros(multiplicity.shape, bool)
    plastic[conns.source[conns.plastic], conns.neuron[conns.plastic]] = True

    def name(j):
        return layout.name("input", j) if j < n_in else layout.name("neuron", j - n_in)

    shared = np.argwhere(plastic & (multiplicity > 1))
    if len(shared):
        j, i = (int(k) for k in shared[0])
        raise ValueError(f"{name(j)} → {layout.name('neuron', i)} holds {multiplicity[j, i]} "
                         f"connections, one of them plastic: spikecore has one weight per "
                         f"pair, so a plastic connection cannot share it")
    plastic_masks(plastic, name, lambda i: layout.name("neuron", i),
                  hint="Every source of an STDP projection must connect to every neuron it "
                       "targets (AllToAllConnector), and no other projection may connect them")
    return plastic


def _stdp_projections(projections):
    return [prj for prj in projections if prj.is_plastic and len(prj)]


def _parameters(projections):
    """Return the one value of each STDP parameter, or refuse several."""
    values = {}
    for prj in projections:
        for name in PARAMETERS:
            found = np.unique(prj.values(name))
            if found.size > 1:
                raise ValueError(f"projection {prj.label!r}: {name} takes several values "
                                 f"({found[:3].tolist()}…); spikecore's learning parameters "
                                 f"are global, one value for every plastic synapse")
            value = float(found[0])
            if name in values and values[name][0] != value:
                raise ValueError(
                    f"STDP projections {values[name][1]!r} and {prj.label!r} differ in "
                    f"{name} ({values[name][0]} and {value}); spikecore's learning parameters "
                    f"are global, one value for every plastic synapse")
            values[name] = (value, prj.label)
    return {name: value for name, (value, _) in values.items()}


def weight_bound(projections, plastic, n_neurons):
    """Return per neuron the largest |w_min|, |w_max| (nA) its plastic weights may reach."""
    bound = np.zeros(n_neurons)
    stdp = _stdp_projections(projections)
    if stdp:
        p = _parameters(stdp)
        bound[plastic.any(axis=0)] = max(abs(p["w_min"]), abs(p["w_max"]))
    return bound


#: A larger impulse may fit up to this much worse (absolute, in relative error) than the best
#: and still be chosen: the larger the trace, the less flooring distorts it.
IMP_SLACK = 0.005

#: An 8-bit trace that decays at all (decay < 256) is 0 after at most 255 steps.
LONGEST_WINDOW = spec.TRACE_MAX


def trace(imp, decay, steps):
    """Return the trace at lags 0 … *steps* after one jump to *imp* (int64 array).

    ``x_0 = imp``, ``x_k = (x_(k−1)·decay) >> 8``: the model's ``trace_decay`` each step.
    *imp* and *decay* may be arrays (broadcast); the lags are the last axis.
    """
    x = np.asarray(imp, np.int64) + np.zeros(np.broadcast(imp, decay).shape, np.int64)
    out = [x]
    for _ in range(steps):
        x = (x * np.asarray(decay, np.int64)) >> spec.TRACE_DECAY_SHIFT
        out.append(x)
    return np.stack(out, axis=-1)


@dataclass(frozen=True)
class Trace:
    """One side of the STDP window as :func:`fit_trace` chose it.

    Members
    -------
    imp, decay, rate : int
        The trace's impulse and decay (x_imp, x_decay or y_imp, y_decay) and its learning
        rate (a_plus or a_minus).
    target, realised : float array (steps + 1,)
        Weight units per spike pair at lags 0 … steps: ``target·exp(−k·dt/tau)``, and the
        core's change ``(trace_k·rate) >> 8``.
    error : float
        The largest relative error of *realised*.
    """
    imp: int
    decay: int
    rate: int
    target: np.ndarray
    realised: np.ndarray
    error: float


def fit_trace(target, tau, dt, what="the change per spike pair"):
    """Return the :class:`Trace` whose window best follows ``target·exp(−k·dt/tau)``.

    *target* is the change at lag 0 (integer weight units), *tau* and *dt* in one unit; the
    window is the lags k = 0 … K, K = ceil(2·tau/dt) (at most :data:`LONGEST_WINDOW`). The
    core changes a weight by ``floor(z_k)``, ``z_k = trace_k·rate/256``: between z_k − 1 and
    z_k. The fit makes the middle of that, z_k − ½, follow the target: it minimises the worst
    relative error ``max_k |z_k − ½ − target_k| / target_k`` over every impulse in [1, 255],
    every decay in [0, 256] whose trace from 255 is not 0 by lag K (a trace at 0 there is 100 %
    off) and, for each, the best rate in [1, 255] (a binary search: the error is convex in the
    rate). Of the impulses within :data:`IMP_SLACK` of the best fit, the largest is chosen,
    with its best decay and rate. Raises ValueError, naming *what*, for a target that 8-bit
    traces and rates cannot give.
    """
    product = spec.TRACE_DECAY_ONE * target
    if product < 0.5:
        raise ValueError(f"{what} is {target:.3g} integer weight units per spike pair, below "
                         f"spikecore's smallest step (1/256): learning would do nothing")
    if product > spec.TRACE_MAX**2:
        raise ValueError(f"{what} is {target:.3g} integer weight units per spike pair, above "
                         f"what 8-bit traces and rates can give ({spec.TRACE_MAX**2 / 256:.0f})")
    steps = int(min(np.ceil(2 * tau / dt), LONGEST_WINDOW))
    want = target * np.exp(-np.arange(steps + 1) * dt / tau)
    decay = np.arange(spec.TRACE_DECAY_ONE + 1)
    decay = decay[trace(spec.TRACE_MAX, decay, steps)[:, -1] > 0]
    imp = np.arange(1, spec.TRACE_MAX + 1)[:, None]
    per_rate = trace(imp, decay, steps) / spec.TRACE_DECAY_ONE / want   # (imp, decay, k)
    middle = 1 + 0.5 / want

    def fit(rate):
        return np.abs(rate[..., None] * per_rate - middle).max(axis=-1)

    low = np.ones(per_rate.shape[:2])
    high = np.full(per_rate.shape[:2], float(spec.TRACE_MAX))
    while np.any(low < high):
        mid = np.floor((low + high) / 2)
        up = fit(mid + 1) < fit(mid)
        low, high = np.where(up, mid + 1, low), np.where(up, high, mid)
    error = fit(low)
    per_imp = error.min(axis=1)
    i = int(np.flatnonzero(per_imp <= per_imp.min() + IMP_SLACK).max())
    j = int(np.argmin(error[i]))
    chosen = Trace(imp=i + 1, decay=int(decay[j]), rate=int(low[i, j]), target=want,
                   realised=np.zeros(0), error=0.0)
    realised = (trace(chosen.imp, chosen.decay, steps) * chosen.rate
                >> spec.TRACE_DECAY_SHIFT).astype(float)
    return Trace(chosen.imp, chosen.decay, chosen.rate, want, realised,
                 float(np.abs(realised / want - 1).max()))


def learning(projections, per_nA, dt, report):
    """Return the spikecore Learning settings of the script's STDP projections.

    *per_nA* is the integer weight units per nA of each plastic neuron: they must be equal.
    Adds the realised windows to *report*.
    """
    stdp = _stdp_projections(projections)
    p = _parameters(stdp)
    c = float(per_nA[0])
    if np.ptp(per_nA) > 1e-9 * c:
        raise ValueError(
            f"the plastic neurons have different weight scales ({per_nA.min():.6g} … "
            f"{per_nA.max():.6g} integer units per nA) while spikecore's learning rates are "
            f"global: each neuron's largest incoming weight is 127, so give them the same "
            f"largest incoming weight (w_max, or a static weight above it)")
    plus = fit_trace(c * p["w_max"] * p["A_plus"], p["tau_plus"], dt, "w_max·A_plus")
    minus = fit_trace(c * p["w_max"] * p["A_minus"], p["tau_minus"], dt, "w_max·A_minus")
    w_min, w_max = (int(np.clip(np.rint(c * p[k]), spec.WEIGHT_MIN, spec.WEIGHT_MAX))
                    for k in ("w_min", "w_max"))
    where = "STDP"
    for name, side in (("w_max·A_plus·e^(−Δt/tau_plus)", plus),
                       ("w_max·A_minus·e^(−Δt/tau_minus)", minus)):
        report.add(where, name, "nA", side.target / c, side.realised / c)
    report.add(where, "w_min", "nA", p["w_min"], w_min / c, reference=p["w_max"])
    report.add(where, "w_max", "nA", p["w_max"], w_max / c)
    report.notes.append(
        f"STDP: x_imp {plus.imp}, x_decay {plus.decay}, a_plus {plus.rate}; y_imp {minus.imp}, "
        f"y_decay {minus.decay}, a_minus {minus.rate}: the windows are compared at lags up to "
        f"{(len(plus.target) - 1) * dt:g} and {(len(minus.target) - 1) * dt:g} ms (2·tau); "
        f"one weight step is {1 / c:.4g} nA")
    report.notes.append(
        f"approximation: STDP traces start at {plus.imp} (pre) and {minus.imp} (post) and "
        f"saturate at {spec.TRACE_MAX}, so a second spike within the window adds less than "
        f"PyNN's pair rule (which adds every pair); weight changes are rounded toward zero "
        f"to whole steps")
    return Learning(enabled=True, a_plus=plus.rate, a_minus=minus.rate, x_imp=plus.imp,
                    y_imp=minus.imp, x_decay=plus.decay, y_decay=minus.decay, w_min=w_min,
                    w_max=w_max)
