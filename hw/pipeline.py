"""Pipeline registers: one value a clock later, or a line of them."""

from amaranth.hdl import Signal

__all__ = ["register", "delay_line"]


def register(m, value, name, shape=None):
    """Return a signal (of *shape*, else *value*'s) that holds *value* one clock later."""
    reg = Signal(shape if shape is not None else value.shape(), name=name)
    m.d.sync += reg.eq(value)
    return reg


def delay_line(m, value, clocks, name):
    """Return ``[value, value 1 clock later, ..., value *clocks* clocks later]``."""
    stages = [value]
    for n in range(clocks):
        stages.append(register(m, stages[-1], f"{name}{n + 1}"))
    return stages
