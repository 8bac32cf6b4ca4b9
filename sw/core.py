"""The ``Core`` API shared by every backend, and the golden model behind it (``model://``).

``spikecore.connect`` (``spikecore.backends``) opens one; the driver (``spikecore.driver``)
implements the API over a link.
"""

from dataclasses import dataclass

import numpy as np

from .model import Model

__all__ = ["Core", "State", "ModelCore"]


@dataclass
class State:
    """A snapshot of a core's state (docs/model.md, "State").

    Members
    -------
    u, v, ref, y : int64 arrays (n_neurons,)
    x : int64 array (n_sources,)
    spikes : bool array (n_neurons,)
        The last step's spikes (``s_prev``), delivered in the next step.
    """
    u: np.ndarray
    v: np.ndarray
    ref: np.ndarray
    y: np.ndarray
    x: np.ndarray
    spikes: np.ndarray

    def __eq__(self, other):
        return isinstance(other, State) and all(
            np.array_equal(getattr(self, k), getattr(other, k)) for k in self.__dataclass_fields__)


class Core:
    """A spiking core behind some link: the golden model, the virtual board or a board.

    Subclasses implement the ``_``-prefixed methods; this class checks every argument first,
    so that bad input raises ``ValueError`` before anything reaches the device.

    Members
    -------
    n_inputs, n_neurons : int or None
        The geometry of the device (None for the model until a network is loaded).
    """

    n_inputs = None
    n_neurons = None

    # --- the public API ---

    def load(self, net):
        """Load *net*'s weights, parameters and learning settings; set the state to zero.

        The whole network is checked first (``Network.check``, then the geometry): a network
        that is refused raises ValueError and leaves the device as it was, on every backend.
        """
        from .network import Network
        if not isinstance(net, Network):
            hint = "; import a NIR graph with spikecore.nir.from_nir(graph, dt=...)" \
                if type(net).__module__.split(".")[0] == "nir" else ""
            raise TypeError(f"load() takes a spikecore.Network, not {type(net).__name__}{hint}")
        net.check()
        self._check_geometry(net)
        self._load(net)
        self._loaded = True

    def _check_geometry(self, net):
        """Raise ValueError if *net* does not fit the device."""
        if (net.n_inputs, net.n_neurons) != (self.n_inputs, self.n_neurons):
            raise ValueError(
                f"network geometry {net.n_inputs} inputs + {net.n_neurons} neurons does not "
                f"match the device's {self.n_inputs} inputs + {self.n_neurons} neurons")

    def run(self, inputs):
        """Run one step per row of *inputs* (bool, (steps, n_inputs)); return the spikes.

        Returns a bool array (steps, n_neurons). State carries over between calls.
        """
        self._require_loaded()
        array = np.asarray(inputs)
        if array.ndim != 2 or array.shape[1] != self.n_inputs:
            raise ValueError(f"inputs must have shape (steps, {self.n_inputs}), "
                             f"not {array.shape}")
        if array.dtype != bool:
            if array.dtype.kind not in "iu" or np.any((array != 0) & (array != 1)):
                raise ValueError(f"inputs must be bool (or 0/1 integers), not {array.dtype}")
            array = array.astype(bool)
        if len(array) == 0:
            return np.zeros((0, self.n_neurons), dtype=bool)
        return self._run(array)

    def read_weights(self):
        """Return the weights as an int8 array (n_sources, n_neurons), rows = sources."""
        self._require_loaded()
        return self._read_weights()

    def read_state(self):
        """Return a :class:`State` snapshot."""
        self._require_loaded()
        return self._read_state()

    def reset(self):
        """Set u, v, ref, x, y and the last step's spikes to zero; keep the weights."""
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

    def _read_weights(self):
        return self._model.W.copy()

    def _read_state(self):
        m = self._model
        return State(u=m.u.copy(), v=m.v.copy(), ref=m.ref.copy(), y=m.y.copy(), x=m.x.copy(),
                     spikes=m.s_prev.copy())

    def _reset(self):
        self._model.reset()

    def _counters(self):
        return {"steps": self._model.steps if self._model else 0, "cycles": None}

    def _info(self):
        return {"backend": "model", "n_inputs": self.n_inputs, "n_neurons": self.n_neurons}
