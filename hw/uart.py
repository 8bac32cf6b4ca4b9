"""UART receiver and transmitter: 8 data bits, no parity, one stop bit (8N1), LSB first.

The bit time is *divisor* clock cycles. The board's pin goes through a synchronizer first
(``spikecore.boards.top``); the virtual board drives ``rx`` synchronously.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RxByte", "UartRx", "UartTx", "check_divisor"]

#: Smallest divisor: the receiver samples each bit in its middle, which needs a few clocks.
MIN_DIVISOR = 4


class RxByte(data.Struct):
    """One received byte; *ferr* is set when its stop bit was 0 (a framing error or break)."""
    data: 8
    ferr: 1


def check_divisor(divisor):
    """Raise ``ValueError`` unless *divisor* is an integer >= ``MIN_DIVISOR``."""
    if isinstance(divisor, bool) or not isinstance(divisor, int):
        raise TypeError(f"divisor must be an integer, not {divisor!r}")
    if divisor < MIN_DIVISOR:
        raise ValueError(f"divisor must be at least {MIN_DIVISOR} clocks per bit, not {divisor}")


class UartRx(wiring.Component):
    """Receive 8N1 bytes.

    A falling edge starts a byte; each bit is sampled in its middle. A start bit that is high
    again at its middle is ignored as a glitch. A low stop bit delivers the byte with *ferr*
    set and the receiver waits for the line to go high before it looks for the next start
    bit. The receiver cannot be stalled: the consumer must take every byte in the clock it is
    offered (``always_ready``).

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (>= 4).

    Members
    -------
    rx : In(1)
        The line, idle high, synchronous to the clock.
    data : Out(stream.Signature(RxByte, always_ready=True))
        One beat per received byte.
    """
    rx: In(1, init=1)
    data: Out(stream.Signature(RxByte, always_ready=True))

    def __init__(self, divisor):
        check_divisor(divisor)
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        middle = (d - 1) // 2           # clocks from the first low sample to the start bit's middle
        timer = Signal(range(d))
        bits = Signal(range(9))
        shift = Signal(8)
        sample = timer == 0

        m.d.comb += self.data.payload.data.eq(shift)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~self.rx):
                    m.d.sync += timer.eq(middle - 1)
                    m.next = "START"
            with m.State("START"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(sample):
                    m.d.sync += [timer.eq(d - 1), bits.eq(0)]
                    with m.If(self.rx):
                        m.next = "IDLE"         # a glitch, not a start bit
                    with m.Else():
                        m.next = "DATA"
            with m.State("DATA"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(sample):
                    m.d.sync += [timer.eq(d - 1), shift.eq(Cat(shift[1:], self.rx)),
                                 bits.eq(bits + 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(sample):
                    m.d.comb += [self.data.valid.eq(1), self.data.payload.ferr.eq(~self.rx)]
                    m.next = "IDLE"
                    with m.If(~self.rx):
                        m.next = "BREAK"
            with m.State("BREAK"):
                with m.If(self.rx):
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """Transmit 8N1 bytes, back to back when the next one is waiting.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (>= 4).

    Members
    -------
    data : In(stream.Signature(8))
        Bytes to send; taken when the previous byte's stop bit ends.
    tx : Out(1)
        The line, idle high.
    busy : Out(1)
        A byte is being sent.
    """
    data: In(stream.Signature(8))
    tx: Out(1, init=1)
    busy: Out(1)

    def __init__(self, divisor):
        check_divisor(divisor)
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        timer = Signal(range(d))
        left = Signal(range(11))        # bits still to send, this one included; 0 when idle
        shift = Signal(10, init=0x3ff)  # stop bit, 8 data bits, start bit (sent first)

        m.d.comb += [self.tx.eq(shift[0]), self.busy.eq(left != 0)]
        bit_done = timer == 0
        free = (left == 0) | ((left == 1) & bit_done)
        m.d.comb += self.data.ready.eq(free)
        with m.If(free & self.data.valid):
            m.d.sync += [shift.eq(Cat(0, self.data.payload, 1)), left.eq(10), timer.eq(d - 1)]
        with m.Elif(left != 0):
            m.d.sync += timer.eq(timer - 1)
            with m.If(bit_done):
                m.d.sync += [shift.eq(Cat(shift[1:], 1)), left.eq(left - 1), timer.eq(d - 1)]
        return m
