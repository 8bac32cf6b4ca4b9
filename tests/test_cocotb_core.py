"""Whole-core cocotb tests: ``spikecore.hw.core.Core`` on Verilator against the golden model."""

import json

import pytest

from hdl import run_cocotb
from spikecore.hw.core import Core
from spikecore.spec import Feature

pytestmark = pytest.mark.cocotb

ALL, NONE = Feature.all(), Feature(0)

#: (n_inputs, n_neurons, lanes, weight_ports, neuron_latency, features, steps per seed, seeds,
#: steps with random backpressure). Random networks use model v2's fields with every feature,
#: and with it the input generators (rates and states written through INPUT) and the counts.
#: make test runs three (each geometry is a Verilator build of its own, most of its time); the
#: others run in make test-all.
GEOMETRIES = [
    pytest.param(4, 8, 1, 2, 6, ALL, 300, [1, 2, 5], 40, marks=pytest.mark.slow),
    (8, 16, 4, 2, 6, ALL, 300, [11, 12, 13, 14], 40),
    # sources padded to a multiple of lanes
    pytest.param(5, 8, 8, 2, 6, ALL, 300, [21, 22], 20, marks=pytest.mark.slow),
    pytest.param(6, 4, 2, 2, 6, ALL, 300, [31, 32], 20, marks=pytest.mark.slow),
    # single-port weight banks (iCE40 SPRAM)
    pytest.param(8, 16, 4, 1, 6, ALL, 300, [41, 43], 20, marks=pytest.mark.slow),
    (6, 8, 1, 1, 2, ALL, 300, [51, 52], 20),    # the iCEBreaker's: single-port, 2-stage neurons
    (6, 8, 2, 2, 6, NONE, 300, [61, 62], 20),   # model v1 only (a device built without v2)
    pytest.param(6, 8, 1, 1, 2, NONE, 300, [71, 72], 20, marks=pytest.mark.slow),
]


def _id(geometry):
    g = geometry.values if hasattr(geometry, "values") else geometry
    return f"{g[0]}x{g[1]}-l{g[2]}-p{g[3]}-n{g[4]}-{'v2' if g[5] else 'v1'}"


@pytest.mark.parametrize("n_inputs,n_neurons,lanes,ports,latency,features,steps,seeds,stall",
                         GEOMETRIES, ids=[_id(g) for g in GEOMETRIES])
def test_core_random(n_inputs, n_neurons, lanes, ports, latency, features, steps, seeds, stall):
    params = {"n_inputs": n_inputs, "n_neurons": n_neurons, "steps": steps, "seeds": seeds,
              "stall_steps": stall, "features": features.value}
    print(f"seeds {seeds}")
    # The iCEBreaker's core (the 2-stage neuron unit) also reads commands in place.
    core = Core(n_inputs, n_neurons, lanes, weight_ports=ports, neuron_latency=latency,
                register_commands=latency == 6, features=features)
    run_cocotb(core, "cocotb.tb_core", name=f"core_{n_inputs}x{n_neurons}_l{lanes}_p{ports}"
               + ("" if latency == 6 else f"_n{latency}") + ("" if features else "_v1"),
               extra_env={"TB_PARAMS": json.dumps(params)})
