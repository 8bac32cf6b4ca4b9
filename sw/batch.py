"""Faster golden-model runs: many presentations at once, and a faster single-network step.

Both compute exactly docs/model.md, bit for bit the same spikes (and, for :class:`FastModel`,
weights, theta and state) as :class:`spikecore.model.Model`. ``FastModel`` runs ``Model``'s
own parts of a step (``_deliver``, ``_neurons``, ``_end_step``, ``stdp_update``);
``run_batch`` computes step 4 on a whole batch from ``decay`` and ``sat24``. Both change only
how the synaptic input is summed and which no-op work is skipped.

- :func:`run_batch` runs a network **without learning** on a batch of presentations (each
  starting from the zero state, as after ``reset()``), all at once: the neuron state is a
  (batch, n_neurons) array and the synaptic input a matrix product. A float product of 0/1
  inputs and int8 weights is exact while its sums stay below 2**24 (float32) or 2**53
  (float64); the dtype is chosen from the geometry.
- :class:`FastModel` is a ``Model`` whose ``run`` sums the input sources' weights for a whole
  run with one matrix product (recomputed after each weight change) and skips the STDP update
  of steps where it provably changes nothing. :class:`FastModelCore` serves it through the
  ``Core`` API, the way ``model://`` serves ``Model``.
"""

import numpy as np

from . import spec
from .core import ModelCore
from .model import Model, decay, generate_steps, sat24, stdp_update

__all__ = ["run_batch", "exact_dtype", "FastModel", "FastModelCore"]


def exact_dtype(n_rows):
    """Return the float dtype whose sums of up to *n_rows* int8 weights are exact.

    float32 represents every integer of magnitude up to 2**24, float64 up to 2**53; a sum of
    *n_rows* weights in [−128, 127] is at most ``128 · n_rows`` in magnitude.
    """
    bound = n_rows * -spec.WEIGHT_MIN
    if bound <= 1 << 24:
        return np.float32
    if bound <= 1 << 53:
        return np.float64
    raise ValueError(f"{n_rows} sources are too many for an exact float sum")


def run_batch(net, inputs, *, block=64):
    """Run *net* without learning on each presentation of *inputs*; return the spikes.

    Each presentation starts from the zero state (u, v, ref, spikes; W and theta as in
    *net*), exactly as ``core.reset()`` followed by ``core.run(inputs[b])`` does on every
    backend when learning is off.

    Parameters
    ----------
    net : spikecore.Network
        Its learning must be disabled (``net.learning.enabled`` False): with learning on, each
        presentation would change the weights for the next one.
    inputs : bool array (batch, steps, n_inputs)
    block : int
        Presentations computed together (memory: about 40 bytes × block × n_neurons).

    Returns
    -------
    bool array (batch, steps, n_neurons)
    """
    net.check()
    if net.learning.enabled:
        raise ValueError("run_batch computes without learning: disable it "
                         "(net.learning.enabled = False) or run the presentations one by one")
    inputs = np.asarray(inputs)
    if inputs.ndim != 3 or inputs.shape[2] != net.n_inputs:
        raise ValueError(f"inputs must have shape (batch, steps, {net.n_inputs}), "
                         f"not {inputs.shape}")
    if inputs.dtype != bool:
        raise ValueError(f"inputs must be bool, not {inputs.dtype}")
    if np.any(np.asarray(net.rate)):
        # The generators run on across presentations (reset keeps them): draw them ahead.
        _, fired = generate_steps(np.asarray(net.gen_state), np.asarray(net.rate),
                                  inputs.shape[0] * inputs.shape[1])
        inputs = inputs | fired.reshape(inputs.shape)
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
        raise ValueError(f"block must be a positive integer, not {block!r}")
    n_in, n = net.n_inputs, net.n_neurons
    w_exp = net.w_exp
    w_exp_rec = net.w_exp if net.w_exp_rec is None else net.w_exp_rec
    # The shifts are folded into the weights: a sum of multiples of 2**k is as exact as the
    # sum of their multipliers.
    dtype = exact_dtype(max(n_in, n))
    w = np.asarray(net.weights).astype(dtype)
    w_in, w_rec = w[:n_in] * 2.0 ** w_exp, w[n_in:] * 2.0 ** w_exp_rec
    state = _state_dtype(n_in, n, w_exp, w_exp_rec)
    p = {name: np.asarray(getattr(net, name), dtype=state) for name in spec.NEURON_RANGES}
    # Learning is off: theta stays as loaded, so the threshold is one vector.
    threshold = p["vth"].astype(np.int64) + p["theta"]
    batch, steps = inputs.shape[:2]
    out = np.zeros((batch, steps, n), dtype=bool)
    for b0 in range(0, batch, block):
        x = inputs[b0:b0 + block]
        size = len(x)
        u = np.zeros((size, n), state)
        v = np.zeros((size, n), state)
        ref = np.zeros((size, n), state)
        s = np.zeros((size, n), dtype=bool)
        # Every step's (a_in << w_exp) in one product: (steps, size, n).
        x_t = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(-1, n_in).astype(dtype)
        a_all = (x_t @ w_in).astype(state).reshape(steps, size, n)
        for t in range(steps):
            u[:] = _decay(u, p["du"])
            u += a_all[t]
            active = np.flatnonzero(s.any(axis=1))
            if len(active):
                u[active] += (s[active].astype(dtype) @ w_rec).astype(state)
            s = _fire(u, v, ref, threshold, p)
            out[b0:b0 + block, t] = s
    return out


def _state_dtype(n_in, n, w_exp, w_exp_rec):
    """Return int32 if no intermediate value of step 4 can leave its range, else int64.

    The widest is ``decay(u) + (a_in << w_exp) + (a_rec << w_exp_rec)`` before sat24, and
    ``decay(v) + u + bias`` (decay's own product is computed in int64 by model.decay).
    """
    w = -spec.WEIGHT_MIN
    bound = max(-spec.STATE_MIN + n_in * w * 2 ** w_exp + n * w * 2 ** w_exp_rec,
                -3 * spec.STATE_MIN)
    return np.int32 if bound < 1 << 31 else np.int64


def _decay(a, d):
    """Return ``decay(a, d)`` (spikecore.model) for a per-neuron *d*, without the multiply
    when every d is 0 (``decay(a, 0) = a``) or 4096 (``decay(a, 4096) = 0``)."""
    if not d.any():
        return a
    if (d == spec.DECAY_ONE).all():
        return 0
    return decay(a, d)


def _fire(u, v, ref, threshold, p):
    """The rest of step 4 of docs/model.md (learning off) on (batch, n_neurons), in place.

    *u* holds ``decay(u) + (a_in << w_exp) + (a_rec << w_exp_rec)``; as
    ``spikecore.model.neuron_update`` with ``adapt=False`` and ``threshold = vth + theta``:
    ``u`` saturates, refractory neurons count down with ``v = 0``, the others integrate and
    spike iff ``v > threshold``. Return the spikes.
    """
    sat24(u, out=u)
    refractory = ref > 0
    v[:] = _decay(v, p["dv"])
    v += u
    v += p["bias"]
    sat24(v, out=v)
    s = v > threshold
    s &= ~refractory
    v[refractory | s] = 0
    ref -= refractory
    np.copyto(ref, np.broadcast_to(p["t_ref"], ref.shape), where=s)
    return s


class FastModel(Model):
    """The golden model with a faster ``run``; every result is identical to ``Model``'s.

    ``run`` differs from ``Model.run`` in two ways, neither visible in any result:

    - The input sources' weight sums ``a_in`` of every remaining step are one matrix product
      (exact: :func:`exact_dtype`), recomputed after any step that changed the weights.
    - Step 5 (``stdp_update``) is skipped in a step where no neuron spiked if it provably
      changes nothing: every delivered row's LTD ``(y·a_minus) >> 8`` is 0 and each of its
      plastic weights is already inside [w_min, w_max] (so the clip is the identity).

    ``step`` is ``Model.step``; the two can be mixed freely.
    """

    #: Steps whose ``a_in`` one matrix product computes ahead.
    CHUNK = 32

    def run(self, inputs):
        """Run one step per row of *inputs* (bool, (steps, n_inputs)); return the spikes."""
        inputs = np.asarray(inputs, dtype=bool) | self.generated(len(inputs))
        steps, n_in = len(inputs), self.n_inputs
        out = np.zeros((steps, self.n_neurons), dtype=bool)
        lr = self.learning
        dtype = exact_dtype(max(n_in, self.n_neurons))
        # A row is "settled" when all its plastic weights lie inside [w_min, w_max]: a clip
        # leaves it unchanged. A step can only settle rows (it clips what it touches), so the
        # rows found settled here stay settled for the whole run.
        plastic = self.plastic_src[:, None] & self.plastic_dst[None, :]
        inside = (self._W >= lr.w_min) & (self._W <= lr.w_max)
        settled = np.all(inside | ~plastic, axis=1)
        a_in, start = None, 0
        for t in range(steps):
            if a_in is None or t - start == len(a_in):
                chunk = inputs[t:t + self.CHUNK].astype(dtype)
                a_in = (chunk @ self._W[:n_in].astype(dtype)).astype(np.int64)
                start = t
            if self._fast_step(inputs[t], a_in[t - start], settled, out[t]):
                a_in = None         # the weights may have changed
        return out

    def _fast_step(self, row, a_in, settled, s_out):
        """One step of docs/model.md with *a_in* given; write s to *s_out*.

        Return True if step 5 ran (the weights may have changed).
        """
        lr = self.learning
        delivered, split = self._deliver(row)
        # 3. Synaptic input: a_in precomputed from the current weights.
        recurrent = delivered[split:]
        a_rec = self._W[recurrent].sum(axis=0, dtype=np.int32) if len(recurrent) else 0
        s, spiked = self._neurons(a_in, a_rec)
        # 5. Learning, unless it provably changes nothing.
        changed = False
        if lr.enabled and len(delivered) | len(spiked):
            no_ltd = lr.a_minus == 0 or int(self.y.max(initial=0)) * lr.a_minus \
                < 1 << spec.LEARN_SHIFT
            if len(spiked) or not (no_ltd and settled[delivered].all()):
                stdp_update(self._W, self.x, self.y, delivered, spiked, lr, self.plastic_src,
                            self.plastic_dst)
                changed = True
        self._end_step(s, spiked)
        s_out[:] = s
        return changed


class FastModelCore(ModelCore):
    """:class:`FastModel` behind the ``Core`` API: ``model://``, with a faster ``run``.

    Everything else (argument checks, ``set``, ``set_learning``, ``reset``, reads) is
    ``ModelCore``'s.
    """

    def _load(self, net):
        self._model = FastModel(net)
        self.n_inputs, self.n_neurons = net.n_inputs, net.n_neurons
