"""Physical units to spikecore's integer parameters and back, with a quantization report.

Without its rounding, a spikecore neuron (docs/model.md, step 4) computes

    u[t] = α·u[t−1] + 2^w_exp · Σ_j W[j, i]·s_j[t]       α = 1 − du/4096
    v[t] = β·v[t−1] + u[t] + bias                          β = 1 − dv/4096
    spike when v[t] > vth; then v ← 0, held at 0 for t_ref steps,

where s_j[t] are this step's inputs and last step's neuron spikes. :class:`Dynamics` is this
system with real numbers; every conversion goes through it. Physical units (:class:`Physical`)
and NIR graphs (``spikecore.nir``) are turned into a :class:`Dynamics`, and :func:`quantize`
turns a :class:`Dynamics` into a :class:`~spikecore.Network`.

**Per-neuron scaling.** The equations are linear in (u, v, vth, bias, W[:, i]): multiplying all
of neuron i's by the same k_i > 0 leaves its spikes unchanged (up to rounding). So each neuron
gets its own scale k_i, chosen so that its largest incoming weight is ±127: every column uses
the whole int8 range. One global ``w_exp`` remains; :func:`quantize` takes the largest for
which no neuron's state can reach the 24-bit range (``sat24``), from the worst case bound
``|u| ≤ Σ_j|w_j| / (1 − α)``, ``|v| ≤ (|u|max + |bias|) / (1 − β)``.

**Decay rates.** ``decay_rate(tau, dt)`` is 4096·(1 − e^(−dt/tau)) ("exp", the exact decay
of the continuous equations over one step) or 4096·dt/tau ("euler", what NIR tools such as
snnTorch, Norse and Lava use: β = 1 − dt/tau).
"""

import math
from dataclasses import dataclass, field

import numpy as np

from . import spec
from .network import Network

__all__ = ["decay_rate", "tau_of", "Dynamics", "quantize", "Quantized", "Report",
           "Physical", "Conversion"]

_METHODS = ("exp", "euler")


def _method(method):
    if method not in _METHODS:
        raise ValueError(f"method must be 'exp' or 'euler', not {method!r}")
    return method


def decay_rate(tau, dt, method="exp"):
    """Return the decay rate d (real, in [0, 4096]) that makes a state keep (4096 − d)/4096.

    ``exp``: ``d = 4096·(1 − exp(−dt/tau))``; ``euler``: ``d = 4096·dt/tau``. ``tau = 0``
    gives 4096 (nothing kept), ``tau = inf`` gives 0 (no decay). Worked examples: tau = 20 ms,
    dt = 1 ms gives 199.8 (dv = 200); tau = 5 ms gives 742.4 (du = 742); euler with
    tau = 1 ms, dt = 0.1 ms gives 409.6.
    """
    tau = np.asarray(tau, dtype=float)
    _method(method)
    with np.errstate(divide="ignore"):
        ratio = np.where(tau > 0, dt / np.where(tau > 0, tau, 1.0), np.inf)
    if method == "exp":
        kept = np.exp(-ratio)
    else:
        if np.any(ratio > 1):
            raise ValueError(f"tau = {float(tau[ratio > 1].flat[0])!r} s is shorter than "
                             f"dt = {dt!r} s: Euler's decay 1 − dt/tau would be negative")
        kept = 1.0 - ratio
    return spec.DECAY_ONE * (1.0 - kept)


def tau_of(d, dt, method="exp"):
    """Return the time constant (s) of the integer decay rate *d*: the inverse of decay_rate.

    ``exp``: ``tau = −dt / ln(1 − d/4096)``; ``euler``: ``tau = dt·4096/d``. d = 0 gives
    inf; d = 4096 gives 0 (exp) or dt (euler).
    """
    kept = 1.0 - np.asarray(d, dtype=float) / spec.DECAY_ONE
    with np.errstate(divide="ignore"):
        if _method(method) == "exp":
            return np.where(kept > 0, -dt / np.log(np.where(kept > 0, kept, 0.5)), 0.0)
        return dt / (1.0 - kept)


def _per_neuron(name, value, n, *, dtype=float):
    array = np.asarray(value, dtype=dtype)
    if array.ndim == 0:
        array = np.full(n, array, dtype=dtype)
    if array.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), not {array.shape}")
    if dtype is float and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, not {array[~np.isfinite(array)][0]}")
    return array


@dataclass
class Dynamics:
    """Spikecore's neuron and synapse equations with real numbers (the module docstring).

    Members
    -------
    n_inputs : int
    alpha, beta : float arrays (n_neurons,)
        Fractions of u and v kept per step, in [0, 1].
    weights : float array (n_inputs + n_neurons, n_neurons)
        ``weights[j, i]``: what a spike of source j adds to u[i] (weights × 2^w_exp).
    bias, threshold : float arrays (n_neurons,)
        Added to v every step; spike when v > threshold (≥ 0).
    t_ref : int array (n_neurons,)
        Refractory steps, in [0, 15].
    """
    n_inputs: int
    alpha: np.ndarray
    beta: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    threshold: np.ndarray
    t_ref: np.ndarray

    def __post_init__(self):
        self.weights = np.asarray(self.weights, dtype=float)
        if self.weights.ndim != 2:
            raise ValueError(f"weights must be 2-D (sources, neurons), not {self.weights.shape}")
        n = self.weights.shape[1]
        if self.weights.shape[0] != self.n_inputs + n:
            raise ValueError(f"weights must have shape ({self.n_inputs + n}, {n}) for "
                             f"{self.n_inputs} inputs, not {self.weights.shape}")
        if not np.all(np.isfinite(self.weights)):
            raise ValueError("weights must be finite")
        for name in ("alpha", "beta", "bias", "threshold"):
            setattr(self, name, _per_neuron(name, getattr(self, name), n))
        self.t_ref = _per_neuron("t_ref", self.t_ref, n, dtype=np.int64)
        for name in ("alpha", "beta"):
            bad = (getattr(self, name) < 0) | (getattr(self, name) > 1)
            if np.any(bad):
                raise ValueError(f"{name}[{np.argmax(bad)}] = {getattr(self, name)[bad][0]} is "
                                 f"outside [0, 1]")
        if np.any(self.threshold < 0):
            raise ValueError(f"threshold[{np.argmax(self.threshold < 0)}] = "
                             f"{self.threshold[self.threshold < 0][0]} is negative; spikecore's "
                             f"vth is in [0, 2^23 − 1]")
        low, high = spec.NEURON_RANGES["t_ref"]
        if np.any((self.t_ref < low) | (self.t_ref > high)):
            raise ValueError(f"t_ref = {self.t_ref.max()} steps is outside [{low}, {high}]")

    @property
    def n_neurons(self):
        return self.weights.shape[1]

    def run(self, inputs):
        """Simulate the equations in float64 (no rounding, no saturation); return the spikes.

        *inputs* is bool (steps, n_inputs); the result is bool (steps, n_neurons). The order is
        docs/model.md's: inputs act in their own step, neuron spikes one step later.
        """
        n = self.n_neurons
        u, v, ref = np.zeros(n), np.zeros(n), np.zeros(n, np.int64)
        s = np.zeros(n, bool)
        out = np.zeros((len(inputs), n), bool)
        for t, row in enumerate(np.asarray(inputs, bool)):
            delivered = np.concatenate([row, s])
            u = self.alpha * u + self.weights[delivered].sum(axis=0)
            v = np.where(ref > 0, 0.0, self.beta * v + u + self.bias)
            s = (ref == 0) & (v > self.threshold)
            v[s] = 0.0
            ref = np.where(s, self.t_ref, np.maximum(ref - 1, 0))
            out[t] = s
        return out


@dataclass
class Quantized:
    """What :func:`quantize` returns.

    Members
    -------
    network : spikecore.Network
    realised : Dynamics
        The dynamics the integers stand for, in the units of the input (``W·2^w_exp / k``).
    scale : float array (n_neurons,)
        k_i: integer units per unit of neuron i's u, v, threshold and bias.
    """
    network: Network
    realised: Dynamics
    scale: np.ndarray


def _state_bound(dyn, du, dv):
    """Return each neuron's worst-case |u|, |v| (and its threshold), in the input's units.

    ``|u| ≤ Σ_j |w_j| / (1 − α)`` with every source firing every step; ``|v| ≤ (|u|max +
    |bias|) / (1 − β)``. The realised α, β are used. No decay (du or dv = 0) gives inf.
    """
    drive = np.abs(dyn.weights).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        u_max = np.where(drive > 0, drive * spec.DECAY_ONE / du, 0.0)
        v_in = u_max + np.abs(dyn.bias)
        v_max = np.where(v_in > 0, v_in * spec.DECAY_ONE / dv, 0.0)
    return np.maximum(np.maximum(u_max, v_max), dyn.threshold)


def quantize(dyn, *, w_exp=None, scale=None):
    """Return the :class:`Quantized` network closest to *dyn*, one scale per neuron.

    ``du = round(4096·(1 − α))``, ``dv = round(4096·(1 − β))``, and with neuron i's scale k_i:
    ``W[j, i] = round(k_i·w[j, i] / 2^w_exp)``, ``vth = round(k_i·threshold)``,
    ``bias = round(k_i·bias)``. By default ``k_i = 2^w_exp·127 / max_j |w[j, i]|`` (the
    column's largest weight becomes ±127), lowered where the worst-case state bound
    (:func:`_state_bound`) would pass 2^23 − 1; ``w_exp`` is the largest in [0, 15] for which
    no neuron is lowered. A neuron without weights gets the largest k that its bound allows.

    Parameters
    ----------
    w_exp : int, optional
        Use this w_exp instead.
    scale : float array (n_neurons,), optional
        Use these k_i instead (with *w_exp*, which is then required): the integers are taken as
        given, and a value out of range raises ValueError.
    """
    n = dyn.n_neurons
    du = np.rint(spec.DECAY_ONE * (1.0 - dyn.alpha)).astype(np.int64)
    dv = np.rint(spec.DECAY_ONE * (1.0 - dyn.beta)).astype(np.int64)
    peak = np.abs(dyn.weights).max(axis=0) if dyn.weights.size else np.zeros(n)
    if scale is None:
        bound = _state_bound(dyn, du, dv)
        # Without decay the state has no bound: then only vth and bias must fit.
        bound = np.where(np.isfinite(bound), bound,
                         np.maximum(dyn.threshold, np.abs(dyn.bias)))
        with np.errstate(divide="ignore"):
            k_sat = np.where(bound > 0, spec.STATE_MAX / np.where(bound > 0, bound, 1), np.inf)
            k_weights = np.where(peak > 0, spec.WEIGHT_MAX / np.where(peak > 0, peak, 1),
                                 np.inf)  # at w_exp = 0
        if w_exp is None:
            fits = [e for e in range(spec.W_EXP_MAX + 1)
                    if np.all((peak == 0) | (k_weights * 2**e <= k_sat))]
            w_exp = max(fits, default=0)
        scale = np.minimum(k_weights * 2**w_exp, k_sat)
        scale = np.where(np.isfinite(scale), scale, 1.0)
    elif w_exp is None:
        raise ValueError("quantize() needs w_exp when it is given a scale")
    scale = _per_neuron("scale", scale, n)
    if np.any(scale <= 0):
        raise ValueError("scale must be positive")

    net = Network(dyn.n_inputs, n, seed=None)
    net.w_exp = w_exp
    net.du, net.dv, net.t_ref = du, dv, dyn.t_ref
    net.weights = np.rint(dyn.weights * (scale / 2**w_exp))
    net.vth = np.rint(dyn.threshold * scale)
    net.bias = np.rint(dyn.bias * scale)
    realised = Dynamics(
        n_inputs=dyn.n_inputs, alpha=1.0 - du / spec.DECAY_ONE, beta=1.0 - dv / spec.DECAY_ONE,
        weights=np.asarray(net.weights, float) * 2**w_exp / scale,
        bias=np.asarray(net.bias, float) / scale, threshold=np.asarray(net.vth, float) / scale,
        t_ref=dyn.t_ref)
    return Quantized(net, realised, scale)


def _relative(target, realised, reference=None):
    """Return |realised − target| / |reference| (reference defaults to target; 0/0 is 0)."""
    target, realised = np.asarray(target, float), np.asarray(realised, float)
    reference = np.abs(target if reference is None else np.asarray(reference, float))
    error = np.abs(realised - target)
    same = (error == 0) | (target == realised)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(same, 0.0, error / reference)


@dataclass
class Report:
    """A quantization report: each parameter's target, its realised value and the error.

    Members
    -------
    rows : list of dict
        ``where`` (a node or population), ``name``, ``unit``, ``target``, ``realised`` (arrays)
        and ``error`` (relative, per element: ``|realised − target| / |target|``; for weights
        and biases into a neuron, relative to the largest of them).
    notes : list of str
        Remarks that are not one parameter's (w_exp, neurons whose state bound limited them).
    """
    rows: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def add(self, where, name, unit, target, realised, *, per_column=False, reference=None):
        """Add a row. Errors are relative to *reference* if given (broadcast), else with
        *per_column* to each column's largest |target|, else to each target."""
        target, realised = np.asarray(target, float), np.asarray(realised, float)
        if reference is not None:
            reference = np.broadcast_to(np.asarray(reference, float), target.shape)
        elif per_column and target.size:
            reference = np.broadcast_to(np.abs(target).max(axis=0, keepdims=True), target.shape)
        self.rows.append({"where": where, "name": name, "unit": unit, "target": target,
                          "realised": realised,
                          "error": _relative(target, realised, reference)})

    def error(self, name, where=None):
        """Return the largest relative error of parameter *name* (in *where*, or anywhere)."""
        errors = [row["error"].max(initial=0.0) for row in self.rows
                  if row["name"] == name and where in (None, row["where"])]
        if not errors:
            raise KeyError(f"the report has no parameter {name!r}"
                           + (f" in {where!r}" if where else ""))
        return max(errors)

    def __str__(self):
        lines = [f"{'where':<16} {'parameter':<22} {'unit':<4} {'target':>22} {'realised':>22} "
                 f"{'max rel. error':>14}"]
        for row in self.rows:
            lines.append(f"{row['where']:<16} {row['name']:<22} {row['unit']:<4} "
                         f"{_span(row['target']):>22} {_span(row['realised']):>22} "
                         f"{_percent(row['error'].max(initial=0.0)):>14}")
        return "\n".join(lines + self.notes)


def _span(values):
    values = values[np.isfinite(values)] if values.size else values
    if values.size == 0:
        return "-"
    low, high = values.min(), values.max()
    return f"{low:.6g}" if low == high else f"{low:.4g} … {high:.4g}"


def _percent(error):
    return "inf" if not np.isfinite(error) else f"{100 * error:.3g} %"


def add_quantization_notes(report, quantized, where_of=None):
    """Append the notes every conversion shares: w_exp, and neurons that could not use all
    of int8 because of their state bound."""
    net = quantized.network
    report.notes.append(f"w_exp = {net.w_exp}; each neuron has its own scale "
                        f"(integer units per unit: {_span(quantized.scale)})")
    free = np.flatnonzero((np.asarray(net.du) == 0) | (np.asarray(net.dv) == 0))
    if free.size:
        report.notes.append(f"{free.size} neuron(s) have du or dv = 0 (no decay): their state "
                            f"has no bound and may saturate at ±2^23")
    peak = np.abs(np.asarray(net.weights, np.int64)).max(axis=0)
    short = np.flatnonzero((peak > 0) & (peak < spec.WEIGHT_MAX - 1))
    if short.size:
        names = [where_of(i) if where_of else f"neuron {i}" for i in short[:5]]
        report.notes.append(f"{short.size} neuron(s) use less than the full int8 range (largest "
                            f"|W| {int(peak[short].min())}…{int(peak[short].max())}) so that "
                            f"their state cannot saturate: {', '.join(names)}"
                            + (" …" if short.size > 5 else ""))


# --- Physical units --------------------------------------------------------------------------

def synaptic_gain(tau_syn, tau_mem, dt):
    """Return what a unit jump of the synaptic current I adds to u (the exact step response).

    With ``tau_syn·dI/dt = −I`` (I jumps by w on a spike, at the start of a step) and
    ``tau_mem·dV/dt = −V + I``, V at the end of step n after a spike in step 0 is
    ``w·tau_syn/(tau_syn − tau_mem)·(α^(n+1) − β^(n+1))``, α = e^(−dt/tau_syn),
    β = e^(−dt/tau_mem). Spikecore gives ``W·(α^(n+1) − β^(n+1))/(α − β)`` for a jump W of u,
    so the gain W/w is ``tau_syn·(α − β)/(tau_syn − tau_mem)``; ``(dt/tau)·β`` when the two
    time constants are equal. ``tau_syn = 0`` (delta synapses) means the spike makes V jump by
    w itself: the gain is β (the jump decays for the rest of the step).
    """
    tau_syn, tau_mem = np.broadcast_arrays(np.asarray(tau_syn, float),
                                           np.asarray(tau_mem, float))
    alpha, beta = np.exp(-dt / np.where(tau_syn > 0, tau_syn, 1.0)), np.exp(-dt / tau_mem)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = tau_syn * (alpha - beta) / (tau_syn - tau_mem)
    equal = np.isclose(tau_syn, tau_mem, rtol=1e-9, atol=0)
    gain = np.where(equal, dt / tau_mem * beta, gain)
    return np.where(tau_syn > 0, gain, beta)


@dataclass
class Physical:
    """A network of current-based LIF neurons in physical units (Brian2-style, I in volts).

    ``tau_syn·dI/dt = −I`` with I jumping by ``weights[j, i]`` when source j spikes (spikes
    arrive at the start of a step), ``tau_mem·dV/dt = −(V − v_rest) + I + i_bias``; a spike
    when V > v_th at the end of a step, then V = v_reset, held for ``refractory``. Spikecore
    samples this exactly at the end of each step (decays by "exp", :func:`synaptic_gain`);
    the initial state is I = 0, V = v_reset. ``tau_syn = 0`` means delta synapses: a spike
    makes V jump by its weight.

    Parameters (scalars are broadcast to every neuron)
    ----------
    n_inputs : int
    dt : float
        Step, seconds.
    tau_mem : float (0, inf); tau_syn : float [0, inf)
        Seconds.
    v_th : float
        Threshold, volts; above v_reset.
    weights : float array (n_inputs + n_neurons, n_neurons)
        Jump of I (volts) per spike of source j into neuron i; rows are sources as in
        :class:`~spikecore.Network` (inputs, then neurons, whose spikes arrive a step later).
    v_rest, v_reset, i_bias : float
        Volts. Spikecore's v is V − v_reset, so ``v_rest − v_reset + i_bias`` is one constant
        drive (``bias``); the state starts at v_reset.
    refractory : float
        Seconds V is held at v_reset after a spike: a whole number of steps, at most 15.
    """
    n_inputs: int
    dt: float
    tau_mem: np.ndarray
    tau_syn: np.ndarray
    v_th: np.ndarray
    weights: np.ndarray
    v_rest: np.ndarray = 0.0
    v_reset: np.ndarray = 0.0
    i_bias: np.ndarray = 0.0
    refractory: np.ndarray = 0.0

    def __post_init__(self):
        self.weights = np.asarray(self.weights, dtype=float)
        if self.weights.ndim != 2:
            raise ValueError(f"weights must be 2-D (sources, neurons), not {self.weights.shape}")
        n = self.weights.shape[1]
        if not (isinstance(self.dt, (int, float)) and math.isfinite(self.dt) and self.dt > 0):
            raise ValueError(f"dt must be a positive number of seconds, not {self.dt!r}")
        for name in ("tau_mem", "tau_syn", "v_th", "v_rest", "v_reset", "i_bias",
                     "refractory"):
            setattr(self, name, _per_neuron(name, getattr(self, name), n))
        if np.any(self.tau_mem <= 0):
            raise ValueError(f"tau_mem must be positive, not {self.tau_mem.min()}")
        if np.any(self.tau_syn < 0):
            raise ValueError(f"tau_syn must be zero (delta synapses) or positive, not "
                             f"{self.tau_syn.min()}")
        if np.any(self.v_th < self.v_reset):
            i = int(np.argmax(self.v_th < self.v_reset))
            raise ValueError(f"v_th[{i}] = {self.v_th[i]} V is below v_reset = "
                             f"{self.v_reset[i]} V; spikecore's threshold is above its reset")

    @property
    def n_neurons(self):
        return self.weights.shape[1]

    def dynamics(self):
        """Return the :class:`Dynamics` this description samples to (before rounding)."""
        steps = self.refractory / self.dt
        t_ref = np.rint(steps)
        if np.any(np.abs(steps - t_ref) > 1e-6) or np.any(t_ref > spec.REF_MAX) \
                or np.any(t_ref < 0):
            i = int(np.argmax((np.abs(steps - t_ref) > 1e-6) | (t_ref > spec.REF_MAX)
                              | (t_ref < 0)))
            raise ValueError(f"refractory[{i}] = {self.refractory[i]} s is not a whole number "
                             f"of steps of {self.dt} s in [0, {spec.REF_MAX}]")
        beta = 1.0 - decay_rate(self.tau_mem, self.dt) / spec.DECAY_ONE
        return Dynamics(
            n_inputs=self.n_inputs,
            alpha=1.0 - decay_rate(self.tau_syn, self.dt) / spec.DECAY_ONE, beta=beta,
            weights=self.weights * synaptic_gain(self.tau_syn, self.tau_mem, self.dt),
            bias=(1.0 - beta) * (self.v_rest - self.v_reset + self.i_bias),
            threshold=self.v_th - self.v_reset, t_ref=t_ref.astype(np.int64))

    def quantize(self, *, w_exp=None):
        """Return the :class:`Conversion` (network and report) of this description."""
        target = self.dynamics()
        q = quantize(target, w_exp=w_exp)
        got = q.realised
        report = Report()
        where = "neurons"
        report.add(where, "tau_mem", "s", self.tau_mem,
                   tau_of(np.asarray(q.network.dv), self.dt))
        report.add(where, "tau_syn", "s", self.tau_syn,
                   tau_of(np.asarray(q.network.du), self.dt))
        report.add(where, "v_th − v_reset", "V", target.threshold, got.threshold)
        beta = 1.0 - decay_rate(self.tau_mem, self.dt) / spec.DECAY_ONE
        with np.errstate(divide="ignore", invalid="ignore"):
            drive = np.where(beta < 1, got.bias / (1.0 - beta), 0.0)
        report.add(where, "v_rest − v_reset + i_bias", "V",
                   self.v_rest - self.v_reset + self.i_bias, drive)
        report.add(where, "refractory", "s", self.refractory,
                   np.asarray(q.network.t_ref) * self.dt)
        gain = synaptic_gain(self.tau_syn, self.tau_mem, self.dt)
        report.add(where, "weights", "V", self.weights, got.weights / gain, per_column=True)
        add_quantization_notes(report, q)
        return Conversion(q.network, report, q.scale)

    @classmethod
    def from_network(cls, net, dt, *, v_th=1.0):
        """Describe *net* in physical units at step *dt* (the inverse of :meth:`quantize`).

        Integers carry no unit of voltage: each neuron's volts per integer unit are chosen to
        make its threshold *v_th* (a neuron with vth = 0 gets *v_th* per unit), and v_rest =
        v_reset = 0. Raises ValueError for what has no physical reading here: dv = 0 (no leak,
        tau_mem = ∞) or dv = 4096 (tau_mem = 0).
        """
        net.check()
        dv, du = np.asarray(net.dv), np.asarray(net.du)
        for name, bad in (("dv = 0 (no leak: tau_mem = inf)", dv == 0),
                          ("dv = 4096 (tau_mem = 0)", dv == spec.DECAY_ONE)):
            if np.any(bad):
                raise ValueError(f"neuron {int(np.argmax(bad))} has {name}, which physical "
                                 f"units (finite, positive tau_mem) cannot describe")
        vth = np.asarray(net.vth, float)
        volts = v_th / np.maximum(vth, 1.0)
        tau_mem, tau_syn = tau_of(dv, dt), tau_of(du, dt)
        beta = 1.0 - dv / spec.DECAY_ONE
        return cls(n_inputs=net.n_inputs, dt=dt, tau_mem=tau_mem, tau_syn=tau_syn,
                   v_th=vth * volts,
                   weights=np.asarray(net.weights, float) * 2**net.w_exp * volts
                   / synaptic_gain(tau_syn, tau_mem, dt),
                   i_bias=np.asarray(net.bias, float) * volts / (1.0 - beta),
                   refractory=np.asarray(net.t_ref) * dt)


@dataclass
class Conversion:
    """A network converted from other units, and how close it came.

    Members
    -------
    network : spikecore.Network
    report : Report
    scale : float array (n_neurons,)
        Integer units per volt (or per unit of the source), per neuron.
    """
    network: Network
    report: Report
    scale: np.ndarray
