"""Turn bench/results/latest.json into docs/performance.md and its plots."""

from pathlib import Path


def _row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def write_report(out, docs):
    r = out["results"]
    m = out["machine"]
    lines = ["# Performance", "",
             f"Last written by `make bench` on {m['date']} ({m['cpu']}, {m['cores']} cores, "
             f"Python {m['python']}, commit {m['commit']}). Every figure uses the standard "
             "workload (shared/workloads/standard.json: 256 inputs at 10 % per step, 256 "
             "neurons all-to-all, trace STDP on) unless it says otherwise. Raw numbers: "
             "bench/results/latest.json.", ""]
    if "sections" in r:
        # A partial run (--only) keeps the other sections' figures: each has its own date.
        lines += [_row(["section", "measured", "commit", "load average (1 min) before / after"]),
                  _row(["---"] * 4)]
        lines += [_row([name, s["date"], s.get("commit"),
                        " / ".join(str(x) for x in s["load_average_1min"])])
                  for name, s in r["sections"].items()]
        lines += ["", f"This machine has {m['cores']} cores: a load average near or above that "
                  "means other jobs shared the CPU, and the wall-clock figures of that section "
                  "(steps/s, cycles/s) are low. Cycle counts do not depend on it.", ""]
    lines += ["## Golden model vs Brian2", "",
              _row(["simulator", "steps/s", "model speed-up"]), _row(["---"] * 3)]
    if "model_standard" in r:
        lines.append(_row(["spikecore golden model (numpy)", f"{r['model_standard']['value']:,}",
                           "1"]))
    for target in ("numpy", "cython"):
        key = f"brian2_{target}_standard"
        if key in r:
            lines.append(_row([f"Brian2 {m['versions'].get('brian2')} ({target} target)",
                               f"{r[key]['value']:,}",
                               f"{r[f'model_vs_brian2_{target}']['value']}x"]))
    if "brian2_numpy_standard" not in r:
        lines.append("")
        lines.append("Brian2 was not installed for this run (`pip install -e '.[bench]'`).")
    lines.append("")
    if "model_scaling" in r:
        rates = r["model_scaling"]["value"]
        lines += ["## Model scaling", "", _row(["neurons (256 inputs)", "steps/s"]),
                  _row(["---"] * 2)]
        lines += [_row([n, f"{v:,}"]) for n, v in rates.items()]
        lines += ["", "![model scaling](model_scaling.png)", ""]
        _plot_scaling(rates, docs / "model_scaling.png")
    lines += _hardware_sections(r)
    if "hw_scaling" in r:
        sweep = r["hw_scaling"]["value"]
        lines += ["## Hardware scaling (gateware counters, virtual board)", "",
                  "256 inputs, 16 lanes, 10 % input activity, STDP on; "
                  f"{next(iter(sweep.values()))['steps']} steps of the standard recipe with "
                  "n_neurons varied.", "",
                  _row(["neurons", "cycles/step", "bound", "ratio", "bit-exact"]),
                  _row(["---"] * 5)]
        lines += [_row([n, f"{v['cycles_per_step']:,.0f}", f"{v['bound_cycles_per_step']:,.0f}",
                        f"{v['cycles_per_step'] / v['bound_cycles_per_step']:.3f}",
                        "yes" if v["matches_model"] else "NO"]) for n, v in sweep.items()]
        lines += ["", "![hardware scaling](hw_scaling.png)", ""]
        _plot_hw_scaling(sweep, docs / "hw_scaling.png")
    for section in out.get("sections_md", []):
        lines += section
    (docs / "performance.md").write_text("\n".join(lines) + "\n")


def _plot_scaling(rates, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ns = [int(n) for n in rates]
    ax.loglog(ns, list(rates.values()), "o-")
    ax.set_xlabel("neurons (256 inputs, 10 % input activity, STDP on)")
    ax.set_ylabel("golden model steps/s")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_hw_scaling(sweep, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ns = [int(n) for n in sweep]
    ax.loglog(ns, [v["cycles_per_step"] for v in sweep.values()], "o-", label="measured")
    ax.loglog(ns, [v["bound_cycles_per_step"] for v in sweep.values()], "--",
              label="bound (synapse ops / lanes)")
    ax.set_xlabel("neurons (256 inputs, 10 % input activity, STDP on, 16 lanes)")
    ax.set_ylabel("cycles per step")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _hardware_sections(r):
    lines = []
    if "hw_cycles" in r:
        lines += ["## Hardware time-step rate (gateware counters, virtual board)", "",
                  "256 inputs + 256 neurons, the virtual board's lanes; the bound is synapse "
                  "operations per step / lanes (accumulate |D|·N, plus with STDP the rows "
                  "|D|·N and columns |S|·(inputs + N)).", "",
                  _row(["input activity", "STDP", "cycles/step", "bound", "ratio",
                        "spikes/step in / out", "bit-exact"]), _row(["---"] * 7)]
        for c in r["hw_cycles"]["value"]:
            lines.append(_row([f"{c['input_probability']:.0%}", "on" if c["learning"] else "off",
                               f"{c['cycles_per_step']:,.0f}",
                               f"{c['bound_cycles_per_step']:,.0f}",
                               f"{c['cycles_per_step'] / c['bound_cycles_per_step']:.3f}",
                               f"{c['input_spikes_per_step']:.1f} / "
                               f"{c['output_spikes_per_step']:.1f}",
                               "yes" if c["matches_model"] else "NO"]))
        lines.append("")
    if "board_steps_per_s" in r:
        b = r["board_steps_per_s"]
        lines += ["## Steps/s per board (fmax x cycles/step)", "",
                  _row(["board", "built geometry", "workload", "cycles/step (bound)",
                        "fmax (MHz)", "steps/s at fmax", "synaptic events/s", "vs NeuroCoreX",
                        "clock (MHz)", "steps/s at the clock"]), _row(["---"] * 10)]
        for board, v in b["value"].items():
            if "error" in v:
                lines.append(_row([board, "+".join(str(x) for x in v["geometry"]),
                                   v["workload"], f"virtual board run failed: {v['error']}",
                                   v["fmax_mhz"], "", "", "", f"{v['target_mhz']:g}", ""]))
                continue
            clock = v.get("clock_steps_per_s")
            cycles = (f"{v['cycles_per_step']:,.0f} ({v['bound_cycles_per_step']:,.0f})"
                      if "cycles_per_step" in v else "")
            if not v.get("matches_model", True):
                cycles += ", spikes NOT bit-exact"
            lines.append(_row([board, "+".join(str(x) for x in v["geometry"]),
                               v.get("workload", "standard"), cycles, v["fmax_mhz"],
                               f"{v['steps_per_s']:,}", f"{v['synaptic_events_per_s']:,}",
                               f"{v['vs_neurocorex']}x", f"{v['target_mhz']:g}",
                               "timing not met" if clock is None else f"{clock:,}"]))
        if not b["value"]:
            lines.append("_No build/<board>/report.json found: run `make bitstream BOARD=...`._")
        lines += ["", f"NeuroCoreX: ~{b['neurocorex_steps_per_s']:,} steps/s (90 neurons, "
                  "fixed 0.96 ms steps). A board row uses the build in build/<board>/: its "
                  "nextpnr fmax, and the PLL clock the bitstream runs at when timing closed "
                  "there, over the cycles per step counted on a virtual board of the geometry "
                  "that was built (spikes checked against the model). A board built at another "
                  "geometry than 256 + 256 runs the standard recipe at its own size (10 % input "
                  "activity, STDP on), which is less work a step.", ""]
    if "sim_end_to_end_standard" in r:
        lines += ["## Virtual board end to end", "",
                  f"Driver -> UART -> gateware -> spikes back: "
                  f"{r['sim_end_to_end_standard']['value']:,} steps/s on the standard workload "
                  f"(bit-exact with the model); the Verilated 256 + 256 top runs "
                  f"{r['sim_harness_cycles_per_s']['value']:,} cycles/s.", ""]
    if "link" in r:
        v = r["link"]["value"]
        lines += ["## Link", "",
                  f"Loading the standard network: {v['load_wire_bytes']:,} wire bytes, "
                  f"{v['weight_upload_payload_per_wire']:.1%} payload per wire byte, "
                  f"{v['load_seconds_at_3_mbaud']} s at 3 Mbaud.", "",
                  _row(["input activity", "STDP", "bytes/step to device",
                        "bytes/step from device", "link-bound steps/s at 3 Mbaud"]),
                  _row(["---"] * 5)]
        for s in v["spike_streaming"]:
            lines.append(_row([f"{s['input_probability']:.0%}", "on" if s["learning"] else "off",
                               s["to_device_bytes_per_step"], s["from_device_bytes_per_step"],
                               f"{s['link_steps_per_s_at_3_mbaud']:,}"]))
        lines.append("")
    if "end_to_end" in r:
        e = r["end_to_end"]
        form = e["rate_form"]
        lines += ["## End to end on each board", "",
                  "What a user gets: min(compute bound = the bitstream's clock / cycles per "
                  "step, link bound = baud / 10 / bytes per step of the busier direction), each "
                  "measured on a virtual board of the board's gateware. *Streamed*: the "
                  "standard workload's inputs sent every step, its spikes back. *Generated*: "
                  f"its rate form — every input at rate {form['rate']} on the device's "
                  f"generators, no streamed inputs, spike counts per call of "
                  f"{form['steps_per_call']} steps (on a build without generators or counts "
                  "the driver supplies them: host-generated inputs streamed, spikes counted "
                  "from the records).", "",
                  "The two forms draw different random inputs at the same rate, so their "
                  "networks learn and spike differently (spikes out per step, in the table); "
                  "the core's cycles follow its synapse operations, which grow with them.", "",
                  _row(["board", "geometry", "inputs", "clock (MHz)", "spikes out/step",
                        "cycles/step", "bytes/step to / from", "compute bound", "link bound",
                        "steps/s", "bit-exact"]), _row(["---"] * 11)]
        for board, v in e["value"].items():
            for mode in ("streamed", "generated"):
                m = v[mode]
                lines.append(_row([board, "+".join(map(str, v["geometry"])), mode,
                                   v["clock_mhz"], m.get("output_spikes_per_step", ""),
                                   f"{m['cycles_per_step']:,.0f}",
                                   f"{m['to_device_bytes_per_step']:.2f} / "
                                   f"{m['from_device_bytes_per_step']:.2f}",
                                   f"{m['compute_steps_per_s']:,}", f"{m['link_steps_per_s']:,}",
                                   f"**{m['steps_per_s']:,}** ({m['bound']})",
                                   "yes" if m["matches_model"] else "NO"]))
        lines.append("")
    if "digits_on_boards" in r:
        d = r["digits_on_boards"]
        lines += ["## The digits task on each board", "",
                  f"Images per second of the digits task (docs/experiments.md), presented with "
                  f"`core.present` (each image's 64 rates to the device's generators, a reset, "
                  f"its steps, 256 counts back), the network padded to the board's geometry; "
                  f"{d['images']} images per phase on a virtual board of the board's gateware; "
                  f"images/s = min(clock / cycles per image, baud / 10 / bytes per image).", "",
                  _row(["board", "phase", "steps/image", "cycles/image",
                        "bytes/image to / from", "compute bound", "link bound", "images/s"]),
                  _row(["---"] * 8)]
        for board, v in d["value"].items():
            if "error" in v:
                lines.append(_row([board, "", "", v["error"], "", "", "", ""]))
                continue
            for phase in ("training", "inference"):
                p = v[phase]
                lines.append(_row([board, phase, p["steps_per_image"],
                                   f"{p['cycles_per_image']:,}",
                                   f"{p['bytes_per_image_to_device']:,} / "
                                   f"{p['bytes_per_image_from_device']:,}",
                                   f"{p['compute_images_per_s']:,}",
                                   f"{p['link_images_per_s']:,}",
                                   f"**{p['images_per_s']:,}** ({p['bound']})"]))
        lines.append("")
    return lines
