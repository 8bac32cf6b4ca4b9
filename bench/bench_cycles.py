"""Measure the core's clock cycles per step on the standard workload (Verilator via cocotb).

Usage: ``.venv/bin/python bench/bench_cycles.py [STEPS] [LANES] [P] [LEARNING]`` (P: input
probability, default the workload's 0.1; LEARNING: 1 or 0). Loads the 256 + 256 standard
network through the control interface, runs STEPS steps (default 100) checking every step's
spikes against the golden model, and prints cycles/step from the core's CYCLES counter next to
the synapse operations per step (accumulate |D|·n_neurons + STDP rows |D|·n_neurons + columns
|S|·n_sources). Takes a few minutes (most of it the weight upload); not part of the test suite.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hdl import run_cocotb  # noqa: E402
from spikecore.hw.core import Core  # noqa: E402
from spikecore.workload import standard_workload  # noqa: E402


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    lanes = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    p = float(sys.argv[3]) if len(sys.argv) > 3 else None
    learning = bool(int(sys.argv[4])) if len(sys.argv) > 4 else None
    net, _, _ = standard_workload()
    out = ROOT / "build" / f"bench_cycles_{lanes}_{p}_{learning}.json"
    params = {"steps": steps, "out": str(out), "p": p, "learning": learning}
    run_cocotb(Core(net.n_inputs, net.n_neurons, lanes), "cocotb.tb_bench_core",
               name=f"core_{net.n_inputs}x{net.n_neurons}_l{lanes}",
               extra_env={"TB_PARAMS": json.dumps(params)})
    result = json.loads(out.read_text())
    result["lanes"] = lanes
    result["ops_per_lane_per_step"] = result["synapse_ops_per_step"] / lanes
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
