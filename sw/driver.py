"""The host driver: the ``Core`` API over docs/protocol.md, on any byte transport.

``open_device(url)`` opens a board, a virtual board (``socket://host:port``), any pyserial URL
or serial device path, or a transport object (``spikecore.emulator.EmulatorTransport``), and
returns a :class:`LinkCore`. The frames come from ``spikecore.protocol``; :class:`Link`
pipelines them within the device's receive window and recovers from damaged frames by the
sequence rules of the protocol.
"""

import random
import select
import socket
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

from . import protocol, spec
from .core import Core, Recording, State
from .model import generate_steps, xorshift32
from .network import Learning
from .transport import Transport
from .spec import (Command, Counter, Feature, InputField, NeuronField, ResetFlags, Setting, Space,
                   StateField, Status)

__all__ = ["open_device", "LinkCore", "Link", "LinkStats", "DriverError", "LinkError",
           "DeviceError", "SocketTransport", "SerialTransport", "DEFAULT_BAUDRATE",
           "socket_address"]

#: The protocol versions this driver speaks: 4, and 3 (devices made before on-device
#: stimulus and readout, whose generators, counts and probes the driver supplies itself).
VERSIONS = (3, spec.PROTOCOL_VERSION)
#: The boards' UART rate (``spikecore.boards``), used for serial ports unless told otherwise.
DEFAULT_BAUDRATE = 3_000_000
#: Most requests in flight: well under 256, so that a seq never stands for two of them.
MAX_IN_FLIGHT = 128
#: How long to read and discard what a previous client left, when opening (seconds).
DRAIN_QUIET = 0.05
#: Reads wait at most this long at a time (seconds), so that timeouts are checked often.
POLL = 0.05
_NO_REPLY_HINT = (": is the device on, programmed with spikecore, and not in use by another "
                  "program?")


class DriverError(Exception):
    """Base class of the errors of this driver."""


class LinkError(DriverError):
    """The link failed: no reply in time, a closed connection, or an unrecoverable loss."""


class DeviceError(DriverError):
    """The device refused a command: a command-level status.

    ``UNKNOWN_COMMAND``, ``BAD_LENGTH``, ``BAD_ADDRESS`` or ``BAD_VALUE``: the command arrived
    and was checked. Frame-level statuses (``BAD_CRC``, ``BAD_FRAME``) mean it did not arrive;
    the driver sends it again, and raises :class:`LinkError` when that keeps failing.

    Members
    -------
    status : spikecore.spec.Status
    command : spikecore.spec.Command or int
    position : int or None
        For BAD_ADDRESS and BAD_VALUE: the first offending position in the command's block.
    """

    def __init__(self, status, command, position=None, detail=""):
        name = status.name if hasattr(status, "name") else f"status 0x{status:02x}"
        cmd = command.name if hasattr(command, "name") else f"command 0x{command:02x}"
        where = "" if position is None else f" at position {position}"
        super().__init__(f"the device answered {name}{where} to {cmd}{detail}")
        self.status, self.command, self.position = status, command, position


# --- Transports ------------------------------------------------------------------------------

class SocketTransport(Transport):
    """A TCP connection (``socket://host:port``): a virtual board or a network bridge.

    ``read(timeout)`` returns whatever has arrived (b"" after *timeout* with nothing);
    a closed connection raises ``ConnectionError``.
    """

    def __init__(self, host, port, *, timeout=5.0):
        self.name = f"socket://{host}:{port}"
        try:
            self._sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            raise LinkError(f"cannot connect to {self.name}: {e}") from e
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.settimeout(timeout)      # bounds sendall()

    def write(self, data):
        self._sock.sendall(data)

    def read(self, timeout):
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if not ready:
            return b""
        data = self._sock.recv(1 << 16)
        if not data:
            raise ConnectionError(f"{self.name} closed the connection")
        return data

    def close(self):
        self._sock.close()


class SerialTransport(Transport):
    """A serial port, or any other pyserial URL (``serial.serial_for_url``)."""

    def __init__(self, url, *, baudrate=DEFAULT_BAUDRATE, timeout=5.0, **options):
        import serial
        self.name = url
        try:
            self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=POLL,
                                               write_timeout=timeout, **options)
        except (serial.SerialException, OSError, ValueError) as e:
            raise LinkError(f"cannot open {url}: {e}") from e
        self._timeout = POLL

    def write(self, data):
        self._port.write(data)

    def read(self, timeout):
        if timeout != self._timeout:
            self._port.timeout = self._timeout = timeout
        first = self._port.read(1)
        if not first:
            return b""
        waiting = self._port.in_waiting
        return first + (self._port.read(waiting) if waiting else b"")

    def close(self):
        self._port.close()


def _transport_errors():
    try:
        import serial
        return (OSError, EOFError, serial.SerialException)
    except ImportError:         # pragma: no cover (pyserial is a dependency)
        return (OSError, EOFError)


# --- The link: pipelined requests, in-order replies, retransmission ---------------------------

@dataclass
class LinkStats:
    """Bytes and frames that crossed the link (wire: COBS, CRC and delimiters included).

    Members
    -------
    frames_sent, frames_received : int
    wire_sent, wire_received : int
        Bytes on the wire.
    payload_sent, payload_received : int
        Frame payloads (seq, command or status, arguments, data).
    resent : int
        Frames sent again after a damaged or missing reply.
    damaged : int
        Damaged replies and frame-level error replies seen.
    """
    frames_sent: int = 0
    frames_received: int = 0
    wire_sent: int = 0
    wire_received: int = 0
    payload_sent: int = 0
    payload_received: int = 0
    resent: int = 0
    damaged: int = 0

    def as_dict(self):
        """Return the counts, with ``efficiency_sent`` = payload_sent / wire_sent."""
        d = asdict(self)
        d["efficiency_sent"] = self.payload_sent / self.wire_sent if self.wire_sent else None
        return d


class _Request:
    """A request: its payload, its frame and seq once sent, and how often it failed.

    ``failures`` counts the rounds that ended with this request the first one unanswered
    (its frame or its reply damaged or lost); resends caused by an earlier request's failure
    do not count against it.
    """
    __slots__ = ("payload", "frame", "seq", "failures", "tag")

    def __init__(self, payload, tag):
        self.payload, self.tag = payload, tag
        self.frame, self.seq, self.failures = None, None, 0

    @property
    def command(self):
        """The command (a ``Command``, or the byte if it is none)."""
        try:
            return Command(self.payload[1])
        except ValueError:
            return self.payload[1]


class Link:
    """Requests and replies over a byte transport, by the rules of docs/protocol.md.

    :meth:`transact` sends requests pipelined, keeping the wire bytes of unanswered frames
    within the device's ``rx_window``, and returns their replies in order. A frame-level reply
    (``BAD_CRC``, ``BAD_FRAME``) means a request did not arrive, whatever its seq: the first
    request unanswered is sent again with the same seq, after a lone 0x00, with the ones after
    it (``OUT_OF_ORDER``) once their replies are in; a missing last reply is asked for again
    (the device resends its remembered reply). IDENTIFY is retried the same way. Only
    command-level statuses raise :class:`DeviceError`. A reply lost after later requests
    executed cannot be recovered and raises :class:`LinkError`.

    Parameters
    ----------
    transport : object
        ``write(bytes)``, ``read(timeout) -> bytes`` (b"" on timeout), ``close()``.
    url : str
        Named in messages.
    timeout : float
        Seconds without a reply byte after which a request is sent again.
    retries : int
        How many times one request may be sent again after its frame or its reply was
        damaged or lost, before :class:`LinkError`.

    Members
    -------
    identity : spikecore.protocol.Identity
        What IDENTIFY reported (after :meth:`identify`).
    stats : LinkStats
    """

    def __init__(self, transport, *, url, timeout=5.0, retries=3):
        self.transport, self.url = transport, url
        self.timeout, self.retries = timeout, retries
        self.identity = None
        self.stats = LinkStats()
        self.window = spec.RX_WINDOW
        self.max_payload = spec.MAX_PAYLOAD
        self._decoder = protocol.FrameDecoder()
        self._seq = random.randrange(256)
        self._broken = False
        self._errors = _transport_errors()

    # --- bytes ---

    def _write(self, data):
        try:
            self.transport.write(data)
        except self._errors as e:
            self._broken = True
            raise LinkError(f"cannot send to {self.url}: {e}") from e

    def _read(self, timeout):
        """Return the replies (payloads and FrameErrors) that arrive within *timeout*."""
        try:
            data = self.transport.read(max(0.0, timeout))
        except self._errors as e:
            self._broken = True
            raise LinkError(f"the link to {self.url} failed: {e}") from e
        if not data:
            return None
        self.stats.wire_received += len(data)
        return self._decoder.feed(data)

    def _send(self, request):
        if request.seq is None:
            request.seq = self._seq
            self._seq = (self._seq + 1) & 0xFF
            request.frame = protocol.encode_frame(bytes([request.seq]) + request.payload[1:])
        else:
            self.stats.resent += 1
        self.stats.frames_sent += 1
        self.stats.wire_sent += len(request.frame)
        self.stats.payload_sent += len(request.payload)
        return request.frame

    def drain(self, quiet=DRAIN_QUIET):
        """Send a lone 0x00 and discard input until none arrives for *quiet* seconds."""
        self._write(b"\x00")
        end = time.monotonic() + max(self.timeout, quiet)
        while time.monotonic() < end and self._read(quiet) is not None:
            pass
        self._decoder = protocol.FrameDecoder()

    # --- IDENTIFY ---

    def identify(self):
        """Resynchronise (lone 0x00, drain, IDENTIFY); store and return the Identity.

        IDENTIFY is sent again, as any request is, after a damaged or missing reply or a
        frame-level error reply, at most ``retries`` times.
        """
        self._broken = True
        self.drain()
        results = [None]
        self._transact(deque([_Request(protocol.identify_request(), 0)]), deque(), results,
                       None)
        try:
            identity = protocol.parse_identify(results[0])
        except ValueError as e:
            raise LinkError(f"{self.url} sent a malformed IDENTIFY reply: {e}") from None
        self._check_identity(identity)
        self._broken = False
        return identity

    def _check_identity(self, identity):
        if identity.version not in VERSIONS:
            raise LinkError(f"{self.url} speaks protocol version {identity.version}; this host "
                            f"speaks versions {' and '.join(map(str, VERSIONS))}: program it "
                            f"with this spikecore's gateware")
        if not spec.MIN_PAYLOAD <= identity.max_payload <= spec.MAX_PAYLOAD \
                or identity.rx_window < 1:
            raise LinkError(f"{self.url} reports max_payload {identity.max_payload} and "
                            f"rx_window {identity.rx_window}: not usable")
        self.identity = identity
        self.window = identity.rx_window
        self.max_payload = identity.max_payload

    def _accept(self, item):
        """Count a received item; return it as a Reply, or None if damaged."""
        self.stats.frames_received += 1
        if isinstance(item, protocol.FrameError):
            self.stats.damaged += 1
            return None
        self.stats.payload_received += len(item)
        if len(item) < 2:
            self.stats.damaged += 1
            return None
        return protocol.parse_reply(item)

    # --- transactions ---

    def transact(self, payloads, *, on_reply=None):
        """Send *payloads* (request payloads; their seq byte is replaced) and return replies.

        Parameters
        ----------
        payloads : iterable of bytes
            Built by ``spikecore.protocol`` (any seq).
        on_reply : callable or None
            ``on_reply(index, data)`` as each OK reply arrives, in order.

        Returns
        -------
        list of bytes
            The data of each reply, in order.

        Raises
        ------
        DeviceError
            A reply's status was command-level (raised once every request sent is
            answered).
        LinkError
            See the class description.
        """
        if self._broken:
            self.identify()
        pending = deque(_Request(p, k) for k, p in enumerate(payloads))
        results = [None] * len(pending)
        inflight = deque()
        try:
            self._transact(pending, inflight, results, on_reply)
        except DeviceError:
            raise                       # every request sent was answered: still in step
        except BaseException:
            self._broken = True         # replies may still come: resynchronise next time
            raise
        return results

    def _transact(self, pending, inflight, results, on_reply):
        failure = None              # the first DeviceError: send nothing new, drain, raise it
        in_wire = 0
        resend = False
        while pending or inflight:
            # Send what the window allows (always one frame when nothing is in flight). After
            # a DeviceError only requests sent before are sent again: each request sent runs
            # as it would have without damage, and the device's seq stays the driver's.
            batch = []
            while pending and (failure is None or pending[0].seq is not None) \
                    and len(inflight) < MAX_IN_FLIGHT:
                request = pending[0]
                size = len(request.frame) if request.frame else _wire_size(request.payload)
                if inflight and in_wire + size > self.window:
                    break
                pending.popleft()
                batch.append(self._send(request))
                inflight.append(request)
                in_wire += len(request.frame)
            if batch:
                if resend:
                    # A lone 0x00 first ends what the device may hold of a frame whose
                    # delimiter was damaged (its frame-level reply then comes first).
                    batch.insert(0, b"\x00")
                    self.stats.wire_sent += 1
                    resend = False
                self._write(b"".join(batch))
            if not inflight:
                break
            # Receive the replies of the requests in flight; they come in order.
            outcome = self._round(inflight)
            while inflight and inflight[0].seq in outcome.answers:
                request = inflight.popleft()
                in_wire -= len(request.frame)
                reply = outcome.answers.pop(request.seq)
                if reply.status is Status.OK:
                    results[request.tag] = reply.data
                    if on_reply is not None:
                        on_reply(request.tag, reply.data)
                elif failure is None:
                    failure = _device_error(request, reply)
            if not inflight:
                continue
            if not (outcome.damaged or outcome.timed_out or outcome.rejected_head
                    or outcome.answers):
                continue                # the head was answered; the others are on their way
            head = inflight[0]
            if outcome.answers:
                later = sorted(outcome.answers, key=lambda seq: (seq - head.seq) & 0xFF)
                raise LinkError(
                    f"the reply to seq {head.seq} from {self.url} was lost after the device "
                    f"had executed later requests (seq {later[0]}): it cannot be asked for "
                    f"again (the device keeps one reply)")
            if outcome.rejected_head:
                raise LinkError(
                    f"{self.url} answered OUT_OF_ORDER to seq {head.seq}: a reply was lost "
                    f"after later requests had executed, or another client used the device")
            # Damaged or missing (a frame-level reply means the request did not arrive):
            # send everything in flight again, with the same seqs.
            head.failures += 1
            if head.failures > self.retries:
                command = head.command
                name = command.name if isinstance(command, Command) else f"0x{command:02x}"
                if outcome.timed_out:
                    hint = _NO_REPLY_HINT if command is Command.IDENTIFY else ""
                    raise LinkError(f"no reply from {self.url} within {self.timeout:g} s "
                                    f"({head.failures} {name} attempts at seq {head.seq}){hint}")
                raise LinkError(f"seq {head.seq} ({name}) to {self.url} failed "
                                f"{head.failures} times: frames are damaged on the link")
            pending.extendleft(reversed(inflight))
            inflight.clear()
            in_wire = 0
            resend = True
        if failure is not None:
            raise failure

    def _round(self, inflight):
        """Read replies of the requests *inflight* until the head is answered or all are.

        Returns an :class:`_Outcome` whose ``answers`` maps seqs to executed replies. With no
        damage the round ends as soon as the head's reply is in. After damage (a damaged
        reply, a frame-level error, an OUT_OF_ORDER) it runs until the last request in
        flight is answered, or every request had a reply and the link stays quiet a moment,
        so that a resend never meets replies of the round before; and it always ends after
        ``timeout`` seconds without a byte.
        """
        outcome = _Outcome()
        by_seq = {r.seq: r for r in inflight}
        head, last = inflight[0], inflight[-1]
        received = 0
        quiet_since = time.monotonic()
        settle = self._settle(inflight)
        while True:
            quiet = time.monotonic() - quiet_since
            timed_out = quiet >= self.timeout
            settled = outcome.damaged and received >= len(inflight) and quiet >= settle
            # At a limit, one more look without waiting: what came while this process was not
            # running still counts.
            items = self._read(0 if timed_out or settled else min(POLL, self.timeout - quiet))
            if items is None:
                if timed_out or settled:
                    outcome.timed_out = timed_out
                    return outcome
                continue
            quiet_since = time.monotonic()
            for item in items:
                received += 1
                reply = self._accept(item)
                status = reply.status if reply else None
                if reply is None or status not in protocol.EXECUTED \
                        and status is not Status.OUT_OF_ORDER:
                    # Damaged, unknown, or frame-level (BAD_CRC, BAD_FRAME): a request did not
                    # arrive. Never matched by seq: it is the first byte the device received,
                    # which may be a damaged one or a fragment's.
                    self.stats.damaged += reply is not None
                    outcome.damaged = True
                    continue
                request = by_seq.get(reply.seq)
                if request is None:
                    continue            # a late duplicate of a reply already taken, or stray
                if status is Status.OUT_OF_ORDER:
                    if request is head and not outcome.damaged:
                        outcome.rejected_head = True
                        return outcome
                    outcome.damaged = True      # the head was lost, or this is a late reply
                else:
                    outcome.answers[request.seq] = reply
                if outcome.damaged and request is last:
                    return outcome
            if not outcome.damaged and head.seq in outcome.answers:
                return outcome

    def _settle(self, inflight):
        """Seconds of silence that end a damaged round once every request had a reply."""
        wire = sum(len(r.frame) for r in inflight)
        baud = self.identity.baud if self.identity and self.identity.baud else DEFAULT_BAUDRATE
        return min(self.timeout, 0.05 + 2 * wire * 10 / baud)

    def close(self):
        """Close the transport."""
        self.transport.close()


def _wire_size(payload):
    """Return the wire bytes of a frame of *payload* at most (COBS worst case)."""
    n = len(payload) + 2
    return n + (n + 253) // 254 + 1


def _device_error(request, reply):
    """Return the DeviceError for *reply* (not OK) to *request*."""
    command = request.command
    position = None
    if reply.status in (Status.BAD_ADDRESS, Status.BAD_VALUE):
        position = protocol.parse_position(reply.data)
    detail = ""
    if command in (Command.WRITE, Command.READ) and len(request.payload) >= 9:
        try:
            space = Space(request.payload[2]).name
        except ValueError:
            space = f"space {request.payload[2]}"
        addr = int.from_bytes(request.payload[3:6], "little")
        detail = f" (a {space} block from address 0x{addr:06x})"
    return DeviceError(reply.status, command, position, detail)


class _Outcome:
    __slots__ = ("answers", "damaged", "rejected_head", "timed_out")

    def __init__(self):
        self.answers = {}
        self.damaged = self.rejected_head = self.timed_out = False


# --- The Core API over a link ----------------------------------------------------------------

class LinkCore(Core):
    """A device behind a :class:`Link`: a board, the virtual board or an emulator.

    Made by :func:`open_device`. The device keeps its network and state between
    connections, so a fresh ``LinkCore`` can ``run`` and read back without ``load``.

    Members
    -------
    link : Link
        Its ``stats`` count the bytes and frames that crossed the link.
    url : str
    identity : spikecore.protocol.Identity
        What the device reported when it was opened.
    features : spikecore.spec.Feature
        What IDENTIFY reported: the settings and fields of the others have no address.

    On a device without ``Feature.GENERATORS`` (or of protocol version 3) the driver runs the
    generators of docs/model.md on the host and streams what they fire: the same spikes, bit
    for bit, at the link's pace. Their states start at the device's power-up values when it
    is opened, and ``load`` sets them. Without ``Feature.COUNTS`` it counts the spike records;
    without ``Feature.RUN_WITH`` (a version 3 device, the iCEBreaker) it runs RUN frames and
    probes with a RUN of one step and a READ per probe.
    """

    def __init__(self, link, *, progress=None):
        self.link, self.url, self.identity = link, link.url, link.identity
        self.features = self.identity.features
        self.n_inputs, self.n_neurons = self.identity.n_inputs, self.identity.n_neurons
        self.n_sources = self.n_inputs + self.n_neurons
        self._nb = spec.neuron_bits(self.n_neurons)
        self._sb = spec.src_bits(self.n_inputs, self.n_neurons)
        self._progress = progress
        self._loaded = True         # whatever network the device holds
        # The host's generators, for a device that has none: power-up rates and states.
        self._rate = np.zeros(self.n_inputs, dtype=np.int64)
        self._gen = np.arange(1, self.n_inputs + 1, dtype=np.int64)

    # --- blocks ---

    def _writes(self, space, values, width, addr_of):
        """Return WRITE payloads of *values* (flat) at ``addr_of(k)`` for value k."""
        values = np.asarray(values, dtype=np.int64).ravel()
        per_frame = (self.link.max_payload - protocol.HEADER_BYTES) // width
        return [protocol.write_request(space, addr_of(k), values[k:k + per_frame], width)
                for k in range(0, len(values), per_frame)]

    def _reads(self, space, total, width, addr_of):
        """Return READ payloads of *total* values at ``addr_of(k)`` for value k."""
        per_frame = (self.link.max_payload - 2) // width
        return [protocol.read_request(space, addr_of(k), min(per_frame, total - k), width)
                for k in range(0, total, per_frame)]

    def _weight_addr(self, k):
        j, i = divmod(k, self.n_neurons)
        return (j << self._nb) | i

    def _field_addr(self, field, bits):
        return lambda k: (field.value << bits) | k

    def _setting_writes(self, values):
        """Return WRITE payloads of *values* (``{Setting: int}``): one block per run of
        successive addresses (one in all unless a setting the device lacks lies between)."""
        payloads, run = [], []
        for setting in sorted(values, key=lambda s: s.value):
            if run and setting.value != run[-1].value + 1:
                payloads += self._writes(Space.SETTING, [values[s] for s in run],
                                         spec.SETTING_BYTES, lambda k, a=run[0].value: a + k)
                run = []
            run.append(setting)
        if run:
            payloads += self._writes(Space.SETTING, [values[s] for s in run],
                                     spec.SETTING_BYTES, lambda k, a=run[0].value: a + k)
        return payloads

    def _read_settings(self):
        """Return ``{Setting: int}`` of every setting the device has, read from it."""
        have = spec.settings_of(self.features)
        runs = []
        for setting in have:
            if runs and setting.value == runs[-1][-1].value + 1:
                runs[-1].append(setting)
            else:
                runs.append([setting])
        data = self._transact([protocol.read_request(Space.SETTING, run[0].value, len(run),
                                                     spec.SETTING_BYTES) for run in runs])
        values = {}
        for run, block in zip(runs, data):
            values.update(zip(run, protocol.decode_values(block, spec.SETTING_BYTES).tolist()))
        return values

    def _bar(self, total, unit, desc):
        from tqdm import tqdm
        show = sys.stderr.isatty() if self._progress is None else bool(self._progress)
        return tqdm(total=total, unit=unit, desc=desc, disable=not show, leave=False,
                    delay=0 if self._progress else 1.0, unit_scale=True)

    def _transact(self, payloads, *, bar=None, units=None):
        if bar is None:
            return self.link.transact(payloads)

        def on_reply(index, data):
            bar.update(units[index])

        with bar:
            return self.link.transact(payloads, on_reply=on_reply)

    # --- the Core backend ---

    def _load(self, net):
        weights = np.asarray(net.weights, dtype=np.int64)
        requests = self._writes(Space.WEIGHT, weights, 1, self._weight_addr)
        for field in spec.fields_of(self.features):
            requests += self._writes(Space.NEURON, getattr(net, field.name.lower()),
                                     spec.NEURON_FIELD_BYTES[field],
                                     self._field_addr(field, self._nb))
        lr = net.learning
        w_exp_rec = net.w_exp if net.w_exp_rec is None else net.w_exp_rec
        settings = {s: net.w_exp if s is Setting.W_EXP else w_exp_rec
                    if s is Setting.W_EXP_REC else int(getattr(lr, s.name.lower()))
                    for s in spec.settings_of(self.features)}
        requests += self._setting_writes(settings)
        requests += self._writes(Space.MASK, net.plastic_src, 1, lambda k: k)
        requests += self._writes(Space.MASK, net.plastic_dst, 1, lambda k: (1 << self._sb) | k)
        requests += self._input_writes(net.rate, net.gen_state)
        requests.append(protocol.reset_request(self._reset_all))
        units = [len(p) for p in requests]
        self._transact(requests, bar=self._bar(sum(units), "B", "load"), units=units)

    @property
    def _reset_all(self):
        """The RESET flags of everything this device can reset."""
        flags = ResetFlags.STATE | ResetFlags.COUNTERS
        return flags | ResetFlags.SPIKE_COUNTS if self.features & Feature.COUNTS else flags

    def _input_writes(self, rate, gen_state):
        """Return the WRITEs of the generators' rates and states (None: keep), or set the
        host's where the device has no generators."""
        if not self.features & Feature.GENERATORS:
            if rate is not None:
                self._rate = np.array(rate, dtype=np.int64)
            if gen_state is not None:
                self._gen = np.array(gen_state, dtype=np.int64)
            return []
        requests = []
        for field, values in ((InputField.RATE, rate), (InputField.GEN, gen_state)):
            if values is not None:
                requests += self._writes(Space.INPUT, values, spec.INPUT_FIELD_BYTES[field],
                                         self._field_addr(field, self._sb))
        return requests

    def _host_generated(self, inputs, steps):
        """Return *inputs* (or None) with what the host's generators fire in *steps* steps,
        on a device without generators (else *inputs* as they are)."""
        if self.features & Feature.GENERATORS:
            return inputs
        if not self._rate.any():
            for _ in range(steps):
                self._gen = xorshift32(self._gen)
            return inputs
        self._gen, fired = generate_steps(self._gen, self._rate, steps)
        return fired if inputs is None else inputs | fired

    def _set_rates(self, rate, gen_state):
        requests = self._input_writes(rate, gen_state)
        if requests:
            self._transact(requests)

    def _run(self, inputs):
        return self._run_records(self._host_generated(inputs, len(inputs)))

    def _run_records(self, inputs):
        """Run *inputs* in RUN frames; return the spikes."""
        steps = len(inputs)
        spans, payloads = [], []
        for start, stop, payload in protocol.split_run(inputs, self.n_neurons,
                                                       max_payload=self.link.max_payload):
            spans.append((start, stop))
            payloads.append(payload)
        spikes = np.zeros((steps, self.n_neurons), dtype=bool)
        bar = self._bar(steps, "step", "run")

        def on_reply(index, data):
            start, stop = spans[index]
            try:
                spikes[start:stop] = protocol.decode_records(data, stop - start,
                                                             self.n_neurons)
            except protocol.RecordError as e:
                raise LinkError(f"{self.url} sent malformed spike records: {e}") from None
            bar.update(stop - start)

        with bar:
            self.link.transact(payloads, on_reply=on_reply)
        return spikes

    def _run_with(self, inputs, steps, spikes, counts, probes):
        inputs = self._host_generated(inputs, steps)
        device_counts = counts and bool(self.features & Feature.COUNTS)
        records = spikes or (counts and not device_counts)
        if not self.features & Feature.RUN_WITH:
            out, values = self._run_v3(inputs, steps, records or counts, probes)
            total = None
        else:
            out, values, total = self._run_v4(inputs, steps, records, device_counts, probes)
        if counts and total is None:
            total = out.sum(axis=0, dtype=np.int64)
        return Recording(spikes=out if spikes else None, counts=total if counts else None,
                         probes=values if probes else None)

    def _run_v4(self, inputs, steps, records, device_counts, probes):
        """RUN_WITH frames; with *device_counts*, the counts cleared before and read after
        each span of at most MAX_STEPS steps (they saturate there)."""
        n = self.n_neurons
        span = spec.MAX_STEPS if device_counts else max(steps, 1)
        requests, plan = [], []
        count_reads = self._reads(Space.STATE, n, 2, self._field_addr(StateField.COUNT, self._sb))
        for g0 in range(0, steps, span):
            g1 = min(g0 + span, steps)
            if device_counts:
                requests.append(protocol.reset_request(ResetFlags.SPIKE_COUNTS))
                plan.append(None)
            part = None if inputs is None else inputs[g0:g1]
            for start, stop, payload in protocol.split_run_with(
                    part, g1 - g0, n, spikes=records, probes=probes,
                    max_payload=self.link.max_payload):
                requests.append(payload)
                plan.append((g0 + start, g0 + stop))
            if device_counts:
                requests += count_reads
                plan += ["counts"] * len(count_reads)
        units = [p[1] - p[0] if isinstance(p, tuple) else 0 for p in plan]
        data = self._transact(requests, bar=self._bar(steps, "step", "run"), units=units)
        out = np.zeros((steps, n), dtype=bool) if records else None
        values = np.zeros((steps, len(probes)), dtype=np.int64)
        total = np.zeros(n, dtype=np.int64) if device_counts else None
        blocks = []
        for item, reply in zip(plan, data):
            if item == "counts":
                blocks.append(reply)
                if len(blocks) == len(count_reads):
                    total += protocol.decode_values(b"".join(blocks), 2, signed=False)
                    blocks = []
            elif item is not None:
                start, stop = item
                try:
                    s, v = protocol.decode_run_with(reply, stop - start, n, spikes=records,
                                                    n_probes=len(probes))
                except protocol.RecordError as e:
                    raise LinkError(f"{self.url} sent a malformed RUN_WITH reply: {e}") \
                        from None
                if records:
                    out[start:stop] = s
                values[start:stop] = v
        return out, values, total

    def _run_v3(self, inputs, steps, records, probes):
        """RUN frames (a device without RUN_WITH); probes as a RUN of one step and a READ
        per probe, step by step."""
        if inputs is None:
            inputs = np.zeros((steps, self.n_inputs), dtype=bool)
        if not probes:
            return self._run_records(inputs), np.zeros((steps, 0), np.int64)
        requests = []
        for t in range(steps):
            requests.append(protocol.run_request(protocol.encode_records(inputs[t:t + 1]), 1))
            requests += [protocol.read_request(space, addr, 1, spec.PROBE_BYTES)
                         for space, addr in probes]
        data = self._transact(requests)
        k = 1 + len(probes)
        out = np.zeros((steps, self.n_neurons), dtype=bool)
        values = np.zeros((steps, len(probes)), dtype=np.int64)
        for t in range(steps):
            out[t] = protocol.decode_records(data[t * k], 1, self.n_neurons)[0]
            if probes:
                values[t] = protocol.decode_values(b"".join(data[t * k + 1:(t + 1) * k]),
                                                   spec.PROBE_BYTES)
        return out, values

    def _present(self, rates, steps):
        have = Feature.GENERATORS | Feature.COUNTS | Feature.RUN_WITH
        if self.features & have != have or steps > spec.MAX_STEPS:
            return super()._present(rates, steps)
        n = self.n_neurons
        count_reads = self._reads(Space.STATE, n, 2, self._field_addr(StateField.COUNT, self._sb))
        requests, marks = [], []
        for row in rates:
            requests += self._input_writes(row, None)
            requests.append(protocol.reset_request(ResetFlags.STATE | ResetFlags.SPIKE_COUNTS))
            requests += [p for _, _, p in protocol.split_run_with(
                None, steps, n, spikes=False, max_payload=self.link.max_payload)]
            marks.append(len(requests))
            requests += count_reads
        units = [0] * len(requests)
        for at in marks:
            units[at] = 1
        data = self._transact(requests, bar=self._bar(len(rates), "sample", "present"),
                              units=units)
        counts = np.zeros((len(rates), n), dtype=np.int64)
        for k, at in enumerate(marks):
            counts[k] = protocol.decode_values(b"".join(data[at:at + len(count_reads)]), 2,
                                               signed=False)
        return counts

    def _read_weights(self):
        total = self.n_sources * self.n_neurons
        data = self._transact(self._reads(Space.WEIGHT, total, 1, self._weight_addr))
        return protocol.decode_values(b"".join(data), 1).astype(np.int8).reshape(
            self.n_sources, self.n_neurons)

    def _write_weights(self, w, rows):
        order = np.argsort(rows, kind="stable")
        rows, w = rows[order], w[order].astype(np.int64)
        # Successive rows are successive addresses: one run of blocks each.
        starts = np.flatnonzero(np.diff(rows, prepend=-2) != 1).tolist() + [len(rows)]
        requests = []
        for a, b in zip(starts, starts[1:]):
            first = int(rows[a]) * self.n_neurons
            requests += self._writes(Space.WEIGHT, w[a:b], 1,
                                     lambda k, first=first: self._weight_addr(first + k))
        self._transact(requests)

    def _set(self, values):
        requests = []
        for name, array in values.items():
            field = NeuronField[name.upper()]
            requests += self._writes(Space.NEURON, array, spec.NEURON_FIELD_BYTES[field],
                                     self._field_addr(field, self._nb))
        self._transact(requests)

    def _set_learning(self, changes):
        have = spec.settings_of(self.features)
        # Settings the device lacks hold their defaults (checked): nothing to write there.
        given = {Setting[name.upper()]: value for name, value in changes.items()
                 if Setting[name.upper()] in have}
        if not given:
            return
        low, high = min(s.value for s in given), max(s.value for s in given)
        span = [s for s in have if low <= s.value <= high]
        # One block from the first setting given to the last: the device applies it all or
        # nothing. Read what it holds first if the block covers settings not given, or if one
        # bound is given without the other (the merged settings are checked as a whole).
        one_bound = (Setting.W_MIN in given) != (Setting.W_MAX in given)
        current = self._read_settings() if one_bound or set(span) - set(given) else {}
        learning = {s.name.lower(): v for s, v in current.items()
                    if s.name.lower() in Learning._DEFAULTS}
        merged = self._merged_learning(learning, changes)
        values = {s: current[s] if s is Setting.W_EXP_REC else int(getattr(merged,
                                                                        s.name.lower()))
                  for s in span}
        self._transact(self._setting_writes(values))

    def _read_state(self):
        names = {StateField.SPIKED: "spikes"}
        fields = [(names.get(field, field.name.lower()), field,
                   self.n_sources if field is StateField.X else self.n_neurons, width, signed)
                  for field, (width, signed) in spec.STATE_FIELD_BYTES.items()
                  if field is not StateField.COUNT]
        sb = self._sb
        requests, counts = [], []
        for _, field, total, width, _ in fields:
            blocks = self._reads(Space.STATE, total, width, self._field_addr(field, sb))
            requests += blocks
            counts.append(len(blocks))
        theta = spec.NeuronField.THETA
        if self.features & spec.Feature.THETA:
            requests += self._reads(Space.NEURON, self.n_neurons, spec.NEURON_FIELD_BYTES[theta],
                                    self._field_addr(theta, self._nb))
        data = self._transact(requests)
        state, at = {}, 0
        for (name, _, _, width, signed), count in zip(fields, counts):
            values = protocol.decode_values(b"".join(data[at:at + count]), width,
                                            signed=signed)
            state[name] = values.astype(bool) if name == "spikes" else values
            at += count
        state["theta"] = protocol.decode_values(b"".join(data[at:]),
                                                spec.NEURON_FIELD_BYTES[theta]) \
            if self.features & spec.Feature.THETA else np.zeros(self.n_neurons, np.int64)
        if self.features & Feature.GENERATORS:
            width = spec.INPUT_FIELD_BYTES[InputField.GEN]
            blocks = self._transact(self._reads(Space.INPUT, self.n_inputs, width,
                                                self._field_addr(InputField.GEN, self._sb)))
            state["gen_state"] = protocol.decode_values(b"".join(blocks), width, signed=False)
        else:
            state["gen_state"] = self._gen.copy()
        return State(**state)

    def _reset(self):
        self._transact([protocol.reset_request(ResetFlags.STATE)])

    def _counters(self):
        data, = self._transact([protocol.read_request(Space.COUNTER, Counter.STEPS_LO.value,
                                                      len(Counter), 4)])
        lo_s, hi_s, lo_c, hi_c = protocol.decode_values(data, 4, signed=False).tolist()
        return {"steps": lo_s | hi_s << 32, "cycles": lo_c | hi_c << 32}

    def _info(self):
        return {"backend": "link", "url": self.url, **self.identity._asdict(),
                **self.link.transport.info()}

    def close(self):
        """Close the link."""
        self.link.close()

    def __repr__(self):
        return (f"<LinkCore {self.url}: {self.n_inputs} inputs + {self.n_neurons} neurons, "
                f"{self.identity.lanes} lanes>")


def _check_options(timeout, retries, progress):
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not timeout > 0 or timeout != timeout:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an integer >= 0, not {retries!r}")
    if progress not in (None, True, False):
        raise ValueError(f"progress must be None, True or False, not {progress!r}")


def socket_address(url):
    """Return (host, port) of ``socket://HOST:PORT`` (an IPv6 host in brackets)."""
    rest = url[len("socket://"):].rstrip("/")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"a socket URL is socket://HOST:PORT, not {url!r}")
    return host.strip("[]"), int(port)


def open_device(url_or_transport, *, timeout=5.0, retries=3, progress=None,
                baudrate=DEFAULT_BAUDRATE, **options):
    """Open a device and return a :class:`LinkCore` talking to it.

    Sends a lone 0x00, discards what a previous client left, and asks IDENTIFY; the
    geometry the device reports is the core's.

    Parameters
    ----------
    url_or_transport : str or transport
        ``socket://host:port`` (TCP: the virtual board, a network bridge); any other pyserial
        URL or a serial device path (``/dev/ttyUSB1``, ``COM3``); or a
        ``spikecore.transport.Transport`` (``spikecore.emulator.EmulatorTransport``,
        ``spikecore.sim.rtl.RtlTransport``, ...).
    timeout : float
        Seconds without a reply byte after which a request is sent again.
    retries : int
        How many times one request may be sent again after its frame or its reply was
        damaged or lost, before :class:`LinkError`.
    progress : bool or None
        Show progress bars on long loads and runs: None when stderr is a terminal.
    baudrate : int
        For serial ports.
    **options
        More ``serial.serial_for_url`` arguments, for serial ports.

    Raises
    ------
    LinkError
        If the device cannot be opened or does not answer IDENTIFY.
    """
    _check_options(timeout, retries, progress)
    if isinstance(url_or_transport, str):
        url = url_or_transport
        if not url:
            raise ValueError("open_device() needs a URL or device path, not ''")
        if url.startswith("socket://") and "?" not in url:
            if options:
                raise TypeError(f"socket:// takes no options, not {sorted(options)}")
            transport = SocketTransport(*socket_address(url), timeout=timeout)
        else:
            transport = SerialTransport(url, baudrate=baudrate, timeout=timeout, **options)
        name = url
    else:
        transport = url_or_transport
        if not isinstance(transport, Transport):
            raise TypeError(f"open_device() takes a URL or a spikecore.transport.Transport, "
                            f"not {type(transport).__name__}")
        if options:
            raise TypeError(f"a transport takes no options, not {sorted(options)}")
        name = getattr(transport, "name", None) or repr(transport)
    link = Link(transport, url=name, timeout=timeout, retries=retries)
    try:
        link.identify()
    except BaseException:
        transport.close()
        raise
    return LinkCore(link, progress=progress)
