"""Amaranth-simulator tests of the core's parts against the golden model, on hand-derived cases.

Each part runs with real memories on its request ports (``with_memories``); the expected values
are written out so that they can be checked on paper, and compared with the model function of
the same meaning (``trace_decay``, ``sat8u``, ``neuron_update``, ``stdp_update``, ``Model``).
"""

import random

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from spikecore import model, protocol, spec
from spikecore.emulator import DeviceEmulator
from spikecore.hw.access import AccessCheck
from spikecore.hw.control import ControlAccess, Settings
from spikecore.hw.core import Core
from spikecore.hw.generators import GEN, RATE, Generators, xorshift32
from spikecore.hw.groups import GroupUpdate
from spikecore.hw.inputs import InputCollector
from spikecore.hw.plasticity import SliceUpdate
from spikecore.hw.ports import XWord, YWord, share_read, share_write
from spikecore.hw.sequencer import StepSequencer
from spikecore.hw.spikes import COUNT, SpikeCounter, SpikeEmitter, SpikeLister
from spikecore.hw.traces import PostTraceJump, PreTraceDecay, PreTraceJump
from spikecore.hw.weights import WeightStore
from spikecore.network import Learning, Network
from randnet import random_inputs, random_network
from spikecore.spec import (Control, Counter, Feature, InputField, NeuronField, Setting, Space,
                            StateField)


def with_memories(dut, memories):
    """Return a module holding *dut* and *memories* ({name: Memory}), each memory on the dut's
    ``name_rd`` and ``name_wr`` requests (those it has)."""
    m = Module()
    m.domains.sync = ClockDomain()
    m.submodules.dut = dut
    for name, mem in memories.items():
        m.submodules[name] = mem
        if hasattr(dut, f"{name}_rd"):
            rd = mem.read_port()
            share_read(m, rd.addr, rd.data, [getattr(dut, f"{name}_rd")])
        if hasattr(dut, f"{name}_wr"):
            lanes = isinstance(mem.shape, data.ArrayLayout)
            wr = mem.write_port(granularity=1 if lanes else None)
            share_write(m, wr.addr, wr.en, wr.data, [getattr(dut, f"{name}_wr")])
    return m


def simulate(top, bench):
    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


async def run_task(ctx, task, limit=1000):
    """Pulse *task*.start and return the clocks it is busy for."""
    ctx.set(task.start, 1)
    await ctx.tick()
    ctx.set(task.start, 0)
    clocks = 0
    while ctx.get(task.busy):
        await ctx.tick()
        clocks += 1
        assert clocks < limit
    return clocks


async def send(ctx, stream, payload):
    """Offer *payload* on *stream* until it is taken."""
    ctx.set(stream.payload, payload)
    ctx.set(stream.valid, 1)
    while True:
        taken = ctx.get(stream.ready)
        await ctx.tick()
        if taken:
            break
    ctx.set(stream.valid, 0)


async def receive(ctx, stream):
    """Take the next beat of *stream*; return its payload."""
    ctx.set(stream.ready, 1)
    while not ctx.get(stream.valid):
        await ctx.tick()
    payload = ctx.get(stream.payload)
    await ctx.tick()
    return payload


def signed32(value):
    return value - (1 << 32) if value >> 31 else value


def words(layout, lanes, rows):
    return Memory(shape=data.ArrayLayout(layout, lanes), depth=len(rows), init=rows)


# --- Arguments ------------------------------------------------------------------------------

@pytest.mark.parametrize("make,error,message", [
    (lambda: PreTraceDecay(0, 1), ValueError, "groups must be a positive integer, not 0"),
    (lambda: PostTraceJump(2, 1.0), TypeError, "lanes must be a positive integer, not 1.0"),
    (lambda: PreTraceJump(6, 4), ValueError, r"n_rows \(6\) must be a multiple of lanes \(4\)"),
    (lambda: SpikeLister(8, 3), ValueError, "lanes must be 1 or a power of two, not 3"),
    (lambda: SpikeEmitter(True), TypeError, "n_neurons must be a positive integer, not True"),
    (lambda: InputCollector(0, 4), ValueError, "n_inputs must be a positive integer, not 0"),
    (lambda: GroupUpdate(8, 4, 2, neuron_latency=3), ValueError,
     r"neuron_latency must be one of \(6, 2\), not 3"),
    (lambda: SliceUpdate(8, 4, 2, pipelined=1), TypeError,
     "pipelined must be True or False, not 1"),
    (lambda: GroupUpdate(8, 4, 2, features=3), TypeError,
     "features must be a spikecore.spec.Feature, not 3"),
    (lambda: ControlAccess(3, 4, 2, register_commands=1), TypeError,
     "register_commands must be True or False, not 1"),
    (lambda: ControlAccess(3, 4, 2, read_latency=0), ValueError,
     "read_latency must be a positive integer, not 0"),
    (lambda: StepSequencer(3, 6, 4), ValueError,
     r"n_neurons \(6\) must be a multiple of lanes \(4\)"),
    (lambda: Generators(0, 4, 2), ValueError, "n_inputs must be a positive integer, not 0"),
    (lambda: Generators(3, 4, 3), ValueError, "lanes must be 1 or a power of two, not 3"),
    (lambda: Generators(3, 4.0, 2), TypeError, "n_neurons must be a positive integer, not 4.0"),
    (lambda: SpikeCounter(0), ValueError, "n_neurons must be a positive integer, not 0"),
])
def test_arguments_checked(make, error, message):
    with pytest.raises(error, match=message):
        make()


# --- A step's inputs ------------------------------------------------------------------------

def test_input_collector():
    """Each input index below n_inputs is listed once, in arrival order; the rest are dropped.

    Beats 2, 2 (back to back: the flag written a clock before is seen), 0, 5 (not an input),
    2, 3, 0, end: the list is 2, 0, 3 -- the input set {0, 2, 3} of model.Model.step.
    """
    beats = [2, 2, 0, 5, 2, 3, 0]
    dut = InputCollector(n_inputs=4, n_neurons=4)
    flags = Memory(shape=1, depth=4, init=[])
    dl = Memory(shape=3, depth=4, init=[7] * 4)
    m = Module()
    m.submodules.dut, m.submodules.flags, m.submodules.dl = dut, flags, dl
    flags_wr = flags.write_port()
    flags_rd = flags.read_port(transparent_for=(flags_wr,))
    dl_wr = dl.write_port()
    share_read(m, flags_rd.addr, flags_rd.data, [dut.in_rd])
    share_write(m, flags_wr.addr, flags_wr.en, flags_wr.data, [dut.in_wr])
    share_write(m, dl_wr.addr, dl_wr.en, dl_wr.data, [dut.dl_wr])
    inputs = np.zeros(4, bool)
    inputs[[b for b in beats if b < 4]] = True

    async def bench(ctx):
        ctx.set(dut.task.start, 1)
        await ctx.tick()
        ctx.set(dut.task.start, 0)
        for index in beats:
            await send(ctx, dut.step_in, {"index": index, "end": 0})
        assert ctx.get(dut.task.busy)
        await send(ctx, dut.step_in, {"index": 0, "end": 1})
        assert not ctx.get(dut.task.busy)
        assert ctx.get(dut.count) == 3
        assert [ctx.get(dl.data[k]) for k in range(3)] == [2, 0, 3] \
            == sorted(np.flatnonzero(inputs), key=beats.index)
        assert [ctx.get(flags.data[i]) for i in range(4)] == [1, 0, 1, 1]

    simulate(m, bench)


# --- The input generators ---------------------------------------------------------------------

async def stream_steps(ctx, dut, steps, rng=None):
    """Send each step of *steps* (lists of streamed indices) to ``Generators`` *dut*; return
    per step the indices that came out before its end beat, and the clocks from its end beat
    offered to its end beat taken. *rng*: random readiness downstream (else always ready)."""
    beats = [beat for step in steps for beat in [(i, 0) for i in step] + [(0, 1)]]
    out, current, clocks, offered = [], [], [], None
    pos = clock = 0
    while pos < len(beats):
        ready = rng is None or rng.random() < 0.7
        index, end = beats[pos]
        ctx.set(dut.step_out.ready, ready)
        ctx.set(dut.step_in.valid, 1)
        ctx.set(dut.step_in.payload, {"index": index, "end": end})
        if end and offered is None:
            offered = clock
        taken = ctx.get(dut.step_in.ready)
        if ctx.get(dut.step_out.valid) and ready:
            beat = ctx.get(dut.step_out.payload)
            if beat.end:
                assert taken
                out.append(current)
                clocks.append(clock - offered + 1)
                current, offered = [], None
            else:
                current.append(beat.index)
        await ctx.tick()
        clock += 1
        assert clock < 100 * len(beats)
        if taken:
            pos += 1
    ctx.set(dut.step_in.valid, 0)
    return out, clocks


def generator_memories(lanes, states, rates):
    """The ``gen`` and ``rate`` memories of a ``Generators``: words of *lanes* inputs."""
    rows = lambda values: [values[w:w + lanes] for w in range(0, len(values), lanes)]
    return {"gen": words(GEN, lanes, rows(states)), "rate": words(RATE, lanes, rows(rates))}


def test_xorshift32():
    """docs/model.md's worked examples, in the gateware's xor-shift stages and in the model."""
    examples = {1: 270369, 270369: 67634689, 67634689: 2647435461, 0x80000000: 0x80084000,
                0xBA2B: 0xFFFFE0A9}
    m = Module()
    g, out = Signal(32), Signal(32)
    m.d.comb += out.eq(xorshift32(g))

    async def bench(ctx):
        for before, after in examples.items():
            ctx.set(g, before)
            assert ctx.get(out) == after == int(model.xorshift32(before)), hex(before)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


def test_generators():
    """Two steps of 5 inputs by words of 2 (the last word ragged), against model.generate.

    Step 1, from the states and rates below: input 0 (g 1 → 270369, top bits 4) fires at
    rate 5, input 1 (the same) not at rate 4; input 2 (g 0xBA2B → 0xFFFFE0A9) not at rate
    65535; input 3 (g 0x80000000 → 0x80084000, top bits 32776) fires at 32777, input 4 (the
    same) not at 32776. Lane 1 of the last word (input 5, not an input) would fire but never
    does. Inputs 4 and 0 are streamed too: 4, 0, then the generated 0, 3, then the end. Step
    2: 270369 → 67634689 (top bits 1032) fires at neither 5 nor 4; the other inputs as the
    model says. The pass of step 1 (3 words, at most one generated input in each): the end
    beat is taken words + 3 = 6 clocks after it is offered (words + 2 more than without
    generators): a clock to read word 0, one a word, one to see the pass done, the end beat.
    """
    states = [1, 1, 0xBA2B, 0x80000000, 0x80000000, 1]
    rates = [5, 4, 65535, 32777, 32776, 65535]
    g1, fired1 = model.generate(np.array(states[:5]), np.array(rates[:5]))
    assert list(g1[:2]) == [270369, 270369] and g1[2] == 0xFFFFE0A9 and g1[3] == 0x80084000
    assert list(np.flatnonzero(fired1)) == [0, 3]
    g2, fired2 = model.generate(g1, np.array(rates[:5]))
    assert g2[0] == 67634689 and not fired2[:2].any()
    dut = Generators(n_inputs=5, n_neurons=4, lanes=2)
    memories = generator_memories(2, states, rates)

    async def bench(ctx):
        out, clocks = await stream_steps(ctx, dut, [[4, 0], []])
        assert out[0] == [4, 0, 0, 3]
        assert out[1] == list(np.flatnonzero(fired2))
        assert clocks[0] == 3 + 3
        got = [ctx.get(memories["gen"].data[w])[l] for w in range(3) for l in range(2)]
        assert got[:5] == list(g2)
        assert got[5] == model.xorshift32(model.xorshift32(1))    # advanced too (never fires)

    simulate(with_memories(dut, memories), bench)


@pytest.mark.parametrize("n_inputs,lanes", [(11, 4), (8, 8), (3, 1)])
def test_generators_random(n_inputs, lanes):
    """Seeded random rates and states over 60 steps, streamed inputs and a receiver that is
    not always ready: the beats and the states are model.generate's, step after step."""
    seed = int(np.random.default_rng().integers(1 << 31))
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    rates = rng.choice([0, spec.RATE_MAX, 3, 6554, int(rng.integers(0, spec.RATE_MAX + 1))],
                       n_inputs)
    edges = rng.choice([1, spec.GEN_MAX, 1 << 31], n_inputs)
    states = np.where(rng.random(n_inputs) < 0.4, edges, rng.integers(1, 1 << 32, n_inputs))
    streamed = [list(rng.permutation(n_inputs)[:rng.integers(0, n_inputs + 1)])
                for _ in range(60)]
    g, expected = states.copy(), []
    for step in streamed:
        g, fired = model.generate(g, rates)
        expected.append([int(i) for i in step] + [int(i) for i in np.flatnonzero(fired)])
    words_ = -(-n_inputs // lanes)
    pad = words_ * lanes - n_inputs
    dut = Generators(n_inputs, n_neurons=4, lanes=lanes)
    memories = generator_memories(lanes, [int(v) for v in states] + [1] * pad,
                                  [int(v) for v in rates] + [spec.RATE_MAX] * pad)

    async def bench(ctx):
        out, _ = await stream_steps(ctx, dut, streamed, random.Random(seed))
        assert out == expected
        got = [ctx.get(memories["gen"].data[w])[l] for w in range(words_) for l in range(lanes)]
        assert got[:n_inputs] == list(g)

    simulate(with_memories(dut, memories), bench)


def test_generated_and_streamed_input_is_delivered_once():
    """Generators → InputCollector: input 2 streamed and generated is listed once.

    Inputs 0 and 2 fire (g 1 at rate 5, top bits 4), input 1 does not (rate 0); 2 and 1 are
    streamed: the collector lists 2, 1, 0 (beats 2, 1, then 0, 2 generated, 2 dropped).
    """
    gens = Generators(n_inputs=3, n_neurons=4, lanes=4)
    collector = InputCollector(n_inputs=3, n_neurons=4)
    m = Module()
    m.domains.sync = ClockDomain()
    m.submodules.gens, m.submodules.collector = gens, collector
    wiring.connect(m, gens.step_out, collector.step_in)
    memories = generator_memories(4, [1, 1, 1, 1], [5, 0, 5, 0])
    for name, mem in memories.items():
        m.submodules[name] = mem
        rd = mem.read_port()
        share_read(m, rd.addr, rd.data, [getattr(gens, f"{name}_rd")])
    wr = memories["gen"].write_port(granularity=1)
    share_write(m, wr.addr, wr.en, wr.data, [gens.gen_wr])
    flags = Memory(shape=1, depth=3, init=[])
    dl = Memory(shape=3, depth=3, init=[7] * 3)
    m.submodules.flags, m.submodules.dl = flags, dl
    flags_wr = flags.write_port()
    flags_rd = flags.read_port(transparent_for=(flags_wr,))
    dl_wr = dl.write_port()
    share_read(m, flags_rd.addr, flags_rd.data, [collector.in_rd])
    share_write(m, flags_wr.addr, flags_wr.en, flags_wr.data, [collector.in_wr])
    share_write(m, dl_wr.addr, dl_wr.en, dl_wr.data, [collector.dl_wr])

    async def bench(ctx):
        ctx.set(collector.task.start, 1)
        await ctx.tick()
        ctx.set(collector.task.start, 0)
        for index in (2, 1):
            await send(ctx, gens.step_in, {"index": index, "end": 0})
        await send(ctx, gens.step_in, {"index": 0, "end": 1})
        assert not ctx.get(collector.task.busy)
        assert ctx.get(collector.count) == 3
        assert [ctx.get(dl.data[k]) for k in range(3)] == [2, 1, 0]

    simulate(m, bench)


# --- The trace passes ------------------------------------------------------------------------

@pytest.mark.parametrize("rate,expected", [
    # 255·128 >> 8 = 127, 200·128 >> 8 = 100, 1·128 >> 8 = 0, 3·128 >> 8 = 1, 128·128 >> 8 = 64
    (128, [127, 100, 0, 1, 64, 0]),
    (256, [255, 200, 1, 3, 128, 0]),        # TRACE_DECAY_ONE: no decay
    (171, [170, 133, 0, 2, 85, 0]),         # 3·171 = 513 >> 8 = 2; 255·171 = 43605 >> 8 = 170
    (0, [0, 0, 0, 0, 0, 0]),
])
def test_pre_trace_decay(rate, expected):
    """Every pre-trace decays once (model.trace_decay) and loses its hit bit; HS + 4 clocks."""
    traces = [255, 200, 1, 3, 128, 0]
    assert list(model.trace_decay(np.array(traces), rate)) == expected
    dut = PreTraceDecay(groups=3, lanes=2)
    x = words(XWord, 2, [[{"trace": traces[2 * h + l], "hit": (h + l) % 2} for l in range(2)]
                         for h in range(3)])

    async def bench(ctx):
        ctx.set(dut.rate, rate)
        assert await run_task(ctx, dut.task) == 3 + 4
        got = [ctx.get(x.data[h])[l] for h in range(3) for l in range(2)]
        assert [word.trace for word in got] == expected
        assert [word.hit for word in got] == [0] * 6

    simulate(with_memories(dut, {"x": x}), bench)


def test_pre_trace_jump():
    """A delivered source's pre-trace jumps by x_imp, saturated (model.sat8u), hit set; only
    its lane is written."""
    dut = PreTraceJump(n_rows=4, lanes=2)
    words_before = [[{"trace": 10, "hit": 0}, {"trace": 250, "hit": 0}],
                    [{"trace": 7, "hit": 0}, {"trace": 0, "hit": 0}]]
    x = words(XWord, 2, words_before)
    # Source 1: 250 + 10 = 260 -> 255; source 2: 7 + 10 = 17. Sources 0 and 3 are kept.
    assert list(model.sat8u(np.array([250, 7]) + 10)) == [255, 17]

    async def bench(ctx):
        ctx.set(dut.impulse, 10)
        for j in (1, 2):
            ctx.set(dut.jumps.valid, 1)
            ctx.set(dut.jumps.j, j)
            ctx.set(dut.jumps.x, words_before[j // 2])
            await ctx.tick()
        ctx.set(dut.jumps.valid, 0)
        await ctx.tick()
        got = [ctx.get(x.data[h])[l] for h in range(2) for l in range(2)]
        assert [(word.trace, word.hit) for word in got] == [(10, 0), (255, 1), (17, 1), (0, 0)]

    simulate(with_memories(dut, {"x": x}), bench)


def test_post_trace_jump():
    """Post-traces of neurons that spiked jump by y_imp, saturated (model.sat8u); G + 2 clocks."""
    traces, spiked = [250, 100, 100, 0], [1, 0, 1, 1]
    # 250 + 10 = 260 -> 255; 100 (did not spike) kept; 100 + 10 = 110; 0 + 10 = 10
    expected = [255, 100, 110, 10]
    assert list(np.where(spiked, model.sat8u(np.array(traces) + 10), traces)) == expected
    dut = PostTraceJump(groups=2, lanes=2)
    y = words(YWord, 2, [[{"trace": traces[2 * g + l], "spiked": spiked[2 * g + l]}
                          for l in range(2)] for g in range(2)])

    async def bench(ctx):
        ctx.set(dut.impulse, 10)
        assert await run_task(ctx, dut.task) == 2 + 2
        got = [ctx.get(y.data[g])[l] for g in range(2) for l in range(2)]
        assert [word.trace for word in got] == expected
        assert [word.spiked for word in got] == spiked

    simulate(with_memories(dut, {"y": y}), bench)


# --- The spike list and the spike output -----------------------------------------------------

@pytest.mark.parametrize("groups,spikes,clocks", [
    ([0b1010, 0b0001], [1, 3, 4], 1 + 3),           # one to start, one a spike
    ([0b0000, 0b1000], [7], 1 + 1 + 1),             # an empty group costs a clock
    ([0b0000, 0b0000], [], 1 + 2),
    ([0b1111, 0b1111], list(range(8)), 1 + 8),
])
@pytest.mark.parametrize("parity", [0, 1])
def test_spike_lister(groups, spikes, clocks, parity):
    """The spike bits by group of 4 become the increasing list of neuron indices."""
    dut = SpikeLister(n_neurons=8, lanes=4)
    s = Memory(shape=4, depth=2, init=groups)
    sl = Memory(shape=3, depth=16, init=[7] * 16)

    async def bench(ctx):
        ctx.set(dut.parity, parity)
        assert await run_task(ctx, dut.task) == clocks
        assert ctx.get(dut.count) == len(spikes)
        listed = [ctx.get(sl.data[8 * parity + k]) for k in range(len(spikes))]
        assert listed == spikes
        # Once more: the lister is ready for the next step on its own.
        assert await run_task(ctx, dut.task) == clocks
        assert ctx.get(dut.count) == len(spikes)

    simulate(with_memories(dut, {"s": s, "sl": sl}), bench)


def test_spike_emitter():
    """Entries go out one a clock as they are listed, held under backpressure, then the end."""
    dut = SpikeEmitter(n_neurons=8)
    sl = Memory(shape=3, depth=16, init=[0] * 8 + [2, 5, 6, 0, 0, 0, 0, 0])
    beats = []

    async def bench(ctx):
        ctx.set(dut.parity, 1)
        ctx.set(dut.count, 1)                   # the lister has written one entry so far
        ctx.set(dut.task.start, 1)
        await ctx.tick()
        ctx.set(dut.task.start, 0)
        ready = [1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1]
        for clock in range(40):
            if clock == 10:
                ctx.set(dut.count, 3)
                ctx.set(dut.listed, 1)
            ctx.set(dut.spike_out.ready, ready[clock % len(ready)])
            valid, payload = ctx.get(dut.spike_out.valid), ctx.get(dut.spike_out.payload)
            if valid and ready[clock % len(ready)]:
                beats.append(("end",) if payload.end else payload.index)
            await ctx.tick()
        assert beats == [2, 5, 6, ("end",)]
        assert not ctx.get(dut.task.busy)

    simulate(with_memories(dut, {"sle": sl}), bench)


def test_spike_counter():
    """Each spike adds one to its neuron's count, saturated at 65535; clear zeroes all.

    Counts 65534, 3, 0, 65535; spikes 0, 1, 3 back to back (one step), then 0 and 2 a clock
    apart (the next): 65534 + 2 → 65535 (saturated), 3 + 1 = 4, 0 + 1 = 1, 65535 stays.
    """
    dut = SpikeCounter(n_neurons=4)
    count = Memory(shape=COUNT, depth=4, init=[65534, 3, 0, spec.COUNT_MAX])

    async def bench(ctx):
        for spikes in ([0, 1, 3], [0, None, 2]):
            for index in spikes:
                ctx.set(dut.spikes.valid, index is not None)
                ctx.set(dut.spikes.payload, index or 0)
                await ctx.tick()
            ctx.set(dut.spikes.valid, 0)
            await ctx.tick()
        assert [ctx.get(count.data[i]) for i in range(4)] == [65535, 4, 1, 65535]
        assert await run_task(ctx, dut.clear) == 4
        assert [ctx.get(count.data[i]) for i in range(4)] == [0] * 4

    simulate(with_memories(dut, {"count": count}), bench)


# --- The neuron groups -----------------------------------------------------------------------

@pytest.mark.parametrize("latency", [6, 2])
def test_group_update(latency):
    """Each group's slices are summed and its neurons updated as model.neuron_update says."""
    L, G = 2, 2
    state = {   # four neurons, two groups of two
        "u": [0, 100, 7, -8_388_200], "v": [0, -7, 5, 0], "ref": [0, 0, 3, 0],
        "vth": [10, 100, 0, 1_000], "bias": [0, 0, 0, -1_000], "du": [0, 2048, 0, 0],
        "dv": [0, 2048, 0, 0], "t_ref": [2, 2, 2, 2], "y": [200, 64, 0, 9],
    }
    slices = [(0, [3, -5]), (0, [10, 2]),           # group 0: a = 13, -3
              (1, [-100, -128]), (1, [100, -128])]  # group 1: a = 0, -256
    w_exp, y_decay = 1, 128
    a = [13, -3, 0, -256]
    # Neuron 0: u = 13 << 1 = 26, v = 26 > 10: spike, v = 0, ref = t_ref = 2.
    # Neuron 1: u = trunc0(100 / 2) + (-3 << 1) = 44, v = trunc0(-7 / 2) + 44 = -3 + 44 = 41.
    # Neuron 2: refractory: ref 3 -> 2, v = 0, u = 7.
    # Neuron 3: u = sat24(-8388200 - 512) = -2**23, v = sat24(-2**23 - 1000) = -2**23.
    expected = {"u": [26, 44, 7, -2**23], "v": [0, 41, 0, -2**23], "ref": [2, 0, 2, 0],
                "s": [1, 0, 0, 0], "y": [100, 32, 0, 4]}
    u, v, ref, _, s = model.neuron_update(
        *(np.array(state[k]) for k in ("u", "v", "ref")), np.zeros(4, int), np.array(a),
        np.zeros(4, int),
        *(np.array(state[k]) for k in ("vth", "bias", "du", "dv", "t_ref")), w_exp, w_exp)
    assert (list(u), list(v), list(ref), list(s.astype(int))) == \
        (expected["u"], expected["v"], expected["ref"], expected["s"])
    assert list(model.trace_decay(np.array(state["y"]), y_decay)) == expected["y"]

    dut = GroupUpdate(n_sources=8, n_neurons=4, lanes=L, neuron_latency=latency)
    memories = {}
    state["theta"] = [0] * 4
    for name in ("u", "v", "ref", "vth", "bias", "du", "dv", "t_ref", "theta"):
        shape = getattr(dut, f"{name}_rd").data.shape().elem_shape
        memories[name] = words(shape, L, [state[name][g * L:g * L + L] for g in range(G)])
    memories["y"] = words(YWord, L, [[{"trace": state["y"][g * L + l], "spiked": 0}
                                      for l in range(L)] for g in range(G)])
    memories["s"] = Memory(shape=L, depth=G, init=[])

    async def bench(ctx):
        ctx.set(dut.settings, Settings.const({"w_exp": w_exp, "y_decay": y_decay}))
        for k, (group, w) in enumerate(slices):
            ctx.set(dut.slices.valid, 1)
            ctx.set(dut.slices.last, k % 2)
            ctx.set(dut.slices.group, group)
            ctx.set(dut.slices.w, w)
            await ctx.tick()
        ctx.set(dut.slices.valid, 0)
        clocks = 0
        while not ctx.get(dut.slices.done):
            await ctx.tick()
            clocks += 1
        assert clocks == latency + 1            # enter, latency clocks, the done register
        for name in ("u", "v", "ref"):
            got = [ctx.get(memories[name].data[g])[l] for g in range(G) for l in range(L)]
            assert got == expected[name], name
        y = [ctx.get(memories["y"].data[g])[l] for g in range(G) for l in range(L)]
        assert [word.trace for word in y] == expected["y"]
        assert [word.spiked for word in y] == expected["s"]
        spikes = [ctx.get(memories["s"].data[g]) >> l & 1 for g in range(G) for l in range(L)]
        assert spikes == expected["s"]

    simulate(with_memories(dut, memories), bench)


def test_group_update_dummy():
    """With nothing delivered each group's one (dummy) slice counts as zero: a = 0."""
    dut = GroupUpdate(n_sources=2, n_neurons=1, lanes=1, neuron_latency=2)
    state = {"u": [40], "v": [0], "ref": [0], "vth": [1000], "bias": [5], "du": [1024],
             "dv": [0], "t_ref": [0], "theta": [0]}
    memories = {name: words(getattr(dut, f"{name}_rd").data.shape().elem_shape, 1,
                            [values]) for name, values in state.items()}
    memories["y"] = words(YWord, 1, [[{"trace": 0, "spiked": 1}]])
    memories["s"] = Memory(shape=1, depth=1, init=[])

    async def bench(ctx):
        ctx.set(dut.settings, Settings.const({"y_decay": 256}))
        ctx.set(dut.slices.valid, 1)
        ctx.set(dut.slices.last, 1)
        ctx.set(dut.slices.dummy, 1)
        ctx.set(dut.slices.w, [99])
        await ctx.tick()
        ctx.set(dut.slices.valid, 0)
        for _ in range(4):
            await ctx.tick()
        # u = trunc0(40 · 3072 / 4096) = 30, v = 0 + 30 + 5 = 35
        assert ctx.get(memories["u"].data[0])[0] == 30
        assert ctx.get(memories["v"].data[0])[0] == 35
        assert ctx.get(memories["y"].data[0])[0].spiked == 0

    simulate(with_memories(dut, memories), bench)


@pytest.mark.parametrize("latency", [6, 2])
def test_group_update_v2(latency):
    """Input and neuron sources scaled apart (w_exp 0, w_exp_rec 4), and the adaptive threshold.

    One group of two neurons, du = dv = 4096 (no memory), learning on, th_shift 2, th_imp 100:
    slices: an input (weights 10, 10), a neuron source (−3, 5).
    Neuron 0: u = 10 + (−3 << 4) = −38, v = −38; theta 7 → 7 − (7 >> 2) = 6; no spike.
    Neuron 1: u = 10 + (5 << 4) = 90, v = 90; theta 40 → 40 − 10 = 30; vth 60: 90 > 60 + 30
    is false (equal): no spike, theta 30. With bias 1: v = 91 > 90: spike, theta 30 + 100.
    """
    for bias, spiked, theta1 in ((0, 0, 30), (1, 1, 130)):
        state = {"u": [0, 0], "v": [0, 0], "ref": [0, 0], "vth": [0, 60], "bias": [0, bias],
                 "du": [4096, 4096], "dv": [4096, 4096], "t_ref": [0, 0], "theta": [7, 40]}
        u, v, ref, theta, s = model.neuron_update(
            np.zeros(2, int), np.zeros(2, int), np.zeros(2, int), np.array(state["theta"]),
            np.array([10, 10]), np.array([-3, 5]), np.array(state["vth"]),
            np.array(state["bias"]), 4096, 4096, np.zeros(2, int), 0, 4, True, 100, 2)
        assert list(u) == [-38, 90 + 0] and list(s) == [False, bool(spiked)]
        assert list(theta) == [6, theta1]
        dut = GroupUpdate(n_sources=4, n_neurons=2, lanes=2, neuron_latency=latency)
        memories = {name: words(getattr(dut, f"{name}_rd").data.shape().elem_shape, 2,
                                [values]) for name, values in state.items()}
        memories["y"] = words(YWord, 2, [[{"trace": 0, "spiked": 0}] * 2])
        memories["s"] = Memory(shape=2, depth=1, init=[])

        async def bench(ctx):
            ctx.set(dut.settings, Settings.const({"w_exp": 0, "w_exp_rec": 4, "enabled": 1,
                                                  "th_imp": 100, "th_shift": 2,
                                                  "y_decay": 256}))
            for last, rec, w in ((0, 0, [10, 10]), (1, 1, [-3, 5])):
                for name, value in (("valid", 1), ("last", last), ("rec", rec), ("w", w)):
                    ctx.set(getattr(dut.slices, name), value)
                await ctx.tick()
            ctx.set(dut.slices.valid, 0)
            for _ in range(latency + 2):
                await ctx.tick()
            assert list(ctx.get(memories["u"].data[0])) == [-38, 90]
            assert list(ctx.get(memories["theta"].data[0])) == [6, theta1]
            assert ctx.get(memories["s"].data[0]) == spiked << 1

        simulate(with_memories(dut, memories), bench)


# --- The STDP slices -------------------------------------------------------------------------

@pytest.mark.parametrize("pipelined", [False, True])
def test_slice_update(pipelined):
    """Row and column slices get model.stdp_update's change; only the plastic lanes are written."""
    lr = Learning(enabled=True, a_plus=128, a_minus=64, x_imp=0, y_imp=0, x_decay=256,
                  y_decay=256, w_min=-40, w_max=127)
    # Row of source 3 over neurons 2, 3: lane 0 spiked (LTP (100·128) >> 8 = 50, LTD
    # (64·64) >> 8 = 16: 10 + 50 − 16 = 44), lane 1 did not (LTD (128·64) >> 8 = 32:
    # −20 − 32 = −52, clipped to −40).
    # Column of neuron 2 over sources 0, 1: source 0 gets LTP (200·128) >> 8 = 100: 120 + 100
    # clipped to 127; source 1 was delivered (hit): its row had the change, no write.
    W = np.zeros((4, 4), np.int8)
    W[3, 2:] = [10, -20]
    W[0:2, 2] = [120, 5]
    x, y = np.array([200, 50, 0, 100]), np.array([0, 0, 64, 128])
    row = model.stdp_update(W.copy(), x, y, np.array([3]), np.array([2]), lr,
                            np.ones(4, bool), np.ones(4, bool))
    assert list(row[3, 2:]) == [44, -40] and row[0, 2] == 127
    dut = SliceUpdate(n_rows=4, n_neurons=4, lanes=2, pipelined=pipelined)
    latency = dut.latency
    settings = Settings.const({"a_plus": 128, "a_minus": 64, "w_min": -40, "w_max": 127})
    row_slice = {"valid": 1, "col": 0, "j": 3, "group": 1, "w": [10, -20],
                 "x": [{"trace": 0, "hit": 0}, {"trace": 100, "hit": 1}],
                 "y": [{"trace": 64, "spiked": 1}, {"trace": 128, "spiked": 0}],
                 "src": [0, 1], "dst": [1, 1]}
    col_slice = {"valid": 1, "col": 1, "i": 2, "group": 0, "w": [120, 5],
                 "x": [{"trace": 200, "hit": 0}, {"trace": 50, "hit": 1}],
                 "src": [1, 1], "dst": [1, 0]}
    writes = []

    async def bench(ctx):
        ctx.set(dut.settings, settings)
        for clock in range(6):
            for name, value in (row_slice if clock == 0 else col_slice if clock == 1
                                else {"valid": 0}).items():
                ctx.set(getattr(dut.slices, name), value)
            if ctx.get(dut.w_wr.en):
                access = ctx.get(dut.w_wr.addr)
                writes.append((clock, access.col, access.j, access.i, ctx.get(dut.w_wr.en),
                               list(ctx.get(dut.w_wr.data))))
            assert ctx.get(dut.slices.busy) == (latency > 0 and 0 < clock <= latency + 1)
            await ctx.tick()
        assert writes == [(latency, 0, 3, 2, 0b11, [44, -40]),
                          (latency + 1, 1, 0, 2, 0b01, [127, writes[1][5][1]])]

    simulate(with_memories(dut, {}), bench)


@pytest.mark.parametrize("pipelined", [False, True])
@pytest.mark.parametrize("soft_bound", [True, False])
def test_slice_update_target_and_soft_bound(pipelined, soft_bound):
    """x_tar and soft bounds (docs/model.md step 5): a_plus 128, a_minus 0, x_tar 100, bounds ±63.

    Row of source 3 (x 255) over neurons 2 (spiked) and 3: d = 155 · 128 = 19840.
    Neuron 2, W 13: soft, f = 63 − 13 = 50, p = trunc0(trunc0(992000, 7), 8) = 30 → 43; hard,
    p = trunc0(19840, 8) = 77 → 90, clipped to 63. Neuron 3, W −100: no change, clipped to −63.
    Column of neuron 2 over sources 0 (x 40, W 13) and 1 (x 100, W 63): source 0 has
    d = −60 · 128 = −7680; soft, f = 13 + 63 = 76, p = trunc0(trunc0(−583680, 7), 8) = −17 → −4;
    hard, p = trunc0(−7680, 8) = −30 → −17. Source 1: d = 0, p = 0 → 63.
    """
    lr = Learning(enabled=True, a_plus=128, a_minus=0, x_tar=100, w_min=-63, w_max=63,
                  soft_bound=soft_bound)
    W = np.zeros((4, 4), np.int8)
    W[3, 2:] = [13, -100]
    W[0:2, 2] = [13, 63]
    x = np.array([40, 100, 0, 255])
    after = model.stdp_update(W.copy(), x, np.zeros(4, int), np.array([3]), np.array([2]), lr,
                              np.ones(4, bool), np.ones(4, bool))
    row, col = ([43, -63], [-4, 63]) if soft_bound else ([63, -63], [-17, 63])
    assert list(after[3, 2:]) == row and list(after[0:2, 2]) == col
    dut = SliceUpdate(n_rows=4, n_neurons=4, lanes=2, pipelined=pipelined)
    settings = Settings.const({"a_plus": 128, "x_tar": 100, "w_min": -63, "w_max": 63,
                               "soft_bound": soft_bound})
    row_slice = {"valid": 1, "col": 0, "j": 3, "group": 1, "w": [13, -100],
                 "x": [{"trace": 0, "hit": 0}, {"trace": 255, "hit": 1}],
                 "y": [{"trace": 0, "spiked": 1}, {"trace": 0, "spiked": 0}],
                 "src": [0, 1], "dst": [1, 1]}
    col_slice = {"valid": 1, "col": 1, "i": 2, "group": 0, "w": [13, 63],
                 "x": [{"trace": 40, "hit": 0}, {"trace": 100, "hit": 0}],
                 "src": [1, 1], "dst": [1, 0]}
    writes = []

    async def bench(ctx):
        ctx.set(dut.settings, settings)
        for clock in range(7):
            for name, value in (row_slice if clock == 0 else col_slice if clock == 1
                                else {"valid": 0}).items():
                ctx.set(getattr(dut.slices, name), value)
            if ctx.get(dut.w_wr.en):
                writes.append(list(ctx.get(dut.w_wr.data)))
            await ctx.tick()
        assert writes == [row, col]

    simulate(with_memories(dut, {}), bench)


# --- Control accesses ------------------------------------------------------------------------

@pytest.mark.parametrize("register_commands", [True, False])
def test_control_access(register_commands):
    """Writes and reads of each space, sign extension, counters, CONTROL.RESET's sweep."""
    n_in, N, L = 3, 4, 2                # G = 2, HS = 4: the reset sweep takes 4 clocks
    dut = ControlAccess(n_in, N, L, read_latency=1, register_commands=register_commands)
    memories = {"u": words(dut.u_rd.data.shape().elem_shape, L, [[5, -6], [7, 8]]),
                "x": words(XWord, L, [[{"trace": 9, "hit": 1}] * 2] * 4)}
    for name in ("vth", "bias", "du", "dv", "t_ref", "theta", "v", "ref", "y", "psrc", "pdst"):
        memories[name] = Memory(shape=getattr(dut, f"{name}_rd").data.shape(),
                                depth=4 if name == "psrc" else 2, init=[])
    memories["in"] = Memory(shape=1, depth=n_in, init=[1, 1, 1])
    memories["gen"] = words(GEN, L, [[1, 2], [3, 4]])       # power-up: input j's is j + 1
    memories["rate"] = words(RATE, L, [[0, 0], [0, 0]])
    memories["count"] = Memory(shape=COUNT, depth=N, init=[5, 0, spec.COUNT_MAX, 7])
    weights = WeightStore(4 * L, N, L)
    top = with_memories(dut, memories)
    top.submodules.weights = weights
    share_read(top, weights.rd, weights.rd_data, [dut.w_rd])
    share_write(top, weights.wr, weights.wr_en, weights.wr_data, [dut.w_wr])

    async def access(ctx, write, space, addr, value=0):
        """Send one command; return (its value, clocks from offering it to the response)."""
        ctx.set(dut.ctl_cmd.payload, {"write": write, "space": space, "addr": addr,
                                      "data": value & 0xFFFFFFFF})
        ctx.set(dut.ctl_cmd.valid, 1)
        ctx.set(dut.ctl_rsp.ready, 1)
        clocks = 0
        while not ctx.get(dut.ctl_rsp.valid):
            taken = ctx.get(dut.ctl_cmd.ready)
            await ctx.tick()
            clocks += 1
            if taken:
                ctx.set(dut.ctl_cmd.valid, 0)
        value = ctx.get(dut.ctl_rsp.payload)
        await ctx.tick()
        return signed32(value), clocks

    async def bench(ctx):
        # Not allowed (a step runs): the command waits.
        ctx.set(dut.ctl_cmd.valid, 1)
        for _ in range(3):
            await ctx.tick()
            assert not ctx.get(dut.busy)
        ctx.set(dut.allowed, 1)
        nb, sb = 2, 3                   # neuron_bits(4), src_bits(3, 4)
        # IDLE, CTL (read_latency clocks), CTL_READ, then the response.
        assert await access(ctx, 1, Space.SETTING, Setting.W_MIN.value, -5) == (0, 3)
        assert (await access(ctx, 0, Space.SETTING, Setting.W_MIN.value))[0] == -5
        assert ctx.get(dut.settings).w_min == -5
        await access(ctx, 1, Space.SETTING, Setting.X_DECAY.value, 256)
        assert (await access(ctx, 0, Space.SETTING, Setting.X_DECAY.value))[0] == 256
        await access(ctx, 1, Space.WEIGHT, (6 << nb) | 3, -7)
        assert (await access(ctx, 0, Space.WEIGHT, (6 << nb) | 3))[0] == -7
        assert (await access(ctx, 0, Space.WEIGHT, (7 << nb) | 3))[0] == 0   # j = 7 >= S
        await access(ctx, 1, Space.NEURON, (NeuronField.VTH.value << nb) | 1, -1000)
        assert (await access(ctx, 0, Space.NEURON, (NeuronField.VTH.value << nb) | 1))[0] \
            == -1000
        await access(ctx, 1, Space.MASK, (1 << sb) | 2, 1)                  # neuron 2
        assert (await access(ctx, 0, Space.MASK, (1 << sb) | 2))[0] == 1
        assert (await access(ctx, 0, Space.MASK, 2))[0] == 0                # source 2
        await access(ctx, 1, Space.NEURON, (NeuronField.THETA.value << nb) | 3, 2**23 - 1)
        assert (await access(ctx, 0, Space.NEURON, (NeuronField.THETA.value << nb) | 3))[0] \
            == 2**23 - 1
        assert (await access(ctx, 0, Space.SETTING, Setting.TH_SHIFT.value))[0] == 24
        await access(ctx, 1, Space.SETTING, Setting.TH_IMP.value, 65535)
        assert (await access(ctx, 0, Space.SETTING, Setting.TH_IMP.value))[0] == 65535
        assert (await access(ctx, 0, Space.STATE, (StateField.U.value << sb) | 1))[0] == -6
        assert (await access(ctx, 0, Space.STATE, (StateField.X.value << sb) | 6))[0] == 9
        assert (await access(ctx, 0, Space.STATE, (StateField.X.value << sb) | 7))[0] == 0
        # COUNT: unsigned 16 bits.
        assert (await access(ctx, 0, Space.STATE, (StateField.COUNT.value << sb) | 2))[0] \
            == 65535
        assert (await access(ctx, 0, Space.STATE, (StateField.COUNT.value << sb) | 3))[0] == 7
        # INPUT: words of two inputs; one lane written; rates read back unsigned; index 3 is
        # not an input (lane 1 of word 1): it reads 0 and is not written.
        gen, rate = InputField.GEN.value << sb, InputField.RATE.value << sb
        assert (await access(ctx, 0, Space.INPUT, gen | 2))[0] == 3
        await access(ctx, 1, Space.INPUT, gen | 2, 0xDEADBEEF)
        await access(ctx, 1, Space.INPUT, gen | 3, 99)
        await access(ctx, 1, Space.INPUT, rate | 1, 65535)
        assert (await access(ctx, 0, Space.INPUT, gen | 2))[0] == signed32(0xDEADBEEF)
        assert (await access(ctx, 0, Space.INPUT, gen | 3))[0] == 0
        assert (await access(ctx, 0, Space.INPUT, rate | 1))[0] == 65535
        assert (await access(ctx, 0, Space.INPUT, rate | 0))[0] == 0
        assert [list(ctx.get(memories["gen"].data[w])) for w in range(2)] \
            == [[1, 2], [0xDEADBEEF, 4]]
        assert [list(ctx.get(memories["rate"].data[w])) for w in range(2)] == [[0, 65535], [0, 0]]
        # Counters: 3 steps, 5 clocks counted.
        for clock in range(5):
            ctx.set(dut.counting, 1)
            ctx.set(dut.stepped, clock < 3)
            await ctx.tick()
        ctx.set(dut.counting, 0)
        ctx.set(dut.stepped, 0)
        assert (await access(ctx, 0, Space.COUNTER, Counter.STEPS_LO.value))[0] == 3
        assert (await access(ctx, 0, Space.COUNTER, Counter.CYCLES_LO.value))[0] == 5
        await access(ctx, 1, Space.CONTROL, Control.CLEAR_COUNTERS.value, 1)
        assert (await access(ctx, 0, Space.COUNTER, Counter.STEPS_LO.value))[0] == 0
        # CONTROL.RESET: a word of each state memory a clock, max(G, HS, n_inputs) = 4.
        assert await access(ctx, 1, Space.CONTROL, Control.RESET.value, 1) == (0, 2 + 4)
        assert [ctx.get(memories["u"].data[g])[l] for g in range(2) for l in range(2)] == [0] * 4
        assert [ctx.get(memories["x"].data[h])[l].trace for h in range(4) for l in range(2)] \
            == [0] * 8
        assert [ctx.get(memories["in"].data[i]) for i in range(n_in)] == [0] * 3
        assert ctx.get(memories["theta"].data[1])[1] == 2**23 - 1      # kept by RESET
        assert ctx.get(memories["gen"].data[1])[0] == 0xDEADBEEF          # kept by RESET
        assert ctx.get(memories["count"].data[2]) == spec.COUNT_MAX       # kept by RESET

    simulate(top, bench)


def test_control_forget():
    """CONTROL.RESET pulses forget (the sequencer's last spikes); other commands do not."""
    dut = ControlAccess(1, 1, 1)
    pulses = []

    async def bench(ctx):
        ctx.set(dut.allowed, 1)
        ctx.set(dut.ctl_rsp.ready, 1)
        for space, addr in ((Space.CONTROL, Control.CLEAR_COUNTERS.value),
                            (Space.CONTROL, Control.RESET.value), (Space.SETTING, 0)):
            ctx.set(dut.ctl_cmd.payload, {"write": 1, "space": space, "addr": addr, "data": 1})
            ctx.set(dut.ctl_cmd.valid, 1)
            await ctx.tick()
            ctx.set(dut.ctl_cmd.valid, 0)
            for _ in range(6):
                pulses.append(ctx.get(dut.forget))
                await ctx.tick()
        assert sum(pulses) == 1 and pulses[6] == 1

    simulate(with_memories(dut, {}), bench)


def test_control_clear_counts():
    """CONTROL.CLEAR_COUNTS starts the counter's clearing once and answers when it is done."""
    dut = ControlAccess(1, 1, 1)
    busy_clocks = 5

    async def bench(ctx):
        ctx.set(dut.allowed, 1)
        ctx.set(dut.ctl_rsp.ready, 1)
        ctx.set(dut.ctl_cmd.payload, {"write": 1, "space": Space.CONTROL,
                                      "addr": Control.CLEAR_COUNTS.value, "data": 1})
        ctx.set(dut.ctl_cmd.valid, 1)
        starts, clock, busy_from = 0, 0, None
        while not ctx.get(dut.ctl_rsp.valid):
            if ctx.get(dut.clear_counts.start):
                starts, busy_from = starts + 1, clock + 1
            await ctx.tick()
            clock += 1
            ctx.set(dut.ctl_cmd.valid, 0)
            ctx.set(dut.clear_counts.busy,
                    busy_from is not None and clock < busy_from + busy_clocks)
            assert clock < 50
        assert starts == 1 and clock == busy_from + busy_clocks + 1

    simulate(with_memories(dut, {}), bench)


@pytest.mark.parametrize("features", [Feature(0), Feature.all() & ~Feature.GENERATORS,
                                      Feature.all() & ~Feature.COUNTS])
def test_control_without_stimulus(features):
    """Without GENERATORS there is no INPUT space, without COUNTS no COUNT field and
    CLEAR_COUNTS does nothing: their reads answer 0, their writes are taken and do nothing."""
    dut = ControlAccess(2, 2, 1, features=features)
    assert hasattr(dut, "gen_wr") == (Feature.GENERATORS in features)
    assert hasattr(dut, "count_rd") == hasattr(dut, "clear_counts") \
        == (Feature.COUNTS in features)
    answers = []

    async def bench(ctx):
        ctx.set(dut.allowed, 1)
        ctx.set(dut.ctl_rsp.ready, 1)
        commands = [(1, Space.CONTROL, Control.CLEAR_COUNTS.value), (1, Space.INPUT, 0),
                    (0, Space.INPUT, (InputField.GEN.value << 2) | 1),
                    (0, Space.STATE, (StateField.COUNT.value << 2) | 1)]
        for write, space, addr in commands:
            if Feature.COUNTS in features:
                ctx.set(dut.clear_counts.busy, 0)
            await send(ctx, dut.ctl_cmd, {"write": write, "space": space, "addr": addr,
                                          "data": 1})
            answers.append(await receive(ctx, dut.ctl_rsp))

    memories = {}
    if Feature.GENERATORS in features:
        memories = {"gen": words(GEN, 1, [[7], [8]]), "rate": words(RATE, 1, [[0], [0]])}
    if Feature.COUNTS in features:
        memories["count"] = Memory(shape=COUNT, depth=2, init=[3, 4])
    simulate(with_memories(dut, memories), bench)
    assert answers[:2] == [0, 0]
    assert answers[2] == (8 if Feature.GENERATORS in features else 0)
    assert answers[3] == (4 if Feature.COUNTS in features else 0)


# --- The addresses the link lets through ----------------------------------------------------

@pytest.mark.parametrize("features", [Feature.all(), Feature(0), Feature.GENERATORS,
                                      Feature.COUNTS])
def test_access_check_inputs_and_counts(features):
    """AccessCheck's INPUT space and STATE field COUNT answer as DeviceEmulator's do.

    5 inputs, 3 neurons (src_bits 3): every INPUT address of fields 0 … 3 read as a block of
    two (BAD_ADDRESS at 0 or 1: the next address is input 0 of the next field after input
    4) and written with values around each range (RATE 0 … 65535; GEN's 32 bits not all
    zero), and every STATE address of field COUNT read and written (read only).
    """
    n_in, N, sb = 5, 3, 3
    emu = DeviceEmulator(n_in, N, features=features)
    seqs = iter(range(1 << 16))
    values = [0, 1, -1, 65535, 65536, -65536, 0x7FFFFFFF, -(1 << 31)]

    def emulator(payload):
        (frame,) = protocol.FrameDecoder().feed(emu.feed(protocol.encode_frame(payload)))
        reply = protocol.parse_reply(frame)
        ok = reply.status == spec.Status.OK
        return reply.status, None if ok else protocol.parse_position(reply.data)

    def expected(*oks):
        for position, ok in enumerate(oks):
            if ok is not True:
                return (ok or spec.Status.BAD_ADDRESS), position
        return spec.Status.OK, None

    dut = AccessCheck(n_in, N, features=features)

    async def bench(ctx):
        async def check(write, space, addr, value=0):
            ctx.set(dut.write, write)
            ctx.set(dut.space, space.value)
            ctx.set(dut.addr, addr)
            ctx.set(dut.value, value)
            return ctx.get(dut.addr_ok), ctx.get(dut.value_ok), ctx.get(dut.next_addr)

        for field in range(4):
            for j in range(1 << sb):
                addr = (field << sb) | j
                ok, _, next_addr = await check(0, Space.INPUT, addr)
                next_ok, _, _ = await check(0, Space.INPUT, next_addr)
                payload = protocol.read_request(Space.INPUT, addr, 2, 4, seq=next(seqs) % 256)
                assert emulator(payload) == expected(bool(ok), bool(next_ok)), hex(addr)
                for value in values:
                    ok, value_ok, _ = await check(1, Space.INPUT, addr, value)
                    payload = protocol.write_request(Space.INPUT, addr, [value], 4,
                                                     seq=next(seqs) % 256)
                    want = expected(bool(ok) and (bool(value_ok) or spec.Status.BAD_VALUE))
                    assert emulator(payload) == want, (hex(addr), value)
        for j in range(1 << sb):
            addr = (StateField.COUNT.value << sb) | j
            for write in (0, 1):
                ok, _, _ = await check(write, Space.STATE, addr)
                seq = next(seqs) % 256
                payload = (protocol.write_request(Space.STATE, addr, [0], 2, seq=seq) if write
                           else protocol.read_request(Space.STATE, addr, 1, 2, seq=seq))
                assert emulator(payload) == expected(bool(ok)), (write, j)
        assert (Feature.GENERATORS in features) == bool((await check(0, Space.INPUT, 4))[0])
        assert (Feature.COUNTS in features) == bool((await check(0, Space.STATE, 6 << sb))[0])

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


# --- The step sequencer, through the whole core ----------------------------------------------

def test_sequencer_steps_a_hand_network():
    """A 2 + 2 network, stepped through the whole core, against model.Model.

    Step 1 (input 0): a0 = W[0, 0] = 60 > vth 50: neuron 0 spikes. Step 2 (input 0 three
    times and index 2, not an input: all but one dropped): neuron 0 is refractory; neuron 1
    gets W[0, 1] + W[2, 1] = 0 + 70 > 50 and spikes. Steps 3 and 4: the rows of neuron 1 and
    of input 1 are zero (before learning): no spikes. Weights and traces after learning are
    the model's.
    """
    net = Network(2, 2, seed=None)
    net.weights = np.array([[60, 0], [0, 0], [0, 70], [0, 0]])
    net.vth, net.bias, net.du, net.dv = [50, 50], [0, 0], [4096, 4096], [4096, 4096]
    net.t_ref, net.w_exp = [1, 0], 0
    net.learning = Learning(enabled=True, a_plus=128, a_minus=128, x_imp=100, y_imp=100,
                            x_decay=128, y_decay=128, w_min=-128, w_max=127)
    inputs = [[1, 0], [1, 0], [0, 0], [0, 1]]
    golden = model.Model(net)
    expected = [list(np.flatnonzero(golden.step(np.array(row, bool)))) for row in inputs]
    assert expected == [[0], [1], [], []]
    dut = Core(2, 2, lanes=1, weight_ports=1, neuron_latency=2, register_commands=False)

    async def command(ctx, write, space, addr, value=0):
        await send(ctx, dut.ctl_cmd, {"write": write, "space": space, "addr": addr,
                                      "data": value & 0xFFFFFFFF})
        return signed32(await receive(ctx, dut.ctl_rsp))

    async def bench(ctx):
        for j in range(4):
            for i in range(2):
                await command(ctx, 1, Space.WEIGHT, (j << 1) | i, int(net.weights[j, i]))
        for field in NeuronField:
            for i in range(2):
                value = int(getattr(net, field.name.lower())[i])
                await command(ctx, 1, Space.NEURON, (field.value << 1) | i, value)
        for name, value in dict(net.learning.as_dict(), w_exp=net.w_exp).items():
            await command(ctx, 1, Space.SETTING, Setting[name.upper()].value, int(value))
        for index in range(4):
            await command(ctx, 1, Space.MASK, index, 1)
        for index in range(2):
            await command(ctx, 1, Space.MASK, (1 << 2) | index, 1)
        await command(ctx, 1, Space.CONTROL, Control.RESET.value, 1)
        for t, row in enumerate(inputs):
            beats = [i for i in range(2) if row[i]]
            for index in (beats * 3 + [2] if t == 1 else beats):
                await send(ctx, dut.step_in, {"index": index, "end": 0})
            await send(ctx, dut.step_in, {"index": 0, "end": 1})
            spikes = []
            while not (beat := await receive(ctx, dut.spike_out)).end:
                spikes.append(beat.index)
            assert spikes == expected[t], f"step {t}"
        for j in range(4):
            for i in range(2):
                assert await command(ctx, 0, Space.WEIGHT, (j << 1) | i) == golden.W[j, i]
        for i in range(2):
            assert await command(ctx, 0, Space.STATE, (StateField.Y.value << 2) | i) \
                == golden.y[i]
        for j in range(4):
            assert await command(ctx, 0, Space.STATE, (StateField.X.value << 2) | j) \
                == golden.x[j]
        assert await command(ctx, 0, Space.COUNTER, Counter.STEPS_LO.value) == 4

    simulate(dut, bench)


@pytest.mark.parametrize("lanes", [1, 2])
def test_core_generators_and_counts(lanes):
    """A 2 + 2 network driven by input 0's generator (g 1, rate 2000), through the whole core.

    Input 0 has weight 60 to neuron 0 and 30 to neuron 1 (vth 50 each, no memory, t_ref 0).
    Its generator goes 1 → 270369 (top bits 4), 67634689 (1032), 2647435461 (40396): it
    fires in steps 1 and 2, not 3. Step 1 also streams input 0: delivered once, neuron 0
    spikes, neuron 1 gets 30, not 60, and x jumps once (x_imp 50, no decay: 150 after the
    three steps). Step 2: generated only; step 3: streamed only. Neuron 0 spikes in each:
    its count is 3, neuron 1's 0; CLEAR_COUNTS zeroes them; the generator state reads back
    2647435461.
    """
    net = Network(2, 2, seed=None)
    net.weights = np.array([[60, 30], [0, 0], [0, 0], [0, 0]])
    net.vth, net.du, net.dv, net.t_ref, net.w_exp = [50, 50], [4096] * 2, [4096] * 2, [0, 0], 0
    net.learning = Learning(enabled=False, x_imp=50, x_decay=256)
    net.rate, net.gen_state = [2000, 0], [1, 7]
    streamed = [[1, 0], [0, 0], [1, 0]]
    golden = model.Model(net)
    expected = [list(np.flatnonzero(golden.step(np.array(row, bool)))) for row in streamed]
    assert expected == [[0], [0], [0]] and list(golden.count) == [3, 0]
    assert golden.gen[0] == 2647435461 and golden.x[0] == 3 * 50
    dut = Core(2, 2, lanes=lanes, weight_ports=1, neuron_latency=2, register_commands=False)
    nb, sb = 1, 2                       # neuron_bits(2), src_bits(2, 2)

    async def command(ctx, write, space, addr, value=0):
        await send(ctx, dut.ctl_cmd, {"write": write, "space": space, "addr": addr,
                                      "data": value & 0xFFFFFFFF})
        return await receive(ctx, dut.ctl_rsp)

    async def bench(ctx):
        for j in range(4):
            for i in range(2):
                await command(ctx, 1, Space.WEIGHT, (j << nb) | i, int(net.weights[j, i]))
        for field in (NeuronField.VTH, NeuronField.DU, NeuronField.DV):
            for i in range(2):
                value = int(getattr(net, field.name.lower())[i])
                await command(ctx, 1, Space.NEURON, (field.value << nb) | i, value)
        for name, value in dict(net.learning.as_dict(), w_exp=net.w_exp).items():
            await command(ctx, 1, Space.SETTING, Setting[name.upper()].value, int(value))
        for field, values in ((InputField.RATE, net.rate), (InputField.GEN, net.gen_state)):
            for j in range(2):
                await command(ctx, 1, Space.INPUT, (field.value << sb) | j, int(values[j]))
        for t, row in enumerate(streamed):
            for index in np.flatnonzero(row):
                await send(ctx, dut.step_in, {"index": int(index), "end": 0})
            await send(ctx, dut.step_in, {"index": 0, "end": 1})
            spikes = []
            while not (beat := await receive(ctx, dut.spike_out)).end:
                spikes.append(beat.index)
            assert spikes == expected[t], f"step {t}"
        for j in range(2):
            assert await command(ctx, 0, Space.STATE, (StateField.X.value << sb) | j) \
                == golden.x[j]
        for i in range(2):
            assert await command(ctx, 0, Space.STATE, (StateField.COUNT.value << sb) | i) \
                == golden.count[i]
        assert await command(ctx, 0, Space.INPUT, (InputField.GEN.value << sb) | 0) \
            == golden.gen[0]
        assert await command(ctx, 0, Space.INPUT, (InputField.RATE.value << sb) | 0) == 2000
        await command(ctx, 1, Space.CONTROL, Control.CLEAR_COUNTS.value, 1)
        assert await command(ctx, 0, Space.STATE, (StateField.COUNT.value << sb) | 0) == 0

    simulate(dut, bench)


def test_core_generator_pass_cycles():
    """At rate 0 the generator pass adds words + 2 clocks to a step, and nothing else changes.

    4 inputs, 4 neurons, 2 lanes: 2 words of generators, 4 clocks a step. The same steps on
    a core built without GENERATORS count 5 · 4 = 20 cycles fewer, with the same spikes.
    """
    net = random_network(4, 4, 3)
    steps = random_inputs(5, 4, 3)
    cycles, spikes = {}, {}
    for features in (Feature.all(), Feature.all() & ~Feature.GENERATORS):
        dut = Core(4, 4, lanes=2, weight_ports=1, neuron_latency=2, register_commands=False,
                   features=features)

        async def bench(ctx):
            async def command(write, space, addr, value=0):
                await send(ctx, dut.ctl_cmd, {"write": write, "space": space, "addr": addr,
                                              "data": value & 0xFFFFFFFF})
                return await receive(ctx, dut.ctl_rsp)

            for j in range(8):
                for i in range(4):
                    await command(1, Space.WEIGHT, (j << 2) | i, int(net.weights[j, i]))
            for field in (NeuronField.VTH, NeuronField.BIAS, NeuronField.DU, NeuronField.DV):
                for i in range(4):
                    value = int(getattr(net, field.name.lower())[i])
                    await command(1, Space.NEURON, (field.value << 2) | i, value)
            await command(1, Space.SETTING, Setting.W_EXP.value, net.w_exp)
            got = []
            for row in steps:
                for index in np.flatnonzero(row):
                    await send(ctx, dut.step_in, {"index": int(index), "end": 0})
                await send(ctx, dut.step_in, {"index": 0, "end": 1})
                got.append([])
                while not (beat := await receive(ctx, dut.spike_out)).end:
                    got[-1].append(beat.index)
            spikes[features] = got
            cycles[features] = await command(0, Space.COUNTER, Counter.CYCLES_LO.value)

        simulate(dut, bench)
    with_gens, without = cycles.values()
    assert with_gens - without == 5 * (2 + 2)
    assert spikes[Feature.all()] == spikes[Feature.all() & ~Feature.GENERATORS]
    assert any(spikes[Feature.all()]), "no spikes: the steps would not show a difference"
