"""The standard cell and synapse types spikecore.pynn has, with PyNN's own parameter names.

Parameters keep PyNN's names and units (mV, ms, nF, nA, Hz); ``spikecore.pynn.build``
converts them when it builds the network.
"""

from pyNN.standardmodels import build_translations, cells, synapses

from .simulator import state

__all__ = ["IF_curr_exp", "SpikeSourcePoisson", "SpikeSourceArray", "StaticSynapse",
           "STDPMechanism", "AdditiveWeightDependence", "SpikePairRule", "cell_kind"]


def _same(*names):
    return build_translations(*((name, name) for name in names))


class IF_curr_exp(cells.IF_curr_exp):
    __doc__ = cells.IF_curr_exp.__doc__
    translations = _same(*cells.IF_curr_exp.default_parameters)


class SpikeSourcePoisson(cells.SpikeSourcePoisson):
    __doc__ = cells.SpikeSourcePoisson.__doc__
    translations = _same("rate", "start", "duration")


class SpikeSourceArray(cells.SpikeSourceArray):
    __doc__ = cells.SpikeSourceArray.__doc__
    translations = _same("spike_times")


def cell_kind(celltype, label=None):
    """Return what a cell of *celltype* is in the core: "neuron", "array" or "poisson".

    The one place that decides it. Raises TypeError, naming the population *label*, for a
    cell type that is not spikecore.pynn's (another backend's, or pyNN.standardmodels' own).
    """
    for cls, kind in ((IF_curr_exp, "neuron"), (SpikeSourceArray, "array"),
                      (SpikeSourcePoisson, "poisson")):
        if isinstance(celltype, cls):
            return kind
    kind = type(celltype)
    where = f"population {label!r}: " if label is not None else ""
    raise TypeError(f"{where}{kind.__module__}.{kind.__name__} is not a spikecore.pynn cell type: "
                    f"use spikecore.pynn's IF_curr_exp, SpikeSourceArray or SpikeSourcePoisson "
                    f"(a spikecore core runs current-based LIF neurons fed by spike sources)")


class _OneStepDelay:
    """Synapses whose delay is one step (spikecore.pynn's only delay)."""

    def _get_minimum_delay(self):
        return state.dt


class StaticSynapse(_OneStepDelay, synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__
    translations = _same("weight", "delay")


class STDPMechanism(_OneStepDelay, synapses.STDPMechanism):
    __doc__ = synapses.STDPMechanism.__doc__
    base_translations = _same("weight", "delay", "dendritic_delay_fraction")

    def __init__(self, timing_dependence=None, weight_dependence=None,
                 voltage_dependence=None, dendritic_delay_fraction=1.0,
                 weight=0.0, delay=None):
        if dendritic_delay_fraction != 0:
            raise ValueError("spikecore.pynn pairs spikes where a presynaptic spike arrives "
                             "(after its delay) and where the neuron spikes: all delays are "
                             "axonal. Set dendritic_delay_fraction=0 (as pyNN.brian2 needs).")
        if not isinstance(timing_dependence, SpikePairRule) or \
                not isinstance(weight_dependence, AdditiveWeightDependence):
            raise ValueError("spikecore.pynn's STDP is SpikePairRule with "
                             "AdditiveWeightDependence (spikecore's trace STDP), not "
                             f"{type(timing_dependence).__name__} with "
                             f"{type(weight_dependence).__name__}")
        if voltage_dependence is not None:
            raise ValueError("spikecore.pynn's STDP has no voltage dependence")
        super().__init__(timing_dependence, weight_dependence, voltage_dependence,
                         dendritic_delay_fraction, weight, delay)


class AdditiveWeightDependence(synapses.AdditiveWeightDependence):
    __doc__ = synapses.AdditiveWeightDependence.__doc__
    translations = _same("w_max", "w_min")


class SpikePairRule(synapses.SpikePairRule):
    __doc__ = synapses.SpikePairRule.__doc__
    translations = _same("A_plus", "A_minus", "tau_plus", "tau_minus")
