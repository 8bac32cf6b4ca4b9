"""The single-port weight store maps onto the iCE40UP5K's SPRAMs (Yosys synthesis only).

``WeightStore(single_port=True)`` plus the iCE40 build's hook (``spikecore.boards.memmap``)
must become SB_SPRAM256KA cells, not hundreds of block RAMs. A bank of 32768 x 8 bits fills one
SPRAM (16384 x 16, byte lanes), so 256 + 256 at 4 lanes takes all four; at 8 lanes each of the
eight banks needs an SPRAM of its own, more than the UP5K has.
"""

import re
import shutil
import subprocess

import pytest
from amaranth.back import rtlil

from spikecore.boards.build import tool_environment
from spikecore.boards.memmap import map_large_memories_to_spram
from spikecore.hw.weights import WeightStore


def _synth_ice40(component, tmp_path):
    """Return ``{cell type: count}`` after ``synth_ice40 -spram`` of *component*."""
    text, mapped = map_large_memories_to_spram(rtlil.convert(component, name="top"))
    assert mapped, "the hook marked no memory for SPRAM"
    (tmp_path / "top.il").write_text(text)
    env = tool_environment()
    yosys = env["YOSYS"]
    if shutil.which(yosys, path=env["PATH"]) is None:
        pytest.skip(f"{yosys} is not installed")
    subprocess.run([yosys, "-q", "-l", "yosys.log", "-p",
                    "read_rtlil top.il; synth_ice40 -spram -top top; stat"],
                   cwd=tmp_path, env=env, check=True, capture_output=True)
    log = (tmp_path / "yosys.log").read_text()
    stats = log[log.rfind("Printing statistics"):]
    return {cell: int(count) for count, cell in re.findall(r"^\s+(\d+)\s+(SB_\w+)\s*$", stats,
                                                           re.MULTILINE)}


@pytest.mark.bitstream
@pytest.mark.parametrize("lanes, sprams", [(4, 4), (8, 8)])
def test_single_port_banks_become_spram(tmp_path, lanes, sprams):
    cells = _synth_ice40(WeightStore(512, 256, lanes, single_port=True), tmp_path)
    assert cells.get("SB_SPRAM256KA") == sprams, cells
    assert "SB_RAM40_4K" not in cells, cells
