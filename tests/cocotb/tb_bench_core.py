"""cocotb bench: cycles per step of ``Core`` on the standard workload (see bench/bench_cycles.py).

``TB_PARAMS`` (JSON): ``steps`` to run and ``out``, a path for the JSON result.
"""

import json
import os

import cocotb
from spikecore.spec import Counter, Space
from spikecore.workload import standard_workload
from tb_core import TB

PARAMS = json.loads(os.environ.get("TB_PARAMS", "{}"))


@cocotb.test()
async def standard_cycles(dut):
    """Run the standard workload, check spikes against the model, report cycles per step."""
    net, inputs, _ = standard_workload(input_probability=PARAMS.get("p"),
                                       learning=PARAMS.get("learning"))
    steps = PARAMS.get("steps", 100)
    tb = TB(dut, net.n_inputs, net.n_neurons)
    await tb.start()
    await tb.load(net)
    model = tb.model

    async def cycles():
        lo = await tb.read(Space.COUNTER, Counter.CYCLES_LO.value) & 0xFFFFFFFF
        hi = await tb.read(Space.COUNTER, Counter.CYCLES_HI.value) & 0xFFFFFFFF
        return (hi << 32) | lo

    start = await cycles()
    ops = 0
    spikes = 0
    per_step = []
    for t in range(steps):
        s_prev = model.s_prev.copy()
        before = await cycles()
        spiked = await tb.step(inputs[t])           # checked against the model by tb
        per_step.append(await cycles() - before)
        delivered = int(inputs[t].sum() + s_prev.sum())
        ops += delivered * net.n_neurons
        if net.learning.enabled:
            ops += delivered * net.n_neurons + int(spiked.sum()) * (net.n_inputs + net.n_neurons)
        spikes += int(spiked.sum())
    assert tb.checked == steps
    total = await cycles() - start
    result = {"steps": steps, "cycles": total, "cycles_per_step": total / steps,
              "synapse_ops_per_step": ops / steps, "spikes_per_step": spikes / steps,
              "min_step": min(per_step), "max_step": max(per_step)}
    dut._log.info(json.dumps(result))
    if PARAMS.get("out"):
        with open(PARAMS["out"], "w") as f:
            json.dump(result, f, indent=1)
