"""Pipeline registers: one value a clock later, or a line of them."""

from amaranth.hdl import Signal

__all__ = ["register", "delay_line"]


def register(m, value, name, shape=None, *, reset_less=False):
    """Return a signal (of *shape*, else *value*'s) that holds *value* one clock later.

    *reset_less*: the register ignores reset (so that, e.g., a DSP block's own output
    register can take it; what it holds is not used before it has been loaded).
    """
    reg = Signal(shape if shape is not None else value.shape(), name=name,
                 reset_less=reset_less)
    m.d.sync += reg.eq(value)
    return reg


def delay_line(m, value, clocks, name):
    """Return ``[value, value 1 clock later, ..., value *clocks* clocks later]``."""
    stages = [value]
    for n in range(clocks):
        stages.append(register(m, stages[-1], f"{name}{n + 1}"))
    return stages
