"""The bit-exact golden model of docs/model.md, vectorized with numpy.

Each function here has a gateware counterpart of the same name in ``spikecore.hw``; the
cocotb testbenches compare the two. All arithmetic is on int64 arrays, wide enough that no
intermediate value wraps (the largest is a 24-bit state times a 13-bit decay factor).
"""

import numpy as np

from . import spec

__all__ = ["trunc0", "decay", "sat24", "sat8u", "clip_w", "trace_decay", "theta_decay",
           "xorshift32", "generate", "generate_steps", "neuron_update", "potentiation",
           "stdp_update", "STATE_ATTRS", "Model"]

#: The ``Model`` attribute holding each field of the STATE space (docs/protocol.md).
STATE_ATTRS = {spec.StateField.U: "u", spec.StateField.V: "v", spec.StateField.REF: "ref",
               spec.StateField.Y: "y", spec.StateField.X: "x", spec.StateField.SPIKED: "s_prev",
               spec.StateField.COUNT: "count"}


def trunc0(a, k):
    """Return ``sign(a) * (|a| >> k)``: *a* / 2**k rounded toward zero."""
    a = np.asarray(a, dtype=np.int64)
    # An arithmetic shift rounds toward −∞; adding 2**k − 1 first to negative values makes
    # it round toward zero.
    return (a + ((a >> 63) & ((1 << k) - 1))) >> k


def decay(a, d):
    """Return ``trunc0(a * (4096 - d), 12)``: *a* after one step of decay rate *d*/4096."""
    return trunc0(np.asarray(a, dtype=np.int64) * (spec.DECAY_ONE - d), spec.DECAY_SHIFT)


def sat24(a, out=None):
    """Return *a* saturated to the signed 24-bit range [−2**23, 2**23 − 1] (into *out*)."""
    return np.minimum(np.maximum(a, spec.STATE_MIN, out=out), spec.STATE_MAX, out=out)


def sat8u(a):
    """Return ``min(a, 255)`` for non-negative *a* (trace saturation)."""
    return np.minimum(a, spec.TRACE_MAX)


def clip_w(a, w_min, w_max):
    """Return *a* clipped to [*w_min*, *w_max*]."""
    return np.minimum(np.maximum(a, w_min), w_max)


def trace_decay(trace, rate):
    """Return ``(trace * rate) >> 8``: a trace after one step of decay factor *rate*/256."""
    return (np.asarray(trace, dtype=np.int64) * rate) >> spec.TRACE_DECAY_SHIFT


def theta_decay(theta, th_shift):
    """Return ``theta - (theta >> th_shift)``: the adaptive threshold after one step's decay."""
    theta = np.asarray(theta, dtype=np.int64)
    return theta - (theta >> th_shift)


def xorshift32(g):
    """Return ``xorshift32(g)`` of docs/model.md for uint32 values *g* (int64 in and out).

    ``g ^= g << 13; g ^= g >> 17; g ^= g << 5``, each shift modulo 2**32.
    """
    g = np.asarray(g, dtype=np.int64).astype(np.uint32)
    a, b, c = (np.uint32(k) for k in spec.XORSHIFT)
    g ^= g << a
    g ^= g >> b
    g ^= g << c
    return g.astype(np.int64)


def generate(g, rate):
    """Return ``(g, fired)``: the generators advanced one step, and which inputs fire.

    Step 1 of docs/model.md: ``g ← xorshift32(g)``, then ``fired = (g >> 16) < rate``.
    """
    g = xorshift32(g)
    return g, (g >> (spec.GEN_BITS - spec.RATE_BITS)) < rate


def generate_steps(g, rate, steps):
    """Return ``(g, fired)`` after *steps* steps; *fired* is bool (steps, len(g)).

    *rate* is one rate per generator, or one row of them per step (steps, len(g)).
    """
    rate = np.asarray(rate)
    fired = np.zeros((steps, np.size(g)), dtype=bool)
    for t in range(steps):
        g, fired[t] = generate(g, rate[t] if rate.ndim == 2 else rate)
    return np.asarray(g, dtype=np.int64), fired


def neuron_update(u, v, ref, theta, a_in, a_rec, vth, bias, du, dv, t_ref, w_exp, w_exp_rec,
                  adapt=False, th_imp=0, th_shift=spec.TH_SHIFT_MAX):
    """Return ``(u, v, ref, theta, s)`` after step 4 of docs/model.md.

    With *adapt* (learning enabled) ``theta ← theta − (theta >> th_shift)`` first.
    ``u ← sat24(decay(u, du) + (a_in << w_exp) + (a_rec << w_exp_rec))`` for the synaptic
    input of input sources *a_in* and of neuron sources *a_rec*; refractory neurons
    (``ref > 0``) count down with ``v ← 0`` and do not spike; the others take
    ``v ← sat24(decay(v, dv) + u + bias)``, spike iff ``v > vth + theta``, and on a spike
    reset ``v ← 0``, ``ref ← t_ref`` and, with *adapt*,
    ``theta ← min(theta + th_imp, THETA_MAX)``.
    """
    theta = theta_decay(theta, th_shift) if adapt else np.array(theta, dtype=np.int64)
    u = decay(u, du)
    u += np.left_shift(a_in, w_exp, dtype=np.int64)
    u += np.left_shift(a_rec, w_exp_rec, dtype=np.int64)
    sat24(u, out=u)
    ref = np.asarray(ref)
    refractory = ref > 0
    v = decay(v, dv)
    v += u
    v += bias
    sat24(v, out=v)
    s = v > vth + theta
    s &= ~refractory
    v[refractory | s] = 0
    ref = ref - refractory
    ref[s] = t_ref[s] if np.ndim(t_ref) else t_ref
    if adapt:
        theta[s] = np.minimum(theta[s] + th_imp, spec.THETA_MAX)
    return u, v, ref, theta, s


def potentiation(x, w, learning):
    """Return the potentiation ``p`` of step 5 of docs/model.md (int64, *w*'s shape).

    *x* holds the pre-traces of *w*'s rows (broadcast against *w*). ``d = (x − x_tar)·a_plus``;
    ``p = trunc0(d, 8)``, or with ``soft_bound`` ``p = trunc0(trunc0(d·f, 7), 8)`` where
    ``f = w_max − w`` if ``d > 0`` else ``w − w_min``.
    """
    d = (np.asarray(x, np.int64) - learning.x_tar) * learning.a_plus
    if not learning.soft_bound:
        return np.broadcast_to(trunc0(d, spec.LEARN_SHIFT), np.shape(w))
    w = np.asarray(w, np.int64)
    f = np.where(d > 0, learning.w_max - w, w - learning.w_min)
    return trunc0(trunc0(d * f, spec.SOFT_SHIFT), spec.LEARN_SHIFT)


def stdp_update(W, x, y, delivered, s, learning, plastic_src, plastic_dst):
    """Apply step 5 of docs/model.md (learning enabled) to the int8 weights *W*, in place.

    Every plastic synapse (j, i) with ``s[i]`` or ``delivered[j]`` becomes
    ``clip_w(W[j, i] + s[i]·p[j, i] − delivered[j]·((y[i]·a_minus) >> 8))`` (``p``: see
    :func:`potentiation`): one combined change, clipped once. *delivered* and *s* are index
    arrays (the sources delivered, the neurons that spiked). Returns *W*.
    """
    if len(delivered) == 0 and len(s) == 0:
        return W
    lo, hi = learning.w_min, learning.w_max
    ltd = (np.asarray(y, np.int64) * learning.a_minus) >> spec.LEARN_SHIFT
    # Both blocks are computed from the weights at the start of the step (int64: no wrap).
    old_rows, old_cols = W[delivered], W[:, s]
    # Columns of spiking neurons: LTP on every row, minus LTD on the delivered rows.
    cols = old_cols + potentiation(np.asarray(x)[:, None], old_cols, learning)
    cols[delivered] -= ltd[s]
    np.clip(cols, lo, hi, out=cols)
    # Rows of delivered sources: LTD. Their spiking columns are wrong here (no LTP) and are
    # overwritten by the column block, which holds their combined change.
    rows = old_rows - ltd
    np.clip(rows, lo, hi, out=rows)
    if not (plastic_src.all() and plastic_dst.all()):
        rows = np.where(plastic_src[delivered, None] & plastic_dst[None, :], rows, old_rows)
        cols = np.where(plastic_src[:, None] & plastic_dst[None, s], cols, old_cols)
    W[delivered] = rows
    W[:, s] = cols
    return W


class Model:
    """The golden model: one network's state, stepped exactly as docs/model.md says.

    Parameters
    ----------
    net : spikecore.Network
        Weights, parameters and learning settings are copied; state starts at zero.

    Members
    -------
    W : int8 array (n_sources, n_neurons)
        The weights (a copy).
    u, v, ref, y, theta, s_prev : arrays (n_neurons,)
    x : array (n_sources,)
    rate, gen : int64 arrays (n_inputs,)
        The input generators' rates and states.
    count : int64 array (n_neurons,)
        The spike counts (saturating at ``spec.COUNT_MAX``; :meth:`clear_counts`).
    w_exp, w_exp_rec : int
        The weight exponents (w_exp_rec: the effective value).
    steps : int
        Steps computed since the network was loaded.
    """

    def __init__(self, net):
        net.check()
        self.n_inputs, self.n_neurons = net.n_inputs, net.n_neurons
        self._W = np.array(net.weights, dtype=np.int8)
        params = {name: np.array(getattr(net, name), dtype=np.int64)
                  for name in spec.NEURON_RANGES}
        self.vth, self.bias = params["vth"], params["bias"]
        self.du, self.dv, self.t_ref = params["du"], params["dv"], params["t_ref"]
        self.theta = params["theta"]
        self.rate = np.array(net.rate, dtype=np.int64)
        self.gen = np.array(net.gen_state, dtype=np.int64)
        self.count = np.zeros(self.n_neurons, dtype=np.int64)
        self.w_exp = net.w_exp
        self.w_exp_rec = net.w_exp if net.w_exp_rec is None else net.w_exp_rec
        self.learning = type(net.learning)(**net.learning.as_dict())
        self.plastic_src = np.array(net.plastic_src, dtype=bool)
        self.plastic_dst = np.array(net.plastic_dst, dtype=bool)
        self.steps = 0
        self.reset()

    @property
    def W(self):
        """The weights, int8 (n_sources, n_neurons); a copy."""
        return self._W.copy()

    def reset(self):
        """Set u, v, ref, x, y and s_prev to zero; keep the weights and theta."""
        n, n_src = self.n_neurons, self.n_inputs + self.n_neurons
        self.u = np.zeros(n, np.int64)
        self.v = np.zeros(n, np.int64)
        self.ref = np.zeros(n, np.int64)
        self.y = np.zeros(n, np.int64)
        self.x = np.zeros(n_src, np.int64)
        self.s_prev = np.zeros(n, dtype=bool)

    def clear_counts(self):
        """Set the spike counts to zero."""
        self.count[:] = 0

    def generated(self, steps):
        """Advance the generators *steps* steps; return what they fired (bool (steps, n_inputs)).

        Step 1's first half, for several steps at once: the generators depend on nothing
        else, so a run can draw its generated inputs ahead.
        """
        self.gen, fired = generate_steps(self.gen, self.rate, steps)
        return fired

    def step(self, inputs):
        """Compute one step for the streamed input set *inputs* (bool, n_inputs); return s."""
        self.gen, fired = generate(self.gen, self.rate)
        return self._step(np.asarray(inputs, dtype=bool) | fired)

    def _step(self, inputs):
        """Compute one step for the delivered inputs *inputs* (streamed or generated)."""
        delivered, split = self._deliver(inputs)
        # 3. Synaptic input from the weights at the start of the step, by source kind.
        a_in = self._W[delivered[:split]].sum(axis=0, dtype=np.int32)
        a_rec = self._W[delivered[split:]].sum(axis=0, dtype=np.int32)
        s, spiked = self._neurons(a_in, a_rec)
        # 5. Learning.
        if self.learning.enabled:
            stdp_update(self._W, self.x, self.y, delivered, spiked, self.learning,
                        self.plastic_src, self.plastic_dst)
        self._end_step(s, spiked)
        return s

    def _deliver(self, inputs):
        """Steps 1 and 2: return the delivered sources (sorted) and where the neurons' start.

        1. Delivered sources: this step's inputs, last step's spikes. 2. Traces decay, then
        the delivered sources' pre-traces jump.
        """
        lr = self.learning
        delivered = np.flatnonzero(np.concatenate([inputs, self.s_prev]))
        self.x = trace_decay(self.x, lr.x_decay)
        self.x[delivered] = sat8u(self.x[delivered] + lr.x_imp)
        self.y = trace_decay(self.y, lr.y_decay)
        return delivered, np.searchsorted(delivered, self.n_inputs)

    def _neurons(self, a_in, a_rec):
        """Step 4: update the neurons from their synaptic input; return s and its indices."""
        lr = self.learning
        self.u, self.v, self.ref, self.theta, s = neuron_update(
            self.u, self.v, self.ref, self.theta, a_in, a_rec, self.vth, self.bias, self.du,
            self.dv, self.t_ref, self.w_exp, self.w_exp_rec, lr.enabled, lr.th_imp,
            lr.th_shift)
        return s, np.flatnonzero(s)

    def _end_step(self, s, spiked):
        """Step 6: post-traces jump, spikes are counted; they are delivered next step."""
        self.y[spiked] = sat8u(self.y[spiked] + self.learning.y_imp)
        self.count[spiked] = np.minimum(self.count[spiked] + 1, spec.COUNT_MAX)
        self.s_prev = s
        self.steps += 1

    def run(self, inputs):
        """Run one step per row of *inputs* (streamed, bool (steps, n_inputs)); return the
        spikes (bool (steps, n_neurons))."""
        inputs = np.asarray(inputs, dtype=bool) | self.generated(len(inputs))
        out = np.zeros((len(inputs), self.n_neurons), dtype=bool)
        for t, row in enumerate(inputs):
            out[t] = self._step(row)
        return out
