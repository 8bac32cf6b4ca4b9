"""Fast tests of ``spikecore.hw.core.Core`` that need no simulator: arguments and interface."""

import pytest
from amaranth.back import verilog

from spikecore.hw.core import Core
from spikecore.hw.interface import CoreSignature
from spikecore.hw.neuron import NeuronUpdate
from spikecore.hw.stdp import SynapseUpdate
from spikecore.spec import Feature


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
    ("neuron_latency", (4, 8, 1, 2, 4), ValueError,
     r"neuron_latency must be one of \(6, 2\), not 4"),
    ("neuron_latency", (4, 8, 1, 2, 2.0), ValueError,
     r"neuron_latency must be one of \(6, 2\), not 2.0"),
    ("register_commands", (4, 8, 1, 2, 6, "False"), TypeError,
     "register_commands must be True or False, not 'False'"),
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


@pytest.mark.parametrize("features,n_inputs,lanes", [
    (Feature(0), 5, 4), (Feature.GENERATORS, 5, 4), (Feature.GENERATORS, 8, 8),
    (Feature.COUNTS, 5, 1), (Feature.all() & ~Feature.GENERATORS, 5, 2)])
def test_build_options_convert(features, n_inputs, lanes):
    """Each build option converts, with and without the generators and counts (words of
    generators ragged or whole)."""
    core = Core(n_inputs, 8, lanes, features=features)
    assert core.signature.members == CoreSignature(n_inputs, 8).members
    verilog.convert(core, name="top", emit_src=False)


@pytest.mark.parametrize("make,error,message", [
    (lambda: NeuronUpdate(1), ValueError, "acc_width must be an integer >= 2, not 1"),
    (lambda: NeuronUpdate(True), ValueError, "acc_width must be an integer >= 2, not True"),
    (lambda: SynapseUpdate(1), TypeError, "pipelined must be True or False, not 1"),
    (lambda: NeuronUpdate(20, latency=3), ValueError,
     r"latency must be one of \(6, 2\), not 3"),
    (lambda: NeuronUpdate(20, features="THETA"), TypeError,
     "features must be a spikecore.spec.Feature, not 'THETA'"),
    (lambda: Core(4, 8, 1, features=None), TypeError,
     "features must be a spikecore.spec.Feature, not None"),
])
def test_datapath_arguments_checked(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("options,error,message", [
    ({"max_payload": 512.0}, TypeError, "max_payload must be an integer, not 512.0"),
    ({"max_payload": 300}, ValueError,
     r"max_payload must be a power of two in \[64, 1024\], not 300"),
    ({"max_payload": 32}, ValueError,
     r"max_payload must be a power of two in \[64, 1024\], not 32"),
    ({"max_payload": 2048}, ValueError,
     r"max_payload must be a power of two in \[64, 1024\], not 2048"),
    ({"n_neurons": 1024, "max_payload": 64}, ValueError,
     r"max_payload 64 cannot hold the reply of a one-step RUN at 1024 neurons \(131 bytes\)"),
    ({"max_payload": 256, "rx_window": 527}, ValueError,
     r"rx_window must be in \[528, 65535\], not 527"),
])
def test_top_options_checked(options, error, message):
    from spikecore.hw.top import Top
    args = {"n_inputs": 4, "n_neurons": 8, "divisor": 4, "clk_hz": 1_000_000, **options}
    with pytest.raises(error, match=message):
        Top(**args)


def test_top_options_reach_the_link():
    from spikecore import protocol
    from spikecore.hw.top import Top
    top = Top(4, 8, divisor=4, clk_hz=1_000_000, max_payload=128, rx_window=300)
    identity = protocol.parse_identify(top.elaborate(None).submodules["link"].identify)
    assert (identity.max_payload, identity.rx_window) == (128, 300)
