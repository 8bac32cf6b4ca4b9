"""The link protocol of docs/protocol.md as pure functions: framing, requests, replies, records.

Nothing here does I/O. ``spikecore.driver`` sends what these functions build over a byte
transport; ``spikecore.emulator`` answers them as the gateware (``spikecore.hw.link``) does.
Every code and constant comes from ``spikecore.spec``.

>>> from spikecore import protocol, spec
>>> wire = protocol.encode_frame(protocol.identify_request(seq=7))
>>> protocol.FrameDecoder().feed(wire)
[b'\\x07\\x01']
"""

import binascii
from typing import NamedTuple

import numpy as np

from . import spec
from .spec import Command, Space, Status, max_run_steps

__all__ = [
    "crc16", "cobs_encode", "cobs_decode", "CobsError", "encode_frame", "FrameDecoder",
    "FrameError", "Identity", "Reply", "parse_reply", "reply_payload",
    "identify_request", "write_request", "read_request", "reset_request", "run_request",
    "encode_values", "decode_values", "parse_identify", "parse_position",
    "record_lengths", "encode_records", "decode_records", "RecordError",
    "max_run_steps", "split_run", "HEADER_BYTES", "EXECUTED", "run_with_request",
    "split_run_with", "decode_run_with",
]

#: Bytes before the values of a WRITE (seq, command, space, addr:u24, count:u16, width).
HEADER_BYTES = 9
#: Most data bytes one COBS code byte covers.
_MAX_BLOCK = 254
#: Statuses a reply has when its command executed (docs/protocol.md, rule 3) or is the
#: remembered reply of one: everything but the frame-level errors and OUT_OF_ORDER.
EXECUTED = frozenset({Status.OK, Status.UNKNOWN_COMMAND, Status.BAD_LENGTH,
                      Status.BAD_ADDRESS, Status.BAD_VALUE})


# --- CRC and COBS ----------------------------------------------------------------------------

def crc16(payload):
    """Return the CRC-16/CCITT-FALSE of *payload*: ``binascii.crc_hqx(payload, CRC_INIT)``."""
    return binascii.crc_hqx(payload, spec.CRC_INIT)


class CobsError(ValueError):
    """COBS-encoded data that cannot be decoded (a block cut short, or a 0x00 inside)."""


def cobs_encode(data):
    """Return *data* COBS-encoded, without the 0x00 delimiter.

    A code byte ``c`` (1 … 255) is followed by ``c − 1`` non-zero bytes; every block but a
    full one (``c = 255``) stands for its bytes and a 0x00, and the last block's 0x00 is
    dropped. ``b""`` encodes to ``b"\\x01"``.
    """
    data = bytes(data)
    out = bytearray()
    parts = data.split(b"\x00")
    for k, part in enumerate(parts):
        last = k == len(parts) - 1
        while len(part) >= _MAX_BLOCK:
            out.append(_MAX_BLOCK + 1)
            out += part[:_MAX_BLOCK]
            part = part[_MAX_BLOCK:]
            if not part and last:
                return bytes(out)       # ends with a full block: no final code byte
        out.append(len(part) + 1)
        out += part
    return bytes(out)


def cobs_decode(data):
    """Return the bytes that the COBS-encoded *data* (no delimiter) stands for.

    Raises
    ------
    CobsError
        If *data* holds a 0x00 or its last block is cut short.
    """
    data = bytes(data)
    if b"\x00" in data:
        raise CobsError(f"COBS data holds a 0x00 at offset {data.index(0)}")
    walker = _CobsWalker()
    out = walker.decode(data)
    if walker.left:
        raise CobsError(f"COBS block cut short: {walker.left} more byte(s) expected")
    return bytes(out)


class _CobsWalker:
    """Incremental COBS decoding of one frame, block by block (as ``hw.cobs.CobsDecoder``).

    ``left`` data bytes remain in the current block (0: a code byte is next); ``implied``
    says a 0x00 is due before the next block, dropped if the frame ends instead.
    """

    __slots__ = ("left", "implied", "zero_after")

    def __init__(self):
        self.left, self.implied, self.zero_after = 0, False, False

    def decode(self, chunk):
        """Return the decoded bytes of *chunk* (no 0x00 in it); keep the state for more."""
        out = bytearray()
        i, end = 0, len(chunk)
        while i < end:
            if self.left == 0:
                if self.implied:
                    out.append(0)
                code = chunk[i]
                i += 1
                self.left = code - 1
                self.zero_after = code != _MAX_BLOCK + 1
                self.implied = code == 1
            else:
                take = min(self.left, end - i)
                out += chunk[i:i + take]
                i += take
                self.left -= take
                if self.left == 0:
                    self.implied = self.zero_after
        return out


# --- Frames ----------------------------------------------------------------------------------

def encode_frame(payload):
    """Return the wire bytes of a frame: ``COBS(payload ‖ crc_hi ‖ crc_lo) 0x00``."""
    payload = bytes(payload)
    return cobs_encode(payload + crc16(payload).to_bytes(2, "big")) + b"\x00"


class FrameError(NamedTuple):
    """A non-empty frame rejected at the frame level (docs/protocol.md, "Frames").

    Members
    -------
    status : Status
        ``BAD_FRAME`` (COBS error, a byte received with a framing error, or 1 … 3 or more
        than *max_payload* + 2 decoded bytes) or ``BAD_CRC``.
    seq : int
        The first decoded byte, or 0: what the device puts in its reply.
    length : int
        Decoded bytes (CRC included).
    """
    status: Status
    seq: int
    length: int


class FrameDecoder:
    """Split a byte stream into frames at each 0x00 and decode them.

    A receiver that sees garbage resynchronises at the next 0x00. Empty frames (no decoded
    byte, no error) are skipped. The checks run in the gateware's order: COBS (or framing)
    error, then length, then CRC. At most *max_payload* + 3 decoded bytes of a frame are
    kept, so garbage without delimiters takes no unbounded memory.

    Parameters
    ----------
    max_payload : int
        The largest payload accepted.
    """

    def __init__(self, max_payload=spec.MAX_PAYLOAD):
        if isinstance(max_payload, bool) or not isinstance(max_payload, int) \
                or max_payload < 2:
            raise ValueError(f"max_payload must be an integer >= 2, not {max_payload!r}")
        self.max_payload = max_payload
        self._keep = max_payload + 3
        self._start()

    def _start(self):
        self._walker = _CobsWalker()
        self._buf = bytearray()
        self._length = 0
        self._error = False

    def mark_error(self):
        """Flag the frame being received as damaged (a UART framing error): ``BAD_FRAME``."""
        self._error = True

    @property
    def idle(self):
        """True between frames (no byte of a frame received since the last 0x00)."""
        return self._length == 0 and not self._error and self._walker.left == 0 \
            and not self._walker.implied

    def feed(self, data):
        """Decode *data*; return a list of payloads (bytes, CRC removed) and FrameErrors."""
        results = []
        data = bytes(data)
        start = 0
        while True:
            end = data.find(b"\x00", start)
            chunk = data[start:] if end < 0 else data[start:end]
            if chunk:
                decoded = self._walker.decode(chunk)
                self._length += len(decoded)
                room = self._keep - len(self._buf)
                if room > 0:
                    self._buf += decoded[:room]
            if end < 0:
                return results
            result = self._finish()
            if result is not None:
                results.append(result)
            start = end + 1

    def _finish(self):
        error = self._error or self._walker.left != 0
        buf, length = bytes(self._buf), self._length
        self._start()
        if length == 0 and not error:
            return None
        seq = buf[0] if buf else 0
        if error:
            return FrameError(Status.BAD_FRAME, seq, length)
        if length < 4 or length > self.max_payload + 2:
            return FrameError(Status.BAD_FRAME, seq, length)   # too short or long to be one
        payload = buf[:-2]
        if crc16(payload) != int.from_bytes(buf[-2:], "big"):
            return FrameError(Status.BAD_CRC, seq, length)
        return payload


# --- Replies ---------------------------------------------------------------------------------

class Reply(NamedTuple):
    """A reply frame's payload, split.

    Members
    -------
    seq : int
    status : Status or int
        The status (an int if the code is not a ``Status``).
    data : bytes
    """
    seq: int
    status: object
    data: bytes


def parse_reply(payload):
    """Split a reply payload (2 bytes or more) into a :class:`Reply`."""
    if len(payload) < 2:
        raise ValueError(f"a reply payload has at least 2 bytes, not {len(payload)}")
    try:
        status = Status(payload[1])
    except ValueError:
        status = payload[1]
    return Reply(payload[0], status, bytes(payload[2:]))


def reply_payload(seq, status, data=b""):
    """Return the payload of a reply: ``seq status data``."""
    return bytes([seq & 0xFF, Status(status).value]) + bytes(data)


def parse_position(data):
    """Return the position (u16) carried by a BAD_ADDRESS or BAD_VALUE reply, or None."""
    return int.from_bytes(data[:2], "little") if len(data) == 2 else None


class Identity(NamedTuple):
    """What IDENTIFY reports (docs/protocol.md, "Commands").

    Members
    -------
    features : spikecore.spec.Feature
        The optional parts of model v2 the device has.
    """
    version: int
    n_inputs: int
    n_neurons: int
    lanes: int
    clk_hz: int
    baud: int
    rx_window: int
    max_payload: int
    features: spec.Feature

    def to_bytes(self):
        """Return the data bytes of the IDENTIFY reply."""
        return spec.identify_bytes(**{**self._asdict(),
                                      "features": spec.Feature(self.features).value})


def parse_identify(data):
    """Return the :class:`Identity` in the data of an IDENTIFY reply.

    Bits of ``features`` that no ``spec.Feature`` names (reserved: 0 in this version) are
    dropped.
    """
    size = sum(size for _, size in spec.IDENTIFY_FIELDS)
    if len(data) != size:
        raise ValueError(f"IDENTIFY data has {size} bytes, not {len(data)}")
    values, at = {}, 0
    for name, size in spec.IDENTIFY_FIELDS:
        values[name] = int.from_bytes(data[at:at + size], "little")
        at += size
    values["features"] = spec.Feature(values["features"] & spec.Feature.all().value)
    return Identity(**values)


# --- Values ----------------------------------------------------------------------------------

def _check_width(width):
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) \
            or not 1 <= width <= 4:
        raise ValueError(f"width must be 1 … 4 bytes, not {width!r}")
    return int(width)


def encode_values(values, width):
    """Return *values* (integers) as *width*-byte little-endian two's complement words.

    Each value is truncated to *width* bytes, as the device truncates what it reads; the
    receiver of a WRITE sign-extends them again.
    """
    width = _check_width(width)
    array = np.asarray(values, dtype=np.int64).ravel()
    words = array.astype("<u8").view(np.uint8).reshape(-1, 8)
    return words[:, :width].tobytes()


def decode_values(data, width, *, signed=True):
    """Return the *width*-byte little-endian words in *data* as an int64 array.

    With *signed*, each is sign-extended from *width* bytes, else zero-extended.
    """
    width = _check_width(width)
    raw = np.frombuffer(bytes(data), dtype=np.uint8)
    if len(raw) % width:
        raise ValueError(f"{len(raw)} bytes are not a whole number of {width}-byte values")
    words = np.zeros((len(raw) // width, 8), dtype=np.uint8)
    words[:, :width] = raw.reshape(-1, width)
    values = words.view("<i8").ravel().copy()
    if signed and width < 8:
        bits = 8 * width
        values = np.where(values >= 1 << (bits - 1), values - (1 << bits), values)
    return values.astype(np.int64)


# --- Requests --------------------------------------------------------------------------------

def _u(value, size, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not 0 <= value < 1 << (8 * size):
        raise ValueError(f"{name} must be an integer in [0, {(1 << (8 * size)) - 1}], "
                         f"not {value!r}")
    return int(value).to_bytes(size, "little")


def _head(seq, command):
    return _u(seq, 1, "seq") + bytes([Command(command).value])


def identify_request(*, seq=0):
    """Return the payload of IDENTIFY."""
    return _head(seq, Command.IDENTIFY)


def write_request(space, addr, values, width, *, seq=0):
    """Return the payload of a WRITE of *values* at successive addresses from *addr*."""
    data = encode_values(values, width)
    count = len(data) // width
    if count < 1:
        raise ValueError("a WRITE needs at least one value")
    return (_head(seq, Command.WRITE) + _u(Space(space).value, 1, "space")
            + _u(addr, 3, "addr") + _u(count, 2, "count") + bytes([width]) + data)


def read_request(space, addr, count, width, *, seq=0):
    """Return the payload of a READ of *count* values of *width* bytes from *addr*."""
    width = _check_width(width)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be a positive integer, not {count!r}")
    return (_head(seq, Command.READ) + _u(Space(space).value, 1, "space")
            + _u(addr, 3, "addr") + _u(count, 2, "count") + bytes([width]))


def reset_request(flags, *, seq=0):
    """Return the payload of a RESET with *flags* (``spec.ResetFlags`` or an int)."""
    value = flags.value if isinstance(flags, spec.ResetFlags) else flags
    return _head(seq, Command.RESET) + _u(value, 1, "flags")


def run_request(records, steps, *, seq=0):
    """Return the payload of a RUN of *steps* steps whose input records are *records*."""
    return _head(seq, Command.RUN) + _u(steps, 2, "steps") + bytes(records)


def run_with_request(steps, flags, probes=(), records=b"", *, seq=0):
    """Return the payload of a RUN_WITH (docs/protocol.md).

    *flags* is a ``spec.RunFlags`` (or an int), *probes* a sequence of (space, addr), and
    *records* the input records (with ``RunFlags.INPUTS``).
    """
    value = flags.value if isinstance(flags, spec.RunFlags) else flags
    head = _head(seq, Command.RUN_WITH) + _u(steps, 2, "steps") + _u(value, 1, "flags") \
        + _u(len(probes), 1, "n_probes")
    for space, addr in probes:
        head += _u(int(space.value if isinstance(space, spec.Space) else space), 1, "space") \
            + _u(addr, 3, "addr")
    return head + bytes(records)


# --- Step records ----------------------------------------------------------------------------

class RecordError(ValueError):
    """Step records that do not parse.

    Members
    -------
    kind : str
        ``"length"`` (a record runs past the end, or bytes are left over: ``BAD_LENGTH``)
        or ``"value"`` (an index ≥ n or a padding bit set: ``BAD_VALUE``).
    step : int
        The step of the first bad record.
    """

    def __init__(self, kind, step, message):
        super().__init__(message)
        self.kind, self.step = kind, step


def record_lengths(sets):
    """Return the bytes of each row's record and whether it is sparse (two arrays).

    *sets* is bool (steps, n). The sizes are those of ``spec.record_bytes``.
    """
    sets = np.asarray(sets, dtype=bool)
    n = sets.shape[1]
    counts = np.count_nonzero(sets, axis=1)
    bitmap = spec.bitmap_bytes(n)
    sparse = (counts <= spec.RECORD_BITMAP - 1) & (counts * spec.index_bytes(n) < bitmap)
    lengths = np.where(sparse, 1 + counts * spec.index_bytes(n), 1 + bitmap)
    return lengths, sparse


def encode_records(sets):
    """Return one record per row of *sets* (bool (steps, n)), each in its smaller encoding.

    Sparse records list the members in increasing order; the bitmap wins a tie and holds any
    set of more than 254 members (``spec.record_bytes``).
    """
    sets = np.asarray(sets, dtype=bool)
    if sets.ndim != 2:
        raise ValueError(f"sets must be a 2-D bool array (steps, n), not shape {sets.shape}")
    steps, n = sets.shape
    if steps == 0:
        return b""
    idx = spec.index_bytes(n)
    bitmap = spec.bitmap_bytes(n)
    lengths, sparse = record_lengths(sets)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    out = np.zeros(int(ends[-1]), dtype=np.uint8)
    counts = np.count_nonzero(sets, axis=1)
    out[starts] = np.where(sparse, counts, spec.RECORD_BITMAP)
    dense = ~sparse
    if dense.any():
        packed = np.packbits(sets[dense], axis=1, bitorder="little")
        out[starts[dense][:, None] + 1 + np.arange(bitmap)] = packed
    if sparse.any():
        rows, cols = np.nonzero(sets[sparse])
        sparse_counts = counts[sparse]
        first = np.cumsum(sparse_counts) - sparse_counts
        rank = np.arange(len(rows)) - first[rows]
        at = starts[sparse][rows] + 1 + rank * idx
        out[at] = cols & 0xFF
        if idx == 2:
            out[at + 1] = cols >> 8
    return out.tobytes()


def _record_starts(buf, steps, n):
    """Return the offset of each of *steps* records in *buf*; raise RecordError("length")."""
    idx, bitmap = spec.index_bytes(n), spec.bitmap_bytes(n)
    starts = []
    at, end = 0, len(buf)
    for step in range(steps):
        if at >= end:
            raise RecordError("length", step, f"record {step} starts past the end of the "
                              f"{end} bytes")
        starts.append(at)
        h = buf[at]
        at += 1 + (bitmap if h == spec.RECORD_BITMAP else h * idx)
        if at > end:
            raise RecordError("length", step, f"record {step} runs past the end of the "
                              f"{end} bytes")
    if at != end:
        raise RecordError("length", steps, f"{end - at} byte(s) left after {steps} records")
    return np.array(starts, dtype=np.int64)


def decode_records(buf, steps, n):
    """Return the sets encoded by *steps* records in *buf* as a bool array (steps, n).

    Duplicate indices count once. Raises :class:`RecordError` for a record running past the
    end of *buf* or bytes left over (kind ``"length"``, checked first), else for an index
    ≥ *n* or a padding bit set (kind ``"value"``, with the first such step).
    """
    buf = bytes(buf)
    starts = _record_starts(buf, steps, n)
    out = np.zeros((steps, n), dtype=bool)
    if steps == 0:
        return out
    arr = np.frombuffer(buf, dtype=np.uint8)
    idx, bitmap = spec.index_bytes(n), spec.bitmap_bytes(n)
    headers = arr[starts]
    dense = headers == spec.RECORD_BITMAP
    bad_steps = []
    if dense.any():
        rows = np.flatnonzero(dense)
        packed = arr[starts[rows][:, None] + 1 + np.arange(bitmap)]
        bits = np.unpackbits(packed, axis=1, bitorder="little")
        out[rows] = bits[:, :n].astype(bool)
        padding = bits[:, n:].any(axis=1)
        if padding.any():
            bad_steps.append(rows[padding][0])
    sparse = ~dense
    if sparse.any():
        rows = np.flatnonzero(sparse)
        counts = headers[rows].astype(np.int64)
        total = int(counts.sum())
        if total:
            member_rows = np.repeat(rows, counts)
            first = np.cumsum(counts) - counts
            rank = np.arange(total) - np.repeat(first, counts)
            at = starts[member_rows] + 1 + rank * idx
            index = arr[at].astype(np.int64)
            if idx == 2:
                index |= arr[at + 1].astype(np.int64) << 8
            bad = index >= n
            if bad.any():
                bad_steps.append(member_rows[bad][0])
                keep = ~bad
                member_rows, index = member_rows[keep], index[keep]
            out[member_rows, index] = True
    if bad_steps:
        step = int(min(bad_steps))
        raise RecordError("value", step, f"record {step} holds an index >= {n} or a padding "
                          "bit set")
    return out


# --- RUN frames ------------------------------------------------------------------------------

def split_run(inputs, n_neurons, *, max_payload=spec.MAX_PAYLOAD):
    """Split input sets (bool (steps, n_inputs)) into RUN frames; yield their parts.

    Each frame has at most ``max_run_steps(n_neurons)`` steps and a payload of at most
    *max_payload* bytes.

    Yields
    ------
    start, stop : int
        The rows of *inputs* the frame carries.
    payload : bytes
        Its payload (``run_request``, seq 0).
    """
    most = max_run_steps(n_neurons, max_payload)
    for start, stop, records in _record_spans(inputs, max_payload - 4, most, "RUN",
                                              max_payload):
        yield start, stop, run_request(records, stop - start)


def _record_spans(inputs, room, most, command, max_payload):
    """Yield ``(start, stop, records)``: the input records of *inputs* (bool (steps, n)) in
    spans of at most *most* steps and *room* bytes."""
    inputs = np.asarray(inputs, dtype=bool)
    lengths, _ = record_lengths(inputs)
    records = encode_records(inputs)
    ends = np.concatenate([[0], np.cumsum(lengths)])
    steps, start = len(inputs), 0
    while start < steps:
        stop = int(np.searchsorted(ends, ends[start] + room, side="right")) - 1
        stop = min(stop, start + most, steps)
        if stop <= start:
            raise ValueError(f"the input record of step {start} ({int(lengths[start])} bytes) "
                             f"does not fit in a {command} payload of {max_payload} bytes")
        yield start, stop, records[ends[start]:ends[stop]]
        start = stop


def split_run_with(inputs, steps, n_neurons, *, spikes, probes=(),
                   max_payload=spec.MAX_PAYLOAD):
    """Split *steps* steps into RUN_WITH frames; yield ``(start, stop, payload)`` of each.

    *inputs* is bool (steps, n_inputs), sent as input records (``RunFlags.INPUTS``), or None
    (no streamed inputs). With *spikes* the replies carry spike records; *probes* is a
    sequence of (space, addr). Each frame has at most ``spec.max_run_with_steps`` steps and
    a payload of at most *max_payload* bytes.
    """
    flags = spec.RunFlags.SPIKES if spikes else spec.RunFlags(0)
    most = spec.max_run_with_steps(n_neurons, max_payload, spikes, len(probes))
    if inputs is None:
        for start in range(0, steps, most):
            stop = min(start + most, steps)
            yield start, stop, run_with_request(stop - start, flags, probes)
        return
    flags |= spec.RunFlags.INPUTS
    room = max_payload - 6 - 4 * len(probes)
    for start, stop, records in _record_spans(inputs[:steps], room, most, "RUN_WITH",
                                              max_payload):
        yield start, stop, run_with_request(stop - start, flags, probes, records)


def decode_run_with(data, steps, n_neurons, *, spikes, n_probes):
    """Return ``(spikes, probes)`` of a RUN_WITH reply's *data*.

    *spikes* is bool (steps, n_neurons), or None without spike records; *probes* int64
    (steps, n_probes), each value a signed 3-byte READ. Raises :class:`RecordError` if the
    data does not hold exactly that.
    """
    data = bytes(data)
    per_probe = spec.PROBE_BYTES * n_probes
    idx, bitmap = spec.index_bytes(n_neurons), spec.bitmap_bytes(n_neurons)
    records, values, at = [], [], 0
    for step in range(steps):
        if spikes:
            if at >= len(data):
                raise RecordError("length", step, f"reply ends before step {step}")
            h = data[at]
            size = 1 + (bitmap if h == spec.RECORD_BITMAP else h * idx)
            records.append(data[at:at + size])
            at += size
        values.append(data[at:at + per_probe])
        at += per_probe
    if at != len(data):
        raise RecordError("length", steps, f"the reply holds {len(data)} bytes, not {at}")
    out = decode_records(b"".join(records), steps, n_neurons) if spikes else None
    probes = decode_values(b"".join(values), spec.PROBE_BYTES).reshape(steps, n_probes) \
        if n_probes else np.zeros((steps, 0), np.int64)
    return out, probes
