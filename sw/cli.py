"""The ``spikecore`` command line.

    spikecore info URL                     what the device at URL is
    spikecore run URL NETWORK INPUTS -o OUT [--plot raster.png]   (NETWORK: .npz, or .nir + --dt)
    spikecore import MODEL.nir --dt DT -o NET.npz [--t-ref N | --t-ref NODE=N,...]
    spikecore demo [--url URL] [--steps N] [--plot raster.png]
    spikecore sim --n-inputs A --n-neurons B [--port P | --pty]
    spikecore build --board NAME [--n-inputs A --n-neurons B --lanes L]
    spikecore program --board NAME

Every command takes ``--debug``: without it, a user error (a bad argument, file, URL or network,
a link or device failure, a missing extra) prints one line ``spikecore: error: ...`` and exits
with status 2; with it, the traceback is shown.
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
    net = Network.load(args.network)
    inputs = np.load(args.inputs)
    if args.n_inputs is None:
        args.n_inputs, args.n_neurons = net.n_inputs, net.n_neurons
    with _connect(args.url, args) as core:
        core.load(net)
        spikes = core.run(inputs)
        np.save(args.output, spikes)
        print(f"{len(spikes)} steps, {int(spikes.sum())} spikes -> {args.output}")
        if args.plot:
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
    p.add_argument("inputs", help=".npy file of bool inputs (steps, n_inputs); for a .nir "
                                  "model, the graph's input (steps, n)")
    p.add_argument("-o", "--output", required=True,
                   help=".npy file for the spikes (for a .nir model: its Output nodes' spikes, "
                        "in the graph's time)")
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
    args.func(args)
    return 0


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
    """Run the ``spikecore`` command; return its exit status (0, or 2 for an error)."""
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
