"""Hand-derived cases for every rounding, saturation and ordering rule of docs/model.md.

Each expected value is worked out in the comment beside it, so a reader can check it on paper.
"""

import numpy as np
import pytest

import spikecore
from spikecore.model import (Model, decay, neuron_update, potentiation, sat24, theta_decay,
                             trunc0)

MAX, MIN = (1 << 23) - 1, -(1 << 23)


def tiny(n_inputs=1, n_neurons=1, **params):
    """A network with zero weights, learning off, v without memory (dv = 4096), no refractory."""
    net = spikecore.Network(n_inputs, n_neurons, seed=None)
    net.vth[:] = MAX
    net.dv[:] = 4096
    net.du[:] = 1024
    net.t_ref[:] = 0
    net.w_exp = 4
    for name, value in params.items():
        if name == "w_exp":
            net.w_exp = value
        else:
            getattr(net, name)[:] = value
    return net


def run(net, inputs):
    model = Model(net)
    spikes = model.run(np.asarray(inputs, dtype=bool).reshape(len(inputs), net.n_inputs))
    return model, spikes


# --- helpers ---

def test_trunc0_rounds_toward_zero():
    assert trunc0(7, 1) == 3
    assert trunc0(-7, 1) == -3          # floor would give -4
    assert trunc0(-1, 12) == 0          # floor would give -1
    assert trunc0(-4096, 12) == -1


def test_decay_examples():
    assert decay(4096, 2048) == 2048
    assert decay(-4097, 2048) == -2048  # -4097·2048/4096 = -2048.5 → -2048 toward zero
    assert decay(-1, 1) == 0            # -4095/4096 → 0
    assert decay(1000, 0) == 1000       # d = 0: no decay
    assert decay(-1000, 4096) == 0      # d = 4096: forget at once


def test_sat24():
    assert sat24(1 << 23) == MAX and sat24(-(1 << 23) - 1) == MIN and sat24(5) == 5


def test_helper_examples_of_the_spec():
    # docs/model.md, "Helpers": the worked examples as written there
    assert trunc0(-7, 1) == -3
    assert decay(-1, 1) == trunc0(-4095, 12) == 0
    assert decay(4096, 2048) == 2048
    assert sat24(2**23) == 2**23 - 1


# --- neurons ---

def u_trace(weight, du, steps=5):
    """v without memory (dv = 4096) and bias 0 makes v equal u: read u from v."""
    net = tiny(du=du)
    net.weights[0, 0] = weight
    model = Model(net)
    out = []
    for t in range(steps):
        model.step(np.array([t == 0]))
        assert model.v[0] == model.u[0]
        out.append(int(model.u[0]))
    return out


def test_u_impulse_response():
    # a << w_exp = 10·16 = 160, then ·3072/4096 each step: 120, 90, 67.5 → 67, 50.25 → 50
    assert u_trace(10, du=1024) == [160, 120, 90, 67, 50]
    assert u_trace(10, du=0) == [160] * 5            # no decay
    assert u_trace(10, du=4096) == [160, 0, 0, 0, 0]  # forget at once
    assert u_trace(10, du=2048) == [160, 80, 40, 20, 10]


def test_u_impulse_response_negative_rounds_toward_zero():
    # -160, -120, -90, -67.5 → -67 (not -68), -50.25 → -50
    assert u_trace(-10, du=1024) == [-160, -120, -90, -67, -50]
    # -3·16 = -48 at du=2048: -24, -12, -6, -3, then -1.5 → -1, -0.5 → 0
    assert u_trace(-3, du=2048, steps=7) == [-48, -24, -12, -6, -3, -1, 0]


def test_v_integrates_with_decay():
    net = tiny(dv=1024, du=4096)
    net.weights[0, 0] = 10                      # u = 160 while the input is on
    model, _ = run(net, [1, 1, 0])
    # v: 160; 120 + 160 = 280; 210 + 0 = 210
    assert model.v[0] == 210


def test_saturation_of_u_and_v_at_plus_2_pow_23():
    net = tiny(n_inputs=2, du=0, dv=0, w_exp=15)
    net.weights[:2, 0] = 127                    # a << 15 = 254·32768 = 8,323,072
    model = Model(net)
    model.step(np.array([1, 1], bool))
    assert model.u[0] == 8_323_072 and model.v[0] == 8_323_072
    s = model.step(np.array([1, 1], bool))
    assert model.u[0] == MAX                    # 16,646,144 saturates to 2^23 − 1
    assert model.v[0] == MAX and not s[0]       # v == vth = 2^23 − 1 does not spike


def test_saturation_of_u_and_v_at_minus_2_pow_23():
    net = tiny(n_inputs=2, du=0, dv=0, w_exp=15)
    net.weights[:2, 0] = -128                   # -256 << 15 = -2^23 exactly
    model = Model(net)
    model.step(np.array([1, 1], bool))
    assert model.u[0] == MIN and model.v[0] == MIN
    model.step(np.array([1, 1], bool))
    assert model.u[0] == MIN and model.v[0] == MIN


def test_bias_saturates_v():
    net = tiny(dv=0, bias=MAX, vth=MAX)
    model, spikes = run(net, [0, 0])
    assert model.v[0] == MAX and not spikes.any()


def test_threshold_is_strict():
    _, spikes = run(tiny(vth=100, bias=100), [0] * 3)
    assert not spikes.any()                     # v = 100 == vth: no spike
    _, spikes = run(tiny(vth=100, bias=101), [0] * 3)
    assert spikes[:, 0].tolist() == [True] * 3  # v = 101 > vth, t_ref = 0: every step


def test_refractory_timing():
    model, spikes = run(tiny(vth=100, bias=101, t_ref=2), [0] * 7)
    # spike, then two silent steps with v held at 0, then spike again
    assert spikes[:, 0].tolist() == [True, False, False, True, False, False, True]
    assert model.ref[0] == 2 and model.v[0] == 0


def test_refractory_neuron_keeps_integrating_u():
    net = tiny(vth=100, bias=101, t_ref=3, du=0)
    net.weights[0, 0] = 1                       # u grows by 16 per input step
    model, spikes = run(net, [1, 1, 1])
    assert spikes[:, 0].tolist() == [True, False, False]
    assert model.u[0] == 48 and model.v[0] == 0 and model.ref[0] == 1


def test_input_acts_in_its_own_step_and_spikes_one_step_later():
    net = tiny(n_inputs=1, n_neurons=2, du=4096, vth=100)
    net.weights[0, 0] = 10                      # input 0 → neuron 0: u = 160 > 100
    net.weights[1, 1] = 10                      # neuron 0 (source 1) → neuron 1
    _, spikes = run(net, [1, 0, 0])
    assert spikes.tolist() == [[True, False], [False, True], [False, False]]


def test_self_connection_is_delivered_next_step():
    net = tiny(n_inputs=1, n_neurons=1, du=4096, vth=100)
    net.weights[0, 0] = 10
    net.weights[1, 0] = 10                      # the neuron excites itself
    _, spikes = run(net, [1, 0, 0, 0])
    assert spikes[:, 0].tolist() == [True] * 4  # it keeps itself going


# --- traces ---

def trace_net(**learning):
    net = tiny(n_inputs=1, n_neurons=1)
    for k, v in learning.items():
        setattr(net.learning, k, v)
    return net


def test_pre_trace_decays_then_jumps():
    model, _ = run(trace_net(x_imp=100, x_decay=128), [1])
    assert model.x[0] == 100
    model.step(np.array([False]))
    assert model.x[0] == 50                     # 100·128 >> 8
    model.step(np.array([True]))
    assert model.x[0] == 125                    # 50·128 >> 8 = 25, + 100
    model.step(np.array([False]))
    assert model.x[0] == 62                     # 125·128 >> 8 = 62.5 → 62 (floor)


def test_pre_trace_saturates_at_255():
    model, _ = run(trace_net(x_imp=200, x_decay=256), [1, 1, 1])
    assert model.x[0] == 255                    # 200, 400 → 255, 455 → 255


def test_post_trace_jumps_after_the_step_and_decays_first():
    net = trace_net(y_imp=100, y_decay=128)
    net.vth[:] = 100
    net.bias[:] = 101                           # spikes every step (t_ref = 0)
    model, _ = run(net, [0])
    assert model.y[0] == 100
    model.step(np.array([False]))
    assert model.y[0] == 150                    # 100·128 >> 8 = 50, + 100


def test_traces_evolve_with_learning_disabled():
    model, _ = run(trace_net(enabled=False, x_imp=60), [1])
    assert model.x[0] == 60


def test_neuron_sources_have_pre_traces():
    net = trace_net(x_imp=30)
    net.vth[:] = 100
    net.bias[:] = 101
    model, _ = run(net, [0, 0])
    assert model.x.tolist() == [0, 30]          # the neuron's spike is delivered in step 1


# --- STDP ---

def stdp_net(**learning):
    """Input 0 → neuron 0 is the synapse under test (weight 0); input 1 makes the neuron
    spike in the step it arrives (weight 100·16 = 1600 > vth = 1000) and is not plastic."""
    net = tiny(n_inputs=2, n_neurons=1, du=4096, vth=1000)
    net.weights[1, 0] = 100
    net.plastic_src[1] = False
    net.learning.enabled = True
    for k, v in {"x_imp": 128, "x_decay": 128, "y_imp": 128, "y_decay": 128, "a_plus": 128,
                 "a_minus": 128, **learning}.items():
        setattr(net.learning, k, v)
    return net


def test_ltp_pre_before_post():
    model, spikes = run(stdp_net(), [[1, 0], [0, 1]])
    assert spikes[:, 0].tolist() == [False, True]
    # step 1: x0 = 128·128 >> 8 = 64; LTP = 64·128 >> 8 = 32
    assert model.W[0, 0] == 32


def test_ltp_pre_and_post_in_the_same_step_uses_this_steps_pre_trace():
    net = stdp_net(a_minus=0)
    model, _ = run(net, [[1, 1]])
    assert model.W[0, 0] == 64                  # x0 = 128 after its own jump: 128·128 >> 8


def test_ltd_post_before_pre():
    model, spikes = run(stdp_net(), [[0, 1], [1, 0]])
    assert spikes[:, 0].tolist() == [True, False]
    # step 1: y = 128·128 >> 8 = 64 (decayed, no jump yet); LTD = 64·128 >> 8 = 32
    assert model.W[0, 0] == -32


def test_ltp_and_ltd_on_one_synapse_in_one_step():
    model, spikes = run(stdp_net(), [[0, 1], [1, 1]])
    assert spikes[:, 0].tolist() == [True, True]
    # step 1: + (x0 = 128)·128 >> 8 = 64, − (y = 64)·128 >> 8 = 32 → 32
    assert model.W[0, 0] == 32


def test_clipping_to_w_max_and_w_min():
    model, _ = run(stdp_net(w_max=20), [[1, 0], [0, 1]])
    assert model.W[0, 0] == 20                  # 0 + 32 clipped to 20
    model, _ = run(stdp_net(w_min=-10), [[0, 1], [1, 0]])
    assert model.W[0, 0] == -10                 # 0 − 32 clipped to −10


def test_combined_change_is_clipped_once():
    net = stdp_net(w_max=40)
    net.weights[0, 0] = 30
    model, _ = run(net, [[0, 1], [1, 1]])
    # once: 30 + 64 − 32 = 62 → 40. (Clipping after LTP first, 94 → 40, then LTD → 8.)
    assert model.W[0, 0] == 40


def test_touched_synapse_outside_the_range_is_clipped_even_without_change():
    net = stdp_net(w_max=20, a_minus=0)
    net.weights[0, 0] = 50
    model, _ = run(net, [[1, 0]])
    assert model.W[0, 0] == 20                  # delivered, change 0, clipped to 20


def test_untouched_synapse_keeps_its_weight():
    net = stdp_net(w_max=20)
    net.weights[0, 0] = 50
    model, _ = run(net, [[0, 0], [0, 0]])       # no pre, no post: nothing touched
    assert model.W[0, 0] == 50


def test_plasticity_masks():
    net = stdp_net()
    net.plastic_dst[0] = False
    model, _ = run(net, [[1, 0], [0, 1]])
    assert model.W[0, 0] == 0
    net = stdp_net()
    net.plastic_src[0] = False
    model, _ = run(net, [[1, 0], [0, 1]])
    assert model.W[0, 0] == 0
    assert model.W[1, 0] == 100                 # input 1 was never plastic


def test_learning_disabled_changes_nothing():
    net = stdp_net()
    net.learning.enabled = False
    model, _ = run(net, [[1, 0], [0, 1], [1, 1]])
    assert np.array_equal(model.W, net.weights)


def test_recurrent_row_is_depressed_when_delivered():
    net = stdp_net(a_plus=0)
    # the neuron (source 2) → itself, weight 0: spike at step 0, delivered at step 1
    model, _ = run(net, [[0, 1], [0, 0]])
    assert model.W[2, 0] == -32                 # y = 64 at step 1, LTD 32
    assert model.W[0, 0] == 0


def test_rows_and_columns_of_a_step_use_the_weights_at_its_start():
    net = stdp_net(a_minus=0, a_plus=255, x_imp=255, x_decay=256)
    net.weights[0, 0] = 10
    model, spikes = run(net, [[1, 1]])
    # input: 10 + 100 = 110 → u = 1760 (not the post-learning weight); LTP 254 → clip 127
    assert model.u[0] == 1760 and model.W[0, 0] == 127


# --- reset and state ---

def test_reset_zeroes_state_and_keeps_weights_and_theta():
    net = stdp_net(th_imp=100)
    model, _ = run(net, [[1, 1], [1, 1]])
    W = model.W.copy()
    assert model.theta.tolist() == [200]        # two spikes; th_shift 24: 100 >> 24 = 0
    model.reset()
    for name in ("u", "v", "ref", "y", "x", "s_prev"):
        assert not np.any(getattr(model, name)), name
    assert np.array_equal(model.W, W) and model.theta.tolist() == [200]


# --- model v2: the adaptive threshold theta ---

def neuron(u=0, v=0, ref=0, theta=0, a_in=0, a_rec=0, vth=MAX, bias=0, du=4096, dv=4096,
           t_ref=0, w_exp=0, w_exp_rec=0, **learning):
    """Step 4 for one neuron: ``neuron_update`` on one-element arrays, as plain ints."""
    def one(value):
        return np.array([value], dtype=np.int64)
    u, v, ref, theta, s = neuron_update(one(u), one(v), one(ref), one(theta), one(a_in),
                                        one(a_rec), one(vth), one(bias), one(du), one(dv),
                                        one(t_ref), w_exp, w_exp_rec, **learning)
    return int(u[0]), int(v[0]), int(ref[0]), int(theta[0]), bool(s[0])


def theta_net(**learning):
    """``tiny`` with learning enabled but no weight change (a_plus = a_minus = 0), so that
    only theta learns; v equals u + bias (dv = 4096)."""
    net = tiny()
    net.learning.enabled = True
    for k, v in {"a_plus": 0, "a_minus": 0, **learning}.items():
        setattr(net.learning, k, v)
    return net


def thetas(net, steps):
    """Run *net* with no input for *steps* steps; return neuron 0's theta after each step and
    whether it spiked in each."""
    model = Model(net)
    theta, spikes = [], []
    for _ in range(steps):
        spikes.append(bool(model.step(np.zeros(net.n_inputs, bool))[0]))
        theta.append(int(model.theta[0]))
    return theta, spikes


def test_theta_decay_examples():
    # docs/model.md: theta − (theta >> th_shift)
    assert theta_decay(1000, 1) == 1000 - 500
    assert theta_decay(1000, 24) == 1000 - 0
    assert theta_decay(7, 2) == 7 - 1
    assert theta_decay(MAX, 24) == MAX            # 2^23 − 1 >> 24 = 0
    assert theta_decay(MAX, 1) == MAX - (MAX >> 1) == 4_194_304


def test_theta_decays_every_step_with_learning_enabled():
    net = theta_net(th_shift=1)
    net.theta[:] = 1000
    assert thetas(net, 3)[0] == [500, 250, 125]
    net = theta_net(th_shift=24)
    net.theta[:] = 1000
    assert thetas(net, 3)[0] == [1000, 1000, 1000]
    net = theta_net(th_shift=2)
    net.theta[:] = 7
    # 7 − 1 = 6, 6 − 1 = 5, 5 − 1 = 4, 4 − 1 = 3, 3 − 0 = 3: it stops above 0
    assert thetas(net, 5)[0] == [6, 5, 4, 3, 3]


@pytest.mark.parametrize("th_shift", [1, 24])
def test_theta_is_frozen_with_learning_off(th_shift):
    net = theta_net(th_shift=th_shift, th_imp=500)
    net.learning.enabled = False
    net.theta[:] = 1000
    net.vth[:] = 0
    net.bias[:] = 1001                            # v = 1001 > 0 + 1000: spikes every step
    assert thetas(net, 3) == ([1000] * 3, [True] * 3)   # no decay, no increment


def test_theta_grows_by_th_imp_on_each_spike():
    net = theta_net(th_imp=300, th_shift=24)
    net.vth[:] = 100
    net.bias[:] = 1000                            # v = 1000 every step (t_ref 0)
    # 1000 > 100 + 0, > 100 + 300, > 100 + 600, then 1000 > 100 + 900 fails
    assert thetas(net, 5) == ([300, 600, 900, 900, 900], [True, True, True, False, False])


def test_theta_decays_before_the_spike_test():
    net = theta_net(th_shift=1)
    net.theta[:] = 1000
    net.vth[:] = 0
    net.bias[:] = 600
    # theta 500 first, then 600 > 0 + 500 spikes (600 > 1000 would not); then 250
    assert thetas(net, 2) == ([500, 250], [True, True])


def test_theta_saturates_at_2_pow_23_minus_1_on_a_spike():
    # docs/model.md: theta 2^23 − 10, th_imp 100, th_shift 24 → min(2^23 + 90, 2^23 − 1)
    assert neuron(theta=2**23 - 10, vth=0, bias=MAX, adapt=True, th_imp=100,
                  th_shift=24) == (0, 0, 0, 2**23 - 1, True)    # v = 2^23 − 1 > 2^23 − 10
    net = theta_net(th_imp=100, th_shift=24)
    net.theta[:] = 2**23 - 10
    net.vth[:] = 0
    net.bias[:] = MAX
    # then no spike: v = 2^23 − 1 > 0 + 2^23 − 1 is false
    assert thetas(net, 2) == ([MAX, MAX], [True, False])


def test_threshold_at_its_maximum_never_spikes():
    # vth 2^23 − 1, theta 2^23 − 1: v > 2^24 − 2 is never true, v being at most 2^23 − 1
    assert neuron(v=MAX, theta=MAX, vth=MAX, bias=MAX, dv=0)[4] is False
    net = tiny(vth=MAX, theta=MAX, bias=MAX, dv=0)
    model, spikes = run(net, [0] * 3)
    assert model.v[0] == MAX and not spikes.any()


def test_threshold_with_theta_is_strict():
    # vth 100, theta 50: v reaching exactly 150 does not spike, 151 does
    assert neuron(vth=100, theta=50, bias=150)[4] is False
    assert neuron(vth=100, theta=50, bias=151)[4] is True
    _, spikes = run(tiny(vth=100, theta=50, bias=150), [0] * 3)
    assert not spikes.any()
    _, spikes = run(tiny(vth=100, theta=50, bias=151), [0] * 3)
    assert spikes[:, 0].tolist() == [True] * 3


def test_reset_keeps_theta_but_zeroes_u_and_v():
    net = theta_net(th_imp=300, th_shift=24)
    net.vth[:] = 100
    net.weights[0, 0] = 10                        # u = 10·16 = 160 while the input is on
    net.du[:] = 4096
    net.bias[:] = 840                             # v = 160 + 840 = 1000, as above
    model, spikes = run(net, [1] * 4)
    assert spikes[:, 0].tolist() == [True, True, True, False]
    assert model.theta[0] == 900 and model.u[0] == 160 and model.v[0] == 1000
    model.reset()
    assert model.theta[0] == 900 and model.u[0] == 0 and model.v[0] == 0
    assert not model.step(np.array([True]))[0]    # 1000 > 100 + 900 fails: theta was kept


def test_loading_sets_theta_from_the_network():
    net = theta_net(th_shift=1)
    net.theta[:] = 7
    model = Model(net)
    assert model.theta.tolist() == [7]
    model.step(np.array([False]))
    assert model.theta.tolist() == [4]            # 7 − 3
    assert net.theta.tolist() == [7]              # the network is not changed
    assert Model(net).theta.tolist() == [7]


# --- model v2: x_tar ---

def test_potentiation_with_a_target_pre_trace():
    # docs/model.md: x 80, x_tar 59, a_plus 32 → trunc0(21·32, 8) = trunc0(672, 8) = 2;
    # x 40 → trunc0(−608, 8) = −2 (an arithmetic shift would give −3); x 59 → 0
    lr = spikecore.Learning(a_plus=32, x_tar=59)
    assert potentiation(np.array([80, 40, 59]), np.zeros(3, np.int8), lr).tolist() == [2, -2, 0]
    assert trunc0(-608, 8) == -2


@pytest.mark.parametrize("x, change", [(80, 2), (40, -2), (59, 0)])
def test_x_tar_in_a_step(x, change):
    net = stdp_net(x_tar=59, a_plus=32, x_imp=x, a_minus=0)
    model, spikes = run(net, [[1, 1]])            # pre and post in one step: x0 = x_imp
    assert spikes[0, 0]
    assert model.W[0, 0] == change
    # the neuron's own source (2) was silent, x = 0: trunc0(−59·32, 8) = trunc0(−1888, 8),
    # −7.375 toward zero = −7: a post spike depresses the synapses of silent sources
    assert model.W[2, 0] == -7


# --- model v2: w_exp_rec ---

def test_w_exp_rec_scales_neuron_sources_only():
    # docs/model.md: w_exp 0, w_exp_rec 4, input weight 10, neuron source weight −3, du 4096
    assert neuron(a_in=10, a_rec=-3, w_exp=0, w_exp_rec=4)[0] == 10 + (-3 << 4) == -38
    assert neuron(a_in=10, a_rec=-3, w_exp=4, w_exp_rec=0)[0] == 160 - 3


@pytest.mark.parametrize("w_exp, w_exp_rec, u", [
    (0, 4, -38),                                  # 10 + (−3 << 4)
    (0, None, 7),                                 # None: w_exp for both, 10 − 3
    (4, 0, 157),                                  # (10 << 4) − 3
])
def test_w_exp_rec_with_an_input_and_a_neuron_source_in_one_step(w_exp, w_exp_rec, u):
    net = tiny(n_inputs=1, n_neurons=2, du=4096)
    net.vth[1], net.bias[1] = 100, 101            # neuron 1 spikes every step (t_ref 0)
    net.w_exp, net.w_exp_rec = w_exp, w_exp_rec
    net.weights[0, 0] = 10                        # input 0 → neuron 0
    net.weights[2, 0] = -3                        # neuron 1 (source 2) → neuron 0
    model, spikes = run(net, [1, 1])              # step 1: input 0 and neuron 1 delivered
    assert spikes[:, 1].tolist() == [True, True]
    assert model.u[0] == u


# --- model v2: soft bounds ---

SOFT = {"w_min": -63, "w_max": 63, "a_plus": 128, "soft_bound": True}


def test_soft_bound_potentiation_examples():
    # docs/model.md, x_tar 0, x 255: d = 255·128 = 32640
    lr = spikecore.Learning(**SOFT)
    w = np.array([13, 63], np.int8)
    # W 13: f = 63 − 13 = 50, trunc0(trunc0(1632000, 7), 8) = trunc0(12750, 8) = 49
    # W 63: f = 0 → 0
    assert potentiation(255, w, lr).tolist() == [49, 0]
    # x_tar 255, x 0: d = −32640
    lr = spikecore.Learning(**SOFT, x_tar=255)
    w = np.array([13, -63, -100], np.int8)
    # W 13: f = 13 + 63 = 76, trunc0(trunc0(−2480640, 7), 8) = trunc0(−19380, 8) = −75
    # W −63: f = 0 → 0
    # W −100 (loaded outside): f = −37, trunc0(trunc0(1207680, 7), 8) = trunc0(9435, 8) = 36
    assert potentiation(0, w, lr).tolist() == [-75, 0, 36]


def test_soft_bound_for_a_weight_loaded_above_w_max():
    # d = 32640 > 0, W 100: f = 63 − 100 = −37, trunc0(trunc0(−1207680, 7), 8)
    # = trunc0(−9435, 8) = −36 (−36.86 toward zero)
    lr = spikecore.Learning(**SOFT)
    assert potentiation(255, np.array([100], np.int8), lr).tolist() == [-36]


def test_soft_bound_without_drive_gives_nothing():
    # d = 0 (x == x_tar, or a_plus 0): p = 0 whatever f
    lr = spikecore.Learning(**SOFT, x_tar=100)
    assert potentiation(100, np.array([13, -100, 100], np.int8), lr).tolist() == [0, 0, 0]
    lr = spikecore.Learning(**{**SOFT, "a_plus": 0})
    assert potentiation(255, np.array([13, -100, 100], np.int8), lr).tolist() == [0, 0, 0]


@pytest.mark.parametrize("x_tar, inputs, w, after", [
    (0, [[1, 1]], 13, 13 + 49),                  # x 255, the example above
    (0, [[1, 1]], 63, 63),                       # at w_max: f = 0
    (255, [[0, 1]], 13, 13 - 75),                # x 0 (silent), x_tar 255
    (255, [[0, 1]], -63, -63),                   # at w_min: f = 0
    (255, [[0, 1]], -100, -63),                  # −100 + 36 = −64, clipped to w_min −63
])
def test_soft_bound_in_a_step(x_tar, inputs, w, after):
    net = stdp_net(**SOFT, x_tar=x_tar, x_imp=255, a_minus=0)
    net.weights[0, 0] = w
    model, spikes = run(net, inputs)
    assert spikes[-1, 0]
    assert model.W[0, 0] == after


def test_soft_bound_with_a_plus_zero_leaves_only_ltd():
    net = stdp_net(**{**SOFT, "a_plus": 0})
    net.weights[0, 0] = 13
    model, spikes = run(net, [[0, 1], [1, 0]])
    assert spikes[:, 0].tolist() == [True, False]
    # step 0: post spike, p = 0; step 1: y = 64, LTD 64·128 >> 8 = 32 → 13 − 32 = −19
    assert model.W[0, 0] == -19


def test_soft_bound_and_ltd_are_one_change_clipped_once():
    net = stdp_net(**{**SOFT, "a_plus": 255}, x_imp=255)
    net.weights[0, 0] = 13
    model, spikes = run(net, [[0, 1], [1, 1]])
    assert spikes[:, 0].tolist() == [True, True]
    # step 1: x0 = 255, d = 255·255 = 65025, f = 63 − 13 = 50:
    # trunc0(trunc0(3251250, 7), 8) = trunc0(25400, 8) = 99; y = 64, LTD 32.
    # Once: 13 + 99 − 32 = 80 → 63. (Clipping after LTP, 112 → 63, then LTD would give 31.)
    assert model.W[0, 0] == 63


# --- model v2 with its defaults is v1 ---

V1_CASES = [                                      # (inputs, W[0, 0] after) from the v1 tests
    ([[1, 0], [0, 1]], 32),                       # test_ltp_pre_before_post
    ([[0, 1], [1, 0]], -32),                      # test_ltd_post_before_pre
    ([[0, 1], [1, 1]], 32),                       # test_ltp_and_ltd_on_one_synapse_in_one_step
]


@pytest.mark.parametrize("th_shift", [1, 24])
@pytest.mark.parametrize("inputs, after", V1_CASES)
def test_v2_settings_at_their_defaults_compute_v1(inputs, after, th_shift):
    # theta 0, th_imp 0, x_tar 0, w_exp_rec = w_exp, soft_bound off; th_shift then acts on 0
    net = stdp_net(th_shift=th_shift, th_imp=0, x_tar=0, soft_bound=False)
    net.w_exp_rec = net.w_exp
    net.weights[2, 0] = 5                         # the recurrent path uses w_exp_rec = w_exp
    model, spikes = run(net, inputs)
    v1 = net.copy()
    v1.w_exp_rec = None
    v1_model, v1_spikes = run(v1, inputs)
    assert model.W[0, 0] == after
    assert np.array_equal(spikes, v1_spikes) and np.array_equal(model.W, v1_model.W)
    assert np.array_equal(model.u, v1_model.u) and model.theta.tolist() == [0]
