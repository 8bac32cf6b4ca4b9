"""One IF_curr_exp neuron driven by two SpikeSourceArrays, one excitatory, one inhibitory.

Plain PyNN 0.13: ``run(sim)`` with ``sim`` any PyNN backend module. The excitatory source fires
single spikes, which leave the neuron below threshold, and bursts, which it answers with one
or two spikes; the inhibitory source pulls it down before one burst so that the burst fails.
tau_syn_E equals tau_syn_I (spikecore has one synaptic current per neuron).
"""

CELL = dict(tau_m=20.0, cm=1.0, v_rest=-65.0, v_reset=-65.0, v_thresh=-50.0,
            tau_refrac=2.0, tau_syn_E=5.0, tau_syn_I=5.0, i_offset=0.0)

# Single spikes, then bursts of 2 to 4 spikes 2 ms apart (ms).
EXCITATORY = sorted(
    [20.0, 60.0]
    + [100.0, 102.0]
    + [140.0 + 2 * k for k in range(4)]
    + [200.0 + 2 * k for k in range(3)]
    + [250.0, 252.0]
    + [280.0, 282.0]
)
INHIBITORY = [240.0, 242.0, 244.0, 246.0]


def run(sim, *, dt=1.0, t_stop=320.0, w_exc=2.5, w_inh=-3.0, backend_options=None):
    """Simulate the neuron for t_stop ms at time step dt ms; return its spikes and v.

    Returns
    -------
    dict
        ``dt``; ``spike_times`` (ms); ``v`` (mV, one sample per time step from t = 0, as
        PyNN records it); ``cell`` (the parameters).
    """
    sim.setup(timestep=dt, min_delay=dt, **(backend_options or {}))
    exc = sim.Population(1, sim.SpikeSourceArray(spike_times=EXCITATORY), label="exc")
    inh = sim.Population(1, sim.SpikeSourceArray(spike_times=INHIBITORY), label="inh")
    cell = sim.Population(1, sim.IF_curr_exp(**CELL), label="cell")
    cell.record(["spikes", "v"])
    sim.Projection(exc, cell, sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=w_exc, delay=dt), receptor_type="excitatory")
    sim.Projection(inh, cell, sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=w_inh, delay=dt), receptor_type="inhibitory")
    sim.run(t_stop)
    segment = cell.get_data().segments[0]
    spikes = [float(t) for t in segment.spiketrains[0].magnitude]
    v = segment.filter(name="v")[0]
    sim.end()
    return {"dt": dt, "spike_times": spikes, "v": [float(x) for x in v.magnitude[:, 0]],
            "cell": CELL}
