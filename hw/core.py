"""The spikecore core: an all-to-all LIF network with current-based synapses and on-chip STDP.

It implements docs/model.md bit-exactly, ``lanes`` synapses a clock; docs/hardware.md
describes the step engine and its cycle budget. ``spikecore.hw.interface.CoreSignature`` is
its interface and ``spikecore.spec.Space`` its control address map.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.utils import ceil_log2

from .. import spec
from ..spec import (Control, Counter, NeuronField, Setting, Space, StateField, neuron_bits,
                    src_bits)
from .fixed import sat8u
from .interface import CoreSignature
from .neuron import NeuronUpdate
from .pipeline import delay_line, register
from .stdp import SynapseUpdate
from .weights import WeightStore

__all__ = ["Core"]


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive integer, not {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value}")


def _lowest_set(m, bits, width):
    """Return a signal holding the index of the lowest set bit of *bits* (0 if none)."""
    index = Signal(range(max(width, 2)))
    for bit in reversed(range(width)):
        with m.If(bits[bit]):
            m.d.comb += index.eq(bit)
    return index


class Core(wiring.Component):
    """Compute steps of an all-to-all LIF network with on-chip STDP, as docs/model.md says.

    The step engine is event-driven and works on ``lanes`` synapses a clock: per step it
    reads only the weight rows of delivered sources while it updates the neurons group by
    group, then applies STDP to the rows of delivered sources and the columns of spiking
    neurons (each plastic synapse touched once). The spikes stream out while learning runs.
    Configuration and state are reached through ``ctl_cmd``/``ctl_rsp`` (address map:
    ``spikecore.spec.Space``).

    Parameters
    ----------
    n_inputs : int
        Number of input axons (>= 1).
    n_neurons : int
        Number of neurons (>= 1), a multiple of *lanes*.
    lanes : int
        Synapses processed per clock (and neurons updated per clock): a power of two, at most
        *n_neurons*.
    weight_ports : int
        2: each weight bank reads and writes in the same clock (simple dual-port block RAM);
        1: one shared port per bank (single-port RAM such as the iCE40 SPRAM), and the STDP
        passes take two clocks per slice.
    neuron_latency : int
        Pipeline depth of the neuron units (``NeuronUpdate.LATENCIES``): 6 for fast clocks,
        2 where flip-flops are dear and the clock slow.
    register_commands : bool
        True: a control command is copied into a register as it is taken (its decoding then
        starts from a register, for fast clocks). False: the core reads it on ``ctl_cmd``
        while it executes it (the stream keeps it still) and takes it when done, which saves
        the copy.

    Members
    -------
    ctl_cmd, ctl_rsp, step_in, spike_out
        See ``spikecore.hw.interface.CoreSignature``.
    """

    def __init__(self, n_inputs, n_neurons, lanes=1, weight_ports=2, neuron_latency=6,
                 register_commands=True):
        _check_positive("n_inputs", n_inputs)
        _check_positive("n_neurons", n_neurons)
        _check_positive("lanes", lanes)
        if lanes & (lanes - 1):
            raise ValueError(f"lanes must be 1 or a power of two, not {lanes}")
        if lanes > n_neurons:
            raise ValueError(f"lanes must be at most n_neurons ({n_neurons}), not {lanes}")
        if n_neurons % lanes:
            raise ValueError(f"n_neurons ({n_neurons}) must be a multiple of lanes ({lanes})")
        if weight_ports not in (1, 2):
            raise ValueError(f"weight_ports must be 1 or 2, not {weight_ports!r}")
        if isinstance(neuron_latency, bool) or not isinstance(neuron_latency, int) \
                or neuron_latency not in NeuronUpdate.LATENCIES:
            raise ValueError(f"neuron_latency must be one of {NeuronUpdate.LATENCIES}, "
                             f"not {neuron_latency!r}")
        if n_inputs + n_neurons > 1 << 16:
            raise ValueError(f"at most 65536 sources, not {n_inputs + n_neurons}")
        self.n_inputs = n_inputs
        self.n_neurons = n_neurons
        self.n_sources = n_inputs + n_neurons
        self.lanes = lanes
        self.weight_ports = weight_ports
        self.neuron_latency = neuron_latency
        if not isinstance(register_commands, bool):
            raise TypeError(f"register_commands must be True or False, not "
                            f"{register_commands!r}")
        self.register_commands = register_commands
        super().__init__(CoreSignature(n_inputs, n_neurons))

    def elaborate(self, platform):
        m = Module()
        n_in, N, L = self.n_inputs, self.n_neurons, self.lanes
        S = self.n_sources
        G = N // L                          # neuron groups
        HS = -(-S // L)                     # source groups
        S_pad = HS * L
        lb = ceil_log2(L)
        nb, sb = neuron_bits(N), src_bits(n_in, N)
        acc_shape = signed(spec.WEIGHT_BITS + S.bit_length() + 1)
        state = signed(spec.STATE_BITS)
        decay_shape = unsigned(spec.DECAY_SHIFT + 1)
        trace = unsigned(spec.TRACE_BITS)
        ref_shape = unsigned(spec.REF_BITS)
        all_lanes = Const((1 << L) - 1, L)

        def lane(view, index):
            """Return the lane of *view* that *index* (a neuron or source) falls in."""
            return view[0] if L == 1 else view[index[:lb]]

        def lane_memory(name, shape, depth):
            mem = Memory(shape=data.ArrayLayout(shape, L), depth=depth, init=[])
            m.submodules[name] = mem
            return mem.read_port(), mem.write_port(granularity=1)

        # --- Memories ---------------------------------------------------------------------
        # Dual-port banks register their reads (address and data): 3 clocks, for fmax.
        m.submodules.weights = ws = WeightStore(S_pad, N, L,
                                                single_port=self.weight_ports == 1,
                                                registered=self.weight_ports == 2)
        RL = ws.read_latency
        # With single-port banks a slice is read in one clock and written in the next.
        half = Signal()
        issue_ok = ~half if self.weight_ports == 1 else Const(1)
        params = {
            NeuronField.VTH: lane_memory("vth_mem", state, G),
            NeuronField.BIAS: lane_memory("bias_mem", state, G),
            NeuronField.DU: lane_memory("du_mem", decay_shape, G),
            NeuronField.DV: lane_memory("dv_mem", decay_shape, G),
            NeuronField.T_REF: lane_memory("tref_mem", ref_shape, G),
        }
        (vth_rd, _), (bias_rd, _), (du_rd, _), (dv_rd, _), (tref_rd, _) = params.values()
        u_rd, u_wr = lane_memory("u_mem", state, G)
        v_rd, v_wr = lane_memory("v_mem", state, G)
        ref_rd, ref_wr = lane_memory("ref_mem", ref_shape, G)
        # Each post-trace with whether its neuron spiked in its last update, each pre-trace
        # with whether its source is delivered in this step (set when it jumps).
        y_rd, y_wr = lane_memory("y_mem", data.StructLayout({"trace": trace, "spiked": 1}), G)
        x_rd, x_wr = lane_memory("x_mem", data.StructLayout({"trace": trace, "hit": 1}), HS)
        state_wrs = [u_wr, v_wr, ref_wr, y_wr]
        # The plasticity masks, by source group and by neuron group.
        psrc_rd, psrc_wr = lane_memory("psrc_mem", 1, HS)
        pdst_rd, pdst_wr = lane_memory("pdst_mem", 1, G)
        # This step's spikes by group (for the spike list), and which inputs this step has.
        m.submodules.s_mem = s_mem = Memory(shape=L, depth=G, init=[])
        s_rd, s_wr = s_mem.read_port(), s_mem.write_port()
        m.submodules.in_mem = in_mem = Memory(shape=1, depth=n_in, init=[])
        in_wr = in_mem.write_port()
        in_rd = in_mem.read_port(transparent_for=(in_wr,))

        # This step's external inputs, in arrival order; spike lists of the last two steps.
        m.submodules.dl_mem = dl_mem = Memory(shape=unsigned(sb), depth=n_in, init=[])
        dl_rd, dl_wr = dl_mem.read_port(), dl_mem.write_port()
        m.submodules.sl_mem = sl_mem = Memory(shape=unsigned(nb), depth=2 << nb, init=[])
        sl_wr = sl_mem.write_port()
        slp_rd = sl_mem.read_port()         # last step's spikes (delivered now)
        slc_rd = sl_mem.read_port()         # this step's spikes (columns to update)
        sle_rd = sl_mem.read_port()         # this step's spikes (to send out)

        # --- Settings and step state ----------------------------------------------------------
        w_exp = Signal(range(spec.W_EXP_MAX + 1))
        enabled = Signal()
        a_plus, a_minus = Signal(trace), Signal(trace)
        x_imp, y_imp = Signal(trace), Signal(trace)
        x_decay = Signal(range(spec.TRACE_DECAY_ONE + 1))
        y_decay = Signal(range(spec.TRACE_DECAY_ONE + 1))
        w_min, w_max = Signal(signed(spec.WEIGHT_BITS)), Signal(signed(spec.WEIGHT_BITS))
        settings = {Setting.W_EXP: w_exp, Setting.ENABLED: enabled, Setting.A_PLUS: a_plus,
                    Setting.A_MINUS: a_minus, Setting.X_IMP: x_imp, Setting.Y_IMP: y_imp,
                    Setting.X_DECAY: x_decay, Setting.Y_DECAY: y_decay,
                    Setting.W_MIN: w_min, Setting.W_MAX: w_max}

        n_e = Signal(range(n_in + 1))       # this step's external inputs (entries of dl_mem)
        n_sprev = Signal(range(N + 1))      # last step's spikes
        n_s = Signal(range(N + 1))          # this step's spikes
        parity = Signal()                   # sl_mem half holding this step's spikes
        n_d = Signal(range(S + 1))
        m.d.comb += n_d.eq(n_e + n_sprev)
        steps = Signal(64)
        cycles = Signal(64)
        counting = Signal()

        # --- Datapaths ---------------------------------------------------------------------
        neurons = []
        for l in range(L):
            m.submodules[f"neuron{l}"] = unit = NeuronUpdate(acc_shape.width,
                                                             self.neuron_latency)
            neurons.append(unit)
        # With dual-port banks the synapse updates are pipelined; the weight writes they
        # produce (requests made in the passes' stage 2) are delayed to match.
        syn_latency = 2 if self.weight_ports == 2 else 0
        synapses = []
        for l in range(L):
            m.submodules[f"synapse{l}"] = unit = SynapseUpdate(syn_latency)
            m.d.comb += [unit.a_plus.eq(a_plus), unit.a_minus.eq(a_minus),
                         unit.w_min.eq(w_min), unit.w_max.eq(w_max),
                         unit.w.eq(ws.rd_data[l]), ws.wr_data[l].eq(unit.w_next)]
            synapses.append(unit)
        wr_req = Signal.like(ws.wr)
        wr_req_en = Signal(L)
        wr_access = delay_line(m, wr_req, syn_latency, "wr_req")
        wr_enables = delay_line(m, wr_req_en, syn_latency, "wr_en")
        wr_busy = Signal()              # a delayed synapse write is still on its way
        m.d.comb += wr_busy.eq(Cat(wr_enables[1:]).any())

        def write_synapses():
            """Drive the weight store's write port from the delayed requests."""
            m.d.comb += [ws.wr.eq(wr_access[-1]), ws.wr_en.eq(wr_enables[-1])]

        # --- Pipeline registers shared by the sweeps (accumulate, rows, columns) -----------
        # Stage 0 reads the lists, stage 1 issues the weight read, stage 2 gets the slice RL
        # clocks later (and the x / y traces, read RL - 1 clocks after stage 1).
        k0 = Signal(range(max(S, N) + 1))   # stage 0: outer index (list entry)
        g0 = Signal(range(max(G, HS) + 1))  # stage 0: inner index (group)
        p1_valid, p1_from_in, p1_last = Signal(), Signal(), Signal()
        p1_g = Signal.like(g0)
        p1_j = Signal(range(S_pad))         # stage 1: source (row passes)
        p1_i = Signal(range(N))             # stage 1: neuron (column passes)
        valid_line = delay_line(m, p1_valid, RL, "p_valid")
        g_line = delay_line(m, p1_g, RL, "p_g")
        j_line = delay_line(m, p1_j, RL, "p_j")
        p2_valid, p2_g, p2_j = valid_line[-1], g_line[-1], j_line[-1]
        p2_last = delay_line(m, p1_last, RL, "p_last")[-1]
        i_line = delay_line(m, p1_i, RL, "p_i")
        p2_i = i_line[-1]
        pipe_busy = Cat(valid_line).any()   # a slice is still on its way through stage 2
        acc = [Signal(acc_shape, name=f"acc{l}") for l in range(L)]
        a_hold = [Signal(acc_shape, name=f"a_hold{l}") for l in range(L)]
        nu_go = Signal()
        nu_g = Signal(range(G))
        neurons_done = Signal()

        latency, delays = neurons[0].latency, neurons[0].delays
        # nu_g_line[k]: the group that entered the neuron pipelines k clocks ago; the last one's
        # results are written back (with its post-traces, decayed alongside).
        nu_out = delay_line(m, nu_go, latency, "nu_valid")[-1]
        nu_g_line = delay_line(m, nu_g, latency, "nu_g")
        nu_out_g = nu_g_line[-1]
        # The memories read for a group as it enters (the rest are read when they are needed,
        # that many clocks later: nothing carries them down the pipelines).
        reads = [(du_rd, 0), (dv_rd, 0), (u_rd, 0), (v_rd, 0),
                 (bias_rd, delays["bias"]), (vth_rd, delays["vth"]), (tref_rd, delays["t_ref"]),
                 (ref_rd, delays["ref"]),
                 (y_rd, latency - 2)]           # then registered, decayed, written back
        early_rds = [rd for rd, delay in reads if delay == 0]
        late_rds = [(rd, delay) for rd, delay in reads if delay > 0]
        y_next = []
        for l in range(L):
            y_in = register(m, y_rd.data[l].trace, f"y_in{l}")
            y_next.append(register(m, (y_in * y_decay) >> spec.TRACE_DECAY_SHIFT,
                                   f"y_decayed{l}", trace))

        def list_entry(from_in):
            """Source index read from the delivered lists (valid the clock after the read)."""
            return Mux(from_in, dl_rd.data, n_in + slp_rd.data)

        def read_lists(k):
            m.d.comb += [dl_rd.addr.eq(k), slp_rd.addr.eq(Cat((k - n_e)[:nb], ~parity))]

        # --- Concurrent engines: pre-traces, spike list, spike output, post-trace jumps -----
        xt_run, xt_h, xt_v, xt_h1 = Signal(), Signal(range(HS + 1)), Signal(), Signal(range(HS))
        xt_v2, xt_h2, xt_v3, xt_h3 = Signal(), Signal(range(HS)), Signal(), Signal(range(HS))
        xt_x = [Signal(trace, name=f"xt_x{l}") for l in range(L)]
        xt_decayed = [Signal(trace, name=f"xt_decayed{l}") for l in range(L)]
        bl_run, bl_done, bl_g = Signal(), Signal(), Signal(range(G + 1))
        bl_mask = Signal(L)
        bl_pre = Signal(init=1)             # no group loaded yet: the next advance loads bl_g
        em_run, em_done, em_e = Signal(), Signal(), Signal(range(N + 1))
        em_primed = Signal()
        yi_run, yi_done, yi_g, yi_v = Signal(), Signal(), Signal(range(G + 1)), Signal()
        yi_g1 = Signal(range(G))

        with m.If(xt_run):
            # Step 2 for x: decay every source's pre-trace (and clear its delivered flag); the
            # delivered ones jump during ACC's last group. Pipeline: read; register the read
            # (the block RAM's output, off the multiplier's path); decay; write.
            with m.If(xt_h < HS):
                m.d.comb += x_rd.addr.eq(xt_h)
                m.d.sync += [xt_h.eq(xt_h + 1), xt_h1.eq(xt_h)]
            m.d.sync += [xt_v.eq(xt_h < HS), xt_v2.eq(xt_v), xt_v3.eq(xt_v2),
                         xt_h2.eq(xt_h1), xt_h3.eq(xt_h2)]
            m.d.sync += [x.eq(x_rd.data[l].trace) for l, x in enumerate(xt_x)]
            m.d.sync += [decayed.eq((xt_x[l] * x_decay) >> spec.TRACE_DECAY_SHIFT)
                         for l, decayed in enumerate(xt_decayed)]
            with m.If(xt_v3):
                m.d.comb += [x_wr.data[l].trace.eq(decayed)
                             for l, decayed in enumerate(xt_decayed)]
                m.d.comb += [x_wr.addr.eq(xt_h3), x_wr.en.eq(all_lanes)]
            with m.If((xt_h == HS) & ~xt_v & ~xt_v2 & ~xt_v3):
                m.d.sync += xt_run.eq(0)

        # This step's spikes, in increasing order, into sl_mem[parity]: bl_mask holds the
        # spikes of group bl_g not yet listed. s_mem is read ahead: its address is the group
        # that the next advance loads.
        advance = Signal()
        m.d.comb += s_rd.addr.eq(Mux(bl_pre, bl_g, bl_g + 1) + advance)
        with m.If(bl_run):
            low = _lowest_set(m, bl_mask, L)
            with m.If(bl_mask != 0):
                m.d.comb += [sl_wr.addr.eq(Cat(n_s[:nb], parity)),
                             sl_wr.data.eq(Cat(low[:lb], bl_g) if lb else bl_g), sl_wr.en.eq(1)]
                m.d.sync += [n_s.eq(n_s + 1), bl_mask.eq(bl_mask & (bl_mask - 1))]
                m.d.comb += advance.eq((bl_mask & (bl_mask - 1)) == 0)
            with m.Else():
                m.d.comb += advance.eq(1)
            with m.If(advance):
                m.d.sync += [bl_mask.eq(s_rd.data), bl_pre.eq(0)]
                with m.If(~bl_pre):
                    m.d.sync += bl_g.eq(bl_g + 1)
                    with m.If(bl_g == G - 1):
                        m.d.sync += [bl_run.eq(0), bl_done.eq(1)]

        with m.FSM(name="emit"):
            with m.State("IDLE"):
                m.d.sync += em_primed.eq(0)
                with m.If(em_run):
                    m.next = "SEND"
            with m.State("SEND"):
                # One spike a clock: the list entry for the next clock is read as this one is
                # taken; an entry is read only once the builder has written it.
                take = self.spike_out.valid & self.spike_out.ready
                addr = Signal.like(em_e)
                m.d.comb += [addr.eq(Mux(take, em_e + 1, em_e)),
                             sle_rd.addr.eq(Cat(addr[:nb], parity)),
                             self.spike_out.valid.eq(em_primed),
                             self.spike_out.payload.index.eq(sle_rd.data)]
                m.d.sync += [em_e.eq(addr), em_primed.eq(addr < n_s)]
                with m.If(~em_primed & bl_done & (em_e == n_s)):
                    m.next = "END"
            with m.State("END"):
                m.d.comb += [self.spike_out.valid.eq(1), self.spike_out.payload.end.eq(1)]
                with m.If(self.spike_out.ready):
                    m.d.sync += [em_run.eq(0), em_done.eq(1)]
                    m.next = "IDLE"

        with m.If(yi_run):
            # Step 6: post-traces of spiking neurons jump (after the row updates read them).
            with m.If(yi_g < G):
                m.d.comb += y_rd.addr.eq(yi_g)
                m.d.sync += [yi_g.eq(yi_g + 1), yi_g1.eq(yi_g)]
            m.d.sync += yi_v.eq(yi_g < G)
            with m.If(yi_v):
                for l in range(L):
                    m.d.comb += [y_wr.data[l].trace.eq(sat8u(y_rd.data[l].trace + y_imp)),
                                 y_wr.data[l].spiked.eq(1)]
                m.d.comb += [y_wr.addr.eq(yi_g1),
                             y_wr.en.eq(Cat(y_rd.data[l].spiked for l in range(L)))]
            with m.If((yi_g == G) & ~yi_v):
                m.d.sync += [yi_run.eq(0), yi_done.eq(1)]

        # --- Control access decoding ---------------------------------------------------------
        # With register_commands a command is taken and copied as it arrives; without, it stays
        # on ctl_cmd until it has been executed, and is taken then.
        if self.register_commands:
            cmd = Signal.like(self.ctl_cmd.payload)
            take_at_start, take_at_end = Const(1), Const(0)
        else:
            cmd = self.ctl_cmd.payload
            take_at_start, take_at_end = Const(0), Const(1)
        rsp = Signal(spec.DATA_BITS)
        c_addr = cmd.addr
        c_i, c_field = c_addr[:nb], c_addr[nb:]
        c_j = c_addr[nb:]
        c_index, c_sfield = c_addr[:sb], c_addr[sb:]
        c_lane = c_i[:lb] if lb else Const(0, 1)
        c_group = c_i[lb:]
        c_xlane = c_index[:lb] if lb else Const(0, 1)
        c_xgroup = c_index[lb:]
        weight_ok = (c_i < N) & (c_j < S)
        reset_i = Signal(range(max(G, HS, n_in) + 1))
        ctl_wait = Signal(range(RL))
        src_mask = c_addr < S                                   # MASK: a source's bit
        dst_mask = (c_addr[sb:] == 1) & (c_index < N)           # MASK: a neuron's bit

        # --- The step engine -----------------------------------------------------------------
        in_valid = Signal()                 # a registered input beat (not the end) to store
        in_index = Signal.like(self.step_in.payload.index)

        def store_input():
            # in_mem was read at this index the clock before, transparently: a flag stored in
            # that clock (the previous beat's) is seen.
            with m.If(in_valid & (in_index < n_in) & ~in_rd.data):
                m.d.comb += [dl_wr.addr.eq(n_e), dl_wr.data.eq(in_index), dl_wr.en.eq(1),
                             in_wr.addr.eq(in_index), in_wr.data.eq(1), in_wr.en.eq(1)]
                m.d.sync += n_e.eq(n_e + 1)

        with m.FSM(name="step"):
            with m.State("IDLE"):
                with m.If(self.step_in.valid):
                    m.next = "RECV"
                with m.Elif(self.ctl_cmd.valid):
                    m.d.comb += self.ctl_cmd.ready.eq(take_at_start)
                    if self.register_commands:
                        m.d.sync += cmd.eq(self.ctl_cmd.payload)
                    m.next = "CTL"

            # Step 1: this step's external inputs (duplicates and indices >= n_inputs ignored).
            # Each beat is registered, then stored the next clock (off the link's paths): the
            # clock that takes the end beat stores the last index.
            with m.State("RECV"):
                m.d.comb += [self.step_in.ready.eq(1), in_rd.addr.eq(self.step_in.payload.index)]
                m.d.comb += counting.eq(self.step_in.valid)
                m.d.sync += [in_valid.eq(self.step_in.valid & ~self.step_in.payload.end),
                             in_index.eq(self.step_in.payload.index)]
                store_input()
                with m.If(self.step_in.valid & self.step_in.payload.end):
                    m.next = "RECV_END"

            with m.State("RECV_END"):
                m.d.comb += counting.eq(1)
                m.d.sync += [k0.eq(0), g0.eq(0), p1_valid.eq(0),
                             nu_go.eq(0), neurons_done.eq(0),
                             xt_run.eq(1), xt_h.eq(0), xt_v.eq(0), xt_v2.eq(0), xt_v3.eq(0),
                             bl_done.eq(0), em_done.eq(0), em_e.eq(0),
                             yi_done.eq(0), yi_g.eq(0), yi_v.eq(0), n_s.eq(0),
                             bl_g.eq(0), bl_pre.eq(1), bl_mask.eq(0), half.eq(0)]
                m.d.sync += [a.eq(0) for a in acc]
                m.next = "ACC"

            # Steps 3 and 4: for each neuron group g, sum W[j, g·L + l] over the delivered j
            # (max(n_d, 1) items, a dummy one when nothing is delivered), then update the
            # group's neurons. Pipeline: 0 list read, 1 weight read, 2 add, 3 neuron update.
            # On the way the input flags are cleared (group 0) and the delivered sources'
            # pre-traces jump (the last group, once the decay pass is done).
            with m.State("ACC"):
                m.d.comb += counting.eq(1)
                last_k = Mux(n_d == 0, 0, n_d - 1)
                issuing = (g0 < G) & ~((g0 == G - 1) & xt_run)
                read_lists(k0)
                with m.If(issuing):
                    with m.If(k0 == last_k):
                        m.d.sync += [k0.eq(0), g0.eq(g0 + 1)]
                    with m.Else():
                        m.d.sync += k0.eq(k0 + 1)
                m.d.sync += [p1_valid.eq(issuing), p1_g.eq(g0), p1_from_in.eq(k0 < n_e),
                             p1_last.eq(k0 == last_k)]
                # Stage 1.
                m.d.comb += [p1_j.eq(list_entry(p1_from_in)),
                             ws.rd.col.eq(0), ws.rd.j.eq(p1_j), ws.rd.i.eq(p1_g << lb)]
                m.d.comb += [in_wr.addr.eq(p1_j), in_wr.data.eq(0),
                             in_wr.en.eq(p1_valid & p1_from_in & (p1_g == 0))]
                with m.If(~xt_run):
                    m.d.comb += x_rd.addr.eq(j_line[RL - 1] >> lb)
                # Stage 2.
                m.d.sync += nu_go.eq(p2_valid & p2_last)
                with m.If(p2_valid & (p2_g == G - 1) & (n_d != 0)):
                    jumped = sat8u(lane(x_rd.data, p2_j).trace + x_imp)
                    m.d.comb += [x_wr.addr.eq(p2_j >> lb),
                                 x_wr.en.eq(Const(1, L) << (p2_j[:lb] if lb else 0))]
                    for l in range(L):
                        m.d.comb += [x_wr.data[l].trace.eq(jumped), x_wr.data[l].hit.eq(1)]
                with m.If(p2_valid):
                    for l in range(L):
                        total = acc[l] + Mux(n_d == 0, 0, ws.rd_data[l])
                        with m.If(p2_last):
                            m.d.sync += [a_hold[l].eq(total), acc[l].eq(0)]
                        with m.Else():
                            m.d.sync += acc[l].eq(total)
                    with m.If(p2_last):
                        for rd in early_rds:
                            m.d.comb += rd.addr.eq(p2_g)
                        m.d.sync += nu_g.eq(p2_g)
                for rd, delay in late_rds:
                    m.d.comb += rd.addr.eq(nu_g_line[delay - 1])
                # Stage 3: the group's neurons enter their pipelines (and their post-traces
                # decay, step 2); `latency` clocks later the results are written back.
                for l, unit in enumerate(neurons):
                    m.d.comb += [
                        unit.u.eq(u_rd.data[l]), unit.v.eq(v_rd.data[l]),
                        unit.ref.eq(ref_rd.data[l]), unit.a.eq(a_hold[l]),
                        unit.vth.eq(vth_rd.data[l]), unit.bias.eq(bias_rd.data[l]),
                        unit.du.eq(du_rd.data[l]), unit.dv.eq(dv_rd.data[l]),
                        unit.t_ref.eq(tref_rd.data[l]), unit.w_exp.eq(w_exp),
                        u_wr.data[l].eq(unit.u_next), v_wr.data[l].eq(unit.v_next),
                        ref_wr.data[l].eq(unit.ref_next), y_wr.data[l].trace.eq(y_next[l]),
                        y_wr.data[l].spiked.eq(unit.spike),
                    ]
                m.d.comb += [s_wr.data.eq(Cat(u.spike for u in neurons)), s_wr.addr.eq(nu_out_g)]
                with m.If(nu_out):
                    for wr in state_wrs:
                        m.d.comb += [wr.addr.eq(nu_out_g), wr.en.eq(all_lanes)]
                    m.d.comb += s_wr.en.eq(1)
                    with m.If(nu_out_g == G - 1):
                        m.d.sync += neurons_done.eq(1)
                with m.If(neurons_done & ~xt_run):
                    m.d.sync += [bl_run.eq(1), em_run.eq(1), k0.eq(0), g0.eq(0)]
                    with m.If(enabled & (n_d != 0)):
                        m.next = "ROW"
                    with m.Elif(enabled):
                        m.d.sync += yi_run.eq(1)
                        m.next = "COL_WAIT"
                    with m.Else():
                        m.d.sync += yi_run.eq(1)
                        m.next = "FINISH"

            # Step 5, rows of delivered sources: every plastic (j, i) gets the combined
            # change, LTP included where i spiked. Pipeline: 0 list read, 1 weight / trace
            # read, 2 update (and write, or with dual-port banks two more clocks of update
            # before the write).
            with m.State("ROW"):
                m.d.comb += counting.eq(1)
                issuing = (k0 < n_d) & issue_ok
                m.d.sync += half.eq(~half)
                read_lists(k0)
                with m.If(issuing):
                    with m.If(g0 == G - 1):
                        m.d.sync += [g0.eq(0), k0.eq(k0 + 1)]
                    with m.Else():
                        m.d.sync += g0.eq(g0 + 1)
                m.d.sync += [p1_valid.eq(issuing), p1_g.eq(g0), p1_from_in.eq(k0 < n_e)]
                m.d.comb += [p1_j.eq(list_entry(p1_from_in)),
                             ws.rd.col.eq(0), ws.rd.j.eq(p1_j), ws.rd.i.eq(p1_g << lb),
                             x_rd.addr.eq(j_line[RL - 1] >> lb), y_rd.addr.eq(g_line[RL - 1]),
                             psrc_rd.addr.eq(x_rd.addr), pdst_rd.addr.eq(y_rd.addr)]
                x_j = lane(x_rd.data, p2_j)
                src = lane(psrc_rd.data, p2_j)
                for l, unit in enumerate(synapses):
                    m.d.comb += [unit.x.eq(x_j.trace), unit.y.eq(y_rd.data[l].trace),
                                 unit.pre.eq(1), unit.post.eq(y_rd.data[l].spiked),
                                 wr_req_en[l].eq(p2_valid & src & pdst_rd.data[l])]
                m.d.comb += [wr_req.col.eq(0), wr_req.j.eq(p2_j), wr_req.i.eq(p2_g << lb)]
                write_synapses()
                with m.If((k0 == n_d) & ~pipe_busy & ~wr_busy):
                    m.d.sync += [yi_run.eq(1), k0.eq(0), g0.eq(0), half.eq(0)]
                    m.next = "COL_WAIT"

            with m.State("COL_WAIT"):
                m.d.comb += counting.eq(1)
                with m.If(bl_done):
                    m.next = "COL"

            # Step 5, columns of spiking neurons: every plastic (j, i) whose j was not
            # delivered (those were done with their rows) gets LTP.
            with m.State("COL"):
                m.d.comb += counting.eq(1)
                issuing = (k0 < n_s) & issue_ok
                m.d.sync += half.eq(~half)
                m.d.comb += slc_rd.addr.eq(Cat(k0[:nb], parity))
                with m.If(issuing):
                    with m.If(g0 == HS - 1):
                        m.d.sync += [g0.eq(0), k0.eq(k0 + 1)]
                    with m.Else():
                        m.d.sync += g0.eq(g0 + 1)
                m.d.sync += [p1_valid.eq(issuing), p1_g.eq(g0)]
                m.d.comb += [p1_i.eq(slc_rd.data),
                             ws.rd.col.eq(1), ws.rd.j.eq(p1_g << lb), ws.rd.i.eq(p1_i),
                             x_rd.addr.eq(g_line[RL - 1]), psrc_rd.addr.eq(x_rd.addr),
                             pdst_rd.addr.eq(i_line[RL - 1] >> lb)]
                dst = lane(pdst_rd.data, p2_i)
                for l, unit in enumerate(synapses):
                    m.d.comb += [unit.x.eq(x_rd.data[l].trace), unit.y.eq(0), unit.pre.eq(0),
                                 unit.post.eq(1),
                                 wr_req_en[l].eq(p2_valid & dst & psrc_rd.data[l]
                                                 & ~x_rd.data[l].hit)]
                m.d.comb += [wr_req.col.eq(1), wr_req.j.eq(p2_g << lb), wr_req.i.eq(p2_i)]
                write_synapses()
                with m.If((k0 == n_s) & ~pipe_busy & ~wr_busy):
                    m.next = "FINISH"

            with m.State("FINISH"):
                # Wait for the post-traces and the spike output; a stalled output is the
                # receiver's time, not the core's.
                m.d.comb += counting.eq(~(yi_done & self.spike_out.valid
                                          & ~self.spike_out.ready))
                with m.If(yi_done & em_done):
                    m.d.sync += [n_sprev.eq(n_s), parity.eq(~parity), n_e.eq(0),
                                 steps.eq(steps + 1)]
                    m.next = "IDLE"

            # --- Control accesses ---------------------------------------------------------
            with m.State("CTL"):
                # RL clocks with the addresses held: the weight store's read arrives.
                # Repeating a write is harmless.
                m.d.sync += [rsp.eq(0), ctl_wait.eq(ctl_wait + 1)]
                with m.If(ctl_wait == RL - 1):
                    m.d.sync += ctl_wait.eq(0)
                    m.next = "CTL_READ"
                with m.Switch(cmd.space):
                    with m.Case(Space.WEIGHT):
                        m.d.comb += [ws.rd.col.eq(0), ws.rd.j.eq(c_j), ws.rd.i.eq(c_group << lb),
                                     ws.wr.col.eq(0), ws.wr.j.eq(c_j), ws.wr.i.eq(c_group << lb)]
                        for l in range(L):
                            m.d.comb += ws.wr_en[l].eq(cmd.write & weight_ok & (c_lane == l))
                        m.d.comb += [ws.wr_data[l].eq(cmd.data[:spec.WEIGHT_BITS])
                                     for l in range(L)]
                    with m.Case(Space.NEURON):
                        for field, (rd, wr) in params.items():
                            m.d.comb += [rd.addr.eq(c_group), wr.addr.eq(c_group)]
                            m.d.comb += [wr.data[l].eq(cmd.data) for l in range(L)]
                            with m.If(cmd.write & (c_i < N) & (c_field == field.value)):
                                m.d.comb += wr.en.eq(1 << c_lane)
                    with m.Case(Space.SETTING):
                        for setting, reg in settings.items():
                            with m.If(cmd.write & (c_addr == setting.value)):
                                m.d.sync += reg.eq(cmd.data)
                    with m.Case(Space.MASK):
                        for (rd, wr), ok in (((psrc_rd, psrc_wr), src_mask),
                                             ((pdst_rd, pdst_wr), dst_mask)):
                            m.d.comb += [rd.addr.eq(c_xgroup), wr.addr.eq(c_xgroup)]
                            m.d.comb += [wr.data[l].eq(cmd.data[0]) for l in range(L)]
                            with m.If(cmd.write & ok):
                                m.d.comb += wr.en.eq(1 << c_xlane)
                    with m.Case(Space.STATE):
                        for rd in (u_rd, v_rd, ref_rd, y_rd):
                            m.d.comb += rd.addr.eq(c_xgroup)
                        m.d.comb += x_rd.addr.eq(c_xgroup)
                    with m.Case(Space.CONTROL):
                        with m.If(cmd.write & (c_addr == Control.RESET.value)):
                            m.d.sync += [reset_i.eq(0), n_sprev.eq(0), ctl_wait.eq(0)]
                            m.next = "RESET"
                        with m.If(cmd.write & (c_addr == Control.CLEAR_COUNTERS.value)):
                            m.d.sync += [steps.eq(0), cycles.eq(0)]
            with m.State("CTL_READ"):
                with m.If(~cmd.write):
                    with m.Switch(cmd.space):
                        with m.Case(Space.WEIGHT):
                            with m.If(weight_ok):
                                m.d.sync += rsp.eq(lane(ws.rd_data, c_lane))
                        with m.Case(Space.NEURON):
                            for field, (rd, _) in params.items():
                                with m.If((c_i < N) & (c_field == field.value)):
                                    m.d.sync += rsp.eq(lane(rd.data, c_lane))
                        with m.Case(Space.SETTING):
                            for setting, reg in settings.items():
                                with m.If(c_addr == setting.value):
                                    m.d.sync += rsp.eq(reg)
                        with m.Case(Space.MASK):
                            with m.If(dst_mask):
                                m.d.sync += rsp.eq(lane(pdst_rd.data, c_xlane))
                            with m.Elif(src_mask):
                                m.d.sync += rsp.eq(lane(psrc_rd.data, c_xlane))
                        with m.Case(Space.STATE):
                            ok_n = c_index < N
                            y = lane(y_rd.data, c_xlane)
                            for field, value in ((StateField.U, lane(u_rd.data, c_xlane)),
                                                 (StateField.V, lane(v_rd.data, c_xlane)),
                                                 (StateField.REF, lane(ref_rd.data, c_xlane)),
                                                 (StateField.Y, y.trace),
                                                 (StateField.SPIKED, y.spiked)):
                                with m.If(ok_n & (c_sfield == field.value)):
                                    m.d.sync += rsp.eq(value)
                            with m.If((c_index < S) & (c_sfield == StateField.X.value)):
                                m.d.sync += rsp.eq(lane(x_rd.data, c_xlane).trace)
                        with m.Case(Space.COUNTER):
                            for counter, value in {Counter.STEPS_LO: steps[:32],
                                                   Counter.STEPS_HI: steps[32:],
                                                   Counter.CYCLES_LO: cycles[:32],
                                                   Counter.CYCLES_HI: cycles[32:]}.items():
                                with m.If(c_addr == counter.value):
                                    m.d.sync += rsp.eq(value)
                m.d.comb += self.ctl_cmd.ready.eq(take_at_end)
                m.next = "CTL_RSP"
            with m.State("CTL_RSP"):
                m.d.comb += [self.ctl_rsp.valid.eq(1), self.ctl_rsp.payload.eq(rsp)]
                with m.If(self.ctl_rsp.ready):
                    m.next = "IDLE"
            with m.State("RESET"):
                # u, v, ref, y, x to zero, a group a clock.
                for wr in state_wrs:
                    m.d.comb += [wr.addr.eq(reset_i), wr.en.eq(Mux(reset_i < G, all_lanes, 0))]
                    m.d.comb += [wr.data[l].eq(0) for l in range(L)]
                m.d.comb += [x_wr.addr.eq(reset_i), x_wr.en.eq(Mux(reset_i < HS, all_lanes, 0))]
                m.d.comb += [x_wr.data[l].eq(0) for l in range(L)]
                # The input flags too: they are all clear between steps unless a reset of the
                # whole device cut a step short (memories keep their contents through it).
                m.d.comb += [in_wr.addr.eq(reset_i), in_wr.data.eq(0), in_wr.en.eq(reset_i < n_in)]
                m.d.sync += reset_i.eq(reset_i + 1)
                with m.If(reset_i == max(G, HS, n_in) - 1):
                    m.d.comb += self.ctl_cmd.ready.eq(take_at_end)
                    m.next = "CTL_RSP"

        with m.If(counting):
            m.d.sync += cycles.eq(cycles + 1)
        return m
