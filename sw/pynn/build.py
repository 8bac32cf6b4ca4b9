"""Turn a PyNN network (populations, projections) into one spikecore Network.

Every IF_curr_exp cell is a neuron and every spike source an input of one all-to-all core.
The neurons' parameters and the weights go through ``spikecore.units.Physical`` (the one
conversion to integers); this module only gathers them, in SI units, and checks what it
cannot express (the refusals of ``spikecore.pynn``'s docstring).

PyNN's IF_curr_exp, ``cm·dV/dt = −(V − v_rest)·cm/tau_m + I_syn + i_offset``, is
``Physical``'s ``tau_mem·dV/dt = −(V − v_rest) + R·I`` with R = tau_m / cm (MΩ, so that
R·nA = mV): a weight w (nA) is a jump R·w of ``Physical``'s I, ``i_bias = R·i_offset``.
"""

from dataclasses import dataclass

import numpy as np

from .. import spec, units
from ..network import Network
from . import stdp
from .standardmodels import cell_kind

__all__ = ["Layout", "Mapping", "build"]

#: Milli (PyNN's mV and ms) to SI (``Physical``'s V and s).
MILLI = 1e-3


def _kind(pop):
    """Return "neuron" or "input": where *pop*'s cells are in the core."""
    return "neuron" if cell_kind(pop.celltype, pop.label) == "neuron" else "input"


class Layout:
    """Where each PyNN cell is in the core: an input or a neuron, and its index.

    Populations take consecutive ranges in the order they were created, inputs and
    neurons apart (``spikecore.topology`` numbers them the same way).

    Members
    -------
    n_inputs, n_neurons : int
        What the script needs.
    populations : list of (Population, kind, start)
    """

    def __init__(self, populations, id_count):
        self.populations = []
        self._kind = np.full(id_count, -1, dtype=np.int64)
        self._index = np.zeros(id_count, dtype=np.int64)
        count = {"input": 0, "neuron": 0}
        for pop in populations:
            kind = _kind(pop)
            ids = np.asarray(pop.all_cells, dtype=np.int64)
            self._kind[ids] = kind == "neuron"
            self._index[ids] = count[kind] + np.arange(len(ids))
            self.populations.append((pop, kind, count[kind]))
            count[kind] += len(ids)
        self.n_inputs, self.n_neurons = count["input"], count["neuron"]

    def kind(self, ids):
        """Return 1 for neurons, 0 for inputs (int array), per PyNN id."""
        return self._kind[np.asarray(ids, dtype=np.int64)]

    def index(self, ids):
        """Return each cell's index among the inputs or among the neurons."""
        return self._index[np.asarray(ids, dtype=np.int64)]

    def source(self, ids):
        """Return each cell's source number in the script's own geometry (inputs, then
        neurons), as rows of ``Physical.weights``."""
        return self.index(ids) + self.kind(ids) * self.n_inputs

    def of_kind(self, kind):
        """Return [(population, start)] of the populations of *kind*."""
        return [(pop, start) for pop, k, start in self.populations if k == kind]

    def name(self, kind, index):
        """Return "label[i]" for input or neuron *index*."""
        for pop, start in self.of_kind(kind):
            if start <= index < start + pop.size:
                return f"{pop.label}[{index - start}]"
        return f"{kind} {index}"


@dataclass
class Mapping:
    """A PyNN network as a spikecore Network, and how to read values back.

    Members
    -------
    network : spikecore.Network
        At the device's geometry: the script's inputs first, then unused inputs; its
        neurons, then silent ones. Its rates are 0 (``spikecore.pynn.stimulus`` sets them).
    report : spikecore.units.Report
    layout : Layout
    scale : float array (n_neurons,)
        Integer units of v per volt, per neuron (``units.Conversion.scale``).
    per_nA : float array (n_neurons,)
        Integer weight units per nA into each neuron.
    v_reset : float array (n_neurons,)
        mV: the voltage of v = 0.
    multiplicity : int array (n_inputs + n_neurons, n_neurons)
        How many connections the script made on each (source, neuron) pair.
    """
    network: Network
    report: units.Report
    layout: Layout
    scale: np.ndarray
    per_nA: np.ndarray
    v_reset: np.ndarray
    multiplicity: np.ndarray

    def row(self, source):
        """Return the weight row of script source numbers *source* in the device network."""
        source = np.asarray(source)
        n_in = self.layout.n_inputs
        return np.where(source < n_in, source, source - n_in + self.network.n_inputs)

    def v_to_mV(self, v, neurons):
        """Return integer v of *neurons* (…, len(neurons)) in mV."""
        return self.v_reset[neurons] + np.asarray(v, float) / self.scale[neurons] / MILLI


#: IF_curr_exp's parameters.
_NEURON_NAMES = ("v_rest", "cm", "tau_m", "tau_refrac", "tau_syn_E", "tau_syn_I", "i_offset",
                 "v_reset", "v_thresh")


def _neuron_parameters(layout):
    """Return {name: array over all neurons} of the IF_curr_exp parameters and initial v."""
    params = {name: [] for name in (*_NEURON_NAMES, "v_init")}
    for pop, _ in layout.of_kind("neuron"):
        for name in _NEURON_NAMES:
            params[name].append(np.broadcast_to(pop._parameters[name], (pop.size,)))
        params["v_init"].append(np.broadcast_to(
            np.asarray(pop.initial_values["v"].evaluate(simplify=False), float), (pop.size,)))
    return {name: np.concatenate(values) if values else np.zeros(0)
            for name, values in params.items()}


@dataclass
class _Connections:
    """Every connection of the script, in the script's numbering."""
    source: np.ndarray      # source number (inputs, then neurons)
    neuron: np.ndarray
    weight: np.ndarray      # nA, signed
    receptor: np.ndarray    # True: inhibitory
    plastic: np.ndarray


def _connections(projections, layout):
    parts = []
    for prj in projections:
        pre_ids, post_ids = prj.connection_ids()
        n = len(pre_ids)
        parts.append((layout.source(pre_ids), layout.index(post_ids), prj.weights(),
                      np.full(n, prj.receptor_type == "inhibitory"),
                      np.full(n, prj.is_plastic)))
    if not parts:
        e = np.zeros(0, np.int64)
        return _Connections(e, e, np.zeros(0), e.astype(bool), e.astype(bool))
    return _Connections(*(np.concatenate(col) for col in zip(*parts)))


def _tau_syn(params, conns, layout):
    """Return each neuron's one synaptic time constant (ms), or refuse.

    A spikecore neuron has one synaptic current: tau_syn_E and tau_syn_I may differ only on a
    neuron whose incoming connections all use the same receptor type; that one's is used.
    """
    n = layout.n_neurons
    uses_e = np.zeros(n, bool)
    uses_i = np.zeros(n, bool)
    uses_e[conns.neuron[~conns.receptor]] = True
    uses_i[conns.neuron[conns.receptor]] = True
    differ = params["tau_syn_E"] != params["tau_syn_I"]
    bad = np.flatnonzero(uses_e & uses_i & differ)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{layout.name('neuron', i)} has excitatory and inhibitory inputs with tau_syn_E = "
            f"{params['tau_syn_E'][i]} ms ≠ tau_syn_I = {params['tau_syn_I'][i]} ms: a "
            f"spikecore neuron has one synaptic current, so both must be equal (or only one "
            f"receptor type may be used)")
    return np.where(uses_i & ~uses_e, params["tau_syn_I"], params["tau_syn_E"])


def _check_neurons(params, layout, dt):
    """Refuse what IF_curr_exp parameters spikecore cannot express, naming the cell."""
    def refuse(bad, message):
        if np.any(bad):
            i = int(np.argmax(bad))
            raise ValueError(f"{layout.name('neuron', i)}: {message(i)}")

    for name in _NEURON_NAMES:
        refuse(~np.isfinite(params[name]),
               lambda i, name=name: f"{name} = {params[name][i]} is not a number")
    for name, unit in (("cm", "nF"), ("tau_m", "ms")):
        refuse(params[name] <= 0, lambda i, name=name, unit=unit:
               f"{name} = {params[name][i]} {unit} must be positive")
    for name in ("tau_syn_E", "tau_syn_I", "tau_refrac"):
        refuse(params[name] < 0, lambda i, name=name:
               f"{name} = {params[name][i]} ms must be 0 or positive")
    most = spec.REF_MAX + 1
    refuse(np.rint(params["tau_refrac"] / dt) > most,
           lambda i: f"tau_refrac = {params['tau_refrac'][i]} ms is over {most} steps of {dt} "
                     f"ms ({most * dt:g} ms): spikecore's refractory counter is 4 bits (the "
                     f"spike's step and at most {spec.REF_MAX} more)")
    refuse(params["v_thresh"] < params["v_reset"],
           lambda i: f"v_thresh = {params['v_thresh'][i]} mV is below v_reset = "
                     f"{params['v_reset'][i]} mV; spikecore's threshold is above its reset")


def _refractory(params, layout, dt, report):
    """Return the hold after the spike's step (ms) of each neuron's tau_refrac; report it.

    tau_refrac rounds to k = round(tau_refrac/dt) steps, counted from the spike's own step
    (as pyNN.brian2 counts them): v is held at v_reset for the k − 1 steps after it, which is
    ``Physical``'s ``refractory`` (spikecore's t_ref). tau_refrac 0 and one step are the same.
    """
    target = params["tau_refrac"]
    steps = np.rint(target / dt)
    realised = steps * dt
    if np.any(np.abs(realised - target) > 1e-6 * dt):
        i = int(np.argmax(np.abs(realised - target) > 1e-6 * dt))
        report.add("neurons", "tau_refrac", "ms", target, realised)
        report.notes.append(f"approximation: tau_refrac is rounded to whole steps of {dt} ms "
                            f"(e.g. {layout.name('neuron', i)}: {target[i]} ms → "
                            f"{realised[i]:g} ms)")
    hold = np.maximum(steps - 1, 0)
    if target.size:
        report.notes.append("tau_refrac counts the spike's step: v is held at v_reset for "
                            "round(tau_refrac/dt) − 1 steps after it (the refractory row; "
                            "pyNN.brian2's count, NEST holds it one step more)")
    return hold * dt


def _initial_state_notes(params, layout, report):
    """Note initial values of v that spikecore cannot start from (it starts at v_reset)."""
    off = np.flatnonzero(np.abs(params["v_init"] - params["v_reset"]) > 1e-9)
    if off.size:
        i = int(off[0])
        report.notes.append(
            f"approximation: {off.size} neuron(s) start at v = v_reset, not at their initial "
            f"v (e.g. {layout.name('neuron', i)}: {params['v_init'][i]} mV, v_reset "
            f"{params['v_reset'][i]} mV): spikecore's state starts at v_reset")


def build(populations, projections, dt, id_count, geometry=None):
    """Return the :class:`Mapping` of the script's network at step *dt* (ms).

    *geometry* is the device's (n_inputs, n_neurons), or None (the model: the script's).
    Raises ValueError for what spikecore cannot express, naming the population and cell.
    """
    layout = Layout(populations, id_count)
    n_in, n = layout.n_inputs, layout.n_neurons
    dev_in, dev_n = geometry if geometry else (max(n_in, 1), max(n, 1))
    if n_in > dev_in or n > dev_n:
        raise ValueError(f"the script needs {n_in} inputs (spike sources) and {n} neurons; "
                         f"the device has {dev_in} inputs and {dev_n} neurons")
    params = _neuron_parameters(layout)
    conns = _connections(projections, layout)
    multiplicity = np.zeros((n_in + n, n), np.int64)
    np.add.at(multiplicity, (conns.source, conns.neuron), 1)
    report = units.Report()
    net = Network(dev_in, dev_n, seed=None)
    net.vth[:] = spec.STATE_MAX         # neurons the script does not use stay silent
    net.t_ref[:] = 0
    net.plastic_src[:] = False
    net.plastic_dst[:] = False
    scale = per_nA = np.ones(n)
    if n:
        _check_neurons(params, layout, dt)
        _initial_state_notes(params, layout, report)
        plastic = stdp.plastic_pairs(conns, multiplicity, layout)
        scale, per_nA = _quantize(net, params, conns, layout, plastic, projections, dt, report)
        _weight_rows(report, projections, layout, per_nA)
        if plastic.any():
            net.learning = stdp.learning(projections, per_nA[plastic.any(axis=0)], dt, report)
            net.plastic_src[:n_in] = plastic[:n_in].any(axis=1)
            net.plastic_src[dev_in:dev_in + n] = plastic[n_in:].any(axis=1)
            net.plastic_dst[:n] = plastic.any(axis=0)
    net.check()
    return Mapping(net, report, layout, np.asarray(scale, float), np.asarray(per_nA, float),
                   params["v_reset"], multiplicity)


def _quantize(net, params, conns, layout, plastic, projections, dt, report):
    """Convert the neurons and weights with ``units.Physical`` into *net* (the script's
    inputs and neurons first); return each neuron's scale (per V) and units per nA."""
    n_in, n = layout.n_inputs, layout.n_neurons
    resistance = params["tau_m"] / params["cm"]                         # MΩ: mV per nA
    weights = np.zeros((n_in + n, n))
    np.add.at(weights, (conns.source, conns.neuron), conns.weight)
    tau_syn = _tau_syn(params, conns, layout)
    # STDP moves plastic weights up to w_max: one more (phantom) input row makes quantize
    # keep room for it in the neuron's int8 range; it is dropped below.
    bound = stdp.weight_bound(projections, plastic, n)
    rows = np.vstack([weights[:n_in], bound[None, :], weights[n_in:]])
    phys = units.Physical(
        n_inputs=n_in + 1, dt=dt * MILLI, tau_mem=params["tau_m"] * MILLI,
        tau_syn=tau_syn * MILLI, v_th=params["v_thresh"] * MILLI,
        v_rest=params["v_rest"] * MILLI, v_reset=params["v_reset"] * MILLI,
        i_bias=resistance * params["i_offset"] * MILLI,
        refractory=_refractory(params, layout, dt, report) * MILLI,
        weights=rows * resistance * MILLI)
    conv = phys.quantize()
    report.rows += [_in_milli(row) for row in conv.report.rows]
    report.notes += conv.report.notes
    if bound.any():
        report.notes.append("the neurons' weights include w_max of their plastic inputs "
                            "(the room kept for learning)")
    q = conv.network
    net.w_exp = q.w_exp
    for name in ("vth", "bias", "du", "dv", "t_ref"):
        getattr(net, name)[:n] = getattr(q, name)
    w = np.asarray(q.weights)
    net.weights[:n_in, :n] = w[:n_in]
    net.weights[net.n_inputs:net.n_inputs + n, :n] = w[n_in + 1:]
    gain = units.synaptic_gain(tau_syn * MILLI, params["tau_m"] * MILLI, dt * MILLI)
    return conv.scale, conv.scale * gain * resistance * MILLI / 2.0**q.w_exp


def _in_milli(row):
    """Return a report row of ``Physical`` (s, V) in PyNN's units (ms, mV)."""
    if row["unit"] in ("s", "V"):
        row = {**row, "unit": "m" + row["unit"], "target": row["target"] / MILLI,
               "realised": row["realised"] / MILLI}
    return row


def _weight_rows(report, projections, layout, per_nA):
    """Add each projection's weights (nA, target and realised) to the report."""
    for prj in projections:
        _, post_ids = prj.connection_ids()
        w = prj.weights()
        if not w.size:
            continue
        k = per_nA[layout.index(post_ids)]
        realised = np.clip(np.rint(w * k), spec.WEIGHT_MIN, spec.WEIGHT_MAX) / k
        report.add(str(prj.label), "weight", "nA", w, realised,
                   reference=np.abs(w).max())
