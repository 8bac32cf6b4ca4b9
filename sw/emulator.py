"""A Python device that speaks docs/protocol.md byte for byte, around the golden model.

:class:`DeviceEmulator` answers every frame exactly as the gateware (``spikecore.hw.link``
with ``spikecore.hw.core``) does: the same statuses, positions, sequence rules and reply
bytes, and the golden model (``spikecore.model``) for the steps. The gateware's tests compare
its replies with the emulator's; the driver's tests run against it through
:class:`EmulatorTransport`, which can also damage bytes on the way.

>>> from spikecore.emulator import DeviceEmulator, EmulatorTransport
>>> from spikecore.driver import open_device
>>> core = open_device(EmulatorTransport(DeviceEmulator(8, 16)))
"""

import time

import numpy as np

from . import protocol, spec
from .model import STATE_ATTRS, Model
from .network import Learning, Network
from .spec import (Command, Counter, Feature, InputField, NeuronField, ResetFlags, RunFlags,
                   Setting, Space, StateField, Status)
from .transport import Transport

__all__ = ["DeviceEmulator", "EmulatorTransport", "DEFAULT_CLK_HZ", "DEFAULT_BAUD"]

#: Clock and baud rate an emulator reports unless told otherwise (an iCEBreaker's).
DEFAULT_CLK_HZ = 12_000_000
DEFAULT_BAUD = 3_000_000

_ADDR_MASK = (1 << spec.ADDR_BITS) - 1
_NEURON_FIELDS = [f.name.lower() for f in NeuronField]
_BOOL_SETTINGS = (Setting.ENABLED, Setting.SOFT_BOUND)
_NEURON_STATE = {f: name for f, name in STATE_ATTRS.items() if f is not StateField.X}
_INPUT_FIELDS = {InputField.RATE: "rate", InputField.GEN: "gen"}
_GEN_MASK = spec.GEN_MAX
#: The features a device of protocol version 3 could have.
_V3_FEATURES = Feature.THETA | Feature.X_TAR | Feature.W_EXP_REC | Feature.SOFT_BOUND


def _check_int(name, value, low, high):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], not {value}")
    return int(value)


class _Reject(Exception):
    """A command's check failed: reply with *status* (and *position*, if not None)."""

    def __init__(self, status, position=None):
        super().__init__(status)
        self.status, self.position = status, position


class DeviceEmulator:
    """A spikecore device in Python: frames in, reply frames out, the golden model inside.

    Power-up state is all zero, as in the gateware: weights, parameters, theta, settings
    (but ``th_shift``: ``spec.SETTING_POWER_UP``), masks, state and counters. The cycle
    counter stays 0 (there is no clock).

    Parameters
    ----------
    n_inputs, n_neurons : int
        The geometry (1 … 65535 each).
    lanes : int
        Reported by IDENTIFY (1 … 255).
    clk_hz, baud : int
        Reported by IDENTIFY (u32).
    rx_window : int
        Reported by IDENTIFY (1 … 65535). The emulator itself never runs out of room.
    max_payload : int
        The longest payload it takes and sends (``spec.MIN_PAYLOAD`` … ``spec.MAX_PAYLOAD``),
        reported by IDENTIFY: longer frames get ``BAD_FRAME``, as on a device built with that
        limit.
    features : spikecore.spec.Feature
        The optional parts of the model it has, reported by IDENTIFY. The settings and fields
        of the others have no address (``BAD_ADDRESS``) and hold their defaults: without
        ``W_EXP_REC`` neuron sources are scaled by ``w_exp``; without ``GENERATORS`` every
        rate is 0.
    version : int
        The protocol version it speaks: ``spec.PROTOCOL_VERSION`` (4), or 3, a device made
        before on-device stimulus and readout: features of version 3 only. Without
        ``Feature.RUN_WITH`` (any version 3 device) RUN_WITH is ``UNKNOWN_COMMAND``.

    Members
    -------
    model : spikecore.model.Model
        The state: weights, parameters, settings, masks, u, v, ref, x, y, s_prev, steps.
    identity : spikecore.protocol.Identity
        What IDENTIFY reports.
    """

    def __init__(self, n_inputs, n_neurons, lanes=1, clk_hz=DEFAULT_CLK_HZ, baud=DEFAULT_BAUD,
                 rx_window=spec.RX_WINDOW, max_payload=spec.MAX_PAYLOAD,
                 features=spec.Feature.all(), version=spec.PROTOCOL_VERSION):
        n_inputs = _check_int("n_inputs", n_inputs, 1, 0xFFFF)
        n_neurons = _check_int("n_neurons", n_neurons, 1, 0xFFFF)
        lanes = _check_int("lanes", lanes, 1, 0xFF)
        clk_hz = _check_int("clk_hz", clk_hz, 0, 0xFFFF_FFFF)
        baud = _check_int("baud", baud, 0, 0xFFFF_FFFF)
        rx_window = _check_int("rx_window", rx_window, 1, 0xFFFF)
        max_payload = _check_int("max_payload", max_payload, spec.MIN_PAYLOAD, spec.MAX_PAYLOAD)
        if not isinstance(features, spec.Feature):
            raise TypeError(f"features must be a spikecore.spec.Feature, not {features!r}")
        if version not in (3, spec.PROTOCOL_VERSION):
            raise ValueError(f"version must be 3 or {spec.PROTOCOL_VERSION}, not {version!r}")
        if version == 3 and features & ~_V3_FEATURES:
            raise ValueError(f"a version 3 device has none of "
                             f"{(features & ~_V3_FEATURES).names()}")
        self.version = version
        self.n_inputs, self.n_neurons = n_inputs, n_neurons
        self.n_sources = n_inputs + n_neurons
        self.nb = spec.neuron_bits(n_neurons)
        self.sb = spec.src_bits(n_inputs, n_neurons)
        self.identity = protocol.Identity(version, n_inputs, n_neurons, lanes,
                                          clk_hz, baud, rx_window, max_payload, features)
        self.max_payload = max_payload
        self.features = features
        # Which setting and which neuron field has an address, by address / field number.
        self._has_setting = np.array([s in spec.settings_of(features) for s in Setting])
        self._has_field = np.array([f in spec.fields_of(features) for f in NeuronField])
        self.model = self._power_up_model()
        self.cycles = 0
        self._decoder = protocol.FrameDecoder(max_payload)
        self._last = None           # seq of the last executed command, None: none
        self._last_reply = b""      # its reply, wire bytes
        self._expect = None         # seq executed next, None: anything (power-up)

    def _power_up_model(self):
        net = Network(self.n_inputs, self.n_neurons, seed=None)
        for name in spec.NEURON_RANGES:
            setattr(net, name, np.zeros(self.n_neurons, dtype=np.int64))
        net.plastic_src = np.zeros(self.n_sources, dtype=bool)
        net.plastic_dst = np.zeros(self.n_neurons, dtype=bool)
        net.w_exp = 0
        net.learning = Learning(**{s.name.lower(): spec.SETTING_POWER_UP.get(s, 0)
                                   for s in Setting if s.name.lower() in Learning._DEFAULTS})
        return Model(net)

    # --- bytes in, bytes out ---

    def feed(self, data, errors=()):
        """Receive *data*; return the reply bytes of every frame it completed.

        Parameters
        ----------
        data : bytes
        errors : iterable of int
            Offsets in *data* of bytes received with a UART framing error: their frame is
            answered ``BAD_FRAME``.
        """
        data = bytes(data)
        results = []
        at = 0
        for offset in sorted(set(errors)):
            if not 0 <= offset < len(data):
                raise ValueError(f"error offset {offset} is outside the {len(data)} bytes")
            results += self._decoder.feed(data[at:offset])
            self._decoder.mark_error()
            at = offset
        results += self._decoder.feed(data[at:])
        return b"".join(self._handle(item) for item in results)

    def _handle(self, item):
        if isinstance(item, protocol.FrameError):
            # Frame-level errors leave the sequence state alone.
            return protocol.encode_frame(protocol.reply_payload(item.seq, item.status))
        seq, command = item[0], item[1]
        if command == Command.IDENTIFY.value:
            self._last, self._expect = None, (seq + 1) & 0xFF
            if len(item) != 2:
                return self._frame(seq, Status.BAD_LENGTH)
            return self._frame(seq, Status.OK, self.identity.to_bytes())
        if self._last is not None and seq == self._last:
            return self._last_reply
        if self._expect is not None and seq != self._expect:
            return self._frame(seq, Status.OUT_OF_ORDER)
        try:
            reply = self._frame(seq, Status.OK, self._execute(command, item))
        except _Reject as e:
            data = b"" if e.position is None else e.position.to_bytes(2, "little")
            reply = self._frame(seq, e.status, data)
        self._last, self._last_reply, self._expect = seq, reply, (seq + 1) & 0xFF
        return reply

    @staticmethod
    def _frame(seq, status, data=b""):
        return protocol.encode_frame(protocol.reply_payload(seq, status, data))

    # --- commands ---

    def _execute(self, command, payload):
        """Check and apply one command; return its reply data or raise _Reject."""
        handlers = {Command.WRITE.value: self._write, Command.READ.value: self._read,
                    Command.RESET.value: self._reset, Command.RUN.value: self._run}
        if self.features & Feature.RUN_WITH:
            handlers[Command.RUN_WITH.value] = self._run_with
        if command not in handlers:
            raise _Reject(Status.UNKNOWN_COMMAND)
        return handlers[command](payload)

    @staticmethod
    def _block_header(payload):
        space = payload[2]
        addr = int.from_bytes(payload[3:6], "little")
        count = int.from_bytes(payload[6:8], "little")
        width = payload[8]
        return space, addr, count, width

    def _write(self, payload):
        if len(payload) < protocol.HEADER_BYTES:
            raise _Reject(Status.BAD_LENGTH)
        space, addr, count, width = self._block_header(payload)
        if count == 0 or not 1 <= width <= 4 \
                or len(payload) != protocol.HEADER_BYTES + count * width:
            raise _Reject(Status.BAD_LENGTH)
        values = protocol.decode_values(payload[protocol.HEADER_BYTES:], width)
        where, valid = self._locate(space, addr, count, write=True)
        if space == Space.INPUT.value:
            values = np.where(where // self.n_inputs == InputField.GEN.value,
                              values[:valid] & _GEN_MASK, values[:valid])
        low, high = self._ranges(space, where)
        bad = np.flatnonzero((values[:valid] < low) | (values[:valid] > high))
        if bad.size:
            raise _Reject(Status.BAD_VALUE, int(bad[0]))
        if valid < count:
            raise _Reject(Status.BAD_ADDRESS, valid)
        if space == Space.SETTING.value:
            self._check_bounds(where, values)
        self._store(space, where, values)
        return b""

    def _check_bounds(self, where, values):
        """Refuse a SETTING block that would leave w_min > w_max (docs/protocol.md, WRITE).

        The block is judged by the settings it leaves: its own W_MIN / W_MAX values where it
        writes them, the current ones otherwise; the position is its first bound's.
        """
        written = dict(zip(where.tolist(), values.tolist()))
        bounds = [Setting.W_MIN.value, Setting.W_MAX.value]
        positions = [int(np.flatnonzero(where == a)[0]) for a in bounds if a in written]
        if not positions:
            return
        lr = self.model.learning
        w_min = written.get(Setting.W_MIN.value, lr.w_min)
        w_max = written.get(Setting.W_MAX.value, lr.w_max)
        if w_min > w_max:
            raise _Reject(Status.BAD_VALUE, min(positions))

    def _read(self, payload):
        if len(payload) != protocol.HEADER_BYTES:
            raise _Reject(Status.BAD_LENGTH)
        space, addr, count, width = self._block_header(payload)
        if count == 0 or not 1 <= width <= 4 or 2 + count * width > self.max_payload:
            raise _Reject(Status.BAD_LENGTH)
        where, valid = self._locate(space, addr, count, write=False)
        if valid < count:
            raise _Reject(Status.BAD_ADDRESS, valid)
        return protocol.encode_values(self._load(space, where), width)

    def _reset(self, payload):
        if len(payload) != 3:
            raise _Reject(Status.BAD_LENGTH)
        flags = payload[2]
        known = ResetFlags.STATE.value | ResetFlags.COUNTERS.value
        if self.features & Feature.COUNTS:
            known |= ResetFlags.SPIKE_COUNTS.value
        if flags & ~known:
            raise _Reject(Status.BAD_VALUE, 0)
        if flags & ResetFlags.STATE.value:
            self.model.reset()
        if flags & ResetFlags.COUNTERS.value:
            self.model.steps = 0
            self.cycles = 0
        if flags & ResetFlags.SPIKE_COUNTS.value:
            self.model.clear_counts()
        return b""

    def _run(self, payload):
        if len(payload) < 4:
            raise _Reject(Status.BAD_LENGTH)
        steps = int.from_bytes(payload[2:4], "little")
        if steps > protocol.max_run_steps(self.n_neurons, self.max_payload):
            raise _Reject(Status.BAD_LENGTH)
        try:
            inputs = protocol.decode_records(payload[4:], steps, self.n_inputs)
        except protocol.RecordError as e:
            if e.kind == "length":
                raise _Reject(Status.BAD_LENGTH) from None
            error = e
        else:
            error = None
        if steps == 0:
            raise _Reject(Status.BAD_VALUE, 0)
        if error is not None:
            raise _Reject(Status.BAD_VALUE, error.step)
        return protocol.encode_records(self.model.run(inputs))

    def _run_with(self, payload):
        if len(payload) < 6:
            raise _Reject(Status.BAD_LENGTH)
        steps = int.from_bytes(payload[2:4], "little")
        flags, n_probes = payload[4], payload[5]
        records_at = 6 + 4 * n_probes
        if n_probes > spec.MAX_PROBES or len(payload) < records_at:
            raise _Reject(Status.BAD_LENGTH)
        inputs_given = bool(flags & RunFlags.INPUTS.value)
        spikes = bool(flags & RunFlags.SPIKES.value)
        error = None
        if inputs_given:
            try:
                inputs = protocol.decode_records(payload[records_at:], steps, self.n_inputs)
            except protocol.RecordError as e:
                if e.kind == "length":
                    raise _Reject(Status.BAD_LENGTH) from None
                error = e
        elif len(payload) != records_at:
            raise _Reject(Status.BAD_LENGTH)
        if steps > spec.max_run_with_steps(self.n_neurons, self.max_payload, spikes, n_probes):
            raise _Reject(Status.BAD_LENGTH)
        probes = []
        for k in range(n_probes):
            space = payload[6 + 4 * k]
            addr = int.from_bytes(payload[7 + 4 * k:10 + 4 * k], "little")
            if space not in [s.value for s in spec.PROBE_SPACES] \
                    or self._locate(space, addr, 1, write=False)[1] != 1:
                raise _Reject(Status.BAD_ADDRESS, k)
            probes.append((space, self._locate(space, addr, 1, write=False)[0]))
        known = RunFlags.INPUTS.value | RunFlags.SPIKES.value
        if steps == 0 or flags & ~known:
            raise _Reject(Status.BAD_VALUE, 0)
        if error is not None:
            raise _Reject(Status.BAD_VALUE, error.step)
        out = []
        none = np.zeros(self.n_inputs, dtype=bool)
        for t in range(steps):
            s = self.model.step(inputs[t] if inputs_given else none)
            if spikes:
                out.append(protocol.encode_records(s[None, :]))
            for space, where in probes:
                out.append(protocol.encode_values(self._load(space, where), spec.PROBE_BYTES))
        return b"".join(out)

    # --- the address map ---

    def _locate(self, space, addr, count, *, write):
        """Return (where, valid): the targets of a block's positions, and how many are valid.

        *where* describes positions 0 … valid−1 (the first invalid address ends the block):
        flat indices for WEIGHT and NEURON, addresses for the other spaces.
        """
        N, S, nb = self.n_neurons, self.n_sources, self.nb
        positions = np.arange(count, dtype=np.int64)
        if space in (Space.WEIGHT.value, Space.NEURON.value):
            rows = S if space == Space.WEIGHT.value else len(NeuronField)
            i, hi = addr & ((1 << nb) - 1), addr >> nb
            if i >= N or hi >= rows:
                return positions[:0], 0
            flat = hi * N + i + positions
            valid = min(count, rows * N - (hi * N + i))
            if space == Space.NEURON.value:
                # A field the device lacks has no address: the block stops at its first.
                absent = ~self._has_field[flat[:valid] // N]
                if absent.any():
                    valid = int(np.argmax(absent))
            return flat[:valid], valid
        if space == Space.INPUT.value:
            n_in, mask = self.n_inputs, (1 << self.sb) - 1
            j, hi = addr & mask, addr >> self.sb
            if not self.features & Feature.GENERATORS or j >= n_in or hi >= len(InputField):
                return positions[:0], 0
            flat = hi * n_in + j + positions
            valid = min(count, len(InputField) * n_in - (hi * n_in + j))
            return flat[:valid], valid
        addrs = (addr + positions) & _ADDR_MASK
        if space == Space.SETTING.value:
            ok = addrs < len(Setting)
            ok[ok] = self._has_setting[addrs[ok]]
        elif space == Space.MASK.value:
            ok = (addrs < S) | (((addrs >> self.sb) == 1) & ((addrs & ((1 << self.sb) - 1)) < N))
        elif space == Space.STATE.value and not write:
            field, index = addrs >> self.sb, addrs & ((1 << self.sb) - 1)
            have = [f.value for f in _NEURON_STATE
                    if f is not StateField.COUNT or self.features & Feature.COUNTS]
            neuron = np.isin(field, have)
            ok = (neuron & (index < N)) | ((field == StateField.X.value) & (index < S))
        elif space == Space.COUNTER.value and not write:
            ok = addrs < len(Counter)
        else:
            ok = np.zeros(count, dtype=bool)
        valid = count if ok.all() else int(np.argmin(ok))
        return addrs[:valid], valid

    def _ranges(self, space, where):
        """Return the [low, high] of the values written at *where* (arrays or scalars)."""
        if space == Space.WEIGHT.value:
            return spec.WEIGHT_MIN, spec.WEIGHT_MAX
        if space == Space.NEURON.value:
            bounds = np.array([spec.NEURON_RANGES[name] for name in _NEURON_FIELDS])
            field = where // self.n_neurons
            return bounds[field, 0], bounds[field, 1]
        if space == Space.SETTING.value:
            bounds = np.array([spec.SETTING_RANGES[s] for s in Setting])
            return bounds[where, 0], bounds[where, 1]
        if space == Space.INPUT.value:
            bounds = np.array([spec.INPUT_RANGES["rate"], spec.INPUT_RANGES["gen_state"]])
            field = where // self.n_inputs
            return bounds[field, 0], bounds[field, 1]
        return 0, 1     # MASK

    def _settings(self):
        m = self.model
        values = {Setting.W_EXP: m.w_exp, Setting.W_EXP_REC: m.w_exp_rec}
        for s in Setting:
            if s not in values:
                values[s] = int(getattr(m.learning, s.name.lower()))
        return np.array([values[s] for s in Setting], dtype=np.int64)

    def _store(self, space, where, values):
        m, N = self.model, self.n_neurons
        if space == Space.WEIGHT.value:
            m._W.reshape(-1)[where] = values      # the model's weights, in place
        elif space == Space.NEURON.value:
            for f, name in enumerate(_NEURON_FIELDS):
                sel = (where // N) == f
                getattr(m, name)[where[sel] % N] = values[sel]
        elif space == Space.SETTING.value:
            for a, value in zip(where.tolist(), values.tolist()):
                setting = Setting(a)
                if setting is Setting.W_EXP:
                    m.w_exp = value
                    if not self.features & spec.Feature.W_EXP_REC:
                        m.w_exp_rec = value     # neuron sources scaled by w_exp
                elif setting is Setting.W_EXP_REC:
                    m.w_exp_rec = value
                else:
                    # Learning checks each range; the block leaves w_min <= w_max (checked).
                    setattr(m.learning, setting.name.lower(), bool(value)
                            if setting in _BOOL_SETTINGS else value)
        elif space == Space.INPUT.value:
            for f, name in _INPUT_FIELDS.items():
                sel = (where // self.n_inputs) == f.value
                getattr(m, name)[where[sel] % self.n_inputs] = values[sel]
        else:   # MASK
            src = where < self.n_sources
            m.plastic_src[where[src]] = values[src] != 0
            m.plastic_dst[where[~src] & ((1 << self.sb) - 1)] = values[~src] != 0

    def _load(self, space, where):
        m, N = self.model, self.n_neurons
        if space == Space.WEIGHT.value:
            return m._W.reshape(-1)[where].astype(np.int64)
        if space == Space.NEURON.value:
            params = np.stack([getattr(m, name) for name in _NEURON_FIELDS])
            return params.reshape(-1)[where]
        if space == Space.SETTING.value:
            return self._settings()[where]
        if space == Space.INPUT.value:
            fields = np.stack([getattr(m, name) for name in _INPUT_FIELDS.values()])
            return fields.reshape(-1)[where]
        if space == Space.MASK.value:
            src = where < self.n_sources
            out = np.zeros(len(where), dtype=np.int64)
            out[src] = m.plastic_src[where[src]]
            out[~src] = m.plastic_dst[where[~src] & ((1 << self.sb) - 1)]
            return out
        if space == Space.STATE.value:
            field, index = where >> self.sb, where & ((1 << self.sb) - 1)
            out = np.zeros(len(where), dtype=np.int64)
            for f, name in _NEURON_STATE.items():
                sel = field == f.value
                out[sel] = getattr(m, name)[index[sel]]
            sel = field == StateField.X.value
            out[sel] = m.x[index[sel]]
            return out
        counters = {Counter.STEPS_LO: m.steps & 0xFFFF_FFFF, Counter.STEPS_HI: m.steps >> 32,
                    Counter.CYCLES_LO: self.cycles & 0xFFFF_FFFF,
                    Counter.CYCLES_HI: self.cycles >> 32}
        return np.array([counters[Counter(a)] for a in where.tolist()], dtype=np.int64)


class EmulatorTransport(Transport):
    """A byte transport to a :class:`DeviceEmulator`, with optional damage on the wire.

    It has the small interface ``spikecore.driver`` uses: ``write(bytes)``,
    ``read(timeout) -> bytes`` and ``close()``. The emulator answers at once; a read that
    finds nothing waits out its timeout (nothing else can arrive).

    Parameters
    ----------
    emulator : DeviceEmulator
    host_to_device, device_to_host : callable or None
        ``fault(index, frame) -> bytes``, called with each non-empty frame (its wire bytes,
        0x00 included) going that way and its index (0, 1, … since this transport was made);
        what it returns travels instead: the frame, damaged bytes, ``b""`` to drop it.
    name : str
        Shown in messages (the driver's ``url``).

    Members
    -------
    sent, received : int
        Frames that went to the device and came back (before damage).
    """

    def __init__(self, emulator, *, host_to_device=None, device_to_host=None,
                 name="emulator://"):
        if not isinstance(emulator, DeviceEmulator):
            raise TypeError(f"emulator must be a DeviceEmulator, not {type(emulator).__name__}")
        for hook_name, hook in (("host_to_device", host_to_device),
                                ("device_to_host", device_to_host)):
            if hook is not None and not callable(hook):
                raise TypeError(f"{hook_name} must be callable or None, not {hook!r}")
        self.emulator = emulator
        self.name = name
        self._to_device, self._to_host = host_to_device, device_to_host
        self._tx_tail = b""
        self._rx = bytearray()
        self.sent = self.received = 0
        self.closed = False

    def _frames(self, data, hook, counter):
        """Split *data* into frames, pass each non-empty one through *hook*; return the rest."""
        out = []
        for frame in data.split(b"\x00")[:-1]:
            if frame:
                index = getattr(self, counter)
                setattr(self, counter, index + 1)
                out.append(hook(index, frame + b"\x00") if hook else frame + b"\x00")
            else:
                out.append(b"\x00")
        return b"".join(out)

    def write(self, data):
        """Send *data* to the emulator (through the host-to-device fault, if any)."""
        if self.closed:
            raise ConnectionError(f"{self.name} is closed")
        data = self._tx_tail + bytes(data)
        cut = data.rfind(b"\x00") + 1
        self._tx_tail = data[cut:]
        replies = self.emulator.feed(self._frames(data[:cut], self._to_device, "sent"))
        self._rx += self._frames(replies, self._to_host, "received")

    def read(self, timeout):
        """Return the reply bytes waiting, or b"" after *timeout* seconds if there are none."""
        if self.closed:
            raise ConnectionError(f"{self.name} is closed")
        if not self._rx:
            time.sleep(timeout)
            return b""
        data = bytes(self._rx)
        self._rx.clear()
        return data

    def close(self):
        """Close the transport (the emulator keeps its state)."""
        self.closed = True

    def __repr__(self):
        return f"<EmulatorTransport {self.name}>"
