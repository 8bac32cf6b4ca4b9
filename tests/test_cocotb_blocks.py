"""Per-block cocotb tests: the neuron datapath and the synapse update against the model."""

import json
import random

import pytest

from hdl import run_cocotb
from spikecore.hw.neuron import NeuronUpdate
from spikecore.hw.stdp import SynapseUpdate

pytestmark = pytest.mark.cocotb


@pytest.mark.parametrize("block", ["neuron", "synapse"])
def test_block(block):
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    component = NeuronUpdate(acc_width=20) if block == "neuron" else SynapseUpdate()
    testcase = block
    run_cocotb(component, "cocotb.tb_blocks", name=f"block_{block}", testcase=testcase,
               extra_env={"TB_PARAMS": json.dumps({"block": block, "seed": seed,
                                                   "count": 3000})})
