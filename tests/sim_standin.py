"""A stand-in top level for testing the virtual-board harness on its own.

``EchoTop`` has the ports of ``spikecore.hw.top.Top`` (``rx`` in, ``tx`` out, 8N1 with
*divisor* clocks per bit) and sends back every byte it receives plus one (modulo 256), through
a FIFO, so the harness's bit timing, buffering and client handling can be tested without the
core.
"""

from amaranth import Cat, Module, Signal
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["EchoTop", "make_echo_top"]


class EchoTop(wiring.Component):
    """Echo every received byte plus one.

    Members
    -------
    rx : In(1)
        UART into the design, idle high.
    tx : Out(1)
        UART out of the design, idle high.
    """
    rx: In(1, init=1)
    tx: Out(1, init=1)

    def __init__(self, divisor):
        if not isinstance(divisor, int) or divisor < 2:
            raise ValueError(f"divisor must be an integer >= 2, not {divisor!r}")
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        m.submodules.fifo = q = fifo.SyncFIFOBuffered(width=8, depth=64)

        # Receiver: wait for a start edge, sample mid-bit.
        rx_cnt = Signal(range(2 * d + 1))
        rx_bit = Signal(range(10))
        rx_sh = Signal(8)
        rx_sync = Signal(2, init=0b11)
        m.d.sync += rx_sync.eq(Cat(self.rx, rx_sync[0]))
        level = rx_sync[1]
        m.d.comb += q.w_data.eq(rx_sh + 1)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~level):
                    m.d.sync += [rx_cnt.eq(d // 2), rx_bit.eq(0)]
                    m.next = "BITS"
            with m.State("BITS"):
                with m.If(rx_cnt != 0):
                    m.d.sync += rx_cnt.eq(rx_cnt - 1)
                with m.Else():
                    m.d.sync += [rx_cnt.eq(d - 1), rx_bit.eq(rx_bit + 1)]
                    with m.If(rx_bit == 0):
                        with m.If(level):
                            m.next = "IDLE"
                    with m.Elif(rx_bit <= 8):
                        m.d.sync += rx_sh.eq(Cat(rx_sh[1:], level))
                    with m.Else():
                        m.d.comb += q.w_en.eq(level)
                        m.next = "IDLE"

        # Transmitter.
        tx_cnt = Signal(range(d + 1))
        tx_bit = Signal(range(11))
        tx_sh = Signal(10, init=0x3ff)
        m.d.comb += self.tx.eq(tx_sh[0])
        last = (tx_bit == 1) & (tx_cnt == 0)
        with m.If((tx_bit == 0) | last):
            # Idle or at the end of a stop bit: start the next byte at once, if there is one.
            m.d.comb += q.r_en.eq(1)
            with m.If(q.r_rdy):
                m.d.sync += [tx_sh.eq((q.r_data << 1) | (1 << 9)), tx_bit.eq(10),
                             tx_cnt.eq(d - 1)]
            with m.Elif(last):
                m.d.sync += tx_bit.eq(0)
        with m.Elif(tx_cnt != 0):
            m.d.sync += tx_cnt.eq(tx_cnt - 1)
        with m.Else():
            m.d.sync += [tx_sh.eq((tx_sh >> 1) | (1 << 9)), tx_bit.eq(tx_bit - 1),
                         tx_cnt.eq(d - 1)]
        return m


def make_echo_top(n_inputs, n_neurons, lanes, divisor, clk_hz):
    """Return an :class:`EchoTop` (the geometry is ignored); a ``make_top`` for sim.build."""
    return EchoTop(divisor)
