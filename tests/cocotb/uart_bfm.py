"""UART bus-functional models for cocotb testbenches: drive a line, decode a line (8N1)."""

import cocotb
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge


class LineDriver:
    """Drive 8N1 bytes onto *line*, *divisor* clocks a bit, back to back."""

    def __init__(self, clk, line, divisor):
        self.clk, self.line, self.divisor = clk, line, divisor
        line.value = 1

    async def byte(self, value, *, stop=1, period=None):
        period = period or self.divisor
        for bit in [0] + [(value >> i) & 1 for i in range(8)] + [stop]:
            self.line.value = bit
            await ClockCycles(self.clk, period)
        self.line.value = 1

    async def send(self, data):
        for value in data:
            await self.byte(value)


class LineMonitor:
    """Decode 8N1 bytes from *line* into ``bytes_`` (and the clock of each start bit)."""

    def __init__(self, clk, line, divisor):
        self.clk, self.line, self.divisor = clk, line, divisor
        self.bytes_ = bytearray()
        self.stop_errors = 0
        self.starts = []
        self.clock = 0
        cocotb.start_soon(self._count())
        cocotb.start_soon(self._run())

    async def _count(self):
        while True:
            await RisingEdge(self.clk)
            self.clock += 1

    async def _run(self):
        d = self.divisor
        while True:
            await RisingEdge(self.clk)
            await ReadOnly()
            if int(self.line.value):
                continue
            self.starts.append(self.clock)
            bits = []
            await ClockCycles(self.clk, d // 2)          # middle of the start bit
            for _ in range(9):
                await ClockCycles(self.clk, d)
                await ReadOnly()
                bits.append(int(self.line.value))
            self.bytes_.append(sum(b << i for i, b in enumerate(bits[:8])))
            self.stop_errors += not bits[8]
            await RisingEdge(self.clk)
