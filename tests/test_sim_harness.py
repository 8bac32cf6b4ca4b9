"""The virtual-board harness (sim/harness.cpp) on a stand-in top level that echoes bytes + 1.

These check the harness itself: UART bit timing in both directions, the TCP and pty bridges,
clients that vanish mid-stream or send garbage, the next client, and ``spikecore sim``.
"""

import os
import random
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim_standin import make_echo_top
from spikecore.sim import VirtualBoard, build

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


@pytest.fixture(scope="session")
def echo_exe():
    return build(8, 16, make_top=make_echo_top)


@pytest.fixture
def board(echo_exe):
    with VirtualBoard(echo_exe, stats=True) as b:
        yield b


def address(url):
    assert url.startswith("socket://"), url
    host, port = url[len("socket://"):].rsplit(":", 1)
    return host, int(port)


def recv_exactly(sock, n, timeout=10.0):
    sock.settimeout(timeout)
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def plus_one(data):
    return bytes((b + 1) & 0xFF for b in data)


def test_build_is_cached(echo_exe):
    t = time.monotonic()
    assert build(8, 16, make_top=make_echo_top) == echo_exe
    assert time.monotonic() - t < 5


def test_build_checks_arguments():
    with pytest.raises(ValueError, match="n_inputs must be a positive integer, not 0"):
        build(0, 16, make_top=make_echo_top)
    with pytest.raises(ValueError, match="divisor must be an integer >= 2"):
        build(8, 16, divisor=1, make_top=make_echo_top)


def test_echo_every_byte_value(board):
    assert board.url.startswith("socket://127.0.0.1:")
    data = bytes(range(256)) * 4
    with socket.create_connection(address(board.url)) as s:
        s.sendall(data)
        assert recv_exactly(s, len(data)) == plus_one(data)


def test_small_round_trips_are_fast(board):
    with socket.create_connection(address(board.url)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t = time.monotonic()
        for i in range(200):
            s.sendall(bytes([i]))
            assert recv_exactly(s, 1) == bytes([(i + 1) & 0xFF])
        per_trip = (time.monotonic() - t) / 200
    print(f"round trip of one byte: {per_trip * 1e3:.3f} ms")
    assert per_trip < 0.01


def test_idle_board_sleeps(board):
    # After a burst the harness stops spinning: its CPU time barely grows while idle.
    with socket.create_connection(address(board.url)) as s:
        s.sendall(b"x")
        recv_exactly(s, 1)
    time.sleep(1.0)   # well past --idle-cycles of simulation
    before = _cpu_seconds(board.process.pid)
    time.sleep(1.0)
    assert _cpu_seconds(board.process.pid) - before < 0.2


def _cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_clients_vanish_and_send_garbage(board):
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    host_port = address(board.url)
    # A client that sends a burst and vanishes without reading anything.
    with socket.create_connection(host_port) as s:
        s.sendall(bytes(rng.randrange(256) for _ in range(3000)))
    # One that is reset (RST) mid-stream.
    s = socket.create_connection(host_port)
    s.sendall(bytes(rng.randrange(256) for _ in range(500)))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    s.close()
    # One that connects and leaves without a byte.
    socket.create_connection(host_port).close()
    # The next client gets exactly its own replies (none meant for earlier clients).
    with socket.create_connection(host_port) as s:
        data = bytes(rng.randrange(256) for _ in range(1000))
        s.sendall(data)
        assert recv_exactly(s, len(data)) == plus_one(data)
        s.setblocking(False)
        time.sleep(0.2)
        with pytest.raises(BlockingIOError):
            s.recv(1)
    assert board.alive


def test_clients_wait_their_turn(board):
    host_port = address(board.url)
    first = socket.create_connection(host_port)
    second = socket.create_connection(host_port)   # waits in the backlog
    second.sendall(b"\x10")
    first.sendall(b"\x01")
    assert recv_exactly(first, 1) == b"\x02"
    assert select.select([second], [], [], 0.3)[0] == []
    first.close()
    assert recv_exactly(second, 1) == b"\x11"
    second.close()


def test_reader_slower_than_device(board):
    # 64 KiB in flight both ways: socket buffers fill, nothing is lost or reordered.
    data = bytes(random.Random(1).randrange(256) for _ in range(1 << 16))
    with socket.create_connection(address(board.url)) as s:
        s.sendall(data)
        time.sleep(0.5)
        assert recv_exactly(s, len(data), timeout=60) == plus_one(data)


def test_pty(echo_exe):
    import serial
    with VirtualBoard(echo_exe, pty=True) as b:
        assert b.url.startswith("/dev/")
        with serial.serial_for_url(b.url, timeout=5) as port:
            port.write(b"hello")
            assert port.read(5) == plus_one(b"hello")
        with serial.serial_for_url(b.url, timeout=5) as port:   # a second client
            port.write(bytes(range(200)))
            assert port.read(200) == plus_one(bytes(range(200)))


def test_board_stops_with_its_parent(echo_exe):
    b = VirtualBoard(echo_exe)
    b.process.stdin.close()   # what happens when the parent dies
    assert b.process.wait(5) == 0
    b.close()


def test_harness_bench(echo_exe):
    out = subprocess.run([str(echo_exe), "--bench-cycles", "2000000"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    print(out)
    assert "cycles/s" in out


def spikecore_sim(*args):
    """Start ``spikecore sim ARGS`` (through the real CLI entry point) on the echo stand-in."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS),
                                                       os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-c", "import sys; from spikecore.cli import main; sys.exit(main())",
           "sim", "--n-inputs", "8", "--n-neurons", "16", "--top", "sim_standin:make_echo_top",
           *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)


def first_line(proc, timeout=60):
    ready = select.select([proc.stdout], [], [], timeout)[0]
    assert ready, "spikecore sim printed nothing"
    line = proc.stdout.readline()
    assert line, f"spikecore sim exited: {proc.wait()} {proc.stderr.read()}"
    return line


def test_spikecore_sim_prints_url(echo_exe):
    proc = spikecore_sim("--port", "0")
    try:
        line = first_line(proc)
        assert "socket://127.0.0.1:" in line
        url = line.split()[-1]
        for _ in range(2):
            with socket.create_connection(address(url)) as s:
                s.sendall(b"abc")
                assert recv_exactly(s, 3) == b"bcd"
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    with pytest.raises(ConnectionRefusedError):   # the board went with it
        socket.create_connection(address(url), timeout=2).close()


def test_spikecore_sim_pty(echo_exe):
    import serial
    proc = spikecore_sim("--pty")
    try:
        line = first_line(proc)
        path = line.split()[-1]
        assert path.startswith("/dev/"), line
        with serial.serial_for_url(path, timeout=5) as port:
            port.write(b"\x00\xff")
            assert port.read(2) == b"\x01\x00"
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_spikecore_sim_checks_arguments():
    proc = spikecore_sim("--n-neurons", "0")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "must be a positive integer, not 0" in err


@pytest.mark.parametrize("args,message", [
    (["--n-neurons", "8"], "the geometry is needed: --n-inputs and --n-neurons, or --board"),
    (["--board", "nope"], "unknown board 'nope'; choose one of: arty_a7"),
])
def test_spikecore_sim_needs_a_geometry_or_a_board(args, message, capsys):
    from spikecore.sim.serve import main
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_build_checks_top_options():
    # Bad options fail before anything is built, with Top's message; a stand-in takes none.
    with pytest.raises(ValueError, match=r"max_payload must be a power of two in \[64, 1024\], "
                                         r"not 100"):
        build(8, 16, options={"max_payload": 100})
    with pytest.raises(ValueError, match="a make_top takes none"):
        build(8, 16, options={"max_payload": 128}, make_top=make_echo_top)


def test_board_gateware_is_the_bitstreams():
    from spikecore.boards import get_board
    from spikecore.sim import board_gateware
    board = get_board("icebreaker")
    assert board_gateware("icebreaker") == (board.n_inputs, board.n_neurons, board.lanes,
                                            board.top_options)
    assert board_gateware("icebreaker", 8, 16, None, {"max_payload": 128}) == (
        8, 16, board.lanes, {**board.top_options, "max_payload": 128})
    assert board_gateware(None, 8, 16) == (8, 16, None, {})
    with pytest.raises(TypeError, match="top_options must be a dict, not 5"):
        board_gateware(None, 8, 16, None, 5)


def test_waveforms_on_request(tmp_path):
    exe = build(8, 16, make_top=make_echo_top, trace=True)
    assert exe != build(8, 16, make_top=make_echo_top)
    vcd = tmp_path / "waves.vcd"
    with VirtualBoard(exe, trace=vcd) as b:
        with socket.create_connection(address(b.url)) as s:
            s.sendall(b"\x55")
            assert recv_exactly(s, 1) == b"\x56"
    text = vcd.read_text()
    assert "$var" in text and " rx " in text and " tx " in text
