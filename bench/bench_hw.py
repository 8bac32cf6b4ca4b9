"""Hardware time-step rate, virtual board end to end, and the link, on the virtual board.

Every run loads the standard workload (``spikecore.workload.standard_workload``; activity and
STDP varied as named) into the Verilator virtual board through its UART, runs it, and reads the
gateware's own counters: clock cycles spent computing steps, and steps. Cycles per step times
a board's fmax (``build/<board>/report.json``) gives that board's steps/s.
"""

import json
import time
from pathlib import Path

import numpy as np

import spikecore
import spikecore.driver
from spikecore.workload import standard_workload

ROOT = Path(__file__).resolve().parent.parent

#: NeuroCoreX (ORNL, 2025): 90 neurons, 100 MHz, fixed 0.96 ms wall-clock steps.
NEUROCOREX_STEPS_PER_S = 1040


def synapse_ops(inputs, spikes, net):
    """Return the synapse operations per step: accumulate, then STDP rows and columns."""
    n_src = net.n_inputs + net.n_neurons
    previous = np.vstack([np.zeros((1, net.n_neurons), bool), spikes[:-1]])
    delivered = inputs.sum(1) + previous.sum(1)
    ops = delivered * net.n_neurons
    if net.learning.enabled:
        ops = ops + delivered * net.n_neurons + spikes.sum(1) * n_src
    return ops


def run_config(core, steps, p, learning, **geometry):
    net, inputs, _ = standard_workload(learning=learning, input_probability=p, **geometry)
    inputs = inputs[:steps]
    stats = core.link.stats
    sent0, payload0 = stats.wire_sent, stats.payload_sent
    t = time.perf_counter()
    core.load(net)
    load_s = time.perf_counter() - t
    upload = {"wire_bytes": stats.wire_sent - sent0, "payload_bytes": stats.payload_sent - payload0,
              "seconds": round(load_s, 2)}
    sent0, recv0 = stats.wire_sent, stats.wire_received
    t = time.perf_counter()
    spikes = core.run(inputs)
    run_s = time.perf_counter() - t
    counters = core.counters()
    ops = synapse_ops(inputs, spikes, net)
    lanes = core.identity.lanes
    return {
        "input_probability": p, "learning": learning, "steps": steps, "lanes": lanes,
        "cycles_per_step": counters["cycles"] / counters["steps"],
        "bound_cycles_per_step": float(ops.mean()) / lanes,
        "synapse_ops_per_step": float(ops.mean()),
        "input_spikes_per_step": float(inputs.sum(1).mean()),
        "output_spikes_per_step": float(spikes.sum(1).mean()),
        "end_to_end_steps_per_s": steps / run_s,
        "wire_bytes_per_step_to_device": (stats.wire_sent - sent0) / steps,
        "wire_bytes_per_step_from_device": (stats.wire_received - recv0) / steps,
        "upload": upload,
        "matches_model": bool(np.array_equal(spikes, spikecore.model.Model(net).run(inputs))),
    }


def board_reports():
    """Return ``{board: report}`` for every ``build/<board>/report.json`` with an fmax (builds
    in folders not named after their board are explorations and are left out)."""
    reports = {}
    for path in sorted((ROOT / "build").glob("*/report.json")):
        report = json.loads(path.read_text())
        if report.get("fmax_mhz") and path.parent.name == report.get("board"):
            reports[report["board"]] = report
    return reports


def harness_cycles_per_s(n_inputs, n_neurons, lanes=None, cycles=2_000_000):
    import subprocess
    from spikecore.sim import build
    exe = build(n_inputs, n_neurons, lanes)
    out = subprocess.run([str(exe), "--bench-cycles", str(cycles)], capture_output=True,
                         text=True, check=True).stdout
    return float(out.split(":")[1].split()[0])


def standard_config(configs):
    """Return the measured configuration of the standard workload (10 %, STDP on)."""
    return next(c for c in configs if c["input_probability"] == 0.1 and c["learning"])


def bench_hardware(results, quick):
    import spikecore.model  # noqa: F401  (run_config uses it)
    net, _, spec = standard_workload()
    steps = 200 if quick else spec["steps"]
    configs = []
    with spikecore.connect("sim://", n_inputs=net.n_inputs, n_neurons=net.n_neurons) as core:
        for p in (0.01, 0.1, 0.3):
            for learning in (True, False):
                r = run_config(core, steps, p, learning)
                configs.append(r)
                print(f"activity {p:.0%}, STDP {'on' if learning else 'off'}: "
                      f"{r['cycles_per_step']:,.0f} cycles/step (bound "
                      f"{r['bound_cycles_per_step']:,.0f}, "
                      f"{r['cycles_per_step'] / r['bound_cycles_per_step']:.3f}x), virtual board "
                      f"{r['end_to_end_steps_per_s']:,.0f} steps/s end to end, "
                      f"matches model: {r['matches_model']}")
    results["hw_cycles"] = {"value": configs, "unit": "per configuration",
                            "workload": "standard, activity and STDP varied",
                            "what": "gateware CYCLES/STEPS counters on the virtual board"}
    standard = standard_config(configs)
    results["sim_end_to_end_standard"] = {
        "value": round(standard["end_to_end_steps_per_s"], 1), "unit": "steps/s",
        "workload": "standard", "steps": standard["steps"],
        "what": "driver -> UART -> gateware -> spikes back, virtual board"}
    results["sim_harness_cycles_per_s"] = {
        "value": round(harness_cycles_per_s(net.n_inputs, net.n_neurons)), "unit": "cycles/s",
        "what": "Verilated top, 256 + 256, idle cycles"}
    upload = standard["upload"]
    results["link"] = {
        "value": {
            "weight_upload_payload_per_wire": round(upload["payload_bytes"] /
                                                    upload["wire_bytes"], 4),
            "load_wire_bytes": upload["wire_bytes"],
            "load_seconds_at_3_mbaud": round(upload["wire_bytes"] * 10 / 3e6, 3),
            "spike_streaming": [
                {"input_probability": c["input_probability"], "learning": c["learning"],
                 "to_device_bytes_per_step": round(c["wire_bytes_per_step_to_device"], 1),
                 "from_device_bytes_per_step": round(c["wire_bytes_per_step_from_device"], 1),
                 "link_steps_per_s_at_3_mbaud": round(3e6 / 10 / max(
                     c["wire_bytes_per_step_to_device"], c["wire_bytes_per_step_from_device"]))}
                for c in configs],
        }, "unit": "ratios, bytes, seconds",
        "what": "load() of the standard network (weights, parameters, settings, masks)"}


def geometry_cycles(n_inputs, n_neurons, lanes, steps, top_options=None):
    """Return the measured standard configuration (10 %, STDP on) of the standard recipe at
    another geometry (and a board's top-level options), on a virtual board of that gateware."""
    with spikecore.connect("sim://", n_inputs=n_inputs, n_neurons=n_neurons,
                           lanes=lanes, top_options=top_options) as core:
        return run_config(core, steps, 0.1, True, n_inputs=n_inputs, n_neurons=n_neurons)


def bench_boards(results, quick):
    """Steps/s per board: fmax of build/<board>/report.json over the cycles/step measured on a
    virtual board of the geometry that was built (the standard workload when that is 256 +
    256; else its recipe at the built geometry, said in the row)."""
    if "hw_cycles" not in results:
        print("no hardware cycles measured yet: run the hardware section first")
        return False
    standard = standard_config(results["hw_cycles"]["value"])
    net, _, spec = standard_workload()
    steps = 200 if quick else spec["steps"]
    measured = {(net.n_inputs, net.n_neurons, standard["lanes"]): standard}
    boards = {}
    for board, report in board_reports().items():
        geometry = (report["n_inputs"], report["n_neurons"], report["lanes"])
        options = report.get("top_options") or {}
        workload = ("standard" if geometry[:2] == (net.n_inputs, net.n_neurons) else
                    f"standard recipe at {geometry[0]} + {geometry[1]}")
        key = geometry + tuple(sorted(options.items()))
        if key not in measured:
            try:
                measured[key] = geometry_cycles(*geometry, steps=steps, top_options=options)
            except spikecore.driver.LinkError as exc:
                # Reported, not hidden: the row says the virtual board run failed.
                measured[key] = {"error": f"{type(exc).__name__}: {exc}"}
        config = measured[key]
        met = bool(report.get("timing_met"))
        boards[board] = row = {"fmax_mhz": report["fmax_mhz"], "target_mhz": report["target_mhz"],
                               "timing_met": met, "geometry": list(geometry),
                               "top_options": options, "workload": workload}
        if "error" in config:
            print(f"{board}: the virtual board run at {geometry} failed: {config['error']}")
            row["error"] = config["error"]
            continue
        cycles = config["cycles_per_step"]
        rate = report["fmax_mhz"] * 1e6 / cycles
        # What the bitstream runs at: its PLL clock, when timing closed there.
        clock_hz = report.get("clk_hz") or report["target_mhz"] * 1e6
        clock_rate = clock_hz / cycles if met else None
        row.update({"cycles_per_step": round(cycles, 1),
                    "bound_cycles_per_step": round(config["bound_cycles_per_step"], 1),
                    "matches_model": config["matches_model"],
                    "steps_per_s": round(rate),
                    "clock_steps_per_s": None if clock_rate is None else round(clock_rate),
                    "synaptic_events_per_s": round(rate * config["synapse_ops_per_step"]),
                    "vs_neurocorex": round(rate / NEUROCOREX_STEPS_PER_S, 1)})
        print(f"{board}: {geometry[0]} + {geometry[1]}, {geometry[2]} lanes ({workload}): "
              f"{cycles:,.0f} cycles/step, {rate:,.0f} steps/s at {report['fmax_mhz']} MHz")
    results["board_steps_per_s"] = {
        "value": boards, "unit": "steps/s at fmax",
        "what": "fmax (report.json of that build) / cycles per step measured on a virtual "
                "board of the built geometry", "neurocorex_steps_per_s": NEUROCOREX_STEPS_PER_S}


#: Neuron counts and lanes of the hardware scaling sweep (256 inputs, standard recipe).
SCALING_NEURONS = (64, 128, 256, 512)
SCALING_LANES = 16


def bench_hardware_scaling(results, quick):
    """Cycles per step on the virtual board as n_neurons grows (10 % activity, STDP on)."""
    steps = 100 if quick else 300
    sweep = {}
    for n in SCALING_NEURONS:
        net, inputs, _ = standard_workload(n_neurons=n)
        inputs = inputs[:steps]
        with spikecore.connect("sim://", n_inputs=net.n_inputs, n_neurons=n,
                               lanes=SCALING_LANES) as core:
            core.load(net)
            spikes = core.run(inputs)
            counters = core.counters()
        ops = synapse_ops(inputs, spikes, net)
        cycles = counters["cycles"] / counters["steps"]
        sweep[n] = {"cycles_per_step": round(cycles, 1),
                    "bound_cycles_per_step": round(float(ops.mean()) / SCALING_LANES, 1),
                    "steps": steps,
                    "matches_model": bool(np.array_equal(
                        spikes, spikecore.model.Model(net).run(inputs)))}
        print(f"hardware, {net.n_inputs} inputs + {n} neurons, {SCALING_LANES} lanes: {cycles:,.0f} "
              f"cycles/step (bound {sweep[n]['bound_cycles_per_step']:,.0f}), matches model: "
              f"{sweep[n]['matches_model']}")
    results["hw_scaling"] = {"value": sweep, "unit": "cycles/step by n_neurons",
                             "workload": "standard recipe with n_neurons varied, 16 lanes",
                             "what": "gateware counters on the virtual board"}
