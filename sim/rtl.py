"""``rtl://``: the ``Top`` gateware in Amaranth's simulator, in this process, behind the driver.

The same top as the boards and the virtual board (core, link, UART), its UART lines driven and
sampled bit by bit; no Verilator, no build step. It is exact and slow (a few thousand clock
cycles a second): meant for small geometries and protocol tests of gateware not yet built into
a virtual board.
"""

import collections
import time

from amaranth.sim import Simulator

from ..transport import Transport

__all__ = ["RtlTransport", "open_rtl", "DEFAULT_DIVISOR", "DEFAULT_CLK_HZ"]

#: Clock cycles per UART bit (the smallest the UART takes: the fewest cycles per byte).
DEFAULT_DIVISOR = 4
#: Nominal clock the top reports through IDENTIFY.
DEFAULT_CLK_HZ = 12_000_000
#: Simulated clock cycles run per slice while a reader waits.
SLICE = 2000
#: Clock cycles between looks for bytes to send while the line is idle.
IDLE_POLL = 32


async def _ticks(ctx, count):
    # A loop rather than ``ctx.tick().repeat(count)``, whose async generator complains when a
    # simulation is dropped while it waits.
    for _ in range(count):
        await ctx.tick()


class RtlTransport(Transport):
    """The Top gateware of one geometry, simulated in this process.

    Bytes written are sent on the top's ``rx`` line as 8N1 characters, one after the other; the
    ``tx`` line is sampled in the middle of each bit. Simulated time advances only while a
    reader waits, in slices of :data:`SLICE` cycles.

    Parameters
    ----------
    top : spikecore.hw.top.Top
        The gateware, with its ``divisor``.
    name : str
        Shown in messages.

    Members
    -------
    cycles : int
        Clock cycles simulated so far.
    """

    def __init__(self, top, *, name="rtl://"):
        self.name, self.top, self.cycles = name, top, 0
        self._to_device = collections.deque()
        self._from_device = bytearray()
        self._closed = False
        self._sim = Simulator(top)
        self._sim.add_clock(1e-6)
        self._sim.add_testbench(self._drive_rx, background=True)
        self._sim.add_testbench(self._sample_tx, background=True)

    async def _drive_rx(self, ctx):
        bit = self.top.divisor
        while True:
            if not self._to_device:
                await _ticks(ctx, IDLE_POLL)
                continue
            byte = self._to_device.popleft()
            for level in [0] + [(byte >> k) & 1 for k in range(8)] + [1]:
                ctx.set(self.top.rx, level)
                await _ticks(ctx, bit)

    async def _sample_tx(self, ctx):
        bit = self.top.divisor
        while True:
            await ctx.negedge(self.top.tx)
            await _ticks(ctx, bit + bit // 2)           # the middle of bit 0
            byte = 0
            for k in range(8):
                byte |= ctx.get(self.top.tx) << k
                await _ticks(ctx, bit)
            self._from_device.append(byte)             # now in the stop bit

    def write(self, data):
        if self._closed:
            raise ConnectionError(f"{self.name} is closed")
        self._to_device.extend(bytes(data))

    def read(self, timeout):
        if self._closed:
            raise ConnectionError(f"{self.name} is closed")
        deadline = time.monotonic() + timeout
        while not self._from_device and time.monotonic() < deadline:
            self.cycles += SLICE
            self._sim.run_until(self.cycles * 1e-6)
        data, self._from_device = bytes(self._from_device), bytearray()
        return data

    def close(self):
        self._closed = True

    def info(self):
        return {"backend": "rtl", "cycles_simulated": self.cycles}


def open_rtl(n_inputs, n_neurons, lanes=None, *, divisor=DEFAULT_DIVISOR, clk_hz=DEFAULT_CLK_HZ,
             top_options=None, **options):
    """Return a driver ``Core`` on the Top gateware of this geometry, simulated in process.

    Parameters
    ----------
    n_inputs, n_neurons : int
        The geometry.
    lanes : int or None
        Neuron-update lanes (None: the gateware's default).
    divisor, clk_hz : int
        Clock cycles per UART bit, and the clock the top reports.
    top_options : dict or None
        More keyword options of ``spikecore.hw.top.Top``.
    **options
        Passed to ``spikecore.driver.open_device`` (``timeout``, ``retries``, ...).
    """
    from ..driver import open_device
    from ..hw.top import Top
    for name, value in (("n_inputs", n_inputs), ("n_neurons", n_neurons)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"rtl:// needs {name} as a positive integer, not {value!r}")
    top = Top(n_inputs, n_neurons, lanes, divisor=divisor, clk_hz=clk_hz,
              **(top_options or {}))
    options.setdefault("timeout", 30.0)
    return open_device(RtlTransport(top), **options)
