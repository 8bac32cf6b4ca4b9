"""spikecore.topology: named populations build the Network one would write by hand."""

import numpy as np
import pytest

import spikecore
from spikecore.topology import Topology, constant, uniform


def two_layers():
    top = Topology(w_exp=0, w_exp_rec=4)
    pix = top.inputs("pix", 3)
    bias = top.inputs("bias", 1)
    exc = top.neurons("exc", 4, vth=100, t_ref=1)
    inh = top.neurons("inh", 2, vth=50)
    return top, pix, bias, exc, inh


def test_populations_are_consecutive_ranges():
    top, pix, bias, exc, inh = two_layers()
    assert (pix.start, pix.stop, bias.start, bias.stop) == (0, 3, 3, 4)
    assert (exc.start, exc.stop, inh.start, inh.stop) == (0, 4, 4, 6)
    # Neuron k is source n_inputs + k: exc are sources 4..7, inh 8..9.
    assert top.sources("exc").tolist() == [4, 5, 6, 7]
    assert top.sources(inh).tolist() == [8, 9]
    assert len(exc) == 4 and exc.index.tolist() == [0, 1, 2, 3]


def test_build_writes_weights_parameters_and_masks():
    top, pix, bias, exc, inh = two_layers()
    w = np.arange(12).reshape(3, 4)
    top.connect(pix, exc, w, plastic=True)
    top.connect(bias, exc, 5, plastic=True)
    top.connect(exc, inh, constant(9))
    top.connect(inh, exc, -20)
    top.inhibit(exc, -7)
    net = top.build(seed=0)
    assert isinstance(net, spikecore.Network)
    assert (net.n_inputs, net.n_neurons, net.w_exp, net.w_exp_rec) == (4, 6, 0, 4)
    assert net.vth.tolist() == [100] * 4 + [50] * 2
    assert net.t_ref.tolist() == [1] * 4 + [2] * 2           # inh keeps the default 2
    W = np.asarray(net.weights)
    assert np.array_equal(W[0:3, 0:4], w)
    assert W[3, 0:4].tolist() == [5] * 4
    assert np.all(W[4:8, 4:6] == 9) and np.all(W[8:10, 0:4] == -20)
    # Lateral inhibition: -7 between distinct exc neurons, 0 on the diagonal.
    assert W[4:8, 0:4].tolist() == [[0, -7, -7, -7], [-7, 0, -7, -7], [-7, -7, 0, -7],
                                    [-7, -7, -7, 0]]
    # Never connected: 0 (inputs to inh, inh to inh).
    assert not W[0:4, 4:6].any() and not W[8:10, 4:6].any()
    # Plastic: inputs -> exc only.
    assert net.plastic_src.tolist() == [True] * 4 + [False] * 6
    assert net.plastic_dst.tolist() == [True] * 4 + [False] * 2


def test_distributions_draw_from_the_build_seed():
    def build(seed):
        top = Topology()
        top.connect(top.inputs("a", 8), top.neurons("b", 5), uniform(0, 32))
        return np.asarray(top.build(seed=seed).weights)
    assert np.array_equal(build(3), build(3))
    assert not np.array_equal(build(3), build(4))
    w = build(3)[:8]
    assert w.min() >= 0 and w.max() < 32


def test_plasticity_that_is_not_per_source_and_neuron_is_refused():
    top, pix, bias, exc, inh = two_layers()
    top.connect(pix, exc, 1, plastic=True)
    top.connect(bias, inh, 1, plastic=True)     # pix -> inh and bias -> exc would learn too
    with pytest.raises(ValueError, match=r"source 0 \(pix\) learns onto some neurons and "
                                         r"neuron 4 \(inh\) from some sources, but source 0 "
                                         r"\(pix\) → neuron 4 \(inh\) is not a plastic synapse"):
        top.build()


@pytest.mark.parametrize("call, message", [
    (lambda t: t.inputs("pix", 2), "population 'pix' exists already"),
    (lambda t: t.neurons("x", 0), "size must be a positive integer, not 0"),
    (lambda t: t.connect("pix", "nope", 1), "no population 'nope'"),
    (lambda t: t.connect("exc", "pix", 1), "population 'pix' is inputs, not neurons"),
    (lambda t: t.connect("pix", "exc", np.ones((2, 2))), r"must be a scalar, an array of "
                                                          r"shape \(3, 4\)"),
    (lambda t: t.neurons("y", 2, vht=3), "unknown neuron field 'vht'"),
    (lambda t: (t.connect("pix", "exc", 200), t.build()),
     r"weights from 'pix' to 'exc': weights = 200 is outside"),
    (lambda t: (t.neurons("z", 1, du=5000), t.build()), r"du = 5000 is outside"),
])
def test_bad_arguments_are_named(call, message):
    top = two_layers()[0]
    with pytest.raises(ValueError, match=message):
        call(top)


def test_a_network_needs_inputs_and_neurons():
    top = Topology()
    top.neurons("n", 2)
    with pytest.raises(ValueError, match="at least one input population"):
        top.build()
