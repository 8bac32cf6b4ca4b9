"""COBS framing (docs/protocol.md): decode received frames, encode frames to send.

Consistent-overhead byte stuffing removes every 0x00 from a frame, so 0x00 can end frames: a
code byte ``c`` (1 … 255) is followed by ``c − 1`` non-zero bytes and, when ``c < 255`` and the
frame goes on, an implied 0x00. The host side is ``spikecore.protocol``.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .uart import RxByte

__all__ = ["Decoded", "Unencoded", "CobsDecoder", "CobsEncoder", "MAX_BLOCK"]

#: Most data bytes one code byte covers.
MAX_BLOCK = 254


class Decoded(data.Struct):
    """One beat out of the decoder: a frame's byte, or (``end``) the end of a frame.

    An end beat carries ``error`` when the frame was malformed (a block cut short by the
    delimiter) or held a byte received with a framing error. An empty frame is a lone end
    beat without error.
    """
    data:  8
    end:   1
    error: 1


class Unencoded(data.Struct):
    """One byte into the encoder; ``last`` marks the last byte of a frame."""
    data: 8
    last: 1


class CobsDecoder(wiring.Component):
    """Decode a COBS byte stream into frames.

    Members
    -------
    i : In(stream.Signature(RxByte))
        Received bytes; 0x00 ends a frame.
    o : Out(stream.Signature(Decoded))
        The decoded bytes of each frame, then an end beat.
    """
    i: In(stream.Signature(RxByte))
    o: Out(stream.Signature(Decoded))

    def elaborate(self, platform):
        m = Module()
        left = Signal(8)        # data bytes left in this block; 0: a code byte is next
        implied = Signal()      # the block that just ended is followed by a 0x00 if the frame goes on
        zero_after = Signal()   # this block (code < 255) will end with an implied 0x00
        error = Signal()
        byte, ferr = self.i.payload.data, self.i.payload.ferr

        with m.If(self.i.valid):
            with m.If(byte == 0):
                # The delimiter: end the frame. An implied zero before it is dropped.
                m.d.comb += [self.o.valid.eq(1), self.o.payload.end.eq(1),
                             self.o.payload.error.eq(error | ferr | (left != 0))]
                with m.If(self.o.ready):
                    m.d.comb += self.i.ready.eq(1)
                    m.d.sync += [left.eq(0), implied.eq(0), error.eq(0)]
            with m.Elif(left == 0):
                with m.If(implied):
                    # A new block: first the zero the previous one implied.
                    m.d.comb += [self.o.valid.eq(1), self.o.payload.data.eq(0)]
                    with m.If(self.o.ready):
                        m.d.sync += implied.eq(0)
                with m.Else():
                    m.d.comb += self.i.ready.eq(1)
                    m.d.sync += [left.eq(byte - 1), zero_after.eq(byte != 0xff),
                                 implied.eq((byte == 1)), error.eq(error | ferr)]
            with m.Else():
                m.d.comb += [self.o.valid.eq(1), self.o.payload.data.eq(byte)]
                with m.If(self.o.ready):
                    m.d.comb += self.i.ready.eq(1)
                    m.d.sync += [left.eq(left - 1), error.eq(error | ferr)]
                    with m.If(left == 1):
                        m.d.sync += implied.eq(zero_after)
        return m


class CobsEncoder(wiring.Component):
    """Encode frames with COBS and end each with 0x00.

    Up to 254 bytes of a block wait in a small memory until the block's length is known.

    Members
    -------
    i : In(stream.Signature(Unencoded))
        The bytes of each frame, ``last`` set on its last byte. A frame has at least one byte.
    o : Out(stream.Signature(8))
        The encoded frames, each followed by 0x00.
    """
    i: In(stream.Signature(Unencoded))
    o: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        m.submodules.block = block = Memory(shape=8, depth=MAX_BLOCK, init=[])
        wr, rd = block.write_port(), block.read_port(transparent_for=())
        count = Signal(range(MAX_BLOCK + 1))    # bytes in the block
        sent = Signal(range(MAX_BLOCK + 1))     # of those, already sent
        code = Signal(8)
        after = Signal(2)                       # what follows the block being flushed
        FILL, FINAL, DELIM = 0, 1, 2

        byte, last = self.i.payload.data, self.i.payload.last
        m.d.comb += rd.addr.eq(sent)
        with m.FSM():
            with m.State("FILL"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    with m.If(byte != 0):
                        m.d.comb += [wr.addr.eq(count), wr.data.eq(byte), wr.en.eq(1)]
                        m.d.sync += count.eq(count + 1)
                        with m.If(count == MAX_BLOCK - 1):
                            # A full block: code 255, no implied zero.
                            m.d.sync += [code.eq(0xff), after.eq(FILL)]
                            with m.If(last):
                                m.d.sync += after.eq(DELIM)
                            m.next = "CODE"
                        with m.Elif(last):
                            m.d.sync += [code.eq(count + 2), after.eq(DELIM)]
                            m.next = "CODE"
                    with m.Else():
                        m.d.sync += [code.eq(count + 1), after.eq(FILL)]
                        with m.If(last):
                            m.d.sync += after.eq(FINAL)
                        m.next = "CODE"
            with m.State("CODE"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(code)]
                with m.If(self.o.ready):
                    m.d.sync += sent.eq(0)
                    m.next = "WAIT"
            with m.State("WAIT"):
                # One clock for the block memory's read of address 0.
                m.next = "DATA"
            with m.State("DATA"):
                with m.If(sent == code - 1):
                    m.d.sync += count.eq(0)
                    with m.Switch(after):
                        with m.Case(FILL):
                            m.next = "FILL"
                        with m.Case(FINAL):
                            m.next = "FINAL"
                        with m.Default():
                            m.next = "DELIM"
                with m.Else():
                    m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(rd.data)]
                    with m.If(self.o.ready):
                        m.d.comb += rd.addr.eq(sent + 1)
                        m.d.sync += sent.eq(sent + 1)
            with m.State("FINAL"):
                # The frame ended with 0x00: an empty last block carries it.
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(1)]
                with m.If(self.o.ready):
                    m.next = "DELIM"
            with m.State("DELIM"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(0)]
                with m.If(self.o.ready):
                    m.next = "FILL"
        return m
