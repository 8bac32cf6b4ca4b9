"""The spikecore core: an all-to-all LIF network with current-based synapses and on-chip STDP.

It implements docs/model.md bit-exactly; ``spikecore.hw.interface.CoreSignature`` is its
interface and ``spikecore.spec.Space`` its control address map.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory

from .. import spec
from ..spec import (Control, Counter, NeuronField, Setting, Space, StateField, neuron_bits,
                    src_bits)
from .interface import CoreSignature

__all__ = ["Core"]


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive integer, not {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value}")


def _sat(m, value, low, high):
    """Return *value* clipped to [*low*, *high*] (Amaranth values or constants)."""
    return Mux(value < low, low, Mux(value > high, high, value))


def _trunc0(value, k):
    """Return ``sign(value) * (|value| >> k)`` for a signed Amaranth value."""
    return Mux(value < 0, -((-value) >> k), value >> k)


class Core(wiring.Component):
    """Compute steps of an all-to-all LIF network with on-chip STDP, as docs/model.md says.

    The step engine is event-driven: per step it reads only the weight rows of delivered
    sources, updates every neuron once, then applies STDP to the rows of delivered sources
    and the columns of spiking neurons (each plastic synapse touched once). Configuration and
    state are reached through ``ctl_cmd``/``ctl_rsp`` (address map: ``spikecore.spec.Space``).

    Parameters
    ----------
    n_inputs : int
        Number of input axons (>= 1).
    n_neurons : int
        Number of neurons (>= 1).
    lanes : int
        Synapse operations per clock the core is built for: 1 or a power of two no larger
        than ``n_neurons``. (This version processes one synapse per clock whatever *lanes*
        is; the parameter fixes the interface for the banked datapath.)

    Members
    -------
    ctl_cmd, ctl_rsp, step_in, spike_out
        See ``spikecore.hw.interface.CoreSignature``.
    """

    def __init__(self, n_inputs, n_neurons, lanes=1):
        _check_positive("n_inputs", n_inputs)
        _check_positive("n_neurons", n_neurons)
        _check_positive("lanes", lanes)
        if lanes & (lanes - 1):
            raise ValueError(f"lanes must be 1 or a power of two, not {lanes}")
        if lanes > n_neurons:
            raise ValueError(f"lanes must be at most n_neurons ({n_neurons}), not {lanes}")
        self.n_inputs = n_inputs
        self.n_neurons = n_neurons
        self.n_sources = n_inputs + n_neurons
        self.lanes = lanes
        super().__init__(CoreSignature(n_inputs, n_neurons))

    def elaborate(self, platform):
        m = Module()
        n_in, n, n_src = self.n_inputs, self.n_neurons, self.n_sources
        nb, sb = neuron_bits(n), src_bits(n_in, n)
        acc_shape = signed(spec.WEIGHT_BITS + sb + 1)
        state = signed(spec.STATE_BITS)
        decay_shape = unsigned(spec.DECAY_SHIFT + 1)

        def memory(name, shape, depth):
            mem = Memory(shape=shape, depth=depth, init=[])
            m.submodules[name] = mem
            return mem, mem.read_port(), mem.write_port()

        # Memories: weights (j << nb | i), per-neuron parameters and state, traces, the list of
        # this step's delivered sources.
        w_mem, w_rd, w_wr = memory("w_mem", signed(spec.WEIGHT_BITS), n_src << nb)
        vth_mem, vth_rd, vth_wr = memory("vth_mem", state, n)
        bias_mem, bias_rd, bias_wr = memory("bias_mem", state, n)
        du_mem, du_rd, du_wr = memory("du_mem", decay_shape, n)
        dv_mem, dv_rd, dv_wr = memory("dv_mem", decay_shape, n)
        tref_mem, tref_rd, tref_wr = memory("tref_mem", unsigned(spec.REF_BITS), n)
        u_mem, u_rd, u_wr = memory("u_mem", state, n)
        v_mem, v_rd, v_wr = memory("v_mem", state, n)
        ref_mem, ref_rd, ref_wr = memory("ref_mem", unsigned(spec.REF_BITS), n)
        y_mem, y_rd, y_wr = memory("y_mem", unsigned(spec.TRACE_BITS), n)
        x_mem, x_rd, x_wr = memory("x_mem", unsigned(spec.TRACE_BITS), n_src)
        dl_mem, dl_rd, dl_wr = memory("dl_mem", unsigned(sb), n_src)

        # Settings.
        w_exp = Signal(range(spec.W_EXP_MAX + 1))
        enabled = Signal()
        a_plus = Signal(spec.TRACE_BITS)
        a_minus = Signal(spec.TRACE_BITS)
        x_imp = Signal(spec.TRACE_BITS)
        y_imp = Signal(spec.TRACE_BITS)
        x_decay = Signal(range(spec.TRACE_DECAY_ONE + 1))
        y_decay = Signal(range(spec.TRACE_DECAY_ONE + 1))
        w_min = Signal(signed(spec.WEIGHT_BITS))
        w_max = Signal(signed(spec.WEIGHT_BITS))
        settings = {Setting.W_EXP: w_exp, Setting.ENABLED: enabled, Setting.A_PLUS: a_plus,
                    Setting.A_MINUS: a_minus, Setting.X_IMP: x_imp, Setting.Y_IMP: y_imp,
                    Setting.X_DECAY: x_decay, Setting.Y_DECAY: y_decay,
                    Setting.W_MIN: w_min, Setting.W_MAX: w_max}
        plastic_src = Signal(n_src)
        plastic_dst = Signal(n)

        # Step state.
        s_prev = Signal(n)          # last step's spikes
        s = Signal(n)               # this step's spikes
        in_d = Signal(n_src)        # delivered this step
        d_count = Signal(range(n_src + 1))
        steps = Signal(64)
        cycles = Signal(64)

        # Loop indices and latches.
        i = Signal(range(max(n, n_src) + 1))
        j = Signal(range(n_src + 1))
        k = Signal(range(n_src + 1))
        v1 = Signal()
        v2 = Signal()
        a = Signal(acc_shape)
        jr = Signal(sb)
        p1 = Signal()                               # write stage of ROW_D / COL_A valid
        i1 = Signal(range(max(n, n_src) + 1))       # its index
        ltp = Signal(spec.TRACE_BITS)

        cmd = Signal.like(self.ctl_cmd.payload)
        rsp = Signal(spec.DATA_BITS)

        def learn(w, plus, minus):
            return _sat(m, w.as_signed() + plus - minus, w_min, w_max)

        # Neuron datapath (docs/model.md step 4), combinational on the memories' outputs.
        u_new = Signal(state)
        v_new = Signal(state)
        spike = Signal()
        ref_new = Signal(spec.REF_BITS)
        u_wide = Signal(signed(48))
        v_wide = Signal(signed(48))
        v_int = Signal(state)
        m.d.comb += [
            u_wide.eq(_trunc0(u_rd.data * (spec.DECAY_ONE - du_rd.data), spec.DECAY_SHIFT)
                      + (a << w_exp)),
            u_new.eq(_sat(m, u_wide, spec.STATE_MIN, spec.STATE_MAX)),
            v_wide.eq(_trunc0(v_rd.data * (spec.DECAY_ONE - dv_rd.data), spec.DECAY_SHIFT)
                      + u_new + bias_rd.data),
            v_int.eq(_sat(m, v_wide, spec.STATE_MIN, spec.STATE_MAX)),
        ]
        with m.If(ref_rd.data != 0):
            m.d.comb += [ref_new.eq(ref_rd.data - 1), v_new.eq(0), spike.eq(0)]
        with m.Else():
            m.d.comb += spike.eq(v_int > vth_rd.data)
            m.d.comb += [ref_new.eq(Mux(spike, tref_rd.data, 0)),
                         v_new.eq(Mux(spike, 0, v_int))]

        # Control address decoding.
        c_addr = cmd.addr
        c_neuron = c_addr[:nb]
        c_field = c_addr[nb:]
        c_index = c_addr[:sb]
        c_sfield = c_addr[sb:]

        def in_range(value, limit):
            return value < limit

        in_busy = Signal()
        m.d.comb += in_busy.eq(1)

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += in_busy.eq(0)
                with m.If(self.step_in.valid):
                    m.next = "RECV"
                with m.Elif(self.ctl_cmd.valid):
                    m.d.comb += self.ctl_cmd.ready.eq(1)
                    m.d.sync += cmd.eq(self.ctl_cmd.payload)
                    m.next = "CTL"

            # --- A step ---------------------------------------------------------------------
            with m.State("RECV"):
                m.d.comb += in_busy.eq(0)
                m.d.comb += self.step_in.ready.eq(1)
                idx = self.step_in.payload.index
                with m.If(self.step_in.valid):
                    with m.If(self.step_in.payload.end):
                        m.d.sync += [i.eq(0), in_d[n_in:].eq(s_prev)]
                        m.next = "ADD_REC"
                    with m.Elif((idx < n_in) & ~in_d.bit_select(idx, 1)):
                        m.d.comb += [dl_wr.addr.eq(d_count), dl_wr.data.eq(idx), dl_wr.en.eq(1)]
                        m.d.sync += [d_count.eq(d_count + 1), in_d.bit_select(idx, 1).eq(1)]

            with m.State("ADD_REC"):
                with m.If(s_prev.bit_select(i, 1)):
                    m.d.comb += [dl_wr.addr.eq(d_count), dl_wr.data.eq(n_in + i),
                                 dl_wr.en.eq(1)]
                    m.d.sync += d_count.eq(d_count + 1)
                m.d.sync += i.eq(i + 1)
                with m.If(i == n - 1):
                    m.d.sync += j.eq(0)
                    m.next = "XTR_A"

            # Step 2, pre-traces.
            with m.State("XTR_A"):
                m.d.comb += x_rd.addr.eq(j)
                m.next = "XTR_B"
            with m.State("XTR_B"):
                xd = (x_rd.data * x_decay) >> spec.TRACE_DECAY_SHIFT
                m.d.comb += [x_wr.addr.eq(j), x_wr.en.eq(1),
                             x_wr.data.eq(Mux(in_d.bit_select(j, 1),
                                              _sat(m, xd + x_imp, 0, spec.TRACE_MAX), xd))]
                m.d.sync += j.eq(j + 1)
                with m.If(j == n_src - 1):
                    m.d.sync += [i.eq(0), k.eq(0), v1.eq(0), v2.eq(0), a.eq(0), s.eq(0)]
                    m.next = "ACC"
                with m.Else():
                    m.next = "XTR_A"

            # Step 3: a[i] = sum of W[j, i] over delivered j (pipelined: list, weight, add).
            with m.State("ACC"):
                m.d.comb += [dl_rd.addr.eq(k), w_rd.addr.eq(Cat(i[:nb], dl_rd.data))]
                m.d.sync += [v1.eq(k < d_count), v2.eq(v1)]
                with m.If(k < d_count):
                    m.d.sync += k.eq(k + 1)
                with m.If(v2):
                    m.d.sync += a.eq(a + w_rd.data)
                with m.If((k >= d_count) & ~v1 & ~v2):
                    m.next = "NEU_A"

            # Step 4, neuron i; the post-trace decays here too (step 2).
            with m.State("NEU_A"):
                for port in (vth_rd, bias_rd, du_rd, dv_rd, tref_rd, u_rd, v_rd, ref_rd, y_rd):
                    m.d.comb += port.addr.eq(i)
                m.next = "NEU_B"
            with m.State("NEU_B"):
                for port, value in ((u_wr, u_new), (v_wr, v_new), (ref_wr, ref_new),
                                    (y_wr, (y_rd.data * y_decay) >> spec.TRACE_DECAY_SHIFT)):
                    m.d.comb += [port.addr.eq(i), port.data.eq(value), port.en.eq(1)]
                m.d.sync += [s.bit_select(i, 1).eq(spike), i.eq(i + 1),
                             k.eq(0), v1.eq(0), v2.eq(0), a.eq(0)]
                with m.If(i == n - 1):
                    m.d.sync += k.eq(0)
                    m.next = "LEARN"
                with m.Else():
                    m.next = "ACC"

            # Step 5: rows of delivered sources, then columns of spiking neurons.
            with m.State("LEARN"):
                m.d.sync += [k.eq(0), i.eq(0)]
                with m.If(enabled & (d_count != 0)):
                    m.next = "ROW_A"
                with m.Elif(enabled):
                    m.next = "COL_START"
                with m.Else():
                    m.next = "YIMP_A"
            with m.State("ROW_A"):
                m.d.comb += dl_rd.addr.eq(k)
                m.next = "ROW_B"
            with m.State("ROW_B"):
                m.d.comb += x_rd.addr.eq(dl_rd.data)
                m.d.sync += [jr.eq(dl_rd.data), i.eq(0), p1.eq(0)]
                m.next = "ROW_C"
            with m.State("ROW_C"):
                m.d.sync += ltp.eq((x_rd.data * a_plus) >> spec.LEARN_SHIFT)
                with m.If(plastic_src.bit_select(jr, 1)):
                    m.next = "ROW_D"
                with m.Else():
                    m.next = "ROW_NEXT"
            with m.State("ROW_D"):
                # Pipelined read-modify-write, one synapse per clock: read (jr, i), write
                # (jr, i1) the clock after; each synapse of the row is touched once.
                with m.If(i < n):
                    m.d.comb += [w_rd.addr.eq(Cat(i[:nb], jr)), y_rd.addr.eq(i)]
                    m.d.sync += i.eq(i + 1)
                m.d.sync += [p1.eq(i < n), i1.eq(i)]
                plus = Mux(s.bit_select(i1, 1), ltp, 0)
                minus = (y_rd.data * a_minus) >> spec.LEARN_SHIFT
                m.d.comb += [w_wr.addr.eq(Cat(i1[:nb], jr)),
                             w_wr.data.eq(learn(w_rd.data, plus, minus)),
                             w_wr.en.eq(p1 & plastic_dst.bit_select(i1, 1))]
                with m.If((i >= n) & ~p1):
                    m.next = "ROW_NEXT"
            with m.State("ROW_NEXT"):
                m.d.sync += k.eq(k + 1)
                with m.If(k + 1 == d_count):
                    m.next = "COL_START"
                with m.Else():
                    m.next = "ROW_A"

            with m.State("COL_START"):
                m.d.sync += [i.eq(0), j.eq(0)]
                m.next = "COL_NEURON"
            with m.State("COL_NEURON"):
                m.d.sync += [j.eq(0), p1.eq(0)]
                with m.If(i == n):
                    m.next = "YIMP_START"
                with m.Elif(s.bit_select(i, 1) & plastic_dst.bit_select(i, 1)):
                    m.next = "COL_A"
                with m.Else():
                    m.d.sync += i.eq(i + 1)
            with m.State("COL_A"):
                # Pipelined like ROW_D: read (j, i), write (j1, i) the clock after.
                with m.If(j < n_src):
                    m.d.comb += [w_rd.addr.eq(Cat(i[:nb], j[:sb])), x_rd.addr.eq(j)]
                    m.d.sync += j.eq(j + 1)
                m.d.sync += [p1.eq(j < n_src), i1.eq(j)]
                plus = (x_rd.data * a_plus) >> spec.LEARN_SHIFT
                m.d.comb += [w_wr.addr.eq(Cat(i[:nb], i1[:sb])),
                             w_wr.data.eq(learn(w_rd.data, plus, 0)),
                             w_wr.en.eq(p1 & plastic_src.bit_select(i1, 1)
                                        & ~in_d.bit_select(i1, 1))]
                with m.If((j >= n_src) & ~p1):
                    m.d.sync += i.eq(i + 1)
                    m.next = "COL_NEURON"

            # Step 6: post-traces of spiking neurons jump.
            with m.State("YIMP_START"):
                m.d.sync += i.eq(0)
                m.next = "YIMP_A"
            with m.State("YIMP_A"):
                m.d.comb += y_rd.addr.eq(i)
                m.next = "YIMP_B"
            with m.State("YIMP_B"):
                m.d.comb += [y_wr.addr.eq(i), y_wr.en.eq(s.bit_select(i, 1)),
                             y_wr.data.eq(_sat(m, y_rd.data + y_imp, 0, spec.TRACE_MAX))]
                m.d.sync += i.eq(i + 1)
                with m.If(i == n - 1):
                    m.d.sync += i.eq(0)
                    m.next = "OUT"
                with m.Else():
                    m.next = "YIMP_A"

            # Output: spikes in increasing order, then the end beat.
            with m.State("OUT"):
                with m.If(i == n):
                    m.next = "END"
                with m.Elif(s.bit_select(i, 1)):
                    m.d.comb += [self.spike_out.valid.eq(1),
                                 self.spike_out.payload.index.eq(i[:nb])]
                    with m.If(self.spike_out.ready):
                        m.d.sync += i.eq(i + 1)
                with m.Else():
                    m.d.sync += i.eq(i + 1)
            with m.State("END"):
                m.d.comb += [self.spike_out.valid.eq(1), self.spike_out.payload.end.eq(1)]
                with m.If(self.spike_out.ready):
                    m.d.sync += [s_prev.eq(s), in_d.eq(0), d_count.eq(0), steps.eq(steps + 1)]
                    m.next = "IDLE"

            # --- Control --------------------------------------------------------------------
            with m.State("CTL"):
                m.d.comb += in_busy.eq(0)
                m.d.sync += rsp.eq(0)
                m.next = "CTL_READ"
                with m.Switch(cmd.space):
                    with m.Case(Space.WEIGHT):
                        ok = (c_addr[:nb] < n) & (c_addr[nb:] < n_src)
                        m.d.comb += [w_rd.addr.eq(c_addr), w_wr.addr.eq(c_addr),
                                     w_wr.data.eq(cmd.data), w_wr.en.eq(cmd.write & ok)]
                    with m.Case(Space.NEURON):
                        ok = c_neuron < n
                        for field, (rd, wr) in {
                                NeuronField.VTH: (vth_rd, vth_wr),
                                NeuronField.BIAS: (bias_rd, bias_wr),
                                NeuronField.DU: (du_rd, du_wr), NeuronField.DV: (dv_rd, dv_wr),
                                NeuronField.T_REF: (tref_rd, tref_wr)}.items():
                            m.d.comb += [rd.addr.eq(c_neuron), wr.addr.eq(c_neuron),
                                         wr.data.eq(cmd.data),
                                         wr.en.eq(cmd.write & ok & (c_field == field.value))]
                    with m.Case(Space.SETTING):
                        for setting, reg in settings.items():
                            with m.If(cmd.write & (c_addr == setting.value)):
                                m.d.sync += reg.eq(cmd.data)
                    with m.Case(Space.MASK):
                        with m.If(cmd.write & (c_addr < n_src)):
                            m.d.sync += plastic_src.bit_select(c_addr[:sb], 1).eq(cmd.data[0])
                        with m.If(cmd.write & (c_addr[sb:] == 1) & (c_addr[:sb] < n)):
                            m.d.sync += plastic_dst.bit_select(c_addr[:nb], 1).eq(cmd.data[0])
                    with m.Case(Space.STATE):
                        for port in (u_rd, v_rd, ref_rd, y_rd):
                            m.d.comb += port.addr.eq(c_index)
                        m.d.comb += x_rd.addr.eq(c_index)
                    with m.Case(Space.CONTROL):
                        with m.If(cmd.write & (c_addr == Control.RESET.value)):
                            m.d.sync += [i.eq(0), s_prev.eq(0)]
                            m.next = "RESET"
                        with m.If(cmd.write & (c_addr == Control.CLEAR_COUNTERS.value)):
                            m.d.sync += [steps.eq(0), cycles.eq(0)]
            with m.State("CTL_READ"):
                m.d.comb += in_busy.eq(0)
                with m.If(~cmd.write):
                    with m.Switch(cmd.space):
                        with m.Case(Space.WEIGHT):
                            with m.If((c_addr[:nb] < n) & (c_addr[nb:] < n_src)):
                                m.d.sync += rsp.eq(w_rd.data)
                        with m.Case(Space.NEURON):
                            for field, rd in {NeuronField.VTH: vth_rd, NeuronField.BIAS: bias_rd,
                                              NeuronField.DU: du_rd, NeuronField.DV: dv_rd,
                                              NeuronField.T_REF: tref_rd}.items():
                                with m.If((c_neuron < n) & (c_field == field.value)):
                                    m.d.sync += rsp.eq(rd.data)
                        with m.Case(Space.SETTING):
                            for setting, reg in settings.items():
                                with m.If(c_addr == setting.value):
                                    m.d.sync += rsp.eq(reg)
                        with m.Case(Space.MASK):
                            with m.If(c_addr < n_src):
                                m.d.sync += rsp.eq(plastic_src.bit_select(c_addr[:sb], 1))
                            with m.If((c_addr[sb:] == 1) & (c_addr[:sb] < n)):
                                m.d.sync += rsp.eq(plastic_dst.bit_select(c_addr[:nb], 1))
                        with m.Case(Space.STATE):
                            ok_n = c_index < n
                            for field, value in {StateField.U: u_rd.data,
                                                 StateField.V: v_rd.data,
                                                 StateField.REF: ref_rd.data,
                                                 StateField.Y: y_rd.data,
                                                 StateField.SPIKED: s_prev.bit_select(
                                                     c_index, 1)}.items():
                                with m.If(ok_n & (c_sfield == field.value)):
                                    m.d.sync += rsp.eq(value)
                            with m.If((c_index < n_src) & (c_sfield == StateField.X.value)):
                                m.d.sync += rsp.eq(x_rd.data)
                        with m.Case(Space.COUNTER):
                            for counter, value in {Counter.STEPS_LO: steps[:32],
                                                   Counter.STEPS_HI: steps[32:],
                                                   Counter.CYCLES_LO: cycles[:32],
                                                   Counter.CYCLES_HI: cycles[32:]}.items():
                                with m.If(c_addr == counter.value):
                                    m.d.sync += rsp.eq(value)
                m.next = "CTL_RSP"
            with m.State("CTL_RSP"):
                m.d.comb += in_busy.eq(0)
                m.d.comb += [self.ctl_rsp.valid.eq(1), self.ctl_rsp.payload.eq(rsp)]
                with m.If(self.ctl_rsp.ready):
                    m.next = "IDLE"
            with m.State("RESET"):
                m.d.comb += in_busy.eq(0)
                for port in (u_wr, v_wr, ref_wr, y_wr):
                    m.d.comb += [port.addr.eq(i), port.data.eq(0), port.en.eq(i < n)]
                m.d.comb += [x_wr.addr.eq(i), x_wr.data.eq(0), x_wr.en.eq(i < n_src)]
                m.d.sync += i.eq(i + 1)
                with m.If(i == max(n, n_src) - 1):
                    m.next = "CTL_RSP"

        with m.If(in_busy):
            m.d.sync += cycles.eq(cycles + 1)
        return m
