"""A scalar, loop-by-loop reading of docs/model.md (model v2), written independently of
spikecore.model.

It uses Python integers only (no numpy arithmetic, no vectorization tricks), so that the
vectorized golden model and the gateware can both be checked against a plain reading of
the spec. Every number below is the spec's own (docs/model.md), typed from the document.
"""


def trunc0(a, k):
    """sign(a) · (|a| >> k)."""
    return -((-a) >> k) if a < 0 else a >> k


def decay(a, d):
    return trunc0(a * (4096 - d), 12)


def sat24(a):
    return max(-(1 << 23), min((1 << 23) - 1, a))


def sat8u(a):
    return min(a, 255)


THETA_MAX = (1 << 23) - 1


class Reference:
    """One network's state, stepped one neuron and one synapse at a time."""

    def __init__(self, net):
        self.ni, self.n = net.n_inputs, net.n_neurons
        self.W = [[int(w) for w in row] for row in net.weights]
        self.p = {k: [int(v) for v in getattr(net, k)] for k in ("vth", "bias", "du", "dv",
                                                                  "t_ref")}
        self.w_exp = net.w_exp
        # "None: equal to w_exp"
        self.w_exp_rec = net.w_exp if net.w_exp_rec is None else net.w_exp_rec
        self.lr = net.learning.as_dict()
        self.psrc = [bool(b) for b in net.plastic_src]
        self.pdst = [bool(b) for b in net.plastic_dst]
        # Learned state: loading sets it from the network, reset() keeps it.
        self.theta = [int(t) for t in net.theta]
        self.reset()

    def reset(self):
        self.u = [0] * self.n
        self.v = [0] * self.n
        self.ref = [0] * self.n
        self.y = [0] * self.n
        self.x = [0] * (self.ni + self.n)
        self.s_prev = [False] * self.n

    def potentiation(self, j, i):
        """p[j, i] of step 5, from x after step 2 and W at the start of the step."""
        lr = self.lr
        d = (self.x[j] - lr["x_tar"]) * lr["a_plus"]
        if not lr["soft_bound"]:
            return trunc0(d, 8)
        if d > 0:
            f = lr["w_max"] - self.W[j][i]
        else:
            f = self.W[j][i] - lr["w_min"]
        return trunc0(trunc0(d * f, 7), 8)

    def step(self, inputs):
        lr, p = self.lr, self.p
        # 1. Delivered sources.
        D = {j for j in range(self.ni) if inputs[j]}
        D |= {self.ni + k for k in range(self.n) if self.s_prev[k]}
        # 2. Traces.
        for j in range(self.ni + self.n):
            self.x[j] = (self.x[j] * lr["x_decay"]) >> 8
            if j in D:
                self.x[j] = sat8u(self.x[j] + lr["x_imp"])
        for i in range(self.n):
            self.y[i] = (self.y[i] * lr["y_decay"]) >> 8
        # 3. Input, split by source kind.
        a_in = [sum(self.W[j][i] for j in D if j < self.ni) for i in range(self.n)]
        a_rec = [sum(self.W[j][i] for j in D if j >= self.ni) for i in range(self.n)]
        # 4. Neurons.
        s = [False] * self.n
        for i in range(self.n):
            if lr["enabled"]:
                self.theta[i] = self.theta[i] - (self.theta[i] >> lr["th_shift"])
            self.u[i] = sat24(decay(self.u[i], p["du"][i]) + a_in[i] * (1 << self.w_exp)
                              + a_rec[i] * (1 << self.w_exp_rec))
            if self.ref[i] > 0:
                self.ref[i] -= 1
                self.v[i] = 0
            else:
                self.v[i] = sat24(decay(self.v[i], p["dv"][i]) + self.u[i] + p["bias"][i])
                if self.v[i] > p["vth"][i] + self.theta[i]:
                    s[i] = True
                    self.v[i] = 0
                    self.ref[i] = p["t_ref"][i]
                    if lr["enabled"]:
                        self.theta[i] = min(self.theta[i] + lr["th_imp"], THETA_MAX)
        # 5. Learning: one combined change per synapse, from W at the start of the step.
        if lr["enabled"]:
            new = [row[:] for row in self.W]
            for j in range(self.ni + self.n):
                for i in range(self.n):
                    if not (self.psrc[j] and self.pdst[i]) or not (s[i] or j in D):
                        continue
                    w = self.W[j][i]
                    if s[i]:
                        w += self.potentiation(j, i)
                    if j in D:
                        w -= (self.y[i] * lr["a_minus"]) >> 8
                    new[j][i] = max(lr["w_min"], min(lr["w_max"], w))
            self.W = new
        # 6. Post-traces; spikes are delivered next step.
        for i in range(self.n):
            if s[i]:
                self.y[i] = sat8u(self.y[i] + lr["y_imp"])
        self.s_prev = s
        return s
