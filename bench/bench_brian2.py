"""The standard workload as the equivalent float network in Brian2, timed like the model.

Same geometry, weights, inputs and parameters: u and v decay by the same factor per 1 ms
step (exponential with tau = -dt / ln(1 - d/4096)), each delivered spike adds w·2^w_exp to u,
spike when v > vth, v reset to 0 and refractory t_ref steps; pair-based trace STDP with the
same increments, decays, rates and clipping (Brian2's classic STDP example). Brian2 is an
optional extra (``pip install -e '.[bench]'``; it needs numpy < 2.3).
"""

import math
import time

import numpy as np

from spikecore.workload import standard_workload


def brian2_available():
    try:
        import brian2  # noqa: F401
    except ImportError:
        return False
    return True


def build(target="numpy", steps=None):
    """Return ``(run, n_steps)``: *run()* simulates the standard workload once in Brian2."""
    import brian2 as b2

    b2.prefs.codegen.target = target
    net_spec, inputs, spec = standard_workload()
    steps = steps or len(inputs)
    inputs = inputs[:steps]
    n_in, n = net_spec.n_inputs, net_spec.n_neurons
    prm = spec["neurons"]
    lr = spec["learning"]
    step = 1 * b2.ms

    def tau(keep):
        return -step / math.log(keep)

    b2.start_scope()
    b2.defaultclock.dt = step
    t_idx, i_idx = np.nonzero(inputs)
    inp = b2.SpikeGeneratorGroup(n_in, i_idx, t_idx * step)
    eqs = """
    du/dt = -u / tau_u : 1
    dv/dt = -v / tau_v + u / dt : 1 (unless refractory)
    """
    neurons = b2.NeuronGroup(n, eqs, threshold=f"v > {prm['vth']}", reset="v = 0",
                             refractory=prm["t_ref"] * step, method="exact",
                             namespace={"tau_u": tau(1 - prm["du"] / 4096),
                                        "tau_v": tau(1 - prm["dv"] / 4096)})
    model = """
    w : 1
    dapre/dt = -apre / tau_x : 1 (event-driven)
    dapost/dt = -apost / tau_y : 1 (event-driven)
    """
    ns = {"tau_x": tau(lr["x_decay"] / 256), "tau_y": tau(lr["y_decay"] / 256),
          "scale": 2 ** spec["w_exp"], "x_imp": lr["x_imp"], "y_imp": lr["y_imp"],
          "a_plus": lr["a_plus"] / 256, "a_minus": lr["a_minus"] / 256,
          "w_min": lr["w_min"], "w_max": lr["w_max"]}
    on_pre = """
    u_post += w * scale
    apre = clip(apre + x_imp, 0, 255)
    w = clip(w - apost * a_minus, w_min, w_max)
    """
    on_post = """
    apost = clip(apost + y_imp, 0, 255)
    w = clip(w + apre * a_plus, w_min, w_max)
    """
    s_in = b2.Synapses(inp, neurons, model, on_pre=on_pre, on_post=on_post, namespace=ns)
    s_in.connect()
    s_in.w = np.asarray(net_spec.weights[:n_in], dtype=float).ravel()
    s_rec = b2.Synapses(neurons, neurons, model, on_pre=on_pre, on_post=on_post,
                        namespace=ns, delay=step)
    s_rec.connect()
    s_rec.w = np.asarray(net_spec.weights[n_in:], dtype=float).ravel()
    monitor = b2.SpikeMonitor(neurons)
    network = b2.Network(inp, neurons, s_in, s_rec, monitor)
    network.store()

    def run():
        network.restore()
        network.run(steps * step)
        return monitor.num_spikes

    return run, steps


def brian2_steps_per_s(target="numpy", steps=300, repeats=3):
    """Return (median steps/s, spikes per run) of Brian2 on the standard workload."""
    run, steps = build(target, steps)
    run()                                           # warm-up (code generation, compilation)
    rates, spikes = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        spikes = run()
        rates.append(steps / (time.perf_counter() - start))
    rates.sort()
    return rates[len(rates) // 2], spikes


if __name__ == "__main__":
    for target in ("numpy", "cython"):
        rate, spikes = brian2_steps_per_s(target)
        print(f"brian2 {target}: {rate:,.0f} steps/s ({spikes} spikes)")
