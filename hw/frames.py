"""Frames in, replies out (docs/protocol.md, "Frames"): the frame buffer and the reply buffers.

``FrameReceiver`` writes a decoded frame into the frame buffer, checks its CRC and length and
holds it until the executor releases it; ``ReplySender`` sends a reply from one of two reply
buffers with its CRC appended. Both run the CRC-16/CCITT-FALSE of ``spec.CRC_INIT`` through
``amaranth.lib.crc``; the host side is ``spikecore.protocol`` (``encode_frame``, ``crc16``).
"""

from amaranth.hdl import Cat, Module, Mux, ResetInserter, Signal
from amaranth.lib import crc, stream, wiring
from amaranth.lib.memory import Memory, ReadPort, WritePort
from amaranth.lib.wiring import In, Out, flipped

from .. import spec
from ..spec import Status
from .cobs import Decoded, Unencoded

__all__ = ["CRC16", "check_max_payload", "FrameSignature", "ReplySignature", "FrameReceiver",
           "ReplySender"]

#: The frames' CRC over bytes (``binascii.crc_hqx(payload, spec.CRC_INIT)``). Its residue is
#: 0: the register over a payload and its CRC (high byte first) is 0 when they match.
CRC16 = crc.catalog.CRC16_CCITT_FALSE(data_width=8)
assert CRC16.algorithm.initial_crc == spec.CRC_INIT and CRC16.residue() == 0


def check_max_payload(max_payload, n_neurons):
    """Raise ``TypeError``/``ValueError`` unless a link for *n_neurons* can use *max_payload*.

    It must be a power of two (the two reply buffers share one memory) from
    ``spec.MIN_PAYLOAD`` to ``spec.MAX_PAYLOAD``, with room for a RUN reply of one step.
    """
    if isinstance(max_payload, bool) or not isinstance(max_payload, int):
        raise TypeError(f"max_payload must be an integer, not {max_payload!r}")
    if not (spec.MIN_PAYLOAD <= max_payload <= spec.MAX_PAYLOAD
            and max_payload & (max_payload - 1) == 0):
        raise ValueError(f"max_payload must be a power of two in [{spec.MIN_PAYLOAD}, "
                         f"{spec.MAX_PAYLOAD}], not {max_payload}")
    if isinstance(n_neurons, bool) or not isinstance(n_neurons, int) or n_neurons < 1:
        return                          # the geometry's own check says what is wrong
    one_step = 2 + 1 + spec.bitmap_bytes(n_neurons)
    if max_payload < one_step:
        raise ValueError(f"max_payload {max_payload} cannot hold the reply of a one-step RUN "
                         f"at {n_neurons} neurons ({one_step} bytes)")


def _restartable_crc(restart):
    """Return a ``CRC16`` processor set back to ``spec.CRC_INIT`` in a clock with *restart*.

    It is restarted through its reset (the flip-flops' synchronous set), not its ``start``
    input: ``start`` puts a multiplexer before the update of every register bit (11 more
    LUTs on iCE40), and here a CRC never starts in the clock it takes a byte.
    """
    return ResetInserter(restart)(CRC16.create())


def _buffer_bits(max_payload):
    """Return the address bits of one buffer of *max_payload* bytes (a power of two)."""
    return (max_payload - 1).bit_length()


class FrameSignature(wiring.Signature):
    """A received frame held in the frame buffer, seen from the receiver.

    Parameters
    ----------
    max_payload : int
        The frame buffer's size (``check_max_payload``).

    Members
    -------
    ready : Out(1)
        A complete frame waits; the members below describe it until ``release``.
    status : Out(Status)
        ``OK``, ``BAD_FRAME`` (COBS or UART framing error, 1 … 3 or more than
        *max_payload* + 2 decoded bytes) or ``BAD_CRC``.
    seq, cmd : Out(8)
        Its first two bytes (0 where it has none).
    length : Out(range(max_payload + 1))
        Its payload's bytes (CRC excluded), when the status is ``OK``.
    read : Out(ReadPort.Signature(addr_width=log2(max_payload), shape=8))
        The frame buffer: ``data`` is the byte at the ``addr`` of the clock before.
    release : In(1)
        The frame is done with: receive the next one.
    """
    def __init__(self, max_payload):
        check_max_payload(max_payload, None)
        self.max_payload = max_payload
        super().__init__({
            "ready":   Out(1),
            "status":  Out(Status),
            "seq":     Out(8),
            "cmd":     Out(8),
            "length":  Out(range(max_payload + 1)),
            "read":    Out(ReadPort.Signature(addr_width=_buffer_bits(max_payload), shape=8)),
            "release": In(1),
        })


class ReplySignature(wiring.Signature):
    """Two reply buffers and their sender, seen from the side that writes replies.

    Parameters
    ----------
    max_payload : int
        The size of each reply buffer (``check_max_payload``).

    Members
    -------
    write : In(WritePort.Signature(addr_width=log2(max_payload) + 1, shape=8))
        Writes into the buffers: the address's top bit selects the buffer.
    start : Out(1)
        Send the first ``length`` bytes (at least one) of buffer ``buf`` as a frame; taken
        when the sender is not busy.
    buf : Out(1)
    length : Out(range(max_payload + 1))
    busy : In(1)
        A reply is being sent, from buffer ``current``: it must not be written.
    current : In(1)
    """
    def __init__(self, max_payload):
        check_max_payload(max_payload, None)
        self.max_payload = max_payload
        super().__init__({
            "write":   In(WritePort.Signature(addr_width=_buffer_bits(max_payload) + 1,
                                              shape=8)),
            "start":   Out(1),
            "buf":     Out(1),
            "length":  Out(range(max_payload + 1)),
            "busy":    In(1),
            "current": In(1),
        })


class FrameReceiver(wiring.Component):
    """Receive decoded frames into the frame buffer, checking CRC and length on the way.

    A frame's bytes go into the buffer as they come, through the CRC; its end beat makes it
    ``ready`` with its status. Nothing more is taken until it is released. Empty frames
    (an end beat without error after no byte) are dropped.

    Parameters
    ----------
    max_payload : int
        The longest payload taken (``check_max_payload``); the buffer holds one.

    Members
    -------
    i : In(stream.Signature(Decoded))
        The decoder's frames.
    frame : Out(FrameSignature(max_payload))
        The frame held, and its release.
    """
    def __init__(self, max_payload):
        check_max_payload(max_payload, None)
        self.max_payload = max_payload
        super().__init__({
            "i":     In(stream.Signature(Decoded)),
            "frame": Out(FrameSignature(max_payload)),
        })

    def elaborate(self, platform):
        m = Module()
        PL = self.max_payload
        m.submodules.buffer = buffer = Memory(shape=8, depth=PL, init=[])
        m.submodules.crc = crc16 = _restartable_crc(self.frame.release)
        wr = buffer.write_port()
        wiring.connect(m, flipped(self.frame.read), buffer.read_port(transparent_for=()))

        frame, beat = self.frame, self.i.payload
        count = Signal(range(PL + 4))           # decoded bytes; saturates at PL + 3 (too long)
        take = self.i.valid & ~frame.ready
        m.d.comb += [self.i.ready.eq(~frame.ready), frame.length.eq(count - 2),
                     crc16.data.eq(beat.data), crc16.valid.eq(take & ~beat.end)]
        with m.If(take):
            with m.If(~beat.end):
                # PL is a power of two: the bytes past the buffer have count[log2(PL):] != 0.
                m.d.comb += [wr.addr.eq(count), wr.data.eq(beat.data),
                             wr.en.eq(count[len(wr.addr):] == 0)]
                with m.If(count != PL + 3):
                    m.d.sync += count.eq(count + 1)
                with m.If(count == 0):
                    m.d.sync += frame.seq.eq(beat.data)
                with m.If(count == 1):
                    m.d.sync += frame.cmd.eq(beat.data)
            with m.Elif((count != 0) | beat.error):
                m.d.sync += frame.ready.eq(1)
                with m.If(beat.error):
                    m.d.sync += frame.status.eq(Status.BAD_FRAME)
                with m.Elif((count[2:] == 0) | (count == PL + 3)):
                    # Too short or too long to be a frame: it did not arrive intact either.
                    m.d.sync += frame.status.eq(Status.BAD_FRAME)
                with m.Elif(~crc16.match_detected):
                    m.d.sync += frame.status.eq(Status.BAD_CRC)
                with m.Else():
                    m.d.sync += frame.status.eq(Status.OK)
        with m.If(frame.release):
            m.d.sync += [frame.ready.eq(0), count.eq(0), frame.seq.eq(0), frame.cmd.eq(0)]
        return m


class ReplySender(wiring.Component):
    """Send replies from two reply buffers, each as one frame: its bytes, then their CRC.

    The CRC follows high byte first, the last byte marked ``last`` for the encoder. While a
    reply is sent the other buffer may be written (and the next reply started once it ends).

    Parameters
    ----------
    max_payload : int
        The size of each buffer (``check_max_payload``).

    Members
    -------
    reply : In(ReplySignature(max_payload))
        The buffers' write port and the send requests.
    o : Out(stream.Signature(Unencoded))
        The frames' bytes, for the COBS encoder.
    """
    def __init__(self, max_payload):
        check_max_payload(max_payload, None)
        self.max_payload = max_payload
        super().__init__({
            "reply": In(ReplySignature(max_payload)),
            "o":     Out(stream.Signature(Unencoded)),
        })

    def elaborate(self, platform):
        m = Module()
        PL = self.max_payload
        m.submodules.buffers = buffers = Memory(shape=8, depth=2 * PL, init=[])
        restart = Signal()
        m.submodules.crc = crc16 = _restartable_crc(restart)
        wiring.connect(m, flipped(self.reply.write), buffers.write_port())
        rd = buffers.read_port(transparent_for=())

        reply, o = self.reply, self.o
        length = Signal.like(reply.length)
        ptr = Signal.like(reply.length)         # the byte offered (rd.data once primed)
        adv = Signal()
        m.d.comb += [rd.addr.eq(Cat(Mux(adv, ptr + 1, ptr)[:_buffer_bits(PL)], reply.current)),
                     crc16.data.eq(rd.data)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(reply.start):
                    m.d.comb += restart.eq(1)
                    m.d.sync += [reply.current.eq(reply.buf), length.eq(reply.length),
                                 ptr.eq(0)]
                    m.next = "PRIME"
            with m.State("PRIME"):
                m.d.comb += reply.busy.eq(1)
                m.next = "BYTES"
            with m.State("BYTES"):
                m.d.comb += [reply.busy.eq(1), o.valid.eq(1), o.payload.data.eq(rd.data)]
                with m.If(o.ready):
                    m.d.comb += [adv.eq(1), crc16.valid.eq(1)]
                    m.d.sync += ptr.eq(ptr + 1)
                    with m.If(ptr + 1 == length):
                        m.next = "CRC_HI"
            with m.State("CRC_HI"):
                m.d.comb += [reply.busy.eq(1), o.valid.eq(1), o.payload.data.eq(crc16.crc[8:])]
                with m.If(o.ready):
                    m.next = "CRC_LO"
            with m.State("CRC_LO"):
                m.d.comb += [reply.busy.eq(1), o.valid.eq(1), o.payload.data.eq(crc16.crc[:8]),
                             o.payload.last.eq(1)]
                with m.If(o.ready):
                    m.next = "IDLE"
        return m
