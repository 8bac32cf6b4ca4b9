"""The simulator state of ``spikecore.pynn``: the open core, the clock and the network.

PyNN backends keep one module-level ``state`` (pyNN.mock, pyNN.nest); this is spikecore's.
"""

import warnings

from pyNN import common

name = "spikecore"


class ID(int, common.IDMixin):
    """A cell's PyNN identifier: an int, unique within a ``setup()``."""

    def __init__(self, n):
        int.__init__(n)
        common.IDMixin.__init__(self)


class State(common.control.BaseState):
    """The state of the simulation: populations, projections, the core and the time.

    Members
    -------
    dt : float
        The step, ms.
    steps : int
        Steps run since the last ``reset()`` (t = steps·dt).
    engine : spikecore.pynn.engine.Engine or None
        The core and what runs on it (``setup()`` opens it).
    populations, projections : list
        In the order the script created them.
    """

    def __init__(self):
        super().__init__()
        self.mpi_rank, self.num_processes = 0, 1
        self.dt = 0.1
        self.min_delay = self.max_delay = self.dt
        self.engine = None
        self.clear()

    @property
    def t(self):
        return self.steps * self.dt

    def clear(self):
        """Forget the network (``setup()``)."""
        self.populations, self.projections = [], []
        self.recorders = set()
        self.write_on_end = []
        self.id_counter = 0
        self.segment_counter = -1
        self.reset()

    def reset(self):
        """Go back to t = 0 with the initial state and weights: a new segment."""
        self.running = False
        self.t_start = 0
        self.steps = 0
        self.segment_counter += 1
        if self.engine is not None:
            self.engine.reset()

    def changed(self):
        """Note that the script changed the network (parameters, weights, structure)."""
        if self.engine is not None:
            self.engine.changed()

    def run(self, simtime):
        self.run_until(self.t + simtime)

    def run_until(self, tstop):
        """Run whole steps up to *tstop* (ms): to the nearest step, warning if it is off."""
        exact = (tstop - self.t) / self.dt
        steps = int(round(exact))
        if abs(exact - steps) > 1e-6:
            warnings.warn(f"spikecore.pynn: running to {tstop:g} ms is {exact:g} steps of "
                          f"{self.dt:g} ms from t = {self.t:g} ms; spikecore runs whole steps, "
                          f"so {steps} step(s) run, to t = {self.t + steps * self.dt:g} ms",
                          stacklevel=4)
        if self.engine is None:
            raise RuntimeError("call spikecore.pynn.setup() before run()")
        self.engine.advance(self, steps)
        self.steps += steps
        self.running = True


state = State()
