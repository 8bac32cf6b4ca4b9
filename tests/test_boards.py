"""Board definitions, the bitstream build flow and its reports (``spikecore.boards``).

The fast tests check arguments, the report parser, the SPRAM mapping hook, the Vivado file
generation, and build the iCEBreaker's default bitstream with the real top level (and a
small one with a stand-in, so the flow itself is tested even when the gateware is broken), a
small ECP5 one, and one refused for want of DSPs. The full ECP5 default builds are marked
``slow``.
"""

import json
import os
import subprocess

import pytest
from amaranth import Module, Signal
from amaranth.back import rtlil
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from spikecore.boards import BOARDS, board_names, get_board
from spikecore.boards.build import (BuildError, build, clock_hz, main, overfull_resources,
                                    parse_nextpnr_report, program, program_main)
from spikecore.boards.memmap import map_large_memories_to_spram, sprams_needed
from spikecore.boards.top import uart_divisor
from boards_standin import StandInTop

REPORT_KEYS = {"board", "device", "n_inputs", "n_neurons", "lanes", "fmax_mhz", "target_mhz",
               "resources", "bitstream"}


def _have_top():
    try:
        from spikecore.hw.top import Top  # noqa: F401
    except ImportError:
        return False
    return True


# -- board table and arguments ----------------------------------------------------------------

def test_every_board_is_complete():
    assert {"icebreaker", "ulx3s", "arty_a7", "cmod_a7"} <= set(board_names())
    for board in BOARDS.values():
        assert board.clk_hz in board.clocks, board.name
        assert board.baud >= 3_000_000, board.name
        uart_divisor(board.clk_hz, board.baud)
        assert board.platform_class().device
        assert any(function == "heartbeat" for _, _, function in board.leds)


def test_unknown_board_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown board 'nope'; choose one of: .*icebreaker"):
        get_board("nope")
    with pytest.raises(ValueError, match="unknown board 'nope'"):
        build("nope", out_dir="/nonexistent")


@pytest.mark.parametrize("name, value", [("n_inputs", 0), ("n_neurons", -3), ("lanes", 0),
                                         ("n_neurons", 2.5), ("n_inputs", True),
                                         ("lanes", "8")])
def test_bad_geometry_is_refused(tmp_path, name, value):
    with pytest.raises(ValueError, match=f"{name} must be a positive integer, not {value!r}"):
        build("icebreaker", out_dir=tmp_path, make_top=StandInTop, **{name: value})
    assert not any(tmp_path.iterdir())


def test_unknown_router_is_refused(tmp_path):
    with pytest.raises(ValueError, match="router must be one of router1, router2, not 'fast'"):
        build("ulx3s", 8, 8, 1, tmp_path / "b", router="fast", make_top=StandInTop)
    assert not (tmp_path / "b").exists()


def test_clock_the_board_cannot_make_is_refused(tmp_path):
    with pytest.raises(ValueError, match="cannot make a 33 MHz clock; choose one of"):
        build("icebreaker", 8, 8, 1, tmp_path / "x", clk_mhz=33, make_top=StandInTop)
    with pytest.raises(ValueError, match="clk_mhz must be a positive number"):
        build("icebreaker", 8, 8, 1, tmp_path / "x", clk_mhz=-1, make_top=StandInTop)


def test_uart_divisor():
    assert uart_divisor(12_000_000, 3_000_000) == 4
    assert uart_divisor(60_000_000, 3_000_000) == 20
    with pytest.raises(ValueError, match="away from 3000000"):
        uart_divisor(50_000_000, 3_000_000)
    with pytest.raises(ValueError, match="too slow"):
        uart_divisor(3_000_000, 3_000_000)


def test_cli_reports_errors_clearly(capsys):
    from spikecore.cli import main as spikecore
    assert spikecore(["build", "--board", "nope"]) == 1
    assert "unknown board 'nope'; choose one of:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--board", "icebreaker", "--n-neurons", "0"])
    assert exc.value.code == 2
    assert "must be a positive integer, not '0'" in capsys.readouterr().err


def test_program_without_bitstream_or_programmer(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert program_main(["--board", "icebreaker"]) == 1
    assert "no bitstream at build/icebreaker/top.bin; run 'spikecore build --board icebreaker'" \
        in capsys.readouterr().err
    bitstream = tmp_path / "top.bin"
    bitstream.write_bytes(b"\0" * 16)
    monkeypatch.setenv("ICEPROG", "no-such-iceprog")
    with pytest.raises(RuntimeError, match="the programmer 'no-such-iceprog' is not installed"):
        program("icebreaker", bitstream)
    with pytest.raises(RuntimeError, match="needs Vivado"):
        program("cmod_a7")


# -- report parsing and the SPRAM hook -------------------------------------------------------

def test_parse_nextpnr_report():
    report = {"utilization": {"ICESTORM_LC": {"used": 100, "available": 5280},
                              "ICESTORM_SPRAM": {"used": 4, "available": 4}},
              "fmax": {"clk": {"achieved": 31.5, "constraint": 24.0},
                       "other": {"achieved": 80.0, "constraint": 12.0}}}
    fmax, target, resources = parse_nextpnr_report(report)
    assert (fmax, target) == (31.5, 24.0)
    assert resources == {"ICESTORM_LC": [100, 5280], "ICESTORM_SPRAM": [4, 4]}
    assert parse_nextpnr_report({}) == (None, None, {})


class _Memories(wiring.Component):
    addr: In(14)
    data: Out(16)

    def __init__(self, big_init=()):
        self.big_init = list(big_init)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.big = big = memory.Memory(shape=16, depth=16384, init=self.big_init)
        m.submodules.small = small = memory.Memory(shape=16, depth=256, init=[])
        a, b = big.read_port(), small.read_port()
        m.d.comb += [a.addr.eq(self.addr), b.addr.eq(self.addr), self.data.eq(a.data ^ b.data)]
        return m


def test_spram_hook_marks_large_zero_initialized_memories_only():
    text, mapped = map_large_memories_to_spram(rtlil.convert(_Memories(), name="top"))
    assert [(m["width"], m["depth"]) for m in mapped] == [(16, 16384)]
    assert text.count('attribute \\ram_style "huge"') == 1
    assert text.count("cell $meminit_v2") == 1  # the small memory keeps its initializer
    text, mapped = map_large_memories_to_spram(rtlil.convert(_Memories([1, 2]), name="top"))
    assert mapped == [] and "ram_style" not in text


# -- builds -----------------------------------------------------------------------------------

def _check_report(report, out_dir, board, geometry):
    on_disk = json.loads((out_dir / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    assert REPORT_KEYS <= set(report)
    assert report["board"] == board
    assert (report["n_inputs"], report["n_neurons"], report["lanes"]) == geometry
    assert report["fmax_mhz"] > 0 and report["target_mhz"] > 0
    assert report["resources"]
    for name, (used, available) in report["resources"].items():
        assert 0 <= used <= available, name
    assert any(used > 0 for used, _ in report["resources"].values())
    bitstream = out_dir / os.path.basename(report["bitstream"])
    assert bitstream.is_file() and bitstream.stat().st_size > 1000
    assert (out_dir / "top.rpt").is_file() and (out_dir / "top.tim").is_file()


@pytest.mark.bitstream
def test_small_ice40_bitstream_flow_with_standin(tmp_path):
    out = tmp_path / "icebreaker"
    report = build("icebreaker", 8, 8, 1, out, clk_mhz=24, make_top=StandInTop,
                   echo=lambda *_: None)
    _check_report(report, out, "icebreaker", (8, 8, 1))
    assert report["resources"]["ICESTORM_PLL"][0] == 1
    assert report["target_mhz"] == 24.0 and report["divisor"] == 8


@pytest.mark.bitstream
@pytest.mark.skipif(not _have_top(), reason="spikecore.hw.top is not there yet")
def test_small_ecp5_bitstream_with_the_real_top(tmp_path):
    # The whole flow on the real top level (core + link + UART). Timing is not asserted
    # (docs/boards.md has what the builds reach).
    out = tmp_path / "ulx3s"
    report = build("ulx3s", 8, 8, 1, out, echo=lambda *_: None)
    _check_report(report, out, "ulx3s", (8, 8, 1))
    assert report["top"] == "spikecore.hw.top.Top"
    assert report["resources"]["MULT18X18D"][0] > 0       # the neuron decay multipliers


@pytest.mark.bitstream
@pytest.mark.slow
@pytest.mark.skipif(not _have_top(), reason="spikecore.hw.top is not there yet")
def test_icebreaker_default_fits_and_meets_timing(tmp_path):
    # The default 256 + 256 on the UP5K, with the board's top-level options: the weights in
    # the four SPRAMs, the logic within 5,280 cells. A full-size build (2-3 minutes of a core
    # when idle, 7 under load): make test-all runs it.
    out = tmp_path / "icebreaker"
    report = build("icebreaker", out_dir=out, echo=lambda *_: None)
    board = get_board("icebreaker")
    _check_report(report, out, "icebreaker", (board.n_inputs, board.n_neurons, board.lanes))
    assert report["top"] == "spikecore.hw.top.Top"
    assert report["top_options"] == board.top_options
    assert report["timing_met"], report
    assert report["resources"]["ICESTORM_SPRAM"][0] == 4
    assert report["resources"]["ICESTORM_DSP"][0] > 0      # the neuron decay multipliers


@pytest.mark.bitstream
@pytest.mark.skipif(not _have_top(), reason="spikecore.hw.top is not there yet")
def test_real_top_too_big_for_the_up5k_is_refused_clearly(tmp_path):
    # Two lanes need 12 multipliers of the UP5K's 8 DSPs; the build must say so, not just end
    # in a nextpnr placement error.
    with pytest.raises(BuildError, match=r"8 inputs \+ 8 neurons at 2 lanes do not fit the "
                                         r"iCE40UP5K: the design needs .*ICESTORM_DSP of 8"):
        build("icebreaker", 8, 8, 2, tmp_path / "icebreaker", echo=lambda *_: None)


@pytest.mark.skipif(not _have_top(), reason="spikecore.hw.top is not there yet")
def test_weights_the_sprams_cannot_hold_are_refused_before_yosys(tmp_path, monkeypatch):
    # 256 + 256: 1 Mbit of weights, too much for block RAM. At 8 lanes the board's single-port
    # banks are 8 of 16384 x 8 bits, one SPRAM each at least; dual-port banks cannot be SPRAM
    # at all. Yosys would stop with "no valid mapping found for memory"; the build says why
    # first.
    from spikecore.hw.top import Top
    monkeypatch.setattr(subprocess, "run", _no_tools)
    with pytest.raises(BuildError, match=r"256 inputs \+ 256 neurons at 8 lanes do not fit the "
                                         r"iCE40UP5K: the weights \(8 banks of 16384 x 8 bits, "
                                         r"1,024 kbit\) take 8 SPRAMs .* the device has 4"):
        build("icebreaker", lanes=8, out_dir=tmp_path / "lanes", echo=lambda *_: None)

    def dual_port(n_inputs, n_neurons, lanes, divisor, clk_hz):
        return Top(n_inputs, n_neurons, lanes, divisor=divisor, clk_hz=clk_hz)
    with pytest.raises(BuildError, match=r"256 inputs \+ 256 neurons at 1 lane do not fit the "
                                         r"iCE40UP5K: the weights \(1 banks of 131072 x 8 bits, "
                                         r"1,024 kbit\) .* the core's weight banks are dual-port"):
        build("icebreaker", out_dir=tmp_path / "ports", make_top=dual_port,
              echo=lambda *_: None)


def _no_tools(*args, **kwargs):
    raise AssertionError(f"a tool ran: {args}")


def test_sprams_needed_packs_like_yosys():
    # What synth_ice40 -spram made of single-address test memories (docs/boards.md).
    def mem(depth, width):
        return {"module": "m", "memory": "w", "depth": depth, "width": width}
    assert sprams_needed([]) == 0
    assert sprams_needed([mem(16384, 64)]) == 4
    assert sprams_needed([mem(16384, 16)]) == 1
    assert sprams_needed([mem(16384, 8)]) == 1
    assert sprams_needed([mem(32768, 8)]) == 1           # two weights a word
    assert sprams_needed([mem(65536, 8)]) == 2
    assert sprams_needed([mem(131072, 8)]) == 4
    assert sprams_needed([mem(16384, 8)] * 4) == 4
    assert sprams_needed([mem(16384, 8)] * 8) == 8       # one bank per SPRAM at least
    assert sprams_needed([mem(32768, 8)] * 4) == 4
    assert sprams_needed([mem(16384, 12)]) == 1


def test_overfull_resources_reads_the_nextpnr_utilisation_table():
    log = """Info: Device utilisation:
Info: \t         ICESTORM_LC:    6053/   5280   114%
Info: \t        ICESTORM_RAM:      28/     30    93%
Info: \t        ICESTORM_DSP:       9/      8   112%
Info: \t      ICESTORM_HFOSC:       0/      1     0%
ERROR: Unable to place cell 'x', no BELs remaining to implement cell type 'ICESTORM_DSP'
"""
    assert overfull_resources(log) == {"ICESTORM_LC": [6053, 5280], "ICESTORM_DSP": [9, 8]}
    assert overfull_resources(log.replace("6053", "5053").replace("  9/", "  8/")) == {}
    assert overfull_resources("ERROR: something else") == {}


def test_clock_given_to_a_few_digits_means_the_pll_frequency():
    board = BOARDS["ulx3s"]
    assert clock_hz(board, 54.17) == clock_hz(board, 54.1667) == 54_166_667
    assert clock_hz(board, 60) == 60_000_000
    assert clock_hz(board, 33) == 33_000_000          # not a PLL frequency: refused later
    assert uart_divisor(54_166_667, 3_000_000) == 18


def test_vivado_boards_get_project_files_and_no_bitstream(tmp_path, capsys):
    out = tmp_path / "cmod"
    report = build("cmod_a7", 8, 8, 1, out, make_top=StandInTop)
    assert report["bitstream"] is None and report["fmax_mhz"] is None
    assert "Vivado is needed" in report["note"]
    assert {"top.tcl", "top.xdc", "top.v", "build_top.sh"} <= set(report["files"])
    assert not list(out.glob("*.bit"))
    assert "no bitstream was made" in capsys.readouterr().out
    assert json.loads((out / "report.json").read_text())["bitstream"] is None


@pytest.mark.slow
@pytest.mark.bitstream
@pytest.mark.skipif(not _have_top(), reason="spikecore.hw.top is not there yet")
@pytest.mark.parametrize("board", ["ulx3s", "ulx3s_45f", "ulx3s_25f", "ulx3s_12f"])
def test_default_build_fits_and_meets_timing(tmp_path, board):
    out = tmp_path / board
    report = build(board, out_dir=out)
    b = get_board(board)
    _check_report(report, out, board, (b.n_inputs, b.n_neurons, b.lanes))
    assert report["timing_met"], report


def test_build_does_not_replace_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="refusing to replace"):
        build("cmod_a7", 8, 8, 1, tmp_path, make_top=StandInTop)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
