"""cocotb testbench of ``spikecore.hw.core.Core`` against the golden model.

Parameters come from the ``TB_PARAMS`` environment variable (JSON): ``n_inputs``,
``n_neurons``, ``steps``, ``seeds``, ``stall_steps`` (steps run with random backpressure),
``features`` (the core's ``spikecore.spec.Feature`` value: random networks use model v2's
fields only when it has them all, and their generators' rates and states with
``GENERATORS``; the spike counts are compared with ``COUNTS``).
"""

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.queue import Queue
from cocotb.triggers import RisingEdge

from spikecore import spec
from spikecore.model import Model, generate_steps
from spikecore.spec import (Control, Counter, Feature, InputField, NeuronField, Setting, Space,
                            StateField, fields_of, neuron_bits, settings_of, src_bits)
from randnet import random_inputs, random_network
from streams import StreamDriver, StreamMonitor, StreamSink

PARAMS = json.loads(os.environ.get("TB_PARAMS", "{}"))
FEATURES = Feature(PARAMS.get("features", Feature.all().value))
GENERATORS, COUNTS = Feature.GENERATORS in FEATURES, Feature.COUNTS in FEATURES
V2 = FEATURES | Feature.GENERATORS | Feature.COUNTS == Feature.all()


def setting_values(net):
    """Return {Setting: value} of *net* (w_exp_rec: its effective value)."""
    lr = net.learning
    values = {Setting.W_EXP: net.w_exp,
              Setting.W_EXP_REC: net.w_exp if net.w_exp_rec is None else net.w_exp_rec}
    return {s: int(values[s] if s in values else getattr(lr, s.name.lower())) for s in Setting}


def pack_cmd(write, space, addr, data):
    """Pack a ``CtlCommand`` (write, space, addr, data from bit 0 up)."""
    return ((int(write) | (int(space.value) << 1) | ((addr & ((1 << spec.ADDR_BITS) - 1)) << 5)
             | ((data & ((1 << spec.DATA_BITS) - 1)) << (5 + spec.ADDR_BITS))))


def signed32(value):
    return value - (1 << 32) if value & (1 << 31) else value


class TB:
    """Clock, reset, stream drivers and monitors around one core, and the golden model.

    The input monitor feeds every step the core takes (its ``step_in`` beats) to the model;
    the output monitor gathers each step's spikes; a checker compares the two, step by step.
    ``load`` gives the model its network.
    """

    def __init__(self, dut, n_inputs, n_neurons):
        self.dut = dut
        self.n_inputs, self.n_neurons = n_inputs, n_neurons
        self.n_src = n_inputs + n_neurons
        self.nb = neuron_bits(n_neurons)
        self.sb = src_bits(n_inputs, n_neurons)
        self.model = None
        self.expected, self.got = Queue(), Queue()
        self.sent = self.checked = 0            # steps sent, steps compared
        self.last = None                        # the spikes of the last step compared
        self._inputs, self._spikes = [], []

    async def start(self):
        dut = self.dut
        Clock(dut.clk, 10, unit="ns").start()
        self.ctl = StreamDriver(dut, "ctl_cmd")
        self.inputs = StreamDriver(dut, "step_in")
        self.rsp = StreamSink(dut, "ctl_rsp")
        dut.spike_out__ready.value = 1
        StreamMonitor(dut, "step_in", self._input_beat)
        StreamMonitor(dut, "spike_out", self._spike_beat)
        cocotb.start_soon(self._check())
        await self.reset()

    async def reset(self, clocks=3):
        """Hold the core's reset: a step cut short is forgotten (the model too needs a load)."""
        self.dut.rst.value = 1
        for _ in range(clocks):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        self._inputs, self._spikes, self.model = [], [], None
        await RisingEdge(self.dut.clk)

    def _input_beat(self, beat):
        """Input monitor: a step's indices, then at its end beat the model's step."""
        if not beat >> self.sb:
            self._inputs.append(beat)
            return
        row = np.zeros(self.n_inputs, dtype=bool)
        row[[i for i in self._inputs if i < self.n_inputs]] = True   # others are ignored
        self._inputs = []
        assert self.model is not None, "a step was sent before a network was loaded"
        self.expected.put_nowait(self.model.step(row))

    def _spike_beat(self, beat):
        """Output monitor: a step's spikes, until its end beat."""
        if not beat >> self.nb:
            self._spikes.append(beat & ((1 << self.nb) - 1))
            return
        self.got.put_nowait(self._spikes)
        self._spikes = []

    async def _check(self):
        """Checker: each step's spikes, in increasing order, equal the model's."""
        while True:
            want, indices = await self.expected.get(), await self.got.get()
            assert indices == sorted(set(indices)), f"step {self.checked}: spikes {indices}"
            got = np.zeros(self.n_neurons, dtype=bool)
            got[indices] = True
            assert np.array_equal(got, want), (f"step {self.checked}: spikes {indices} != "
                                               f"{[int(i) for i in np.flatnonzero(want)]}")
            self.last = got
            self.checked += 1

    async def access(self, write, space, addr, data=0):
        await self.ctl.send(pack_cmd(write, space, addr, data))
        return signed32(await self.rsp.receive())

    async def write(self, space, addr, data):
        assert await self.access(1, space, addr, data) == 0

    async def read(self, space, addr):
        return await self.access(0, space, addr)

    # --- whole-network helpers ---------------------------------------------------------------

    async def load(self, net):
        nb, sb = self.nb, self.sb
        for j in range(self.n_src):
            for i in range(self.n_neurons):
                await self.write(Space.WEIGHT, (j << nb) | i, int(net.weights[j, i]))
        assert not net.features() & ~FEATURES, "the network needs features the core lacks"
        fields = {f: getattr(net, f.name.lower()) for f in fields_of(FEATURES)}
        for field, values in fields.items():
            for i in range(self.n_neurons):
                await self.write(Space.NEURON, (field.value << nb) | i, int(values[i]))
        settings = {s: value for s, value in setting_values(net).items()
                    if s in settings_of(FEATURES)}
        for setting, value in settings.items():
            await self.write(Space.SETTING, setting.value, int(value))
        for j in range(self.n_src):
            await self.write(Space.MASK, j, int(net.plastic_src[j]))
        for i in range(self.n_neurons):
            await self.write(Space.MASK, (1 << sb) | i, int(net.plastic_dst[i]))
        if GENERATORS:
            for field, values in ((InputField.RATE, net.rate), (InputField.GEN, net.gen_state)):
                for j in range(self.n_inputs):
                    await self.write(Space.INPUT, (field.value << sb) | j, int(values[j]))
        await self.write(Space.CONTROL, Control.RESET.value, 1)
        if COUNTS:
            await self.write(Space.CONTROL, Control.CLEAR_COUNTS.value, 1)
        self.model = Model(net)
        return settings, fields

    async def step(self, inputs):
        """Send one step's inputs (with a duplicate and a non-input index, which the core
        ignores); return its spikes once the checker has compared them."""
        indices = [int(i) for i in np.flatnonzero(inputs)]
        indices[1:1] = indices[:1]
        if self.n_inputs < (1 << self.sb):
            indices.append(self.n_inputs)
        for index in indices + [1 << self.sb]:
            await self.inputs.send(index)
        self.sent += 1
        while self.checked < self.sent:
            await RisingEdge(self.dut.clk)
        return self.last

    async def read_weights(self):
        W = np.zeros((self.n_src, self.n_neurons), dtype=np.int64)
        for j in range(self.n_src):
            for i in range(self.n_neurons):
                W[j, i] = await self.read(Space.WEIGHT, (j << self.nb) | i)
        return W

    async def read_state(self, field, count):
        return np.array([await self.read(Space.STATE, (field.value << self.sb) | i)
                         for i in range(count)], dtype=np.int64)

    async def check_state(self, model):
        n = self.n_neurons
        for field, expected in ((StateField.U, model.u), (StateField.V, model.v),
                                (StateField.REF, model.ref), (StateField.Y, model.y),
                                (StateField.SPIKED, model.s_prev.astype(np.int64))):
            got = await self.read_state(field, n)
            assert np.array_equal(got, expected), f"{field.name}: {got} != {expected}"
        got = await self.read_state(StateField.X, self.n_src)
        assert np.array_equal(got, model.x), f"X: {got} != {model.x}"
        if Feature.THETA in FEATURES:
            got = np.array([await self.read(Space.NEURON, (NeuronField.THETA.value << self.nb) | i)
                            for i in range(n)], dtype=np.int64)
            assert np.array_equal(got, model.theta), f"THETA: {got} != {model.theta}"
        if COUNTS:
            got = await self.read_state(StateField.COUNT, n)
            assert np.array_equal(got, model.count), f"COUNT: {got} != {model.count}"
        if GENERATORS:
            for field, expected in ((InputField.RATE, model.rate), (InputField.GEN, model.gen)):
                got = np.array([await self.read(Space.INPUT, (field.value << self.sb) | j)
                                for j in range(self.n_inputs)], dtype=np.int64) & spec.GEN_MAX
                assert np.array_equal(got, expected), f"{field.name}: {got} != {expected}"

    async def stall_driver(self, rng):
        while True:
            self.dut.spike_out__ready.value = int(rng.random() < 0.3)
            await RisingEdge(self.dut.clk)


@cocotb.test()
async def random_networks(dut):
    """Random networks driven through the control interface match the model every step."""
    n_inputs, n_neurons = PARAMS["n_inputs"], PARAMS["n_neurons"]
    tb = TB(dut, n_inputs, n_neurons)
    await tb.start()
    compared = 0
    for seed in PARAMS["seeds"]:
        learning = seed % 2 == 1
        dut._log.info(f"seed {seed}, {n_inputs}+{n_neurons}, learning {learning}")
        net = random_network(n_inputs, n_neurons, seed, learning=learning, v2=V2,
                             stimulus=GENERATORS)
        await tb.load(net)
        model = tb.model
        W0 = await tb.read_weights()
        assert np.array_equal(W0, net.weights), "weights read back differ from those written"
        inputs = random_inputs(PARAMS["steps"], n_inputs, seed)
        generated = generate_steps(model.gen, model.rate, len(inputs))[1]
        assert generated.any() == GENERATORS, "the generators would go untested"
        stall = None
        if PARAMS.get("stall_steps"):
            stall = cocotb.start_soon(tb.stall_driver(random.Random(seed)))
        spike_count = 0
        for t, row in enumerate(inputs):
            if stall is not None and t == PARAMS["stall_steps"]:
                stall.cancel()
                dut.spike_out__ready.value = 1
                stall = None
            spike_count += int((await tb.step(row)).sum())
            compared += n_neurons
        W = await tb.read_weights()
        assert np.array_equal(W, model.W), f"seed {seed}: weights differ"
        await tb.check_state(model)
        assert spike_count > 0, f"seed {seed}: no spikes, the test would be vacuous"
        if learning and net.learning.a_plus + net.learning.a_minus > 0:
            assert not np.array_equal(W, net.weights), f"seed {seed}: learning changed nothing"
        lo = await tb.read(Space.COUNTER, Counter.STEPS_LO.value)
        hi = await tb.read(Space.COUNTER, Counter.STEPS_HI.value)
        cycles = await tb.read(Space.COUNTER, Counter.CYCLES_LO.value) & 0xFFFFFFFF
        assert hi == 0 and lo > 0 and cycles > lo
        # Reset keeps weights (and the generators and counts), zeroes state.
        await tb.write(Space.CONTROL, Control.RESET.value, 1)
        model.reset()
        await tb.check_state(model)
        assert np.array_equal(await tb.read_weights(), model.W)
        if COUNTS:
            assert model.count.any(), f"seed {seed}: no counts, the test would be vacuous"
            await tb.write(Space.CONTROL, Control.CLEAR_COUNTS.value, 1)
            model.clear_counts()
            await tb.check_state(model)
        dut._log.info(f"seed {seed}: {spike_count} spikes, "
                      f"{int((W != net.weights).sum())} weights changed")
    dut._log.info(f"neuron-steps compared: {compared}")


@cocotb.test()
async def reset_mid_step(dut):
    """A device reset cuts a step's inputs short; after a new load the steps are exact again.

    The core's memories keep their contents through a reset (only registers are reset), so
    the input flags that the cut-short step set must be cleared by the load's CONTROL.RESET;
    otherwise those inputs would count as duplicates from then on.
    """
    n_inputs, n_neurons = PARAMS["n_inputs"], PARAMS["n_neurons"]
    tb = TB(dut, n_inputs, n_neurons)
    await tb.start()
    net = random_network(n_inputs, n_neurons, 99, learning=True, v2=V2, stimulus=GENERATORS)
    assert net.learning.x_imp > 0, "the pre-traces would not show a dropped input"
    await tb.load(net)
    for index in range(n_inputs):
        await tb.inputs.send(index)
    await tb.reset(clocks=2)
    await tb.load(net)
    for _ in range(3):
        await tb.step(np.ones(n_inputs, dtype=bool))
    assert tb.checked == 3
    await tb.check_state(tb.model)


@cocotb.test()
async def control_readback(dut):
    """Every kind of data written through the control interface reads back; bad addresses."""
    n_inputs, n_neurons = PARAMS["n_inputs"], PARAMS["n_neurons"]
    tb = TB(dut, n_inputs, n_neurons)
    await tb.start()
    nb, sb = tb.nb, tb.sb
    rng = random.Random(7)
    for _ in range(40):
        j, i, w = rng.randrange(tb.n_src), rng.randrange(n_neurons), rng.randint(-128, 127)
        await tb.write(Space.WEIGHT, (j << nb) | i, w)
        assert await tb.read(Space.WEIGHT, (j << nb) | i) == w
    for field in fields_of(FEATURES):
        name = field.name.lower()
        low, high = spec.NEURON_RANGES[name]
        for value in (low, high, (low + high) // 2):
            i = rng.randrange(n_neurons)
            await tb.write(Space.NEURON, (field.value << nb) | i, value)
            assert await tb.read(Space.NEURON, (field.value << nb) | i) == value, name
    for setting in settings_of(FEATURES):
        low, high = spec.SETTING_RANGES[setting]
        for value in (low, high):
            await tb.write(Space.SETTING, setting.value, value)
            assert await tb.read(Space.SETTING, setting.value) == value, setting.name
    for j in range(tb.n_src):
        await tb.write(Space.MASK, j, j % 2)
    for i in range(n_neurons):
        await tb.write(Space.MASK, (1 << sb) | i, (i + 1) % 2)
    for j in range(tb.n_src):
        assert await tb.read(Space.MASK, j) == j % 2
    for i in range(n_neurons):
        assert await tb.read(Space.MASK, (1 << sb) | i) == (i + 1) % 2
    if GENERATORS:
        edges = {InputField.RATE: (0, spec.RATE_MAX, 6554),
                 InputField.GEN: (1, spec.GEN_MAX, 1 << 31)}
        for field, values in edges.items():
            for value in values:
                j = rng.randrange(n_inputs)
                await tb.write(Space.INPUT, (field.value << sb) | j, value)
                got = await tb.read(Space.INPUT, (field.value << sb) | j) & spec.GEN_MAX
                assert got == value, field.name
        assert await tb.read(Space.INPUT, 2 << sb) == 0                    # no field 2
        if n_inputs < 1 << sb:
            assert await tb.read(Space.INPUT, (InputField.GEN.value << sb) | n_inputs) == 0
    if COUNTS:
        await tb.write(Space.CONTROL, Control.CLEAR_COUNTS.value, 1)
        assert not (await tb.read_state(StateField.COUNT, n_neurons)).any()
    # Out of the map: reads 0, writes nothing.
    await tb.write(Space.WEIGHT, (1 << nb) | 0, 5)
    await tb.write(Space.WEIGHT, (tb.n_src << nb) | 0, 9)
    assert await tb.read(Space.WEIGHT, (tb.n_src << nb) | 0) == 0
    assert await tb.read(Space.WEIGHT, (1 << nb) | 0) == 5
    assert await tb.read(Space.SETTING, 15) == 0
    assert await tb.read(Space.COUNTER, Counter.STEPS_LO.value) == 0
    assert await tb.read(Space.CONTROL, 0) == 0
