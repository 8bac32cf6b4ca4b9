"""A PyNN 0.13 backend: ``import spikecore.pynn as sim`` runs PyNN scripts on a spikecore core.

>>> import spikecore.pynn as sim
>>> sim.setup(timestep=1.0)                     # url="model://", "sim://", a board
>>> inp = sim.Population(10, sim.SpikeSourcePoisson(rate=20.0))
>>> out = sim.Population(4, sim.IF_curr_exp(tau_m=20.0))
>>> prj = sim.Projection(inp, out, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.5))
>>> out.record(["spikes", "v"])
>>> sim.run(1000.0)
>>> block = out.get_data()                      # neo, like every PyNN backend
>>> print(sim.quantization_report())
>>> sim.end()

All populations share one all-to-all core: IF_curr_exp cells are its neurons, spike sources
its inputs, numbered in the order the populations were created. The network is built at the
first ``run()`` (and loaded again after ``reset()``); through ``spikecore.units.Physical``,
so its parameters are those of docs/interop.md's PyNN column, in PyNN's units (mV, ms, nF,
nA, Hz). What the integers realise is ``quantization_report()``; building warns when an
error passes 1 % or an approximation below applies.

Time. Step n covers [n·dt, (n+1)·dt]. A neuron's spike in step n is at n·dt and reaches its
targets one step later (spikecore's recurrence); a spike source's spike at m·dt is sent to
the core in step m + 1 (shifted on the host). So every projection has a delay of exactly
one step (``min_delay`` is the timestep). Sample n of v is V at n·dt, after step n − 1
(sample 0: the initial value), in mV. tau_refrac is k = round(tau_refrac/dt) steps counted
from the spike's own step: v is held at v_reset for the k − 1 steps after it (so 0 and one
step are the same). That is PyNN's reference backend, pyNN.brian2; NEST counts one step
more (it holds v for k steps after the spike's step), and we follow pyNN.brian2.

Changes. Between runs, source parameters (rates, spike times) and parameters or weights
that keep the network's quantization apply in place: the state and learned weights carry
on; weights the script set are written whatever the device holds. One that changes it (the
network's size, w_exp, a neuron's scale or v_reset, plasticity, learning parameters) is
refused until ``reset()``, which loads the network again (PyNN's reset: initial state and
weights). A change that brings a new approximation warns at the next run. A run to a time
off the grid runs to the nearest step, with a warning.

Spike sources. SpikeSourceArray: each time is rounded to the nearest step; times in one step
are one spike (sent and recorded once).
SpikeSourcePoisson: a Bernoulli trial per step with probability rate·dt, on the inputs'
generators (``Core.set_rates``, ``round(rate·dt·65536)`` per 65536); a device without them
has the driver run the same generators on the host (the same spikes, bit for bit). Their
spikes are recorded by computing the same generators again on the host.

Recording. ``spikes`` of every population, ``v`` of IF_curr_exp cells: up to 8 neurons in
all through ``Core.run``'s probes; more are read with ``read_state`` after every step (one
``run`` per step: slow on a board). ``record(None)`` pauses a population's recording until
it records again. ``Projection.get("weight", ...)`` reads the weights from the device
whenever a network is loaded (learned weights, in nA), except weights the script set and has
not run yet (returned as set).

STDP. ``STDPMechanism(SpikePairRule, AdditiveWeightDependence, dendritic_delay_fraction=0)``
is spikecore's trace STDP; see ``spikecore.pynn.stdp`` for the mapping.

Approximations (reported, never silent):

- every parameter rounds to the core's integers (weights to int8, one w_exp, a scale per
  neuron; decays to 12 bits; STDP's traces and rates to 8 bits);
- a neuron starts at v = v_reset whatever ``initialize(v=...)`` asks (the core's state
  starts at zero); spike times off the dt grid are rounded, and so is tau_refrac (PyNN's
  default 0.1 ms is 0 steps at dt = 1 ms), and a Poisson source's start and start +
  duration (to the first step at or after them); times in one step are one spike;
- STDP's window is 8-bit traces that decay by flooring, fitted to PyNN's exponentials over
  lags up to 2·tau (the report gives the worst error: 3–5 % at tau = 20 steps, more at many
  steps); the traces start near 255 and saturate there, so a second spike within the window
  adds less than PyNN's pair rule; weight changes are integers (rounded toward zero); a pre
  arrival and a post spike in the same step count as potentiation.

Refused, with an error naming the population or projection:

- more inputs or neurons than the device has (the error gives both counts);
- cell types other than IF_curr_exp, SpikeSourceArray, SpikeSourcePoisson (the core's
  neurons are current-based LIF; another module's is a TypeError at ``Population``), and
  current sources (a constant current is i_offset);
- a delay other than one step, and ``min_delay`` or ``max_delay`` other than "auto" or the
  timestep (the core has no delay lines); a timestep ≤ 0;
- cm or tau_m ≤ 0, tau_syn_E, tau_syn_I or tau_refrac < 0, a parameter that is not a
  number; negative spike times;
- tau_syn_E ≠ tau_syn_I on a neuron that receives both receptor types (one synaptic current);
- tau_refrac over 16 steps (the spike's step and a 4-bit counter of at most 15 more);
  v_thresh below v_reset (the core's threshold is above its reset);
- Poisson rates with rate·dt ≥ 1 (not a probability per step);
- STDP other than SpikePairRule + AdditiveWeightDependence, with dendritic_delay_fraction
  ≠ 0, on inhibitory synapses, with parameters that differ between connections or
  projections (spikecore's learning settings are global), on plastic neurons of different
  weight scales, and plastic connections that are not a product of sources × neurons (the
  core's plasticity is per source and per neuron) or that share a pair with another one;
- w_max·A_plus or w_max·A_minus below 1/256 or above 254 integer weight units;
- after a run, a change that alters the quantization (see "Changes": the core's state
  cannot be written, so reloading would lose it).
"""

from pyNN import errors, random, space  # noqa: F401
from pyNN.connectors import (AllToAllConnector, OneToOneConnector,  # noqa: F401
                             FixedProbabilityConnector, FixedNumberPreConnector,
                             FixedNumberPostConnector, FromListConnector, FromFileConnector,
                             ArrayConnector, IndexBasedProbabilityConnector,
                             DistanceDependentProbabilityConnector, CloneConnector)
from pyNN.network import Network  # noqa: F401
from pyNN.random import NumpyRNG, RandomDistribution  # noqa: F401
from pyNN.recording import get_io  # noqa: F401
from pyNN.space import Space  # noqa: F401
from pyNN.standardmodels import StandardCellType

from .control import (end, get_current_time, get_max_delay, get_min_delay,  # noqa: F401
                      get_time_step, initialize, num_processes, quantization_report, rank,
                      reset, run, run_for, run_until, setup)
from .populations import Assembly, Population, PopulationView  # noqa: F401
from .procedural_api import connect, create, record, record_v  # noqa: F401
from .projections import Projection  # noqa: F401
from .standardmodels import (AdditiveWeightDependence, IF_curr_exp,  # noqa: F401
                             SpikePairRule, SpikeSourceArray, SpikeSourcePoisson,
                             StaticSynapse, STDPMechanism)


def list_standard_models():
    """Return the names of the standard cell types spikecore.pynn has."""
    return [name for name, obj in globals().items() if isinstance(obj, type)
            and issubclass(obj, StandardCellType) and obj is not StandardCellType]


def __getattr__(name):
    from pyNN.standardmodels import cells, electrodes, synapses
    for module in (cells, synapses, electrodes):
        if hasattr(module, name):
            raise AttributeError(
                f"spikecore.pynn has no {name}: a spikecore core runs current-based LIF "
                f"neurons (IF_curr_exp) fed by SpikeSourceArray and SpikeSourcePoisson, with "
                f"StaticSynapse or STDPMechanism(SpikePairRule, AdditiveWeightDependence)")
    raise AttributeError(f"module 'spikecore.pynn' has no attribute {name!r}")
