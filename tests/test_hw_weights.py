"""Amaranth-simulator tests of the skewed weight store (hw/weights.py) against a numpy matrix."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from spikecore.hw.weights import WeightStore


@pytest.mark.parametrize("registered", [False, True])
@pytest.mark.parametrize("n_rows,n_neurons,lanes", [(8, 8, 4), (12, 4, 4), (6, 6, 1),
                                                    (16, 8, 8), (4, 8, 2), (24, 12, 4)])
def test_row_and_column_slices(n_rows, n_neurons, lanes, registered):
    """Slices written in row and column mode read back right in both modes, a read issued
    every clock and its slice arriving read_latency clocks later."""
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    dut = WeightStore(n_rows, n_neurons, lanes, registered=registered)
    assert dut.read_latency == (3 if registered else 1)
    W = np.zeros((n_rows, n_neurons), dtype=np.int64)

    def slice_of(col, j, i):
        if col:
            return [(j + l, i) for l in range(lanes)]
        return [(j, i + l) for l in range(lanes)]

    def random_slice():
        col = int(rng.integers(2))
        if col:
            return col, int(rng.integers(n_rows // lanes)) * lanes, int(rng.integers(n_neurons))
        return col, int(rng.integers(n_rows)), int(rng.integers(n_neurons // lanes)) * lanes

    def set_access(ctx, port, col, j, i):
        ctx.set(port.col, col)
        ctx.set(port.j, j)
        ctx.set(port.i, i)

    async def read_back(ctx, col, j, i):
        set_access(ctx, dut.rd, col, j, i)
        for _ in range(dut.read_latency):
            await ctx.tick()
        return [ctx.get(dut.rd_data[l]) for l in range(lanes)]

    async def bench(ctx):
        issued = []          # (slice, contents when issued, clashes with that clock's write)
        checked = 0
        for n in range(200 + dut.read_latency):
            if n < 200:
                # Write a random slice, some lanes masked ...
                col, j, i = random_slice()
                values = rng.integers(-128, 128, lanes)
                enables = rng.integers(2, size=lanes)
                set_access(ctx, dut.wr, col, j, i)
                for l in range(lanes):
                    ctx.set(dut.wr_data[l], int(values[l]))
                ctx.set(dut.wr_en, int(sum(int(e) << l for l, e in enumerate(enables))))
                # ... and read another in the same clock: its contents at that clock come
                # back unless that clock's write touched it.
                read = random_slice()
                set_access(ctx, dut.rd, *read)
                written = {s for s, e in zip(slice_of(col, j, i), enables) if e}
                issued.append((read, [W[a, b] for a, b in slice_of(*read)],
                               bool(set(slice_of(*read)) & written)))
            await ctx.tick()
            ctx.set(dut.wr_en, 0)
            if n < 200:
                for (a, b), value, enable in zip(slice_of(col, j, i), values, enables):
                    if enable:
                        W[a, b] = value
            due = n + 1 - dut.read_latency
            if 0 <= due < len(issued):
                read, before, clash = issued[due]
                if not clash:
                    got = [ctx.get(dut.rd_data[l]) for l in range(lanes)]
                    assert got == before, f"seed {seed}: slice {read} issued at clock {due}"
                    checked += 1
        assert checked > 100
        # Everything reads back, by rows and by columns.
        for j in range(n_rows):
            for g in range(n_neurons // lanes):
                got = await read_back(ctx, 0, j, g * lanes)
                assert got == list(W[j, g * lanes:(g + 1) * lanes]), f"seed {seed}: row {j}"
        for i in range(n_neurons):
            for h in range(n_rows // lanes):
                got = await read_back(ctx, 1, h * lanes, i)
                assert got == list(W[h * lanes:(h + 1) * lanes, i]), f"seed {seed}: col {i}"
        assert np.any(W != 0)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("args,message", [
    ((8, 8, 3), "lanes must be a power of two, not 3"),
    ((6, 8, 4), r"n_rows \(6\) and n_neurons \(8\) must be multiples of lanes \(4\)"),
    ((0, 8, 1), "n_rows must be a positive integer, not 0"),
    ((8, 8, 2, True, True), "registered reads need dual-port banks"),
])
def test_arguments_checked(args, message):
    with pytest.raises(ValueError, match=message):
        WeightStore(*args)
