"""The core's control and step interfaces, shared by the core (``core.py``) and the link.

The link layer drives the core only through these streams; it needs to know nothing of the
core's internals. ``spikecore.spec`` holds the address map.
"""

from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..spec import ADDR_BITS, DATA_BITS, Space, neuron_bits, src_bits

__all__ = ["CtlCommand", "Event", "CoreSignature"]


class CtlCommand(data.Struct):
    """One configuration access: a read (``write == 0``) or a write of *data* at *addr*."""
    write: 1
    space: Space
    addr:  ADDR_BITS
    data:  DATA_BITS


def Event(index_bits):
    """Return the layout of one beat of a step's event list.

    A step's set is sent as one beat per member (``end == 0``, *index* the member) followed by
    one beat with ``end == 1`` (its *index* is ignored). The empty set is a lone end beat.
    """
    return data.StructLayout({"index": index_bits, "end": 1})


class CoreSignature(wiring.Signature):
    """Signature of a spikecore core (``spikecore.hw.core.Core``), seen from the core.

    Members
    -------
    ctl_cmd : In(stream.Signature(CtlCommand))
        Configuration accesses; see ``spikecore.spec.Space`` for the address map. Accepted
        only between steps: a step whose end beat has arrived is finished first. A core
        takes a command as it starts it, or (``Core(register_commands=False)``) once it has
        executed it, reading the payload until then; the stream rules keep it still.
    ctl_rsp : Out(stream.Signature(DATA_BITS))
        Exactly one beat per command, in order: the value read (sign-extended), or 0 for a
        write. Accesses outside the address map read 0 and write nothing.
    step_in : In(stream.Signature(Event(src_bits)))
        Each step's external input set (indices below ``n_inputs``), ended by an end beat.
        The core computes step t once its end beat has arrived.
    spike_out : Out(stream.Signature(Event(neuron_bits)))
        Each step's spike set, in increasing neuron order, ended by an end beat. The core
        holds (never drops) a result until it is taken.
    """
    def __init__(self, n_inputs, n_neurons):
        super().__init__({
            "ctl_cmd":   In(stream.Signature(CtlCommand)),
            "ctl_rsp":   Out(stream.Signature(DATA_BITS)),
            "step_in":   In(stream.Signature(Event(src_bits(n_inputs, n_neurons)))),
            "spike_out": Out(stream.Signature(Event(neuron_bits(n_neurons)))),
        })
