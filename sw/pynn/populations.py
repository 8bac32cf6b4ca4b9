"""Population, PopulationView and Assembly: PyNN's, with parameters held on the host.

As in pyNN.mock, each Population keeps its (PyNN-named) parameters as arrays; the network
is built from them at the next run. A change after a run is noted for the engine.
"""

import numpy as np
from pyNN import common, errors
from pyNN.parameters import ParameterSpace, simplify

from . import simulator
from .recording import Recorder
from .standardmodels import cell_kind

__all__ = ["Population", "PopulationView", "Assembly"]


class Assembly(common.Assembly):
    _simulator = simulator


class _Parameters:
    """Reading and writing the parameters of a population or of a view of one."""

    def _get_parameters(self, *names):
        if any(name in self.celltype.computed_parameters() for name in names):
            names = self.celltype.get_native_names()
        else:
            names = self.celltype.get_native_names(*names)
        return self.celltype.reverse_translate(self._get_native_parameters(*names))

    def _set_initial_value_array(self, variable, initial_values):
        simulator.state.changed()

    def _get_view(self, selector, label=None):
        return PopulationView(self, selector, label)


class PopulationView(_Parameters, common.PopulationView):
    __doc__ = common.PopulationView.__doc__
    _assembly_class = Assembly
    _simulator = simulator

    def _get_native_parameters(self, *names):
        values = {}
        for name in names:
            value = self.parent._parameters[name]
            values[name] = simplify(value[self.mask] if isinstance(value, np.ndarray)
                                    else value)
        return ParameterSpace(values, shape=(self.size,))

    def _set_parameters(self, parameter_space):
        for name, value in parameter_space.items():
            try:
                self.parent._parameters[name][self.mask] = value.evaluate(simplify=True)
            except ValueError:
                raise errors.InvalidParameterValueError(
                    f"{name} should not be of type {type(value)}")
        simulator.state.changed()


class Population(_Parameters, common.Population):
    __doc__ = common.Population.__doc__
    _simulator = simulator
    _recorder_class = Recorder
    _assembly_class = Assembly

    def _create_cells(self):
        cell_kind(self.celltype, self.label)          # refuse other backends' cell types
        state = simulator.state
        first = state.id_counter
        self.all_cells = np.array([simulator.ID(i) for i in range(first, first + self.size)],
                                  dtype=simulator.ID)
        self._mask_local = np.ones(self.size, dtype=bool)
        space = self.celltype.native_parameters
        space.shape = (self.size,)
        space.evaluate(mask=self._mask_local, simplify=False)
        self._parameters = space.as_dict()
        for id in self.all_cells:
            id.parent = self
        state.id_counter += self.size
        state.populations.append(self)
        state.changed()

    def _get_native_parameters(self, *names):
        return ParameterSpace({name: simplify(self._parameters[name]) for name in names},
                              shape=(self.local_size,))

    def _set_parameters(self, parameter_space):
        parameter_space.evaluate(simplify=False, mask=self._mask_local)
        for name, value in parameter_space.items():
            self._parameters[name] = value
        simulator.state.changed()

    def inject(self, current_source):
        raise NotImplementedError("spikecore.pynn has no current sources: a constant current "
                                  "is IF_curr_exp's i_offset")
