"""FPGA boards that spikecore builds bitstreams for.

Each :class:`Board` names an amaranth-boards platform, the default geometry of the core it
carries, the core clock (and the PLL setting that makes it), the UART baud rate, which LED
shows what, and the programmer. ``spikecore build --board NAME`` (``spikecore.boards.build``)
turns one into ``build/NAME/``; docs/boards.md lists what fits where.

The iCE40 and ECP5 boards are built end to end with the open toolchain (YoWASP Yosys and
nextpnr). The Xilinx 7-series boards get the Vivado project files that Amaranth writes; Vivado
is needed to turn those into a bitstream.
"""

from dataclasses import dataclass, field

from ..spec import Feature

__all__ = ["Board", "BOARDS", "get_board", "board_names"]


@dataclass(frozen=True)
class Board:
    """Describe one board.

    Attributes
    ----------
    name : str
        The name ``spikecore build --board`` takes.
    description : str
        One line for humans.
    platform : str
        The amaranth-boards platform, as ``"module:Class"`` (imported on use).
    family : str
        ``"ice40"``, ``"ecp5"`` or ``"xilinx"``.
    n_inputs, n_neurons, lanes : int
        Default geometry of the core.
    osc_hz : int
        Frequency of the board's oscillator (the platform's default clock).
    clocks : dict of int to tuple
        Core clock frequencies (Hz) this board knows how to make, each with its PLL setting
        (family-specific tuple; ``()`` means the oscillator itself).
    clk_hz : int
        The default core clock (a key of *clocks*).
    baud : int
        UART baud rate; the UART divisor is ``clk_hz / baud``.
    leds : tuple of (str, int, str)
        ``(resource, number, function)``: which LED shows which activity. Functions:
        ``heartbeat`` (blinks about once a second), ``rx``, ``tx`` (UART traffic),
        ``lock`` (PLL locked, reset released) and ``spike`` (any extra one-bit activity
        output of the top level, stretched so it is visible).
    programmer : tuple of str
        Command that loads a bitstream (``{bitstream}`` is replaced by its path); its first
        word may be overridden by the environment variable *programmer_env*.
    programmer_env : str
        Environment variable naming the programmer executable.
    bitstream_ext : str
        File name extension of the bitstream the open flow makes (``bin`` / ``bit``).
    extra_resources : str or None
        Name of a platform attribute holding resources to add (e.g. the iCEBreaker's
        break-off LED PMOD).
    top_options : dict
        Keyword options of ``spikecore.hw.top.Top`` this board's gateware is built with
        (e.g. ``weight_ports``, ``max_payload``, ``rx_window``). The virtual board takes
        them too (``connect("sim://", board=NAME)``), so it simulates the bitstream's
        gateware.
    """
    name: str
    description: str
    platform: str
    family: str
    n_inputs: int
    n_neurons: int
    lanes: int
    osc_hz: int
    clocks: dict = field(hash=False)
    clk_hz: int
    baud: int
    leds: tuple
    programmer: tuple
    programmer_env: str
    bitstream_ext: str = "bin"
    extra_resources: str = None
    top_options: dict = field(default_factory=dict, hash=False)

    @property
    def vendor_only(self):
        """True when the board's bitstream needs the vendor's tools (Vivado)."""
        return self.family == "xilinx"

    def platform_class(self):
        """Import and return the amaranth-boards platform class."""
        import importlib
        module, _, cls = self.platform.partition(":")
        try:
            return getattr(importlib.import_module(module), cls)
        except ImportError:
            from ..toolchain import missing_extra
            raise RuntimeError(missing_extra("boards", f"the {self.name} board",
                                             "amaranth-boards is not installed")) from None


# iCE40 SB_PLL40_PAD settings from ``icepll -i 12 -o F``: (DIVR, DIVF, DIVQ, FILTER_RANGE).
_ICE40_PLL_12 = {
    12_000_000: (),
    18_000_000: (0, 47, 5, 1),
    24_000_000: (0, 63, 5, 1),
    30_000_000: (0, 79, 5, 1),
    36_000_000: (0, 47, 4, 1),
}

# ECP5 EHXPLLL settings from ``ecppll -i 25 -o F`` (feedback from CLKOP):
# (CLKI_DIV, CLKOP_DIV, CLKOP_CPHASE, CLKFB_DIV); out = 25 MHz / CLKI_DIV · CLKFB_DIV, the
# VCO (out · CLKOP_DIV) in 400–800 MHz. Each is within 0.5 % of a multiple of 3 MHz (3 Mbaud):
# 54.17 MHz = 25 · 13 / 6 (divisor 18, 3.009 Mbaud) is the fastest below 60 the PFD allows.
_ECP5_PLL_25 = {
    45_000_000: (5, 13, 6, 9),
    54_166_667: (6, 11, 5, 13),
    60_000_000: (5, 10, 4, 12),
    75_000_000: (1, 8, 4, 3),
    90_000_000: (5, 7, 3, 18),
}

# Xilinx MMCME2_BASE settings: (DIVCLK_DIVIDE, CLKFBOUT_MULT_F, CLKOUT0_DIVIDE_F); VCO 600 MHz.
_MMCM_100 = {
    60_000_000: (1, 6.0, 10.0),
    75_000_000: (1, 7.5, 10.0),
}
_MMCM_12 = {
    48_000_000: (1, 50.0, 12.5),
    60_000_000: (1, 50.0, 10.0),
    75_000_000: (1, 50.0, 8.0),
}

_ICE40_LEDS = (("led_g", 0, "heartbeat"), ("led_r", 0, "rx"),
               # The break-off PMOD's five LEDs (left on PMOD2 when it is snapped off).
               ("led_g", 1, "lock"), ("led_g", 2, "rx"), ("led_g", 3, "tx"),
               ("led_g", 4, "spike"), ("led_r", 1, "spike"))

_ULX3S_LEDS = (("led", 0, "heartbeat"), ("led", 1, "lock"), ("led", 2, "rx"), ("led", 3, "tx"),
               ("led", 4, "spike"))

_ULX3S = dict(family="ecp5", osc_hz=25_000_000, clocks=_ECP5_PLL_25, baud=3_000_000,
              leds=_ULX3S_LEDS, programmer=("openFPGALoader", "-b", "ulx3s", "{bitstream}"),
              programmer_env="OPENFPGALOADER", bitstream_ext="bit")

_BOARD_LIST = [
    Board("icebreaker", "1BitSquared iCEBreaker (iCE40UP5K-SG48), FT2232H UART at 3 Mbaud",
          "amaranth_boards.icebreaker:ICEBreakerPlatform", "ice40",
          n_inputs=256, n_neurons=256, lanes=1, osc_hz=12_000_000, clocks=_ICE40_PLL_12,
          clk_hz=12_000_000, baud=3_000_000, leds=_ICE40_LEDS,
          programmer=("iceprog", "{bitstream}"), programmer_env="ICEPROG",
          bitstream_ext="bin", extra_resources="break_off_pmod",
          # One lane: the UP5K's 8 DSPs hold one lane's 6 multipliers. The weights go to the
          # four SPRAMs, which are single-port; 256-byte payloads keep the link's buffers
          # and the receive FIFO within the block RAM the core leaves; at 12 MHz the neuron
          # unit needs 2 pipeline stages, not 6, and the core no copy of each command. Of
          # the optional parts only x_tar fits: theta, the generators and the spike counts
          # need memory (all 30 block RAMs are used, and 5,162 of 5,280 logic cells), the
          # soft bound a ninth DSP, RUN_WITH 488 more cells (docs/boards.md). The driver
          # generates inputs, counts spikes and probes for it (docs/protocol.md).
          top_options={"weight_ports": 1, "neuron_latency": 2, "register_commands": False,
                       "max_payload": 256, "rx_window": 1024, "features": Feature.X_TAR}),
    # The 85F at 60 MHz (divisor 20): 66.04 MHz fmax with the default seed (docs/boards.md).
    Board("ulx3s", "Radiona ULX3S with ECP5 LFE5U-85F, FT231X UART at 3 Mbaud",
          "amaranth_boards.ulx3s:ULX3S_85F_Platform", n_inputs=256, n_neurons=256, lanes=16,
          clk_hz=60_000_000, **_ULX3S),
    # The smaller ECP5s are limited by their multipliers: each lane's neuron and synapse
    # units take 8 MULT18X18D (the 45F has 72, the 25F and 12F 28 each).
    Board("ulx3s_45f", "Radiona ULX3S with ECP5 LFE5U-45F, FT231X UART at 3 Mbaud",
          "amaranth_boards.ulx3s:ULX3S_45F_Platform", n_inputs=256, n_neurons=256, lanes=8,
          clk_hz=54_166_667, **_ULX3S),
    Board("ulx3s_25f", "Radiona ULX3S with ECP5 LFE5U-25F, FT231X UART at 3 Mbaud",
          "amaranth_boards.ulx3s:ULX3S_25F_Platform", n_inputs=128, n_neurons=128, lanes=2,
          clk_hz=54_166_667, **_ULX3S),
    Board("ulx3s_12f", "Radiona ULX3S with ECP5 LFE5U-12F, FT231X UART at 3 Mbaud",
          "amaranth_boards.ulx3s:ULX3S_12F_Platform", n_inputs=64, n_neurons=64, lanes=2,
          clk_hz=54_166_667, **_ULX3S),
    # The Artix-7 35T has 90 DSP48E1: 8 lanes (Yosys maps 16 lanes to 128).
    Board("arty_a7", "Digilent Arty A7-35T (xc7a35ti), FT2232H UART at 3 Mbaud (Vivado needed)",
          "amaranth_boards.arty_a7:ArtyA7_35Platform", "xilinx",
          n_inputs=256, n_neurons=256, lanes=8, osc_hz=100_000_000, clocks=_MMCM_100,
          clk_hz=60_000_000, baud=3_000_000,
          leds=(("led", 0, "heartbeat"), ("led", 1, "rx"), ("led", 2, "tx"),
                ("led", 3, "spike")),
          programmer=("openFPGALoader", "-b", "arty", "{bitstream}"),
          programmer_env="OPENFPGALOADER", bitstream_ext="bit"),
    Board("cmod_a7", "Digilent Cmod A7-35T (xc7a35t), FT2232H UART at 3 Mbaud (Vivado needed)",
          "amaranth_boards.cmod_a7:CmodA7_35Platform", "xilinx",
          n_inputs=256, n_neurons=256, lanes=8, osc_hz=12_000_000, clocks=_MMCM_12,
          clk_hz=60_000_000, baud=3_000_000,
          leds=(("led", 0, "heartbeat"), ("led", 1, "spike")),
          programmer=("openFPGALoader", "-b", "cmoda7_35t", "{bitstream}"),
          programmer_env="OPENFPGALOADER", bitstream_ext="bit"),
]

#: Every board, by name.
BOARDS = {board.name: board for board in _BOARD_LIST}


def board_names():
    """Return the known board names, sorted."""
    return sorted(BOARDS)


def get_board(name):
    """Return the :class:`Board` called *name*; raise ``ValueError`` naming the choices if none."""
    if isinstance(name, Board):
        return name
    if not isinstance(name, str):
        raise TypeError(f"board must be a board name (str), not {name!r}")
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; choose one of: "
                         f"{', '.join(board_names())}") from None
