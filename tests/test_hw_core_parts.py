"""Amaranth-simulator tests of the core's parts against the golden model, on hand-derived cases.

Each part runs with real memories on its request ports (``with_memories``); the expected values
are written out so that they can be checked on paper, and compared with the model function of
the same meaning (``trace_decay``, ``sat8u``, ``neuron_update``, ``stdp_update``, ``Model``).
"""

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.lib import data
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from spikecore import model
from spikecore.hw.control import ControlAccess, Settings
from spikecore.hw.core import Core
from spikecore.hw.groups import GroupUpdate
from spikecore.hw.inputs import InputCollector
from spikecore.hw.plasticity import SliceUpdate
from spikecore.hw.ports import XWord, YWord, share_read, share_write
from spikecore.hw.sequencer import StepSequencer
from spikecore.hw.spikes import SpikeEmitter, SpikeLister
from spikecore.hw.traces import PostTraceJump, PreTraceDecay, PreTraceJump
from spikecore.hw.weights import WeightStore
from spikecore.network import Learning, Network
from spikecore.spec import Control, Counter, NeuronField, Setting, Space, StateField


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
