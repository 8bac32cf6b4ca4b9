"""Shared by the virtual-board tests: the geometry they build, and a skip until it exists."""

import importlib.util

import pytest

#: Small enough to verilate quickly, big enough for every code path (several lanes' worth of
#: neurons, inputs and recurrent sources both).
N_INPUTS = 8
N_NEURONS = 16


def _have(module):
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


HAVE_TOP = _have("spikecore.hw.top") and _have("spikecore.driver")

needs_top = pytest.mark.skipif(not HAVE_TOP, reason="needs spikecore.hw.top and "
                               "spikecore.driver")


@pytest.fixture(scope="session")
def sim_exe():
    """Build (once per session, cached across sessions) the virtual board of N_INPUTS+N_NEURONS."""
    from spikecore.sim import build
    return build(N_INPUTS, N_NEURONS)
