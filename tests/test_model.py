"""Hand-derived cases for every rounding, saturation and ordering rule of docs/model.md.

Each expected value is worked out in the comment beside it, so a reader can check it on paper.
"""

import numpy as np
import pytest

import spikecore
from spikecore.model import Model, decay, sat24, trunc0

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

def test_reset_zeroes_state_and_keeps_weights():
    net = stdp_net()
    model, _ = run(net, [[1, 1], [1, 1]])
    W = model.W.copy()
    model.reset()
    for name in ("u", "v", "ref", "y", "x", "s_prev"):
        assert not np.any(getattr(model, name)), name
    assert np.array_equal(model.W, W)
