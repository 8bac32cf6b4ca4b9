"""Faults on the wire of the virtual board (the real core + UART link behind a TCP socket).

Each fault comes from a raw client that then goes away: random bytes, a client vanishing
mid-frame, truncated frames, bad CRCs, out-of-range writes. Afterwards a fresh driver must
find the weights and all state exactly as they were, and the next commands (a run compared
with the golden model) must work.
"""

import random
import socket
import time

import numpy as np
import pytest

import spikecore
from randnet import random_inputs, random_network
from simboard import N_INPUTS, N_NEURONS, needs_top, sim_exe  # noqa: F401 (fixture)

pytestmark = needs_top

STATE_FIELDS = ("u", "v", "ref", "x", "y", "spikes")


@pytest.fixture(scope="module")
def board(sim_exe):
    from spikecore.sim import VirtualBoard
    with VirtualBoard(sim_exe) as b:
        yield b


def address(url):
    host, port = url[len("socket://"):].rsplit(":", 1)
    return host, int(port)


def open_driver(board):
    from spikecore.driver import open_device
    return open_device(board.url, timeout=10)


class Reference:
    """A loaded board and the golden model in the same state, to check faults against."""

    def __init__(self, board, seed):
        self.board = board
        self.net = random_network(N_INPUTS, N_NEURONS, seed, learning=True)
        self.inputs = random_inputs(400, N_INPUTS, seed)
        self.next = 0
        self.model = spikecore.connect("model://")
        self.model.load(self.net)
        with open_driver(board) as core:
            core.load(self.net)
        self.advance(40)

    def advance(self, steps):
        """Run *steps* more steps on the board (fresh driver) and the model; compare."""
        chunk = self.inputs[self.next:self.next + steps]
        self.next += steps
        with open_driver(self.board) as core:
            assert np.array_equal(core.run(chunk), self.model.run(chunk)), \
                "spikes differ from the model after the fault"

    def check_unchanged(self):
        """The board's weights and state equal the model's (which saw no fault)."""
        with open_driver(self.board) as core:
            assert np.array_equal(core.read_weights(), self.model.read_weights()), \
                "weights changed"
            got, want = core.read_state(), self.model.read_state()
            for name in STATE_FIELDS:
                assert np.array_equal(getattr(got, name), getattr(want, name)), \
                    f"state.{name} changed"


def raw_client(board, data, *, linger=0.2, reset=False):
    """Connect, send *data*, wait *linger* seconds (reading whatever comes back), vanish."""
    s = socket.create_connection(address(board.url))
    try:
        s.sendall(data)
        s.settimeout(0.05)
        replies = b""
        end = time.monotonic() + linger
        while time.monotonic() < end:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            replies += chunk
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        return replies
    finally:
        s.close()


@pytest.fixture
def ref(board):
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    return Reference(board, seed)


def test_random_bytes(ref):
    # Fixed garbage (a random stream could, once in a great while, hold a valid frame).
    rng = random.Random(1234)
    for length in (1, 7, 100, 3000):
        raw_client(ref.board, bytes(rng.randrange(256) for _ in range(length)))
        ref.check_unchanged()
    ref.advance(30)


def test_client_vanishes_at_once(ref):
    socket.create_connection(address(ref.board.url)).close()
    raw_client(ref.board, b"\x00" * 50, linger=0, reset=True)
    ref.check_unchanged()
    ref.advance(30)
