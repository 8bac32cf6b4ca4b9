"""Measure the virtual board: end-to-end steps/s through the UART and the harness's cycles/s.

    python -m spikecore.sim.bench [--steps N] [--n-neurons N] [--no-learning] [--lanes L]

runs the standard workload (``spikecore.workload``) on the virtual board and on the golden
model, checks that the spikes agree, and prints one JSON line of results.
"""

import argparse
import json
import re
import subprocess
import sys
import time

import numpy as np

from .board import VirtualBoard
from .build import DEFAULT_DIVISOR, build

__all__ = ["measure", "main"]

_STATS = re.compile(r"(\d+) cycles, ([\d.]+) s simulating \((\d+) cycles/s\), ([\d.]+) s wall")


def measure(steps=2000, *, n_neurons=None, learning=None, lanes=None, divisor=DEFAULT_DIVISOR,
            check=True):
    """Run *steps* steps of the standard workload on the virtual board; return a dict."""
    from ..driver import open_device
    from ..workload import standard_workload
    net, inputs, spec = standard_workload(learning=learning, n_neurons=n_neurons)
    inputs = inputs[:steps]
    if len(inputs) < steps:
        reps = -(-steps // len(inputs))
        inputs = np.concatenate([inputs] * reps)[:steps]
    t = time.perf_counter()
    exe = build(net.n_inputs, net.n_neurons, lanes, divisor=divisor)
    build_s = time.perf_counter() - t
    board = VirtualBoard(exe, stats=True, stderr=subprocess.PIPE)
    try:
        with open_device(board.url) as core:
            t = time.perf_counter()
            core.load(net)
            load_s = time.perf_counter() - t
            t = time.perf_counter()
            spikes = core.run(inputs)
            run_s = time.perf_counter() - t
            counters = core.counters()
    finally:
        board.close()
    stats = board.process.stderr.read().decode(errors="replace")
    board.process.stderr.close()
    result = {
        "n_inputs": net.n_inputs, "n_neurons": net.n_neurons, "lanes": lanes,
        "learning": bool(net.learning.enabled), "divisor": divisor, "steps": steps,
        "input_spikes_per_step": float(inputs.sum(1).mean()),
        "output_spikes_per_step": float(spikes.sum(1).mean()),
        "build_s": round(build_s, 2), "load_s": round(load_s, 3), "run_s": round(run_s, 3),
        "steps_per_s": round(steps / run_s, 1), "core_cycles": counters.get("cycles"),
    }
    match = _STATS.search(stats)
    if match:
        cycles, busy, rate, wall = match.groups()
        result.update(harness_cycles=int(cycles), harness_cycles_per_s=int(rate),
                      harness_busy_s=float(busy), harness_wall_s=float(wall))
        result["cycles_per_step"] = round(int(cycles) / steps, 1)
    if check:
        from ..model import Model
        result["matches_model"] = bool(np.array_equal(spikes, Model(net).run(inputs)))
    return result


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m spikecore.sim.bench", description=__doc__)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--n-neurons", type=int, default=None)
    p.add_argument("--lanes", type=int, default=None)
    p.add_argument("--divisor", type=int, default=DEFAULT_DIVISOR)
    p.add_argument("--no-learning", action="store_true")
    p.add_argument("--no-check", action="store_true")
    args = p.parse_args(argv)
    result = measure(args.steps, n_neurons=args.n_neurons, lanes=args.lanes,
                     divisor=args.divisor, learning=False if args.no_learning else None,
                     check=not args.no_check)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
