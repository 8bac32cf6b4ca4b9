"""Fast tests of ``spikecore.hw.core.Core`` that need no simulator: arguments and interface."""

import pytest
from amaranth.back import verilog

from spikecore.hw.core import Core
from spikecore.hw.interface import CoreSignature
from spikecore.hw.neuron import NeuronUpdate
from spikecore.hw.stdp import SynapseUpdate


@pytest.mark.parametrize("name,args,error,message", [
    ("n_inputs", (0, 8, 1), ValueError, "n_inputs must be a positive integer, not 0"),
    ("n_neurons", (4, -1, 1), ValueError, "n_neurons must be a positive integer, not -1"),
    ("n_inputs", (4.0, 8, 1), TypeError, "n_inputs must be a positive integer, not 4.0"),
    ("lanes", (4, 8, True), TypeError, "lanes must be a positive integer, not True"),
    ("lanes", (4, 8, 0), ValueError, "lanes must be a positive integer, not 0"),
    ("lanes", (4, 8, 3), ValueError, "lanes must be 1 or a power of two, not 3"),
    ("lanes", (4, 8, 16), ValueError, r"lanes must be at most n_neurons \(8\), not 16"),
    ("lanes", (4, 12, 8), ValueError, r"n_neurons \(12\) must be a multiple of lanes \(8\)"),
    ("weight_ports", (4, 8, 1, 3), ValueError, "weight_ports must be 1 or 2, not 3"),
])
def test_arguments_checked(name, args, error, message):
    with pytest.raises(error, match=message):
        Core(*args)


@pytest.mark.parametrize("lanes", [1, 2, 4, 8])
def test_signature_and_conversion(lanes):
    core = Core(4, 8, lanes)
    assert core.signature.members == CoreSignature(4, 8).members
    assert (core.n_inputs, core.n_neurons, core.n_sources, core.lanes) == (4, 8, 12, lanes)
    verilog.convert(core, name="top", emit_src=False)


@pytest.mark.parametrize("make,message", [
    (lambda: NeuronUpdate(1), "acc_width must be an integer >= 2, not 1"),
    (lambda: NeuronUpdate(True), "acc_width must be an integer >= 2, not True"),
    (lambda: SynapseUpdate(1), "latency must be 0 or 2, not 1"),
])
def test_datapath_arguments_checked(make, message):
    with pytest.raises(ValueError, match=message):
        make()
