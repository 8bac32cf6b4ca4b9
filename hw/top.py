"""The top level that the boards and the virtual board both instantiate: core, link and UART.

``rx``/``tx`` are the UART lines; everything else (a PLL, the pin synchronizer, LEDs) is the
board's (``spikecore.boards.top``), and the virtual board (``spikecore.sim``) drives the same
two lines from its harness. What the virtual board verifies is therefore what runs.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from .. import spec
from ..spec import Feature
from .core import Core
from .link import Link, check_max_payload
from .uart import UartRx, UartTx, check_divisor

__all__ = ["Top", "default_lanes", "make_top"]


def default_lanes(n_neurons, most=16):
    """Return the largest power of two that divides *n_neurons*, at most *most*."""
    lanes = 1
    while lanes * 2 <= most and n_neurons % (lanes * 2) == 0:
        lanes *= 2
    return lanes


def make_top(n_inputs, n_neurons, lanes, divisor, clk_hz, **options):
    """Return the ``Top`` for a geometry, UART divisor, clock and a board's ``top_options``.

    The one factory of the bitstreams (``spikecore.boards``) and the virtual board
    (``spikecore.sim``): both place what it returns. *lanes* None: ``default_lanes``.
    """
    return Top(n_inputs, n_neurons, lanes, divisor=divisor, clk_hz=clk_hz, **options)


class Top(wiring.Component):
    """A spikecore core behind its UART link (docs/protocol.md).

    Parameters
    ----------
    n_inputs, n_neurons : int
        The geometry.
    lanes : int or None
        Synapses per clock (None: ``default_lanes(n_neurons)``).
    divisor : int
        Clock cycles per UART bit (>= 4).
    clk_hz : int
        The clock frequency, reported by IDENTIFY (with the baud rate ``clk_hz // divisor``).
    weight_ports : int
        Ports per weight bank (``spikecore.hw.core.Core``): 1 for single-port RAM.
    neuron_latency : int
        Pipeline depth of the neuron units (``spikecore.hw.core.Core``).
    register_commands : bool
        Whether the core copies each control command as it takes it (``Core``).
    rx_window : int
        Bytes of the receive FIFO, reported by IDENTIFY as the host's window: at least two
        frames of *max_payload*.
    max_payload : int
        The longest frame payload the link takes and sends, reported by IDENTIFY
        (``spikecore.hw.link.check_max_payload``). Smaller saves block RAM: the link's frame
        and reply buffers hold three payloads.
    features : spikecore.spec.Feature
        The optional parts of the model to build (``Core``), reported by IDENTIFY.

    Members
    -------
    rx : In(1)
        UART into the device, idle high, synchronous to the clock.
    tx : Out(1)
        UART out of the device, idle high.
    spike : Out(1)
        Pulses when a neuron spikes (for an LED).
    """
    rx: In(1, init=1)
    tx: Out(1, init=1)
    spike: Out(1)

    def __init__(self, n_inputs, n_neurons, lanes=None, *, divisor, clk_hz, weight_ports=2,
                 neuron_latency=6, register_commands=True, rx_window=spec.RX_WINDOW,
                 max_payload=spec.MAX_PAYLOAD, features=Feature.all()):
        if lanes is None:
            lanes = default_lanes(n_neurons) if isinstance(n_neurons, int) else 1
        check_divisor(divisor)
        check_max_payload(max_payload, n_neurons)
        for name, value, low, high in (("clk_hz", clk_hz, 1, (1 << 32) - 1),
                                       ("rx_window", rx_window, 2 * (max_payload + 8),
                                        (1 << 16) - 1)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an integer, not {value!r}")
            if not low <= value <= high:
                raise ValueError(f"{name} must be in [{low}, {high}], not {value}")
        self.core = Core(n_inputs, n_neurons, lanes, weight_ports=weight_ports,
                         neuron_latency=neuron_latency, register_commands=register_commands,
                         features=features)
        self.n_inputs, self.n_neurons, self.lanes = n_inputs, n_neurons, lanes
        self.divisor, self.clk_hz, self.rx_window = divisor, clk_hz, rx_window
        self.max_payload = max_payload
        self.features = features
        self.baud = clk_hz // divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        m.submodules.uart_rx = urx = UartRx(self.divisor)
        m.submodules.uart_tx = utx = UartTx(self.divisor)
        m.submodules.rx_fifo = rxf = fifo.SyncFIFOBuffered(width=9, depth=self.rx_window)
        m.submodules.link = link = Link(self.n_inputs, self.n_neurons, self.lanes,
                                        clk_hz=self.clk_hz, baud=self.baud,
                                        rx_window=self.rx_window,
                                        max_payload=self.max_payload,
                                        features=self.features)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]

        # Received bytes into the FIFO. A byte that finds it full is lost; the next one that
        # fits is marked as a framing error, so the frame it belongs to is rejected.
        lost = Signal()
        m.d.comb += [rxf.w_data.eq(urx.data.payload), rxf.w_en.eq(urx.data.valid)]
        with m.If(urx.data.valid):
            with m.If(rxf.w_rdy):
                m.d.comb += rxf.w_data[8].eq(urx.data.payload.ferr | lost)
                m.d.sync += lost.eq(0)
            with m.Else():
                m.d.sync += lost.eq(1)
        # The FIFO's read data (a block RAM's slow output) is registered before the decoder
        # sees it: a one-byte stage that takes the next byte as it hands one on.
        byte, full = Signal(9), Signal()
        take = ~full | link.rx.ready
        m.d.comb += [link.rx.valid.eq(full), link.rx.payload.eq(byte), rxf.r_en.eq(take)]
        with m.If(take):
            m.d.sync += [byte.eq(rxf.r_data), full.eq(rxf.r_rdy)]
        wiring.connect(m, link.tx, utx.data)
        wiring.connect(m, link.core, core)
        m.d.comb += self.spike.eq(core.spike_out.valid & core.spike_out.ready
                                  & ~core.spike_out.payload.end)
        return m
