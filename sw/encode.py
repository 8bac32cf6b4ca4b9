"""Turn numbers into input spikes: rate, ON/OFF and latency codes.

Every encoder takes a numpy array of any shape (an image, a feature vector), flattens it in C
order to ``n_inputs`` values, and returns the spikes as a bool array ``(steps, n_inputs)``:
what ``core.run`` takes. Random encoders draw from a seeded ``numpy.random.Generator``, so a
run is repeatable.

>>> from spikecore import encode
>>> p = image / 16 * 0.5                        # spike probability per step
>>> spikes = encode.rate(p, steps=40, rng=seed) # bool (40, image.size)
"""

import numpy as np

from . import spec

__all__ = ["rate", "generator_rate", "on_off", "latency"]


def _steps(steps):
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)) \
            or steps < 1:
        raise ValueError(f"steps must be a positive integer, not {steps!r}")
    return int(steps)


def _values(name, values, low=None, high=None):
    """Return *values* flattened to float64, checked finite and inside [low, high]."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numbers, not {array.dtype}")
    array = array.astype(np.float64).ravel()
    if array.size == 0:
        raise ValueError(f"{name} must hold at least one value")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, not {array[~np.isfinite(array)][0]}")
    if low is not None and array.min() < low or high is not None and array.max() > high:
        bad = array[(array < low) | (array > high)][0]
        raise ValueError(f"{name} = {bad} is outside the allowed range [{low}, {high}]")
    return array


def _generator(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, (bool, np.bool_)):
        return np.random.default_rng(rng)
    raise ValueError(f"rng must be a numpy.random.Generator or an integer seed, not {rng!r}")


def rate(p, steps, rng):
    """Return Bernoulli spikes: input k fires in each step with probability ``p[k]``.

    Parameters
    ----------
    p : array of any shape, values in [0, 1]
        Spike probability per step of each input (flattened in C order).
    steps : int
        Number of steps.
    rng : numpy.random.Generator or int
        The random stream (an int seeds a new one). Draws ``steps × p.size`` uniforms from
        it: input k fires in step t iff ``rng.random() < p[k]``, drawn in C order of
        ``(steps, p.size)``.

    Returns
    -------
    bool array (steps, p.size)
    """
    p = _values("p", p, 0.0, 1.0)
    steps = _steps(steps)
    return _generator(rng).random((steps, p.size)) < p


def generator_rate(p):
    """Return the on-device generator rates (``Core.set_rates``) nearest probabilities *p*.

    An input at generator rate r fires with probability r / 65536 per step, so this is
    ``round(p · 65536)`` (halves to even), at most 65535: int64, the shape of *p* (in [0, 1]).
    """
    shape = np.shape(p)
    p = _values("p", p, 0.0, 1.0)
    rates = np.rint(p * (spec.RATE_MAX + 1)).astype(np.int64)
    return np.minimum(rates, spec.RATE_MAX).reshape(shape)


def on_off(values, center=0.0):
    """Return ON and OFF channels of *values*: ``[max(v − center, 0)…, max(center − v, 0)…]``.

    The ON half holds how far each value lies above *center*, the OFF half how far below, so
    that dark and bright features both make spikes once rate- or latency-encoded. The result
    is a float array of ``2 · values.size`` values (ON first), in the units of *values*.
    """
    values = _values("values", values)
    if not np.isfinite(center):
        raise ValueError(f"center must be a finite number, not {center!r}")
    return np.concatenate([np.maximum(values - center, 0.0), np.maximum(center - values, 0.0)])


def latency(values, steps, *, max_value=1.0, threshold=0.0):
    """Return time-to-first-spike spikes: each input fires once, earlier for larger values.

    Input k with value ``v > threshold`` fires exactly once, in step
    ``round((1 − v / max_value) · (steps − 1))`` (the largest value in step 0, a value just
    above *threshold* near the end); inputs at or below *threshold* never fire.

    Parameters
    ----------
    values : array of any shape, values in [0, max_value]
    steps : int
    max_value : float
        The value that fires in step 0 (positive).
    threshold : float
        Values at or below it make no spike (in [0, max_value)).

    Returns
    -------
    bool array (steps, values.size)
    """
    steps = _steps(steps)
    if not (np.isfinite(max_value) and max_value > 0):
        raise ValueError(f"max_value must be a positive number, not {max_value!r}")
    if not (np.isfinite(threshold) and 0 <= threshold < max_value):
        raise ValueError(f"threshold must be in [0, max_value), not {threshold!r}")
    values = _values("values", values, 0.0, max_value)
    fire = values > threshold
    when = np.rint((1.0 - values / max_value) * (steps - 1)).astype(np.int64)
    out = np.zeros((steps, values.size), dtype=bool)
    out[when[fire], np.flatnonzero(fire)] = True
    return out
