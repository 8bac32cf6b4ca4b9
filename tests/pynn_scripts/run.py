"""Run one of these PyNN scripts on a backend and print its result as JSON.

    python tests/pynn_scripts/run.py BACKEND SCRIPT [NAME=VALUE ...] [--url URL]

BACKEND is ``brian2`` (pyNN.brian2: run it with the reference venv, ``.venv-ref/bin/python``,
which ``make pynn-reference`` creates) or ``spikecore`` (spikecore.pynn, with the project venv;
``--url`` says where, ``model://`` by default). SCRIPT names a module of this folder
(``single_neuron``, ``balanced``, ``stdp_window``); each VALUE is read as JSON, so ``seed=3``
is a number and ``lags=[-10,10]`` a list. ``seed=[0,1,2]`` runs the script once per seed and
prints a list of results.

The scripts are plain PyNN: they never name a backend. What differs between backends is said
here: pyNN.brian2 draws its Poisson spikes from Brian2's own generator, which this runner seeds
with the seed (0 unless given), and puts spike sources on Brian2's default clock, which this
runner sets to the script's timestep; spikecore.pynn is given ``url`` and ``rng_seed`` (its
Poisson generators' seed) in ``setup``.
"""

import argparse
import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("single_neuron", "balanced", "stdp_window")


def backend(name, url):
    """Import backend ``name``; return (its PyNN module, a function of the seed that seeds the
    backend and returns the extra keyword arguments of ``setup``)."""
    if name == "brian2":
        import brian2
        import pyNN.brian2 as sim
        brian2.prefs.codegen.target = "numpy"     # no compiler run; fast enough at this size
        setup = sim.setup

        def setup_on_one_clock(timestep=0.1, *args, **kwargs):          # PyNN's default
            # pyNN.brian2 0.13 puts SpikeSourceArray on Brian2's default clock (0.1 ms), not on
            # the network's: at another timestep their spikes would be delivered off the grid.
            brian2.defaultclock.dt = timestep * brian2.ms
            return setup(timestep, *args, **kwargs)

        sim.setup = setup_on_one_clock

        def options(seed):
            brian2.seed(seed)
            return {}
        return sim, options
    if name == "spikecore":
        import spikecore.pynn as sim
        return sim, lambda seed: {"url": url, "rng_seed": seed}
    raise ValueError(f"backend must be 'brian2' or 'spikecore', not {name!r}")


def run(backend_name, script, params, url="model://", sim=None):
    """Run ``script`` (a module name) on ``backend_name`` with ``params``; return its result.

    A list of seeds runs it once per seed and returns the list of results. ``sim`` replaces
    the backend's module (a wrapper of it, say).
    """
    if script not in SCRIPTS:
        raise ValueError(f"script must be one of {', '.join(SCRIPTS)}, not {script!r}")
    module_, options = backend(backend_name, url)
    sim = sim or module_
    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    module = importlib.import_module(f"pynn_scripts.{script}")
    seeds = params.get("seed", 0)
    if isinstance(seeds, list):
        return [module.run(sim, backend_options=options(s), **{**params, "seed": s})
                for s in seeds]
    return module.run(sim, backend_options=options(seeds), **params)


def parse_params(pairs):
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"parameters are NAME=VALUE, not {pair!r}")
        params[name] = json.loads(value)
    return params


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backend", choices=("brian2", "spikecore"))
    parser.add_argument("script", choices=SCRIPTS)
    parser.add_argument("params", nargs="*", metavar="NAME=VALUE")
    parser.add_argument("--url", default="model://", help="spikecore only (default model://)")
    args = parser.parse_args(argv)
    result = run(args.backend, args.script, parse_params(args.params), url=args.url)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
