"""Step 1's input generators: an xorshift32 per input that fires at a rate set per input.

Golden model: ``spikecore.model.xorshift32`` and ``spikecore.model.generate`` (docs/model.md,
"Input generators and spike counts").
"""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .. import spec
from ..spec import src_bits
from .checks import check_lanes, check_positive
from .interface import Event
from .ports import ReadRequest, WriteRequest
from .spikes import lowest_set

__all__ = ["GEN", "RATE", "xorshift32", "generator_words", "Generators"]

GEN = unsigned(spec.GEN_BITS)
RATE = unsigned(spec.RATE_BITS)


def xorshift32(g):
    """Return ``xorshift32(g)`` of docs/model.md for a 32-bit value *g*: three xor-shift stages.

    ``g ^= g << 13; g ^= g >> 17; g ^= g << 5``, each shift modulo 2**32 (``spec.XORSHIFT``):
    wiring and XOR gates only.
    """
    first, second, third = spec.XORSHIFT
    g = g ^ (g << first)[:spec.GEN_BITS]
    g = g ^ (g >> second)
    return (g ^ (g << third)[:spec.GEN_BITS])[:spec.GEN_BITS]


def generator_words(n_inputs, lanes):
    """Return the words of the generator memories: ``ceil(n_inputs / lanes)``."""
    return -(-n_inputs // lanes)


class Generators(wiring.Component):
    """Add a step's generated inputs to its input beats, between the streamed ones and the end.

    Streamed beats pass through unchanged. When a step's end beat arrives it is held while
    the generator pass runs: the generator states ``g`` and the rates are read a word of
    *lanes* inputs a clock (lane l of word w: input ``w·lanes + l``), every ``g`` is advanced
    (``xorshift32``) and written back, and the inputs whose new state has its top 16 bits
    below their rate fire: one beat each, in increasing order, one a clock (the scan waits
    while a word still has beats to send). Then the end beat passes. Lanes beyond
    *n_inputs* in the last word never fire. The receiver drops an input that is both streamed
    and generated the second time (``InputCollector``): it is delivered once.

    The pass starts once *step_out* is ready with the end beat waiting (in the core: the
    collector runs, so no control command can reach the memories). With a receiver always
    ready the end beat leaves ``words + 2`` clocks later than it would pass straight through,
    plus a clock for each generated input beyond the first of its word: a clock to read word
    0, one a word, one to see the pass done.

    Parameters
    ----------
    n_inputs, n_neurons : int
        The core's geometry (beats carry ``src_bits`` indices).
    lanes : int
        Inputs a word: a power of two.

    Members
    -------
    step_in : In(stream.Signature(Event(src_bits)))
        A step's streamed inputs, then its end beat.
    step_out : Out(stream.Signature(Event(src_bits)))
        The same, the generated inputs before the end beat.
    gen_rd, gen_wr : Out(ReadRequest(range(words), ArrayLayout(32, lanes))),
            Out(WriteRequest(range(words), ArrayLayout(32, lanes), lanes))
        The generator states (``words = ceil(n_inputs / lanes)``).
    rate_rd : Out(ReadRequest(range(words), ArrayLayout(16, lanes)))
        The rates.
    """
    def __init__(self, n_inputs, n_neurons, lanes):
        check_positive(n_inputs=n_inputs, n_neurons=n_neurons)
        check_lanes(lanes)
        self.n_inputs, self.n_neurons, self.lanes = n_inputs, n_neurons, lanes
        self.words = W = generator_words(n_inputs, lanes)
        event = Event(src_bits(n_inputs, n_neurons))
        gens, rates = data.ArrayLayout(GEN, lanes), data.ArrayLayout(RATE, lanes)
        super().__init__({
            "step_in": In(stream.Signature(event)), "step_out": Out(stream.Signature(event)),
            "gen_rd": Out(ReadRequest(range(W), gens)),
            "gen_wr": Out(WriteRequest(range(W), gens, lanes)),
            "rate_rd": Out(ReadRequest(range(W), rates)),
        })

    def elaborate(self, platform):
        m = Module()
        L, W, lb = self.lanes, self.words, ceil_log2(self.lanes)
        i, o = self.step_in, self.step_out
        k = Signal(range(W + 1))            # the word on the read ports (the next to load)
        w = Signal(range(W))                # the word whose hits are in mask
        mask = Signal(L)                    # its generated inputs not sent yet
        # The read address is k, or k + 1 when a word loads (0 past the last word): both kept
        # in registers, so that the load decision only selects between them.
        here, after = Signal(range(W)), Signal(range(W))
        addr = Signal(range(W))

        def wrapped(word):
            return Mux(word < W, word, 0)

        # Lanes beyond n_inputs in the last word never fire.
        last_lanes = (1 << (self.n_inputs - (W - 1) * L)) - 1
        m.d.comb += [self.gen_rd.addr.eq(addr), self.rate_rd.addr.eq(addr),
                     self.gen_wr.addr.eq(k)]

        with m.FSM():
            with m.State("PASS"):
                # Streamed beats pass; the end beat waits for the pass (word 0 is read now).
                m.d.comb += [o.valid.eq(i.valid & ~i.payload.end), o.payload.eq(i.payload),
                             i.ready.eq(o.ready & ~i.payload.end)]
                with m.If(i.valid & i.payload.end & o.ready):
                    m.d.comb += [self.gen_rd.en.eq(1), self.rate_rd.en.eq(1)]
                    m.d.sync += [k.eq(0), mask.eq(0), here.eq(0), after.eq(wrapped(1))]
                    m.next = "SCAN"

            with m.State("SCAN"):
                low = lowest_set(m, mask)
                rest = mask & (mask - 1)
                taken = (mask != 0) & o.ready
                load = (k < W) & ((mask == 0) | (taken & (rest == 0)))
                m.d.comb += [o.valid.eq(mask != 0),
                             o.payload.index.eq(Cat(low[:lb], w) if lb else w),
                             self.gen_rd.en.eq(1), self.rate_rd.en.eq(1),
                             addr.eq(Mux(load, after, here))]
                with m.If(taken):
                    m.d.sync += mask.eq(rest)
                with m.If(load):
                    hits = Signal(L)
                    for l in range(L):
                        g = xorshift32(self.gen_rd.data[l])
                        m.d.comb += [self.gen_wr.data[l].eq(g),
                                     hits[l].eq(g[spec.GEN_BITS - spec.RATE_BITS:]
                                                < self.rate_rd.data[l])]
                    m.d.comb += self.gen_wr.en.eq((1 << L) - 1)
                    m.d.sync += [mask.eq(hits & Mux(k == W - 1, last_lanes, (1 << L) - 1)),
                                 w.eq(k), k.eq(k + 1), here.eq(after),
                                 after.eq(wrapped(k + 2))]
                with m.If((k == W) & ((mask == 0) | (taken & (rest == 0)))):
                    m.next = "END"

            with m.State("END"):
                m.d.comb += [o.valid.eq(i.valid), o.payload.eq(i.payload), i.ready.eq(o.ready)]
                with m.If(i.valid & o.ready):
                    m.next = "PASS"
        return m
