"""Whole-core cocotb tests: ``spikecore.hw.core.Core`` on Verilator against the golden model."""

import json

import pytest

from hdl import run_cocotb
from spikecore.hw.core import Core

pytestmark = pytest.mark.cocotb

#: (n_inputs, n_neurons, lanes, weight_ports, neuron_latency, steps per seed, seeds, steps
#: with random backpressure)
GEOMETRIES = [
    (4, 8, 1, 2, 6, 300, [1, 2, 5], 40),
    (8, 16, 4, 2, 6, 600, [11, 12, 13, 14], 40),
    (5, 8, 8, 2, 6, 300, [21, 22], 20),     # sources padded to a multiple of lanes; one group
    (6, 4, 2, 2, 6, 300, [31, 32], 20),
    (8, 16, 4, 1, 6, 300, [41, 43], 20),    # single-port weight banks (iCE40 SPRAM)
    (6, 8, 1, 1, 2, 300, [51, 52], 20),     # the iCEBreaker's: single-port, 2-stage neurons
]


@pytest.mark.parametrize("n_inputs,n_neurons,lanes,ports,latency,steps,seeds,stall", GEOMETRIES)
def test_core_random(n_inputs, n_neurons, lanes, ports, latency, steps, seeds, stall):
    params = {"n_inputs": n_inputs, "n_neurons": n_neurons, "steps": steps, "seeds": seeds,
              "stall_steps": stall}
    print(f"seeds {seeds}")
    # The iCEBreaker's core (the 2-stage neuron unit) also reads commands in place.
    core = Core(n_inputs, n_neurons, lanes, weight_ports=ports, neuron_latency=latency,
                register_commands=latency == 6)
    run_cocotb(core, "cocotb.tb_core", name=f"core_{n_inputs}x{n_neurons}_l{lanes}_p{ports}"
               + ("" if latency == 6 else f"_n{latency}"),
               extra_env={"TB_PARAMS": json.dumps(params)})
