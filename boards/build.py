"""Build a board's bitstream with the open toolchain, and program a board.

    spikecore build --board NAME [--n-inputs A --n-neurons B --lanes L] [--clk-mhz F]
                    [--out DIR] [--seed S] [--router router1|router2]
    spikecore program --board NAME [--bitstream FILE]

``build`` writes ``build/NAME/`` (or ``--out``): the Amaranth-generated sources and build
script, the bitstream (``top.bin`` on iCE40, ``top.bit`` on ECP5), the tool logs (``top.rpt``
from Yosys, ``top.tim`` from nextpnr, ``build.log`` with everything the tools printed), the
nextpnr report (``nextpnr-report.json``) and ``report.json``::

    {"board", "device", "n_inputs", "n_neurons", "lanes", "fmax_mhz", "target_mhz",
     "resources": {name: [used, available]}, "bitstream": path, ...}

For the Xilinx boards it writes the Vivado build files only and says that Vivado is needed.
"""

import argparse
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import board_names, get_board
from .memmap import SPRAM_DEPTH, SPRAM_WIDTH, map_large_memories_to_spram, sprams_needed
from ..hw.top import make_top as top_factory
from ..spec import json_default
from .top import BoardTop, uart_divisor

__all__ = ["build", "program", "main", "program_main", "parse_nextpnr_report",
           "overfull_resources", "tool_environment", "BuildError"]

NAME = "top"
NEXTPNR_REPORT = "nextpnr-report.json"


class BuildError(RuntimeError):
    """A tool failed; the message names the log to read."""


def _check_count(name, value, *, allow_none=True):
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")


def tool_environment():
    """Return ``os.environ`` plus the variables that point Amaranth at the YoWASP tools.

    The venv's ``bin/`` (where the YoWASP commands live) is put on PATH, so that the build
    works when the venv is not activated.
    """
    from ..toolchain import yowasp_env
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    path = env.get("PATH", "").split(os.pathsep)
    if bin_dir not in path:
        env["PATH"] = os.pathsep.join([bin_dir] + path)
    for var, tool in yowasp_env().items():
        env.setdefault(var, tool)
    # Amaranth's ECP5 boards list openFPGALoader among their tools; building never runs it.
    env.setdefault("OPENFPGALOADER", "openFPGALoader")
    return env


def _missing_tools(family, env):
    from ..toolchain import yowasp_env
    wanted = {"ice40": ["YOSYS", "NEXTPNR_ICE40", "ICEPACK"],
              "ecp5": ["YOSYS", "NEXTPNR_ECP5", "ECPPACK"]}[family]
    tools = yowasp_env()
    return [env.get(var, tools[var]) for var in wanted
            if shutil.which(env.get(var, tools[var]), path=env["PATH"]) is None]


def parse_nextpnr_report(report):
    """Return ``(fmax_mhz, target_mhz, resources)`` from a nextpnr ``--report`` JSON document.

    *fmax_mhz* and *target_mhz* are those of the slowest constrained clock (the core clock on
    every spikecore board); *resources* maps each cell type nextpnr counts to
    ``[used, available]``.
    """
    resources = {name: [int(u["used"]), int(u["available"])]
                 for name, u in sorted(report.get("utilization", {}).items())}
    clocks = report.get("fmax", {})
    fmax = target = None
    for clock in clocks.values():
        if fmax is None or clock["achieved"] < fmax:
            fmax, target = float(clock["achieved"]), float(clock["constraint"])
    return fmax, target, resources


_UTILISATION = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%\s*$", re.MULTILINE)


#: SB_SPRAM256KA blocks of the iCE40UP5K.
UP5K_SPRAMS = 4


def _check_sprams(mapped, platform, geometry, weight_ports):
    """Refuse, before Yosys runs, weights the UP5K's SPRAMs cannot hold (Yosys would stop
    with "no valid mapping found for memory")."""
    if not mapped:
        return
    shapes = ", ".join(f"{depth} x {width} bits" for depth, width in
                       sorted({(mem["depth"], mem["width"]) for mem in mapped}))
    kbit = sum(mem["depth"] * mem["width"] for mem in mapped) // 1024
    weights = f"the weights ({len(mapped)} banks of {shapes}, {kbit:,} kbit)"
    if weight_ports != 1:
        raise BuildError(
            f"{geometry} do not fit the {platform.device}: {weights} are too large for its "
            f"block RAM and must go to the SPRAMs, which are single-port, but the core's weight "
            f"banks are dual-port (a read and a write address each; weight_ports="
            f"{weight_ports}, the gateware the virtual board runs). Banks under 64 kbit stay in "
            f"block RAM (120 kbit in all). docs/boards.md explains.")
    needed = sprams_needed(mapped)
    if needed > UP5K_SPRAMS:
        raise BuildError(
            f"{geometry} do not fit the {platform.device}: {weights} take {needed} SPRAMs of "
            f"{SPRAM_DEPTH} x {SPRAM_WIDTH} bits (two 8-bit weights a word, one bank per "
            f"SPRAM at least); the device has {UP5K_SPRAMS}. Fewer lanes make fewer, deeper "
            f"banks. docs/boards.md explains.")


def overfull_resources(log_text):
    """Return ``{resource: [used, available]}`` for what a nextpnr log says the design needs
    more of than the device has (empty when everything fits, or the log has no table)."""
    need = {}
    for name, used, available in _UTILISATION.findall(log_text):
        need[name] = [int(used), int(available)]
    return {name: ua for name, ua in need.items() if ua[0] > ua[1]}


def _lanes(lanes):
    return f"{lanes} lane{'s' * (lanes != 1)}"


def _options(top_options):
    """Return ``", key=value"`` for each of a board's ``top_options``."""
    return "".join(f", {key}={value}" for key, value in top_options.items())


def _default_out_dir(board):
    return Path("build") / board.name


def clock_hz(board, clk_mhz):
    """Return the clock in Hz that *clk_mhz* asks of *board*: one of its PLL frequencies when
    within 10 kHz of it (54.17 means 54.1666… MHz), else *clk_mhz* itself (which the top
    level then refuses, naming the frequencies it can make)."""
    if not isinstance(clk_mhz, (int, float)) or isinstance(clk_mhz, bool) or clk_mhz <= 0:
        raise ValueError(f"clk_mhz must be a positive number, not {clk_mhz!r}")
    clk_hz = int(round(clk_mhz * 1e6))
    near = [f for f in board.clocks if abs(f - clk_hz) <= 10_000]
    return near[0] if near else clk_hz


#: nextpnr's routers: router1 (its default) and router2 (faster on congested designs).
ROUTERS = ("router1", "router2")


def build(board, n_inputs=None, n_neurons=None, lanes=None, out_dir=None, *, clk_mhz=None,
          seed=1, router=None, make_top=None, echo=print):
    """Build *board*'s bitstream for a geometry; return the report (also in report.json).

    Parameters
    ----------
    board : str
        Board name (see ``spikecore.boards.board_names()``).
    n_inputs, n_neurons, lanes : int or None
        Geometry of the core (None: the board's default).
    out_dir : path-like or None
        Where to build (default ``build/<board>``). Its previous contents are replaced.
    clk_mhz : float or None
        Core clock in MHz, one the board can make (None: the board's default).
    seed : int
        nextpnr placement seed.
    router : str or None
        nextpnr router, one of ``ROUTERS`` (None: nextpnr's default, router1).
    make_top : callable or None
        ``make_top(n_inputs, n_neurons, lanes, divisor, clk_hz)`` returns the top level;
        default ``spikecore.hw.top.Top`` with the board's ``top_options`` (what
        ``connect("sim://", board=...)`` simulates). Tests use stand-ins.
    echo : callable
        Where progress lines go.

    Returns
    -------
    dict
        The report: ``board``, ``device``, ``n_inputs``, ``n_neurons``, ``lanes``,
        ``fmax_mhz``, ``target_mhz``, ``timing_met``, ``resources`` ({name: [used,
        available]}), ``bitstream`` (path, or None for Vivado boards), ``clk_hz``, ``baud``,
        ``divisor``, ``build_seconds``, ``toolchain`` and, for Vivado boards, ``note``.

    Raises
    ------
    ValueError
        Unknown board, bad geometry or a clock the board cannot make.
    BuildError
        A tool failed; the message names the log.
    """
    board = get_board(board)
    n_inputs = board.n_inputs if n_inputs is None else n_inputs
    n_neurons = board.n_neurons if n_neurons is None else n_neurons
    lanes = board.lanes if lanes is None else lanes
    for name, value in (("n_inputs", n_inputs), ("n_neurons", n_neurons), ("lanes", lanes)):
        _check_count(name, value, allow_none=False)
    clk_hz = board.clk_hz if clk_mhz is None else clock_hz(board, clk_mhz)
    _check_count("seed", seed)
    if router is not None and router not in ROUTERS:
        raise ValueError(f"router must be one of {', '.join(ROUTERS)}, not {router!r}")
    divisor = uart_divisor(clk_hz, board.baud)
    geometry = f"{n_inputs} inputs + {n_neurons} neurons at {_lanes(lanes)}"
    top_options = dict(board.top_options) if make_top is None else {}
    if make_top is None:
        make_top = functools.partial(top_factory, **top_options)
    out_dir = Path(_default_out_dir(board) if out_dir is None else out_dir)

    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / f"build_{NAME}.sh").exists():
        raise ValueError(f"refusing to replace {out_dir}: it is not empty and holds no earlier "
                         "build")

    core = make_top(n_inputs, n_neurons, lanes, divisor, clk_hz)
    design = BoardTop(board, core, clk_hz)
    platform = board.platform_class()()
    if board.extra_resources:
        platform.add_resources(getattr(platform, board.extra_resources))

    report = {
        "board": board.name, "device": platform.device, "n_inputs": n_inputs,
        "n_neurons": n_neurons, "lanes": lanes, "fmax_mhz": None,
        "target_mhz": clk_hz / 1e6, "timing_met": None, "resources": {}, "bitstream": None,
        "clk_hz": clk_hz, "baud": round(clk_hz / divisor), "divisor": divisor,
        "seed": seed, "router": router or "router1",
        "top": f"{type(core).__module__}.{type(core).__qualname__}",
        "top_options": top_options,
    }
    if out_dir.exists() and any(out_dir.iterdir()):
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    if board.vendor_only:
        return _prepare_vendor(board, platform, design, out_dir, report, echo)

    overrides = {"nextpnr_opts": ["--report", NEXTPNR_REPORT, "--timing-allow-fail",
                                  "--seed", str(seed)]
                 + ([] if router is None else ["--router", router])}
    if board.family == "ice40":
        # Multipliers into the SB_MAC16 DSPs, memories into the SPRAMs where they fit.
        overrides["synth_opts"] = ["-dsp", "-spram"]
    echo(f"spikecore build: {board.name} ({platform.device}), {n_inputs} inputs, "
         f"{n_neurons} neurons, {_lanes(lanes)}, {clk_hz / 1e6:g} MHz, "
         f"{report['baud']} baud{_options(top_options)} -> {out_dir}/")
    plan = platform.prepare(design, name=NAME, **overrides)
    if board.family == "ice40":
        rtlil, report["spram_memories"] = map_large_memories_to_spram(plan.files[f"{NAME}.il"])
        plan.files[f"{NAME}.il"] = rtlil
        for mem in report["spram_memories"]:
            echo(f"spikecore build: {mem['module']}.{mem['memory']} ({mem['depth']} x "
                 f"{mem['width']} bits) marked for SPRAM")
        _check_sprams(report["spram_memories"], platform, geometry,
                      getattr(getattr(core, "core", None), "weight_ports", 1))
    plan.extract(str(out_dir))

    from ..toolchain import missing_extra
    env = tool_environment()
    missing = _missing_tools(board.family, env)
    if missing:
        raise BuildError(missing_extra("boards", "a bitstream build",
                                       f"{', '.join(missing)} not found"))
    script = out_dir / f"build_{NAME}.sh"
    log_path = out_dir / "build.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        result = subprocess.run(["sh", script.name], cwd=out_dir, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    report["build_seconds"] = round(time.monotonic() - started, 1)
    report["toolchain"] = "yowasp (yosys + nextpnr-{})".format(board.family)
    if result.returncode != 0:
        text = log_path.read_text(errors="replace")
        tail = text.splitlines()[-15:]
        nextpnr_log = out_dir / f"{NAME}.tim"
        over = overfull_resources(nextpnr_log.read_text(errors="replace")
                                  if nextpnr_log.is_file() else text)
        if over:
            need = ", ".join(f"{used} {name} of {available}"
                             for name, (used, available) in over.items())
            raise BuildError(f"{geometry} do not fit the "
                             f"{platform.device}: the design needs {need}. A smaller "
                             "geometry (--n-inputs, --n-neurons, --lanes) may fit; "
                             f"docs/boards.md lists what does. Logs: {log_path}")
        raise BuildError(f"the {board.name} build failed (exit {result.returncode}); "
                         f"see {log_path}:\n" + "\n".join(tail))

    nextpnr = json.loads((out_dir / NEXTPNR_REPORT).read_text())
    fmax, target, resources = parse_nextpnr_report(nextpnr)
    bitstream = out_dir / f"{NAME}.{board.bitstream_ext}"
    report.update({
        "fmax_mhz": None if fmax is None else round(fmax, 2),
        "target_mhz": clk_hz / 1e6 if target is None else round(target, 2),
        "timing_met": None if fmax is None else fmax >= (target or clk_hz / 1e6),
        "resources": resources,
        "bitstream": str(bitstream) if bitstream.is_file() else None,
        "logs": {"yosys": str(out_dir / f"{NAME}.rpt"), "nextpnr": str(out_dir / f"{NAME}.tim"),
                 "all": str(log_path)},
    })
    (out_dir / "report.json").write_text(
        json.dumps(report, indent=2, default=json_default) + "\n")
    echo(summary(report))
    return report


def _prepare_vendor(board, platform, design, out_dir, report, echo):
    plan = platform.prepare(design, name=NAME)
    plan.extract(str(out_dir))
    note = (f"Vivado is needed to finish this build: no bitstream was made. Run "
            f"'sh build_{NAME}.sh' in {out_dir} on a machine with Vivado (it runs "
            f"'vivado -mode batch -source {NAME}.tcl').")
    report.update({"toolchain": "vivado (files only)", "note": note,
                   "files": sorted(p.name for p in out_dir.iterdir())})
    (out_dir / "report.json").write_text(
        json.dumps(report, indent=2, default=json_default) + "\n")
    echo(f"spikecore build: {board.name} ({platform.device}): wrote the Vivado project files "
         f"to {out_dir}/")
    echo(f"spikecore build: {note}")
    return report


def summary(report):
    """Return a few human-readable lines summarizing a build report."""
    lines = [f"{report['board']} ({report['device']}): {report['n_inputs']} inputs, "
             f"{report['n_neurons']} neurons, {_lanes(report['lanes'])}"]
    if report["fmax_mhz"] is not None:
        verdict = "met" if report["timing_met"] else "NOT MET"
        lines.append(f"  fmax {report['fmax_mhz']:.2f} MHz, target {report['target_mhz']:.2f} "
                     f"MHz: timing {verdict}")
    for name, (used, available) in report["resources"].items():
        if used:
            lines.append(f"  {name:<16} {used:>7} / {available:<7} "
                         f"({100 * used / max(available, 1):.0f} %)")
    if report.get("build_seconds") is not None:
        lines.append(f"  built in {report['build_seconds']:.0f} s")
    lines.append(f"  bitstream: {report['bitstream']}")
    return "\n".join(lines)


# -- programming ------------------------------------------------------------------------------

def program(board, bitstream=None, *, echo=print):
    """Load *bitstream* (default ``build/<board>/top.<ext>``) into *board*; return the command.

    Raises ``RuntimeError`` with a clear message when there is no bitstream, the board needs
    Vivado, or the programmer is not installed.
    """
    board = get_board(board)
    if bitstream is None:
        bitstream = _default_out_dir(board) / f"{NAME}.{board.bitstream_ext}"
    bitstream = Path(bitstream)
    if not bitstream.is_file():
        hint = (" (this board's bitstream needs Vivado: see the files spikecore build wrote)"
                if board.vendor_only else "")
        raise RuntimeError(f"no bitstream at {bitstream}; run 'spikecore build --board "
                           f"{board.name}' first{hint}")
    command = [os.environ.get(board.programmer_env, board.programmer[0])]
    command += [arg.format(bitstream=bitstream) for arg in board.programmer[1:]]
    if shutil.which(command[0]) is None:
        raise RuntimeError(f"the programmer {command[0]!r} is not installed (or not on PATH); "
                           f"install it (e.g. apt install {_package_hint(command[0])}) or set "
                           f"{board.programmer_env} to its path, then run: "
                           f"{shlex.join(command)}")
    echo(f"spikecore program: {shlex.join(command)}")
    subprocess.run(command, check=True)
    return command


def _package_hint(tool):
    return {"iceprog": "fpga-icestorm", "openFPGALoader": "openfpgaloader"}.get(tool, tool)


# -- command line -----------------------------------------------------------------------------

def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def _board_help():
    from . import BOARDS
    return "; ".join(f"{b.name}: {b.n_inputs}+{b.n_neurons}, {_lanes(b.lanes)}, "
                     f"{b.clk_hz / 1e6:g} MHz{_options(b.top_options)}"
                     for b in BOARDS.values())


def main(argv=None):
    """Run ``spikecore build``; return the exit status (0 built, 1 error, 2 timing not met)."""
    p = argparse.ArgumentParser(prog="spikecore build",
                                description="Build a board's bitstream with the open toolchain "
                                "(Vivado project files for the Xilinx boards).",
                                epilog=f"Boards and defaults: {_board_help()}")
    p.add_argument("--board", required=True, help=f"one of: {', '.join(board_names())}")
    p.add_argument("--n-inputs", type=_positive, help="external inputs (default: the board's)")
    p.add_argument("--n-neurons", type=_positive, help="neurons (default: the board's)")
    p.add_argument("--lanes", type=_positive, help="synapse lanes (default: the board's)")
    p.add_argument("--clk-mhz", type=float, help="core clock in MHz (default: the board's)")
    p.add_argument("--seed", type=_positive, default=1, help="nextpnr seed (default: 1)")
    p.add_argument("--router", choices=ROUTERS,
                   help="nextpnr router (default: nextpnr's, router1; router2 routes the "
                        "congested large geometries)")
    p.add_argument("--out", help="build folder (default: build/BOARD)")
    args = p.parse_args(argv)
    try:
        report = build(args.board, args.n_inputs, args.n_neurons, args.lanes, args.out,
                       clk_mhz=args.clk_mhz, seed=args.seed, router=args.router)
    except (ValueError, TypeError, RuntimeError, OSError) as exc:
        print(f"spikecore build: error: {exc}", file=sys.stderr)
        return 1
    if report["timing_met"] is False:
        print(f"spikecore build: warning: timing NOT met ({report['fmax_mhz']:.2f} MHz < "
              f"{report['target_mhz']:.2f} MHz); the bitstream may not work reliably",
              file=sys.stderr)
        return 2
    return 0


def program_main(argv=None):
    """Run ``spikecore program``; return the exit status."""
    p = argparse.ArgumentParser(prog="spikecore program",
                                description="Load a built bitstream into a board.")
    p.add_argument("--board", required=True, help=f"one of: {', '.join(board_names())}")
    p.add_argument("--bitstream", help="bitstream file (default: build/BOARD/top.bin or .bit)")
    args = p.parse_args(argv)
    try:
        program(args.board, args.bitstream)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"spikecore program: error: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"spikecore program: error: the programmer failed (exit {exc.returncode})",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
