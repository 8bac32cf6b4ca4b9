"""The virtual-board harness (sim/harness.cpp) on a stand-in top level that echoes bytes + 1.

These check the harness itself: UART bit timing in both directions, the TCP and pty bridges,
clients that vanish mid-stream or send garbage, the next client, idle clients, and
``spikecore sim``. A few run on the real core (``simboard``), where replies are frames.
"""

import os
import random
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sim_standin import make_echo_top
from simboard import N_INPUTS, N_NEURONS, needs_top, sim_exe  # noqa: F401 (fixture)
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


def served_alone(host_port, data, since):
    """Send *data* as a new client of the echo board; check that its echo and nothing else
    comes back; return the seconds from *since* to the echo."""
    with socket.create_connection(host_port) as s:
        s.sendall(data)
        assert recv_exactly(s, len(data)) == plus_one(data)
        took = time.monotonic() - since
        s.setblocking(False)
        time.sleep(0.2)
        with pytest.raises(BlockingIOError):
            s.recv(1)
    return took


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


def test_burst_then_close_frees_the_board_at_once(board):
    # 512 KiB (1.7 s of wire time here) and the end of the stream (a FIN behind the backlog,
    # as from a client that has read its replies): the next client is served at once, and the
    # byte on the wire as the first one left does not garble its first byte.
    host_port = address(board.url)
    with socket.create_connection(host_port) as first:
        first.sendall(b"\x55" * (512 << 10))
        first.shutdown(socket.SHUT_WR)
        t = time.monotonic()
        with socket.create_connection(host_port) as s:
            data = bytes(range(256))
            s.sendall(data)
            assert recv_exactly(s, len(data)) == plus_one(data)
            took = time.monotonic() - t
    print(f"next client served after {took:.3f} s")
    assert took < 0.5


def test_clients_come_and_go(board):
    # Many clients that connect and leave (some after a byte or a burst, some reset) do not
    # hold up the next one, and none of their replies reach it.
    host_port = address(board.url)
    t = time.monotonic()
    for i in range(40):
        s = socket.create_connection(host_port)
        if i % 3 == 1:
            s.sendall(bytes([i]) * (1 + 100 * i))
        if i % 4 == 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        s.close()
    took = served_alone(host_port, b"\xf0\xf1", t)
    print(f"40 clients came and went, the next served after {took:.3f} s")
    assert took < 0.9          # no connection had to retry (a full listen backlog: 1 s)


def test_client_closing_mid_reply(board):
    # A client that reads part of its replies and leaves (a reset, as it leaves unread data).
    host_port = address(board.url)
    s = socket.create_connection(host_port)
    s.sendall(bytes(range(1, 256)) * 64)
    recv_exactly(s, 1000)
    s.close()
    took = served_alone(host_port, b"next", time.monotonic())
    print(f"next client served after {took:.3f} s")
    assert took < 0.5


def holder_and_waiter(url, idle_limit):
    """An idle client holds the board, a second one waits: return when the second is served
    (seconds after it connected) and whether the first was disconnected."""
    host_port = address(url)
    with socket.create_connection(host_port) as holder:
        holder.sendall(b"\x01")
        assert recv_exactly(holder, 1) == b"\x02"
        with socket.create_connection(host_port) as waiter:
            t = time.monotonic()
            waiter.sendall(b"\x10")
            assert recv_exactly(waiter, 1, timeout=idle_limit + 10) == b"\x11"
            took = time.monotonic() - t
        holder.settimeout(1)
        try:
            dropped = holder.recv(1) == b""
        except ConnectionResetError:
            dropped = True
    return took, dropped


def test_idle_client_gives_way_to_a_waiting_one(echo_exe):
    with VirtualBoard(echo_exe, idle_limit=1.0) as b:
        took, dropped = holder_and_waiter(b.url, 1.0)
    print(f"waiting client served after {took:.3f} s")
    assert dropped and 0.5 < took < 3


def test_lone_idle_client_keeps_the_board(echo_exe):
    with VirtualBoard(echo_exe, idle_limit=0.5) as b:
        with socket.create_connection(address(b.url)) as s:
            s.sendall(b"\x01")
            assert recv_exactly(s, 1) == b"\x02"
            time.sleep(1.5)
            s.sendall(b"\x02")
            assert recv_exactly(s, 1) == b"\x03"


def test_busy_client_is_not_idle(echo_exe):
    # A client that keeps talking keeps the board, however long, while another waits.
    with VirtualBoard(echo_exe, idle_limit=0.5) as b:
        host_port = address(b.url)
        with socket.create_connection(host_port) as s:
            s.sendall(b"\x20")
            assert recv_exactly(s, 1) == b"\x21"
            waiter = socket.create_connection(host_port)
            waiter.sendall(b"\x10")
            for i in range(15):
                s.sendall(bytes([i]))
                assert recv_exactly(s, 1) == bytes([i + 1])
                time.sleep(0.1)
            assert select.select([waiter], [], [], 0)[0] == []
        with waiter:
            assert recv_exactly(waiter, 1) == b"\x11"


def test_idle_limit_checks_its_argument(echo_exe, capsys):
    with pytest.raises(ValueError, match="idle_limit must be a number >= 0, not -1"):
        VirtualBoard(echo_exe, idle_limit=-1)
    err = subprocess.run([str(echo_exe), "--idle-limit", "soon"], capture_output=True,
                         text=True, timeout=30).stderr
    assert "--idle-limit must be a number of seconds >= 0, not soon" in err
    from spikecore.sim.serve import main
    with pytest.raises(SystemExit) as exit_:
        main(["--n-inputs", "8", "--n-neurons", "16", "--idle-limit", "-1"])
    assert exit_.value.code == 2
    assert "must be a number of seconds >= 0, not -1" in capsys.readouterr().err


@pytest.fixture
def core_board(sim_exe):
    with VirtualBoard(sim_exe) as b:
        yield b


@needs_top
def test_backlog_of_a_closed_client_is_discarded(core_board):
    # 512 KiB of 0x55 (one endless frame) and gone: the next driver connects, identifies and
    # runs at once (the harness used to feed the whole backlog to the device first: 40 s).
    import spikecore
    with socket.create_connection(address(core_board.url)) as s:
        s.sendall(b"\x55" * (512 << 10))
    t = time.monotonic()
    with spikecore.connect(core_board.url, timeout=5, retries=0) as core:
        spikes = core.run(np.zeros((5, N_INPUTS), dtype=bool))
        took = time.monotonic() - t
    print(f"connect + identify + run served {took:.3f} s after the burst")
    assert spikes.shape == (5, N_NEURONS)
    assert took < 5


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


def test_spikecore_sim_idle_limit(echo_exe):
    proc = spikecore_sim("--port", "0", "--idle-limit", "1")
    try:
        url = first_line(proc).split()[-1]
        took, dropped = holder_and_waiter(url, 1.0)
        assert dropped and 0.5 < took < 3
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


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


@pytest.mark.parametrize("host", ["localhost", "::1", "127.0.0.1"])
def test_spikecore_sim_listens_on_names_and_ipv6(echo_exe, host):
    proc = spikecore_sim("--host", host)
    try:
        url = first_line(proc).split()[-1]
        assert url.startswith("socket://"), url
        rest = url[len("socket://"):]
        addr, port = rest.rsplit(":", 1)
        with socket.create_connection((addr.strip("[]"), int(port)), timeout=5) as s:
            s.sendall(b"abc")
            assert recv_exactly(s, 3) == b"bcd"
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


@pytest.mark.parametrize("args, message", [
    (["--port", "0", "--pty"], "argument --pty: not allowed with argument --port"),
    (["--port", "5", "--pty"], "argument --pty: not allowed with argument --port"),
    (["--host", "no.such.host.invalid"], "bad --host no.such.host.invalid"),
])
def test_spikecore_sim_refuses_conflicting_or_bad_places(echo_exe, args, message):
    proc = spikecore_sim(*args)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and message in err, err
    assert "Traceback" not in err


@needs_top
def test_a_frame_decoding_to_nothing_is_owed_no_reply(sim_exe):
    # 01 00 is COBS for an empty payload: the device ignores it like 00, so the next client
    # must not wait for a reply the harness thought was owed (it waited 3-9 s).
    from spikecore.protocol import encode_frame
    with VirtualBoard(sim_exe) as board:
        with socket.create_connection(address(board.url), timeout=5) as s:
            s.sendall(b"\x00" + encode_frame(bytes([1, 1])) + b"\x01\x00")
            time.sleep(0.5)
        started = time.monotonic()
        with socket.create_connection(address(board.url), timeout=5) as s:
            s.sendall(b"\x00" + encode_frame(bytes([2, 1])))
            s.settimeout(5)
            assert s.recv(64)
        assert time.monotonic() - started < 1.5
