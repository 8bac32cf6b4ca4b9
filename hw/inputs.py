"""A step's external inputs: the delivered list ``dl_mem``, in arrival order, each input once.

Golden model: the input set of ``spikecore.model.Model.step`` (a set: repeats count once).
"""

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..spec import src_bits
from .checks import check_positive
from .interface import Event
from .ports import ReadRequest, Task, WriteRequest

__all__ = ["InputCollector"]


class InputCollector(wiring.Component):
    """Take a step's input beats into ``dl_mem``, dropping repeats and indices ``>= n_inputs``.

    An input's flag in ``in_mem`` says it is in the list already (the flags are cleared
    again as the step reads the list). Each beat is registered, then stored the next clock,
    off the sender's paths; ``in_mem`` is read as the beat is taken, transparently, so it
    sees the previous beat's flag. The task ends with the end beat taken (the clock that
    takes it stores the last index).

    Parameters
    ----------
    n_inputs, n_neurons : int
        The core's geometry (indices are ``src_bits`` wide).

    Members
    -------
    task : In(Task)
        *start* clears *count*.
    step_in : In(stream.Signature(Event(src_bits)))
    count : Out(range(n_inputs + 1))
        Entries of ``dl_mem`` (this step's inputs); kept until the next start.
    in_rd, in_wr : Out(ReadRequest(range(n_inputs), 1)), Out(WriteRequest(range(n_inputs), 1))
    dl_wr : Out(WriteRequest(range(n_inputs), src_bits))
    """
    def __init__(self, n_inputs, n_neurons):
        check_positive(n_inputs=n_inputs, n_neurons=n_neurons)
        self.n_inputs, self.n_neurons = n_inputs, n_neurons
        sb = src_bits(n_inputs, n_neurons)
        super().__init__({
            "task": In(Task()), "step_in": In(stream.Signature(Event(sb))),
            "count": Out(range(n_inputs + 1)),
            "in_rd": Out(ReadRequest(range(n_inputs), 1)),
            "in_wr": Out(WriteRequest(range(n_inputs), 1)),
            "dl_wr": Out(WriteRequest(range(n_inputs), unsigned(sb))),
        })

    def elaborate(self, platform):
        m = Module()
        beat = self.step_in
        run = Signal()
        valid = Signal()                        # a registered beat (not the end) to store
        index = Signal.like(beat.payload.index)
        with m.If(run):
            m.d.comb += [beat.ready.eq(1), self.in_rd.en.eq(1),
                         self.in_rd.addr.eq(beat.payload.index)]
            m.d.sync += [valid.eq(beat.valid & ~beat.payload.end),
                         index.eq(beat.payload.index)]
            with m.If(valid & (index < self.n_inputs) & ~self.in_rd.data):
                m.d.comb += [self.dl_wr.addr.eq(self.count), self.dl_wr.data.eq(index),
                             self.dl_wr.en.eq(1), self.in_wr.addr.eq(index),
                             self.in_wr.data.eq(1), self.in_wr.en.eq(1)]
                m.d.sync += self.count.eq(self.count + 1)
            with m.If(beat.valid & beat.payload.end):
                m.d.sync += run.eq(0)
        with m.If(self.task.start):
            m.d.sync += [run.eq(1), self.count.eq(0)]
        m.d.comb += self.task.busy.eq(run)
        return m
