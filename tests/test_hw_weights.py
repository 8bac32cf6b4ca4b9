"""Amaranth-simulator tests of the skewed weight store (hw/weights.py) against a numpy matrix."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from spikecore.hw.weights import WeightStore


@pytest.mark.parametrize("n_rows,n_neurons,lanes", [(8, 8, 4), (12, 4, 4), (6, 6, 1),
                                                    (16, 8, 8), (4, 8, 2)])
def test_row_and_column_slices(n_rows, n_neurons, lanes):
    """Slices written in row and column mode read back right in both modes."""
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    dut = WeightStore(n_rows, n_neurons, lanes)
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

    async def bench(ctx):
        for _ in range(200):
            # Write a random slice, some lanes masked.
            col, j, i = random_slice()
            values = rng.integers(-128, 128, lanes)
            enables = rng.integers(2, size=lanes)
            ctx.set(dut.wr.col, col)
            ctx.set(dut.wr.j, j)
            ctx.set(dut.wr.i, i)
            for l in range(lanes):
                ctx.set(dut.wr_data[l], int(values[l]))
            ctx.set(dut.wr_en, int(sum(int(e) << l for l, e in enumerate(enables))))
            # Read another slice in the same clock (its old contents must come back).
            rcol, rj, ri = random_slice()
            ctx.set(dut.rd.col, rcol)
            ctx.set(dut.rd.j, rj)
            ctx.set(dut.rd.i, ri)
            before = [W[a, b] for a, b in slice_of(rcol, rj, ri)]
            clashes = set(slice_of(rcol, rj, ri)) & {
                s for s, e in zip(slice_of(col, j, i), enables) if e}
            await ctx.tick()
            ctx.set(dut.wr_en, 0)
            for (a, b), value, enable in zip(slice_of(col, j, i), values, enables):
                if enable:
                    W[a, b] = value
            got = [ctx.get(dut.rd_data[l]) for l in range(lanes)]
            if not clashes:
                assert got == before, f"seed {seed}: slice {(rcol, rj, ri)}"
        # Everything reads back, by rows and by columns.
        for j in range(n_rows):
            for g in range(n_neurons // lanes):
                ctx.set(dut.rd.col, 0)
                ctx.set(dut.rd.j, j)
                ctx.set(dut.rd.i, g * lanes)
                await ctx.tick()
                got = [ctx.get(dut.rd_data[l]) for l in range(lanes)]
                assert got == list(W[j, g * lanes:(g + 1) * lanes]), f"seed {seed}: row {j}"
        for i in range(n_neurons):
            for h in range(n_rows // lanes):
                ctx.set(dut.rd.col, 1)
                ctx.set(dut.rd.j, h * lanes)
                ctx.set(dut.rd.i, i)
                await ctx.tick()
                got = [ctx.get(dut.rd_data[l]) for l in range(lanes)]
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
])
def test_arguments_checked(args, message):
    with pytest.raises(ValueError, match=message):
        WeightStore(*args)
