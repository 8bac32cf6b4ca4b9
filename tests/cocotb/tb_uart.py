"""cocotb testbench of the UART blocks (hw/uart.py) through a loop-free pair top.

The test drives the receiver's line bit by bit (clean bytes, bad stop bits, breaks, glitches)
and decodes the transmitter's line, each against a reference byte list. ``TB_PARAMS`` (JSON):
``divisor``, ``seed``.
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from uart_bfm import LineDriver, LineMonitor

PARAMS = json.loads(os.environ.get("TB_PARAMS", "{}"))
DIVISOR = PARAMS.get("divisor", 4)


class TB:
    """Clock, reset, a line driver for rx, monitors of the rx stream and the tx line."""

    def __init__(self, dut):
        self.dut = dut
        self.received = []          # (byte, ferr) from the receiver's stream

    async def start(self):
        dut = self.dut
        Clock(dut.clk, 10, unit="ns").start()
        self.line = LineDriver(dut.clk, dut.rx, DIVISOR)
        dut.tx_data__valid.value = 0
        dut.rst.value = 1
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0
        self.tx_line = LineMonitor(dut.clk, dut.tx, DIVISOR)
        cocotb.start_soon(self._rx_monitor())

    async def _rx_monitor(self):
        while True:
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            if int(self.dut.rx_data__valid.value):
                word = int(self.dut.rx_data__payload.value)
                self.received.append((word & 0xff, word >> 8))

    async def line_byte(self, byte, stop=1):
        await self.line.byte(byte, stop=stop)

    async def send_tx(self, byte):
        dut = self.dut
        dut.tx_data__payload.value = byte
        dut.tx_data__valid.value = 1
        while True:
            await ReadOnly()
            taken = int(dut.tx_data__ready.value)
            await RisingEdge(dut.clk)
            if taken:
                break
        dut.tx_data__valid.value = 0


@cocotb.test()
async def receive_bytes_back_to_back(dut):
    """Random bytes with no gap between them arrive intact, without framing errors."""
    tb = TB(dut)
    await tb.start()
    rng = random.Random(PARAMS.get("seed", 1))
    data = [rng.randrange(256) for _ in range(150)] + [0x00, 0xff, 0x55, 0xaa]
    for byte in data:
        await tb.line_byte(byte)
    await ClockCycles(dut.clk, 2 * DIVISOR)
    assert tb.received == [(b, 0) for b in data]


@cocotb.test()
async def receive_framing_error_break_and_glitch(dut):
    """A low stop bit flags ferr; a break gives one byte; a one-clock glitch gives none."""
    tb = TB(dut)
    await tb.start()
    await tb.line_byte(0x5a, stop=0)                 # framing error
    await ClockCycles(dut.clk, DIVISOR)
    dut.rx.value = 0                                 # a break: 3 byte times low
    await ClockCycles(dut.clk, 30 * DIVISOR)
    dut.rx.value = 1
    await ClockCycles(dut.clk, 2 * DIVISOR)
    dut.rx.value = 0                                 # a glitch shorter than half a bit
    await RisingEdge(dut.clk)
    dut.rx.value = 1
    await ClockCycles(dut.clk, 3 * DIVISOR)
    await tb.line_byte(0xc3)                         # the receiver works again
    await ClockCycles(dut.clk, 2 * DIVISOR)
    assert tb.received == [(0x5a, 1), (0x00, 1), (0xc3, 0)], tb.received


@cocotb.test()
async def transmit_back_to_back(dut):
    """Bytes queued back to back leave one every 10 bit times, stop bits high."""
    tb = TB(dut)
    await tb.start()
    rng = random.Random(PARAMS.get("seed", 1) + 1)
    data = [rng.randrange(256) for _ in range(100)] + [0x00, 0xff]
    for byte in data:
        await tb.send_tx(byte)
    await ClockCycles(dut.clk, 12 * DIVISOR)
    assert bytes(tb.tx_line.bytes_) == bytes(data) and tb.tx_line.stop_errors == 0
    starts = tb.tx_line.starts
    gaps = {b - a for a, b in zip(starts, starts[1:])}
    assert gaps == {10 * DIVISOR}, f"bytes were not back to back: gaps {sorted(gaps)}"
