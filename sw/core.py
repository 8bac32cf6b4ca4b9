"""The ``Core`` API shared by every backend, and the golden model behind it (``model://``).

``spikecore.connect`` (``spikecore.backends``) opens one; the driver (``spikecore.driver``)
implements the API over a link.
"""

from dataclasses import dataclass

import numpy as np

from . import spec
from .model import STATE_ATTRS, Model
from .network import Learning, _check_values

__all__ = ["Core", "State", "Recording", "ModelCore", "PROBE_FIELDS"]

#: The per-neuron fields ``Core.set`` takes, in ``spec.NeuronField`` order.
FIELDS = tuple(f.name.lower() for f in spec.NeuronField)
#: The learning settings ``Core.set_learning`` takes.
SETTINGS = tuple(Learning._DEFAULTS)
#: What ``Core.run(probes=...)`` can probe: name -> (space, field) of the address read after
#: each step (``x`` is indexed by source, the rest by neuron).
PROBE_FIELDS = {"u": (spec.Space.STATE, spec.StateField.U),
                "v": (spec.Space.STATE, spec.StateField.V),
                "ref": (spec.Space.STATE, spec.StateField.REF),
                "y": (spec.Space.STATE, spec.StateField.Y),
                "x": (spec.Space.STATE, spec.StateField.X),
                "theta": (spec.Space.NEURON, spec.NeuronField.THETA)}
#: What ``Core.run(record=...)`` can return.
RECORDS = ("spikes", "counts")


@dataclass
class State:
    """A snapshot of a core's state (docs/model.md, "State").

    Members
    -------
    u, v, ref, y : int64 arrays (n_neurons,)
    x : int64 array (n_sources,)
    spikes : bool array (n_neurons,)
        The last step's spikes (``s_prev``), delivered in the next step.
    theta : int64 array (n_neurons,)
        The adaptive thresholds (zeros on a device without ``Feature.THETA``).
    gen_state : int64 array (n_inputs,)
        The input generators' states (docs/model.md; kept by the host where a device has no
        generators).
    """
    u: np.ndarray
    v: np.ndarray
    ref: np.ndarray
    y: np.ndarray
    x: np.ndarray
    spikes: np.ndarray
    theta: np.ndarray
    gen_state: np.ndarray

    def __eq__(self, other):
        return isinstance(other, State) and all(
            np.array_equal(getattr(self, k), getattr(other, k)) for k in self.__dataclass_fields__)


@dataclass
class Recording:
    """What one ``Core.run`` call recorded (see its *record* and *probes*).

    Members
    -------
    spikes : bool array (steps, n_neurons) or None
        Each step's spikes, if recorded.
    counts : int64 array (n_neurons,) or None
        Each neuron's spikes over the call, if recorded.
    probes : dict of str -> int64 array (steps, k)
        For each probed field, its value after each step at the k indices given, in order.
    """
    spikes: np.ndarray = None
    counts: np.ndarray = None
    probes: dict = None


def _feature_names(features):
    return ", ".join(f.name for f in features) or "none"


def _learning_reasons(values):
    """Yield (feature, reason) for each learning setting in *values* that needs a feature.

    Which ones need one is ``Learning.features``; the reason names the setting whose value is
    not its default.
    """
    need = Learning(**values).features()
    for setting, feature in spec.FEATURE_OF_SETTING.items():
        name = setting.name.lower()
        default = Learning._DEFAULTS.get(name)
        if feature & need and name in values and values[name] != default:
            yield feature, f"learning.{name} = {values[name]!r} is not its default {default!r}"


def _theta_reasons(theta):
    """Yield (THETA, reason) if the int array *theta* is not all 0."""
    theta = np.asarray(theta)
    if np.any(theta):
        k = int(np.flatnonzero(theta)[0])
        where = f"[{k}]" if theta.ndim else ""
        yield spec.Feature.THETA, f"theta{where} = {int(theta.flat[k])} is not its default 0"


class Core:
    """A spiking core behind some link: the golden model, the virtual board or a board.

    Subclasses implement the ``_``-prefixed methods; this class checks every argument first,
    so that bad input raises ``ValueError`` (or ``TypeError``) before anything reaches the
    device, with the same message on every backend.

    Members
    -------
    n_inputs, n_neurons : int or None
        The geometry of the device (None for the model until a network is loaded).
    features : spikecore.spec.Feature
        The optional parts of model v2 the device has (the model: all of them). A network or
        a change that needs one it lacks is refused.
    """

    n_inputs = None
    n_neurons = None
    features = spec.Feature.all()

    # --- the public API ---

    def load(self, net):
        """Load *net*'s weights, parameters, theta and learning settings; set the state to zero.

        The whole network is checked first (``Network.check``, the geometry, then the
        features it needs, ``Network.features``): a network that is refused raises
        ValueError and leaves the device as it was, on every backend.
        """
        from .network import Network
        if not isinstance(net, Network):
            hint = "; import a NIR graph with spikecore.nir.from_nir(graph, dt=...)" \
                if type(net).__module__.split(".")[0] == "nir" else ""
            raise TypeError(f"load() takes a spikecore.Network, not {type(net).__name__}{hint}")
        net.check()
        self._check_geometry(net)
        missing = net.features() & ~self.features
        if missing:
            reasons = [*_theta_reasons(net.theta), *_learning_reasons(net.learning.as_dict())]
            if net.w_exp_rec is not None and net.w_exp_rec != net.w_exp:
                reasons.append((spec.Feature.W_EXP_REC, f"w_exp_rec = {net.w_exp_rec} differs "
                                                        f"from w_exp = {net.w_exp}"))
            self._refuse_missing("the network", reasons)
        self._load(net)
        self._loaded = True

    def _check_geometry(self, net):
        """Raise ValueError if *net* does not fit the device."""
        if (net.n_inputs, net.n_neurons) != (self.n_inputs, self.n_neurons):
            raise ValueError(
                f"network geometry {net.n_inputs} inputs + {net.n_neurons} neurons does not "
                f"match the device's {self.n_inputs} inputs + {self.n_neurons} neurons")

    def run(self, inputs=None, *, steps=None, record="spikes", probes=None):
        """Run steps; return the spikes, or what *record* and *probes* ask for.

        State carries over between calls; the input generators (``set_rates``) run in every
        step, adding to the streamed inputs.

        Parameters
        ----------
        inputs : bool array (steps, n_inputs), or None
            The streamed inputs of each step; None with *steps*: that many steps with none.
        steps : int or None
            The number of steps when *inputs* is None (0 … any).
        record : "spikes", "counts", a tuple of both, or None
            "spikes": each step's spikes; "counts": each neuron's spike count over this
            call, counted on a device that has ``Feature.COUNTS`` (so the link carries
            O(n_neurons) bytes, not O(steps)).
        probes : dict or None
            ``{field: indices}`` with fields from ``PROBE_FIELDS`` (``"v"``, ``"u"``,
            ``"theta"``, …; ``x`` by source, the rest by neuron), at most ``spec.MAX_PROBES``
            indices in all: their values after each step.

        Returns
        -------
        bool array (steps, n_neurons)
            With ``record="spikes"`` and no probes (``run(inputs)`` as always).
        int64 array (n_neurons,)
            With ``record="counts"`` and no probes.
        Recording
            Otherwise: ``.spikes``, ``.counts`` (None unless recorded) and ``.probes``.
        """
        self._require_loaded()
        array = self._checked_inputs(inputs, steps)
        count = len(array) if array is not None else steps
        kinds = self._checked_record(record)
        probe_list = self._checked_probes(probes)
        if kinds == ("spikes",) and not probe_list and array is not None:
            return self._run(array) if count else np.zeros((0, self.n_neurons), dtype=bool)
        recording = self._run_with(array, count, "spikes" in kinds, "counts" in kinds,
                                   probe_list)
        recording.probes = self._probe_dict(probes, probe_list, recording.probes, count)
        if not probe_list and kinds == ("counts",):
            return recording.counts
        if not probe_list and kinds == ("spikes",):
            return recording.spikes
        return recording

    def _checked_inputs(self, inputs, steps):
        """Return *inputs* as a bool array (steps, n_inputs), or None (check *steps*)."""
        if inputs is None:
            if steps is None:
                raise TypeError("run() needs inputs, or steps= for steps with no streamed "
                                "inputs")
            if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)) \
                    or steps < 0:
                raise ValueError(f"steps must be an integer >= 0, not {steps!r}")
            return None
        if steps is not None:
            raise TypeError("run() takes inputs or steps=, not both")
        array = np.asarray(inputs)
        if array.ndim != 2 or array.shape[1] != self.n_inputs:
            raise ValueError(f"inputs must have shape (steps, {self.n_inputs}), "
                             f"not {array.shape}")
        if array.dtype != bool:
            if array.dtype.kind not in "iu" or np.any((array != 0) & (array != 1)):
                raise ValueError(f"inputs must be bool (or 0/1 integers), not {array.dtype}")
            array = array.astype(bool)
        return array

    @staticmethod
    def _checked_record(record):
        """Return *record* as a tuple of names from RECORDS (possibly empty)."""
        kinds = () if record is None else (record,) if isinstance(record, str) else record
        try:
            kinds = tuple(kinds)
        except TypeError:
            kinds = (record,)
        for kind in kinds:
            if kind not in RECORDS:
                raise ValueError(f"record must be 'spikes', 'counts', both or None, "
                                 f"not {record!r}")
        return tuple(k for k in RECORDS if k in kinds)

    def _checked_probes(self, probes):
        """Return *probes* as a list of (space, address) in the order given."""
        if probes is None:
            return []
        if not isinstance(probes, dict):
            raise ValueError(f"probes must be a dict of field -> indices, not {probes!r}")
        found = []
        for name, indices in probes.items():
            if name not in PROBE_FIELDS:
                raise ValueError(f"probes: unknown field {name!r}; the fields are "
                                 f"{', '.join(PROBE_FIELDS)}")
            space, field = PROBE_FIELDS[name]
            if space is spec.Space.NEURON and not self.features & spec.Feature.THETA:
                raise ValueError(f"probes: {name} needs the THETA feature, which the device "
                                 f"lacks (it has {_feature_names(self.features)})")
            top = self.n_inputs + self.n_neurons if name == "x" else self.n_neurons
            array = np.atleast_1d(np.asarray(indices))
            if array.ndim != 1 or array.dtype.kind == "b":
                raise ValueError(f"probes[{name!r}] must be a sequence of indices, not "
                                 f"{indices!r}")
            array = _check_values(f"probes[{name!r}]", array, 0, top - 1)
            bits = spec.neuron_bits(self.n_neurons) if space is spec.Space.NEURON else \
                spec.src_bits(self.n_inputs, self.n_neurons)
            found += [(space, (field.value << bits) | int(k)) for k in array]
        if len(found) > spec.MAX_PROBES:
            raise ValueError(f"probes: at most {spec.MAX_PROBES} in all, not {len(found)}")
        return found

    @staticmethod
    def _probe_dict(probes, probe_list, values, steps):
        """Split the (steps, n_probes) *values* into ``{field: (steps, k)}`` as *probes*."""
        out, at = {}, 0
        for name, indices in (probes or {}).items():
            k = np.atleast_1d(np.asarray(indices)).size
            out[name] = values[:, at:at + k] if values is not None else \
                np.zeros((steps, k), np.int64)
            at += k
        return out

    def set_rates(self, rate, *, gen_state=None):
        """Set the input generators' rates (and, if given, their states); state untouched.

        Parameters
        ----------
        rate : int, or int array (n_inputs,)
            Each in [0, 65535]: input j fires with probability rate[j] / 65536 per step.
        gen_state : int array (n_inputs,), or None
            Each in [1, 2**32 − 1]; None keeps the generators running where they are.

        Everything is checked before anything is written. On a device without
        ``Feature.GENERATORS`` the host runs the generators and streams what they fire.
        """
        self._require_loaded()
        values = {}
        for name, given in (("rate", rate), ("gen_state", gen_state)):
            if given is None:
                continue
            array = np.asarray(given)
            if array.ndim != 0 and array.shape != (self.n_inputs,):
                raise ValueError(f"{name} must be a scalar or have shape ({self.n_inputs},), "
                                 f"not {array.shape}")
            checked = _check_values(name, array, *spec.INPUT_RANGES[name])
            values[name] = np.broadcast_to(checked, (self.n_inputs,)).copy()
        self._set_rates(values["rate"], values.get("gen_state"))

    def present(self, rates, steps):
        """Present samples as generator rates; return each one's spike counts.

        For each row of *rates*: set the rates, reset the state (u, v, ref, traces, spikes;
        weights, theta and the generators run on), run *steps* steps with no streamed
        inputs, and count each neuron's spikes. Learning does what it is set to do. On a
        link the whole presentation is pipelined, so the link never idles.

        Parameters
        ----------
        rates : int array (samples, n_inputs)
            Each in [0, 65535].
        steps : int
            Steps per sample (>= 1).

        Returns
        -------
        int64 array (samples, n_neurons)
        """
        self._require_loaded()
        array = np.asarray(rates)
        if array.ndim != 2 or array.shape[1] != self.n_inputs:
            raise ValueError(f"rates must have shape (samples, {self.n_inputs}), "
                             f"not {array.shape}")
        array = _check_values("rates", array, *spec.INPUT_RANGES["rate"])
        if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)) \
                or steps < 1:
            raise ValueError(f"steps must be a positive integer, not {steps!r}")
        return self._present(array, int(steps))

    def _present(self, rates, steps):
        counts = np.zeros((len(rates), self.n_neurons), dtype=np.int64)
        for k, row in enumerate(rates):
            self._set_rates(row, None)
            self._reset()
            counts[k] = self._run_with(None, steps, False, True, []).counts
        return counts

    def read_weights(self):
        """Return the weights as an int8 array (n_sources, n_neurons), rows = sources."""
        self._require_loaded()
        return self._read_weights()

    def read_state(self):
        """Return a :class:`State` snapshot."""
        self._require_loaded()
        return self._read_state()

    def write_weights(self, w, rows=None):
        """Write weights: all of them, or the rows of the sources *rows*; state untouched.

        Parameters
        ----------
        w : int array (n_sources, n_neurons), or (len(rows), n_neurons)
            Each in [−128, 127]; ``w[k]`` goes to source ``rows[k]``.
        rows : sequence of int or None
            Distinct source indices (inputs 0 … n_inputs−1, then neurons); None: all.

        Everything is checked before anything is written (ValueError naming the problem).
        """
        self._require_loaded()
        n_sources = self.n_inputs + self.n_neurons
        if rows is None:
            rows = np.arange(n_sources)
        else:
            array = np.asarray(rows)
            if array.ndim != 1 or array.dtype.kind == "b":
                raise ValueError(f"rows must be a sequence of source indices, not {rows!r}")
            rows = _check_values("rows", array, 0, n_sources - 1)
            if len(np.unique(rows)) != len(rows):
                values, counts = np.unique(rows, return_counts=True)
                raise ValueError(f"rows holds source {int(values[counts > 1][0])} twice")
        shape = (len(rows), self.n_neurons)
        if np.shape(w) != shape:
            raise ValueError(f"weights must have shape {shape}, not {np.shape(w)}")
        w = _check_values("weights", w, spec.WEIGHT_MIN, spec.WEIGHT_MAX).astype(np.int8)
        if len(rows):
            self._write_weights(w, rows)

    def set(self, **fields):
        """Set per-neuron fields: ``vth``, ``bias``, ``du``, ``dv``, ``t_ref``, ``theta``.

        Each is a scalar (for every neuron) or an array (n_neurons,), in the range of
        docs/model.md. The state (u, v, ref, traces, spikes) and the other fields are
        untouched. Everything is checked before anything is written: an unknown name raises
        TypeError, a bad value ValueError, a nonzero theta on a device without
        ``Feature.THETA`` ValueError.
        """
        self._require_loaded()
        unknown = [name for name in fields if name not in FIELDS]
        if unknown:
            raise TypeError(f"set() got an unknown field {unknown[0]!r}; the fields are "
                            f"{', '.join(FIELDS)}")
        values = {}
        for name in FIELDS:
            if name not in fields:
                continue
            array = np.asarray(fields[name])
            if array.ndim != 0 and array.shape != (self.n_neurons,):
                raise ValueError(f"{name} must be a scalar or have shape ({self.n_neurons},), "
                                 f"not {array.shape}")
            checked = _check_values(name, array, *spec.NEURON_RANGES[name])
            values[name] = np.broadcast_to(checked, (self.n_neurons,)).copy()
        if "theta" in values and not self.features & spec.Feature.THETA:
            self._refuse_missing("set()", _theta_reasons(np.asarray(fields["theta"])))
            del values["theta"]         # all 0: what the device computes with anyway
        if values:
            self._set(values)

    def set_learning(self, **settings):
        """Change learning settings (``spikecore.Learning``'s: ``enabled``, ``a_plus``, …).

        The settings given are merged with the current ones and checked as a whole
        (``Learning.check``: each range, and ``w_min <= w_max``); they apply all together or,
        on error, not at all. Weights, theta and the state are untouched. An unknown name
        raises TypeError; a bad value ValueError; a value that needs a feature the device
        lacks (``Learning.features``: a nonzero ``x_tar``, say) ValueError, while its
        default is accepted.
        """
        self._require_loaded()
        unknown = [name for name in settings if name not in SETTINGS]
        if unknown:
            raise TypeError(f"set_learning() got an unknown setting {unknown[0]!r}; the "
                            f"settings are {', '.join(SETTINGS)}")
        changes = {}
        for name in SETTINGS:
            if name in settings:
                changes[name] = Learning._checked(name, settings[name])
        self._refuse_missing("set_learning()", _learning_reasons(changes))
        if changes:
            self._set_learning(changes)

    def reset(self):
        """Set u, v, ref, x, y and the last step's spikes to zero; keep weights and theta."""
        self._require_loaded()
        self._reset()

    def counters(self):
        """Return ``{"steps": int, "cycles": int or None}`` since the network was loaded.

        ``cycles`` counts the clock cycles the hardware spent computing steps (None for the
        model, which has no clock).
        """
        return self._counters()

    def info(self):
        """Return a dict describing the device (backend, geometry, and link details)."""
        return self._info()

    def close(self):
        """Release the device or link."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- helpers ---

    _loaded = False

    def _require_loaded(self):
        if not self._loaded:
            raise RuntimeError("no network is loaded; call core.load(net) first")

    def _refuse_missing(self, what, reasons):
        """Raise ValueError for the first (feature, reason) whose feature the device lacks."""
        for feature, reason in reasons:
            if not feature & self.features:
                raise ValueError(f"{what} needs the {feature.name} feature, which the device "
                                 f"lacks (it has {_feature_names(self.features)}): {reason}")

    @staticmethod
    def _merged_learning(current, changes):
        """Return a Learning of *current* (a dict) with *changes*, checked as a whole."""
        merged = Learning(**{**current, **changes})
        merged.check()
        return merged


class ModelCore(Core):
    """The golden model (``spikecore.model.Model``) behind the ``Core`` API (``model://``)."""

    def __init__(self):
        self._model = None

    def _load(self, net):
        self._model = Model(net)
        self.n_inputs, self.n_neurons = net.n_inputs, net.n_neurons

    def _check_geometry(self, net):
        """The model takes any geometry: each load sets it."""

    def _run(self, inputs):
        return self._model.run(inputs)

    def _run_with(self, inputs, steps, spikes, counts, probes):
        m = self._model
        rec = Recording(spikes=np.zeros((steps, self.n_neurons), bool) if spikes else None,
                        probes=np.zeros((steps, len(probes)), np.int64) if probes else None)
        total = np.zeros(self.n_neurons, dtype=np.int64)
        done = 0
        while done < steps:
            # The device's counts saturate at COUNT_MAX: count at most that many steps a time.
            size = min(steps - done, spec.MAX_STEPS, self.CHUNK)
            m.clear_counts()
            part = np.zeros((size, self.n_inputs), bool) if inputs is None \
                else inputs[done:done + size]
            if probes:
                for t in range(size):
                    s = m.step(part[t])
                    if spikes:
                        rec.spikes[done + t] = s
                    rec.probes[done + t] = [self._probe(space, addr) for space, addr in probes]
            else:
                s = m.run(part)
                if spikes:
                    rec.spikes[done:done + size] = s
            total += m.count
            done += size
        if counts:
            rec.counts = total
        return rec

    #: Steps run at a time by ``_run_with`` (bounds the memory of a long run).
    CHUNK = 4096

    def _probe(self, space, addr):
        m = self._model
        if space is spec.Space.NEURON:
            return int(m.theta[addr & ((1 << spec.neuron_bits(self.n_neurons)) - 1)])
        sb = spec.src_bits(self.n_inputs, self.n_neurons)
        field, index = spec.StateField(addr >> sb), addr & ((1 << sb) - 1)
        return int(getattr(m, STATE_ATTRS[field])[index])

    def _set_rates(self, rate, gen_state):
        self._model.rate[:] = rate
        if gen_state is not None:
            self._model.gen[:] = gen_state

    def _read_weights(self):
        return self._model.W.copy()

    def _read_state(self):
        m = self._model
        return State(u=m.u.copy(), v=m.v.copy(), ref=m.ref.copy(), y=m.y.copy(), x=m.x.copy(),
                     spikes=m.s_prev.copy(), theta=m.theta.copy(), gen_state=m.gen.copy())

    def _write_weights(self, w, rows):
        self._model._W[rows] = w

    def _set(self, values):
        for name, array in values.items():
            getattr(self._model, name)[:] = array

    def _set_learning(self, changes):
        m = self._model
        m.learning = self._merged_learning(m.learning.as_dict(), changes)

    def _reset(self):
        self._model.reset()

    def _counters(self):
        return {"steps": self._model.steps if self._model else 0, "cycles": None}

    def _info(self):
        return {"backend": "model", "n_inputs": self.n_inputs, "n_neurons": self.n_neurons,
                "features": self.features}
