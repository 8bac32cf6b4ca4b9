"""Which WRITE and READ accesses the link lets through to the core (docs/protocol.md)."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .. import spec
from ..spec import (Counter, Feature, InputField, Space, StateField, fields_of, neuron_bits,
                    settings_of, src_bits)
from .checks import check_features

__all__ = ["AccessCheck", "below", "RANGE_BITS"]

#: Every value range of the address map fits in a signed value of this many bits (bias has the
#: widest); AccessCheck compares a value with its range at this width.
RANGE_BITS = spec.STATE_BITS


def below(value, bound):
    """Return ``value < bound`` for an unsigned *value* and a constant *bound* >= 1.

    The bits of *value* above those of ``bound - 1`` must be zero and the rest below *bound*:
    a wide ``value < bound`` would be a carry chain as long as *value* (one logic cell a bit
    on iCE40), this is a few LUTs.
    """
    n = max(1, (bound - 1).bit_length())
    if len(value) <= n:
        return value < bound
    return (value[n:] == 0) & (value[:n] < bound if bound < 1 << n else 1)


def _range(low, high):
    assert -(1 << (RANGE_BITS - 1)) <= low <= high < 1 << (RANGE_BITS - 1)
    return Const(low, signed(RANGE_BITS)), Const(high, signed(RANGE_BITS))


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive integer, not {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value}")


class AccessCheck(wiring.Component):
    """Say whether a WRITE or READ may touch *addr* in *space* (and write *value* there).

    Combinational. Also gives the next address of a block (docs/protocol.md, WRITE and READ):
    in WEIGHT and NEURON the neuron index wraps into the next source or field, in INPUT the
    input index into the next field.

    Parameters
    ----------
    n_inputs, n_neurons : int
        The core's geometry (>= 1 each).
    features : spikecore.spec.Feature
        The core's: the settings and neuron fields of the others have no address, nor the
        INPUT space without ``GENERATORS`` or the STATE field COUNT without ``COUNTS``.

    Members
    -------
    write : In(1)
        The access is a write (STATE and COUNTER are read only).
    space : In(8)
    addr : In(24)
    value : In(signed(32))
        The value to write (ignored for reads).
    addr_ok, value_ok : Out(1)
        *addr* is in *space* (and may be written); *value* is in the range of its field
        (a generator state: its 32 bits are not all zero).
    next_addr : Out(24)
        The address after *addr* in a block.
    """
    write: In(1)
    space: In(8)
    addr: In(spec.ADDR_BITS)
    value: In(signed(spec.DATA_BITS))
    addr_ok: Out(1)
    value_ok: Out(1)
    next_addr: Out(spec.ADDR_BITS)

    def __init__(self, n_inputs, n_neurons, features=Feature.all()):
        _check_positive("n_inputs", n_inputs)
        _check_positive("n_neurons", n_neurons)
        self.n_inputs, self.n_neurons = n_inputs, n_neurons
        self.features = check_features(features)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        n_in, N, S = self.n_inputs, self.n_neurons, self.n_inputs + self.n_neurons
        nb, sb = neuron_bits(N), src_bits(self.n_inputs, N)
        addr, value = self.addr, self.value
        low, high = Signal(signed(RANGE_BITS)), Signal(signed(RANGE_BITS))
        i, hi = addr[:nb], addr[nb:]
        index, field = addr[:sb], addr[sb:]
        neuron_next = Mux(i == N - 1, Cat(Const(0, nb), hi + 1), addr + 1)
        # A value that does not fit in RANGE_BITS is outside every range.
        short = value[:RANGE_BITS].as_signed()
        fits = ~value[RANGE_BITS - 1:].any() | value[RANGE_BITS - 1:].all()
        m.d.comb += [self.next_addr.eq(addr + 1),
                     self.value_ok.eq(fits & (short >= low) & (short <= high))]

        with m.Switch(self.space):
            with m.Case(Space.WEIGHT):
                m.d.comb += [self.addr_ok.eq(below(i, N) & below(hi, S)),
                             self.next_addr.eq(neuron_next)]
                m.d.comb += Cat(low, high).eq(Cat(*_range(spec.WEIGHT_MIN, spec.WEIGHT_MAX)))
            with m.Case(Space.NEURON):
                m.d.comb += self.next_addr.eq(neuron_next)
                for f in fields_of(self.features):
                    with m.If(hi == f.value):
                        m.d.comb += self.addr_ok.eq(below(i, N))
                        bounds = _range(*spec.NEURON_RANGES[f.name.lower()])
                        m.d.comb += Cat(low, high).eq(Cat(*bounds))
            with m.Case(Space.SETTING):
                for s in settings_of(self.features):
                    with m.If(addr == s.value):
                        m.d.comb += self.addr_ok.eq(1)
                        m.d.comb += Cat(low, high).eq(Cat(*_range(*spec.SETTING_RANGES[s])))
            with m.Case(Space.MASK):
                m.d.comb += self.addr_ok.eq(below(addr, S) | ((field == 1) & below(index, N)))
                m.d.comb += Cat(low, high).eq(Cat(*_range(0, 1)))
            with m.Case(Space.STATE):
                neuron_field = ((field == StateField.U.value) | (field == StateField.V.value)
                                | (field == StateField.REF.value) | (field == StateField.Y.value)
                                | (field == StateField.SPIKED.value))
                if Feature.COUNTS in self.features:
                    neuron_field |= field == StateField.COUNT.value
                m.d.comb += self.addr_ok.eq(~self.write & (
                    (neuron_field & below(index, N))
                    | ((field == StateField.X.value) & below(index, S))))
            with m.Case(Space.COUNTER):
                m.d.comb += self.addr_ok.eq(~self.write & below(addr, len(Counter)))
            if Feature.GENERATORS in self.features:
                with m.Case(Space.INPUT):
                    m.d.comb += [
                        self.addr_ok.eq(below(index, n_in) & below(field, len(InputField))),
                        self.next_addr.eq(Mux(index == n_in - 1, Cat(Const(0, sb), field + 1),
                                              addr + 1))]
                    m.d.comb += Cat(low, high).eq(Cat(*_range(*spec.INPUT_RANGES["rate"])))
                    with m.If(field == InputField.GEN.value):
                        m.d.comb += self.value_ok.eq(value != 0)
        return m
