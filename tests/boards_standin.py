"""A stand-in top level for testing the board build flow without the core.

``StandInTop`` has the constructor and ports of ``spikecore.hw.top.Top`` (``rx`` in, ``tx``
out, 8N1 with *divisor* clocks per bit, plus a one-bit ``spike`` activity output) and echoes
every received byte. It exercises the PLLs, pins, LEDs and reports of ``spikecore.boards``.
"""

from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["StandInTop"]


class StandInTop(wiring.Component):
    """Echo every byte received on ``rx`` back on ``tx`` (a stand-in for ``Top``).

    Members
    -------
    rx : In(1)
        UART into the design, idle high.
    tx : Out(1)
        UART out of the design, idle high.
    spike : Out(1)
        Pulses once per byte received.
    """
    rx: In(1, init=1)
    tx: Out(1, init=1)
    spike: Out(1)

    def __init__(self, n_inputs, n_neurons, lanes, divisor, clk_hz):
        for name, value in (("n_inputs", n_inputs), ("n_neurons", n_neurons),
                            ("lanes", lanes), ("clk_hz", clk_hz)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if not isinstance(divisor, int) or divisor < 2:
            raise ValueError(f"divisor must be an integer >= 2, not {divisor!r}")
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        # Receiver: sample mid-bit after a start edge.
        cnt = Signal(range(2 * d + 1))
        bit = Signal(range(10))
        sh = Signal(8)
        got = Signal()
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~self.rx):
                    m.d.sync += [cnt.eq(d + d // 2 - 1), bit.eq(0)]
                    m.next = "BITS"
            with m.State("BITS"):
                with m.If(cnt != 0):
                    m.d.sync += cnt.eq(cnt - 1)
                with m.Elif(bit == 8):
                    m.d.comb += got.eq(self.rx)
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += [sh.eq(Cat(sh[1:], self.rx)), bit.eq(bit + 1), cnt.eq(d - 1)]
        m.d.comb += self.spike.eq(got)
        # Transmitter: start a byte when one arrives and the line is free.
        tx_cnt = Signal(range(d))
        tx_bits = Signal(range(11))
        tx_sh = Signal(10, init=0x3ff)
        m.d.comb += self.tx.eq(tx_sh[0])
        with m.If(tx_bits == 0):
            with m.If(got):
                m.d.sync += [tx_sh.eq(Cat(0, sh, 1)), tx_bits.eq(10), tx_cnt.eq(d - 1)]
        with m.Elif(tx_cnt != 0):
            m.d.sync += tx_cnt.eq(tx_cnt - 1)
        with m.Else():
            m.d.sync += [tx_sh.eq(Cat(tx_sh[1:], 1)), tx_bits.eq(tx_bits - 1), tx_cnt.eq(d - 1)]
        return m
