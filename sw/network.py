"""A network description: geometry, weights, neuron parameters and learning settings.

A :class:`Network` is plain data. Every backend (``spikecore.connect``) loads the same object;
docs/model.md defines what its fields mean.
"""

import numpy as np

from . import spec

__all__ = ["Network", "Learning", "Field"]


def _check_integers(name, values):
    """Return *values* as an int64 array, or raise ValueError naming *name*."""
    array = np.asarray(values)
    if array.dtype == bool:
        return array.astype(np.int64)
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
        return array.astype(np.int64)
    raise ValueError(f"{name} must hold integers, not {array.dtype} values like "
                     f"{array.ravel()[:3].tolist()}")


def _check_range(name, array, low, high, *, index=False):
    """Raise ValueError naming *name*, the first bad value and [low, high] if any is outside.

    With *index*, the message also gives the position of the bad value in *array*.
    """
    bad = (array < low) | (array > high)
    if np.any(bad):
        position = tuple(int(k) for k in np.argwhere(bad)[0]) if index and array.ndim else ()
        where = f"[{', '.join(map(str, position))}]" if position else ""
        raise ValueError(f"{name}{where} = {int(array[bad].flat[0])} is outside the allowed "
                         f"range [{low}, {high}]")


class Field(np.ndarray):
    """A numpy array that checks every value written into it against a named range.

    ``net.vth[:] = 900`` and ``net.weights[3, 4] += 1`` go through the check, so an
    out-of-range value raises ``ValueError`` and leaves the array unchanged instead of being
    clipped or wrapped. Arithmetic on a Field gives plain numpy arrays.
    """

    def __new__(cls, name, shape, dtype, low, high, fill=0):
        field = np.full(shape, fill, dtype=dtype).view(cls)
        field._name, field._low, field._high = name, low, high
        return field

    def __array_finalize__(self, obj):
        self._name = getattr(obj, "_name", "array")
        self._low = getattr(obj, "_low", None)
        self._high = getattr(obj, "_high", None)

    def _checked(self, value):
        if self.dtype == bool:
            array = np.asarray(value)
            if array.dtype != bool:
                array = _check_integers(self._name, array)
                _check_range(self._name, array, 0, 1)
            return array.astype(bool)
        array = _check_integers(self._name, value)
        _check_range(self._name, array, self._low, self._high)
        return array

    def __setitem__(self, key, value):
        super().__setitem__(key, self._checked(value))

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        # Compute in int64 (never wrapping in int8), then write back through the range check.
        plain = tuple(x.view(np.ndarray).astype(np.int64) if isinstance(x, Field)
                      and x.dtype != bool else (x.view(np.ndarray) if isinstance(x, Field)
                                                else x) for x in inputs)
        if out is None:
            return getattr(ufunc, method)(*plain, **kwargs)
        if method != "__call__" or len(out) != 1 or not isinstance(out[0], Field):
            return NotImplemented
        result = getattr(ufunc, method)(*plain, **kwargs)
        out[0][...] = result
        return out[0]

    def __reduce__(self):
        # Pickle and copy.deepcopy as a plain array; Network rebuilds its Fields on load.
        return np.asarray(self).__reduce__()

    def copy(self, order="C"):
        """Return a plain numpy copy."""
        return np.array(self, order=order)


class Learning:
    """STDP settings of a network (docs/model.md, "Learning settings").

    Every assignment is checked: ``net.learning.a_plus = 300`` raises ``ValueError`` naming
    the setting and its range. ``w_min <= w_max`` is checked when a network is loaded.
    """

    _DEFAULTS = {"enabled": False, "a_plus": 16, "a_minus": 16, "x_imp": 64, "y_imp": 64,
                 "x_decay": 224, "y_decay": 224, "w_min": spec.WEIGHT_MIN,
                 "w_max": spec.WEIGHT_MAX}

    __slots__ = tuple(_DEFAULTS)

    def __init__(self, **settings):
        for name, value in {**self._DEFAULTS, **settings}.items():
            setattr(self, name, value)

    def __setattr__(self, name, value):
        if name not in self._DEFAULTS:
            raise AttributeError(f"Learning has no setting {name!r}; settings are "
                                 f"{', '.join(self._DEFAULTS)}")
        if name == "enabled":
            if not isinstance(value, (bool, np.bool_)) and value not in (0, 1):
                raise ValueError(f"learning.enabled must be a bool, not {value!r}")
            value = bool(value)
        else:
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"learning.{name} must be an integer, not {value!r}")
            low, high = spec.LEARNING_RANGES[name]
            if not low <= value <= high:
                raise ValueError(f"learning.{name} = {value} is outside the allowed range "
                                 f"[{low}, {high}]")
            value = int(value)
        object.__setattr__(self, name, value)

    def check(self):
        """Raise ValueError if the settings are inconsistent with each other."""
        if self.w_min > self.w_max:
            raise ValueError(f"learning.w_min = {self.w_min} is above learning.w_max = "
                             f"{self.w_max}")

    def as_dict(self):
        """Return the settings as a dict of plain Python values."""
        return {name: getattr(self, name) for name in self._DEFAULTS}

    def __eq__(self, other):
        return isinstance(other, Learning) and self.as_dict() == other.as_dict()

    def __repr__(self):
        return "Learning(" + ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items()) + ")"


_NEURON_DEFAULTS = {"vth": 10000, "bias": 0, "du": 1024, "dv": 256, "t_ref": 2}
_DEFAULT_W_EXP = 6
_FORMAT = "spikecore.network/1"


def _positive(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return int(value)


class Network:
    """An all-to-all network of LIF neurons with STDP (docs/model.md).

    Parameters
    ----------
    n_inputs : int
        Number of input axons (sources 0 … n_inputs−1).
    n_neurons : int
        Number of neurons (neuron k is source n_inputs+k).
    seed : int or None
        Seed of the default input weights, drawn uniformly from [0, 32); ``None`` leaves all
        weights zero.

    Members
    -------
    weights : int8 array (n_inputs + n_neurons, n_neurons)
        ``weights[j, i]`` is the weight from source j to neuron i.
    vth, bias, du, dv, t_ref : int64 arrays (n_neurons,)
        Per-neuron parameters.
    w_exp : int
        Weight scale exponent.
    learning : Learning
        STDP settings.
    plastic_src : bool array (n_inputs + n_neurons,)
    plastic_dst : bool array (n_neurons,)
        Synapse (j, i) learns iff ``plastic_src[j] and plastic_dst[i]``.

    Arrays are assigned in place (``net.vth[:] = 900``) or whole (``net.vth = values``); both
    check shape and range and raise ``ValueError`` naming the field.
    """

    _ARRAYS = ("weights", "vth", "bias", "du", "dv", "t_ref", "plastic_src", "plastic_dst")

    def __init__(self, n_inputs, n_neurons, *, seed=0):
        self.n_inputs = _positive("n_inputs", n_inputs)
        self.n_neurons = _positive("n_neurons", n_neurons)
        n_src = self.n_sources
        fields = {
            "weights": Field("weights", (n_src, n_neurons), np.int8,
                             spec.WEIGHT_MIN, spec.WEIGHT_MAX),
            "plastic_src": Field("plastic_src", (n_src,), bool, 0, 1, fill=True),
            "plastic_dst": Field("plastic_dst", (n_neurons,), bool, 0, 1, fill=True),
        }
        for name, (low, high) in spec.NEURON_RANGES.items():
            fields[name] = Field(name, (n_neurons,), np.int64, low, high,
                                 fill=_NEURON_DEFAULTS[name])
        object.__setattr__(self, "_fields", fields)
        self.w_exp = _DEFAULT_W_EXP
        self.learning = Learning()
        if seed is not None:
            rng = np.random.default_rng(seed)
            self.weights[:n_inputs] = rng.integers(0, 32, (n_inputs, n_neurons))

    @property
    def n_sources(self):
        """Number of sources: inputs, then neurons."""
        return self.n_inputs + self.n_neurons

    def __getattr__(self, name):
        fields = self.__dict__.get("_fields", {})
        if name in fields:
            return fields[name]
        raise AttributeError(f"Network has no attribute {name!r}")

    def __setattr__(self, name, value):
        if name in self._ARRAYS:
            field = self._fields[name]
            array = np.asarray(value)
            if array.shape != field.shape:
                raise ValueError(f"{name} must have shape {field.shape}, not {array.shape}")
            field[...] = array
        elif name == "w_exp":
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
                    or not 0 <= value <= spec.W_EXP_MAX:
                raise ValueError(f"w_exp = {value!r} is outside the allowed range "
                                 f"[0, {spec.W_EXP_MAX}]")
            object.__setattr__(self, name, int(value))
        elif name == "learning":
            if not isinstance(value, Learning):
                raise ValueError(f"learning must be a spikecore.Learning, not {value!r}")
            object.__setattr__(self, name, value)
        elif name in ("n_inputs", "n_neurons") and name not in self.__dict__:
            object.__setattr__(self, name, value)
        else:
            raise AttributeError(f"Network has no settable attribute {name!r}")

    def check(self):
        """Check every field (shape, dtype and range); raise ValueError naming the first bad one.

        Assignments are checked as they happen; this catches what bypassed them (writes
        through ``.view(numpy.ndarray)``, for example).
        """
        for name in self._ARRAYS:
            field = self._fields[name]
            if field.dtype == bool:
                continue
            _check_range(name, np.asarray(field, dtype=np.int64), field._low, field._high,
                         index=True)
        self.learning.check()

    def copy(self):
        """Return an independent copy."""
        other = Network(self.n_inputs, self.n_neurons, seed=None)
        for name in self._ARRAYS:
            setattr(other, name, getattr(self, name))
        other.w_exp = self.w_exp
        other.learning = Learning(**self.learning.as_dict())
        return other

    def save(self, path):
        """Write the network to *path* as ``.npz`` (format in docs/model.md)."""
        arrays = {name: np.asarray(getattr(self, name)) for name in self._ARRAYS}
        arrays.update({f"learning_{k}": np.asarray(v)
                       for k, v in self.learning.as_dict().items()})
        np.savez_compressed(path, format=np.asarray(_FORMAT), n_inputs=self.n_inputs,
                            n_neurons=self.n_neurons, w_exp=self.w_exp, **arrays)

    @classmethod
    def load(cls, path):
        """Read a network written by :meth:`save`; raise ValueError if the file is not one."""
        with np.load(path, allow_pickle=False) as f:
            if "format" not in f or str(f["format"]) != _FORMAT:
                raise ValueError(f"{path} is not a spikecore network file "
                                 f"(expected format {_FORMAT!r})")
            net = cls(int(f["n_inputs"]), int(f["n_neurons"]), seed=None)
            for name in cls._ARRAYS:
                setattr(net, name, f[name])
            net.w_exp = int(f["w_exp"])
            settings = {}
            for name in Learning._DEFAULTS:
                value = f[f"learning_{name}"].item()
                settings[name] = value
            net.learning = Learning(**settings)
        net.check()
        return net

    def __repr__(self):
        return (f"Network(n_inputs={self.n_inputs}, n_neurons={self.n_neurons}, "
                f"learning={'on' if self.learning.enabled else 'off'})")
