"""Frames for fuzzing the link protocol (tests/test_fuzz.py): valid CRCs, biased to the edges.

:class:`FrameFuzzer` draws one *unit* at a time, the wire bytes of a frame (or of a few bytes
of garbage), always ending in 0x00 so a unit never leaks into the next. Most units are
well-formed requests whose seq is the one the device expects next; the rest are
retransmissions, out-of-order seqs, IDENTIFYs that restart the sequence, and frame-level
errors (bad CRC, bad COBS, too short, too long). Commands take addresses at and past the edges
of every space, widths and counts at and past their limits, values at and past every field's
range (``spec.NEURON_RANGES``, ``spec.SETTING_RANGES``, ``spec.INPUT_RANGES``, the weights'),
RUN records sparse and bitmap, with duplicates, indices ≥ n, padding bits, and bytes missing or
left over, and RUN_WITHs with and without input records and spike records, with 0 … 9 probes,
good and bad, and steps at and past their limit. The addresses of the features a device lacks
(``spec.Feature``) are among the bad ones; on a device without ``Feature.RUN_WITH`` the
RUN_WITHs are unknown commands.
"""

from typing import NamedTuple

import numpy as np

from spikecore import protocol, spec
from spikecore.spec import (Command, Counter, Feature, InputField, NeuronField, ResetFlags,
                            RunFlags, Setting, Space, StateField, Status, neuron_bits, src_bits)

__all__ = ["FrameFuzzer", "Unit", "readback_payloads", "load_payloads", "touches_cycles",
           "SETTING_RANGES", "FIELD_RANGES"]

_ADDR_MASK = (1 << spec.ADDR_BITS) - 1

#: [low, high] of each setting, from spikecore.spec.
SETTING_RANGES = spec.SETTING_RANGES
#: [low, high] of each NEURON field, in NeuronField order.
FIELD_RANGES = [spec.NEURON_RANGES[f.name.lower()] for f in NeuronField]
_NEURON_STATE = [StateField.U, StateField.V, StateField.REF, StateField.Y, StateField.SPIKED,
                 StateField.COUNT]
#: [low, high] of each INPUT field, in InputField order.
INPUT_RANGES = [spec.INPUT_RANGES[name] for name in ("rate", "gen_state")]


def code(value):
    """Return the number of an enum member, or the int given (for codes that do not exist)."""
    return getattr(value, "value", value)


def u(value, size):
    """Return the low *size* bytes of *value*, little-endian."""
    return (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


class Unit(NamedTuple):
    """Wire bytes sent as one piece.

    Members
    -------
    wire : bytes
        Ends in 0x00.
    what : str
        What the unit is meant to be, for messages.
    payload : bytes or None
        The payload (seq as sent, no CRC) of a well-formed request, else None.
    """
    wire: bytes
    what: str
    payload: object = None


def _signed_limits(width):
    return -(1 << (8 * width - 1)), (1 << (8 * width - 1)) - 1


class FrameFuzzer:
    """Draw fuzz units for a device of a given geometry.

    Parameters
    ----------
    rng : random.Random
    n_inputs, n_neurons, max_payload : int
    features : spikecore.spec.Feature
        The device's (as IDENTIFY reports them).

    The host side of the sequence rules is tracked from the replies the caller passes to
    :meth:`observe`, so that most requests execute.
    """

    def __init__(self, rng, n_inputs, n_neurons, max_payload=spec.MAX_PAYLOAD,
                 features=Feature.all()):
        self.rng = rng
        self.features = features
        self.settings = spec.settings_of(features)
        self.fields = spec.fields_of(features)
        #: The STATE fields indexed by neuron, the INPUT fields, that the device has.
        self.neuron_state = [f for f in _NEURON_STATE
                             if f is not StateField.COUNT or features & Feature.COUNTS]
        self.input_fields = list(InputField) if features & Feature.GENERATORS else []
        self.n_inputs, self.n_neurons = n_inputs, n_neurons
        self.S = n_inputs + n_neurons
        self.nb, self.sb = neuron_bits(n_neurons), src_bits(n_inputs, n_neurons)
        self.max_payload = max_payload
        self.most_steps = protocol.max_run_steps(n_neurons, max_payload)
        self.expect = rng.randrange(256)
        self.last = None
        self.last_payload = None

    # --- the sequence, as the host sees it ---

    def observe(self, payload, replies):
        """Update the host's view of the sequence after *payload* got the reply *replies*."""
        if payload is None or len(replies) != 1 or isinstance(replies[0], protocol.FrameError):
            return
        seq, command = payload[0], payload[1]
        status = replies[0][1] if len(replies[0]) >= 2 else None
        if command == Command.IDENTIFY.value:
            self.expect, self.last, self.last_payload = (seq + 1) & 0xFF, None, None
        elif status in (Status.OUT_OF_ORDER.value, Status.BAD_CRC.value,
                        Status.BAD_FRAME.value) or seq == self.last:
            pass
        else:
            self.expect, self.last, self.last_payload = (seq + 1) & 0xFF, seq, payload

    def _seq(self):
        r = self.rng.random()
        if r < 0.84:
            return self.expect
        if r < 0.90 and self.last is not None:
            return self.last
        if r < 0.94:
            return (self.expect + self.rng.choice([1, 2, -2, 128])) & 0xFF
        return self.rng.randrange(256)

    def _pick(self, weighted):
        items, weights = zip(*weighted)
        return self.rng.choices(items, weights)[0]

    # --- units ---

    def unit(self):
        """Return the next :class:`Unit`.

        Never a READ that would return the cycle counter, which only the gateware counts.
        """
        kind = self._pick([
            (self.write, 30), (self.read, 18), (self.run, 16), (self.run_with, 12),
            (self.reset, 5),
            (self.identify, 3), (self.w_bounds, 4), (self.load_block, 6),
            (self.retransmit, 3), (self.unknown, 2), (self.random_payload, 2),
            (self.bad_crc, 4), (self.bad_cobs, 3), (self.too_short, 2), (self.too_long, 1),
            (self.garbage, 2), (self.exact_max, 1),
        ])
        while True:
            unit = kind()
            if unit.payload is None or not touches_cycles(unit.payload):
                return unit

    def _request(self, what, body, seq=None):
        seq = self._seq() if seq is None else seq
        payload = bytes([seq]) + body
        well_formed = len(payload) <= self.max_payload
        return Unit(protocol.encode_frame(payload), what, payload if well_formed else None)

    def _tweak_length(self, body, fixed):
        """Now and then drop or add bytes at the end of *body* (not below *fixed* bytes)."""
        r = self.rng.random()
        if r < 0.03 and len(body) > fixed:
            return body[:-self.rng.randint(1, min(3, len(body) - fixed))], " (short)"
        if r < 0.06:
            return body + bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 3))), \
                " (extra)"
        return body, ""

    def identify(self):
        body = bytes([Command.IDENTIFY.value])
        extra = ""
        if self.rng.random() < 0.1:
            body += bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 4)))
            extra = " (extra)"
        seq = self.rng.randrange(256) if self.rng.random() < 0.7 else self.expect
        return self._request("IDENTIFY" + extra, body, seq)

    def reset(self):
        flags = self._pick([(0, 2), (1, 4), (2, 3), (3, 4), (4, 2), (5, 1), (6, 1), (7, 2),
                            (8, 1), (0x84, 1), (0x80, 1), (0xFF, 1),
                            (self.rng.randrange(256), 2)])
        body, extra = self._tweak_length(bytes([Command.RESET.value, flags]), 1)
        return self._request(f"RESET {flags:#x}{extra}", body)

    def unknown(self):
        command = self.rng.choice([0, 7, 8, 0x7F, 0x80, 0xFF, self.rng.randrange(7, 256)])
        args = bytes(self.rng.randrange(256) for _ in range(self.rng.randint(0, 12)))
        return self._request(f"command {command:#x}", bytes([command]) + args)

    def random_payload(self):
        body = bytes([self.rng.randint(1, 6)]) + bytes(
            self.rng.randrange(256) for _ in range(self.rng.randint(0, 40)))
        return self._request("random arguments", body)

    def retransmit(self):
        if self.last_payload is None:
            return self.read()
        return Unit(protocol.encode_frame(self.last_payload), "retransmission",
                    self.last_payload)

    # --- the address map ---

    def _space(self, write):
        return self._pick([(Space.WEIGHT, 6), (Space.NEURON, 6), (Space.SETTING, 6),
                           (Space.MASK, 4), (Space.STATE, 1 if write else 6),
                           (Space.COUNTER, 1 if write else 3), (Space.CONTROL, 1),
                           (Space.INPUT, 4), (self.rng.choice([8, 15, 0x17, 0xFF]), 1)])

    def _index(self, n, bits):
        """Index of 0 … n − 1, sometimes at or past n (below 2 ** bits)."""
        top = (1 << bits) - 1
        return self._pick([(0, 3), (n - 1, 3), (self.rng.randrange(n), 8),
                           (min(n, top), 1), (top, 1)])

    def _address(self, space):
        r, nb, sb, N, S = self.rng, self.nb, self.sb, self.n_neurons, self.S
        if space == Space.WEIGHT:
            hi = self._pick([(0, 3), (S - 1, 3), (r.randrange(S), 8), (S, 1),
                             (_ADDR_MASK >> nb, 1)])
            return (hi << nb) | self._index(N, nb)
        if space == Space.NEURON:
            hi = self._pick([(r.randrange(len(NeuronField)), 10), (len(NeuronField) - 1, 2),
                             (len(NeuronField), 1), (7, 1), (_ADDR_MASK >> nb, 1)])
            return ((hi << nb) | self._index(N, nb)) & _ADDR_MASK
        if space == Space.SETTING:
            return self._pick([(0, 4), (r.randrange(len(Setting)), 8),
                               (Setting.W_MIN.value, 3), (Setting.W_MAX.value, 3),
                               (len(Setting), 1), (0xFF, 1), (_ADDR_MASK, 1),
                               (_ADDR_MASK - 3, 1)])
        if space == Space.MASK:
            dst = 1 << sb
            return self._pick([(0, 3), (r.randrange(S), 4), (S - 1, 2), (S, 1),
                               (dst - 1, 1), (dst, 3), (dst + r.randrange(N), 3),
                               (dst + N - 1, 2), (dst + N, 1), (2 << sb, 1), (_ADDR_MASK, 1)])
        if space == Space.STATE:
            field = self._pick([(r.randrange(len(StateField)), 10), (len(StateField), 1),
                                (7, 1)])
            n = S if field == StateField.X.value else N
            return (field << sb) | self._index(n, sb)
        if space == Space.COUNTER:
            return self._pick([(r.randrange(len(Counter)), 6), (len(Counter), 1),
                               (_ADDR_MASK, 1)])
        if space == Space.INPUT:
            field = self._pick([(InputField.RATE.value, 6), (InputField.GEN.value, 6),
                                (len(InputField), 1), (7, 1)])
            return (field << sb) | self._index(self.n_inputs, sb)
        return self._pick([(0, 3), (r.randrange(4), 2), (r.randrange(1 << 24), 1)])

    def room(self, space, addr, write):
        """Return how many successive addresses from *addr* are valid for the access."""
        N, S, nb, sb = self.n_neurons, self.S, self.nb, self.sb
        if space in (Space.WEIGHT, Space.NEURON):
            rows = S if space == Space.WEIGHT else len(NeuronField)
            hi, i = addr >> nb, addr & ((1 << nb) - 1)
            if i >= N or hi >= rows:
                return 0
            if space == Space.NEURON:       # up to the first field the device lacks
                rows = next((f.value for f in NeuronField
                             if f.value >= hi and f not in self.fields), rows)
                return max(0, rows * N - (hi * N + i))
            return rows * N - (hi * N + i)
        if space == Space.SETTING:          # up to the first setting the device lacks
            end = next((s.value for s in Setting
                        if s.value >= addr and s not in self.settings), len(Setting))
            return max(0, end - addr)
        if space == Space.MASK:
            if addr < S:
                return S - addr
            if addr >> sb == 1 and addr & ((1 << sb) - 1) < N:
                return N - (addr & ((1 << sb) - 1))
            return 0
        if space == Space.STATE and not write:
            field, index = addr >> sb, addr & ((1 << sb) - 1)
            if field == StateField.X.value:
                return max(0, S - index)
            return max(0, N - index) if field in [f.value for f in self.neuron_state] else 0
        if space == Space.INPUT:
            n, hi, j = self.n_inputs, addr >> sb, addr & ((1 << sb) - 1)
            if j >= n or hi >= len(self.input_fields):
                return 0
            return len(self.input_fields) * n - (hi * n + j)
        if space == Space.COUNTER and not write:
            return max(0, len(Counter) - addr)
        return 0

    def _count(self, room, most):
        r = self.rng
        choices = [(r.randint(1, 4), 6), (most, 0.4), (r.randint(1, most), 0.6)]
        if room:
            choices += [(room, 4), (r.randint(1, room), 6), (room + 1, 2)]
        count = self._pick(choices)
        return max(1, min(count, most + (1 if r.random() < 0.05 else 0)))

    def _width(self):
        return self._pick([(1, 4), (2, 3), (3, 2), (4, 3)])

    def _range_at(self, space, addr, k):
        """Return the [low, high] of the value at position *k* of a block at *addr*."""
        N, nb = self.n_neurons, self.nb
        if space == Space.WEIGHT:
            return spec.WEIGHT_MIN, spec.WEIGHT_MAX
        if space == Space.NEURON:
            flat = (addr >> nb) * N + (addr & ((1 << nb) - 1)) + k
            return FIELD_RANGES[min(flat // N, len(FIELD_RANGES) - 1)]
        if space == Space.SETTING:
            a = (addr + k) & _ADDR_MASK
            return SETTING_RANGES[Setting(a)] if a < len(Setting) else (0, 0)
        if space == Space.INPUT:
            n, sb = self.n_inputs, self.sb
            flat = (addr >> sb) * n + (addr & ((1 << sb) - 1)) + k
            return INPUT_RANGES[min(flat // n, len(INPUT_RANGES) - 1)]
        return 0, 1

    def _good_value(self, low, high):
        r = self.rng
        small = (max(low, -60), min(high, 60))
        return self._pick([(low, 1), (high, 1), (r.randint(low, high), 3),
                           (r.randint(*small), 4)])

    def _bad_value(self, low, high, width):
        r = self.rng
        wmin, wmax = _signed_limits(width)
        return self._pick([(low - 1, 4), (high + 1, 4), (low - r.randint(2, 1 << 12), 1),
                           (high + r.randint(2, 1 << 12), 1), (wmin, 1), (wmax, 1)])

    def _values(self, space, addr, count, width):
        ranges = [self._range_at(space, addr, k) for k in range(count)]
        mode = self._pick([("good", 14), ("one bad", 4), ("some bad", 1), ("random", 1)])
        if mode == "random":
            return [self.rng.randrange(1 << (8 * width)) for _ in ranges], mode
        values = [self._good_value(*rng) for rng in ranges]
        if space == Space.SETTING:
            at = {(addr + k) & _ADDR_MASK: k for k in range(count)}
            lo, hi = at.get(Setting.W_MIN.value), at.get(Setting.W_MAX.value)
            if lo is not None and hi is not None and self.rng.random() < 0.8:
                values[lo], values[hi] = sorted((values[lo], values[hi]))
        if mode != "good":
            for _ in range(1 if mode == "one bad" else self.rng.randint(2, 4)):
                k = self.rng.randrange(count)
                values[k] = self._bad_value(*ranges[k], width)
        return values, mode

    def write(self):
        space = self._space(True)
        addr = self._address(space)
        width = self._width()
        most = (self.max_payload - protocol.HEADER_BYTES) // width
        count = self._count(self.room(space, addr, True), most)
        values, mode = self._values(space, addr, count, width)
        head = bytes([Command.WRITE.value, code(space)]) + u(addr, 3)
        r = self.rng.random()
        if r < 0.015:
            head_count, head_width = 0, width
        elif r < 0.03:
            head_count, head_width = count, self.rng.choice([0, 5, 8, 0xFF])
        else:
            head_count, head_width = count, width
        body = head + u(head_count, 2) + bytes([head_width]) \
            + b"".join(u(v, width) for v in values)
        body, extra = self._tweak_length(body, 8)
        name = getattr(space, "name", space)
        return self._request(f"WRITE {name} {addr:#x} x{count} w{width} {mode}{extra}", body)

    def read(self):
        space = self._space(False)
        addr = self._address(space)
        width = self._width()
        most = (self.max_payload - 2) // width
        count = self._count(self.room(space, addr, False), most)
        if self.rng.random() < 0.03:
            count = self.rng.choice([0, most + 1, 0xFFFF])
        if self.rng.random() < 0.02:
            width = self.rng.choice([0, 5, 0xFF])
        body = bytes([Command.READ.value, code(space)]) + u(addr, 3) + u(count, 2) \
            + bytes([width])
        body, extra = self._tweak_length(body, 8)
        name = getattr(space, "name", space)
        return self._request(f"READ {name} {addr:#x} x{count} w{width}{extra}", body)

    def w_bounds(self):
        """A SETTING write of w_min, w_max or both, often leaving w_min > w_max."""
        r = self.rng
        a, b = r.randint(spec.WEIGHT_MIN, spec.WEIGHT_MAX), r.randint(spec.WEIGHT_MIN,
                                                                      spec.WEIGHT_MAX)
        which = r.choice(["min", "max", "both", "both-from"])
        addr = {"min": Setting.W_MIN.value, "max": Setting.W_MAX.value,
                "both": Setting.W_MIN.value, "both-from": Setting.Y_DECAY.value}[which]
        values = {"min": [a], "max": [b], "both": [a, b], "both-from": [0, a, b]}[which]
        width = r.choice([1, 2, 4])
        body = bytes([Command.WRITE.value, Space.SETTING.value]) + u(addr, 3) \
            + u(len(values), 2) + bytes([width]) + b"".join(u(v, width) for v in values)
        return self._request(f"WRITE SETTING w bounds {which} {values}", body)

    def load_block(self):
        """A WRITE of a whole row, field or space, valid, to keep the state lively."""
        r, N, nb = self.rng, self.n_neurons, self.nb
        choice = r.choice(["weights", "weights", "neuron", "settings", "masks"]
                          + ["inputs"] * bool(self.input_fields))
        if choice == "weights":       # as many sources' rows as fit
            rows = min(self.S, (self.max_payload - protocol.HEADER_BYTES) // N)
            first = r.randrange(self.S - rows + 1)
            values = [r.randint(-40, 127) if r.random() < 0.7 else r.randint(-128, 127)
                      for _ in range(rows * N)]
            return self._write_block(Space.WEIGHT, first << nb, values, 1,
                                     f"weights of sources {first}…{first + rows - 1}")
        if choice == "neuron":
            field = r.choice(self.fields)
            low, high = FIELD_RANGES[field.value]
            typical = {NeuronField.VTH: (0, 3000), NeuronField.BIAS: (-200, 600),
                       NeuronField.THETA: (0, 3000)}
            values = [r.randint(*typical.get(field, (low, high))) for _ in range(N)]
            return self._write_block(Space.NEURON, field.value << nb, values, 4,
                                     f"all {field.name}")
        if choice == "settings":       # from w_exp up to the first setting the device lacks
            w_min, w_max = sorted(r.randint(-128, 127) for _ in range(2))
            typical = {Setting.W_EXP: (0, 7), Setting.W_EXP_REC: (0, 7),
                       Setting.X_DECAY: (128, 256), Setting.Y_DECAY: (128, 256),
                       Setting.W_MIN: (w_min, w_min), Setting.W_MAX: (w_max, w_max),
                       Setting.TH_IMP: (0, 2000)}
            values = [r.randint(*typical.get(s, SETTING_RANGES[s]))
                      for s in list(Setting)[:self.room(Space.SETTING, 0, True)]]
            return self._write_block(Space.SETTING, 0, values, spec.SETTING_BYTES,
                                     "all settings")
        if choice == "inputs":         # every rate, or every generator state
            n = self.n_inputs
            if r.random() < 0.6:
                values = [self._pick([(0, 3), (spec.RATE_MAX, 1), (r.randint(1, 8000), 4),
                                      (r.randint(0, spec.RATE_MAX), 2)]) for _ in range(n)]
                return self._write_block(Space.INPUT, InputField.RATE.value << self.sb, values,
                                         spec.INPUT_FIELD_BYTES[InputField.RATE], "all rates")
            values = [self._pick([(1, 1), (spec.GEN_MAX, 1), (1 << 31, 1),
                                  (r.randint(1, spec.GEN_MAX), 6)]) for _ in range(n)]
            return self._write_block(Space.INPUT, InputField.GEN.value << self.sb, values,
                                     spec.INPUT_FIELD_BYTES[InputField.GEN],
                                     "all generator states")
        values = [int(r.random() < 0.7) for _ in range(self.S)]
        if r.random() < 0.5:
            return self._write_block(Space.MASK, 0, values, 1, "plastic_src")
        return self._write_block(Space.MASK, 1 << self.sb, values[:N], 1, "plastic_dst")

    def _write_block(self, space, addr, values, width, what):
        body = bytes([Command.WRITE.value, space.value]) + u(addr, 3) + u(len(values), 2) \
            + bytes([width]) + b"".join(u(v, width) for v in values)
        return self._request(f"WRITE {what}", body)

    def exact_max(self):
        """A WRITE whose payload is exactly max_payload bytes."""
        count = self.max_payload - protocol.HEADER_BYTES
        values = [self.rng.randint(-20, 20) for _ in range(count)]
        body = bytes([Command.WRITE.value, Space.WEIGHT.value]) + u(0, 3) + u(count, 2) \
            + bytes([1]) + b"".join(u(v, 1) for v in values)
        return self._request(f"WRITE WEIGHT x{count} (max_payload)", body)

    # --- RUN ---

    def _record(self, bad):
        r, n = self.rng, self.n_inputs
        bitmap_bytes = spec.bitmap_bytes(n)
        if bad:
            kind = r.choice(["index", "padding"] if n % 8 else ["index"])
            if kind == "padding":
                bits = r.getrandbits(n) | (1 << r.randrange(n, bitmap_bytes * 8))
                return bytes([spec.RECORD_BITMAP]) + u(bits, bitmap_bytes)
            members = [r.randrange(n) for _ in range(r.randint(0, 3))]
            members.insert(r.randint(0, len(members)), r.choice([n, n + 1, 255]))
            return bytes([len(members)]) + bytes(members)
        if r.random() < 0.4:
            return bytes([spec.RECORD_BITMAP]) + u(r.getrandbits(n), bitmap_bytes)
        members = [k for k in range(n) if r.random() < 0.35]
        if members and r.random() < 0.25:
            members += r.choices(members, k=r.randint(1, 3))     # duplicates count once
        if r.random() < 0.02:
            members = [r.randrange(n) for _ in range(r.randint(10, 254))]
        r.shuffle(members)
        return bytes([len(members)]) + bytes(members)

    def run(self):
        r = self.rng
        most = self.most_steps
        steps = self._pick([(r.randint(1, 8), 14), (r.randint(1, most), 2), (most, 1),
                            (most + 1, 1), (0, 1), (0xFFFF, 1)])
        n_records = min(steps, most + 1)
        bad_at = r.randrange(n_records) if n_records and r.random() < 0.12 else None
        records = [self._record(k == bad_at) for k in range(n_records)]
        data = b"".join(records)
        if len(data) > self.max_payload - 4:        # long runs: short records, one frame
            data = b"".join(rec if len(rec) <= 2 else b"\x00" for rec in records)
            data = data[:self.max_payload - 4]
        body = bytes([Command.RUN.value]) + u(steps, 2) + data
        tweak = r.random()
        extra = ""
        if tweak < 0.03 and data:
            body, extra = body[:-1], " (record cut short)"
        elif tweak < 0.06:
            body, extra = body + bytes([r.choice([0, 1, 0xFF])]), " (byte left over)"
        elif tweak < 0.08 and 1 < steps <= most:
            body, extra = bytes([Command.RUN.value]) + u(steps - 1, 2) + data, " (steps - 1)"
        what = f"RUN {steps} steps" + (f" bad record {bad_at}" if bad_at is not None else "")
        return self._request(what + extra, body)

    # --- RUN_WITH ---

    def _probe(self, bad):
        """Return a probe (space, addr): one a READ could read in STATE or NEURON, or not."""
        r, sb, nb = self.rng, self.sb, self.nb
        if not bad:
            if r.random() < 0.6:
                field = r.choice(self.neuron_state + [StateField.X])
                n = self.S if field == StateField.X else self.n_neurons
                return Space.STATE.value, field.value << sb | self._index(n, sb) % n
            field = r.choice(self.fields)
            return Space.NEURON.value, field.value << nb | r.randrange(self.n_neurons)
        kind = r.choice(["space", "space", "address", "address", "feature"])
        if kind == "space":
            space = r.choice([Space.WEIGHT, Space.SETTING, Space.MASK, Space.COUNTER,
                              Space.CONTROL, Space.INPUT, 8, 0x14, 0xFF])
            return code(space), self._address(space) if isinstance(space, Space) else 0
        if kind == "feature":
            absent = [f for f in NeuronField if f not in self.fields]
            if StateField.COUNT not in self.neuron_state:
                return Space.STATE.value, StateField.COUNT.value << sb | r.randrange(
                    self.n_neurons)
            if absent:
                return Space.NEURON.value, r.choice(absent).value << nb
        space = r.choice([Space.STATE, Space.NEURON])
        for _ in range(100):
            addr = self._address(space)
            if not self.room(space, addr, False) or (
                    space == Space.NEURON and addr >> nb not in [f.value for f in self.fields]):
                return space.value, addr
        return space.value, _ADDR_MASK

    def run_with(self):
        r = self.rng
        flags = self._pick([(0, 3), (RunFlags.INPUTS.value, 3), (RunFlags.SPIKES.value, 3),
                            ((RunFlags.INPUTS | RunFlags.SPIKES).value, 3),
                            (r.choice([4, 0x80, 0xFC]) | r.randrange(4), 0.5)])
        inputs, spikes = bool(flags & RunFlags.INPUTS.value), bool(flags & RunFlags.SPIKES.value)
        n_probes = self._pick([(0, 3), (r.randint(1, 3), 6), (spec.MAX_PROBES, 1),
                               (spec.MAX_PROBES + 1, 0.3)])
        bad_probe = r.randrange(n_probes) if n_probes and r.random() < 0.12 else None
        probes = [self._probe(k == bad_probe) for k in range(n_probes)]
        most = spec.max_run_with_steps(self.n_neurons, self.max_payload, spikes, n_probes)
        # With nothing per step, up to 65,535 steps run: too slow for the emulator (0.4 ms a
        # step), so those frames stop at 300 (they are not the edge: their header is).
        slow = most == spec.MAX_STEPS and not inputs
        steps = self._pick([(r.randint(1, 8), 14), (r.randint(1, min(most, 300)), 2),
                            (300 if slow else most, 1), (0, 1),
                            (min(most + 1, spec.MAX_STEPS), 0 if slow else 1),
                            (spec.MAX_STEPS, 0 if slow else 0.5)])
        head = bytes([Command.RUN_WITH.value]) + u(steps, 2) + bytes([flags, n_probes]) \
            + b"".join(bytes([space]) + u(addr, 3) for space, addr in probes)
        data, bad_at = b"", None
        if inputs:
            n_records = min(steps, self.max_payload)
            bad_at = r.randrange(n_records) if n_records and r.random() < 0.12 else None
            records = [self._record(k == bad_at) for k in range(n_records)]
            data = b"".join(records)
            room = self.max_payload - 2 - len(head)
            if len(data) > room:             # long runs: short records, one frame
                data = b"".join(rec if len(rec) <= 2 else b"\x00" for rec in records)
                data = data[:room]
        body, extra = self._tweak_length(head + data, 5)
        what = (f"RUN_WITH {steps} steps flags {flags:#x} probes {probes}"
                + (f" bad probe {bad_probe}" if bad_probe is not None else "")
                + (f" bad record {bad_at}" if bad_at is not None else ""))
        return self._request(what + extra, body)

    # --- frame-level errors ---

    def _any_request(self):
        return self._pick([(self.write, 3), (self.read, 2), (self.run, 2), (self.run_with, 2),
                           (self.reset, 1)])()

    def bad_crc(self):
        unit = self._any_request()
        payload = protocol.cobs_decode(unit.wire[:-1])
        at = self.rng.randrange(len(payload))
        damaged = bytearray(payload)
        damaged[at] ^= 1 << self.rng.randrange(8)
        return Unit(protocol.cobs_encode(damaged) + b"\x00", f"bad CRC ({unit.what})")

    def bad_cobs(self):
        unit = self._any_request()
        encoded = bytearray(unit.wire[:-1])
        kind = self.rng.choice(["cut", "code"])
        if kind == "cut" and len(encoded) > 2:
            encoded = encoded[:-self.rng.randint(1, min(4, len(encoded) - 1))]
        else:
            encoded[0] = min(0xFF, len(encoded) + self.rng.randint(1, 5))
        return Unit(bytes(encoded) + b"\x00", f"bad COBS ({kind}, {unit.what})")

    def too_short(self):
        data = bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 3)))
        return Unit(protocol.cobs_encode(data) + b"\x00", f"{len(data)} decoded bytes")

    def too_long(self):
        extra = self._pick([(1, 3), (2, 1), (self.rng.randint(3, 60), 2)])
        payload = bytes([self._seq(), self.rng.randint(1, 5)]) + bytes(
            self.rng.randrange(256) for _ in range(self.max_payload - 2 + extra))
        return Unit(protocol.encode_frame(payload), f"payload of max_payload + {extra}")

    def garbage(self):
        r = self.rng
        kind = r.choice(["empty", "empty payload", "noise", "noise"])
        if kind == "empty":
            return Unit(b"\x00" * r.randint(1, 3), "empty frames")
        if kind == "empty payload":       # COBS of b"" (ignored), of b"\x00", b"\x00\x00"
            return Unit(r.choice([b"\x01", b"\x01\x01", b"\x01\x01\x01"]) + b"\x00",
                        "COBS of nothing or zeros")
        data = bytes(r.randint(1, 255) for _ in range(r.randint(1, 80)))
        return Unit(data + b"\x00", f"{len(data)} random bytes")


def readback_payloads(fuzzer, *, seq):
    """Return payloads (seqs from *seq*) that read the complete state of the device.

    Weights, every neuron field, every setting, both masks, every state field, the step
    counter (the cycle counter is the gateware's alone), every rate and generator state.
    """
    f, N, S, sb, nb = fuzzer, fuzzer.n_neurons, fuzzer.S, fuzzer.sb, fuzzer.nb
    rows = (f.max_payload - 2) // N
    blocks = [(Space.WEIGHT, j << nb, min(rows, S - j) * N, 1) for j in range(0, S, rows)]
    blocks += [(Space.NEURON, field.value << nb, N, 4) for field in f.fields]
    blocks += [(Space.SETTING, run[0].value, len(run), 4) for run in _runs(f.settings)]
    blocks += [(Space.MASK, 0, S, 1), (Space.MASK, 1 << sb, N, 1),
               (Space.COUNTER, Counter.STEPS_LO.value, 2, 4)]
    blocks += [(Space.STATE, field.value << sb, S if field == StateField.X else N, 4)
               for field in StateField if field in f.neuron_state + [StateField.X]]
    blocks += [(Space.INPUT, field.value << sb, f.n_inputs, 4) for field in f.input_fields]
    out = []
    for k, (space, addr, count, width) in enumerate(blocks):
        width = min(width, (f.max_payload - 2) // count)      # narrower if it must fit
        out.append(protocol.read_request(space, addr, count, width, seq=(seq + k) & 0xFF))
    return out


def _runs(settings):
    """Split *settings* (in address order) into runs of successive addresses."""
    runs = []
    for setting in settings:
        if runs and setting.value == runs[-1][-1].value + 1:
            runs[-1].append(setting)
        else:
            runs.append([setting])
    return runs


def touches_cycles(payload):
    """True if *payload* is a READ that would return the cycle counter (gateware only)."""
    if len(payload) != protocol.HEADER_BYTES or payload[1] != Command.READ.value \
            or payload[2] != Space.COUNTER.value:
        return False
    addr = int.from_bytes(payload[3:6], "little")
    count = int.from_bytes(payload[6:8], "little")
    if not 1 <= payload[8] <= 4 or count == 0 or addr + count > len(Counter):
        return False
    return any(a in (Counter.CYCLES_LO.value, Counter.CYCLES_HI.value)
               for a in range(addr, addr + count))


def load_payloads(fuzzer, net, *, seq):
    """Return payloads (seqs from *seq*) that load *net* and reset state, counters and (with
    ``COUNTS``) the spike counts; the generators' rates and states with ``GENERATORS``."""
    f, N = fuzzer, fuzzer.n_neurons
    per_frame = (f.max_payload - protocol.HEADER_BYTES) // N * N
    weights = np.asarray(net.weights, dtype=np.int64).ravel()
    blocks = [(Space.WEIGHT, (k // N) << f.nb, weights[k:k + per_frame], 1)
              for k in range(0, len(weights), per_frame)]
    blocks += [(Space.NEURON, field.value << f.nb, getattr(net, field.name.lower()), 4)
               for field in f.fields]
    values = {Setting.W_EXP: net.w_exp,
              Setting.W_EXP_REC: net.w_exp if net.w_exp_rec is None else net.w_exp_rec,
              **{s: int(getattr(net.learning, s.name.lower())) for s in Setting
                 if s.name.lower() in net.learning.as_dict()}}
    blocks += [(Space.SETTING, run[0].value, [values[s] for s in run], spec.SETTING_BYTES)
               for run in _runs(f.settings)]
    blocks += [(Space.MASK, 0, np.asarray(net.plastic_src, dtype=np.int64), 1),
               (Space.MASK, 1 << f.sb, np.asarray(net.plastic_dst, dtype=np.int64), 1)]
    values = {InputField.RATE: net.rate, InputField.GEN: net.gen_state}
    blocks += [(Space.INPUT, field.value << f.sb, np.asarray(values[field], dtype=np.int64),
                spec.INPUT_FIELD_BYTES[field]) for field in f.input_fields]
    out = [protocol.write_request(space, addr, values, width, seq=(seq + k) & 0xFF)
           for k, (space, addr, values, width) in enumerate(blocks)]
    flags = ResetFlags.STATE | ResetFlags.COUNTERS
    if f.features & Feature.COUNTS:
        flags |= ResetFlags.SPIKE_COUNTS
    out.append(protocol.reset_request(flags, seq=(seq + len(out)) & 0xFF))
    return out
