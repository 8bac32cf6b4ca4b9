"""``spikecore sim``: serve one virtual board on a TCP port or a pty until killed.

    spikecore sim --n-inputs A --n-neurons B [--lanes L] [--port 0 | --pty] [--idle-limit S]

prints a line containing ``socket://127.0.0.1:PORT`` (or ``pty /dev/pts/N``) once the board
listens; any ``spikecore`` command then reaches it by that URL or path. One client at a time,
the others wait their turn; a client idle for ``--idle-limit`` seconds gives way to a waiting
one. The board survives clients that disconnect (whatever they left unsent is discarded at
once) or send garbage.
"""

import argparse
import os
import signal
import sys

from .board import DEFAULT_IDLE_LIMIT, VirtualBoard
from .build import DEFAULT_CLK_HZ, DEFAULT_DIVISOR, board_gateware, build

__all__ = ["main"]


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value}")
    return value


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, not {text}")
    return value


def _port(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, not {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number in [0, 65535], not {value}")
    return value


def parser():
    """Return the argument parser of ``spikecore sim``."""
    p = argparse.ArgumentParser(
        prog="spikecore sim",
        description="Serve a Verilator virtual board (core + UART link) on a TCP port or a pty.")
    p.add_argument("--board", default=None,
                   help="simulate the gateware of this board's bitstream: its geometry (unless "
                        "given) and its top-level options (see spikecore build --help)")
    p.add_argument("--n-inputs", type=_positive, default=None,
                   help="input axons (required without --board)")
    p.add_argument("--n-neurons", type=_positive, default=None,
                   help="neurons (required without --board)")
    p.add_argument("--lanes", type=_positive, default=None,
                   help="neuron-update lanes (default: the board's, else the gateware's)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--port", type=_port, default=None,
                       help="TCP port to listen on; 0 picks a free one (default)")
    where.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal")
    p.add_argument("--host", default="127.0.0.1",
                   help="name or address (IPv4 or IPv6) to listen on (default 127.0.0.1)")
    p.add_argument("--idle-limit", type=_seconds, default=DEFAULT_IDLE_LIMIT, metavar="S",
                   help="disconnect a client that has been idle S seconds when another one "
                        f"waits; 0: never (default {DEFAULT_IDLE_LIMIT:g})")
    p.add_argument("--divisor", type=_positive, default=DEFAULT_DIVISOR,
                   help=f"clock cycles per UART bit (default {DEFAULT_DIVISOR})")
    p.add_argument("--clk-hz", type=_positive, default=DEFAULT_CLK_HZ,
                   help="nominal clock frequency the board reports")
    p.add_argument("--trace", metavar="FILE.vcd",
                   default=os.environ.get("SPIKECORE_SIM_TRACE") or None,
                   help="record waveforms (slow; default $SPIKECORE_SIM_TRACE)")
    p.add_argument("--stats", action="store_true",
                   help="print cycle and byte counts when stopped")
    p.add_argument("-v", "--verbose", action="store_true", help="show the build output")
    # Tests serve stand-in top levels: MODULE:FUNCTION, called like spikecore.sim.build's
    # make_top.
    p.add_argument("--top", help=argparse.SUPPRESS)
    return p


def main(argv=None):
    """Run ``spikecore sim`` with *argv* (without the ``sim``); return the exit status."""
    args = parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.divisor < 2:
        parser().error("--divisor must be >= 2")
    try:
        n_inputs, n_neurons, lanes, options = board_gateware(args.board, args.n_inputs,
                                                             args.n_neurons, args.lanes)
    except ValueError as exc:
        parser().error(str(exc))
    if n_inputs is None or n_neurons is None:
        parser().error("the geometry is needed: --n-inputs and --n-neurons, or --board")
    print(f"spikecore sim: building the virtual board for {n_inputs} inputs + "
          f"{n_neurons} neurons" + (f" ({args.board}'s gateware)" if args.board else "")
          + " (cached after the first time)...", file=sys.stderr, flush=True)
    make_top = None
    if args.top:
        import importlib
        module, _, function = args.top.partition(":")
        make_top = getattr(importlib.import_module(module), function)
    # Errors of the build (a missing extra, bad options) reach spikecore's one-line report.
    exe = build(n_inputs, n_neurons, lanes, divisor=args.divisor, clk_hz=args.clk_hz,
                options=options, trace=bool(args.trace), make_top=make_top,
                verbose=args.verbose)

    stop = []

    def on_signal(signum, frame):
        stop.append(signum)
        raise KeyboardInterrupt

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    board = None
    try:
        board = VirtualBoard(exe, port=args.port or 0, pty=args.pty, host=args.host,
                             trace=args.trace, stats=args.stats, idle_limit=args.idle_limit)
        if args.pty:
            print(f"virtual board ({n_inputs} inputs + {n_neurons} neurons) on pty "
                  f"{board.url}", flush=True)
        else:
            print(f"virtual board ({n_inputs} inputs + {n_neurons} neurons) "
                  f"listening on {board.url}", flush=True)
        return board.process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if board is not None:
            board.close()
        for s, handler in old.items():
            signal.signal(s, handler)


if __name__ == "__main__":
    sys.exit(main())
