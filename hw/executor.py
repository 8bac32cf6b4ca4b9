"""The link's executor: each received frame checked, executed on the core, answered.

It takes a frame from ``FrameReceiver``, checks the whole command (its length, every address
and value through ``AccessCheck``, every RUN record through ``RecordFeeder``, every RUN_WITH
probe through ``ProbeReader``) before it touches the core, executes it over the core's control
and step streams and writes the reply into the reply buffer that does not hold the last one,
for ``ReplySender`` to send (docs/protocol.md, "Commands" and "Sequence and retransmission").
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out, flipped

from .. import spec
from ..spec import (MAX_PROBES, PROBE_BYTES, Command, Control, Feature, ResetFlags, RunFlags,
                    Setting, Space, Status, max_run_steps, max_run_with_steps)
from .access import AccessCheck, below
from .frames import FrameSignature, ReplySignature, check_max_payload
from .interface import CoreSignature
from .records import ProbeReader, RecordFeeder, SpikeCollector

__all__ = ["Executor"]

#: Bytes 2 … 8 of a request: a WRITE's or READ's block, RESET's flags, RUN's steps or
#: RUN_WITH's steps, flags and probe count.
Header = data.UnionLayout({
    "block": data.StructLayout({"space": 8, "addr": spec.ADDR_BITS, "count": 16, "width": 8}),
    "flags": 8,
    "steps": 16,
    "run":   data.StructLayout({"steps": 16, "flags": 8, "n_probes": 8}),
})
#: Where a request's header, a RUN's records, a RUN_WITH's probes and a WRITE's values (after
#: the header, ``protocol.HEADER_BYTES``) start; a RUN_WITH's records follow its probes.
HEADER_AT, RECORDS_AT, PROBES_AT, VALUES_AT = 2, 4, 6, 9


class Executor(wiring.Component):
    """Execute each received frame on the core and write its reply.

    A frame with a frame-level error, out of order, or the retransmission of the last
    command is answered without execution (the last reply is sent again from the buffer that
    keeps it). Otherwise its command is checked in full, then executed; a reply is written into
    the other buffer and sent, and (once sent) the frame is released.

    Parameters
    ----------
    n_inputs, n_neurons : int
        The core's geometry.
    max_payload : int
        The longest payload of a frame or reply (``check_max_payload``).
    identify : bytes
        The data of the IDENTIFY reply (``spec.identify_bytes``).
    features : spikecore.spec.Feature
        The core's (``AccessCheck``); RESET takes ``ResetFlags.SPIKE_COUNTS`` with ``COUNTS``.
        Without ``RUN_WITH`` that command is ``UNKNOWN_COMMAND``, and nothing it alone needs is
        built: no ``ProbeReader``, no empty steps, dropped records or gaps, and RUN's step
        counts (``spec.max_run_steps``), not ``spec.MAX_STEPS``.

    Members
    -------
    frame : In(FrameSignature(max_payload))
        The frame to execute.
    reply : Out(ReplySignature(max_payload))
        The reply buffers and their sender.
    core : In(CoreSignature(n_inputs, n_neurons))
        The core, driven from this side.
    frame_error : Out(1)
        Pulses when a frame is rejected at the frame level (bad COBS, CRC or length).

    The executor keeps its own copy of the w_min and w_max settings, as it has written them, to
    refuse a WRITE that would leave w_min > w_max: nothing else may write the core's settings.
    """
    def __init__(self, n_inputs, n_neurons, max_payload, identify, features=Feature.all()):
        check_max_payload(max_payload, n_neurons)
        if not isinstance(identify, bytes):
            raise TypeError(f"identify must be bytes, not {identify!r}")
        if 2 + len(identify) > max_payload:
            raise ValueError(f"an IDENTIFY reply of {2 + len(identify)} bytes does not fit "
                             f"max_payload {max_payload}")
        self.n_inputs, self.n_neurons = n_inputs, n_neurons
        self.max_payload, self.identify = max_payload, identify
        # The parts are made here, so that their arguments are checked here.
        self._check = AccessCheck(n_inputs, n_neurons, features)
        self.features = features
        self.run_with = Feature.RUN_WITH in features
        self.max_steps = max_run_steps(n_neurons, max_payload)
        steps = spec.MAX_STEPS if self.run_with else self.max_steps
        self._feeder = RecordFeeder(n_inputs, n_neurons, steps, features)
        self._collector = SpikeCollector(n_neurons, steps, max_payload, features)
        self._reader = ProbeReader(n_inputs, n_neurons, features) if self.run_with else None
        super().__init__({
            "frame":       In(FrameSignature(max_payload)),
            "reply":       Out(ReplySignature(max_payload)),
            "core":        In(CoreSignature(n_inputs, n_neurons)),
            "frame_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.check = check = self._check
        m.submodules.feeder = feeder = self._feeder
        m.submodules.collector = collector = self._collector
        reader = self._reader
        if reader is not None:
            m.submodules.reader = reader
        wiring.connect(m, feeder.step_in, flipped(self.core.step_in))
        wiring.connect(m, flipped(self.core.spike_out), collector.spikes)
        x = _Datapath(m, self, check, feeder, collector, reader)

        m.d.comb += self.frame_error.eq(0)
        with m.FSM(name="executor"):
            self._accept(m, x, collector)
            self._dispatch(m, x, feeder, reader)
            self._write(m, x, check)
            self._read(m, x, check)
            self._reset(m, x)
            self._identify(m, x)
            self._run(m, x, feeder, collector)
            if self.run_with:
                self._run_with(m, x, feeder, collector, reader)
            self._finish(m, x)
        return m

    def _accept(self, m, x, collector):
        """IDLE: take the next frame, answer it at once or read its header."""
        frame = self.frame
        with m.State("IDLE"):
            m.d.sync += [x.wp.eq(0), x.remember.eq(0)]
            target_busy = self.reply.busy & (self.reply.current == x.target)
            with m.If(frame.ready & ~target_busy & ~collector.clearing):
                with m.If(frame.status != Status.OK):
                    m.d.comb += self.frame_error.eq(1)
                    m.d.sync += [x.e_status.eq(frame.status), x.e_has_pos.eq(0)]
                    m.next = "ERROR"
                with m.Elif(frame.cmd == Command.IDENTIFY):
                    m.d.sync += [x.have_last.eq(0), x.expect.eq(frame.seq + 1),
                                 x.expect_valid.eq(1)]
                    with m.If(frame.length != 2):
                        x.error(Status.BAD_LENGTH)
                    with m.Else():
                        m.next = "IDENTIFY"
                with m.Elif(x.have_last & (frame.seq == x.last_seq)):
                    m.next = "RESEND"
                with m.Elif(x.expect_valid & (frame.seq != x.expect)):
                    x.error(Status.OUT_OF_ORDER)
                with m.Else():
                    m.d.sync += x.remember.eq(1)
                    x.read_from(HEADER_AT, "HDR")

    def _dispatch(self, m, x, feeder, reader):
        """HDR … DISPATCH: read bytes 2 … 8, check the command's length, go to its states."""
        hdr, block, length = x.hdr, x.hdr.block, self.frame.length
        x.prime("HDR")
        with m.State("HDR"):
            # Bytes 2 … 8 (past the payload's end they are junk; the checks say so).
            m.d.comb += x.adv.eq(1)
            m.d.sync += hdr.eq(Cat(hdr.as_value()[8:], x.byte))
            with m.If(x.rp == VALUES_AT - 1):
                m.next = "HDR_DONE"
        with m.State("HDR_DONE"):
            m.next = "DISPATCH"         # count_width and width_ok are registered
        with m.State("DISPATCH"):
            m.d.sync += [x.pos.eq(0), x.cur_addr.eq(block.addr), x.k.eq(0), x.val.eq(0),
                         x.w_min_new.eq(x.w_min_now), x.w_max_new.eq(x.w_max_now),
                         x.bound_seen.eq(0), x.e_pos.eq(0)]
            with m.Switch(self.frame.cmd):
                with m.Case(Command.WRITE):
                    with m.If(~x.width_ok | (length != VALUES_AT + x.count_width)):
                        x.error(Status.BAD_LENGTH)
                    with m.Else():
                        x.read_from(VALUES_AT, "W_CHECK")
                with m.Case(Command.READ):
                    with m.If(~x.width_ok | (length != VALUES_AT)
                              | ~below(x.count_width, self.max_payload - 1)):
                        x.error(Status.BAD_LENGTH)
                    with m.Else():
                        m.next = "R_CHECK"
                with m.Case(Command.RESET):
                    with m.If(length != 3):
                        x.error(Status.BAD_LENGTH)
                    with m.Elif((hdr.flags & (0xFF & ~self._reset_flags())) != 0):
                        x.error(Status.BAD_VALUE, 0)
                    with m.Else():
                        m.next = "RESET_STATE"
                with m.Case(Command.RUN):
                    with m.If((length < RECORDS_AT) | ~below(hdr.steps, self.max_steps + 1)):
                        x.error(Status.BAD_LENGTH)
                    with m.Else():
                        m.d.comb += feeder.start.eq(1)
                        x.read_from(RECORDS_AT, "RUN_CHECK")
                if self.run_with:
                    with m.Case(Command.RUN_WITH):
                        with m.If(x.rw_bad_length):
                            x.error(Status.BAD_LENGTH)
                        with m.Elif(x.rw_inputs):
                            m.d.comb += feeder.start.eq(1)
                            x.read_from(x.rw_records_at, "RW_CHECK")
                        with m.Else():
                            m.d.comb += reader.start.eq(1)
                            x.read_from(PROBES_AT, "RW_VERIFY")
                with m.Default():
                    x.error(Status.UNKNOWN_COMMAND)

    def _write(self, m, x, check):
        """WRITE: check every address and value of the block, then write them."""
        ctl_cmd, ctl_rsp = self.core.ctl_cmd, self.core.ctl_rsp
        x.prime("W_CHECK")
        with m.State("W_CHECK"):
            m.d.comb += x.adv.eq(1)
            m.d.sync += [x.val.eq(x.value_now), x.k.eq(x.k + 1)]
            with m.If(x.last_byte):
                # The value is checked in the next clock, from a register: the frame
                # buffer, the byte assembly and the range check are too long one clock.
                m.d.sync += [x.val.eq(0), x.k.eq(0), x.checked.eq(x.value_sext)]
                m.next = "W_VERIFY"
        with m.State("W_VERIFY"):
            m.d.comb += check.write.eq(1)
            m.d.sync += x.bound_seen.eq(x.bound_seen | x.at_bound)
            with m.If(x.at_bound & ~x.at_max):
                # e_pos: the position of the block's first bound (0 if that is W_MAX, which
                # only a block that starts at it writes without W_MIN).
                m.d.sync += [x.w_min_new.eq(x.checked), x.e_pos.eq(x.pos)]
            with m.If(x.at_bound & x.at_max):
                m.d.sync += x.w_max_new.eq(x.checked)
            # The next position, or the block's start after its last (unused after an error).
            with m.If(x.last_pos):
                m.d.sync += [x.pos.eq(0), x.cur_addr.eq(x.hdr.block.addr)]
            with m.Else():
                m.d.sync += [x.pos.eq(x.pos + 1), x.cur_addr.eq(check.next_addr)]
            with m.If(~check.addr_ok):
                x.error(Status.BAD_ADDRESS, x.pos)
            with m.Elif(~check.value_ok):
                x.error(Status.BAD_VALUE, x.pos)
            with m.Elif(x.last_pos):
                m.next = "W_BOUNDS"
            with m.Else():
                m.next = "W_CHECK"
        with m.State("W_BOUNDS"):
            # The bounds the block leaves, compared from registers a clock after its last check.
            with m.If(x.crossed):
                m.d.sync += [x.e_status.eq(Status.BAD_VALUE), x.e_has_pos.eq(1)]
                m.next = "ERROR"
            with m.Else():
                x.read_from(VALUES_AT, "W_APPLY")
        x.prime("W_APPLY")
        with m.State("W_APPLY"):
            m.d.comb += x.adv.eq(1)
            m.d.sync += [x.val.eq(x.value_now), x.k.eq(x.k + 1)]
            with m.If(x.last_byte):
                m.d.sync += [x.val.eq(0), x.k.eq(0), x.checked.eq(x.value_sext)]
                m.next = "W_CTL"
        with m.State("W_CTL"):
            m.d.comb += [ctl_cmd.valid.eq(1), ctl_cmd.payload.write.eq(1),
                         ctl_cmd.payload.space.eq(x.hdr.block.space),
                         ctl_cmd.payload.addr.eq(x.cur_addr), ctl_cmd.payload.data.eq(x.checked)]
            with m.If(ctl_cmd.ready):
                with m.If(x.at_bound & x.at_max):
                    m.d.sync += x.w_max_now.eq(x.checked)
                with m.Elif(x.at_bound):
                    m.d.sync += x.w_min_now.eq(x.checked)
                m.next = "W_RSP"
        with m.State("W_RSP"):
            m.d.comb += ctl_rsp.ready.eq(1)
            with m.If(ctl_rsp.valid):
                m.d.sync += [x.pos.eq(x.pos + 1), x.cur_addr.eq(check.next_addr)]
                with m.If(x.last_pos):
                    m.next = "OK"
                with m.Else():
                    m.next = "W_APPLY"

    def _read(self, m, x, check):
        """READ: check every address of the block, then read the values into the reply."""
        ctl_cmd, ctl_rsp = self.core.ctl_cmd, self.core.ctl_rsp
        with m.State("R_CHECK"):
            m.d.sync += [x.pos.eq(x.pos + 1), x.cur_addr.eq(check.next_addr)]
            with m.If(~check.addr_ok):
                x.error(Status.BAD_ADDRESS, x.pos)
            with m.Elif(x.last_pos):
                m.d.sync += [x.pos.eq(0), x.cur_addr.eq(x.hdr.block.addr)]
                m.next = "R_HEAD"
        with m.State("R_HEAD"):
            x.write_head("R_CTL")
        with m.State("R_CTL"):
            m.d.comb += [ctl_cmd.valid.eq(1), ctl_cmd.payload.write.eq(0),
                         ctl_cmd.payload.space.eq(x.hdr.block.space),
                         ctl_cmd.payload.addr.eq(x.cur_addr)]
            with m.If(ctl_cmd.ready):
                m.next = "R_BYTES"
        with m.State("R_BYTES"):
            # The response beat stays put until it is taken, with its last byte.
            m.d.comb += [x.w_data.eq(ctl_rsp.payload.word_select(x.k[:2], 8)),
                         x.w_en.eq(ctl_rsp.valid)]
            with m.If(ctl_rsp.valid):
                m.d.sync += [x.wp.eq(x.wp + 1), x.k.eq(x.k + 1)]
            with m.If(ctl_rsp.valid & x.last_byte):
                m.d.comb += ctl_rsp.ready.eq(1)
                m.d.sync += [x.pos.eq(x.pos + 1), x.cur_addr.eq(check.next_addr), x.k.eq(0)]
                with m.If(x.last_pos):
                    m.next = "FINISH"
                with m.Else():
                    m.next = "R_CTL"

    def _reset_flags(self):
        """Return the RESET flags this device takes (the others are ``BAD_VALUE``)."""
        flags = ResetFlags.STATE | ResetFlags.COUNTERS
        if self.features & Feature.COUNTS:
            flags |= ResetFlags.SPIKE_COUNTS
        return flags.value

    def _reset(self, m, x):
        """RESET: one CONTROL write per flag, lowest first; a flag is cleared once written."""
        ctl_cmd, ctl_rsp = self.core.ctl_cmd, self.core.ctl_rsp
        # Each flag's CONTROL action, by bit; only the flags this device takes, the low bits of
        # the flags byte (DISPATCH refused the others).
        actions = {ResetFlags.STATE: Control.RESET, ResetFlags.COUNTERS: Control.CLEAR_COUNTERS,
                   ResetFlags.SPIKE_COUNTS: Control.CLEAR_COUNTS}
        assert [flag.value for flag in actions] == [1 << bit for bit in range(len(actions))]
        known = self._reset_flags()
        assert known & (known + 1) == 0
        actions = {flag: action for flag, action in actions.items() if flag.value & known}
        flags = x.hdr.flags[:known.bit_length()]
        with m.State("RESET_STATE"):
            with m.If(flags != 0):
                m.next = "RESET_CTL"
            with m.Else():
                m.next = "OK"
        with m.State("RESET_CTL"):
            m.d.comb += [ctl_cmd.valid.eq(1), ctl_cmd.payload.write.eq(1),
                         ctl_cmd.payload.space.eq(Space.CONTROL)]
            # The lowest flag set.
            for flag, action in reversed(actions.items()):
                with m.If(flags & flag.value):
                    m.d.comb += ctl_cmd.payload.addr.eq(action)
            with m.If(ctl_cmd.ready):
                m.next = "RESET_RSP"
        with m.State("RESET_RSP"):
            m.d.comb += ctl_rsp.ready.eq(1)
            with m.If(ctl_rsp.valid):
                m.d.sync += flags.eq(flags & (flags - 1))   # the lowest flag done
                m.next = "RESET_STATE"

    def _identify(self, m, x):
        """IDENTIFY: the reply is seq, OK and the identity bytes."""
        reply = Array(Const(b, 8) for b in bytes([0, Status.OK.value]) + self.identify)
        with m.State("IDENTIFY"):
            m.d.comb += [x.w_data.eq(Mux(x.wp == 0, self.frame.seq, reply[x.wp])),
                         x.w_en.eq(1)]
            m.d.sync += x.wp.eq(x.wp + 1)
            with m.If(x.wp == len(reply) - 1):
                m.next = "FINISH"

    def _run(self, m, x, feeder, collector):
        """RUN: check every record, then feed them and collect the spikes side by side."""
        x.prime("RUN_CHECK")
        with m.State("RUN_CHECK"):
            m.d.comb += feeder.check.eq(1)
            with m.If(feeder.done):
                with m.If(x.rp != self.frame.length):
                    x.error(Status.BAD_LENGTH)
                with m.Elif(x.hdr.steps == 0):
                    x.error(Status.BAD_VALUE, 0)
                with m.Elif(feeder.bad):
                    x.error(Status.BAD_VALUE, feeder.bad_step)
                with m.Else():
                    m.next = "RUN_HEAD"
            with m.Elif(~feeder.records.valid):
                x.error(Status.BAD_LENGTH)
        with m.State("RUN_HEAD"):
            with m.If(x.wp == 1):
                m.d.comb += [feeder.start.eq(1), collector.start.eq(1)]
                m.d.sync += x.rp.eq(RECORDS_AT)
            x.write_head("RUN_PRIME")
        x.prime("RUN")
        with m.State("RUN"):
            m.d.comb += [feeder.feed.eq(1), x.w_addr.eq(collector.reply.addr),
                         x.w_data.eq(collector.reply.data), x.w_en.eq(collector.reply.en)]
            with m.If(collector.done):
                m.d.sync += x.wp.eq(collector.length)
                m.next = "FINISH"

    def _run_with(self, m, x, feeder, collector, reader):
        """RUN_WITH: check the records, the probes, the values; then run, reading the probes.

        Each step's probes are read once its spikes are in (``collector.paused``): the next
        step is held back (``hold``) from its end beat on, as the core computes a step as soon
        as its end beat arrives and takes commands only between steps.
        """
        ctl_cmd, ctl_rsp, step_in = self.core.ctl_cmd, self.core.ctl_rsp, self.core.step_in
        run = x.hdr.run
        x.prime("RW_CHECK")
        with m.State("RW_CHECK"):
            m.d.comb += feeder.check.eq(1)
            with m.If(feeder.done):
                with m.If(x.rp != self.frame.length):
                    x.error(Status.BAD_LENGTH)
                with m.Else():
                    m.d.comb += reader.start.eq(1)
                    x.read_from(PROBES_AT, "RW_VERIFY")
            with m.Elif(~feeder.records.valid):
                x.error(Status.BAD_LENGTH)
        x.prime("RW_VERIFY")
        with m.State("RW_VERIFY"):
            m.d.comb += reader.check.eq(1)
            with m.If(reader.bad):
                x.error(Status.BAD_ADDRESS, reader.bad_probe)
            with m.Elif(reader.done):
                with m.If((run.steps == 0)
                          | ((run.flags & (0xFF & ~(RunFlags.INPUTS | RunFlags.SPIKES).value))
                             != 0)):
                    x.error(Status.BAD_VALUE, 0)
                with m.Elif(x.rw_inputs & feeder.bad):
                    x.error(Status.BAD_VALUE, feeder.bad_step)
                with m.Else():
                    m.next = "RW_HEAD"
        with m.State("RW_HEAD"):
            with m.If(x.wp == 1):
                m.d.comb += [feeder.start.eq(1), collector.start.eq(1)]
                m.d.sync += [x.rp.eq(x.rw_records_at), x.hold.eq(0)]
            x.write_head("RW_RUN_PRIME")
        x.prime("RW_RUN")
        with m.State("RW_RUN"):
            m.d.comb += [feeder.feed.eq(~x.hold), x.w_addr.eq(collector.reply.addr),
                         x.w_data.eq(collector.reply.data), x.w_en.eq(collector.reply.en)]
            with m.If(step_in.valid & step_in.ready & step_in.payload.end
                      & (collector.gap != 0)):
                m.d.sync += x.hold.eq(1)
            with m.If(collector.paused):
                m.d.comb += reader.start.eq(1)
                m.d.sync += [x.rp_saved.eq(x.rp), x.wp.eq(collector.length)]
                x.read_from(PROBES_AT, "RW_PROBES")
            with m.Elif(collector.done):
                m.d.sync += x.wp.eq(collector.length)
                m.next = "FINISH"
        x.prime("RW_PROBES")
        with m.State("RW_PROBES"):
            m.d.comb += [reader.read.eq(1),
                         ctl_cmd.valid.eq(reader.ctl_cmd.valid),
                         ctl_cmd.payload.eq(reader.ctl_cmd.payload),
                         reader.ctl_cmd.ready.eq(ctl_cmd.ready),
                         reader.ctl_rsp.valid.eq(ctl_rsp.valid),
                         reader.ctl_rsp.payload.eq(ctl_rsp.payload),
                         ctl_rsp.ready.eq(reader.ctl_rsp.ready),
                         x.w_data.eq(reader.values.payload), x.w_en.eq(reader.values.valid),
                         reader.values.ready.eq(1)]
            with m.If(reader.values.valid):
                m.d.sync += x.wp.eq(x.wp + 1)
            with m.If(reader.done):
                m.d.sync += x.rp.eq(x.rp_saved)
                m.next = "RW_RESUME_PRIME"
        x.prime("RW_RESUME")
        with m.State("RW_RESUME"):
            m.d.comb += collector.resume.eq(1)
            m.d.sync += x.hold.eq(0)
            m.next = "RW_RUN"

    def _finish(self, m, x):
        """OK, ERROR: write the reply's head; FINISH, RESEND: send a reply, release the frame."""
        frame, reply = self.frame, self.reply
        with m.State("OK"):
            x.write_head("FINISH")
        with m.State("ERROR"):
            m.d.comb += x.w_en.eq(1)
            m.d.sync += x.wp.eq(x.wp + 1)
            with m.Switch(x.wp):
                with m.Case(0):
                    m.d.comb += x.w_data.eq(frame.seq)
                with m.Case(1):
                    m.d.comb += x.w_data.eq(x.e_status)
                    with m.If(~x.e_has_pos):
                        m.next = "FINISH"
                with m.Case(2):
                    m.d.comb += x.w_data.eq(x.e_pos[:8])
                with m.Default():
                    m.d.comb += x.w_data.eq(x.e_pos[8:])
                    m.next = "FINISH"
        with m.State("FINISH"):
            m.d.comb += [reply.start.eq(~reply.busy), reply.buf.eq(x.target),
                         reply.length.eq(x.wp)]
            with m.If(~reply.busy):
                m.d.comb += frame.release.eq(1)
                with m.If(x.remember):
                    m.d.sync += [x.kept.eq(x.target), x.kept_len.eq(x.wp), x.have_last.eq(1),
                                 x.last_seq.eq(frame.seq), x.expect.eq(frame.seq + 1),
                                 x.expect_valid.eq(1)]
                m.next = "IDLE"
        with m.State("RESEND"):
            m.d.comb += [reply.start.eq(~reply.busy), reply.buf.eq(x.kept),
                         reply.length.eq(x.kept_len)]
            with m.If(~reply.busy):
                m.d.comb += frame.release.eq(1)
                m.next = "IDLE"


class _Datapath:
    """The executor's registers and the paths around them, shared by its states.

    Reading the frame: ``byte`` is the frame's byte at ``rp``; ``adv`` moves to the next one
    in the next clock (``feeder.records`` is the same bytes as a stream). Writing the reply:
    ``w_data`` at ``w_addr`` (``wp`` unless a state says otherwise) when ``w_en``, into the
    buffer ``target``. A block (WRITE, READ) is walked at ``pos`` and ``cur_addr``, its value
    assembled byte ``k`` at a time into ``val``.
    """
    def __init__(self, m, executor, check, feeder, collector, reader):
        self.m = m
        frame, reply = executor.frame, executor.reply
        payload = range(executor.max_payload + 1)     # 0 … max_payload
        buffer_bits = len(frame.read.addr)
        self.seq = frame.seq

        # Sequence state (docs/protocol.md, "Sequence and retransmission").
        self.last_seq, self.have_last = Signal(8), Signal()
        self.expect, self.expect_valid = Signal(8), Signal()
        self.kept = Signal()                    # the reply buffer holding the last reply
        self.kept_len = Signal(payload)
        self.target = ~self.kept                # where new replies are written
        self.remember = Signal()                # this frame's reply will be the last one

        # Reading the frame: byte (a register, off the frame buffer's slow read data) is the
        # byte at rp, and the buffer reads the one after it (rp + 1, or rp + 2 when adv moves
        # on). After rp jumps, seek reads the byte at rp and then load takes it (``prime``).
        self.rp = Signal(payload)
        self.adv = Signal()
        self.seek, self.load = Signal(), Signal()
        self.seeked = Signal()                  # a PRIME state's second clock
        self.byte = Signal(8)
        m.d.comb += frame.read.addr.eq(Mux(self.seek, self.rp,
                                           Mux(self.adv, self.rp + 2, self.rp + 1)))
        with m.If(self.adv | self.load):
            m.d.sync += self.byte.eq(frame.read.data)
        m.d.comb += [feeder.records.payload.eq(self.byte),
                     feeder.records.valid.eq(self.rp < frame.length)]
        taken = feeder.records.ready
        if reader is not None:                  # RUN_WITH's probes
            m.d.comb += [reader.probes.payload.eq(self.byte),
                         reader.probes.valid.eq(self.rp < frame.length)]
            taken |= reader.probes.ready
        m.d.comb += self.adv.eq(taken)
        with m.If(self.adv):
            m.d.sync += self.rp.eq(self.rp + 1)

        # Writing the reply.
        self.wp = Signal(payload)
        self.w_addr, self.w_data, self.w_en = Signal(payload), Signal(8), Signal()
        m.d.comb += [self.w_addr.eq(self.wp),
                     reply.write.addr.eq(Cat(self.w_addr[:buffer_bits], self.target)),
                     reply.write.data.eq(self.w_data), reply.write.en.eq(self.w_en)]

        # The command's header, and the error to report.
        self.hdr = hdr = Signal(Header)
        block = hdr.block
        m.d.comb += [feeder.steps.eq(hdr.steps), collector.steps.eq(hdr.steps)]
        # Registered (HDR_DONE waits a clock for them): the product is off DISPATCH's paths.
        # The product by a 3-bit width as shifts and adds: no multiplier (a DSP on iCE40).
        self.count_width = Signal(19)
        self.width_ok = Signal()
        m.d.sync += [
            self.count_width.eq(sum(Mux(block.width[b], block.count << b, 0) for b in range(3))),
            self.width_ok.eq((block.width >= 1) & (block.width <= 4) & (block.count != 0))]
        self.e_status = Signal(Status)
        self.e_pos = Signal(payload)            # a value's or a step's index
        self.e_has_pos = Signal()

        self._block(m, check)
        if reader is not None:
            self._run_with(m, executor, feeder, collector, reader)

    def _block(self, m, check):
        """The block walk of WRITE and READ, and the w_min <= w_max rule of WRITE."""
        block = self.hdr.block
        self.pos = Signal.like(self.e_pos)      # count <= max_payload once the length is checked
        self.cur_addr = Signal(spec.ADDR_BITS)
        self.k = Signal(3)                      # byte of the value
        self.val = Signal(32)
        self.value_now = Signal(32)             # val with this byte in place
        self.value_sext = Signal(signed(32))
        m.d.comb += self.value_now.eq(self.val | (self.byte << (self.k * 8))[:32])
        with m.Switch(block.width):
            for w in (1, 2, 3):
                with m.Case(w):
                    m.d.comb += self.value_sext.eq(self.value_now[:8 * w].as_signed())
            with m.Default():
                m.d.comb += self.value_sext.eq(self.value_now.as_signed())
        self.last_byte = self.k == block.width - 1
        self.last_pos = self.pos == block.count - 1
        self.checked = Signal(signed(32))       # the value W_VERIFY checks, W_CTL writes
        m.d.comb += [check.space.eq(block.space), check.addr.eq(self.cur_addr),
                     check.value.eq(self.checked)]

        # A WRITE must leave w_min <= w_max (docs/protocol.md, WRITE). The executor keeps the
        # two settings as it has applied them (the core's, which only it writes; both are 0
        # after a reset). w_min_new and w_max_new are the bounds as the block leaves them so
        # far; after its last position, if it wrote a bound (bound_seen), the settings it
        # leaves are known.
        assert Setting.W_MAX.value == Setting.W_MIN.value + 1
        self.w_min_now = Signal(signed(spec.WEIGHT_BITS))
        self.w_max_now = Signal(signed(spec.WEIGHT_BITS))
        self.w_min_new = Signal(signed(spec.WEIGHT_BITS))
        self.w_max_new = Signal(signed(spec.WEIGHT_BITS))
        self.bound_seen = Signal()
        # At W_MIN (8) or W_MAX (9), told apart by bit 0; the other addresses that match (24,
        # 25, …) are refused by AccessCheck anyway.
        self.at_bound = ((block.space == Space.SETTING)
                         & (self.cur_addr[1:4] == Setting.W_MIN.value >> 1))
        self.at_max = self.cur_addr[0]
        # The bounds the block leaves (once its last position is checked): crossed?
        self.crossed = self.bound_seen & (self.w_min_new > self.w_max_new)

    def _run_with(self, m, executor, feeder, collector, reader):
        """RUN_WITH's header: where its records start, its length check, its parts' modes."""
        run, length = self.hdr.run, executor.frame.length
        is_run_with = executor.frame.cmd == Command.RUN_WITH
        n_probes = run.n_probes[:len(reader.n_probes)]    # n_probes <= MAX_PROBES is checked
        self.rw_inputs = run.flags[RunFlags.INPUTS.value.bit_length() - 1]
        spikes = run.flags[RunFlags.SPIKES.value.bit_length() - 1]
        self.rw_records_at = Signal(range(PROBES_AT + 4 * MAX_PROBES + 1))
        m.d.comb += self.rw_records_at.eq(PROBES_AT + (n_probes << 2))
        m.d.comb += [reader.n_probes.eq(n_probes),
                     feeder.empty.eq(is_run_with & ~self.rw_inputs),
                     collector.drop.eq(is_run_with & ~spikes)]
        # The probe values' room after each step's record: registered, and as shifts and adds
        # (Yosys builds even a product by a constant from a multiplier, on the 85F the
        # critical path's slowest part).
        gap = Signal.like(collector.gap)
        product = sum(n_probes << b for b in range(PROBE_BYTES.bit_length())
                      if PROBE_BYTES >> b & 1)
        m.d.sync += gap.eq(Mux(is_run_with, product, 0))
        m.d.comb += collector.gap.eq(gap)
        # The most steps whose reply fits, by probes and spike records; registered, like
        # count_width (HDR_DONE waits a clock for it).
        most = Signal(16)
        with m.Switch(n_probes):
            for n in range(MAX_PROBES + 1):
                with m.Case(n):
                    m.d.comb += most.eq(Mux(
                        spikes,
                        max_run_with_steps(executor.n_neurons, executor.max_payload, True, n),
                        max_run_with_steps(executor.n_neurons, executor.max_payload, False, n)))
        too_many = Signal()
        m.d.sync += too_many.eq(run.steps > most)
        self.rw_bad_length = ((length < PROBES_AT) | (run.n_probes > MAX_PROBES)
                              | (length < self.rw_records_at)
                              | (~self.rw_inputs & (length != self.rw_records_at)) | too_many)
        # Running: the frame position of the next record while the probes are read, and the
        # next step held back until they are.
        self.rp_saved = Signal.like(self.rp)
        self.hold = Signal()

    def error(self, status, position=None):
        """Go to ERROR to reply *status* (with *position*, if not None)."""
        m = self.m
        m.d.sync += [self.e_status.eq(status), self.e_has_pos.eq(position is not None)]
        if position is not None:
            m.d.sync += self.e_pos.eq(position)
        m.next = "ERROR"

    def read_from(self, at, state):
        """Go to *state* (through its PRIME state) with the frame read from byte *at*."""
        self.m.d.sync += self.rp.eq(at)
        self.m.next = f"{state}_PRIME"

    def prime(self, state):
        """Add *state*'s PRIME state: two clocks, to read the byte at rp (seek), then take it."""
        m = self.m
        with m.State(f"{state}_PRIME"):
            m.d.comb += [self.seek.eq(~self.seeked), self.load.eq(self.seeked)]
            m.d.sync += self.seeked.eq(~self.seeked)
            with m.If(self.seeked):
                m.next = state

    def write_head(self, next_state):
        """Write the reply's seq and OK bytes, a clock each, then go to *next_state*."""
        m = self.m
        m.d.comb += [self.w_data.eq(Mux(self.wp == 0, self.seq, Status.OK)),
                     self.w_en.eq(1)]
        m.d.sync += self.wp.eq(self.wp + 1)
        with m.If(self.wp == 1):
            m.next = next_state
