"""A balanced network of 200 excitatory and 50 inhibitory IF_curr_exp neurons, Poisson-driven.

Plain PyNN 0.13: ``run(sim, seed=...)`` with ``sim`` any PyNN backend module. Every pair of
neurons is connected with probability ``p`` (FixedProbabilityConnector), and every neuron
receives each of ``n_ext`` Poisson sources with probability ``p``; inhibition is ``g`` times
stronger than excitation. On pyNN.brian2 the neurons fire irregularly (CV of the intervals
about 0.6) at about 20 Hz on average, a third of them (fewer than 3 spikes) nearly silent.
tau_syn_E equals tau_syn_I (spikecore has one synaptic current per neuron). The seed sets the
connectivity; the backend's own generator draws the Poisson spikes (the runner seeds it).
"""

import numpy as np

CELL = dict(tau_m=20.0, cm=1.0, v_rest=-65.0, v_reset=-65.0, v_thresh=-50.0,
            tau_refrac=2.0, tau_syn_E=5.0, tau_syn_I=5.0, i_offset=0.0)


def run(sim, *, seed=0, dt=1.0, t_stop=1000.0, t_skip=200.0, n_exc=200, n_inh=50, n_ext=200,
        rate_ext=15.0, p=0.2, w_exc=0.3, g=6.0, w_ext=0.3, backend_options=None):
    """Simulate the network for t_stop ms; return its firing statistics after t_skip ms.

    Returns
    -------
    dict
        ``rate_exc``, ``rate_inh`` (Hz, mean over each population), ``cv_exc``, ``cv_inh``
        (mean coefficient of variation of the inter-spike intervals, over the neurons that
        fire at least 3 times), ``active_exc``, ``active_inh`` (how many neurons those are),
        ``seed``.
    """
    from pyNN.random import NumpyRNG

    sim.setup(timestep=dt, min_delay=dt, **(backend_options or {}))
    rng = NumpyRNG(seed=seed)
    ext = sim.Population(n_ext, sim.SpikeSourcePoisson(rate=rate_ext), label="ext")
    cells = sim.Population(n_exc + n_inh, sim.IF_curr_exp(**CELL), label="cells")
    exc, inh = cells[:n_exc], cells[n_exc:]
    cells.record("spikes")
    connect = sim.FixedProbabilityConnector(p, allow_self_connections=False, rng=rng)
    for pre, weight, receptor in ((ext, w_ext, "excitatory"), (exc, w_exc, "excitatory"),
                                  (inh, -g * w_exc, "inhibitory")):
        sim.Projection(pre, cells, connect, sim.StaticSynapse(weight=weight, delay=dt),
                       receptor_type=receptor)
    sim.run(t_stop)
    spiketrains = [np.asarray(st.magnitude) for st in cells.get_data().segments[0].spiketrains]
    result = {"seed": seed}
    for name, trains in (("exc", spiketrains[:n_exc]), ("inh", spiketrains[n_exc:])):
        trains = [st[st >= t_skip] for st in trains]
        result[f"rate_{name}"] = sum(len(st) for st in trains) / len(trains) / (
            (t_stop - t_skip) / 1000.0)
        cvs = [np.std(np.diff(st)) / np.mean(np.diff(st)) for st in trains if len(st) >= 3]
        result[f"cv_{name}"] = float(np.mean(cvs)) if cvs else float("nan")
        result[f"active_{name}"] = len(cvs)
    sim.end()
    return result
