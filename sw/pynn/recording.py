"""PyNN's Recorder over the engine's history: spikes of every cell, v of neurons (mV).

The engine keeps every spike; a recorder returns those from its recording's start time on,
except in the pauses between ``record(None)`` and the next ``record(...)`` of a variable.
"""

import numpy as np
from pyNN import recording

from . import simulator
from .standardmodels import cell_kind

__all__ = ["Recorder"]


class Recorder(recording.Recorder):
    """Recorded spikes and v of one population, as neo data (pyNN.recording.Recorder)."""

    _simulator = simulator

    def _pauses(self):
        """Return {variable name: [[first step, step after or None], ...]}: not recorded."""
        if not hasattr(self, "_paused"):
            self._paused = {}
        return self._paused

    def _record(self, variable, new_ids, sampling_interval=None):
        pauses = self._pauses().get(variable.name)
        if pauses and pauses[-1][1] is None:
            pauses[-1][1] = self._simulator.state.steps
        dt = self._simulator.state.dt
        if sampling_interval is not None:
            ratio = sampling_interval / dt
            if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
                raise ValueError(f"sampling_interval = {sampling_interval} ms must be a whole "
                                 f"number of steps of {dt} ms")
            self.sampling_interval = sampling_interval

    def _is_neurons(self):
        return cell_kind(self.population.celltype) == "neuron"

    def _engine(self):
        return self._simulator.state.engine

    def _first_step(self):
        return int(round(float(self._recording_start_time.rescale("ms").magnitude)
                         / self._simulator.state.dt))

    def v_neurons(self):
        """Return the neuron indices whose v this recorder records."""
        ids = [id for var, ids in self.recorded.items() if var.name == "v" for id in ids]
        engine = self._engine()
        if not ids or engine.mapping is None:
            return []
        return engine.mapping.layout.index(np.array(ids, dtype=np.int64)).tolist()

    def _paused_at(self, name, steps):
        """Return whether recording of *name* was paused at each of *steps*."""
        steps = np.asarray(steps)
        out = np.zeros(steps.shape, bool)
        for first, after in self._pauses().get(name, []):
            out |= (steps >= first) & (steps < (self._simulator.state.steps
                                                if after is None else after))
        return out

    def _get_spiketimes(self, ids, clear=False):
        engine = self._engine()
        state = self._simulator.state
        ids = np.asarray(sorted(ids), dtype=np.int64)
        if engine.mapping is None or not ids.size:
            return np.zeros(0, np.int64), np.zeros(0)
        layout = engine.mapping.layout
        steps, index = engine.history.spikes("neuron" if self._is_neurons() else "input")
        wanted = layout.index(ids)
        keep = np.isin(index, wanted) & (steps >= self._first_step()) & (steps < state.steps)
        keep &= ~self._paused_at("spikes", steps)
        id_of = dict(zip(wanted.tolist(), ids.tolist()))
        id_array = np.array([id_of[i] for i in index[keep]], dtype=np.int64)
        return id_array, steps[keep] * state.dt

    def _get_all_signals(self, variable, ids, clear=False):
        engine = self._engine()
        state = self._simulator.state
        neurons = engine.mapping.layout.index(np.asarray(ids, dtype=np.int64))
        first = self._first_step()
        every = int(round(self.sampling_interval / state.dt))
        values = np.column_stack([engine.history.v_samples(i, first, state.steps)
                                  for i in neurons]) if len(neurons) else \
            np.zeros((state.steps - first + 1, 0))
        # Sample n is v at n·dt: those strictly inside a pause are not recorded.
        n = np.arange(first, state.steps + 1)
        values[self._paused_at(variable.name, n - 1) & self._paused_at(variable.name, n)] = np.nan
        return engine.mapping.v_to_mV(values, neurons)[::every], None

    def _local_count(self, variable, filter_ids=None):
        ids = sorted(self.filter_recorded(variable, filter_ids))
        id_array, _ = self._get_spiketimes(ids)
        counts = dict.fromkeys((int(i) for i in ids), 0)
        for i, n in zip(*np.unique(id_array, return_counts=True)):
            counts[int(i)] = int(n)
        return counts

    def store_to_cache(self, annotations=None):
        """Keep the segment (``reset()``); a pause still open goes on in the next one."""
        super().store_to_cache(annotations)
        self._paused = {name: [[0, None]] for name, pauses in self._pauses().items()
                        if pauses and pauses[-1][1] is None}

    def _clear_simulator(self):
        """Nothing to do: the history is kept, and read from the recording's start time."""

    def _reset(self):
        """Pause every variable recorded (``record(None)``) from now until recorded again."""
        now = self._simulator.state.steps
        for variable, ids in self.recorded.items():
            pauses = self._pauses().setdefault(variable.name, [])
            if ids and not (pauses and pauses[-1][1] is None):
                pauses.append([now, None])
