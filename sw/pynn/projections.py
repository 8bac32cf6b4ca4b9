"""Projection: PyNN's, with its connections held on the host as arrays.

Every connector of pyNN.connectors works (they call ``_convergent_connect``). Each
connection's delay must be one step; weights are signed as PyNN wants them for current-based
cells (inhibitory ones negative), which is how they go into the core. ``get("weight")``
reads the weights back from the device whenever a network is loaded, so learned weights are
seen; after ``set(weight=...)`` and before the next run, the weights set (the next run writes
them all, learned ones included).
"""

import numpy as np
from pyNN import common
from pyNN.space import Space
from pyNN.standardmodels.base import check_weights

from . import simulator
from .standardmodels import STDPMechanism, StaticSynapse

__all__ = ["Projection", "Connection"]


class Connection(common.Connection):
    """One connection of a projection: its indices and attributes (a view)."""

    def __init__(self, projection, k):
        self.projection, self.k = projection, k

    @property
    def presynaptic_index(self):
        return int(self.projection._pre[self.k])

    @property
    def postsynaptic_index(self):
        return int(self.projection._post[self.k])

    def __getattr__(self, name):
        if name in ("projection", "k"):
            raise AttributeError(name)
        return self.projection._attribute(name)[self.k]

    def as_tuple(self, *attribute_names):
        return tuple(getattr(self, name) for name in attribute_names)


class Projection(common.Projection):
    __doc__ = common.Projection.__doc__
    _simulator = simulator
    _static_synapse_class = StaticSynapse

    def __init__(self, presynaptic_population, postsynaptic_population, connector,
                 synapse_type=None, source=None, receptor_type=None,
                 space=Space(), label=None):
        super().__init__(presynaptic_population, postsynaptic_population, connector,
                         synapse_type, source, receptor_type, space, label)
        if self.label is None:
            self.label = f"projection {len(simulator.state.projections)}"
        if self.is_plastic and self.receptor_type == "inhibitory":
            raise ValueError(f"{self.label}: STDP on inhibitory synapses is not expressible: "
                             f"their weights are negative in the core, where potentiation "
                             f"makes a weight more positive")
        self._pre = np.zeros(0, np.int64)
        self._post = np.zeros(0, np.int64)
        self._values = {}
        self._parts = []
        connector.connect(self)
        self._collect()
        simulator.state.projections.append(self)
        simulator.state.changed()

    @property
    def is_plastic(self):
        return isinstance(self.synapse_type, STDPMechanism)

    def __len__(self):
        return len(self._pre)

    def __getitem__(self, i):
        return Connection(self, range(len(self))[i])

    def _convergent_connect(self, presynaptic_indices, postsynaptic_index,
                            location_selector=None, **connection_parameters):
        if location_selector is not None:
            raise NotImplementedError("spikecore.pynn has no multicompartment cells")
        pre = np.asarray(presynaptic_indices, dtype=np.int64).ravel()
        values = {name: np.broadcast_to(np.asarray(value, dtype=float), pre.shape)
                  for name, value in connection_parameters.items()}
        self._check_delay(values["delay"])
        check_weights(values["weight"], self)
        self._parts.append((pre, np.full(pre.shape, int(postsynaptic_index)), values))

    def _collect(self):
        """Join the connections made so far into arrays."""
        if not self._parts:
            return
        parts = [(self._pre, self._post, self._values)] if len(self._pre) else []
        parts += self._parts
        self._parts = []
        self._pre = np.concatenate([p for p, _, _ in parts])
        self._post = np.concatenate([q for _, q, _ in parts])
        self._values = {name: np.concatenate([np.asarray(v[name], float) for _, _, v in parts])
                        for name in parts[-1][2]}

    def _check_delay(self, delay):
        dt = simulator.state.dt
        bad = np.abs(delay - dt) > 1e-9 * max(dt, 1.0)
        if np.any(bad):
            raise ValueError(
                f"{self.label}: delay = {float(delay[bad][0])} ms; spikecore.pynn's delays are "
                f"exactly one step ({dt} ms): a neuron's spike reaches its targets one step "
                f"later in the core, and spike sources are sent one step late to match")

    # --- attributes ---

    def _attribute(self, name):
        if name.endswith("s") and name[:-1] in ("weight", "delay"):
            name = name[:-1]
        if name == "weight":
            return self.weights(read=True)
        return self._values[name]

    def values(self, name):
        """Return the attribute *name* of every connection, as the script set it."""
        return self._values[name]

    def weights(self, read=False):
        """Return every connection's weight (nA): as set, or (*read*) as the device holds it
        (when a network is loaded and the script has not set them since)."""
        target = self._values.get("weight", np.zeros(0))
        engine = simulator.state.engine
        if not read or engine is None or not engine.holds(self) or not len(self):
            return target
        return engine.weights(self, *self.connection_ids(), target)

    def connection_ids(self):
        """Return the PyNN ids (int arrays) of every connection's pre and post cells."""
        return (np.asarray(self.pre.all_cells, dtype=np.int64)[self._pre],
                np.asarray(self.post.all_cells, dtype=np.int64)[self._post])

    def _get_attributes_as_list(self, names):
        columns = []
        for name in names:
            if name == "presynaptic_index":
                columns.append(self._pre)
            elif name == "postsynaptic_index":
                columns.append(self._post)
            else:
                columns.append(self._attribute(name))
        return [tuple(row) for row in zip(*(c.tolist() for c in columns))]

    def _get_attributes_as_arrays(self, names, multiple_synapses="sum"):
        combine = {"sum": (np.add.at, 0.0), "min": (np.minimum.at, np.inf),
                   "max": (np.maximum.at, -np.inf)}
        arrays = []
        for name in names:
            values = self._attribute(name)
            if multiple_synapses in combine:
                at, fill = combine[multiple_synapses]
                array = np.full(self.shape, fill)
                at(array, (self._pre, self._post), values)
            else:
                array = np.full(self.shape, np.nan)
                order = slice(None) if multiple_synapses == "last" else slice(None, None, -1)
                array[self._pre[order], self._post[order]] = values[order]
            connected = np.zeros(self.shape, bool)
            connected[self._pre, self._post] = True
            array[~connected] = np.nan
            arrays.append(array)
        return arrays

    def _set_attributes(self, parameter_space):
        parameter_space.evaluate()
        for name, value in parameter_space.items():
            value = np.asarray(value, float)
            value = value[self._pre, self._post] if value.ndim == 2 else \
                np.broadcast_to(value, self._pre.shape)
            if name == "delay":
                self._check_delay(value)
            if name == "weight":
                check_weights(value, self)
                if simulator.state.engine is not None:
                    simulator.state.engine.weights_set(self)
            self._values[name] = value.copy()
        simulator.state.changed()
