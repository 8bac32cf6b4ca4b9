"""spikecore.encode: hand-checkable spike codes and their argument checks."""

import numpy as np
import pytest

from spikecore import encode


def test_rate_is_the_documented_draw():
    # Input k fires in step t iff rng.random() < p[k], drawn in C order of (steps, n).
    p = np.array([[0.0, 0.25], [0.5, 1.0]])            # any shape: flattened to 4 inputs
    spikes = encode.rate(p, 50, np.random.default_rng(7))
    want = np.random.default_rng(7).random((50, 4)) < p.ravel()
    assert spikes.dtype == bool and spikes.shape == (50, 4)
    assert np.array_equal(spikes, want)
    assert not spikes[:, 0].any() and spikes[:, 3].all()   # p 0: never; p 1: every step


def test_rate_is_seeded():
    p = np.full(64, 0.3)
    assert np.array_equal(encode.rate(p, 20, 5), encode.rate(p, 20, 5))
    assert not np.array_equal(encode.rate(p, 20, 5), encode.rate(p, 20, 6))
    # One Generator continues its stream: two draws differ.
    rng = np.random.default_rng(1)
    assert not np.array_equal(encode.rate(p, 20, rng), encode.rate(p, 20, rng))


def test_generator_rate_rounds_to_65536ths():
    # 0.1 * 65536 = 6553.6 -> 6554 (the standard workload's rate); 0.5 -> 32768; 1 -> 65536,
    # which the generators cannot hold: 65535; 2.5 / 65536 -> 2 (half to even); shape kept.
    p = np.array([[0.0, 0.1], [0.5, 1.0], [2.5 / 65536, 3.5 / 65536]])
    assert encode.generator_rate(p).tolist() == [[0, 6554], [32768, 65535], [2, 4]]
    assert encode.generator_rate(p).dtype == np.int64


def test_on_off_splits_around_the_center():
    # values 0, 4, 10 around 4: ON = [0, 0, 6], OFF = [4, 0, 0].
    out = encode.on_off([0, 4, 10], center=4)
    assert out.tolist() == [0, 0, 6, 4, 0, 0]


def test_latency_fires_once_earlier_for_larger_values():
    # steps 5: v 1 -> round(0 * 4) = 0; 0.5 -> round(0.5 * 4) = 2; 0.25 -> round(0.75 * 4)
    # = 3; 0 (at the threshold) never.
    spikes = encode.latency(np.array([1.0, 0.5, 0.0, 0.25]), 5)
    assert spikes.shape == (5, 4)
    assert [np.flatnonzero(spikes[:, k]).tolist() for k in range(4)] == [[0], [2], [], [3]]
    # max_value scales: 8 of 16 is half-way.
    assert np.flatnonzero(encode.latency([8], 5, max_value=16)[:, 0]).tolist() == [2]
    # A threshold silences small values.
    assert not encode.latency([0.1], 5, threshold=0.2).any()


@pytest.mark.parametrize("call, message", [
    (lambda: encode.rate([0.5], 0, 1), "steps must be a positive integer, not 0"),
    (lambda: encode.rate([0.5], 2.0, 1), "steps must be a positive integer"),
    (lambda: encode.rate([1.5], 3, 1), r"p = 1.5 is outside the allowed range \[0.0, 1.0\]"),
    (lambda: encode.rate([np.nan], 3, 1), "p must be finite"),
    (lambda: encode.rate([], 3, 1), "p must hold at least one value"),
    (lambda: encode.rate(["a"], 3, 1), "p must be numbers"),
    (lambda: encode.rate([0.5], 3, None), "rng must be a numpy.random.Generator or an integer"),
    (lambda: encode.generator_rate([-0.1]), r"p = -0.1 is outside the allowed range"),
    (lambda: encode.on_off([1], center=np.inf), "center must be a finite number"),
    (lambda: encode.latency([2.0], 3), r"values = 2.0 is outside the allowed range"),
    (lambda: encode.latency([0.5], 3, max_value=0), "max_value must be a positive number"),
    (lambda: encode.latency([0.5], 3, threshold=1.0), r"threshold must be in \[0, max_value\)"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
