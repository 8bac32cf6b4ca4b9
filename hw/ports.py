"""What the core's parts exchange: memory requests, task handshakes and the words they move.

``Core`` owns the memories that several parts use. A part asks for a port through a
``ReadRequest`` or ``WriteRequest`` (address, enable, data); ``share_read`` and ``share_write``
give each port to one requester a clock, by a fixed priority. A part that runs alongside the
step (a pass over a memory, the spike list, the spike output) is started and awaited through
a ``Task``.
"""

from amaranth.hdl import unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .. import spec
from ..spec import Feature
from .neuron import DECAY, REF, STATE, THETA

__all__ = ["XWord", "YWord", "NEURON_WORDS", "neuron_words", "ReadRequest", "WriteRequest", "Task", "share_read",
           "share_write", "lane_of"]

TRACE = unsigned(spec.TRACE_BITS)

#: A source's pre-trace, and whether the source is delivered in this step (set as it jumps).
XWord = data.StructLayout({"trace": TRACE, "hit": 1})
#: A neuron's post-trace, and whether the neuron spiked in its last update (``s`` during a
#: step, ``s_prev`` between steps).
YWord = data.StructLayout({"trace": TRACE, "spiked": 1})
#: What is held by neuron group, a lane per neuron: the parameters (``Space.NEURON``, by
#: ``NeuronField`` name) and the state.
#: ``theta`` only with ``Feature.THETA`` (``neuron_words``).
NEURON_WORDS = {"vth": STATE, "bias": STATE, "du": DECAY, "dv": DECAY, "t_ref": REF,
                "theta": THETA, "u": STATE, "v": STATE, "ref": REF, "y": YWord}


def neuron_words(features):
    """Return the words of ``NEURON_WORDS`` that a core with *features* holds."""
    return {name: shape for name, shape in NEURON_WORDS.items()
            if name != "theta" or Feature.THETA in features}


class ReadRequest(wiring.Signature):
    """A synchronous read of a memory, seen from the requester.

    *data* holds the word at the *addr* of the clock before, if the requester had the port
    then.

    Parameters
    ----------
    addr_shape, data_shape : shape-castable
        The memory's address and word.

    Members
    -------
    en : Out(1)
        The requester drives *addr* this clock.
    addr : Out(addr_shape)
    data : In(data_shape)
    """
    def __init__(self, addr_shape, data_shape):
        super().__init__({"en": Out(1), "addr": Out(addr_shape), "data": In(data_shape)})


class WriteRequest(wiring.Signature):
    """A write of a memory, seen from the requester: *data* goes to *addr* where *en* says.

    Parameters
    ----------
    addr_shape, data_shape : shape-castable
        The memory's address and word.
    en_width : int
        1, or one enable per lane of a word of lanes.

    Members
    -------
    en : Out(en_width)
    addr : Out(addr_shape)
    data : Out(data_shape)
    """
    def __init__(self, addr_shape, data_shape, en_width=1):
        super().__init__({"en": Out(en_width), "addr": Out(addr_shape),
                          "data": Out(data_shape)})


class Task(wiring.Signature):
    """Start a part's work and see when it is done, seen from the part that starts it.

    Members
    -------
    start : Out(1)
        A pulse: begin (the part is idle).
    busy : In(1)
        The part works, from the clock after *start* until it is done.
    """
    def __init__(self):
        super().__init__({"start": Out(1), "busy": In(1)})


def share_read(m, addr, data, requests):
    """Drive a read port (*addr*, *data*) from *requests*, the last that asks winning.

    The first request is the default: it has the port whenever no later one asks (and its
    *en* is not looked at; a requester that is not reading drives address 0).
    """
    first, *rest = requests
    m.d.comb += addr.eq(first.addr)
    for request in rest:
        with m.If(request.en):
            m.d.comb += addr.eq(request.addr)
    m.d.comb += [request.data.eq(data) for request in requests]


def share_write(m, addr, en, data, requests):
    """Drive a write port (*addr*, *en*, *data*) from *requests*, the last that writes winning.

    The first request is the default, as in ``share_read``; at most one writes in a clock.
    """
    first, *rest = requests
    m.d.comb += [addr.eq(first.addr), en.eq(first.en), data.eq(first.data)]
    for request in rest:
        with m.If(request.en.any()):
            m.d.comb += [addr.eq(request.addr), en.eq(request.en), data.eq(request.data)]


def lane_of(word, index):
    """Return the lane of the word of lanes *word* that *index* (a neuron or source) is in."""
    lanes = len(word)
    return word[0] if lanes == 1 else word[index[:ceil_log2(lanes)]]
