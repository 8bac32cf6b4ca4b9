"""Valid/ready stream drivers and monitors for cocotb testbenches (``amaranth.lib.stream``).

A stream named *prefix* on the DUT has the ports ``<prefix>__valid``, ``<prefix>__ready`` and
``<prefix>__payload`` (Amaranth's Verilog names). A beat is taken on a rising clock edge that
sees both valid and ready.
"""

import cocotb
from cocotb.queue import Queue
from cocotb.triggers import ReadOnly, RisingEdge


class Stream:
    """The three ports of stream *prefix* on *dut*."""

    def __init__(self, dut, prefix):
        self.clk = dut.clk
        self.valid = getattr(dut, prefix + "__valid")
        self.ready = getattr(dut, prefix + "__ready")
        self.payload = getattr(dut, prefix + "__payload")


class StreamDriver:
    """Drive beats into the DUT's input stream *prefix*, one at a time."""

    def __init__(self, dut, prefix):
        self.bus = Stream(dut, prefix)
        self.bus.valid.value = 0

    async def send(self, payload):
        """Offer *payload* and return once the DUT has taken it."""
        bus = self.bus
        bus.payload.value = payload
        bus.valid.value = 1
        while True:
            await ReadOnly()
            taken = int(bus.ready.value)
            await RisingEdge(bus.clk)
            if taken:
                break
        bus.valid.value = 0


class StreamMonitor:
    """Watch stream *prefix* (input or output) and call *callback* with each beat taken.

    The callback runs in the read-only phase after a clock edge, for the beat that the next
    edge takes (valid and ready as they are for that clock); it must not drive signals.

    Runs from construction until the test ends.
    """

    def __init__(self, dut, prefix, callback):
        self.bus, self.callback = Stream(dut, prefix), callback
        cocotb.start_soon(self._run())

    async def _run(self):
        bus = self.bus
        while True:
            await RisingEdge(bus.clk)
            await ReadOnly()
            if int(bus.valid.value) and int(bus.ready.value):
                self.callback(int(bus.payload.value))


class StreamSink:
    """Take the beats of the DUT's output stream *prefix* (ready held high unless stalled) into
    a queue; ``receive`` returns them in order."""

    def __init__(self, dut, prefix):
        self.bus = Stream(dut, prefix)
        self.bus.ready.value = 1
        self.beats = Queue()
        self.monitor = StreamMonitor(dut, prefix, self.beats.put_nowait)

    async def receive(self):
        """Return the next beat's payload, after the clock edge that takes it (the monitor
        sees a beat in the read-only phase before that edge)."""
        payload = await self.beats.get()
        await RisingEdge(self.bus.clk)
        return payload
