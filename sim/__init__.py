"""The virtual board: the gateware's top level, Verilated, with its UART bridged to a socket.

``open_sim(n_inputs=..., n_neurons=...)`` (what ``spikecore.connect("sim://", ...)`` calls)
builds the board for that geometry on first use (cached, see ``spikecore.sim.build``), starts
it on a free TCP port and returns a driver ``Core`` talking to it through the same UART
protocol as a real board. ``open_sim(board="icebreaker")`` builds the gateware of that board's
bitstream (its geometry and ``top_options``). ``spikecore sim`` (``spikecore.sim.serve``)
serves one for other processes.

Set ``SPIKECORE_SIM_TRACE=/path/to/waves.vcd`` to record waveforms (a separate, slower build).
"""

import os
import weakref

from ..driver import SocketTransport, socket_address
from .board import VirtualBoard
from .build import DEFAULT_CLK_HZ, DEFAULT_DIVISOR, board_gateware, build

__all__ = ["open_sim", "board_gateware", "build", "VirtualBoard", "BoardTransport",
           "DEFAULT_DIVISOR", "DEFAULT_CLK_HZ"]


def open_sim(n_inputs=None, n_neurons=None, lanes=None, *, board=None, top_options=None,
             divisor=DEFAULT_DIVISOR, clk_hz=DEFAULT_CLK_HZ, trace=None, stats=False,
             harness_args=(), **options):
    """Build (cached) and start a virtual board; return a ``Core`` connected to it.

    The board's process stops when the Core is closed.

    Parameters
    ----------
    n_inputs, n_neurons : int
        The geometry to build (default: *board*'s).
    lanes : int or None
        Neuron-update lanes (None: *board*'s, else the gateware's default).
    board : str or None
        A board name (``spikecore.boards``): simulate the gateware its bitstream has, with
        its geometry (unless given) and its ``top_options``.
    top_options : dict or None
        More keyword options of ``spikecore.hw.top.Top`` (over *board*'s).
    divisor : int
        Clock cycles per UART bit in simulation.
    clk_hz : int
        Nominal clock frequency the board reports.
    trace : path or None
        Record a VCD waveform here (default: ``$SPIKECORE_SIM_TRACE`` if set).
    stats : bool
        Have the harness print cycle counts on stderr when it stops.
    harness_args : sequence of str
        More harness command-line options.
    **options
        Passed to ``spikecore.driver.open_device`` (``timeout``, ``retries``, ``progress``...).
    """
    n_inputs, n_neurons, lanes, top_options = board_gateware(board, n_inputs, n_neurons, lanes,
                                                             top_options)
    if n_inputs is None or n_neurons is None:
        raise ValueError("sim:// needs the geometry: connect('sim://', n_inputs=..., "
                         "n_neurons=...) or a board: connect('sim://', board=...)")
    trace = trace or os.environ.get("SPIKECORE_SIM_TRACE") or None
    exe = build(n_inputs, n_neurons, lanes, divisor=divisor, clk_hz=clk_hz,
                options=top_options, trace=bool(trace))
    board = VirtualBoard(exe, trace=trace, stats=stats, extra_args=harness_args)
    try:
        from ..driver import open_device
        return open_device(BoardTransport(board, timeout=options.get("timeout", 5.0)),
                           **options)
    except BaseException:
        board.close()
        raise


class BoardTransport(SocketTransport):
    """The socket to a virtual board that this process started: closing it (or losing it to
    the garbage collector) stops the board."""

    def __init__(self, board, *, timeout):
        host, port = socket_address(board.url)
        super().__init__(host, port, timeout=timeout)
        self.board = board
        weakref.finalize(self, board.close)

    def close(self):
        try:
            super().close()
        finally:
            self.board.close()

    def info(self):
        return {"backend": "sim", "socket": self.board.url}
