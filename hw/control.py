"""The core's control accesses: its settings and counters, and every memory read and written.

The address map is ``spikecore.spec.Space``; ``spikecore.hw.interface.CoreSignature``
describes the streams.
"""

import operator
from functools import reduce

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .. import spec
from ..spec import (Control, Counter, Feature, InputField, Space, StateField, fields_of,
                    neuron_bits, settings_of, src_bits)
from .checks import check_features, check_lanes, check_positive
from .generators import GEN, RATE, generator_words
from .interface import CtlCommand
from .ports import ReadRequest, Task, WriteRequest, XWord, lane_of, neuron_words
from .spikes import COUNT
from .weights import Access

__all__ = ["Settings", "ControlAccess"]

TRACE = unsigned(spec.TRACE_BITS)
WEIGHT = signed(spec.WEIGHT_BITS)


class Settings(data.Struct):
    """The global settings (``Space.SETTING``), one field per ``spikecore.spec.Setting``."""
    w_exp: range(spec.W_EXP_MAX + 1)
    enabled: 1
    a_plus: TRACE
    a_minus: TRACE
    x_imp: TRACE
    y_imp: TRACE
    x_decay: range(spec.TRACE_DECAY_ONE + 1)
    y_decay: range(spec.TRACE_DECAY_ONE + 1)
    w_min: WEIGHT
    w_max: WEIGHT
    w_exp_rec: range(spec.W_EXP_MAX + 1)
    x_tar: TRACE
    th_imp: unsigned(spec.TH_IMP_MAX.bit_length())
    th_shift: range(spec.TH_SHIFT_MAX + 1)
    soft_bound: 1


#: What the settings hold at power-up (``spec.SETTING_POWER_UP``; the others 0).
SETTINGS_INIT = {s.name.lower(): value for s, value in spec.SETTING_POWER_UP.items()}


class ControlAccess(wiring.Component):
    """Execute control commands between steps, one ``ctl_rsp`` beat each.

    It holds the settings and the ``steps`` and ``cycles`` counters, and reads and writes
    the weights, parameters, masks and state through the memories' shared ports. A command
    holds its addresses for the weight store's *read_latency* clocks (repeating a write is
    harmless), then its value is answered (sign-extended; 0 for a write or an address
    outside the map). ``CONTROL.RESET`` zeroes u, v, ref, x, y (with the ``spiked`` bits) and
    the input flags, a word of each a clock, ``max(G, HS, n_inputs)`` clocks;
    ``CONTROL.CLEAR_COUNTERS`` zeroes the counters; ``CONTROL.CLEAR_COUNTS`` (with
    ``Feature.COUNTS``) has the spike counts cleared and answers when they are.

    Parameters
    ----------
    n_inputs, n_neurons, lanes : int
        The core's geometry.
    read_latency : int
        The weight store's.
    register_commands : bool
        True: a command is copied as it is taken. False: it is read on ``ctl_cmd`` while it
        executes (the stream keeps it still) and taken once executed.
    features : spikecore.spec.Feature
        The settings and neuron fields of absent features are not written (they keep their
        power-up values; the link refuses their addresses). ``GENERATORS`` adds the INPUT
        space, ``COUNTS`` the STATE field COUNT and CLEAR_COUNTS.

    Members
    -------
    ctl_cmd, ctl_rsp
        As ``spikecore.hw.interface.CoreSignature``'s.
    allowed : In(1)
        A command may start (no step is running or waiting).
    busy : Out(1)
        A command is being executed.
    settings : Out(Settings)
    counting : In(1)
        This clock counts in ``cycles``.
    stepped : In(1)
        A step ends: ``steps += 1``.
    forget : Out(1)
        A pulse with ``CONTROL.RESET``: the last step's spikes are to be forgotten.
    w_rd, w_wr : Out(ReadRequest(Access, ...)), Out(WriteRequest(Access, ...))
        A weight row slice.
    vth_rd, vth_wr, bias_rd, bias_wr, du_rd, du_wr, dv_rd, dv_wr, t_ref_rd, t_ref_wr
        The parameter words, by neuron group (and theta_rd, theta_wr with THETA).
    psrc_rd, psrc_wr, pdst_rd, pdst_wr
        The plasticity mask words, by source group and by neuron group.
    u_rd, u_wr, v_rd, v_wr, ref_rd, ref_wr, y_rd, y_wr, x_rd, x_wr
        The state words (read back, and zeroed by ``CONTROL.RESET``).
    in_wr : Out(WriteRequest(range(n_inputs), 1))
        The input flags (cleared by ``CONTROL.RESET``).
    rate_rd, rate_wr, gen_rd, gen_wr
        With ``GENERATORS``: the rate and generator state words, by input group
        (``Generators``'s memories).
    count_rd : Out(ReadRequest(range(n_neurons), 16))
        With ``COUNTS``: the spike counts.
    clear_counts : Out(Task)
        With ``COUNTS``: clear the spike counts (``SpikeCounter.clear``).
    """
    def __init__(self, n_inputs, n_neurons, lanes, read_latency=1, register_commands=True,
                 features=Feature.all()):
        check_positive(n_inputs=n_inputs, read_latency=read_latency)
        check_lanes(lanes, n_neurons=n_neurons)
        if not isinstance(register_commands, bool):
            raise TypeError(f"register_commands must be True or False, not "
                            f"{register_commands!r}")
        self.n_inputs, self.n_neurons, self.lanes = n_inputs, n_neurons, lanes
        self.read_latency = read_latency
        self.register_commands = register_commands
        self.features = check_features(features)
        L = lanes
        G, HS = n_neurons // L, -(-(n_inputs + n_neurons) // L)
        weights = data.ArrayLayout(WEIGHT, L)
        members = {
            "ctl_cmd": In(stream.Signature(CtlCommand)),
            "ctl_rsp": Out(stream.Signature(spec.DATA_BITS)),
            "allowed": In(1), "busy": Out(1), "settings": Out(Settings, init=SETTINGS_INIT),
            "counting": In(1), "stepped": In(1), "forget": Out(1),
            "w_rd": Out(ReadRequest(Access, weights)),
            "w_wr": Out(WriteRequest(Access, weights, L)),
        }
        words = {name: (G, shape) for name, shape in neuron_words(features).items()}
        words.update(psrc=(HS, 1), pdst=(G, 1), x=(HS, XWord))
        for name, (depth, shape) in words.items():
            word = data.ArrayLayout(shape, L)
            members[f"{name}_rd"] = Out(ReadRequest(range(depth), word))
            members[f"{name}_wr"] = Out(WriteRequest(range(depth), word, L))
        members["in_wr"] = Out(WriteRequest(range(n_inputs), 1))
        if Feature.GENERATORS in features:
            for name, shape in (("rate", RATE), ("gen", GEN)):
                depth, word = generator_words(n_inputs, L), data.ArrayLayout(shape, L)
                members[f"{name}_rd"] = Out(ReadRequest(range(depth), word))
                members[f"{name}_wr"] = Out(WriteRequest(range(depth), word, L))
        if Feature.COUNTS in features:
            members["count_rd"] = Out(ReadRequest(range(n_neurons), COUNT))
            members["clear_counts"] = Out(Task())
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        n_in, N, L = self.n_inputs, self.n_neurons, self.lanes
        S, G, HS = n_in + N, N // L, -(-(n_in + N) // L)
        lb, nb, sb = ceil_log2(L), neuron_bits(N), src_bits(n_in, N)
        if self.register_commands:
            cmd = Signal.like(self.ctl_cmd.payload)
            take_at_start, take_at_end = Const(1), Const(0)
        else:
            cmd = self.ctl_cmd.payload
            take_at_start, take_at_end = Const(0), Const(1)
        rsp = Signal(spec.DATA_BITS)
        steps = Signal(64)
        cycles = Signal(64)
        settings = {setting: getattr(self.settings, setting.name.lower())
                    for setting in settings_of(self.features)}
        params = {field: (getattr(self, f"{field.name.lower()}_rd"),
                          getattr(self, f"{field.name.lower()}_wr"))
                  for field in fields_of(self.features)}
        inputs = {field: (getattr(self, f"{field.name.lower()}_rd"),
                          getattr(self, f"{field.name.lower()}_wr"))
                  for field in InputField if Feature.GENERATORS in self.features}
        counts = Feature.COUNTS in self.features
        c_addr = cmd.addr
        c_i, c_field, c_j = c_addr[:nb], c_addr[nb:], c_addr[nb:]
        c_index, c_sfield = c_addr[:sb], c_addr[sb:]
        c_lane, c_group = (c_i[:lb] if lb else Const(0, 1)), c_i[lb:]
        c_xlane, c_xgroup = (c_index[:lb] if lb else Const(0, 1)), c_index[lb:]
        weight_ok = (c_i < N) & (c_j < S)
        src_mask = c_addr < S                                   # MASK: a source's bit
        dst_mask = (c_addr[sb:] == 1) & (c_index < N)           # MASK: a neuron's bit
        input_ok = c_index < n_in                               # INPUT: an input's field
        reset_i = Signal(range(max(G, HS, n_in) + 1))
        wait = Signal(range(self.read_latency))

        def write_lanes(fields, selector, group, lane, ok):
            """CTL of a space of words of lanes: read the words of *fields* ({value: (rd,
            wr)}), and write the lane *lane* of the one that *selector* selects."""
            for value, (rd, wr) in fields.items():
                m.d.comb += [rd.en.eq(1), rd.addr.eq(group), wr.addr.eq(group)]
                m.d.comb += [wr.data[l].eq(cmd.data) for l in range(L)]
                with m.If(cmd.write & ok & (selector == value.value)):
                    m.d.comb += wr.en.eq(1 << lane)

        # CTL_READ's choices: (when, what) for each value a read can answer, the lanes taken
        # from registers. The conditions are decoded into registers while CTL waits for the
        # memories, so that CTL_READ only selects (docs/hardware.md).
        r_lane, r_xlane = Signal.like(c_lane), Signal.like(c_xlane)
        space = {sp: ~cmd.write & (cmd.space == sp) for sp in Space}
        reads = [(space[Space.WEIGHT] & weight_ok, lane_of(self.w_rd.data, r_lane))]
        for fields, selector, lane, ok, sp in (
                (params, c_field, r_lane, c_i < N, Space.NEURON),
                (inputs, c_sfield, r_xlane, input_ok, Space.INPUT)):
            reads += [(space[sp] & ok & (selector == value.value), lane_of(rd.data, lane))
                      for value, (rd, _) in fields.items()]
        reads += [(space[Space.SETTING] & (c_addr == setting.value), reg)
                  for setting, reg in settings.items()]
        reads += [(space[Space.MASK] & dst_mask, lane_of(self.pdst_rd.data, r_xlane)),
                  (space[Space.MASK] & src_mask & ~dst_mask,
                   lane_of(self.psrc_rd.data, r_xlane))]
        y = lane_of(self.y_rd.data, r_xlane)
        state = [(StateField.U, lane_of(self.u_rd.data, r_xlane)),
                 (StateField.V, lane_of(self.v_rd.data, r_xlane)),
                 (StateField.REF, lane_of(self.ref_rd.data, r_xlane)),
                 (StateField.Y, y.trace), (StateField.SPIKED, y.spiked)]
        if counts:
            state.append((StateField.COUNT, self.count_rd.data))
        reads += [(space[Space.STATE] & (c_index < N) & (c_sfield == field.value), value)
                  for field, value in state]
        reads += [(space[Space.STATE] & (c_index < S) & (c_sfield == StateField.X.value),
                   lane_of(self.x_rd.data, r_xlane).trace)]
        reads += [(space[Space.COUNTER] & (c_addr == counter.value), value)
                  for counter, value in {Counter.STEPS_LO: steps[:32],
                                         Counter.STEPS_HI: steps[32:],
                                         Counter.CYCLES_LO: cycles[:32],
                                         Counter.CYCLES_HI: cycles[32:]}.items()]
        # The choices exclude each other, so the answer is the OR of the values masked by
        # their picks: a tree, not a chain of priorities.
        picks = Signal(len(reads))
        masked = [Signal(spec.DATA_BITS, name=f"read_{k}") for k in range(len(reads))]
        m.d.comb += [mask.eq(Mux(picks[k], value, 0))
                     for k, (mask, (_, value)) in enumerate(zip(masked, reads))]
        answer = reduce(operator.or_, masked)

        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.ctl_cmd.valid & self.allowed):
                    m.d.comb += self.ctl_cmd.ready.eq(take_at_start)
                    if self.register_commands:
                        m.d.sync += cmd.eq(self.ctl_cmd.payload)
                    m.next = "CTL"

            with m.State("CTL"):
                # The addresses held for read_latency clocks: the weight store's read arrives.
                m.d.sync += [rsp.eq(0), wait.eq(wait + 1), r_lane.eq(c_lane),
                             r_xlane.eq(c_xlane), picks.eq(Cat(when for when, _ in reads))]
                with m.If(wait == self.read_latency - 1):
                    m.d.sync += wait.eq(0)
                    m.next = "CTL_READ"
                with m.Switch(cmd.space):
                    with m.Case(Space.WEIGHT):
                        m.d.comb += self.w_rd.en.eq(1)
                        for access in (self.w_rd.addr, self.w_wr.addr):
                            m.d.comb += [access.col.eq(0), access.j.eq(c_j),
                                         access.i.eq(c_group << lb)]
                        for l in range(L):
                            m.d.comb += [self.w_wr.en[l].eq(cmd.write & weight_ok & (c_lane == l)),
                                         self.w_wr.data[l].eq(cmd.data[:spec.WEIGHT_BITS])]
                    with m.Case(Space.NEURON):
                        write_lanes(params, c_field, c_group, c_lane, c_i < N)
                    with m.Case(Space.INPUT):
                        write_lanes(inputs, c_sfield, c_xgroup, c_xlane, input_ok)
                    with m.Case(Space.SETTING):
                        for setting, reg in settings.items():
                            with m.If(cmd.write & (c_addr == setting.value)):
                                m.d.sync += reg.eq(cmd.data)
                    with m.Case(Space.MASK):
                        for (rd, wr), ok in (((self.psrc_rd, self.psrc_wr), src_mask),
                                             ((self.pdst_rd, self.pdst_wr), dst_mask)):
                            m.d.comb += [rd.en.eq(1), rd.addr.eq(c_xgroup), wr.addr.eq(c_xgroup)]
                            m.d.comb += [wr.data[l].eq(cmd.data[0]) for l in range(L)]
                            with m.If(cmd.write & ok):
                                m.d.comb += wr.en.eq(1 << c_xlane)
                    with m.Case(Space.STATE):
                        for rd in (self.u_rd, self.v_rd, self.ref_rd, self.y_rd, self.x_rd):
                            m.d.comb += [rd.en.eq(1), rd.addr.eq(c_xgroup)]
                        if counts:
                            m.d.comb += [self.count_rd.en.eq(1), self.count_rd.addr.eq(c_index)]
                    with m.Case(Space.CONTROL):
                        with m.If(cmd.write & (c_addr == Control.RESET.value)):
                            m.d.comb += self.forget.eq(1)
                            m.d.sync += [reset_i.eq(0), wait.eq(0)]
                            m.next = "RESET"
                        with m.If(cmd.write & (c_addr == Control.CLEAR_COUNTERS.value)):
                            m.d.sync += [steps.eq(0), cycles.eq(0)]
                        if counts:
                            with m.If(cmd.write & (c_addr == Control.CLEAR_COUNTS.value)):
                                m.d.comb += self.clear_counts.start.eq(1)
                                m.d.sync += wait.eq(0)
                                m.next = "CLEAR_COUNTS"

            with m.State("CTL_READ"):
                m.d.sync += rsp.eq(answer)
                m.d.comb += self.ctl_cmd.ready.eq(take_at_end)
                m.next = "CTL_RSP"

            with m.State("CTL_RSP"):
                m.d.comb += [self.ctl_rsp.valid.eq(1), self.ctl_rsp.payload.eq(rsp)]
                with m.If(self.ctl_rsp.ready):
                    m.next = "IDLE"

            if counts:
                with m.State("CLEAR_COUNTS"):
                    with m.If(~self.clear_counts.busy):
                        m.d.comb += self.ctl_cmd.ready.eq(take_at_end)
                        m.next = "CTL_RSP"

            with m.State("RESET"):
                # u, v, ref, y, x and the input flags to zero, a word a clock. The flags are
                # all clear between steps unless a reset of the whole device cut a step short
                # (memories keep their contents through it).
                for wr, depth in ((self.u_wr, G), (self.v_wr, G), (self.ref_wr, G),
                                  (self.y_wr, G), (self.x_wr, HS), (self.in_wr, n_in)):
                    m.d.comb += [wr.addr.eq(reset_i),
                                 wr.en.eq(Mux(reset_i < depth, (1 << len(wr.en)) - 1, 0))]
                m.d.sync += reset_i.eq(reset_i + 1)
                with m.If(reset_i == max(G, HS, n_in) - 1):
                    m.d.comb += self.ctl_cmd.ready.eq(take_at_end)
                    m.next = "CTL_RSP"
        # (After the clearing: counting and clearing never meet, and this order maps to
        # flip-flops with an enable.)
        with m.If(self.stepped):
            m.d.sync += steps.eq(steps + 1)
        with m.If(self.counting):
            m.d.sync += cycles.eq(cycles + 1)
        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))
        return m
