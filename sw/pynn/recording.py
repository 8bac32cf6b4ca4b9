"""PyNN's Recorder over the engine's history: spikes of every cell, v of neurons (mV)."""

import numpy as np
from pyNN import recording

from . import simulator
from .build import NEURON_TYPES

__all__ = ["Recorder"]


class Recorder(recording.Recorder):
    """Recorded spikes and v of one population, as neo data (pyNN.recording.Recorder)."""

    _simulator = simulator

    def _record(self, variable, new_ids, sampling_interval=None):
        dt = self._simulator.state.dt
        if sampling_interval is not None:
            ratio = sampling_interval / dt
            if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
                raise ValueError(f"sampling_interval = {sampling_interval} ms must be a whole "
                                 f"number of steps of {dt} ms")
            self.sampling_interval = sampling_interval

    def _is_neurons(self):
        return type(self.population.celltype).__name__ in NEURON_TYPES

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
        return engine.mapping.v_to_mV(values, neurons)[::every], None

    def _local_count(self, variable, filter_ids=None):
        ids = sorted(self.filter_recorded(variable, filter_ids))
        id_array, _ = self._get_spiketimes(ids)
        counts = dict.fromkeys((int(i) for i in ids), 0)
        for i, n in zip(*np.unique(id_array, return_counts=True)):
            counts[int(i)] = int(n)
        return counts

    def _clear_simulator(self):
        """Nothing to do: the history is kept, and read from the recording's start time."""

    def _reset(self):
        pass
