"""The spikecore core: an all-to-all LIF network with current-based synapses and on-chip STDP.

It implements docs/model.md bit-exactly, ``lanes`` synapses a clock; docs/hardware.md
describes the step engine and its cycle budget. ``spikecore.hw.interface.CoreSignature`` is
its interface and ``spikecore.spec.Space`` its control address map.
"""

from types import SimpleNamespace

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory

from ..spec import Feature, neuron_bits, src_bits
from .checks import check_features, check_lanes, check_positive
from .control import ControlAccess
from .generators import GEN, RATE, Generators, generator_words
from .groups import GroupUpdate
from .inputs import InputCollector
from .interface import CoreSignature
from .neuron import NeuronUpdate
from .plasticity import SliceUpdate
from .ports import XWord, neuron_words, share_read, share_write
from .sequencer import StepSequencer
from .spikes import COUNT, SpikeCounter, SpikeEmitter, SpikeLister
from .traces import PostTraceJump, PreTraceDecay, PreTraceJump
from .weights import WeightStore

__all__ = ["Core"]


class Core(wiring.Component):
    """Compute steps of an all-to-all LIF network with on-chip STDP, as docs/model.md says.

    The step engine is event-driven and works on ``lanes`` synapses a clock: per step it
    reads only the weight rows of delivered sources while it updates the neurons group by
    group, then applies STDP to the rows of delivered sources and the columns of spiking
    neurons (each plastic synapse touched once). The spikes stream out while learning runs.
    Configuration and state are reached through ``ctl_cmd``/``ctl_rsp`` (address map:
    ``spikecore.spec.Space``).

    The core composes parts with one concern each: ``Generators`` (the generated inputs,
    with ``Feature.GENERATORS``), ``InputCollector`` (a step's inputs),
    ``StepSequencer`` (the phases, and the slices read in each), ``GroupUpdate`` (sums and
    neuron updates), ``SliceUpdate`` (STDP), ``PreTraceDecay``, ``PreTraceJump`` and
    ``PostTraceJump`` (the traces), ``SpikeLister`` and ``SpikeEmitter`` (the spike list and
    output), ``SpikeCounter`` (the spike counts, with ``Feature.COUNTS``) and
    ``ControlAccess`` (commands, settings, counters). It owns the memories and
    gives each port, clock by clock, to the part that asks (``share_read``, ``share_write``:
    a fixed priority; the parts that share a port never need it in the same clock).

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
    features : spikecore.spec.Feature
        The optional parts of the model to build (docs/model.md): a device without one
        computes as if its settings held their defaults (without ``GENERATORS``: every rate
        0; without ``COUNTS``: no counts), and has no address for them.

    Members
    -------
    ctl_cmd, ctl_rsp, step_in, spike_out
        See ``spikecore.hw.interface.CoreSignature``.
    """

    def __init__(self, n_inputs, n_neurons, lanes=1, weight_ports=2, neuron_latency=6,
                 register_commands=True, features=Feature.all()):
        check_positive(n_inputs=n_inputs, n_neurons=n_neurons, lanes=lanes)
        if lanes & (lanes - 1):
            raise ValueError(f"lanes must be 1 or a power of two, not {lanes}")
        if lanes > n_neurons:
            raise ValueError(f"lanes must be at most n_neurons ({n_neurons}), not {lanes}")
        check_lanes(lanes, n_neurons=n_neurons)
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
        self.features = check_features(features)
        super().__init__(CoreSignature(n_inputs, n_neurons))

    def elaborate(self, platform):
        m = Module()
        n_in, N, L = self.n_inputs, self.n_neurons, self.lanes
        G, HS = N // L, -(-self.n_sources // L)         # neuron groups, source groups
        nb, sb = neuron_bits(N), src_bits(n_in, N)

        # --- The parts ---------------------------------------------------------------------
        # Dual-port banks register their reads (address and data): 3 clocks, for fmax.
        m.submodules.weights = ws = WeightStore(HS * L, N, L,
                                                single_port=self.weight_ports == 1,
                                                registered=self.weight_ports == 2)
        m.submodules.control = ctl = ControlAccess(n_in, N, L, ws.read_latency,
                                                   self.register_commands, self.features)
        # With single-port banks the STDP passes read a slice and write it in the next clock.
        m.submodules.sequencer = seq = StepSequencer(n_in, N, L, ws.read_latency,
                                                     alternate=self.weight_ports == 1)
        m.submodules.collector = collector = InputCollector(n_in, N)
        m.submodules.groups = groups = GroupUpdate(self.n_sources, N, L, self.neuron_latency,
                                                   self.features)
        # With dual-port banks the synapse updates are pipelined.
        m.submodules.plasticity = plasticity = SliceUpdate(
            HS * L, N, L, pipelined=self.weight_ports == 2, features=self.features)
        m.submodules.pre_decay = pre_decay = PreTraceDecay(HS, L)
        m.submodules.pre_jump = pre_jump = PreTraceJump(HS * L, L)
        m.submodules.post_jump = post_jump = PostTraceJump(G, L)
        m.submodules.lister = lister = SpikeLister(N, L)
        m.submodules.emitter = emitter = SpikeEmitter(N)

        wiring.connect(m, wiring.flipped(self.ctl_cmd), ctl.ctl_cmd)
        wiring.connect(m, ctl.ctl_rsp, wiring.flipped(self.ctl_rsp))
        if Feature.GENERATORS in self.features:
            self._generators(m, ctl, collector)
        else:
            wiring.connect(m, wiring.flipped(self.step_in), collector.step_in)
        if Feature.COUNTS in self.features:
            self._counts(m, ctl, lister)
        wiring.connect(m, emitter.spike_out, wiring.flipped(self.spike_out))
        for task, part in ((seq.collector, collector), (seq.pre_decay, pre_decay),
                           (seq.lister, lister), (seq.emitter, emitter),
                           (seq.post_jump, post_jump)):
            wiring.connect(m, task, part.task)
        wiring.connect(m, seq.groups, groups.slices)
        wiring.connect(m, seq.slices, plasticity.slices)
        wiring.connect(m, seq.pre_jump, pre_jump.jumps)
        settings = ctl.settings
        m.d.comb += [
            # A step starts before a command; each waits for the other to be done.
            seq.waiting.eq(self.step_in.valid), seq.received.eq(collector.count),
            ctl.allowed.eq(seq.idle & ~self.step_in.valid), seq.ctl_busy.eq(ctl.busy),
            ctl.counting.eq(seq.counting), ctl.stepped.eq(seq.stepped),
            seq.forget.eq(ctl.forget),
            seq.settings.eq(settings), groups.settings.eq(settings),
            plasticity.settings.eq(settings),
            pre_decay.rate.eq(settings.x_decay), pre_jump.impulse.eq(settings.x_imp),
            post_jump.impulse.eq(settings.y_imp),
            lister.parity.eq(seq.parity), emitter.parity.eq(seq.parity),
            seq.spikes.eq(lister.count), emitter.count.eq(lister.count),
            emitter.listed.eq(~lister.task.busy),
            seq.out_stalled.eq(self.spike_out.valid & ~self.spike_out.ready),
        ]

        # --- Memories, and which parts share each port (the last listed that asks wins) ---
        share_read(m, ws.rd, ws.rd_data, [seq.w_rd, ctl.w_rd])
        share_write(m, ws.wr, ws.wr_en, ws.wr_data, [plasticity.w_wr, ctl.w_wr])
        # Words of L lanes (lane l of word g: neuron or source g·L + l), by group.
        words = {name: (G, shape) for name, shape in neuron_words(self.features).items()}
        words.update(x=(HS, XWord), psrc=(HS, 1), pdst=(G, 1))
        readers = {"x": [pre_decay, seq, ctl], "y": [groups, post_jump, seq, ctl],
                   "psrc": [seq, ctl], "pdst": [seq, ctl]}          # else [groups, ctl]
        writers = {"x": [pre_decay, pre_jump, ctl], "y": [groups, post_jump, ctl],
                   "u": [groups, ctl], "v": [groups, ctl], "ref": [groups, ctl],
                   "theta": [groups, ctl]}                                      # else [ctl]
        for name, (depth, shape) in words.items():
            mem = Memory(shape=data.ArrayLayout(shape, L), depth=depth, init=[])
            m.submodules[f"{name}_mem"] = mem
            rd, wr = mem.read_port(), mem.write_port(granularity=1)
            share_read(m, rd.addr, rd.data,
                       [getattr(part, f"{name}_rd") for part in readers.get(name, [groups, ctl])])
            share_write(m, wr.addr, wr.en, wr.data,
                        [getattr(part, f"{name}_wr") for part in writers.get(name, [ctl])])
        # This step's spikes by group (for the spike list), and which inputs this step has.
        m.submodules.s_mem = s_mem = Memory(shape=L, depth=G, init=[])
        s_rd, s_wr = s_mem.read_port(), s_mem.write_port()
        share_read(m, s_rd.addr, s_rd.data, [lister.s_rd])
        share_write(m, s_wr.addr, s_wr.en, s_wr.data, [groups.s_wr])
        m.submodules.in_mem = in_mem = Memory(shape=1, depth=n_in, init=[])
        in_wr = in_mem.write_port()
        in_rd = in_mem.read_port(transparent_for=(in_wr,))
        share_read(m, in_rd.addr, in_rd.data, [collector.in_rd])
        share_write(m, in_wr.addr, in_wr.en, in_wr.data,
                    [collector.in_wr, seq.in_wr, ctl.in_wr])
        # This step's external inputs, in arrival order; the spike lists of the last two steps.
        m.submodules.dl_mem = dl_mem = Memory(shape=unsigned(sb), depth=n_in, init=[])
        dl_rd, dl_wr = dl_mem.read_port(), dl_mem.write_port()
        share_read(m, dl_rd.addr, dl_rd.data, [seq.dl_rd])
        share_write(m, dl_wr.addr, dl_wr.en, dl_wr.data, [collector.dl_wr])
        m.submodules.sl_mem = sl_mem = Memory(shape=unsigned(nb), depth=2 << nb, init=[])
        sl_wr = sl_mem.write_port()
        share_write(m, sl_wr.addr, sl_wr.en, sl_wr.data, [lister.sl_wr])
        for request in (seq.slp_rd, seq.slc_rd, emitter.sle_rd):
            rd = sl_mem.read_port()
            share_read(m, rd.addr, rd.data, [request])
        return m

    def _generators(self, m, ctl, collector):
        """Put ``Generators`` between ``step_in`` and the collector; its memories (by input
        group: the rates, 0 at power-up, and the states, input j's j + 1)."""
        n_in, L = self.n_inputs, self.lanes
        W = generator_words(n_in, L)
        m.submodules.generators = gens = Generators(n_in, self.n_neurons, L)
        wiring.connect(m, wiring.flipped(self.step_in), gens.step_in)
        wiring.connect(m, gens.step_out, collector.step_in)
        states = [[w * L + l + 1 for l in range(L)] for w in range(W)]
        # The control's writes go in a clock late, from registers: its address decoding and
        # the write ports of these wide memories are far apart (on the 85F that path alone
        # set the clock). Nothing reads them in that clock (docs/hardware.md).
        rate_wr, gen_wr = _registered(m, ctl.rate_wr), _registered(m, ctl.gen_wr)
        for name, shape, init, readers, writers in (
                ("rate", RATE, [], [gens.rate_rd, ctl.rate_rd], [rate_wr]),
                ("gen", GEN, states, [gens.gen_rd, ctl.gen_rd], [gens.gen_wr, gen_wr])):
            m.submodules[f"{name}_mem"] = mem = Memory(shape=data.ArrayLayout(shape, L),
                                                       depth=W, init=init)
            rd, wr = mem.read_port(), mem.write_port(granularity=1)
            share_read(m, rd.addr, rd.data, readers)
            share_write(m, wr.addr, wr.en, wr.data, writers)

    def _counts(self, m, ctl, lister):
        """Count the spikes as the lister lists them, in ``count_mem`` (0 at power-up)."""
        m.submodules.counter = counter = SpikeCounter(self.n_neurons)
        m.d.comb += [counter.spikes.valid.eq(lister.sl_wr.en),
                     counter.spikes.payload.eq(lister.sl_wr.data)]
        wiring.connect(m, ctl.clear_counts, counter.clear)
        m.submodules.count_mem = mem = Memory(shape=COUNT, depth=self.n_neurons, init=[])
        rd, wr = mem.read_port(), mem.write_port()
        share_read(m, rd.addr, rd.data, [counter.count_rd, ctl.count_rd])
        share_write(m, wr.addr, wr.en, wr.data, [counter.count_wr])


def _registered(m, request):
    """Return a copy of the write request *request* (addr, en, data), one clock later."""
    late = SimpleNamespace(addr=Signal.like(request.addr), en=Signal.like(request.en),
                           data=Signal.like(request.data))
    m.d.sync += [late.addr.eq(request.addr), late.en.eq(request.en),
                 late.data.eq(request.data)]
    return late
