"""The ``spikecore`` command line.

    spikecore info URL                     what the device at URL is
    spikecore run URL NETWORK INPUTS -o OUT [--plot raster.png]   (NETWORK: .npz, or .nir + --dt)
    spikecore import MODEL.nir --dt DT -o NET.npz [--t-ref N | --t-ref NODE=N,...]
    spikecore demo [--url URL] [--steps N] [--plot raster.png]
    spikecore digits [--url URL] [--seed N] [--epochs E] [--plot DIR] [--json FILE]
    spikecore sweep --grid KEY=V1,V2 [--grid ...] --seeds 0,1 [--scheduler ADDRESS] [--workers N]
                    [--url URL ...] [--csv FILE] [--json FILE] [--plot FILE]
    spikecore sim --n-inputs A --n-neurons B [--port P | --pty]
    spikecore build --board NAME [--n-inputs A --n-neurons B --lanes L]
    spikecore program --board NAME

Every command takes ``--debug``: without it, a user error (a bad argument, file, URL or network,
a link or device failure, a missing extra) prints one line ``spikecore: error: ...`` and exits
with status 2; with it, the traceback is shown. ``spikecore sweep`` exits with status 1 if any of
its tasks failed (each failure is in its row of the table; the other rows are complete).
"""

import argparse
import json
import sys

import numpy as np

__all__ = ["main"]


def _connect(url, args):
    from . import connect
    options = {}
    if url.startswith("sim:"):
        options = {"n_inputs": args.n_inputs, "n_neurons": args.n_neurons}
        options = {k: v for k, v in options.items() if v is not None}
    return connect(url, **options)


def cmd_info(args):
    with _connect(args.url, args) as core:
        print(json.dumps(core.info(), indent=2, default=str))


def _steps_or_zero(text):
    """argparse helper: a number of steps, zero allowed."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of steps, not {text!r}") \
            from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {value}")
    return value


def _t_ref(text):
    """argparse type: refractory steps for every node (N) or per node (NODE=N,NODE=N)."""
    if "=" not in text:
        return _steps_or_zero(text)
    pairs = {}
    for item in text.split(","):
        node, _, steps = item.rpartition("=")
        if not node:
            raise argparse.ArgumentTypeError(f"expected NODE=STEPS, not {item!r}")
        pairs[node] = _steps_or_zero(steps)
    return pairs


def _import_nir(path, args, **geometry):
    from .nir import from_nir
    if args.dt is None:
        raise ValueError(f"{path} is a NIR model: give --dt (seconds per step), which NIR "
                         f"graphs do not carry (snnTorch exports assume 1e-4)")
    return from_nir(path, dt=args.dt, t_ref=args.t_ref, **geometry)


def cmd_import(args):
    imp = _import_nir(args.model, args, n_inputs=args.n_inputs, n_neurons=args.n_neurons)
    imp.network.save(args.output)
    print(imp.report)
    print(f"{imp.network} -> {args.output}")
    for name, axons in imp.inputs.items():
        print(f"  input {name}: axons {axons[0]}..{axons[-1]}")
    for delay, axon in imp.bias_axons.items():
        print(f"  always-on bias axon {axon} (on from step {delay})")
    for name, neurons in imp.neurons.items():
        print(f"  {name}: neurons {neurons[0]}..{neurons[-1]}, {imp.delay[name]} step(s) "
              f"behind the graph")


def _run_nir(args):
    if args.inputs is None or args.steps or args.counts:
        raise ValueError("a .nir model runs on an inputs file (no --steps or --counts)")
    imp = _import_nir(args.network, args)
    inputs = np.load(args.inputs)
    if args.n_inputs is None:
        args.n_inputs, args.n_neurons = imp.network.n_inputs, imp.network.n_neurons
    with _connect(args.url, args) as core:
        if core.n_inputs is not None and (core.n_inputs, core.n_neurons) != \
                (imp.network.n_inputs, imp.network.n_neurons):
            imp = _import_nir(args.network, args, n_inputs=core.n_inputs,
                              n_neurons=core.n_neurons)
        core.load(imp.network)
        out = imp.run(core, inputs)
    names = list(imp.outputs) or list(imp.neurons)
    spikes = np.concatenate([out[name] for name in names], axis=1)
    np.save(args.output, spikes)
    print(f"{len(spikes)} steps, {int(spikes.sum())} spikes of {', '.join(names)} "
          f"-> {args.output}")
    if args.plot:
        from .demo import plot_raster
        plot_raster(args.plot, inputs, spikes)
        print(f"raster plot -> {args.plot}")


def cmd_run(args):
    if str(args.network).endswith(".nir"):
        return _run_nir(args)
    from .network import Network
    if (args.inputs is None) == (args.steps is None):
        raise ValueError("run takes an inputs file or --steps N, not "
                         f"{'both' if args.inputs else 'neither'}")
    if args.counts and args.plot:
        raise ValueError("--plot draws spikes; it does not go with --counts")
    net = Network.load(args.network)
    inputs = None if args.inputs is None else np.load(args.inputs)
    if args.n_inputs is None:
        args.n_inputs, args.n_neurons = net.n_inputs, net.n_neurons
    with _connect(args.url, args) as core:
        core.load(net)
        record = "counts" if args.counts else "spikes"
        result = core.run(inputs, steps=args.steps, record=record)
        np.save(args.output, result)
        steps = args.steps or len(inputs)
        print(f"{steps} steps, {int(result.sum())} spikes -> {args.output}")
        if args.plot:
            spikes = result
            if inputs is None:
                inputs = np.zeros((steps, net.n_inputs), bool)
            from .demo import plot_raster
            plot_raster(args.plot, inputs, spikes)
            print(f"raster plot -> {args.plot}")


def cmd_demo(args):
    from .demo import run_demo
    args.n_inputs = args.n_neurons = None
    if args.url.startswith("sim:"):
        from .demo import N_INPUTS, N_NEURONS
        args.n_inputs, args.n_neurons = N_INPUTS, N_NEURONS
        print("building the virtual board (once per geometry; cached) ...", flush=True)
    with _connect(args.url, args) as core:
        run_demo(core, steps=args.steps, plot=args.plot, check=not args.no_check)


def _setting(text):
    """argparse type: KEY=VALUE, the value read as JSON (a number, true, a list) or a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def cmd_digits(args):
    from .digits import run_digits
    config = dict(args.set or [])
    for key in ("epochs", "n_train", "n_test"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    if args.url.startswith("sim:"):
        print("building the virtual board (once per geometry; cached) ...", flush=True)
    record = run_digits(config, args.seed, url=args.url, plot=args.plot,
                        log=lambda line: print(line, flush=True))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
        print(f"record -> {args.json}")
    for name, path in record.get("plots", {}).items():
        print(f"{name} plot -> {path}")
    print(f"total {record['timings']['total_s']:.1f} s")
    print(f"{record['eval_set']} accuracy {record['accuracy']:.3f} "
          f"(n_{record['eval_set']}={record['n_eval']}, seed {record['seed']})")


def _grid(text):
    """argparse type: KEY=V1,V2,... -> (key, [values]), each value read as JSON or a string."""
    key, sep, values = text.partition("=")
    if not sep or not key or not values:
        raise argparse.ArgumentTypeError(f"expected KEY=V1,V2,..., not {text!r}")
    try:                               # JSON values, lists among them: [0,32],[0,16]
        return key, json.loads(f"[{values}]")
    except json.JSONDecodeError:
        return key, [_setting(f"{key}={value}")[1] for value in values.split(",")]


def _seeds(text):
    """argparse type: 0,1,2 or a range 0-4 -> a list of non-negative seeds."""
    seeds = []
    for item in text.split(","):
        first, dash, last = item.partition("-")
        try:
            seeds += range(int(first), int(last) + 1) if dash else [int(first)]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected seeds like 0,1,2 or 0-4, not {text!r}") \
                from None
    if not seeds:
        raise argparse.ArgumentTypeError(f"no seeds in {text!r}")
    return seeds


def _table(rows, columns):
    """Return *rows* as aligned text columns (floats to three decimals)."""
    cells = [[f"{v:.3f}" if isinstance(v, float) else "-" if v is None else str(v)
              for v in (row.get(c) for c in columns)] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip()
                     for line in [list(columns), *cells])


def cmd_sweep(args):
    import time

    from .sweep import plot_sweep, summary, sweep, write_csv, write_json
    grid = {}
    for key, values in args.grid:
        if key in grid:
            raise ValueError(f"--grid {key} is given twice; list its values once: "
                             f"--grid {key}=V1,V2")
        grid[key] = values
    config = dict(args.set or [])
    for key in ("epochs", "n_train", "n_test"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    urls = args.url or ["model://"]
    start = time.perf_counter()
    rows = sweep(grid, args.seeds, config=config, url=urls if len(urls) > 1 else urls[0],
                 scheduler=args.scheduler, n_workers=args.workers, progress=not args.no_progress)
    elapsed = time.perf_counter() - start
    params = list(grid)
    print(_table(rows, [*params, "seed", "accuracy", "seconds", "error"]))
    print()
    print(_table(summary(rows), [*params, "n", "failed", "mean", "min", "max"]))
    for name, write, path in (("table (CSV)", write_csv, args.csv),
                              ("table (JSON)", write_json, args.json),
                              ("plot", plot_sweep, args.plot)):
        if path:
            write(rows, path)
            print(f"{name} -> {path}")
    failed = sum(row["error"] is not None for row in rows)
    print(f"{len(rows)} tasks, {failed} failed, {elapsed:.1f} s")
    return 1 if failed else 0


def _steps(text):
    """argparse type: a positive number of steps."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value}")
    return value


def _parser():
    parser = argparse.ArgumentParser(prog="spikecore", description=__doc__.split("\n")[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="describe the device at URL")
    p.add_argument("url")
    p.set_defaults(func=cmd_info, n_inputs=None, n_neurons=None)
    p = sub.add_parser("run", help="run a saved network on saved inputs")
    p.add_argument("url", help="model://, sim://, socket://HOST:PORT or a serial port")
    p.add_argument("network", help="network file written by Network.save (.npz), or a NIR "
                                   "model (.nir, with --dt)")
    p.add_argument("inputs", nargs="?",
                   help=".npy file of bool inputs (steps, n_inputs); for a .nir model, the "
                        "graph's input (steps, n). Leave it out with --steps: the network's "
                        "input generators (its rates) drive it")
    p.add_argument("-o", "--output", required=True,
                   help=".npy file for the spikes, or with --counts each neuron's spike count "
                        "(for a .nir model: its Output nodes' spikes, in the graph's time)")
    p.add_argument("--steps", type=_steps, help="steps to run with no streamed inputs (the "
                                                "network's generators still run)")
    p.add_argument("--counts", action="store_true",
                   help="save spike counts per neuron (counted on the device), not spikes")
    p.add_argument("--plot", help="write a raster plot PNG here")
    p.add_argument("--dt", type=float, help="seconds per step, for a .nir model")
    p.add_argument("--t-ref", type=_t_ref, help="refractory steps for a .nir model: N, or "
                                                "NODE=N,... (default 0)")
    p.set_defaults(func=cmd_run, n_inputs=None, n_neurons=None)
    p = sub.add_parser("import", help="convert a NIR model to a network file and print the "
                                      "quantization report")
    p.add_argument("model", help="NIR model (.nir)")
    p.add_argument("-o", "--output", required=True, help="network file to write (.npz)")
    p.add_argument("--dt", type=float, required=True, help="seconds per step (NIR has none)")
    p.add_argument("--t-ref", type=_t_ref, help="refractory steps: N, or NODE=N,... "
                                                "(default 0)")
    p.add_argument("--n-inputs", type=_steps, help="pad to this many input axons")
    p.add_argument("--n-neurons", type=_steps, help="pad to this many neurons")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("demo", help="the STDP demo (the README's main job)")
    p.add_argument("--url", default="sim://",
                   help="where to run it: sim:// (the virtual board, built on first use), "
                        "model://, or a board's URL (default: %(default)s)")
    p.add_argument("--no-check", action="store_true",
                   help="do not compare the run with the golden model")
    p.add_argument("--steps", type=_steps, default=2000)
    p.add_argument("--plot", default="raster.png", help="raster plot PNG (default: %(default)s)")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("digits", help="learn the 8x8 digits on chip and score them "
                                      "(needs scikit-learn)")
    p.add_argument("--url", default="model://",
                   help="where to train: model:// (default), sim:// or a board's URL")
    p.add_argument("--seed", type=_steps_or_zero, default=0,
                   help="seeds the split, the weights and every spike (default: %(default)s)")
    p.add_argument("--epochs", type=_steps, help="training epochs (default: the default "
                                                  "configuration's)")
    p.add_argument("--plot", metavar="DIR", help="write the plots (PNG) into this directory")
    p.add_argument("--json", metavar="FILE", help="write the run's record (JSON) here")
    p.add_argument("--n-train", type=_steps, help="use only the first N training images "
                                                  "(quick checks)")
    p.add_argument("--n-test", type=_steps, help="use only the first N test images "
                                                 "(quick checks)")
    p.add_argument("--set", type=_setting, action="append", metavar="KEY=VALUE",
                   help="change a setting of spikecore.digits.DEFAULT_CONFIG (repeatable)")
    p.set_defaults(func=cmd_digits)
    p = sub.add_parser("sweep", help="run the digits experiment over a grid of settings and "
                                     "seeds on a Dask cluster (needs dask.distributed)")
    p.add_argument("--grid", type=_grid, action="append", required=True, metavar="KEY=V1,V2",
                   help="a setting of spikecore.digits.DEFAULT_CONFIG and its values "
                        "(repeatable: the grid is every combination)")
    p.add_argument("--seeds", type=_seeds, default=[0],
                   help="seeds of every grid point: 0,1,2 or 0-4 (default: 0)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="an existing Dask scheduler (tcp://host:8786); default: a local "
                        "cluster started for the sweep")
    p.add_argument("--workers", type=_steps, default=2,
                   help="worker processes of the local cluster (default: %(default)s)")
    p.add_argument("--url", action="append",
                   help="where each task runs: model:// (default), sim:// (a virtual board "
                        "per worker), or a board's URL; repeat it for one board per worker")
    p.add_argument("--epochs", type=_steps, help="training epochs of every task")
    p.add_argument("--n-train", type=_steps, help="use only the first N training images")
    p.add_argument("--n-test", type=_steps, help="use only the first N test images")
    p.add_argument("--set", type=_setting, action="append", metavar="KEY=VALUE",
                   help="fix a setting for every task (repeatable)")
    p.add_argument("--csv", metavar="FILE", help="write the table as CSV here")
    p.add_argument("--json", metavar="FILE", help="write the table as JSON here")
    p.add_argument("--plot", metavar="FILE", help="write the accuracy plot (PNG) here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)
    sub.add_parser("sim", help="serve a virtual board (see spikecore sim --help)")
    sub.add_parser("build", help="build a board's bitstream (see spikecore build --help)")
    sub.add_parser("program", help="program a board (see spikecore program --help)")
    return parser


def _dispatch(argv):
    """Run the command *argv* names; return its exit status."""
    # These subcommands parse their own arguments.
    if argv[:1] == ["sim"]:
        from .sim.serve import main as serve
        return serve(argv[1:])
    if argv[:1] == ["build"]:
        from .boards.build import main as build
        return build(argv[1:])
    if argv[:1] == ["program"]:
        from .boards.build import program_main
        return program_main(argv[1:])
    args = _parser().parse_args(argv)
    return args.func(args) or 0


def _user_errors():
    """Return the exception classes that mean the user's input or setup is wrong."""
    from .driver import DriverError
    errors = (ValueError, TypeError, RuntimeError, OSError, DriverError)
    try:
        from serial import SerialException
    except ImportError:
        return errors
    return errors + (SerialException,)


def main(argv=None):
    """Run the ``spikecore`` command; return its exit status (0; 1 if a sweep's task failed;
    2 for an error)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    if debug:
        argv.remove("--debug")
    try:
        return _dispatch(argv)
    except _user_errors() as exc:
        if debug:
            raise
        print(f"spikecore: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print("spikecore: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
