"""A scalar, loop-by-loop reading of docs/model.md, written independently of spikecore.model.

It uses Python integers only (no numpy arithmetic, no vectorization tricks), so that the
vectorized golden model and the gateware can both be checked against a plain reading of
the spec.
"""


def trunc0(a, k):
    return -((-a) >> k) if a < 0 else a >> k


def decay(a, d):
    return trunc0(a * (4096 - d), 12)


def sat24(a):
    return max(-(1 << 23), min((1 << 23) - 1, a))


def sat8u(a):
    return min(a, 255)


class Reference:
    """One network's state, stepped one synapse at a time."""

    def __init__(self, net):
        self.ni, self.n = net.n_inputs, net.n_neurons
        self.W = [[int(w) for w in row] for row in net.weights]
        self.p = {k: [int(v) for v in getattr(net, k)] for k in ("vth", "bias", "du", "dv",
                                                                  "t_ref")}
        self.w_exp = net.w_exp
        self.lr = net.learning.as_dict()
        self.psrc = [bool(b) for b in net.plastic_src]
        self.pdst = [bool(b) for b in net.plastic_dst]
        self.reset()

    def reset(self):
        self.u = [0] * self.n
        self.v = [0] * self.n
        self.ref = [0] * self.n
        self.y = [0] * self.n
        self.x = [0] * (self.ni + self.n)
        self.s_prev = [False] * self.n

    def step(self, inputs):
        lr, p = self.lr, self.p
        D = {j for j in range(self.ni) if inputs[j]}
        D |= {self.ni + k for k in range(self.n) if self.s_prev[k]}
        for j in range(self.ni + self.n):
            self.x[j] = (self.x[j] * lr["x_decay"]) >> 8
            if j in D:
                self.x[j] = sat8u(self.x[j] + lr["x_imp"])
        for i in range(self.n):
            self.y[i] = (self.y[i] * lr["y_decay"]) >> 8
        a = [sum(self.W[j][i] for j in D) for i in range(self.n)]
        s = [False] * self.n
        for i in range(self.n):
            self.u[i] = sat24(decay(self.u[i], p["du"][i]) + a[i] * (1 << self.w_exp))
            if self.ref[i] > 0:
                self.ref[i] -= 1
                self.v[i] = 0
            else:
                self.v[i] = sat24(decay(self.v[i], p["dv"][i]) + self.u[i] + p["bias"][i])
                if self.v[i] > p["vth"][i]:
                    s[i] = True
                    self.v[i] = 0
                    self.ref[i] = p["t_ref"][i]
        if lr["enabled"]:
            for j in range(self.ni + self.n):
                for i in range(self.n):
                    if not (self.psrc[j] and self.pdst[i]) or not (s[i] or j in D):
                        continue
                    w = self.W[j][i]
                    if s[i]:
                        w += (self.x[j] * lr["a_plus"]) >> 8
                    if j in D:
                        w -= (self.y[i] * lr["a_minus"]) >> 8
                    self.W[j][i] = max(lr["w_min"], min(lr["w_max"], w))
        for i in range(self.n):
            if s[i]:
                self.y[i] = sat8u(self.y[i] + lr["y_imp"])
        self.s_prev = s
        return s
