"""Per-block cocotb tests: the neuron datapath and the synapse update against the model."""

import json
import random

import pytest

from hdl import run_cocotb
from spikecore.hw.neuron import NeuronUpdate
from spikecore.hw.stdp import SynapseUpdate

pytestmark = pytest.mark.cocotb


@pytest.mark.parametrize("block,option", [("neuron", 6), ("neuron", 2), ("synapse", False),
                                          ("synapse", True)])
def test_block(block, option):
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    if block == "neuron":
        component = NeuronUpdate(acc_width=20, latency=option)
        delays = component.delays
    else:
        component, delays = SynapseUpdate(pipelined=option), {}
    latency = component.latency
    run_cocotb(component, "cocotb.tb_blocks", name=f"block_{block}{latency}", testcase=block,
               extra_env={"TB_PARAMS": json.dumps({"block": block, "seed": seed,
                                                   "count": 1000, "latency": latency,
                                                   "delays": delays})})
