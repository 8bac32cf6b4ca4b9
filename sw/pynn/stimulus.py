"""The spike sources: SpikeSourceArray trains and SpikeSourcePoisson rates, step by step.

Times are on the grid of steps m (t = m·dt). A source spike at step m is delivered in step
m + 1: every projection has a delay of exactly one step, as a neuron's spike, which spikecore
delivers a step later (docs/model.md, step 1).

- SpikeSourceArray: each time is rounded to the nearest step (the report notes any time off
  the grid); its spike is streamed in step m + 1. An input sends at most one spike a step:
  several times in one step (equal, or rounding to one step) are one spike, sent and
  recorded once (a note says so). Negative times are refused.
- SpikeSourcePoisson: a Bernoulli trial per step of probability rate·dt, on the input's
  generator (``Core.set_rates``: ``round(rate·dt·65536)``), active in the steps m with
  start ≤ m·dt < start + duration (a note says when start or start + duration is off the
  grid). On a device without generators the driver runs the same generators on the host and
  streams what they fire, bit for bit the same.
"""

import numpy as np

from .. import encode, spec
from .standardmodels import cell_kind

__all__ = ["Stimulus", "segments"]

#: Steps of a Poisson source's window that never ends (duration 1e10 ms, PyNN's default).
FOREVER = 2**62


def _step(times, dt):
    """Return the first step m with m·dt ≥ each time."""
    return np.ceil(np.asarray(times, float) / dt - 1e-9)


def _join(parts, dtype):
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


class Stimulus:
    """The script's spike sources, read from their populations' parameters now.

    Members
    -------
    poisson : int array
        The inputs that are Poisson sources.
    hz, rate : float array, int array
        Their rates: in Hz, and as generator rates (per 65536 per step).
    notes : list of str
        Approximations to report (times off the grid).
    """

    def __init__(self, layout, dt):
        self.dt = dt
        self.notes = []
        steps, inputs = [], []
        poisson, hz, rate, start, stop = [], [], [], [], []
        for pop, first in layout.of_kind("input"):
            index = first + np.arange(pop.size)
            if cell_kind(pop.celltype) == "array":
                trains = np.broadcast_to(pop._parameters["spike_times"], (pop.size,))
                for i, (j, seq) in enumerate(zip(index, trains)):
                    times = np.asarray(seq.value, float)
                    if np.any(~(times >= 0)):
                        raise ValueError(
                            f"{pop.label}[{i}]: spike time {times[~(times >= 0)][0]} ms is "
                            f"not a time of the simulation (it starts at 0 ms)")
                    m = np.rint(times / dt)
                    if np.any(np.abs(m * dt - times) > 1e-6 * dt):
                        self._note(f"approximation: spike times of {pop.label} off the {dt} ms "
                                   f"grid are rounded to the nearest step")
                    once = np.unique(m)
                    if once.size < m.size:
                        self._note(f"approximation: spike times of {pop.label} that fall in one "
                                   f"step of {dt} ms are one spike, sent and recorded once (an "
                                   f"input sends at most one spike a step; e.g. {pop.label}[{i}]"
                                   f" has {m.size} times in {once.size} steps)")
                    steps.append(once.astype(np.int64))
                    inputs.append(np.full(once.size, j))
            else:
                p = {k: np.broadcast_to(np.asarray(pop._parameters[k], float), (pop.size,))
                     for k in ("rate", "start", "duration")}
                probability = p["rate"] * dt / 1000.0
                bad = (probability < 0) | (probability >= 1)
                if np.any(bad):
                    i = int(np.argmax(bad))
                    raise ValueError(f"{pop.label}[{i}]: rate = {p['rate'][i]} Hz is not a "
                                     f"probability per step of {dt} ms in [0, 1)")
                for name, t in (("start", p["start"]), ("start + duration",
                                                         p["start"] + p["duration"])):
                    off = np.isfinite(t) & (t < FOREVER * dt) & \
                        (np.abs(np.rint(t / dt) * dt - t) > 1e-6 * dt)
                    if np.any(off):
                        i = int(np.argmax(off))
                        self._note(f"approximation: {name} of {pop.label} off the {dt} ms grid "
                                   f"(e.g. {pop.label}[{i}]: {t[i]:g} ms): the source is active "
                                   f"from the first step at or after start to the first at or "
                                   f"after start + duration")
                poisson.append(index)
                hz.append(p["rate"])
                rate.append(encode.generator_rate(probability))
                start.append(_step(p["start"], dt))
                stop.append(_step(p["start"] + p["duration"], dt))
        self.steps, self.inputs = _join(steps, np.int64), _join(inputs, np.int64)
        self.poisson = _join(poisson, np.int64)
        self.hz = _join(hz, float)
        self.rate = _join(rate, np.int64)
        self.start = np.clip(_join(start, float), 0, FOREVER).astype(np.int64)
        self.stop = np.clip(_join(stop, float), 0, FOREVER).astype(np.int64)

    def _note(self, note):
        if note not in self.notes:
            self.notes.append(note)

    def spikes(self, first, last):
        """Return (steps, inputs) of the SpikeSourceArray spikes at steps first … last−1."""
        keep = (self.steps >= first) & (self.steps < last)
        return self.steps[keep], self.inputs[keep]

    def rates(self, m):
        """Return the generator rate of each Poisson input (``poisson``) at step *m*."""
        return np.where((self.start <= m) & (m < self.stop), self.rate, 0)

    def changes(self, first, last):
        """Return the sorted steps in (first, last) where some Poisson rate changes."""
        points = np.concatenate([self.start, self.stop])
        return sorted({int(p) for p in points if first < p < last})

    def realised_hz(self):
        """Return the rate (Hz) each Poisson input fires at: rate / 65536 per step."""
        return self.rate / (spec.RATE_MAX + 1) / self.dt * 1000.0


def segments(first, last, cuts, chunk):
    """Return [(a, b)] covering first … last−1, cut at *cuts* and every *chunk* steps."""
    points = sorted({first, last, *(c for c in cuts if first < c < last),
                     *range(first - first % chunk + chunk, last, chunk)})
    return list(zip(points[:-1], points[1:]))

