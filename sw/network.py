"""A network description: geometry, weights, neuron parameters and learning settings.

A :class:`Network` is plain data. Every backend (``spikecore.connect``) loads the same object;
docs/model.md defines what its fields mean.
"""

import zipfile

import numpy as np

from . import spec

__all__ = ["Network", "Learning", "Field"]


def _check_values(name, values, low, high):
    """Return *values* as an int64 array if every one is an integer in [low, high].

    Raise ValueError naming *name*, the first bad value and the range otherwise. The check is
    made on the values as given, before any cast, so that nothing can wrap on the way (a
    ``numpy.uint64`` of 2**64 − 5 is not −5, and 1e30 is not −2**63).
    """
    array = np.asarray(values)
    kind = array.dtype.kind
    if kind == "f":
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise ValueError(f"{name} must hold integers, not {array.dtype} values like "
                             f"{array.ravel()[:3].tolist()}")
    elif kind not in "biu":
        raise ValueError(f"{name} must hold integers, not {array.dtype} values like "
                         f"{array.ravel()[:3].tolist()}")
    bad = (array < low) | (array > high)
    if np.any(bad):
        value = array[bad].flat[0]
        value = int(value) if kind in "biu" else float(value)
        raise ValueError(f"{name} = {value} is outside the allowed range [{low}, {high}]")
    return array.astype(np.int64)


def _check_range(name, array, low, high):
    """Raise ValueError naming *name*, the position and value of the first value outside
    [low, high], and the range."""
    bad = (array < low) | (array > high)
    if np.any(bad):
        position = tuple(int(k) for k in np.argwhere(bad)[0])
        where = f"[{', '.join(map(str, position))}]" if position else ""
        raise ValueError(f"{name}{where} = {int(array[bad].flat[0])} is outside the allowed "
                         f"range [{low}, {high}]")


def _check_scalar(name, value, low, high):
    """Return *value* as an int if it is an integer (not a bool) in [low, high]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} = {value} is outside the allowed range [{low}, {high}]")
    return int(value)


def _check_bool(name, value):
    """Return *value* as a bool if it is a bool or the integer 0 or 1."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    raise ValueError(f"{name} must be a bool, not {value!r}")


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
            return _check_values(self._name, value, 0, 1).astype(bool)
        return _check_values(self._name, value, self._low, self._high)

    def __setitem__(self, key, value):
        super().__setitem__(key, self._checked(value))

    def fill(self, value):
        """Set every element to *value*, checked."""
        self[...] = value

    def put(self, indices, values, mode="raise"):
        """``numpy.ndarray.put``, with *values* checked."""
        super().put(indices, self._checked(values), mode=mode)

    def __getitem__(self, key):
        # One element comes out as int64, not int8, so that ``net.weights[0, 0] += 1`` is
        # computed without wrapping and then checked on the way back in.
        item = super().__getitem__(key)
        if isinstance(item, np.ndarray) or self.dtype == bool:
            return item
        return np.int64(item)

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
                 "w_max": spec.WEIGHT_MAX, "x_tar": 0, "th_imp": 0,
                 "th_shift": spec.TH_SHIFT_MAX, "soft_bound": False}
    _BOOLS = ("enabled", "soft_bound")

    __slots__ = tuple(_DEFAULTS)

    def __init__(self, **settings):
        for name, value in {**self._DEFAULTS, **settings}.items():
            setattr(self, name, value)

    def __setattr__(self, name, value):
        if name not in self._DEFAULTS:
            raise AttributeError(f"Learning has no setting {name!r}; settings are "
                                 f"{', '.join(self._DEFAULTS)}")
        object.__setattr__(self, name, self._checked(name, value))

    @staticmethod
    def _checked(name, value):
        if name in Learning._BOOLS:
            return _check_bool(f"learning.{name}", value)
        return _check_scalar(f"learning.{name}", value, *spec.LEARNING_RANGES[name])

    def check(self):
        """Check every setting again, and that ``w_min <= w_max``; raise ValueError if not.

        Assignments are checked as they happen; this also catches what bypassed them and the
        one rule that involves two settings.
        """
        for name in self._DEFAULTS:
            self._checked(name, getattr(self, name))
        if self.w_min > self.w_max:
            raise ValueError(f"learning.w_min = {self.w_min} is above learning.w_max = "
                             f"{self.w_max}")

    def as_dict(self):
        """Return the settings as a dict of plain Python values."""
        return {name: getattr(self, name) for name in self._DEFAULTS}

    def features(self):
        """Return the ``spikecore.spec.Feature`` s these settings need a device to have."""
        need = spec.Feature(0)
        if self.x_tar:
            need |= spec.Feature.X_TAR
        if self.th_imp:
            need |= spec.Feature.THETA
        if self.soft_bound:
            need |= spec.Feature.SOFT_BOUND
        return need

    def __eq__(self, other):
        return isinstance(other, Learning) and self.as_dict() == other.as_dict()

    def __repr__(self):
        return "Learning(" + ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items()) + ")"


_NEURON_DEFAULTS = {"vth": 10000, "bias": 0, "du": 1024, "dv": 256, "t_ref": 2, "theta": 0}
_DEFAULT_W_EXP = 6
_FORMAT = "spikecore.network/3"
#: Older formats ``load`` reads: their missing entries take their defaults.
_FORMATS_READ = (_FORMAT, "spikecore.network/2", "spikecore.network/1")


def _positive(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return int(value)


def _shape(name, n_inputs, n_neurons):
    """Return the shape of the Network array *name* in this geometry."""
    if name == "weights":
        return (n_inputs + n_neurons, n_neurons)
    if name == "plastic_src":
        return (n_inputs + n_neurons,)
    return (n_inputs,) if name in spec.INPUT_RANGES else (n_neurons,)


#: What "spikecore.network/1" files lack, and what "spikecore.network/2" files lack.
_V2_ARRAYS = ("theta",)
_V2_SETTINGS = ("x_tar", "th_imp", "th_shift", "soft_bound")
_V3_ARRAYS = ("rate", "gen_state")

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


class _NetworkFile:
    """A network file opened for reading: each entry's kind and shape are checked from its
    header before its data is read, and every problem is a ValueError naming the file."""

    def __init__(self, path):
        self.path = path
        try:
            with open(path, "rb") as f:
                if f.read(8) == _HDF5_SIGNATURE:
                    raise ValueError(f"{path} is a NIR (HDF5) file, not a spikecore network: "
                                     f"import it with spikecore.nir.from_nir(path, dt=...)")
        except OSError:
            pass                            # np.load reports it
        try:
            self._npz = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path} is not a spikecore network file ({exc or 'empty'})") \
                from None
        if not isinstance(self._npz, np.lib.npyio.NpzFile):
            raise ValueError(f"{path} is not a spikecore network file (it holds one array, "
                             f"not a .npz archive)")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._npz.close()

    def _fail(self, message):
        raise ValueError(f"{self.path}: {message}")

    def _header(self, key):
        """Return (shape, dtype) of entry *key*, read from its header only."""
        if key not in self._npz.files:
            self._fail(f"entry {key!r} is missing")
        try:
            with self._npz.zip.open(key + ".npy") as member:
                version = np.lib.format.read_magic(member)
                read = {(1, 0): np.lib.format.read_array_header_1_0,
                        (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read is None:
                    self._fail(f"entry {key!r} has an unsupported .npy version {version}")
                shape, _, dtype = read(member)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            if str(exc).startswith(f"{self.path}:"):
                raise
            self._fail(f"entry {key!r} is unreadable ({exc})")
        return shape, dtype

    def _read(self, key):
        try:
            return self._npz[key]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            self._fail(f"entry {key!r} is unreadable ({exc})")

    def expect_format(self, *expected):
        """Return the file's format if it is one of *expected*; raise ValueError if not."""
        if "format" not in self._npz.files:
            raise ValueError(f"{self.path} is not a spikecore network file (it has no "
                             f"'format' entry)")
        shape, dtype = self._header("format")
        value = self._read("format")
        if shape != () or dtype.kind != "U" or str(value) not in expected:
            raise ValueError(f"{self.path} is not a spikecore network file "
                             f"(expected format {' or '.join(map(repr, expected))})")
        return str(value)

    def scalar(self, key, check=None, *, bool_=False):
        """Return entry *key*, a single integer (a bool with *bool_*), checked by *check*."""
        shape, dtype = self._header(key)
        kinds = "biu" if bool_ else "iu"
        if shape != () or dtype.kind not in kinds:
            self._fail(f"entry {key!r} must be a single {'bool' if bool_ else 'integer'}, "
                       f"not {dtype} of shape {shape}")
        value = self._read(key).item()
        try:
            return check(key, value) if check else value
        except ValueError as exc:
            self._fail(exc)

    def array(self, key, shape):
        """Return entry *key*, an integer or bool array of *shape*."""
        found, dtype = self._header(key)
        if found != shape or dtype.kind not in "biu":
            self._fail(f"entry {key!r} must be an integer array of shape {shape}, not "
                       f"{dtype} of shape {found}")
        return self._read(key)


class Network:
    """An all-to-all network of LIF neurons with STDP (docs/model.md).

    Parameters
    ----------
    n_inputs : int
        Number of input axons (sources 0 … n_inputs−1).
    n_neurons : int
        Number of neurons (neuron k is source n_inputs+k).
    seed : int or None
        Seed of the default input weights, drawn uniformly from [0, 32), and of the
        generators' states; ``None`` leaves all weights zero.

    Members
    -------
    weights : int8 array (n_inputs + n_neurons, n_neurons)
        ``weights[j, i]`` is the weight from source j to neuron i.
    vth, bias, du, dv, t_ref : int64 arrays (n_neurons,)
        Per-neuron parameters.
    theta : int64 array (n_neurons,)
        The adaptive thresholds' initial values (learned state, like the weights).
    rate : int64 array (n_inputs,)
        Each input's generator rate: it fires with probability rate / 65536 per step.
    gen_state : int64 array (n_inputs,)
        Each input's generator state, in [1, 2**32 − 1]: drawn by
        ``numpy.random.default_rng(seed).integers(1, 2**32, n_inputs)``, or input j's is
        j + 1 (what a device holds at power-up) when *seed* is None.
    w_exp : int
        Weight scale exponent of input sources.
    w_exp_rec : int or None
        Weight scale exponent of neuron sources; None: equal to *w_exp*.
    learning : Learning
        STDP settings.
    plastic_src : bool array (n_inputs + n_neurons,)
    plastic_dst : bool array (n_neurons,)
        Synapse (j, i) learns iff ``plastic_src[j] and plastic_dst[i]``.

    Arrays are assigned in place (``net.vth[:] = 900``) or whole (``net.vth = values``); both
    check shape and range and raise ``ValueError`` naming the field.
    """

    _ARRAYS = ("weights", "vth", "bias", "du", "dv", "t_ref", "theta", "rate", "gen_state",
               "plastic_src", "plastic_dst")

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
        for name, (low, high) in spec.INPUT_RANGES.items():
            fields[name] = Field(name, (n_inputs,), np.int64, low, high, fill=low)
        object.__setattr__(self, "_fields", fields)
        self.w_exp = _DEFAULT_W_EXP
        self.w_exp_rec = None
        self.learning = Learning()
        if seed is not None:
            rng = np.random.default_rng(seed)
            self.weights[:n_inputs] = rng.integers(0, 32, (n_inputs, n_neurons))
            self.gen_state = np.random.default_rng(seed).integers(1, 2**32, n_inputs)
        else:
            self.gen_state = np.arange(1, n_inputs + 1)

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
            object.__setattr__(self, name, _check_scalar("w_exp", value, 0, spec.W_EXP_MAX))
        elif name == "w_exp_rec":
            object.__setattr__(self, name, None if value is None else
                               _check_scalar("w_exp_rec", value, 0, spec.W_EXP_MAX))
        elif name == "learning":
            if not isinstance(value, Learning):
                raise ValueError(f"learning must be a spikecore.Learning, not {value!r}")
            object.__setattr__(self, name, value)
        elif name in ("n_inputs", "n_neurons") and name not in self.__dict__:
            object.__setattr__(self, name, value)
        else:
            raise AttributeError(f"Network has no settable attribute {name!r}")

    def check(self):
        """Check every field and setting; raise ValueError naming the first bad one.

        Assignments are checked as they happen; this catches what bypassed them (writes
        through ``.view(numpy.ndarray)`` or ``object.__setattr__``, for example). Every
        backend's ``load`` calls it before it sends anything.
        """
        _positive("n_inputs", self.n_inputs)
        _positive("n_neurons", self.n_neurons)
        for name in self._ARRAYS:
            field = self._fields[name]
            expected = _shape(name, self.n_inputs, self.n_neurons)
            if field.shape != expected:
                raise ValueError(f"{name} must have shape {expected}, not {field.shape}")
            if field.dtype != bool:
                _check_range(name, np.asarray(field, dtype=np.int64), field._low, field._high)
        _check_scalar("w_exp", self.w_exp, 0, spec.W_EXP_MAX)
        if self.w_exp_rec is not None:
            _check_scalar("w_exp_rec", self.w_exp_rec, 0, spec.W_EXP_MAX)
        if not isinstance(self.learning, Learning):
            raise ValueError(f"learning must be a spikecore.Learning, not {self.learning!r}")
        self.learning.check()

    def copy(self):
        """Return an independent copy."""
        other = Network(self.n_inputs, self.n_neurons, seed=None)
        for name in self._ARRAYS:
            setattr(other, name, getattr(self, name))
        other.w_exp = self.w_exp
        other.w_exp_rec = self.w_exp_rec
        other.learning = Learning(**self.learning.as_dict())
        return other

    def save(self, path):
        """Write the network to *path* as ``.npz`` (format in docs/model.md)."""
        arrays = {name: np.asarray(getattr(self, name)) for name in self._ARRAYS}
        arrays.update({f"learning_{k}": np.asarray(v)
                       for k, v in self.learning.as_dict().items()})
        w_exp_rec = -1 if self.w_exp_rec is None else self.w_exp_rec
        np.savez_compressed(path, format=np.asarray(_FORMAT), n_inputs=self.n_inputs,
                            n_neurons=self.n_neurons, w_exp=self.w_exp, w_exp_rec=w_exp_rec,
                            **arrays)

    @classmethod
    def load(cls, path):
        """Read a network written by :meth:`save`.

        Raise ValueError naming *path* and the problem if the file is not a valid network file
        (not an ``.npz``, a missing or extra-shaped entry, a value of the wrong kind or out of
        range); the geometry is checked against every array's header before any is read.
        """
        with _NetworkFile(path) as f:
            version = f.expect_format(*_FORMATS_READ)
            v1 = version == "spikecore.network/1"
            missing = (*(_V2_ARRAYS if v1 else ()), *(_V3_ARRAYS if version != _FORMAT else ()))
            n_inputs = f.scalar("n_inputs", _positive)
            n_neurons = f.scalar("n_neurons", _positive)
            arrays = {name: f.array(name, _shape(name, n_inputs, n_neurons))
                      for name in cls._ARRAYS if name not in missing}
            w_exp = f.scalar("w_exp")
            w_exp_rec = -1 if v1 else f.scalar("w_exp_rec")
            settings = {name: f.scalar(f"learning_{name}", bool_=name in Learning._BOOLS)
                        for name in Learning._DEFAULTS
                        if not (v1 and name in _V2_SETTINGS)}
            try:
                net = cls(n_inputs, n_neurons, seed=None)
                for name, array in arrays.items():
                    setattr(net, name, array)
                net.w_exp = w_exp
                net.w_exp_rec = None if w_exp_rec == -1 else w_exp_rec
                net.learning = Learning(**settings)
                net.check()
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from None
        return net

    def features(self):
        """Return the ``spikecore.spec.Feature`` s a device needs to hold this network.

        Those of its learning settings, THETA for a nonzero theta, W_EXP_REC for a
        ``w_exp_rec`` that differs from ``w_exp``. Never GENERATORS: where a device has none,
        the driver runs the generators on the host (docs/protocol.md).
        """
        need = self.learning.features()
        if np.any(np.asarray(self.theta)):
            need |= spec.Feature.THETA
        if self.w_exp_rec is not None and self.w_exp_rec != self.w_exp:
            need |= spec.Feature.W_EXP_REC
        return need

    def __repr__(self):
        return (f"Network(n_inputs={self.n_inputs}, n_neurons={self.n_neurons}, "
                f"learning={'on' if self.learning.enabled else 'off'})")
