"""The fixed-point helpers of docs/model.md as gateware, under the golden model's names.

Each returns an expression: ``trunc0``, ``sat24``, ``sat8u``, ``clip_w`` and ``trace_decay`` here
compute what ``spikecore.model``'s functions of the same names compute on integers.
"""

from amaranth.hdl import Mux

from .. import spec

__all__ = ["trunc0", "sat24", "sat8u", "clip_w", "trace_decay", "theta_decay"]


def trunc0(value, k):
    """Return ``sign(value) * (|value| >> k)`` (division by 2**k rounding toward zero).

    Adding ``2**k - 1`` to a negative value before the arithmetic shift turns its rounding
    toward minus infinity into rounding toward zero; one adder, no negation.
    """
    return (value + Mux(value[-1], (1 << k) - 1, 0)) >> k


def sat24(value):
    """Return the signed *value* saturated to [STATE_MIN, STATE_MAX].

    It fits when its bits from the state's sign bit up are all equal; else its own sign
    says which end. No comparator (carry chain) is needed, only that test.
    """
    top = value[spec.STATE_BITS - 1:]
    fits = (top == 0) | top.all()
    return Mux(fits, value[:spec.STATE_BITS].as_signed(),
               Mux(value[-1], spec.STATE_MIN, spec.STATE_MAX))


def sat8u(value):
    """Return ``min(value, TRACE_MAX)`` for an unsigned *value* of at most TRACE_BITS + 1 bits.

    A trace plus an impulse (both below 2**TRACE_BITS) exceeds TRACE_MAX exactly when its top
    bit is set.
    """
    assert len(value) <= spec.TRACE_BITS + 1
    return Mux(value[spec.TRACE_BITS], spec.TRACE_MAX, value[:spec.TRACE_BITS])


def clip_w(value, w_min, w_max):
    """Return *value* clipped to [*w_min*, *w_max*]."""
    return Mux(value < w_min, w_min, Mux(value > w_max, w_max, value))


def trace_decay(trace, rate):
    """Return ``(trace * rate) >> TRACE_DECAY_SHIFT``: a trace after one step of decay *rate*/256.

    With *rate* at most TRACE_DECAY_ONE the result fits the trace's TRACE_BITS.
    """
    return (trace * rate) >> spec.TRACE_DECAY_SHIFT


def theta_decay(theta, th_shift):
    """Return ``theta - (theta >> th_shift)``: the adaptive threshold after one step's decay.

    A shift by a value is a barrel shifter (a mux level per bit of *th_shift*), no multiplier.
    """
    return (theta - (theta >> th_shift))[:len(theta)]
