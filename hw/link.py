"""The link: docs/protocol.md between the UART bytes and the core's control interface.

Received bytes are COBS-decoded into a frame buffer while their CRC is checked; a complete
frame is checked command by command, then executed against the core; its reply is built in
one of two reply buffers and sent (CRC appended, COBS-encoded) while the next frame executes.
The other reply buffer keeps the last executed command's reply for retransmissions.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out, flipped

from .. import spec
from ..spec import (Command, Control, Counter, NeuronField, Setting, Space, StateField,
                    Status, max_run_steps, neuron_bits, src_bits)
from .cobs import CobsDecoder, CobsEncoder
from .interface import CoreSignature
from .uart import RxByte

__all__ = ["crc16_update", "AccessCheck", "Link", "check_max_payload"]

CRC_POLY = 0x1021


def crc16_update(crc, byte):
    """Return the CRC-16/CCITT-FALSE register after *byte* (MSB first, no reflection)."""
    for bit in reversed(range(8)):
        feedback = crc[15] ^ byte[bit]
        crc = Cat(Const(0, 1), crc[:15]) ^ Mux(feedback, CRC_POLY, 0)
    return crc


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
    one_step = 2 + 1 + (n_neurons + 7) // 8
    if max_payload < one_step:
        raise ValueError(f"max_payload {max_payload} cannot hold the reply of a one-step RUN "
                         f"at {n_neurons} neurons ({one_step} bytes)")


#: Every value range of the address map fits in a signed value of this many bits (bias has the
#: widest); AccessCheck compares a value with its range at this width.
RANGE_BITS = spec.STATE_BITS


def _below(value, bound):
    """Return ``value < bound`` for an unsigned *value* and a constant *bound* >= 1.

    The bits of *value* above those of ``bound - 1`` must be zero and the rest below *bound*:
    a wide ``value < bound`` would be a carry chain as long as *value* (one logic cell a bit
    on iCE40), this is a few LUTs.
    """
    n = max(1, (bound - 1).bit_length())
    if len(value) <= n:
        return value < bound
    return (value[n:] == 0) & (value[:n] < bound if bound < 1 << n else 1)


def _range(low, high):
    assert -(1 << (RANGE_BITS - 1)) <= low <= high < 1 << (RANGE_BITS - 1)
    return Const(low, signed(RANGE_BITS)), Const(high, signed(RANGE_BITS))


class AccessCheck(wiring.Component):
    """Say whether a WRITE or READ may touch *addr* in *space* (and write *value* there).

    Combinational. Also gives the next address of a block (docs/protocol.md, WRITE and READ).

    Members
    -------
    write : In(1)
    space : In(8)
    addr : In(24)
    value : In(signed(32))
        The value to write (ignored for reads).
    addr_ok, value_ok : Out(1)
    next_addr : Out(24)
    """
    write: In(1)
    space: In(8)
    addr: In(spec.ADDR_BITS)
    value: In(signed(spec.DATA_BITS))
    addr_ok: Out(1)
    value_ok: Out(1)
    next_addr: Out(spec.ADDR_BITS)

    def __init__(self, n_inputs, n_neurons):
        self.n_inputs, self.n_neurons = n_inputs, n_neurons
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        N, S = self.n_neurons, self.n_inputs + self.n_neurons
        nb, sb = neuron_bits(N), src_bits(self.n_inputs, N)
        addr, value = self.addr, self.value
        low, high = Signal(signed(RANGE_BITS)), Signal(signed(RANGE_BITS))
        i, hi = addr[:nb], addr[nb:]
        index, field = addr[:sb], addr[sb:]
        neuron_next = Mux(i == N - 1, Cat(Const(0, nb), hi + 1), addr + 1)
        # A value that does not fit in RANGE_BITS is outside every range.
        short = value[:RANGE_BITS].as_signed()
        fits = ~value[RANGE_BITS - 1:].any() | value[RANGE_BITS - 1:].all()
        m.d.comb += [self.next_addr.eq(addr + 1),
                     self.value_ok.eq(fits & (short >= low) & (short <= high))]

        with m.Switch(self.space):
            with m.Case(Space.WEIGHT):
                m.d.comb += [self.addr_ok.eq(_below(i, N) & _below(hi, S)),
                             self.next_addr.eq(neuron_next)]
                m.d.comb += Cat(low, high).eq(Cat(*_range(spec.WEIGHT_MIN, spec.WEIGHT_MAX)))
            with m.Case(Space.NEURON):
                m.d.comb += [self.addr_ok.eq(_below(i, N) & _below(hi, len(NeuronField))),
                             self.next_addr.eq(neuron_next)]
                for f in NeuronField:
                    with m.If(hi == f.value):
                        bounds = _range(*spec.NEURON_RANGES[f.name.lower()])
                        m.d.comb += Cat(low, high).eq(Cat(*bounds))
            with m.Case(Space.SETTING):
                m.d.comb += self.addr_ok.eq(_below(addr, len(Setting)))
                for s in Setting:
                    if s is Setting.W_EXP:
                        bounds = _range(0, spec.W_EXP_MAX)
                    elif s is Setting.ENABLED:
                        bounds = _range(0, 1)
                    else:
                        bounds = _range(*spec.LEARNING_RANGES[s.name.lower()])
                    with m.If(addr == s.value):
                        m.d.comb += Cat(low, high).eq(Cat(*bounds))
            with m.Case(Space.MASK):
                m.d.comb += self.addr_ok.eq(_below(addr, S) | ((field == 1) & _below(index, N)))
                m.d.comb += Cat(low, high).eq(Cat(*_range(0, 1)))
            with m.Case(Space.STATE):
                neuron_field = ((field == StateField.U.value) | (field == StateField.V.value)
                                | (field == StateField.REF.value) | (field == StateField.Y.value)
                                | (field == StateField.SPIKED.value))
                m.d.comb += self.addr_ok.eq(~self.write & (
                    (neuron_field & _below(index, N))
                    | ((field == StateField.X.value) & _below(index, S))))
            with m.Case(Space.COUNTER):
                m.d.comb += self.addr_ok.eq(~self.write & _below(addr, len(Counter)))
        return m


class Link(wiring.Component):
    """Serve docs/protocol.md: decode frames, execute them on the core, send the replies.

    Parameters
    ----------
    n_inputs, n_neurons, lanes : int
        The core's geometry (reported by IDENTIFY and used to check addresses and records).
    clk_hz, baud, rx_window : int
        Reported by IDENTIFY.
    max_payload : int
        The longest payload a frame may have (reported by IDENTIFY): a power of two, at most
        ``spec.MAX_PAYLOAD``. The frame buffer holds one payload, the reply buffers two.

    Members
    -------
    rx : In(stream.Signature(RxByte))
        Received bytes (from the receive FIFO).
    tx : Out(stream.Signature(8))
        Bytes to send.
    core : Out(CoreSignature)
        The core's control and step interfaces, driven from this side.
    frame_error : Out(1)
        Pulses when a frame is rejected at the frame level (bad COBS, CRC or length).

    The link keeps its own copy of the w_min and w_max settings, as it has written them, to
    refuse a WRITE that would leave w_min > w_max: nothing else may write the core's settings.
    """

    def __init__(self, n_inputs, n_neurons, lanes, clk_hz, baud, rx_window,
                 max_payload=spec.MAX_PAYLOAD):
        check_max_payload(max_payload, n_neurons)
        self.n_inputs, self.n_neurons, self.lanes = n_inputs, n_neurons, lanes
        self.max_payload = max_payload
        self.identify = spec.identify_bytes(
            version=spec.PROTOCOL_VERSION, n_inputs=n_inputs, n_neurons=n_neurons, lanes=lanes,
            clk_hz=clk_hz, baud=baud, rx_window=rx_window, max_payload=max_payload)
        super().__init__({
            "rx": In(stream.Signature(RxByte)),
            "tx": Out(stream.Signature(8)),
            "core": In(CoreSignature(n_inputs, n_neurons)),
            "frame_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        n_in, N = self.n_inputs, self.n_neurons
        PL = self.max_payload
        PAYLOAD_BITS = PL.bit_length()          # holds 0 … PL
        BUFFER_BITS = (PL - 1).bit_length()     # addresses one buffer
        in_index_bytes = spec.index_bytes(n_in)
        in_bitmap = (n_in + 7) // 8
        out_index_bytes = spec.index_bytes(N)
        out_bitmap = (N + 7) // 8
        max_steps = max_run_steps(N, PL)
        core = self.core

        m.submodules.decoder = dec = CobsDecoder()
        m.submodules.encoder = enc = CobsEncoder()
        m.submodules.check = chk = AccessCheck(n_in, N)
        wiring.connect(m, flipped(self.rx), dec.i)
        wiring.connect(m, enc.o, flipped(self.tx))

        m.submodules.frame = frame_mem = Memory(shape=8, depth=PL, init=[])
        m.submodules.reply = reply_mem = Memory(shape=8, depth=2 * PL, init=[])
        f_wr, f_rd = frame_mem.write_port(), frame_mem.read_port(transparent_for=())
        r_wr = reply_mem.write_port()
        r_rd = reply_mem.read_port(transparent_for=())

        # --- Receiver: decoded bytes into the frame buffer, CRC and length on the way -------
        f_len = Signal(range(PL + 4))           # saturates at PL + 3 (too long)
        f_crc = Signal(16, init=spec.CRC_INIT)
        f_seq, f_cmd = Signal(8), Signal(8)
        f_ready = Signal()                      # a complete frame waits in the buffer
        f_status = Signal(Status)
        f_release = Signal()                    # the executor is done with the frame

        d = dec.o.payload
        m.d.comb += dec.o.ready.eq(~f_ready)
        with m.If(dec.o.valid & ~f_ready):
            with m.If(~d.end):
                # f_len counts up to PL + 3 (too long) and stays there; PL is a power of two.
                m.d.comb += [f_wr.addr.eq(f_len), f_wr.data.eq(d.data),
                             f_wr.en.eq(f_len[BUFFER_BITS:] == 0)]
                m.d.sync += f_crc.eq(crc16_update(f_crc, d.data))
                with m.If(f_len != PL + 3):
                    m.d.sync += f_len.eq(f_len + 1)
                with m.If(f_len == 0):
                    m.d.sync += f_seq.eq(d.data)
                with m.If(f_len == 1):
                    m.d.sync += f_cmd.eq(d.data)
            with m.Elif((f_len != 0) | d.error):
                m.d.sync += f_ready.eq(1)
                with m.If(d.error):
                    m.d.sync += f_status.eq(Status.BAD_FRAME)
                with m.Elif((f_len[2:] == 0) | (f_len == PL + 3)):
                    # Too short or too long to be a frame: it did not arrive intact either.
                    m.d.sync += f_status.eq(Status.BAD_FRAME)
                with m.Elif(f_crc != 0):
                    m.d.sync += f_status.eq(Status.BAD_CRC)
                with m.Else():
                    m.d.sync += f_status.eq(Status.OK)
        with m.If(f_release):
            m.d.sync += [f_ready.eq(0), f_len.eq(0), f_crc.eq(spec.CRC_INIT), f_seq.eq(0),
                         f_cmd.eq(0)]
        plen = f_len - 2                        # payload bytes (CRC excluded)

        # --- Sender: a reply buffer, CRC appended, into the encoder --------------------------
        s_busy = Signal()
        s_buf = Signal()
        s_len = Signal(PAYLOAD_BITS)
        s_ptr = Signal(PAYLOAD_BITS)
        s_crc = Signal(16)
        s_start = Signal()                      # executor: send buffer x_send_buf, x_send_len
        x_send_buf = Signal()
        x_send_len = Signal(PAYLOAD_BITS)
        s_adv = Signal()
        m.d.comb += r_rd.addr.eq(Cat(Mux(s_adv, s_ptr + 1, s_ptr)[:BUFFER_BITS], s_buf))
        with m.FSM(name="sender"):
            with m.State("IDLE"):
                with m.If(s_start):
                    m.d.sync += [s_buf.eq(x_send_buf), s_len.eq(x_send_len), s_ptr.eq(0),
                                 s_crc.eq(spec.CRC_INIT), s_busy.eq(1)]
                    m.next = "PRIME"
            with m.State("PRIME"):
                m.next = "BYTES"
            with m.State("BYTES"):
                m.d.comb += [enc.i.valid.eq(1), enc.i.payload.data.eq(r_rd.data)]
                with m.If(enc.i.ready):
                    m.d.comb += s_adv.eq(1)
                    m.d.sync += [s_ptr.eq(s_ptr + 1), s_crc.eq(crc16_update(s_crc, r_rd.data))]
                    with m.If(s_ptr == s_len - 1):
                        m.next = "CRC_HI"
            with m.State("CRC_HI"):
                m.d.comb += [enc.i.valid.eq(1), enc.i.payload.data.eq(s_crc[8:])]
                with m.If(enc.i.ready):
                    m.next = "CRC_LO"
            with m.State("CRC_LO"):
                m.d.comb += [enc.i.valid.eq(1), enc.i.payload.data.eq(s_crc[:8]),
                             enc.i.payload.last.eq(1)]
                with m.If(enc.i.ready):
                    m.d.sync += s_busy.eq(0)
                    m.next = "IDLE"

        # --- Executor ------------------------------------------------------------------------
        # Sequence state (docs/protocol.md, "Sequence and retransmission").
        last_seq, have_last = Signal(8), Signal()
        expect, expect_valid = Signal(8), Signal()
        kept = Signal()                         # the reply buffer holding the last reply
        kept_len = Signal(PAYLOAD_BITS)
        target = ~kept                          # where new replies are written
        remember = Signal()

        # Reading the frame: f_rd.data is frame[rp]; `adv` moves to the next byte.
        rp = Signal(PAYLOAD_BITS + 1)
        adv = Signal()
        byte = f_rd.data
        m.d.comb += f_rd.addr.eq(Mux(adv, rp + 1, rp))
        with m.If(adv):
            m.d.sync += rp.eq(rp + 1)
        at_end = rp >= plen

        # Writing the reply: at wp unless a state says otherwise.
        wp = Signal(PAYLOAD_BITS)
        w_addr = Signal(PAYLOAD_BITS)
        w_data = Signal(8)
        w_en = Signal()
        m.d.comb += [w_addr.eq(wp), r_wr.addr.eq(Cat(w_addr[:BUFFER_BITS], target)),
                     r_wr.data.eq(w_data), r_wr.en.eq(w_en)]

        # Command header (bytes 2 … 8) and the error to report.
        hdr = Signal(7 * 8)
        hcount = Signal(range(8))
        h_space, h_addr = hdr[0:8], hdr[8:32]
        h_count, h_width = hdr[32:48], hdr[48:56]
        h_flags, h_steps = hdr[0:8], hdr[0:16]
        # Registered (HDR_DONE waits a clock for them): the product is off DISPATCH's paths.
        # The product by a 3-bit width as shifts and adds: no multiplier (a DSP on iCE40).
        count_width = Signal(19)
        width_ok = Signal()
        m.d.sync += [count_width.eq(sum(Mux(h_width[b], h_count << b, 0) for b in range(3))),
                     width_ok.eq((h_width >= 1) & (h_width <= 4) & (h_count != 0))]
        e_status = Signal(Status)
        e_pos = Signal(range(PL + 1))           # a value's or a step's index
        e_has_pos = Signal()

        # Block walking (WRITE, READ): position, address, value being assembled.
        pos = Signal(range(PL + 1))             # count <= PL once the length is checked
        cur_addr = Signal(spec.ADDR_BITS)
        k = Signal(3)                           # byte of the value
        val = Signal(32)
        value_now = Signal(32)                  # val with this byte in place
        value_sext = Signal(signed(32))
        m.d.comb += value_now.eq(val | (byte << (k * 8))[:32])
        with m.Switch(h_width):
            for w in (1, 2, 3):
                with m.Case(w):
                    m.d.comb += value_sext.eq(value_now[:8 * w].as_signed())
            with m.Default():
                m.d.comb += value_sext.eq(value_now.as_signed())
        last_byte = k == h_width - 1
        last_pos = pos == h_count - 1
        checked = Signal(signed(32))            # the value W_VERIFY checks, W_CTL writes
        m.d.comb += [chk.space.eq(h_space), chk.addr.eq(cur_addr), chk.value.eq(checked)]

        # A WRITE must leave w_min <= w_max (docs/protocol.md, WRITE). The link keeps the two
        # settings as it has applied them (the core's, which only the link writes; both are 0
        # after a reset). W_MIN and W_MAX are the last two settings, so a block that writes
        # them ends with them (or fails at the next address): at its last position the
        # settings it leaves are known. w_min_new is w_min as the block leaves it so far.
        assert Setting.W_MAX.value == Setting.W_MIN.value + 1 == len(Setting) - 1
        w_min_now, w_max_now = Signal(signed(spec.WEIGHT_BITS)), Signal(signed(spec.WEIGHT_BITS))
        w_min_new = Signal(signed(spec.WEIGHT_BITS))
        # At W_MIN (8) or W_MAX (9), told apart by bit 0; the other addresses that match (24,
        # 25, …) are refused by AccessCheck anyway.
        at_bound = (h_space == Space.SETTING) & (cur_addr[1:4] == Setting.W_MIN.value >> 1)
        at_max = cur_addr[0]
        # At W_MIN: is its value above w_max now? At W_MAX: is w_min_new above its value?
        value8 = checked[:spec.WEIGHT_BITS].as_signed()
        crossed = Mux(at_max, w_min_new > value8, value8 > w_max_now)

        # Control accesses to the core: each state that offers one drives its payload; a READ's
        # reply bytes come straight from the response beat, taken after its last byte.

        # IDENTIFY data.
        ident = Array(Const(b, 8) for b in self.identify)

        # RUN: record parsing (check and feed) and spike records (collect).
        # Steps are at most max_steps once the length is checked.
        r_step = Signal(range(max_steps + 1))   # records parsed (check) / fed (feed)
        # Bytes left in the record; 0: a header is next.
        r_left = Signal(range(max(in_bitmap, 255 * in_index_bytes) + 1))
        r_mode = Signal(2)                      # HEADER, SPARSE, BITMAP
        HEADER, SPARSE, BITMAP = 0, 1, 2
        r_lo = Signal(8)                        # low byte of a two-byte index
        r_half = Signal()                       # the low byte is in r_lo
        r_bad = Signal()
        r_bad_step = Signal.like(r_step)
        r_base = Signal(range(in_bitmap * 8 + 8))   # input index of bit 0 of this bitmap byte
        r_bits = Signal(8)                      # bits of this bitmap byte not yet fed
        r_bits_loaded = Signal()
        feed_done = Signal()

        c_step = Signal.like(r_step)
        c_rec = Signal(PAYLOAD_BITS)            # where this step's record starts
        c_count = Signal(range(N + 1))
        c_pos = Signal(PAYLOAD_BITS + 2)        # where the next sparse index byte goes
        # The step's spikes as a bitmap: finished bytes in bitmap_mem, the byte being filled
        # in c_byte (spikes come in increasing order, so each byte is written once).
        m.submodules.bitmap = bitmap_mem = Memory(shape=8, depth=out_bitmap, init=[])
        bitmap = (bitmap_mem.write_port(), bitmap_mem.read_port(transparent_for=()))
        c_byte = Signal(8)
        c_byte_at = Signal(range(out_bitmap + 1))
        c_hi_pending = Signal()                 # a two-byte index's high byte is still to write
        c_hi = Signal(8)
        c_k = Signal(range(out_bitmap + 1))
        c_walk = Signal()                       # reading and clearing the finished step's bitmap
        c_sparse = Signal()                     # ... whose record was sparse (nothing to write)
        collect_done = Signal()

        def error(status, position=None):
            m.d.sync += [e_status.eq(status), e_has_pos.eq(position is not None)]
            if position is not None:
                m.d.sync += e_pos.eq(position)
            m.next = "ERROR"

        def start_reading(at, next_state):
            m.d.sync += rp.eq(at)
            m.d.sync += ret.eq(next_state)
            m.next = "PRIME"

        ret = Signal(8)
        states = {}

        def state_code(name):
            return states.setdefault(name, len(states))

        # After a reset, before the first frame: memories keep their contents through a
        # reset, and one during a RUN can leave bytes of a step's bitmap behind, which the next
        # bitmap record would show. Clear them, a byte a clock, as the collector's walk does
        # (byte k - 1 at k = 1 … out_bitmap).
        bm_clearing = Signal(init=1)
        with m.If(bm_clearing):
            bm_wr = bitmap[0]
            m.d.comb += [bm_wr.addr.eq((c_k - 1)[:len(c_k)]), bm_wr.data.eq(0),
                         bm_wr.en.eq(c_k != 0)]
            m.d.sync += c_k.eq(c_k + 1)
            with m.If(c_k == out_bitmap):
                m.d.sync += bm_clearing.eq(0)

        m.d.comb += self.frame_error.eq(0)
        with m.FSM(name="executor"):
            with m.State("IDLE"):
                m.d.sync += [wp.eq(0), remember.eq(0)]
                busy_target = s_busy & (s_buf == target)
                with m.If(f_ready & ~busy_target & ~bm_clearing):
                    with m.If(f_status != Status.OK):
                        m.d.comb += self.frame_error.eq(1)
                        m.d.sync += [e_status.eq(f_status), e_has_pos.eq(0)]
                        m.next = "ERROR"
                    with m.Elif(f_cmd == Command.IDENTIFY):
                        m.d.sync += [have_last.eq(0), expect.eq(f_seq + 1), expect_valid.eq(1)]
                        with m.If(plen != 2):
                            error(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += hcount.eq(0)
                            m.next = "IDENTIFY"
                    with m.Elif(have_last & (f_seq == last_seq)):
                        m.next = "RESEND"
                    with m.Elif(expect_valid & (f_seq != expect)):
                        error(Status.OUT_OF_ORDER)
                    with m.Else():
                        m.d.sync += [remember.eq(1), hcount.eq(0), rp.eq(2)]
                        m.next = "HDR_PRIME"

            with m.State("HDR_PRIME"):
                m.next = "HDR"
            with m.State("HDR"):
                # Bytes 2 … 8 (past the payload's end they are junk; the checks say so).
                m.d.comb += adv.eq(1)
                m.d.sync += [hdr.eq(Cat(hdr[8:], byte)), hcount.eq(hcount + 1)]
                with m.If(hcount == 6):
                    m.next = "HDR_DONE"

            with m.State("HDR_DONE"):
                m.next = "DISPATCH"

            with m.State("DISPATCH"):
                m.d.sync += [pos.eq(0), cur_addr.eq(h_addr), k.eq(0), val.eq(0),
                             w_min_new.eq(w_min_now), e_pos.eq(0)]
                with m.Switch(f_cmd):
                    with m.Case(Command.WRITE):
                        with m.If(~width_ok | (plen != 9 + count_width)):
                            error(Status.BAD_LENGTH)
                        with m.Else():
                            start_reading(9, state_code("W_CHECK"))
                    with m.Case(Command.READ):
                        with m.If(~width_ok | (plen != 9) | ~_below(count_width, PL - 1)):
                            error(Status.BAD_LENGTH)
                        with m.Else():
                            m.next = "R_CHECK"
                    with m.Case(Command.RESET):
                        with m.If(plen != 3):
                            error(Status.BAD_LENGTH)
                        with m.Elif(h_flags[2:] != 0):
                            error(Status.BAD_VALUE, 0)
                        with m.Else():
                            m.next = "RESET_STATE"
                    with m.Case(Command.RUN):
                        with m.If((plen < 4) | ~_below(h_steps, max_steps + 1)):
                            error(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += [r_step.eq(0), r_left.eq(0), r_mode.eq(HEADER),
                                         r_half.eq(0), r_bad.eq(0)]
                            start_reading(4, state_code("RUN_CHECK"))
                    with m.Default():
                        error(Status.UNKNOWN_COMMAND)

            with m.State("PRIME"):
                # One clock for the frame buffer to read the byte at the new rp.
                with m.Switch(ret):
                    for name in ("W_CHECK", "W_APPLY", "RUN_CHECK"):
                        with m.Case(state_code(name)):
                            m.next = name

            # --- WRITE ---
            with m.State("W_CHECK"):
                m.d.comb += adv.eq(1)
                m.d.sync += [val.eq(value_now), k.eq(k + 1)]
                with m.If(last_byte):
                    # The value is checked in the next clock, from a register: the frame
                    # buffer, the byte assembly and the range check are too long one clock.
                    m.d.sync += [val.eq(0), k.eq(0), checked.eq(value_sext)]
                    m.next = "W_VERIFY"
            with m.State("W_VERIFY"):
                m.d.comb += chk.write.eq(1)
                m.d.sync += [pos.eq(pos + 1), cur_addr.eq(chk.next_addr)]
                with m.If(at_bound & ~at_max):
                    # e_pos: the position of the block's first bound (0 if that is W_MAX).
                    m.d.sync += [w_min_new.eq(checked), e_pos.eq(pos)]
                with m.If(~chk.addr_ok):
                    error(Status.BAD_ADDRESS, pos)
                with m.Elif(~chk.value_ok):
                    error(Status.BAD_VALUE, pos)
                with m.Elif(last_pos & at_bound & crossed):
                    m.d.sync += [e_status.eq(Status.BAD_VALUE), e_has_pos.eq(1)]
                    m.next = "ERROR"
                with m.Elif(last_pos):
                    m.d.sync += [pos.eq(0), cur_addr.eq(h_addr)]
                    start_reading(9, state_code("W_APPLY"))
                with m.Else():
                    m.next = "W_CHECK"
            with m.State("W_APPLY"):
                m.d.comb += adv.eq(1)
                m.d.sync += [val.eq(value_now), k.eq(k + 1)]
                with m.If(last_byte):
                    m.d.sync += [val.eq(0), k.eq(0), checked.eq(value_sext)]
                    m.next = "W_CTL"
            with m.State("W_CTL"):
                m.d.comb += [core.ctl_cmd.valid.eq(1),
                             core.ctl_cmd.payload.write.eq(1),
                             core.ctl_cmd.payload.space.eq(h_space),
                             core.ctl_cmd.payload.addr.eq(cur_addr),
                             core.ctl_cmd.payload.data.eq(checked)]
                with m.If(core.ctl_cmd.ready):
                    with m.If(at_bound & at_max):
                        m.d.sync += w_max_now.eq(checked)
                    with m.Elif(at_bound):
                        m.d.sync += w_min_now.eq(checked)
                    m.next = "W_RSP"
            with m.State("W_RSP"):
                m.d.comb += core.ctl_rsp.ready.eq(1)
                with m.If(core.ctl_rsp.valid):
                    m.d.sync += [pos.eq(pos + 1), cur_addr.eq(chk.next_addr)]
                    with m.If(last_pos):
                        m.next = "OK"
                    with m.Else():
                        m.next = "W_APPLY"

            # --- READ ---
            with m.State("R_CHECK"):
                m.d.sync += [pos.eq(pos + 1), cur_addr.eq(chk.next_addr)]
                with m.If(~chk.addr_ok):
                    error(Status.BAD_ADDRESS, pos)
                with m.Elif(last_pos):
                    m.d.sync += [pos.eq(0), cur_addr.eq(h_addr)]
                    m.next = "R_HEAD"
            with m.State("R_HEAD"):
                m.d.comb += [w_data.eq(Mux(wp == 0, f_seq, Status.OK)), w_en.eq(1)]
                m.d.sync += wp.eq(wp + 1)
                with m.If(wp == 1):
                    m.next = "R_CTL"
            with m.State("R_CTL"):
                m.d.comb += [core.ctl_cmd.valid.eq(1),
                             core.ctl_cmd.payload.write.eq(0),
                             core.ctl_cmd.payload.space.eq(h_space),
                             core.ctl_cmd.payload.addr.eq(cur_addr)]
                with m.If(core.ctl_cmd.ready):
                    m.next = "R_BYTES"
            with m.State("R_BYTES"):
                # The response beat stays put until it is taken, with its last byte.
                m.d.comb += [w_data.eq(core.ctl_rsp.payload.word_select(k[:2], 8)),
                             w_en.eq(core.ctl_rsp.valid)]
                with m.If(core.ctl_rsp.valid):
                    m.d.sync += [wp.eq(wp + 1), k.eq(k + 1)]
                with m.If(core.ctl_rsp.valid & last_byte):
                    m.d.comb += core.ctl_rsp.ready.eq(1)
                    m.d.sync += [pos.eq(pos + 1), cur_addr.eq(chk.next_addr), k.eq(0)]
                    with m.If(last_pos):
                        m.next = "FINISH"
                    with m.Else():
                        m.next = "R_CTL"

            # --- RESET ---
            # One CONTROL write per flag, lowest first; a flag is cleared when its write is done.
            with m.State("RESET_STATE"):
                with m.If(h_flags[:2] != 0):
                    m.next = "RESET_CTL"
                with m.Else():
                    m.next = "OK"
            with m.State("RESET_CTL"):
                m.d.comb += [core.ctl_cmd.valid.eq(1),
                             core.ctl_cmd.payload.write.eq(1),
                             core.ctl_cmd.payload.space.eq(Space.CONTROL),
                             core.ctl_cmd.payload.addr.eq(Mux(h_flags[0], Control.RESET,
                                                              Control.CLEAR_COUNTERS))]
                with m.If(core.ctl_cmd.ready):
                    m.next = "RESET_RSP"
            with m.State("RESET_RSP"):
                m.d.comb += core.ctl_rsp.ready.eq(1)
                with m.If(core.ctl_rsp.valid):
                    with m.If(h_flags[0]):
                        m.d.sync += h_flags[0].eq(0)
                    with m.Else():
                        m.d.sync += h_flags[1].eq(0)
                    m.next = "RESET_STATE"

            # --- IDENTIFY ---
            with m.State("IDENTIFY"):
                m.d.comb += w_en.eq(1)
                m.d.sync += wp.eq(wp + 1)
                with m.If(wp == 0):
                    m.d.comb += w_data.eq(f_seq)
                with m.Elif(wp == 1):
                    m.d.comb += w_data.eq(Status.OK)
                with m.Else():
                    m.d.comb += w_data.eq(ident[wp - 2])
                with m.If(wp == 1 + len(self.identify)):
                    m.next = "FINISH"

            # --- RUN: check every record, then feed and collect side by side ---
            with m.State("RUN_CHECK"):
                with m.If(r_step == h_steps):
                    with m.If(rp != plen):
                        error(Status.BAD_LENGTH)
                    with m.Elif(h_steps == 0):
                        error(Status.BAD_VALUE, 0)
                    with m.Elif(r_bad):
                        error(Status.BAD_VALUE, r_bad_step)
                    with m.Else():
                        m.next = "RUN_HEAD"
                with m.Elif(at_end):
                    error(Status.BAD_LENGTH)
                with m.Else():
                    m.d.comb += adv.eq(1)
                    bad = Signal()
                    record_done = Signal()
                    with m.Switch(r_mode):
                        with m.Case(HEADER):
                            with m.If(byte == spec.RECORD_BITMAP):
                                m.d.sync += [r_mode.eq(BITMAP), r_left.eq(in_bitmap)]
                            with m.Elif(byte == 0):
                                m.d.comb += record_done.eq(1)
                            with m.Else():
                                m.d.sync += [r_mode.eq(SPARSE),
                                             r_left.eq(byte * in_index_bytes)]
                        with m.Case(SPARSE):
                            m.d.sync += r_left.eq(r_left - 1)
                            m.d.comb += record_done.eq(r_left == 1)
                            if in_index_bytes == 1:
                                m.d.comb += bad.eq(byte >= n_in)
                            else:
                                m.d.sync += [r_lo.eq(byte), r_half.eq(~r_half)]
                                m.d.comb += bad.eq(r_half & (Cat(r_lo, byte) >= n_in))
                        with m.Case(BITMAP):
                            m.d.sync += r_left.eq(r_left - 1)
                            m.d.comb += record_done.eq(r_left == 1)
                            if n_in % 8:
                                pad = 0xff & ~((1 << (n_in % 8)) - 1)
                                m.d.comb += bad.eq((r_left == 1) & ((byte & pad) != 0))
                    with m.If(bad & ~r_bad):
                        m.d.sync += [r_bad.eq(1), r_bad_step.eq(r_step)]
                    with m.If(record_done):
                        m.d.sync += [r_step.eq(r_step + 1), r_mode.eq(HEADER)]

            with m.State("RUN_HEAD"):
                m.d.comb += [w_data.eq(Mux(wp == 0, f_seq, Status.OK)), w_en.eq(1)]
                m.d.sync += wp.eq(wp + 1)
                with m.If(wp == 1):
                    m.d.sync += [r_step.eq(0), r_left.eq(0), r_mode.eq(HEADER), r_half.eq(0),
                                 r_bits_loaded.eq(0), feed_done.eq(0),
                                 c_step.eq(0), c_rec.eq(2), c_count.eq(0), c_pos.eq(3),
                                 c_byte.eq(0), c_byte_at.eq(0), c_hi_pending.eq(0),
                                 c_walk.eq(0),
                                 collect_done.eq(0), rp.eq(4)]
                    m.next = "RUN_PRIME"
            with m.State("RUN_PRIME"):
                m.next = "RUN"
            with m.State("RUN"):
                self._feed(m, byte, adv, core.step_in, h_steps, r_step, r_left, r_mode, r_lo,
                           r_half, r_base, r_bits, r_bits_loaded, feed_done, in_index_bytes,
                           in_bitmap)
                self._collect(m, core.spike_out, h_steps, c_step, c_rec, c_count, c_pos,
                              bitmap, c_byte, c_byte_at, c_hi_pending, c_hi, c_k, c_walk,
                              c_sparse, collect_done,
                              w_addr, w_data, w_en, out_index_bytes, out_bitmap)
                with m.If(collect_done):
                    m.d.sync += wp.eq(c_rec)
                    m.next = "FINISH"

            # --- Replies ---
            with m.State("OK"):
                m.d.comb += [w_data.eq(Mux(wp == 0, f_seq, Status.OK)), w_en.eq(1)]
                m.d.sync += wp.eq(wp + 1)
                with m.If(wp == 1):
                    m.next = "FINISH"
            with m.State("ERROR"):
                m.d.comb += w_en.eq(1)
                m.d.sync += wp.eq(wp + 1)
                with m.Switch(wp):
                    with m.Case(0):
                        m.d.comb += w_data.eq(f_seq)
                    with m.Case(1):
                        m.d.comb += w_data.eq(e_status)
                        with m.If(~e_has_pos):
                            m.next = "FINISH"
                    with m.Case(2):
                        m.d.comb += w_data.eq(e_pos[:8])
                    with m.Default():
                        m.d.comb += w_data.eq(e_pos[8:])
                        m.next = "FINISH"
            with m.State("FINISH"):
                m.d.comb += [s_start.eq(~s_busy), x_send_buf.eq(target), x_send_len.eq(wp)]
                with m.If(~s_busy):
                    m.d.comb += f_release.eq(1)
                    with m.If(remember):
                        m.d.sync += [kept.eq(target), kept_len.eq(wp), have_last.eq(1),
                                     last_seq.eq(f_seq), expect.eq(f_seq + 1),
                                     expect_valid.eq(1)]
                    m.next = "IDLE"
            with m.State("RESEND"):
                m.d.comb += [s_start.eq(~s_busy), x_send_buf.eq(kept), x_send_len.eq(kept_len)]
                with m.If(~s_busy):
                    m.d.comb += f_release.eq(1)
                    m.next = "IDLE"
        return m

    @staticmethod
    def _feed(m, byte, adv, step_in, steps, step, left, mode, lo, half, base, bits, loaded,
              done, index_bytes, bitmap_bytes):
        """Stream the checked input records into the core, one index a clock at best."""
        HEADER, SPARSE, BITMAP = 0, 1, 2
        beat = step_in.payload
        with m.If(~done):
            with m.If(step == steps):
                m.d.sync += done.eq(1)
            with m.Else():
                with m.Switch(mode):
                    with m.Case(HEADER):
                        with m.If(byte == spec.RECORD_BITMAP):
                            m.d.comb += adv.eq(1)
                            m.d.sync += [mode.eq(BITMAP), left.eq(bitmap_bytes), base.eq(0),
                                         loaded.eq(0)]
                        with m.Elif(byte == 0):
                            m.d.comb += [step_in.valid.eq(1), beat.end.eq(1)]
                            with m.If(step_in.ready):
                                m.d.comb += adv.eq(1)
                                m.d.sync += step.eq(step + 1)
                        with m.Else():
                            m.d.comb += adv.eq(1)
                            m.d.sync += [mode.eq(SPARSE), left.eq(byte * index_bytes)]
                    with m.Case(SPARSE):
                        with m.If(left == 0):
                            m.d.comb += [step_in.valid.eq(1), beat.end.eq(1)]
                            with m.If(step_in.ready):
                                m.d.sync += [step.eq(step + 1), mode.eq(HEADER)]
                        if index_bytes == 2:
                            with m.Elif(~half):
                                m.d.comb += adv.eq(1)
                                m.d.sync += [lo.eq(byte), half.eq(1), left.eq(left - 1)]
                            with m.Else():
                                m.d.comb += [step_in.valid.eq(1), beat.index.eq(Cat(lo, byte))]
                                with m.If(step_in.ready):
                                    m.d.comb += adv.eq(1)
                                    m.d.sync += [half.eq(0), left.eq(left - 1)]
                        else:
                            with m.Else():
                                m.d.comb += [step_in.valid.eq(1), beat.index.eq(byte)]
                                with m.If(step_in.ready):
                                    m.d.comb += adv.eq(1)
                                    m.d.sync += left.eq(left - 1)
                    with m.Case(BITMAP):
                        lowest = Signal(3)
                        for b in reversed(range(8)):
                            with m.If(bits[b]):
                                m.d.comb += lowest.eq(b)
                        with m.If(left == 0):
                            m.d.comb += [step_in.valid.eq(1), beat.end.eq(1)]
                            with m.If(step_in.ready):
                                m.d.sync += [step.eq(step + 1), mode.eq(HEADER)]
                        with m.Elif(~loaded):
                            m.d.sync += [bits.eq(byte), loaded.eq(1)]
                        with m.Elif(bits != 0):
                            m.d.comb += [step_in.valid.eq(1), beat.index.eq(base + lowest)]
                            with m.If(step_in.ready):
                                m.d.sync += bits.eq(bits & (bits - 1))
                        with m.Else():
                            m.d.comb += adv.eq(1)
                            m.d.sync += [loaded.eq(0), base.eq(base + 8), left.eq(left - 1)]

    @staticmethod
    def _collect(m, spike_out, steps, step, rec, count, wpos, bitmap, byte, byte_at, hi_pending,
                 hi, k, walk, sparse, done, w_addr, w_data, w_en, index_bytes, bitmap_bytes):
        """Write each step's spikes into the reply as one record, sparse or bitmap."""
        beat = spike_out.payload
        bm_wr, bm_rd = bitmap
        sparse_room = (count + 1) * index_bytes < bitmap_bytes
        k_byte = (k - 1)[:len(k)]               # the bitmap byte read in the last clock
        m.d.comb += bm_rd.addr.eq(k)
        with m.If(~done):
            with m.If(step == steps):
                m.d.sync += done.eq(1)
            with m.Elif(walk):
                # After each step its bitmap is read and cleared, a byte a clock; a bitmap
                # record writes it into the reply (header at k = 0, then byte k - 1).
                m.d.comb += [bm_wr.addr.eq(k_byte), bm_wr.data.eq(0), bm_wr.en.eq(k != 0)]
                with m.If(~sparse):
                    m.d.comb += [w_addr.eq(rec + k), w_en.eq(1),
                                 w_data.eq(Mux(k == 0, spec.RECORD_BITMAP,
                                               bm_rd.data | Mux(k_byte == byte_at, byte, 0)))]
                m.d.sync += k.eq(k + 1)
                with m.If(k == bitmap_bytes):
                    m.d.sync += [walk.eq(0), byte.eq(0), byte_at.eq(0), count.eq(0),
                                 step.eq(step + 1)]
                    with m.If(~sparse):
                        m.d.sync += [rec.eq(rec + 1 + bitmap_bytes),
                                     wpos.eq(rec + 2 + bitmap_bytes)]
            with m.Elif(hi_pending):
                m.d.comb += [w_addr.eq(wpos), w_data.eq(hi), w_en.eq(1)]
                m.d.sync += [wpos.eq(wpos + 1), hi_pending.eq(0)]
            with m.Else():
                m.d.comb += spike_out.ready.eq(1)
                with m.If(spike_out.valid):
                    with m.If(beat.end):
                        m.d.sync += [walk.eq(1), k.eq(0), sparse.eq(0)]
                        with m.If((count <= spec.RECORD_BITMAP - 1)
                                  & (count * index_bytes < bitmap_bytes)):
                            m.d.comb += [w_addr.eq(rec), w_data.eq(count), w_en.eq(1)]
                            m.d.sync += [rec.eq(wpos), wpos.eq(wpos + 1), sparse.eq(1)]
                    with m.Else():
                        index = beat.index.as_unsigned()
                        bit = (Const(1, 8) << index[:3])[:8]
                        with m.If(index[3:] == byte_at):
                            m.d.sync += byte.eq(byte | bit)
                        with m.Else():
                            m.d.comb += [bm_wr.addr.eq(byte_at), bm_wr.data.eq(byte),
                                         bm_wr.en.eq(1)]
                            m.d.sync += [byte_at.eq(index[3:]), byte.eq(bit)]
                        m.d.sync += count.eq(count + 1)
                        with m.If(sparse_room & (count < spec.RECORD_BITMAP - 1)):
                            m.d.comb += [w_addr.eq(wpos), w_data.eq(index[:8]), w_en.eq(1)]
                            m.d.sync += wpos.eq(wpos + 1)
                            if index_bytes == 2:
                                m.d.sync += [hi.eq(index[8:16]), hi_pending.eq(1)]
