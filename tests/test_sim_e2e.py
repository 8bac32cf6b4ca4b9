"""The virtual board's own behaviour: info and close, pacing, a board's gateware end to end.

The bit-exact cases every backend shares (sim:// among them) are in test_conformance.py.
"""

import random

import numpy as np
import pytest

import spikecore
from randnet import random_inputs, random_network
from simboard import N_INPUTS, N_NEURONS, needs_top, sim_exe  # noqa: F401 (fixture)

pytestmark = needs_top

STATE_FIELDS = ("u", "v", "ref", "x", "y", "spikes")


def assert_same_spikes(got, want, offset=0):
    assert got.shape == want.shape
    bad = np.flatnonzero(np.any(got != want, axis=1))
    assert bad.size == 0, (
        f"spikes differ first at step {offset + bad[0]}: sim {np.flatnonzero(got[bad[0]])}, "
        f"model {np.flatnonzero(want[bad[0]])}")


def assert_same_state(sim, model):
    assert np.array_equal(sim.read_weights(), model.read_weights()), "weights differ"
    got, want = sim.read_state(), model.read_state()
    for name in STATE_FIELDS:
        assert np.array_equal(getattr(got, name), getattr(want, name)), \
            f"state.{name} differs: sim {getattr(got, name)}, model {getattr(want, name)}"


def test_info_and_close(sim_exe):
    core = spikecore.connect("sim://", n_inputs=N_INPUTS, n_neurons=N_NEURONS)
    board = core.link.transport.board
    info = core.info()
    assert info["backend"] == "sim"
    assert info["n_inputs"] == N_INPUTS and info["n_neurons"] == N_NEURONS
    core.close()
    assert not board.alive


def test_sim_needs_geometry():
    with pytest.raises(ValueError, match="n_inputs"):
        spikecore.connect("sim://")


def test_long_steps_are_not_slowed_to_the_idle_pace(sim_exe):
    # While the core works through a RUN of many steps the UART pins are quiet. The harness
    # must not take that for an idle board (sleeping --idle-poll-ms between chunks): a frame
    # owed its reply keeps it at full speed. With a 64-cycle idle threshold and 200 ms naps,
    # the old harness needed minutes for this run and the driver timed out.
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    net = random_network(N_INPUTS, N_NEURONS, seed, learning=True)
    inputs = random_inputs(400, N_INPUTS, seed, p=0.3)
    with spikecore.sim.VirtualBoard(sim_exe, extra_args=["--idle-cycles", "64",
                                                         "--idle-poll-ms", "200"]) as board, \
            spikecore.connect(board.url, timeout=3.0) as core, \
            spikecore.connect("model://") as model:
        core.load(net)
        model.load(net)
        assert_same_spikes(core.run(inputs), model.run(inputs))
        assert core.link.stats.resent == 0


def test_a_boards_gateware_end_to_end():
    # The iCEBreaker's gateware (single-port weight banks, the 2-stage neuron unit, 256-byte
    # payloads and a 1,024-byte window) at a small geometry: the driver splits loads, reads
    # and runs by the payload IDENTIFY reports (a RUN here carries at most 42 steps).
    from spikecore.boards import get_board
    n_in, n = 24, 40
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    # Of model v2 the iCEBreaker has x_tar only (docs/boards.md).
    net = random_network(n_in, n, seed, learning=True, v2=False)
    net.learning.x_tar = 40
    inputs = random_inputs(150, n_in, seed, p=0.3)
    with spikecore.connect("sim://", board="icebreaker", n_inputs=n_in, n_neurons=n) as sim, \
            spikecore.connect("model://") as model:
        info = sim.info()
        options = get_board("icebreaker").top_options
        assert (info["lanes"], info["max_payload"], info["rx_window"], info["features"]) == (
            1, options["max_payload"], options["rx_window"], options["features"])
        sim.load(net)
        model.load(net)
        assert_same_state(sim, model)
        assert_same_spikes(sim.run(inputs), model.run(inputs))
        assert_same_state(sim, model)
