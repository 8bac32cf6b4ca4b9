"""Start and stop a virtual board: the harness executable built by ``spikecore.sim.build``."""

import os
import re
import selectors
import subprocess
import time
import weakref

__all__ = ["VirtualBoard", "DEFAULT_IDLE_LIMIT"]

#: Seconds a client may hold a virtual board without using it while another waits (below the
#: 20 s a waiting driver keeps trying to identify with its default timeout and retries).
DEFAULT_IDLE_LIMIT = 10.0

_URL = re.compile(r"(socket://\S+)")
_PTY = re.compile(r"^pty (\S+)")


class VirtualBoard:
    """A running harness process serving one virtual board on a TCP port or a pty.

    The harness exits when this object is closed, when it is garbage-collected, or when this
    process dies (it watches its stdin, a pipe from here).

    Parameters
    ----------
    exe : path
        The harness executable (``spikecore.sim.build.build``).
    port : int
        TCP port to listen on (0: any free port). Ignored with *pty*.
    pty : bool
        Serve on a pseudo-terminal instead of a TCP port.
    host : str
        Address to listen on.
    trace : path or None
        Write a VCD waveform here (the harness must be built with ``trace=True``).
    stats : bool
        Have the harness print cycle and byte counts on its stderr when it exits.
    idle_limit : float
        Disconnect a client that has moved no byte (and is owed no reply) for this many
        seconds when another client waits; 0: never. A client alone may stay idle.
    extra_args : list of str
        More harness options (``--idle-cycles``, ``--chunk``, ...).
    startup_timeout : float
        Seconds to wait for the harness to report its address.
    stderr : file, int or None
        Where the harness's stderr goes (``subprocess.Popen``'s argument; default: ours).

    Members
    -------
    url : str
        ``socket://HOST:PORT`` or the pty's path.
    process : subprocess.Popen
    """

    def __init__(self, exe, *, port=0, pty=False, host="127.0.0.1", trace=None, stats=False,
                 idle_limit=DEFAULT_IDLE_LIMIT, extra_args=(), startup_timeout=30.0,
                 stderr=None):
        if (isinstance(idle_limit, bool) or not isinstance(idle_limit, (int, float))
                or not idle_limit >= 0):
            raise ValueError(f"idle_limit must be a number >= 0, not {idle_limit!r}")
        args = [str(exe), "--watch-stdin", "--idle-limit", repr(float(idle_limit))]
        args += ["--pty"] if pty else ["--port", str(int(port)), "--host", host]
        if trace:
            args += ["--trace", str(trace)]
        if stats:
            args.append("--stats")
        args += list(extra_args)
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=stderr, start_new_session=True)
        self._finalizer = weakref.finalize(self, _stop, self.process)
        try:
            self.url = self._read_address(startup_timeout)
        except BaseException:
            self.close()
            raise

    def _read_address(self, timeout):
        deadline = time.monotonic() + timeout
        out = self.process.stdout
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(out, selectors.EVENT_READ)
            while b"\n" not in buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the virtual board did not start within {timeout} s")
                if selector.select(left):
                    chunk = os.read(out.fileno(), 4096)
                    if not chunk:
                        code = self.process.wait()
                        raise RuntimeError(f"the virtual board exited at startup (status {code})")
                    buffer += chunk
        line = buffer.split(b"\n", 1)[0].decode(errors="replace")
        match = _URL.search(line) or _PTY.search(line)
        if not match:
            raise RuntimeError(f"unexpected first line from the virtual board: {line!r}")
        return match.group(1)

    @property
    def alive(self):
        """True while the harness process runs."""
        return self.process.poll() is None

    def close(self, timeout=5.0):
        """Stop the harness (if running) and wait for it; return its exit status."""
        self._finalizer.detach()
        return _stop(self.process, timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<VirtualBoard {self.url if hasattr(self, 'url') else '?'} pid {self.process.pid}>"


def _stop(process, timeout=5.0):
    if process.poll() is None:
        try:
            process.stdin.close()      # the harness exits on end of stdin
        except OSError:
            pass
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    for stream in (process.stdin, process.stdout):
        try:
            if stream:
                stream.close()
        except OSError:
            pass
    return process.returncode
