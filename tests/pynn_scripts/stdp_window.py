"""The STDP window: the weight change of one pre/post spike pair, for lags from -40 to +40 ms.

Plain PyNN 0.13: ``run(sim)`` with ``sim`` any PyNN backend module. Pair k happens in a window
of its own, ``spacing`` ms after the previous one: presynaptic source k fires once, and its
postsynaptic neuron k is made to fire once, ``lags[k]`` ms after it, by ``n_teachers`` sources
firing together through strong static synapses. The plastic projection, sources → neurons, is
all-to-all (spikecore's plasticity is per source and per neuron); the windows are far enough
apart that only the pairs on the diagonal learn anything measurable. Each source's single PSP
is well below threshold, so every neuron fires exactly once.

The learning rates are large (tens of percent of w_max per pair) so that one pairing moves an
int8 weight by many steps on spikecore. tau_syn_E equals tau_syn_I.
"""

import numpy as np

CELL = dict(tau_m=20.0, cm=1.0, v_rest=-65.0, v_reset=-65.0, v_thresh=-50.0,
            tau_refrac=10.0, tau_syn_E=2.0, tau_syn_I=2.0, i_offset=0.0)
LAGS = [-40, -30, -20, -15, -10, -5, -2, 0, 2, 5, 10, 15, 20, 30, 40]


def run(sim, *, lags=LAGS, dt=1.0, spacing=150.0, tau_plus=20.0, tau_minus=20.0, A_plus=0.3,
        A_minus=0.35, w_min=0.0, w_max=10.0, w_init=5.0, n_teachers=4,
        backend_options=None):
    """Pair each source with its neuron at the given lags (ms, post minus pre); return Δw.

    Returns
    -------
    dict
        ``lags`` (ms: teacher spike minus presynaptic spike, as scheduled);
        ``post_minus_pre`` (ms: each neuron's recorded spike minus its source's spike);
        ``n_post_spikes`` (each neuron's number of spikes); ``dw`` (nA: each pair's weight
        change, from the weight the backend holds before the first pair); ``dw_off_diagonal``
        (nA: the largest change of any other plastic synapse); ``w_init``, ``w_max``.
    """
    n = len(lags)
    sim.setup(timestep=dt, min_delay=dt, **(backend_options or {}))
    t_teacher = [spacing * (k + 1) for k in range(n)]
    t_pre = [t - lag for t, lag in zip(t_teacher, lags)]
    pre = sim.Population(n, sim.SpikeSourceArray(spike_times=[[t] for t in t_pre]), label="pre")
    teachers = sim.Population(n * n_teachers, sim.SpikeSourceArray(
        spike_times=[[t] for t in t_teacher for _ in range(n_teachers)]), label="teachers")
    post = sim.Population(n, sim.IF_curr_exp(**CELL), label="post")
    post.record("spikes")
    sim.Projection(teachers, post,
                   sim.FromListConnector([(k * n_teachers + r, k)
                                          for k in range(n) for r in range(n_teachers)]),
                   sim.StaticSynapse(weight=w_max, delay=dt), label="teach")
    stdp = sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=tau_plus, tau_minus=tau_minus,
                                            A_plus=A_plus, A_minus=A_minus),
        weight_dependence=sim.AdditiveWeightDependence(w_min=w_min, w_max=w_max),
        weight=w_init, delay=dt, dendritic_delay_fraction=0.0)
    plastic = sim.Projection(pre, post, sim.AllToAllConnector(), stdp, label="plastic")
    # The weights as the backend realised them, before the first pair (at spacing − 40 ms at
    # the earliest), then after the last.
    sim.run(spacing / 2)
    w_before = np.asarray(plastic.get("weight", format="array"), float)
    sim.run(spacing * (n + 1) - spacing / 2)
    w = np.asarray(plastic.get("weight", format="array"), float)
    trains = [np.asarray(st.magnitude) for st in post.get_data().segments[0].spiketrains]
    sim.end()
    dw = w - w_before
    off = dw[~np.eye(n, dtype=bool)]
    return {"lags": [float(x) for x in lags],
            "post_minus_pre": [float(st[0] - tp) if len(st) else None
                               for st, tp in zip(trains, t_pre)],
            "n_post_spikes": [len(st) for st in trains],
            "dw": [float(x) for x in np.diag(dw)],
            "dw_off_diagonal": float(np.max(np.abs(off))) if off.size else 0.0,
            "w_init": w_init, "w_max": w_max}
