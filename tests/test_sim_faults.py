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


def replies(data):
    """Return the (seq, status, data) of every reply frame in *data*."""
    from spikecore import protocol
    out = []
    for item in protocol.FrameDecoder().feed(data) or []:
        if isinstance(item, bytes):
            reply = protocol.parse_reply(item)
            out.append((reply.seq, reply.status, reply.data))
    return out


def identify_frame(seq):
    from spikecore import protocol
    return protocol.encode_frame(protocol.identify_request(seq=seq))


def test_bad_crc_is_answered_and_not_applied(ref):
    from spikecore import protocol
    from spikecore.spec import Space, Status
    frame = bytearray(protocol.encode_frame(
        protocol.write_request(Space.WEIGHT, 0, [5] * 40, 1, seq=0x21)))
    frame[20] ^= 0x10                                 # a payload byte: the CRC fails
    got = replies(raw_client(ref.board, b"\x00" + identify_frame(0x20) + bytes(frame),
                             linger=0.5))
    assert [status for _, status, _ in got] == [Status.OK, Status.BAD_CRC]
    ref.check_unchanged()
    ref.advance(30)


def test_out_of_range_write_is_refused_whole(ref):
    from spikecore import protocol
    from spikecore.spec import NeuronField, Space, Status, neuron_bits
    nb = neuron_bits(N_NEURONS)
    # du of neurons 0..3; the fourth (position 3) is out of range: nothing is applied.
    write = protocol.write_request(Space.NEURON, NeuronField.DU.value << nb,
                                   [1, 2, 3, 4097], 2, seq=0x31)
    weights = protocol.write_request(Space.WEIGHT, 0, [7] * 10, 4, seq=0x32)
    weights = weights[:9] + bytes([0x00, 0x01, 0x00, 0x00]) + weights[13:]   # 256 > 127
    got = replies(raw_client(ref.board, b"\x00" + identify_frame(0x30)
                             + protocol.encode_frame(write) + protocol.encode_frame(weights),
                             linger=0.5))
    assert [(s, d) for _, s, d in got[1:]] == [(Status.BAD_VALUE, b"\x03\x00"),
                                               (Status.BAD_VALUE, b"\x00\x00")]
    ref.check_unchanged()
    ref.advance(30)


@pytest.mark.parametrize("cut", [1, 5, 300])
def test_client_vanishes_mid_frame(ref, cut):
    # Half a large WRITE (no delimiter), then the client is gone; the next client's opening
    # 0x00 ends the fragment, which is rejected and not applied.
    from spikecore import protocol
    from spikecore.spec import Space
    frame = protocol.encode_frame(protocol.write_request(Space.WEIGHT, 0, [9] * 600, 1, seq=9))
    raw_client(ref.board, frame[:cut], linger=0.05, reset=True)
    ref.check_unchanged()
    ref.advance(30)


def recv_replies(sock, count, timeout=10.0):
    """Read from *sock* until *count* replies have arrived; return the bytes."""
    sock.settimeout(timeout)
    data = b""
    while len(replies(data)) < count:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {len(replies(data))} of {count} replies"
        data += chunk
    return data


def next_client_items(board, seq):
    """A raw client opens (lone 0x00) and identifies with *seq*: return everything it
    decodes (the identify reply, then nothing more for 0.3 s) and how long the reply took."""
    from spikecore import protocol
    with socket.create_connection(address(board.url)) as s:
        t = time.monotonic()
        s.sendall(b"\x00" + identify_frame(seq))
        data = recv_replies(s, 1)
        took = time.monotonic() - t
        s.settimeout(0.3)
        try:
            data += s.recv(65536)
        except TimeoutError:
            pass
    return protocol.FrameDecoder().feed(data) or [], took


def assert_identify_only(items, seq):
    from spikecore import protocol
    from spikecore.spec import Status
    assert len(items) == 1 and isinstance(items[0], bytes), items
    reply = protocol.parse_reply(items[0])
    assert (reply.seq, reply.status) == (seq, Status.OK)


@pytest.mark.parametrize("cut", [1, 300])
def test_fragment_reply_is_not_the_next_clients(ref, cut):
    # The fragment a vanished client left is ended and answered before the next client is
    # served: its reply (BAD_FRAME...) does not reach the next client.
    from spikecore import protocol
    from spikecore.spec import Space
    frame = protocol.encode_frame(protocol.write_request(Space.WEIGHT, 0, [9] * 600, 1, seq=9))
    raw_client(ref.board, frame[:cut], linger=0.1)
    items, took = next_client_items(ref.board, 0x51)
    print(f"next client's reply after {took:.3f} s")
    assert_identify_only(items, 0x51)
    ref.check_unchanged()
    ref.advance(30)


def test_owed_run_reply_is_not_the_next_clients(ref):
    # A client pipelines two RUNs and leaves once the first one's reply is in: the second
    # runs (the state moves on) and its reply, on the wire as the client leaves, is
    # discarded, not handed to the next client.
    from spikecore import protocol
    frames, chunks = [], []
    for seq, steps in ((0x61, 250), (0x62, 80)):
        chunk = ref.inputs[ref.next:ref.next + steps]
        ref.next += steps
        chunks.append(chunk)
        frames.append(protocol.encode_frame(
            protocol.run_request(protocol.encode_records(chunk), steps, seq=seq)))
    with socket.create_connection(address(ref.board.url)) as s:
        s.sendall(b"\x00" + identify_frame(0x60))
        recv_replies(s, 1)
        s.sendall(frames[0] + frames[1])
        assert [seq for seq, _, _ in replies(recv_replies(s, 1))] == [0x61]
    items, took = next_client_items(ref.board, 0x63)
    print(f"next client's reply after {took:.3f} s")
    assert_identify_only(items, 0x63)
    for chunk in chunks:                           # the board ran both: so does the model
        ref.model.run(chunk)
    ref.check_unchanged()
    ref.advance(30)


def test_truncated_frames_then_garbage(ref):
    from spikecore import protocol
    from spikecore.spec import Space, Status
    run = protocol.encode_frame(protocol.write_request(Space.WEIGHT, 3, [1, 2, 3], 1, seq=0x41))
    data = (b"\x00" + identify_frame(0x40) + run[:-5] + b"\x00" + run[4:] + b"\xff\x00"
            + b"\x02\x02\x00")
    got = replies(raw_client(ref.board, data, linger=0.5))
    assert got[0][1] == Status.OK and len(got) == 5      # identify, then one per fragment
    assert all(status in (Status.BAD_CRC, Status.BAD_FRAME)
               for _, status, _ in got[1:]), got
    ref.check_unchanged()
    ref.advance(30)
