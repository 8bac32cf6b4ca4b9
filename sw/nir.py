"""NIR import and export: spikecore networks to and from the Neuromorphic Intermediate
Representation (PyPI ``nir`` 1.0; docs/interop.md).

>>> imp = spikecore.nir.from_nir("model.nir", dt=1e-4)     # NIR has no dt: the caller gives it
>>> core.load(imp.network)
>>> spikes = imp.run(core, x)                               # {node name: bool (steps, n)}
>>> graph = spikecore.nir.to_nir(net, dt=1e-3)

**Semantics.** NIR's equations are continuous; like snnTorch, Norse and Lava's importers, this
module steps them with forward Euler at the given dt, one step per input row, a spike being 1
for one step. For a CubaLIF node, with S the sum of its incoming edges (``W·x + b``)::

    I[t] = (1 − dt/tau_syn)·I[t−1] + (dt/tau_syn)·w_in·S[t]
    V[t] = (1 − dt/tau_mem)·V[t−1] + (dt/tau_mem)·(v_leak + r·I[t])
    spike when V[t] > v_threshold, then V ← v_reset (which must be 0)

LIF is the same with I = S (du = 4096); IF is ``V[t] = V[t−1] + dt·r·S[t]`` (dv = 0). The
neuron's u is ``(dt/tau_mem)·r·I``, so r, w_in and the dt/tau factors all go into the weights;
``(dt/tau_mem)·v_leak`` is spikecore's ``bias``. Each neuron then gets its own scale
(``spikecore.units.quantize``).

**Time.** Within one NIR time step a spike crosses any number of feed-forward edges; in
spikecore a neuron's spike reaches its targets one step later. Each spiking node therefore
runs ``delay[node]`` steps behind the graph (0 for nodes fed by inputs, one more per spiking
layer); an edge that closes a cycle is already one step late in NIR and keeps its timing.
:meth:`Imported.stimulus` appends ``latency`` steps so every graph step reaches every node, and
:meth:`Imported.read` shifts each node's spikes back. Where two paths of different depth meet
no shift is exact, and the graph is refused.

**Constant currents.** An Affine's bias is a constant input to the synaptic current: it comes
from an always-on input axon (one per delay, switched on when its nodes' time starts) whose
weights are the biases, so it is exact up to int8 rounding like every other weight.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

try:
    import nir      # the PyPI package: Python 3 imports are absolute
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("spikecore.nir needs the nir and h5py packages: "
                      "pip install 'spikecore[nir]'") from exc

from . import spec
from .network import Network, Learning
from .units import Dynamics, Report, add_quantization_notes, quantize

__all__ = ["from_nir", "to_nir", "Imported"]

_SPIKING = (nir.CubaLIF, nir.LIF, nir.IF)
_LINEAR = (nir.Affine, nir.Linear, nir.Scale)

#: Node types spikecore refuses, and why.
_REFUSED = {
    "Conv1d": "spikecore's synapses are one all-to-all int8 matrix; convolutions are not "
              "unrolled into it",
    "Conv2d": "spikecore's synapses are one all-to-all int8 matrix; convolutions are not "
              "unrolled into it",
    "SumPool2d": "pooling is not unrolled into spikecore's all-to-all matrix",
    "AvgPool2d": "pooling is not unrolled into spikecore's all-to-all matrix",
    "Flatten": "spikecore populations are 1-D: export the model with flat shapes",
    "Delay": "spikecore has no synaptic delays (only the one-step delay of neuron → neuron "
             "edges)",
    "Threshold": "a stateless threshold has no spikecore counterpart",
    "I": "a non-spiking integrator is a readout of v, which needs state probes "
         "(not yet available)",
    "LI": "a non-spiking leaky integrator is a readout of v, which needs state probes "
          "(not yet available)",
    "CubaLI": "a non-spiking leaky integrator is a readout of v, which needs state probes "
              "(not yet available)",
}

#: Metadata keys (on the spiking node) that carry what NIR cannot say, written by to_nir.
_META = "spikecore_"


class _Refused(ValueError):
    pass


def _refuse(name, message):
    raise _Refused(f"NIR node {name!r}: {message}")


# --- Reading the graph -----------------------------------------------------------------------

def _read(graph_or_path):
    if isinstance(graph_or_path, nir.NIRGraph):
        return graph_or_path
    if not isinstance(graph_or_path, (str, Path)):
        raise TypeError(f"from_nir() takes a nir.NIRGraph or a path, not "
                        f"{type(graph_or_path).__name__}")
    path = Path(graph_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        graph = nir.read(path)
    except (OSError, KeyError, ValueError, AssertionError) as exc:
        raise ValueError(f"{path} is not a NIR file ({exc})") from None
    if not isinstance(graph, nir.NIRGraph):
        raise ValueError(f"{path} holds a single {type(graph).__name__}, not a NIR graph")
    return graph


def _flatten(graph, prefix=""):
    """Return (nodes, edges, passthrough) with nested graphs inlined as ``outer.inner``.

    A nested graph's Input and Output become pass-through nodes (names in *passthrough*):
    edges into the graph go to its Input, edges out of it leave from its Output.
    """
    nodes, edges, passthrough, ends = {}, [], set(), {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            inner, inner_edges, inner_pass = _flatten(node, full + ".")
            ins = [k for k, n in node.nodes.items() if isinstance(n, nir.Input)]
            outs = [k for k, n in node.nodes.items() if isinstance(n, nir.Output)]
            if len(ins) != 1 or len(outs) != 1:
                _refuse(full, f"a nested graph needs one Input and one Output, not "
                              f"{len(ins)} and {len(outs)}")
            nodes.update(inner)
            edges += inner_edges
            passthrough |= inner_pass | {f"{full}.{ins[0]}", f"{full}.{outs[0]}"}
            ends[full] = (f"{full}.{ins[0]}", f"{full}.{outs[0]}")
        else:
            nodes[full] = node
    for a, b in graph.edges:
        a, b = prefix + a, prefix + b
        for end in (a, b):
            if end not in nodes and end not in ends:
                _refuse(end, "an edge names a node the graph does not have")
        edges.append((ends[a][1] if a in ends else a, ends[b][0] if b in ends else b))
    return nodes, edges, passthrough


def _check_types(nodes, passthrough):
    for name, node in nodes.items():
        kind = type(node).__name__
        if name in passthrough or isinstance(node, _SPIKING + _LINEAR):
            continue
        if isinstance(node, (nir.Input, nir.Output)):
            continue
        _refuse(name, f"{kind} is not supported: "
                      f"{_REFUSED.get(kind, 'spikecore.nir does not know this node type')}")


def _size(name, node):
    """Return the number of elements of Input node *name*; only 1-D shapes are accepted."""
    shape = np.atleast_1d(np.asarray(node.input_type["input"])).astype(int)
    if shape.ndim != 1 or shape.size != 1:
        _refuse(name, f"input shape {tuple(shape.ravel())} is not 1-D; spikecore populations "
                      f"are vectors (export from snnTorch with ignore_dims=[0])")
    return int(shape[0])


def _back_edges(nodes, edges, starts):
    """Return the edges that close a cycle, by depth-first search from *starts*, then the
    rest: in NIR these carry the previous step's value."""
    succ = {name: [] for name in nodes}
    for a, b in edges:
        succ[a].append(b)
    back, done, on_stack = set(), set(), set()
    for start in list(starts) + list(nodes):
        if start in done:
            continue
        stack = [(start, iter(succ[start]))]
        on_stack.add(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                on_stack.discard(node)
                done.add(node)
            elif child in on_stack:
                back.add((node, child))
            elif child not in done:
                on_stack.add(child)
                stack.append((child, iter(succ[child])))
    return back


@dataclass
class _Graph:
    """The flattened graph: nodes, predecessors and back edges, and what feeds each node."""
    nodes: dict
    preds: dict
    back: set
    passthrough: set
    inputs: dict = field(default_factory=dict)      # Input name -> size
    spiking: list = field(default_factory=list)     # spiking node names, graph order
    outputs: dict = field(default_factory=dict)     # Output name -> spiking node

    def is_source(self, name):
        return name in self.inputs or name in self.spiking

    def drive(self, name, seen=()):
        """Return (terms, const, size) of *name*'s output as a linear function of populations.

        ``terms`` maps (source, delayed) to a matrix (size, n_source): the output is
        ``Σ M·spikes(source) + const``; *delayed* says the path crosses an edge that closes a
        cycle (one step late in NIR).
        """
        if self.is_source(name):
            n = self.inputs.get(name) or _neurons_of(name, self.nodes[name])
            return {(name, False): np.eye(n)}, np.zeros(n), n
        if name in seen:
            _refuse(name, "is on a cycle of linear nodes without a neuron (an algebraic loop)")
        terms, const, size = self.incoming(name, seen + (name,))
        node = self.nodes[name]
        if name in self.passthrough:
            return terms, const, size
        if isinstance(node, nir.Scale):
            scale = np.atleast_1d(np.asarray(node.scale, float))
            matrix, bias = np.diag(scale), np.zeros(scale.size)
        else:
            matrix = np.asarray(node.weight, float)
            bias = np.asarray(getattr(node, "bias", np.zeros(len(matrix))), float)
            if matrix.ndim != 2:
                _refuse(name, f"weight has shape {matrix.shape}, not (out, in)")
            bias = np.broadcast_to(bias, matrix.shape[:1]).astype(float)
        if matrix.shape[1] != size:
            _refuse(name, f"takes {matrix.shape[1]} inputs but is fed {size}")
        return ({key: matrix @ m for key, m in terms.items()}, matrix @ const + bias,
                matrix.shape[0])

    def incoming(self, name, seen=()):
        """Return (terms, const, size) of the sum of *name*'s incoming edges."""
        if not self.preds[name]:
            _refuse(name, "has no incoming edge")
        terms, const, size = {}, None, None
        for pred in self.preds[name]:
            sub, c, n = self.drive(pred, seen)
            if size is not None and n != size:
                _refuse(name, f"is fed {size} values by one edge and {n} by another")
            size = n
            const = c if const is None else const + c
            for (source, delayed), matrix in sub.items():
                if (pred, name) in self.back:
                    if delayed:
                        _refuse(name, f"hears {source!r} through two cycle-closing edges (a "
                                      f"two-step delay spikecore cannot express)")
                    delayed = True
                key = (source, delayed)
                terms[key] = terms[key] + matrix if key in terms else matrix
        return terms, const, size


def _neurons_of(name, node):
    return int(np.asarray(node.v_threshold).size)


def _build_graph(graph):
    nodes, edges, passthrough = _flatten(graph)
    _check_types(nodes, passthrough)
    preds = {name: [] for name in nodes}
    for a, b in edges:
        preds[b].append(a)
    top = lambda cls: [k for k, n in nodes.items()  # noqa: E731
                       if isinstance(n, cls) and k not in passthrough]
    g = _Graph(nodes, preds, _back_edges(nodes, edges, top(nir.Input)), passthrough)
    g.inputs = {name: _size(name, nodes[name]) for name in top(nir.Input)}
    g.spiking = [k for k, n in nodes.items() if isinstance(n, _SPIKING)]
    for name in top(nir.Output):
        sources = preds[name]
        while len(sources) == 1 and sources[0] in passthrough:
            sources = preds[sources[0]]
        if len(sources) != 1 or sources[0] not in g.spiking:
            feeders = ", ".join(repr(s) for s in sources) or "nothing"
            _refuse(name, f"is fed by {feeders}, not by one spiking node: spikecore outputs "
                          f"spikes only (a non-spiking readout needs state probes)")
        g.outputs[name] = sources[0]
    if not g.spiking:
        raise _Refused("the NIR graph has no spiking node (CubaLIF, LIF or IF)")
    return g


# --- Neuron parameters (Euler at dt) ---------------------------------------------------------

def _field(name, node, key, n):
    value = np.asarray(getattr(node, key), float)
    try:
        value = np.broadcast_to(value, (n,)).astype(float)
    except ValueError:
        _refuse(name, f"{key} has shape {value.shape}, not ({n},)")
    if not np.all(np.isfinite(value)):
        _refuse(name, f"{key} = {value[~np.isfinite(value)][0]} is not finite")
    return value


def _keep(name, key, tau, dt):
    """Return Euler's 1 − dt/tau, refusing tau < dt (the factor would be negative)."""
    if np.any(tau <= 0):
        _refuse(name, f"{key} = {float(tau[tau <= 0][0])!r} s is not positive")
    if np.any(tau < dt * (1 - 1e-9)):
        _refuse(name, f"{key} = {float(tau[tau < dt][0])!r} s is shorter than dt = {dt!r} s: "
                      f"Euler's decay 1 − dt/{key} would be negative")
    return np.clip(1.0 - dt / tau, 0.0, 1.0)


@dataclass
class _Population:
    alpha: np.ndarray
    beta: np.ndarray
    gain: np.ndarray       # from the node's input S to u
    leak: np.ndarray       # (dt/tau_mem)·v_leak: spikecore's bias, in V per step
    threshold: np.ndarray
    taus: dict             # NIR field -> (target tau, True if the integer rate realises it)


def _population(name, node, dt):
    """Return the Euler dynamics of spiking node *name*, refusing what spikecore lacks."""
    n = _neurons_of(name, node)
    get = lambda key: _field(name, node, key, n)  # noqa: E731
    threshold = get("v_threshold")
    if np.any(threshold < 0):
        _refuse(name, f"v_threshold = {threshold[threshold < 0][0]} is negative; spikecore's "
                      f"threshold is in [0, 2^23 − 1]")
    reset = get("v_reset") if getattr(node, "v_reset", None) is not None else np.zeros(n)
    if np.any(reset != 0):
        _refuse(name, f"v_reset = {reset[reset != 0][0]} is not 0: spikecore resets v to zero")
    if isinstance(node, nir.IF):
        return _Population(np.zeros(n), np.ones(n), dt * get("r"), np.zeros(n), threshold, {})
    if isinstance(node, nir.LIF):
        tau_mem = get("tau")
        beta = _keep(name, "tau", tau_mem, dt)
        return _Population(np.zeros(n), beta, dt / tau_mem * get("r"),
                           dt / tau_mem * get("v_leak"), threshold, {"tau": tau_mem})
    tau_syn, tau_mem = get("tau_syn"), get("tau_mem")
    alpha, beta = _keep(name, "tau_syn", tau_syn, dt), _keep(name, "tau_mem", tau_mem, dt)
    gain = dt / tau_mem * get("r") * dt / tau_syn * get("w_in")
    return _Population(alpha, beta, gain, dt / tau_mem * get("v_leak"), threshold,
                       {"tau_syn": tau_syn, "tau_mem": tau_mem})


# --- Timing ----------------------------------------------------------------------------------

def _delays(g, drives):
    """Return each spiking node's delay: steps spikecore runs behind the graph.

    An edge from source A to node P, delayed d_g steps in NIR (1 if it closes a cycle) and
    d_s in spikecore (0 from an input, 1 from a neuron), needs
    ``delay[P] = delay[A] + d_s − d_g``; every edge into P must agree.
    """
    delay = {name: 0 for name in g.inputs}

    def wanted(source, delayed):
        return delay[source] + (source in g.spiking) - delayed

    for _ in range(len(g.spiking) + 1):
        for name in g.spiking:
            if name in delay:
                continue
            known = [wanted(s, d) for (s, d) in drives[name][0] if s in delay]
            if known:
                delay[name] = known[0]
    for name in g.spiking:
        delay.setdefault(name, 0)
        for (source, delayed), matrix in drives[name][0].items():
            if not np.any(matrix):
                continue
            if wanted(source, delayed) != delay[name]:
                first = next((s, d) for (s, d), m in drives[name][0].items()
                             if np.any(m) and wanted(s, d) == delay[name])
                _refuse(name, f"would hear {source!r} {wanted(source, delayed)} step(s) and "
                              f"{first[0]!r} {wanted(*first)} step(s) behind the graph: "
                              f"spikecore delays every neuron → neuron edge by one step, so "
                              f"paths of different depth into one node cannot both be exact")
        if delay[name] < 0:
            _refuse(name, "is fed by an input through a cycle-closing edge (a negative delay)")
    return {name: delay[name] for name in g.spiking}


# --- Import ----------------------------------------------------------------------------------

@dataclass
class Imported:
    """A NIR graph imported as a spikecore network.

    Members
    -------
    network : spikecore.Network
    inputs : dict
        Input node name → int array of its input-axon indices.
    neurons : dict
        Spiking node name → int array of its neuron indices.
    outputs : dict
        Output node name → the spiking node it reads.
    delay : dict
        Spiking node name → steps spikecore runs behind the graph (module docstring).
    bias_axons : dict
        Delay → the always-on input axon of the Affine biases of nodes with that delay.
    report : spikecore.units.Report
    target : spikecore.units.Dynamics
        The graph's Euler dynamics before rounding (``target.run(stimulus)`` simulates them
        in float64): what :attr:`network` approximates.
    dt : float
    """
    network: Network
    inputs: dict
    neurons: dict
    outputs: dict
    delay: dict
    bias_axons: dict
    report: Report
    target: Dynamics
    dt: float

    @property
    def latency(self):
        """Extra steps :meth:`stimulus` appends: the largest delay."""
        return max(self.delay.values(), default=0)

    def stimulus(self, x):
        """Return the network's input, bool (steps + latency, n_inputs), for graph input *x*.

        *x* is bool or 0/1 (steps, n) for a graph with one Input node, or a dict of them by
        Input name. The last ``latency`` rows carry no graph input; the bias axons are on from
        their delay on.
        """
        if not isinstance(x, dict):
            if len(self.inputs) != 1:
                raise ValueError(f"the graph has {len(self.inputs)} Input nodes "
                                 f"({', '.join(self.inputs)}): pass a dict of arrays")
            x = {next(iter(self.inputs)): x}
        if set(x) != set(self.inputs):
            raise ValueError(f"stimulus() needs arrays for the Input nodes "
                             f"{sorted(self.inputs)}, not {sorted(x)}")
        steps = {len(np.asarray(v)) for v in x.values()}
        if len(steps) != 1:
            raise ValueError(f"the input arrays have different numbers of steps: {steps}")
        steps = steps.pop()
        out = np.zeros((steps + self.latency, self.network.n_inputs), bool)
        for name, axons in self.inputs.items():
            array = np.asarray(x[name])
            if array.ndim != 2 or array.shape[1] != axons.size:
                raise ValueError(f"input {name!r} must have shape (steps, {axons.size}), not "
                                 f"{array.shape}")
            if array.dtype != bool and (array.dtype.kind not in "iu"
                                        or np.any((array != 0) & (array != 1))):
                raise ValueError(f"input {name!r} must be bool (or 0/1 integers), not "
                                 f"{array.dtype}")
            out[:steps, axons] = array.astype(bool)
        for delay, axon in self.bias_axons.items():
            out[delay:, axon] = True
        return out

    def read(self, spikes):
        """Return {spiking node and Output node name: bool (steps, n)} in the graph's time.

        *spikes* is a run of :meth:`stimulus`'s output, (steps + latency, n_neurons).
        """
        spikes = np.asarray(spikes, bool)
        steps = len(spikes) - self.latency
        if spikes.ndim != 2 or spikes.shape[1] != self.network.n_neurons or steps < 0:
            raise ValueError(f"spikes must have shape (steps + {self.latency}, "
                             f"{self.network.n_neurons}), not {spikes.shape}")
        out = {name: spikes[self.delay[name]:self.delay[name] + steps][:, idx]
               for name, idx in self.neurons.items()}
        out.update({name: out[source] for name, source in self.outputs.items()})
        return out

    def run(self, core, x):
        """Run graph input *x* on *core* (where :attr:`network` is loaded); return :meth:`read`."""
        return self.read(core.run(self.stimulus(x)))


def _t_refs(t_ref, g):
    if isinstance(t_ref, dict):
        unknown = set(t_ref) - set(g.spiking)
        if unknown:
            raise ValueError(f"t_ref names {sorted(unknown)}, which are not spiking nodes "
                             f"of the graph ({', '.join(g.spiking)})")
        return {name: t_ref.get(name) for name in g.spiking}
    return {name: t_ref for name in g.spiking}


def _meta(node, key):
    value = (getattr(node, "metadata", None) or {}).get(_META + key)
    return None if value is None else np.asarray(value)


def from_nir(graph_or_path, dt, *, n_inputs=None, n_neurons=None, t_ref=None, w_exp=None):
    """Import a NIR graph (or a ``.nir`` file) as a spikecore network.

    Parameters
    ----------
    graph_or_path : nir.NIRGraph, str or Path
    dt : float
        The step, seconds: NIR has none (snnTorch exports assume 1e-4).
    n_inputs, n_neurons : int, optional
        The target's geometry; the network is padded to it (unused axons, silent neurons), or
        refused if it needs more. By default it is as small as the graph allows.
    t_ref : int or dict, optional
        Refractory steps, for every node or {node name: steps}. NIR's reset is immediate with
        no refractory period (0, the default, unless the graph was written by :func:`to_nir`).
        snnTorch's RSynaptic, and RLeaky with reset_delay=True, reset to zero one step late:
        import them with 1 (docs/interop.md).
    w_exp : int, optional
        Force w_exp (default: the largest that cannot saturate; ``spikecore.units.quantize``).

    Returns an :class:`Imported`. Anything spikecore cannot express exactly (node types, v_reset
    ≠ 0, tau < dt, paths of different depth, too many neurons) raises ValueError naming the
    node, the field and why.
    """
    if not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, not {dt!r}")
    g = _build_graph(_read(graph_or_path))
    drives = {name: g.incoming(name) for name in g.spiking}
    for name in g.spiking:
        if drives[name][2] != _neurons_of(name, g.nodes[name]):
            _refuse(name, f"has {_neurons_of(name, g.nodes[name])} neurons but is fed "
                          f"{drives[name][2]} values")
    delay = _delays(g, drives)
    pops = {name: _population(name, g.nodes[name], dt) for name in g.spiking}
    for name, pop in pops.items():
        if delay[name] and np.any(pop.leak):
            _refuse(name, f"v_leak ≠ 0 acts from step 0, but this node runs {delay[name]} "
                          f"step(s) behind the graph")

    # Layout: graph inputs, then one bias axon per delay that needs one; neurons in order.
    inputs, at = {}, 0
    for name, size in g.inputs.items():
        inputs[name], at = np.arange(at, at + size), at + size
    bias_axons = {}
    for name in g.spiking:
        if np.any(drives[name][1]) and delay[name] not in bias_axons:
            bias_axons[delay[name]] = at
            at += 1
    neurons, n = {}, 0
    for name in g.spiking:
        size = _neurons_of(name, g.nodes[name])
        neurons[name], n = np.arange(n, n + size), n + size
    n_in, n_out = _geometry(at, n, n_inputs, n_neurons, g)

    dyn, where = _dynamics(g, drives, pops, inputs, neurons, bias_axons, delay, n_in, n_out,
                           _t_refs(t_ref, g))
    scale, w_exp = _metadata_scale(g, w_exp, n_out)
    q = quantize(dyn, w_exp=w_exp, scale=scale)
    net = q.network
    _restore_extras(g, net, t_ref)
    report = _report(g, drives, pops, q, dt, neurons, inputs, bias_axons, delay)
    add_quantization_notes(report, q, where_of=lambda i: where[i])
    return Imported(net, inputs, neurons, dict(g.outputs), delay, bias_axons, report, dyn, dt)


def _geometry(need_in, need_out, n_inputs, n_neurons, g):
    if n_inputs is not None and need_in > n_inputs:
        raise _Refused(f"the NIR graph needs {need_in} input axons ({', '.join(g.inputs)} and "
                       f"bias axons) but the target has {n_inputs}")
    if n_neurons is not None and need_out > n_neurons:
        raise _Refused(f"the NIR graph needs {need_out} neurons ({', '.join(g.spiking)}) but "
                       f"the target has {n_neurons}")
    return n_inputs or max(need_in, 1), n_neurons or need_out


def _dynamics(g, drives, pops, inputs, neurons, bias_axons, delay, n_in, n_out, t_refs):
    """Return the real-valued :class:`Dynamics` of the graph, and each neuron's node name."""
    weights = np.zeros((n_in + n_out, n_out))
    alpha, beta = np.full(n_out, 0.75), np.full(n_out, 0.75)   # padding: silent neurons
    bias, threshold, refractory = np.zeros(n_out), np.zeros(n_out), np.zeros(n_out, np.int64)
    where = ["padding"] * n_out
    rows = {name: n_in + idx for name, idx in neurons.items()}
    rows.update(inputs)
    for name, idx in neurons.items():
        pop, (terms, const, _) = pops[name], drives[name]
        for (source, _delayed), matrix in terms.items():
            weights[np.ix_(rows[source], idx)] += (pop.gain[:, None] * matrix).T
        if np.any(const):
            weights[bias_axons[delay[name]], idx] += pop.gain * const
        alpha[idx], beta[idx], bias[idx] = pop.alpha, pop.beta, pop.leak
        threshold[idx] = pop.threshold
        steps = t_refs[name]
        refractory[idx] = 0 if steps is None else steps
        for i in idx:
            where[i] = name
    try:
        dyn = Dynamics(n_inputs=n_in, alpha=alpha, beta=beta, weights=weights, bias=bias,
                       threshold=threshold, t_ref=refractory)
    except ValueError as exc:
        raise _Refused(f"the NIR graph: {exc}") from None
    return dyn, where


def _metadata_scale(g, w_exp, n_out):
    """Return (scale, w_exp): integer units (scale 1) if every spiking node says it was
    written by to_nir with one w_exp, else (None, *w_exp*)."""
    found = {None if _meta(g.nodes[name], "w_exp") is None else int(_meta(g.nodes[name],
                                                                           "w_exp"))
             for name in g.spiking}
    if w_exp is None and len(found) == 1 and None not in found:
        return np.ones(n_out), found.pop()
    return None, w_exp


def _restore_extras(g, net, t_ref):
    """Apply what to_nir stored as metadata: t_ref (unless given), learning, masks, the
    input generators."""
    if len(g.spiking) != 1:
        return
    node = g.nodes[g.spiking[0]]
    stored = _meta(node, "t_ref")
    if t_ref is None and stored is not None and stored.shape == (net.n_neurons,):
        net.t_ref = stored
    settings = {k: _meta(node, "learning_" + k) for k in Learning._DEFAULTS}
    if all(v is not None for v in settings.values()):
        net.learning = Learning(**{k: v.item() if k != "enabled" else bool(v)
                                   for k, v in settings.items()})
    for key, shape in (("plastic_src", (net.n_sources,)), ("plastic_dst", (net.n_neurons,))):
        stored = _meta(node, key)
        if stored is not None and stored.shape == shape:
            setattr(net, key, stored.astype(bool))
    for key in ("rate", "gen_state"):
        stored = _meta(node, key)
        if stored is not None and stored.shape == (net.n_inputs,):
            setattr(net, key, stored.astype(np.int64))


def _report(g, drives, pops, q, dt, neurons, inputs, bias_axons, delay):
    """Return the quantization report in NIR's units, node by node."""
    net, got, report = q.network, q.realised, Report()
    du, dv = np.asarray(net.du), np.asarray(net.dv)
    rows = {name: net.n_inputs + idx for name, idx in neurons.items()}
    rows.update(inputs)
    with np.errstate(divide="ignore"):
        tau_u, tau_v = dt * spec.DECAY_ONE / du, dt * spec.DECAY_ONE / dv
    for name, idx in neurons.items():
        pop = pops[name]
        for key, tau in pop.taus.items():
            report.add(name, key, "s", tau, (tau_u if key == "tau_syn" else tau_v)[idx])
        report.add(name, "v_threshold", "", pop.threshold, got.threshold[idx])
        if np.any(pop.leak):
            report.add(name, "v_leak", "", pop.leak / (1 - pop.beta),
                       got.bias[idx] / (1 - pop.beta))
        terms, const, _ = drives[name]
        gain = np.where(pop.gain != 0, pop.gain, 1.0)
        peak = np.max([np.abs(m).max(axis=1) for m in terms.values()] + [np.abs(const)],
                      axis=0)       # errors relative to the largest weight into each neuron
        for (source, _d), matrix in terms.items():
            realised = got.weights[np.ix_(rows[source], idx)].T / gain[:, None]
            report.add(name, f"weights from {source}", "", matrix.T, realised.T,
                       reference=peak[None, :])
        if np.any(const):
            realised = got.weights[bias_axons[delay[name]], idx] / gain
            report.add(name, "bias (always-on axon)", "", const, realised, reference=peak)
    return report


# --- Export ----------------------------------------------------------------------------------

def to_nir(net, dt, *, keep_extras=False):
    """Return *net* as a ``nir.NIRGraph`` for step *dt* (seconds).

    The graph is ``input → w_in (Linear) → neurons → output`` with ``neurons → w_rec (Linear)
    → neurons`` for the neuron rows (a cycle: NIR's one-step delay, which is spikecore's).
    ``neurons`` is a CubaLIF (a LIF if every du = 4096, an IF if also every dv = 0) with
    ``tau = dt·4096/d``, ``r = tau_mem/dt``, ``w_in = tau_syn/dt`` (so both Euler gains are 1),
    weights ``W·2^w_exp``, ``v_threshold = vth``, ``v_leak = bias·tau_mem/dt``, ``v_reset = 0``.
    Its metadata holds ``spikecore_w_exp``, so that :func:`from_nir` reads the values as
    integers and reproduces *net* exactly.

    What NIR cannot say is refused unless *keep_extras*, which stores it in the metadata
    (other tools ignore it): t_ref ≠ 0, learning enabled, plasticity masks, input rates (the
    generators' states are always stored there). du = 0 or dv = 0
    (no decay: tau = ∞) are refused, except dv = 0 with du = 4096 everywhere (an IF).
    """
    if not isinstance(net, Network):
        raise TypeError(f"to_nir() takes a spikecore.Network, not {type(net).__name__}")
    if not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, not {dt!r}")
    net.check()
    du, dv = np.asarray(net.du, float), np.asarray(net.dv, float)
    vth, bias = np.asarray(net.vth, float), np.asarray(net.bias, float)
    one = spec.DECAY_ONE
    extras = {"t_ref ≠ 0 (NIR has no refractory period)": np.any(np.asarray(net.t_ref)),
              "learning enabled (NIR has no STDP)": net.learning.enabled,
              "plasticity masks": not (np.all(net.plastic_src) and np.all(net.plastic_dst)),
              "input generators (NIR has no stimulus)": np.any(np.asarray(net.rate))}
    unsaid = [k for k, v in extras.items() if v]
    if unsaid and not keep_extras:
        raise ValueError(f"to_nir(): the network has {', '.join(unsaid)}; pass "
                         f"keep_extras=True to store them as metadata other tools ignore")
    integrator = bool(np.all(du == one) and np.all(dv == 0))
    if not integrator:
        for name, d in (("du", du), ("dv", dv)):
            if np.any(d == 0):
                raise ValueError(f"to_nir(): neuron {int(np.argmax(d == 0))} has {name} = 0 (no "
                                 f"decay, tau = ∞), which NIR's LIF/CubaLIF cannot hold with "
                                 f"finite r and w_in")
    if integrator and np.any(bias):
        raise ValueError("to_nir(): an IF population (du = 4096, dv = 0) has no v_leak to hold "
                         "a bias")
    scale = 2.0 ** net.w_exp
    weights = np.asarray(net.weights, float) * scale
    n_in = net.n_inputs
    meta = {_META + "w_exp": int(net.w_exp),    # scalars as Python values: h5py cannot
            _META + "gen_state": np.asarray(net.gen_state, np.int64)}  # compress 0-d arrays
    if keep_extras:
        meta[_META + "t_ref"] = np.asarray(net.t_ref, np.int64)
        meta.update({_META + "learning_" + k: v for k, v in net.learning.as_dict().items()})
        meta[_META + "plastic_src"] = np.asarray(net.plastic_src)
        meta[_META + "plastic_dst"] = np.asarray(net.plastic_dst)
        meta[_META + "rate"] = np.asarray(net.rate, np.int64)
    zeros = np.zeros(net.n_neurons)
    if integrator:
        neurons = nir.IF(r=np.full(net.n_neurons, 1.0 / dt), v_threshold=vth, v_reset=zeros,
                         metadata=meta)
    else:
        tau_mem = dt * one / dv
        leak = bias * tau_mem / dt
        if np.all(du == one):
            neurons = nir.LIF(tau=tau_mem, r=tau_mem / dt, v_leak=leak, v_threshold=vth,
                              v_reset=zeros, metadata=meta)
        else:
            tau_syn = dt * one / du
            neurons = nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt,
                                  v_leak=leak, v_threshold=vth, v_reset=zeros,
                                  w_in=tau_syn / dt, metadata=meta)
    nodes = {"input": nir.Input(input_type=np.array([n_in])),
             "w_in": nir.Linear(weight=weights[:n_in].T.copy()),
             "neurons": neurons,
             "output": nir.Output(output_type=np.array([net.n_neurons]))}
    edges = [("input", "w_in"), ("w_in", "neurons"), ("neurons", "output")]
    if np.any(weights[n_in:]):
        nodes["w_rec"] = nir.Linear(weight=weights[n_in:].T.copy())
        edges += [("neurons", "w_rec"), ("w_rec", "neurons")]
    return nir.NIRGraph(nodes=nodes, edges=edges)
