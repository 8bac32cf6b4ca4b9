"""The board-level top: clock generation, reset, UART pins and activity LEDs around ``Top``.

Everything between the UART pins is the same ``spikecore.hw.top.Top`` that the virtual board
simulates with the board's geometry and ``top_options`` (``connect("sim://", board=NAME)``);
only the UART divisor and the reported clock differ (they follow the board's clock). The
board adds a PLL, a power-on reset held until the PLL locks, a two-flip-flop synchronizer on
the UART receive pin, and LED drivers.
"""

from amaranth import (Cat, ClockDomain, ClockSignal, Instance, Module, Mux, ResetSignal, Shape,
                      Signal)
from amaranth.lib import cdc, io, wiring

__all__ = ["BoardTop", "uart_divisor"]

#: Clock cycles the core is held in reset after the PLL locks (also covers the iCE40's
#: block RAM power-up time of a few microseconds).
RESET_CYCLES = 1 << 10
#: The LEDs' time unit (seconds).
TICK_S = 0.025
#: Ticks an LED stays lit after the one with its event, so single events are visible (50 ms
#: and the rest of the event's tick).
STRETCH_TICKS = 2
#: Ticks between heartbeat toggles (twice a second).
HEARTBEAT_TICKS = 20


def uart_divisor(clk_hz, baud):
    """Return clock cycles per UART bit for *baud* at *clk_hz*; raise if more than 1 % off."""
    divisor = round(clk_hz / baud)
    if divisor < 2:
        raise ValueError(f"a {clk_hz / 1e6:g} MHz clock is too slow for {baud} baud")
    error = abs(clk_hz / divisor - baud) / baud
    if error > 0.01:
        raise ValueError(f"{clk_hz / 1e6:g} MHz / {divisor} is {clk_hz / divisor:.0f} baud, "
                         f"{error:.1%} away from {baud}; choose another clock")
    return divisor


class BoardTop(wiring.Component):
    """Put the spikecore top level on a board.

    Parameters
    ----------
    board : spikecore.boards.Board
        The board.
    core : wiring.Component
        The top level to place (``Top``, or a stand-in with ports ``rx: In(1)`` and
        ``tx: Out(1)``). Extra one-bit outputs drive the ``spike`` LEDs.
    clk_hz : int
        Core clock; a key of ``board.clocks``.

    This component has no ports: it requests the board's pins itself.
    """
    def __init__(self, board, core, clk_hz):
        if clk_hz not in board.clocks:
            known = ", ".join(f"{f / 1e6:g}" for f in sorted(board.clocks))
            raise ValueError(f"board {board.name!r} cannot make a {clk_hz / 1e6:g} MHz clock; "
                             f"choose one of (MHz): {known}")
        self.board = board
        self.core = core
        self.clk_hz = clk_hz
        super().__init__({})

    # -- clocks -------------------------------------------------------------------------------

    def _clock(self, m, platform):
        """Drive ``pll_clk`` from the oscillator (through a PLL when needed); return lock."""
        board, setting = self.board, self.board.clocks[self.clk_hz]
        m.domains.pll = cd_pll = ClockDomain("pll", reset_less=True, local=True)
        osc_name = platform.default_clk
        locked = Signal()
        pll_out = Signal()
        if not setting:
            m.submodules.osc = osc = io.Buffer("i", platform.request(osc_name, 0, dir="-"))
            m.d.comb += [cd_pll.clk.eq(osc.i), locked.eq(1)]
            return locked
        if board.family == "ice40":
            divr, divf, divq, filter_range = setting
            osc = platform.request(osc_name, 0, dir="-")
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE", p_DIVR=divr, p_DIVF=divf, p_DIVQ=divq,
                p_FILTER_RANGE=filter_range,
                i_PACKAGEPIN=osc.io, i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=pll_out, o_LOCK=locked)
        elif board.family == "ecp5":
            clki_div, clkop_div, cphase, clkfb_div = setting
            m.submodules.osc = osc = io.Buffer("i", platform.request(osc_name, 0, dir="-"))
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=str(board.osc_hz // 1_000_000),
                a_FREQUENCY_PIN_CLKOP=f"{self.clk_hz / 1e6:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8",
                a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
                p_OUTDIVIDER_MUXB="DIVB", p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
                p_CLKI_DIV=clki_div, p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=clkop_div,
                p_CLKOP_CPHASE=cphase, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
                p_CLKFB_DIV=clkfb_div,
                i_RST=0, i_STDBY=0, i_CLKI=osc.i, o_CLKOP=pll_out, i_CLKFB=pll_out,
                i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1,
                i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0,
                o_LOCK=locked)
        elif board.family == "xilinx":
            divclk, mult, div0 = setting
            m.submodules.osc = osc = io.Buffer("i", platform.request(osc_name, 0, dir="-"))
            fb, clk_unbuf = Signal(), Signal()
            m.submodules.pll = Instance(
                "MMCME2_BASE",
                p_BANDWIDTH="OPTIMIZED", p_CLKIN1_PERIOD=1e9 / board.osc_hz,
                p_DIVCLK_DIVIDE=divclk, p_CLKFBOUT_MULT_F=mult, p_CLKOUT0_DIVIDE_F=div0,
                p_STARTUP_WAIT="FALSE",
                i_CLKIN1=osc.i, i_CLKFBIN=fb, o_CLKFBOUT=fb, i_RST=0, i_PWRDWN=0,
                o_CLKOUT0=clk_unbuf, o_LOCKED=locked)
            m.submodules.bufg = Instance("BUFG", i_I=clk_unbuf, o_O=pll_out)
        else:  # pragma: no cover - the board table has no other families
            raise ValueError(f"no PLL support for family {board.family!r}")
        # No constraint on pll_out: nextpnr and Vivado derive the PLL's output clock from the
        # oscillator's constraint (nextpnr's report shows it as the target).
        m.d.comb += cd_pll.clk.eq(pll_out)
        return locked

    # -- the design ---------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        locked = self._clock(m, platform)

        # Power-on reset: the core's clock domain stays in reset until the PLL has been locked
        # for RESET_CYCLES cycles.
        m.domains.sync = cd_sync = ClockDomain("sync")
        m.d.comb += cd_sync.clk.eq(ClockSignal("pll"))
        locked_sync = Signal()
        m.submodules.lock_sync = cdc.FFSynchronizer(locked, locked_sync, o_domain="pll")
        por = Signal(range(RESET_CYCLES), init=RESET_CYCLES - 1)
        with m.If(~locked_sync):
            m.d.pll += por.eq(RESET_CYCLES - 1)
        with m.Elif(por != 0):
            m.d.pll += por.eq(por - 1)
        m.d.comb += cd_sync.rst.eq(por != 0)

        m.submodules.core = core = self.core
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = uart_rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = uart_tx = io.Buffer("o", uart.tx)
        m.submodules.rx_sync = cdc.FFSynchronizer(uart_rx.i, core.rx, init=1)
        m.d.comb += uart_tx.o.eq(core.tx)

        # Activity LEDs, from one prescaler (logic cells are dear on the iCE40): a tick every
        # TICK_S; the heartbeat toggles every HEARTBEAT_TICKS ticks, and an event lights its LED
        # for the rest of the tick and the STRETCH_TICKS after it.
        ticks = max(2, int(self.clk_hz * TICK_S))
        prescaler = Signal(range(ticks))
        tick = Signal()
        m.d.comb += tick.eq(prescaler == ticks - 1)
        m.d.sync += prescaler.eq(Mux(tick, 0, prescaler + 1))
        beats = Signal(range(HEARTBEAT_TICKS))
        beat = Signal()
        with m.If(tick):
            m.d.sync += beats.eq(Mux(beats == HEARTBEAT_TICKS - 1, 0, beats + 1))
            with m.If(beats == HEARTBEAT_TICKS - 1):
                m.d.sync += beat.eq(~beat)

        def stretched(event, name):
            left = Signal(range(STRETCH_TICKS + 2), name=f"{name}_stretch")
            with m.If(event):
                m.d.sync += left.eq(STRETCH_TICKS + 1)
            with m.Elif(tick & (left != 0)):
                m.d.sync += left.eq(left - 1)
            return left != 0

        extra = [getattr(core, name) for name, member in core.signature.members.items()
                 if name not in ("rx", "tx") and member.is_port and member.flow == wiring.Out
                 and Shape.cast(member.shape).width == 1 and not member.dimensions]
        spike = Signal()
        if extra:
            m.d.comb += spike.eq(Cat(*extra).any())
        functions = {
            "heartbeat": beat,
            "lock": ~ResetSignal("sync"),
            "rx": stretched(~core.rx, "rx"),
            "tx": stretched(~core.tx, "tx"),
            "spike": stretched(spike, "spike"),
        }
        for resource, number, function in self.board.leds:
            led = io.Buffer("o", platform.request(resource, number, dir="-"))
            m.submodules[f"{resource}_{number}"] = led
            m.d.comb += led.o.eq(functions[function])
        return m
