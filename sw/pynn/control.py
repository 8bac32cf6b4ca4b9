"""setup(), run(), reset(), end() and the state queries of spikecore.pynn."""

from pyNN import common
from pyNN.common.control import DEFAULT_MAX_DELAY, DEFAULT_MIN_DELAY, DEFAULT_TIMESTEP
from pyNN.recording import get_io

from ..backends import connect
from . import simulator
from .engine import Engine

__all__ = ["setup", "end", "run", "run_until", "run_for", "reset", "initialize",
           "get_current_time", "get_time_step", "get_min_delay", "get_max_delay",
           "num_processes", "rank", "quantization_report"]


def setup(timestep=DEFAULT_TIMESTEP, min_delay=DEFAULT_MIN_DELAY, max_delay=DEFAULT_MAX_DELAY,
          *, url="model://", rng_seed=0, **connect_options):
    """Start a simulation on the core at *url*; forget any earlier network.

    Parameters
    ----------
    timestep : float
        The step, ms: spikecore's step; positive.
    min_delay, max_delay : "auto" or float
        Every delay is one step: "auto" or *timestep*; other values are refused.
    url : str
        ``spikecore.connect``'s: "model://", "sim://", a board.
    rng_seed : int
        Seeds the input generators (SpikeSourcePoisson).
    **connect_options
        Passed to ``spikecore.connect`` (``n_inputs``, ``n_neurons`` for "sim://", …).
    """
    if not timestep > 0:
        raise ValueError(f"timestep = {timestep} ms: it must be a positive number of ms")
    common.setup(timestep, min_delay, max_delay=max_delay)
    for name, delay in (("min_delay", min_delay), ("max_delay", max_delay)):
        if delay != "auto" and abs(delay - timestep) > 1e-9 * timestep:
            raise ValueError(f"{name} = {delay} ms: spikecore.pynn's delays are exactly one "
                             f"step, so {name} must be 'auto' or the timestep ({timestep} ms)")
    state = simulator.state
    _close()
    state.clear()
    state.dt = timestep
    state.min_delay = timestep
    state.max_delay = timestep
    state.engine = Engine(connect(url, **connect_options), timestep, rng_seed)
    return rank()


def _close():
    state = simulator.state
    if state.engine is not None:
        state.engine.core.close()
        state.engine = None


def end(compatible_output=True):
    """Write the files asked for by record(..., to_file=...), and close the core."""
    state = simulator.state
    for population, variables, filename in state.write_on_end:
        population.write_data(get_io(filename), variables)
    state.write_on_end = []
    _close()


def quantization_report():
    """Return the ``spikecore.units.Report`` of the network as built for the core.

    Builds (and loads) the network if it has not been yet. Each parameter's target (PyNN's
    value), its realised value and the largest relative error, then notes: w_exp, scales,
    and the approximations (initial v, spike times off the grid, STDP's integers).
    """
    state = simulator.state
    if state.engine is None:
        raise RuntimeError("call spikecore.pynn.setup() (and create the network) before "
                           "quantization_report()")
    state.engine.prepare(state)
    return state.engine.mapping.report


run, run_until = common.build_run(simulator)
_WHOLE_STEPS = """

    spikecore.pynn runs whole steps: a time that is not a whole number of steps from the
    current time is rounded to the nearest step, with a warning saying so (``run(0.4)`` at
    ``timestep=1.0`` runs no step)."""
run.__doc__ += _WHOLE_STEPS
run_until.__doc__ += _WHOLE_STEPS
run_for = run
reset = common.build_reset(simulator)
initialize = common.initialize

get_current_time, get_time_step, get_min_delay, get_max_delay, num_processes, rank = \
    common.build_state_queries(simulator)
