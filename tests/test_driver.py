"""The driver (spikecore.driver) against the device emulator (spikecore.emulator).

Random seeded networks run bit-exact with ``model://`` through the protocol; raw frames check
every status of the emulator by hand; damaged, cut, dropped and missing frames check the
retransmission rules (frame-level replies are retried, never DeviceErrors), and a seeded damage
fuzz checks that results stay bit-exact or end in a LinkError; a full weight upload checks the
link's efficiency.
"""

import collections
import os
import random
import select
import socket
import threading
import time
import tty

import numpy as np
import pytest

import spikecore
from randnet import random_inputs, random_network
from spikecore import protocol, spec
from spikecore.driver import DeviceError, LinkError, open_device
from spikecore.emulator import DeviceEmulator, EmulatorTransport
from spikecore.protocol import FrameDecoder, encode_frame, parse_reply
from spikecore.spec import (Command, Counter, InputField, NeuronField, ResetFlags, RunFlags, Setting,
                           Space, StateField, Status)

STATE_FIELDS = ("u", "v", "ref", "x", "y", "spikes", "theta")


def emulated(n_inputs, n_neurons, *, timeout=0.3, retries=3, **faults):
    """Return (emulator, transport, core): a driver on a fresh emulator."""
    emu = DeviceEmulator(n_inputs, n_neurons)
    transport = EmulatorTransport(emu, **faults)
    return emu, transport, open_device(transport, timeout=timeout, retries=retries)


def assert_same(core, model):
    assert np.array_equal(core.read_weights(), model.read_weights()), "weights differ"
    got, want = core.read_state(), model.read_state()
    for name in STATE_FIELDS:
        assert np.array_equal(getattr(got, name), getattr(want, name)), \
            f"state.{name} differs: link {getattr(got, name)}, model {getattr(want, name)}"


def run_and_compare(core, model, inputs, sizes):
    start = 0
    for size in sizes:
        chunk = inputs[start:start + size]
        got, want = core.run(chunk), model.run(chunk)
        bad = np.flatnonzero(np.any(got != want, axis=1))
        assert bad.size == 0, f"spikes differ first at step {start + bad[0]}"
        start += size
        assert_same(core, model)


def test_load_geometry_mismatch():
    _, _, core = emulated(8, 16)
    with core, pytest.raises(ValueError, match="network geometry 9 inputs \\+ 16 neurons does "
                             "not match the device's 8 inputs \\+ 16 neurons"):
        core.load(spikecore.Network(9, 16))


def test_info_and_a_fresh_driver_sees_the_device_state():
    emu, transport, core = emulated(8, 16)
    net = random_network(8, 16, 1)
    core.load(net)
    spikes = core.run(random_inputs(20, 8, 1))
    info = core.info()
    assert info["backend"] == "link" and info["url"] == "emulator://"
    assert (info["n_inputs"], info["n_neurons"], info["version"]) == \
        (8, 16, spec.PROTOCOL_VERSION)
    assert info["max_payload"] == spec.MAX_PAYLOAD and info["rx_window"] == spec.RX_WINDOW
    core.close()
    # The device keeps its network between connections: no load needed to go on.
    with open_device(EmulatorTransport(emu)) as again, spikecore.connect("model://") as model:
        model.load(net)
        assert np.array_equal(model.run(random_inputs(20, 8, 1)), spikes)
        assert again.counters()["steps"] == 20
        assert_same(again, model)


def test_device_error_names_status_command_and_position():
    _, _, core = emulated(8, 16)
    bad = protocol.write_request(Space.WEIGHT, 0, [0, 200, 0], 2)
    with pytest.raises(DeviceError, match=r"BAD_VALUE at position 1 to WRITE \(a WEIGHT "
                       r"block from address 0x000000\)") as info:
        core.link.transact([protocol.reset_request(1), bad, protocol.reset_request(1)])
    assert (info.value.status, info.value.command, info.value.position) == \
        (Status.BAD_VALUE, Command.WRITE, 1)
    # The link is still in step.
    assert core.counters()["steps"] == 0


def test_open_device_arguments():
    emu = DeviceEmulator(4, 4)
    for kwargs, match in [({"timeout": 0}, "timeout must be a positive number"),
                          ({"retries": -1}, "retries must be an integer >= 0"),
                          ({"progress": "yes"}, "progress must be None, True or False")]:
        with pytest.raises(ValueError, match=match):
            open_device(EmulatorTransport(emu), **kwargs)
    with pytest.raises(TypeError, match="takes a URL or a spikecore.transport.Transport, "
                                        "not object"):
        open_device(object())
    with pytest.raises(TypeError, match="a transport takes no options"):
        open_device(EmulatorTransport(emu), rtscts=True)
    with pytest.raises(ValueError, match="socket://HOST:PORT"):
        open_device("socket://localhost")


def test_emulator_arguments():
    with pytest.raises(ValueError, match=r"n_neurons must be in \[1, 65535\], not 0"):
        DeviceEmulator(4, 0)
    with pytest.raises(TypeError, match="n_inputs must be an integer, not 4.0"):
        DeviceEmulator(4.0, 4)
    with pytest.raises(ValueError, match=r"rx_window must be in \[1, 65535\], not 65536"):
        DeviceEmulator(4, 4, rx_window=65536)
    with pytest.raises(ValueError, match=r"max_payload must be in \[64, 1024\], not 32"):
        DeviceEmulator(4, 4, max_payload=32)


def test_a_device_with_a_smaller_payload_limit():
    # The driver splits loads, reads and runs by the max_payload IDENTIFY reports: at 64
    # bytes a weight row, a neuron field and a RUN of 20 steps each take several frames.
    net = random_network(6, 20, 3, learning=True)
    inputs = random_inputs(90, 6, 3, p=0.4)
    emu = DeviceEmulator(6, 20, max_payload=64)
    with open_device(EmulatorTransport(emu)) as core, spikecore.connect("model://") as model:
        assert core.info()["max_payload"] == 64
        core.load(net)
        model.load(net)
        assert np.array_equal(core.run(inputs), model.run(inputs))
        assert_same(core, model)


def test_progress_bar_forced(capsys):
    emu = DeviceEmulator(8, 16)
    with open_device(EmulatorTransport(emu), progress=True) as core:
        core.load(random_network(8, 16, 2))
        core.run(random_inputs(500, 8, 2))
    assert "run" in capsys.readouterr().err


# --- raw frames: every status, by hand -------------------------------------------------------

# Geometry of the raw-frame tests: N = 12 (nb = 4, not a power of two), S = 17 (sb = 5).
N_IN, N_N = 5, 12
NB, SB, S = 4, 5, 17


class Raw:
    """Frames straight to an emulator (of *features*); seqs by hand."""

    def __init__(self, features=spec.Feature.all()):
        self.emu = DeviceEmulator(N_IN, N_N, features=features)
        self.seq = 0
        self.ask(protocol.identify_request(seq=0))

    def wire(self, data, errors=()):
        """Feed bytes; return the replies as Reply tuples."""
        return [parse_reply(p) for p in FrameDecoder().feed(self.emu.feed(data, errors))]

    def ask(self, payload):
        """Send one frame as it is; return its one reply."""
        replies = self.wire(encode_frame(payload))
        assert len(replies) == 1
        return replies[0]

    def next(self, payload):
        """Send *payload* with the next seq; return (status, position or data)."""
        self.seq = (self.seq + 1) & 0xFF
        reply = self.ask(bytes([self.seq]) + payload[1:])
        assert reply.seq == self.seq
        if reply.status in (Status.BAD_ADDRESS, Status.BAD_VALUE):
            assert len(reply.data) == 2
            return reply.status, protocol.parse_position(reply.data)
        if reply.status is not Status.OK:
            assert reply.data == b"", "no data with this status"
        return reply.status, reply.data

    def write(self, space, addr, values, width):
        return self.next(protocol.write_request(space, addr, values, width))

    def read(self, space, addr, count, width):
        return self.next(protocol.read_request(space, addr, count, width))


def w_addr(j, i):
    return (j << NB) | i


def header(command, *args):
    """A payload (seq 0) of *command* and raw argument bytes."""
    return bytes([0, command.value if hasattr(command, "value") else command, *args])


BAD_ADDRESS, BAD_VALUE, BAD_LENGTH, OK = (Status.BAD_ADDRESS, Status.BAD_VALUE,
                                          Status.BAD_LENGTH, Status.OK)

WRITE_CASES = [
    # WEIGHT: (j << nb) | i, i < 12, j < 17; the block wraps to the next source.
    (Space.WEIGHT, w_addr(0, 12), [1], 1, BAD_ADDRESS, 0),
    (Space.WEIGHT, w_addr(17, 0), [1], 1, BAD_ADDRESS, 0),
    (Space.WEIGHT, w_addr(16, 11), [1, 1], 1, BAD_ADDRESS, 1),
    (Space.WEIGHT, 1 << 23, [1], 1, BAD_ADDRESS, 0),
    (Space.WEIGHT, 0, [0, 128, 0], 2, BAD_VALUE, 1),
    (Space.WEIGHT, 0, [-129], 2, BAD_VALUE, 0),
    (Space.WEIGHT, 0, [-128, 127], 1, OK, b""),
    # NEURON: (field << nb) | i, field < 6.
    (Space.NEURON, w_addr(6, 0), [0], 1, BAD_ADDRESS, 0),
    (Space.NEURON, w_addr(5, 11), [1, 1], 1, BAD_ADDRESS, 1),
    (Space.NEURON, w_addr(4, 11), [1, 1], 1, OK, b""),                 # t_ref, then theta
    (Space.NEURON, w_addr(NeuronField.THETA.value, 0), [2**23 - 1], 3, OK, b""),
    (Space.NEURON, w_addr(NeuronField.THETA.value, 0), [0, -1], 3, BAD_VALUE, 1),
    (Space.NEURON, w_addr(NeuronField.THETA.value, 0), [2**23], 4, BAD_VALUE, 0),
    (Space.NEURON, w_addr(NeuronField.VTH.value, 0), [-1], 3, BAD_VALUE, 0),
    (Space.NEURON, w_addr(NeuronField.DU.value, 0), [4096, 4097], 2, BAD_VALUE, 1),
    (Space.NEURON, w_addr(NeuronField.T_REF.value, 3), [15, 16], 1, BAD_VALUE, 1),
    (Space.NEURON, w_addr(NeuronField.BIAS.value, 0), [-2**23, 2**23 - 1], 3, OK, b""),
    (Space.NEURON, w_addr(NeuronField.BIAS.value, 0), [-2**23 - 1], 4, BAD_VALUE, 0),
    # SETTING: < 15; the address is checked before the value at each position.
    (Space.SETTING, Setting.SOFT_BOUND.value, [0, 0], 1, BAD_ADDRESS, 1),
    (Space.SETTING, Setting.SOFT_BOUND.value, [0, 999], 2, BAD_ADDRESS, 1),
    (Space.SETTING, Setting.W_MAX.value, [0, 0, 0, 0, 1, 0], 1, OK, b""),
    (Space.SETTING, Setting.W_EXP_REC.value, [16], 1, BAD_VALUE, 0),
    (Space.SETTING, Setting.X_TAR.value, [255, 65535], 3, OK, b""),
    (Space.SETTING, Setting.X_TAR.value, [256], 2, BAD_VALUE, 0),
    (Space.SETTING, Setting.TH_IMP.value, [65535], 3, OK, b""),
    (Space.SETTING, Setting.TH_IMP.value, [65536], 3, BAD_VALUE, 0),
    (Space.SETTING, Setting.TH_IMP.value, [65535], 2, BAD_VALUE, 0),   # 0xFFFF is -1 in 2 bytes
    (Space.SETTING, Setting.TH_SHIFT.value, [0], 1, BAD_VALUE, 0),     # th_shift is 1 … 24
    (Space.SETTING, Setting.TH_SHIFT.value, [1, 1], 1, OK, b""),
    (Space.SETTING, Setting.TH_SHIFT.value, [25], 1, BAD_VALUE, 0),
    (Space.SETTING, Setting.SOFT_BOUND.value, [2], 1, BAD_VALUE, 0),
    (Space.SETTING, Setting.W_MIN.value, [999, 0, 0], 2, BAD_VALUE, 0),
    (Space.SETTING, Setting.W_EXP.value, [16], 1, BAD_VALUE, 0),
    (Space.SETTING, Setting.ENABLED.value, [2], 1, BAD_VALUE, 0),
    (Space.SETTING, Setting.X_DECAY.value, [256, 257], 2, BAD_VALUE, 1),
    (Space.SETTING, Setting.W_MIN.value, [10, -10], 1, BAD_VALUE, 0),  # leaves w_min > w_max
    # MASK: source < 17, or (1 << sb) | i with i < 12.
    (Space.MASK, 16, [1, 1], 1, BAD_ADDRESS, 1),
    (Space.MASK, (1 << SB) | 11, [1, 1], 1, BAD_ADDRESS, 1),
    (Space.MASK, 0, [1, 2], 1, BAD_VALUE, 1),
    # Read-only and forbidden spaces.
    (Space.STATE, 0, [0], 1, BAD_ADDRESS, 0),
    (Space.COUNTER, 0, [0], 4, BAD_ADDRESS, 0),
    (Space.CONTROL, 0, [0], 1, BAD_ADDRESS, 0),
]


@pytest.mark.parametrize("space, addr, values, width, status, position", WRITE_CASES)
def test_write_statuses(space, addr, values, width, status, position):
    raw = Raw()
    assert raw.write(space, addr, values, width) == (status, position)


def test_write_to_space_8_and_bad_lengths():
    raw = Raw()
    for payload, status in [
            (header(Command.WRITE, 8, 0, 0, 0, 1, 0, 1, 0), (BAD_ADDRESS, 0)),
            (header(Command.WRITE, 0, 0, 0, 0, 0, 0, 1), (BAD_LENGTH, b"")),     # count 0
            (header(Command.WRITE, 0, 0, 0, 0, 1, 0, 0), (BAD_LENGTH, b"")),     # width 0
            (header(Command.WRITE, 0, 0, 0, 0, 1, 0, 5, 0, 0, 0, 0, 0), (BAD_LENGTH, b"")),
            (header(Command.WRITE, 0, 0, 0, 0, 1, 0, 1, 0, 0), (BAD_LENGTH, b"")),  # extra
            (header(Command.WRITE, 0, 0, 0, 0, 2, 0, 1, 0), (BAD_LENGTH, b"")),  # short
            (header(Command.WRITE, 0, 0), (BAD_LENGTH, b"")),
    ]:
        assert raw.next(payload) == status


def test_a_rejected_write_applies_nothing():
    raw = Raw()
    assert raw.write(Space.WEIGHT, 0, [5, 5, 5, 200], 2) == (BAD_VALUE, 3)
    assert raw.write(Space.SETTING, Setting.A_PLUS.value, [7, 300], 2) == (BAD_VALUE, 1)
    assert not raw.emu.model.W.any()
    assert raw.emu.model.learning.a_plus == 0


def test_power_up_settings_and_theta():
    # All zero but th_shift (spec.SETTING_POWER_UP: 24, its range starts at 1).
    raw = Raw()
    want = bytes(spec.SETTING_POWER_UP.get(s, 0) for s in Setting)
    assert want[Setting.TH_SHIFT.value] == 24
    assert raw.read(Space.SETTING, 0, len(Setting), 1) == (OK, want)
    assert raw.read(Space.NEURON, w_addr(NeuronField.THETA.value, 0), N_N, 3) == \
        (OK, bytes(3 * N_N))


def test_reset_keeps_theta():
    raw = Raw()
    assert raw.write(Space.NEURON, w_addr(NeuronField.THETA.value, 2), [300], 3) == (OK, b"")
    raw.emu.model.u[:] = 9
    assert raw.next(header(Command.RESET, 3)) == (OK, b"")
    assert raw.emu.model.u[0] == 0 and raw.emu.model.theta[2] == 300


_SOME_FEATURES = [spec.Feature(0), spec.Feature.all() & ~spec.Feature.THETA,
                  spec.Feature.all() & ~spec.Feature.W_EXP_REC, spec.Feature.THETA,
                  spec.Feature.X_TAR | spec.Feature.SOFT_BOUND]


@pytest.mark.parametrize("features", _SOME_FEATURES, ids=str)
def test_absent_features_have_no_address(features):
    """IDENTIFY reports the features; a setting or field of one that is absent is BAD_ADDRESS
    for WRITE and READ, and a block stops at its address."""
    raw = Raw(features)
    ident = raw.ask(protocol.identify_request(seq=raw.seq))
    assert protocol.parse_identify(ident.data).features == features
    have = spec.settings_of(features)
    for setting in Setting:
        value = spec.SETTING_POWER_UP.get(setting, 0)
        status = (OK, b"") if setting in have else (BAD_ADDRESS, 0)
        assert raw.write(Space.SETTING, setting.value, [value], 1) == status, setting
        status = (OK, bytes([value])) if setting in have else (BAD_ADDRESS, 0)
        assert raw.read(Space.SETTING, setting.value, 1, 1) == status, setting
    # A block over every setting stops at the first one the device lacks.
    first_absent = next((s.value for s in Setting if s not in have), None)
    values = [spec.SETTING_POWER_UP.get(s, 0) for s in Setting]
    status = (OK, b"") if first_absent is None else (BAD_ADDRESS, first_absent)
    assert raw.write(Space.SETTING, 0, values, 1) == status
    theta = w_addr(NeuronField.THETA.value, 0)
    if features & spec.Feature.THETA:
        assert raw.write(Space.NEURON, theta, [5], 3) == (OK, b"")
        assert raw.read(Space.NEURON, w_addr(4, 11), 2, 1) == (OK, b"\x00\x05")
    else:
        assert raw.write(Space.NEURON, theta, [0], 3) == (BAD_ADDRESS, 0)
        assert raw.read(Space.NEURON, theta | 3, 1, 3) == (BAD_ADDRESS, 0)
        assert raw.write(Space.NEURON, w_addr(4, 11), [1, 0], 1) == (BAD_ADDRESS, 1)
        assert raw.read(Space.NEURON, w_addr(4, 10), 3, 1) == (BAD_ADDRESS, 2)
        assert raw.emu.model.t_ref[11] == 0          # the block was refused whole


def test_without_w_exp_rec_neuron_sources_take_w_exp():
    """A device without W_EXP_REC scales neuron sources by w_exp, whatever it was written."""
    emu = DeviceEmulator(N_IN, N_N, features=spec.Feature.all() & ~spec.Feature.W_EXP_REC)
    net = random_network(N_IN, N_N, seed=4, v2=False)
    with open_device(EmulatorTransport(emu)) as core, spikecore.connect("model://") as model:
        core.load(net)
        model.load(net)
        assert emu.model.w_exp_rec == net.w_exp
        inputs = random_inputs(80, N_IN, seed=4, p=0.4)
        assert np.array_equal(core.run(inputs), model.run(inputs))
        assert_same(core, model)


def recorded(n_inputs, n_neurons, features=spec.Feature.all()):
    """Return (emulator, sent, core): a driver on an emulator; *sent* collects the request
    payloads as they go."""
    sent = []

    def record(index, frame):
        sent.append(FrameDecoder().feed(frame)[0])
        return frame

    emu = DeviceEmulator(n_inputs, n_neurons, features=features)
    return emu, sent, open_device(EmulatorTransport(emu, host_to_device=record))


def blocks(sent, command=None):
    """Return (command, space, addr, count) of each WRITE and READ in *sent*."""
    return [(p[1], p[2], int.from_bytes(p[3:6], "little"), int.from_bytes(p[6:8], "little"))
            for p in sent if p[1] in (Command.WRITE.value, Command.READ.value)
            and (command is None or p[1] == command.value)]


W, R, SETTING = Command.WRITE.value, Command.READ.value, Space.SETTING.value


def test_load_writes_the_effective_w_exp_rec_and_what_the_device_has():
    net = random_network(N_IN, N_N, seed=6)
    net.w_exp_rec = None
    emu, sent, core = recorded(N_IN, N_N)
    core.load(net)
    assert emu.model.w_exp_rec == net.w_exp
    assert (W, SETTING, 0, len(Setting)) in blocks(sent)
    # Without W_EXP_REC and THETA: two runs of settings around address 10, no theta field.
    net = random_network(N_IN, N_N, seed=6, v2=False)
    emu, sent, core = recorded(N_IN, N_N, spec.Feature.X_TAR | spec.Feature.SOFT_BOUND)
    core.load(net)
    settings = [b for b in blocks(sent) if b[1] == SETTING]
    assert settings == [(W, SETTING, 0, Setting.W_EXP_REC.value),
                        (W, SETTING, Setting.X_TAR.value, 1),
                        (W, SETTING, Setting.SOFT_BOUND.value, 1)]
    assert not any(b[1] == Space.NEURON.value and b[2] >> NB == NeuronField.THETA.value
                   for b in blocks(sent))


def test_set_learning_is_one_write_block():
    """The settings given, and those between them, in one WRITE: the device applies all or
    nothing. They are read first only when the block covers settings not given, or one bound
    is given alone."""
    emu, sent, core = recorded(N_IN, N_N)
    core.load(random_network(N_IN, N_N, seed=7))
    for settings, want in [
            ({"enabled": False}, [(W, SETTING, 1, 1)]),
            ({"x_tar": 9, "th_imp": 300, "th_shift": 2, "soft_bound": True},
             [(W, SETTING, 11, 4)]),
            ({"w_min": -3, "w_max": 3}, [(W, SETTING, 8, 2)]),
            ({"w_max": 5}, [(R, SETTING, 0, 15), (W, SETTING, 9, 1)]),
            ({"a_plus": 1, "x_tar": 2}, [(R, SETTING, 0, 15), (W, SETTING, 2, 10)]),
    ]:
        del sent[:]
        before = emu.model.w_exp_rec
        core.set_learning(**settings)
        assert blocks(sent) == want, settings
        for name, value in settings.items():
            assert getattr(emu.model.learning, name) == value, name
        assert emu.model.w_exp_rec == before
    assert (emu.model.learning.w_min, emu.model.learning.w_max) == (-3, 5)
    # Without W_EXP_REC, address 10 has no setting: a block on each side of it.
    emu, sent, core = recorded(N_IN, N_N, spec.Feature.all() & ~spec.Feature.W_EXP_REC)
    core.load(random_network(N_IN, N_N, seed=7, v2=False))
    del sent[:]
    core.set_learning(w_max=100, x_tar=5)
    assert blocks(sent) == [(R, SETTING, 0, 10), (R, SETTING, 11, 4), (W, SETTING, 9, 1),
                            (W, SETTING, 11, 1)]
    assert (emu.model.learning.w_max, emu.model.learning.x_tar) == (100, 5)


def test_write_weights_rows_in_runs():
    emu, sent, core = recorded(N_IN, N_N)
    core.load(random_network(N_IN, N_N, seed=8))
    state = core.read_state()
    rows = [9, 2, 3, 16, 4]
    w = np.arange(len(rows) * N_N).reshape(len(rows), N_N) % 256 - 128
    del sent[:]
    core.write_weights(w, rows)
    # Successive sources are one block: sources 2 … 4, then 9, then 16.
    assert blocks(sent) == [(W, 0, 2 << NB, 3 * N_N), (W, 0, 9 << NB, N_N),
                            (W, 0, 16 << NB, N_N)]
    assert np.array_equal(emu.model.W[rows], w)
    assert core.read_state() == state
    del sent[:]
    core.write_weights(np.zeros((0, N_N)), [])
    assert sent == []


def test_write_wraps_and_read_back_truncated():
    raw = Raw()
    m = raw.emu.model
    # WEIGHT: after neuron 11, neuron 0 of the next source.
    assert raw.write(Space.WEIGHT, w_addr(0, 11), [-1, 7], 1) == (OK, b"")
    assert (m.W[0, 11], m.W[1, 0]) == (-1, 7)
    # NEURON: after neuron 11, neuron 0 of the next field.
    assert raw.write(Space.NEURON, w_addr(0, 11), [100, -5], 3) == (OK, b"")
    assert (m.vth[11], m.bias[0]) == (100, -5)
    # MASK of a geometry where S == 1 << sb: source 15, then plastic_dst 0.
    raw16 = Raw.__new__(Raw)
    raw16.emu, raw16.seq = DeviceEmulator(4, 12), 0
    assert raw16.write(Space.MASK, 15, [1, 1], 1) == (OK, b"")
    assert raw16.emu.model.plastic_src[15] and raw16.emu.model.plastic_dst[0]
    # READ returns the 32-bit value truncated to width bytes, little-endian.
    assert raw.read(Space.WEIGHT, w_addr(0, 11), 2, 4) == (OK, b"\xff\xff\xff\xff\x07\0\0\0")
    assert raw.read(Space.NEURON, w_addr(1, 0), 1, 2) == (OK, b"\xfb\xff")
    m.u[0], m.x[16], m.s_prev[11] = -5, 200, True
    assert raw.read(Space.STATE, StateField.U.value << SB, 1, 3) == (OK, b"\xfb\xff\xff")
    assert raw.read(Space.STATE, StateField.U.value << SB, 1, 1) == (OK, b"\xfb")
    assert raw.read(Space.STATE, (StateField.X.value << SB) | 16, 1, 2) == (OK, b"\xc8\x00")
    assert raw.read(Space.STATE, (StateField.SPIKED.value << SB) | 11, 1, 1) == (OK, b"\x01")
    assert raw.write(Space.SETTING, Setting.W_MIN.value, [-100], 1) == (OK, b"")
    assert raw.read(Space.SETTING, Setting.W_MIN.value, 1, 2) == (OK, b"\x9c\xff")
    m.steps = 2**32 + 3
    assert raw.read(Space.COUNTER, Counter.STEPS_LO.value, 4, 4) == (
        OK, bytes([3, 0, 0, 0, 1, 0, 0, 0]) + bytes(8))


@pytest.mark.parametrize("space, addr, count, width, status", [
    (Space.STATE, (StateField.X.value << SB) | 16, 1, 1, (OK, b"\0")),
    (Space.STATE, (StateField.X.value << SB) | 16, 2, 1, (BAD_ADDRESS, 1)),
    (Space.STATE, (StateField.U.value << SB) | 12, 1, 1, (BAD_ADDRESS, 0)),
    (Space.STATE, 7 << SB, 1, 1, (BAD_ADDRESS, 0)),
    (Space.COUNTER, Counter.CYCLES_HI.value, 2, 4, (BAD_ADDRESS, 1)),
    (Space.CONTROL, 0, 1, 1, (BAD_ADDRESS, 0)),
    (Space.WEIGHT, 0, 512, 2, (BAD_LENGTH, b"")),         # 2 + 1024 > MAX_PAYLOAD
    (Space.WEIGHT, 0, 511, 2, (BAD_ADDRESS, S * N_N)),    # fits; runs off the weights
])
def test_read_statuses(space, addr, count, width, status):
    assert Raw().read(space, addr, count, width) == status


def test_read_bad_lengths_and_space_9():
    raw = Raw()
    assert raw.next(header(Command.READ, 9, 0, 0, 0, 1, 0, 1)) == (BAD_ADDRESS, 0)
    assert raw.next(header(Command.READ, 0, 0, 0, 0, 1, 0, 1, 0)) == (BAD_LENGTH, b"")
    assert raw.next(header(Command.READ, 0, 0, 0, 0, 0, 0, 1)) == (BAD_LENGTH, b"")
    assert raw.next(header(Command.READ, 0, 0, 0, 0, 1, 0, 5)) == (BAD_LENGTH, b"")


def test_reset_statuses():
    raw = Raw()
    m = raw.emu.model
    m.u[:], m.steps = 9, 5
    assert raw.next(header(Command.RESET, 1, 0)) == (BAD_LENGTH, b"")
    assert raw.next(header(Command.RESET, 8)) == (BAD_VALUE, 0)
    assert raw.next(header(Command.RESET, 0)) == (OK, b"")
    assert m.u[0] == 9 and m.steps == 5
    assert raw.next(header(Command.RESET, 1)) == (OK, b"")
    assert m.u[0] == 0 and m.steps == 5
    assert raw.next(header(Command.RESET, 2)) == (OK, b"")
    assert m.steps == 0


def run_payload(steps, records):
    return header(Command.RUN, *steps.to_bytes(2, "little"), *records)


def test_run_statuses():
    raw = Raw()
    most = protocol.max_run_steps(N_N)          # 1022 // 3 = 340
    assert most == 340
    assert raw.next(run_payload(most + 1, [0] * (most + 1))) == (BAD_LENGTH, b"")
    assert raw.next(header(Command.RUN, 1)) == (BAD_LENGTH, b"")
    assert raw.next(run_payload(0, [])) == (BAD_VALUE, 0)
    assert raw.next(run_payload(0, [0])) == (BAD_LENGTH, b"")
    assert raw.next(run_payload(2, [0, 2, 1])) == (BAD_LENGTH, b"")           # past the end
    assert raw.next(run_payload(1, [0, 0])) == (BAD_LENGTH, b"")              # left over
    assert raw.next(run_payload(3, [0, 0, 2, 1, 5])) == (BAD_VALUE, 2)        # 5 >= n_inputs
    assert raw.next(run_payload(2, [0, 255, 0x20])) == (BAD_VALUE, 1)         # padding bit 5
    assert raw.next(run_payload(1, [1, 9, 0])) == (BAD_LENGTH, b"")           # length wins
    assert raw.emu.model.steps == 0
    # The most steps: the reply holds one record per step (power-up: nothing spikes).
    assert raw.next(run_payload(most, [0] * most)) == (OK, bytes(most))
    assert raw.emu.model.steps == most


def test_run_duplicate_indices_count_once():
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    net = random_network(N_IN, N_N, seed)
    inputs = random_inputs(60, N_IN, seed, p=0.4)
    replies = []
    for duplicate in (False, True):
        emu = DeviceEmulator(N_IN, N_N)
        with open_device(EmulatorTransport(emu)) as core:
            core.load(net)
        data = encode_frame(protocol.identify_request(seq=0))
        for t, row in enumerate(inputs):
            members = list(np.flatnonzero(row))
            if duplicate:
                members = members[::-1] + members       # any order, each twice
            payload = run_payload(1, [len(members), *members])
            data += encode_frame(bytes([(t + 1) & 0xFF]) + payload[1:])
        replies.append(emu.feed(data))
        state = emu.model
    assert replies[0] == replies[1]
    model = spikecore.connect("model://")
    model.load(net)
    model.run(inputs)
    assert np.array_equal(model.read_weights(), state.W)


def test_unknown_command_is_executed_and_remembered():
    raw = Raw()
    assert raw.next(header(0x00)) == (Status.UNKNOWN_COMMAND, b"")
    again = raw.ask(bytes([raw.seq, 0x07]))
    assert (again.seq, again.status, again.data) == (raw.seq, Status.UNKNOWN_COMMAND, b"")
    assert raw.next(header(0x07)) == (Status.UNKNOWN_COMMAND, b"")


def test_sequence_rules():
    raw = Raw()
    emu = raw.emu
    ident = raw.ask(protocol.identify_request(seq=10))
    assert ident.status is OK and protocol.parse_identify(ident.data) == emu.identity
    run1 = bytes([11]) + run_payload(1, [0])[1:]
    assert raw.ask(bytes([12]) + run_payload(1, [0])[1:]) == (12, Status.OUT_OF_ORDER, b"")
    first = emu.feed(encode_frame(run1))
    assert emu.model.steps == 1
    # A retransmission: the same bytes again, nothing executes.
    assert emu.feed(encode_frame(run1)) == first
    assert emu.model.steps == 1
    assert raw.ask(bytes([10]) + run_payload(1, [0])[1:]).status is Status.OUT_OF_ORDER
    # IDENTIFY forgets the last reply; even a wrong-length IDENTIFY sets expect.
    assert raw.ask(b"\x32\x01\x00") == (0x32, BAD_LENGTH, b"")
    assert raw.ask(run1).status is Status.OUT_OF_ORDER
    assert raw.ask(bytes([0x33]) + run_payload(1, [0])[1:]).status is OK
    assert emu.model.steps == 2
    # seq wraps around.
    raw.ask(protocol.identify_request(seq=255))
    assert raw.ask(bytes([0]) + header(Command.RESET, 0)[1:]).status is OK


def test_power_up_executes_any_seq():
    emu = DeviceEmulator(N_IN, N_N)
    first = FrameDecoder().feed(emu.feed(encode_frame(protocol.reset_request(0, seq=200))))
    assert parse_reply(first[0]) == (200, OK, b"")
    second = FrameDecoder().feed(emu.feed(encode_frame(protocol.reset_request(0, seq=7))))
    assert parse_reply(second[0]).status is Status.OUT_OF_ORDER


def test_frame_level_errors_leave_the_sequence_alone():
    raw = Raw()
    raw.ask(protocol.identify_request(seq=20))
    good = encode_frame(protocol.reset_request(0, seq=21))
    bad = bytearray(good)           # 03 15 04 03 crc crc 00: the command byte damaged
    bad[2] ^= 0x01
    assert raw.wire(bytes(bad)) == [(21, Status.BAD_CRC, b"")]
    assert raw.wire(b"\x05\x15\x04\x00") == [(0x15, Status.BAD_FRAME, b"")]
    # Too short or too long to hold a payload: BAD_FRAME too (BAD_LENGTH is a command's).
    assert raw.wire(cobs_wire(b"\x15\x04\x00")) == [(0x15, Status.BAD_FRAME, b"")]
    assert raw.wire(cobs_wire(b"\x15" * (spec.MAX_PAYLOAD + 3))) == \
        [(0x15, Status.BAD_FRAME, b"")]
    assert raw.wire(good, errors=[2]) == [(21, Status.BAD_FRAME, b"")]   # UART framing error
    assert raw.wire(b"\x00\x01\x00") == []                               # empty frames
    assert raw.wire(good) == [(21, OK, b"")]
    assert raw.wire(bytes(bad)) == [(21, Status.BAD_CRC, b"")]   # not the remembered reply


def cobs_wire(decoded):
    return protocol.cobs_encode(decoded) + b"\x00"


# --- faults on the wire ----------------------------------------------------------------------

def flip(frame, rng):
    """Return *frame* with one byte (not the delimiter) changed to another non-zero value."""
    frame = bytearray(frame)
    k = rng.randrange(len(frame) - 1)
    frame[k] = rng.choice([v for v in range(1, 256) if v != frame[k]])
    return bytes(frame)


def test_corrupted_requests_are_resent():
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    damaged = {3, 8, 20, 21, 30}        # during the load and inside pipelined RUN frames

    def fault(index, frame):
        return flip(frame, rng) if index in damaged else frame

    net = random_network(40, 50, seed)
    inputs = random_inputs(600, 40, seed)
    _, _, core = emulated(40, 50, host_to_device=fault)
    with core, spikecore.connect("model://") as model:
        core.load(net)
        model.load(net)
        run_and_compare(core, model, inputs, (600,))
        assert core.link.stats.resent >= len(damaged)
        assert core.link.stats.damaged >= len(damaged)
        assert core.counters()["steps"] == 600


def test_random_damage_to_requests_never_changes_results():
    # Any byte may become any value, 0x00 included (a frame splits; a lost delimiter merges
    # two frames): the results stay bit-exact.
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = random.Random(seed)

    def fault(index, frame):
        if index == 0 or rng.random() > 0.15:
            return frame
        frame = bytearray(frame)
        frame[rng.randrange(len(frame))] = rng.randrange(256)
        return bytes(frame)

    net = random_network(16, 24, seed)
    inputs = random_inputs(400, 16, seed)
    _, _, core = emulated(16, 24, host_to_device=fault, timeout=0.15, retries=8)
    with core, spikecore.connect("model://") as model:
        core.load(net)
        model.load(net)
        run_and_compare(core, model, inputs, (150, 250))
        print(core.link.stats)


def test_dropped_last_reply_is_asked_for_again():
    drop = set()
    emu, transport, core = emulated(8, 16, device_to_host=lambda i, f: b"" if i in drop else f)
    net = random_network(8, 16, 3)
    inputs = random_inputs(50, 8, 3)
    with core, spikecore.connect("model://") as model:
        core.load(net)
        model.load(net)
        drop.add(transport.received)        # the reply to the next request: one RUN frame
        t = time.monotonic()
        assert np.array_equal(core.run(inputs), model.run(inputs))
        assert 0.3 <= time.monotonic() - t < 2     # one timeout, then the remembered reply
        assert core.link.stats.resent == 1
        assert emu.model.steps == 50            # executed once
        assert core.counters()["steps"] == 50


def test_corrupted_last_reply_is_asked_for_again():
    damage = set()
    rng = random.Random(5)
    emu, transport, core = emulated(
        8, 16, device_to_host=lambda i, f: flip(f, rng) if i in damage else f)
    net = random_network(8, 16, 4)
    with core, spikecore.connect("model://") as model:
        core.load(net)
        model.load(net)
        damage.add(transport.received)
        inputs = random_inputs(30, 8, 4)
        assert np.array_equal(core.run(inputs), model.run(inputs))
        assert emu.model.steps == 30 and core.link.stats.resent == 1


def test_reply_lost_after_later_requests_executed():
    drop = set()
    emu, transport, core = emulated(8, 16, device_to_host=lambda i, f: b"" if i in drop else f)
    core.load(random_network(8, 16, 5))
    inputs = random_inputs(2000, 8, 5)      # several RUN frames, pipelined
    drop.add(transport.received)            # the first RUN frame's reply
    with pytest.raises(LinkError, match="reply to seq .* was lost after the device had "
                       "executed later requests"):
        core.run(inputs)
    # The next command resynchronises (IDENTIFY) and works; every RUN frame had executed.
    assert core.counters()["steps"] == emu.model.steps == 2000


def test_device_that_never_answers():
    emu = DeviceEmulator(8, 16)
    transport = EmulatorTransport(emu, device_to_host=lambda i, f: b"")
    t = time.monotonic()
    with pytest.raises(LinkError, match=r"no reply from emulator:// within 0.2 s \(3 IDENTIFY"):
        open_device(transport, timeout=0.2, retries=2)
    assert time.monotonic() - t < 1.5
    # A device that stops answering in the middle of a session.
    silent = []
    transport = EmulatorTransport(emu, device_to_host=lambda i, f: b"" if silent else f)
    core = open_device(transport, timeout=0.2, retries=1)
    silent.append(True)
    t = time.monotonic()
    with pytest.raises(LinkError,
                       match=r"no reply from emulator:// within 0.2 s \(2 RUN attempts"):
        core.run(np.zeros((10, 8), bool))
    assert time.monotonic() - t < 1.5


# --- frame-level replies: the request did not arrive -----------------------------------------

def recode(frame, change):
    """Return the wire frame of the decoded bytes (payload and CRC) ``change(decoded)``."""
    return protocol.cobs_encode(change(protocol.cobs_decode(frame[:-1]))) + b"\x00"


def crc_damage(frame):
    """The command byte changed: ``BAD_CRC`` with the request's seq."""
    return recode(frame, lambda d: d[:1] + bytes([d[1] ^ 0x80]) + d[2:])


def seq_damage(frame):
    """The seq byte changed: ``BAD_CRC`` with a seq that is no request's."""
    return recode(frame, lambda d: bytes([d[0] ^ 0x55]) + d[1:])


def cobs_damage(frame):
    """A COBS block announced at the end and never completed: ``BAD_FRAME``."""
    return frame[:-1] + b"\x05\x00"


def cut(frame):
    """The frame cut to its first 2 decoded bytes (seq, command): ``BAD_FRAME`` (version 2)."""
    return recode(frame, lambda d: d[:2])


def statuses(frames):
    """Return a device_to_host hook that appends each reply's (seq, status) to *frames*."""
    def hook(index, frame):
        frames.append(parse_reply(FrameDecoder().feed(frame)[0])[:2])
        return frame
    return hook


@pytest.mark.parametrize("damage, status", [(crc_damage, Status.BAD_CRC),
                                            (seq_damage, Status.BAD_CRC),
                                            (cobs_damage, Status.BAD_FRAME),
                                            (cut, Status.BAD_FRAME)],
                         ids=["crc", "seq", "cobs", "cut"])
def test_damaged_identify_is_sent_again(damage, status):
    # A frame-level reply to IDENTIFY, whatever its seq, means IDENTIFY did not arrive: it is
    # sent again at once (not a DeviceError, and no wait for the timeout).
    emu, replies = DeviceEmulator(8, 16), []
    transport = EmulatorTransport(emu, host_to_device=lambda i, f: damage(f) if i == 0 else f,
                                  device_to_host=statuses(replies))
    t = time.monotonic()
    with open_device(transport, timeout=1.0) as core:
        assert time.monotonic() - t < 0.5
        assert replies[0][1] is status and replies[1][1] is Status.OK
        assert core.link.stats.resent == 1 and core.link.stats.damaged == 1
        core.reset()


def test_damaged_identify_reply_is_asked_for_again():
    # A damaged reply to IDENTIFY: sent again at once (it always executes), no timeout.
    rng = random.Random(11)
    transport = EmulatorTransport(DeviceEmulator(8, 16),
                                  device_to_host=lambda i, f: flip(f, rng) if i == 0 else f)
    t = time.monotonic()
    with open_device(transport, timeout=1.0) as core:
        assert time.monotonic() - t < 0.5
        assert core.link.stats.resent == 1 and core.link.stats.damaged == 1
        core.reset()


def test_identify_damaged_every_time_is_a_link_error():
    emu = DeviceEmulator(8, 16)
    transport = EmulatorTransport(emu, host_to_device=lambda i, f: crc_damage(f))
    with pytest.raises(LinkError, match=r"seq \d+ \(IDENTIFY\) to emulator:// failed 3 times: "
                       r"frames are damaged on the link"):
        open_device(transport, timeout=0.3, retries=2)
    with open_device(EmulatorTransport(emu)) as core:
        core.reset()


@pytest.mark.parametrize("damage, status", [(crc_damage, Status.BAD_CRC),
                                            (seq_damage, Status.BAD_CRC),
                                            (cobs_damage, Status.BAD_FRAME),
                                            (cut, Status.BAD_FRAME)],
                         ids=["crc", "seq", "cobs", "cut"])
@pytest.mark.parametrize("steps, frame", [(50, 0), (1200, 0), (1200, 2)],
                         ids=["one-frame", "first-of-4", "third-of-4"])
def test_damaged_run_frame_is_sent_again(damage, status, steps, frame):
    # RUN frames pipelined; one arrives damaged (a frame-level reply, the later ones
    # OUT_OF_ORDER). It and the later ones are sent again; every step runs once.
    damaged, replies = set(), []
    emu, transport, core = emulated(
        8, 16, host_to_device=lambda i, f: damage(f) if i in damaged else f,
        device_to_host=statuses(replies))
    net = random_network(8, 16, 9)
    inputs = random_inputs(steps, 8, 9)
    with core, spikecore.connect("model://") as model:
        core.load(net)
        model.load(net)
        damaged.add(transport.sent + frame)
        first = len(replies)
        assert np.array_equal(core.run(inputs), model.run(inputs))
        assert replies[first + frame][1] is status
        assert core.link.stats.resent >= 1 and emu.model.steps == steps
        assert core.counters()["steps"] == steps        # in step: no OUT_OF_ORDER after
        assert_same(core, model)


def test_frame_level_error_after_a_device_error_keeps_the_link_in_step():
    # A rejected WRITE, then a damaged RESET and one more in flight: the two RESETs are sent
    # again (they were sent, so they run as they would have without damage); then the
    # DeviceError; the next call needs no resynchronisation.
    damaged = set()
    emu, transport, core = emulated(
        8, 16, host_to_device=lambda i, f: crc_damage(f) if i in damaged else f)
    emu.model.u[:], emu.model.steps = 5, 9
    bad = protocol.write_request(Space.WEIGHT, 0, [0, 200], 2)
    damaged.add(transport.sent + 1)
    with pytest.raises(DeviceError, match="BAD_VALUE at position 1 to WRITE"):
        core.link.transact([bad, protocol.reset_request(1), protocol.reset_request(2)])
    assert emu.model.steps == 0 and not emu.model.u.any()
    sent = transport.sent
    assert core.counters()["steps"] == 0
    assert transport.sent == sent + 1                   # no IDENTIFY in between


def test_duplicated_and_stray_replies_are_ignored():
    # Every reply arrives twice, and a well-formed reply to a seq nobody asked for comes
    # before each: results stay bit-exact, nothing is sent again.
    def hook(index, frame):
        seq = parse_reply(FrameDecoder().feed(frame)[0]).seq
        stray = encode_frame(protocol.reply_payload(seq ^ 0x80, Status.OK))
        return stray + frame + frame

    net = random_network(8, 16, 10)
    inputs = random_inputs(1200, 8, 10)
    emu, transport, core = emulated(8, 16, device_to_host=hook)
    with core, spikecore.connect("model://") as model:
        core.load(net)
        model.load(net)
        run_and_compare(core, model, inputs, (1200,))
        assert core.link.stats.resent == 0


def damage_request(frame, rng, counts):
    """Return *frame* with one random fault: a byte changed, the frame cut, or dropped."""
    kind = rng.choice(["byte", "byte", "cut", "drop"])
    counts[kind] += 1
    if kind == "drop":
        return b""
    if kind == "cut":           # the first bytes, then the delimiter
        return frame[:rng.randrange(1, len(frame) - 1)] + b"\x00"
    frame = bytearray(frame)    # any byte, any value: 0x00 splits, a lost delimiter merges
    k = rng.randrange(len(frame))
    frame[k] = rng.choice([v for v in range(256) if v != frame[k]])
    return bytes(frame)


def test_damage_fuzz_gives_exact_results_or_link_errors():
    # Sessions of open, then load, run and read back three networks in turn, pipelined (a
    # 64-byte max_payload: about 25 frames each), with random faults on the request frames
    # (IDENTIFY included) and 0 … 3 retries: each load, run and read back matches model:// bit
    # for bit, every step run once, or raises LinkError (never DeviceError), after which a
    # fresh open works. One emulator throughout: the device keeps its seq state between
    # sessions; the networks take turns so that a lost WRITE shows.
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    n_in, n_n, steps = 6, 12, 24
    cases = []
    for k in range(3):
        net = random_network(n_in, n_n, seed + k)
        inputs = random_inputs(steps, n_in, seed + k, p=0.3)
        with spikecore.connect("model://") as model:
            model.load(net)
            cases.append((net, inputs, model.run(inputs), model.read_weights()))
    emu = DeviceEmulator(n_in, n_n, max_payload=64)
    faults, outcomes = collections.Counter(), collections.Counter()

    def session(cases, fault=None, retries=3, outcome="exact"):
        # The timeout is what a dropped frame costs; it is long enough that a busy machine's
        # pause is not taken for a lost reply (0.05 s was not, once in a loaded run).
        with open_device(EmulatorTransport(emu, host_to_device=fault), timeout=0.15,
                         retries=retries) as core:
            for net, inputs, spikes, weights in cases:
                core.load(net)
                assert np.array_equal(core.run(inputs), spikes), "spikes differ"
                assert emu.model.steps == steps, "steps run more than once, or not at all"
                assert np.array_equal(core.read_weights(), weights), "weights differ"
                outcomes[outcome] += 1
            outcomes["resent"] += core.link.stats.resent

    t = time.monotonic()
    for n in range(60):
        p = rng.choice([0.04, 0.08, 0.12])

        def fault(index, frame):
            return damage_request(frame, rng, faults) if rng.random() < p else frame

        try:
            session(cases, fault=fault, retries=(0, 1, 3, 3)[n % 4])
        except LinkError:
            outcomes["LinkError"] += 1
            session(cases[n % 3:n % 3 + 1], outcome="fresh after LinkError")
    print(f"{dict(outcomes)}; faults {dict(faults)}; {time.monotonic() - t:.1f} s")
    assert outcomes["exact"] >= 90 and outcomes["LinkError"] >= 5 and sum(faults.values()) >= 200


# --- real transports: TCP and a serial port (pty) --------------------------------------------

class EmulatorServer:
    """Serve an emulator on a local TCP port (answering, or silent)."""

    def __init__(self, emulator, *, answer=True):
        self.emulator, self.answer = emulator, answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"
        self.conns = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            while True:
                conn, _ = self.listener.accept()
                self.conns.append(conn)
                threading.Thread(target=self._client, args=(conn,), daemon=True).start()
        except OSError:
            pass

    def _client(self, conn):
        try:
            while data := conn.recv(65536):
                if self.answer:
                    conn.sendall(self.emulator.feed(data))
        except OSError:
            pass

    def drop_clients(self):
        for conn in self.conns:
            conn.close()

    def close(self):
        self.listener.close()
        self.drop_clients()


def test_socket_transport_bit_exact_then_closed_connection():
    server = EmulatorServer(DeviceEmulator(8, 16))
    try:
        net = random_network(8, 16, 6)
        inputs = random_inputs(200, 8, 6)
        with open_device(server.url, timeout=1) as core, \
                spikecore.connect("model://") as model:
            core.load(net)
            model.load(net)
            run_and_compare(core, model, inputs, (200,))
            assert core.info()["url"] == server.url
            server.drop_clients()
            t = time.monotonic()
            with pytest.raises(LinkError, match="127.0.0.1"):
                core.run(inputs)
            assert time.monotonic() - t < 3
    finally:
        server.close()


def test_socket_that_never_answers_and_refused_connection():
    server = EmulatorServer(DeviceEmulator(8, 16), answer=False)
    try:
        t = time.monotonic()
        with pytest.raises(LinkError, match=f"no reply from {server.url} within 0.2 s"):
            open_device(server.url, timeout=0.2, retries=1)
        assert time.monotonic() - t < 1.5
    finally:
        server.close()
    unused = socket.socket()
    unused.bind(("127.0.0.1", 0))           # a port nobody listens on
    port = unused.getsockname()[1]
    with pytest.raises(LinkError, match="cannot connect"):
        open_device(f"socket://127.0.0.1:{port}", timeout=0.5)
    unused.close()


def test_serial_transport_on_a_pty():
    emu = DeviceEmulator(8, 16)
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            if select.select([master], [], [], 0.05)[0]:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return
                os.write(master, emu.feed(data))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        net = random_network(8, 16, 7)
        inputs = random_inputs(100, 8, 7)
        with open_device(os.ttyname(slave), timeout=1) as core, \
                spikecore.connect("model://") as model:
            core.load(net)
            model.load(net)
            run_and_compare(core, model, inputs, (100,))
    finally:
        stop.set()
        thread.join()
        os.close(slave)
        os.close(master)


# --- efficiency ------------------------------------------------------------------------------

def test_link_efficiency_of_a_full_weight_upload():
    # 256 inputs + 256 neurons: the 512 x 256 weight matrix, plus parameters and settings.
    net = random_network(256, 256, 8)
    emu, _, core = emulated(256, 256)
    with core:
        before = core.link.stats.as_dict()
        core.load(net)
        after = core.link.stats.as_dict()
        wire = after["wire_sent"] - before["wire_sent"]
        payload = after["payload_sent"] - before["payload_sent"]
        weights = net.weights.size
        seconds = wire * 10 / 3e6
        print(f"load: {wire} wire bytes, {payload} payload bytes ({payload / wire:.3f}), "
              f"{weights} weights ({weights / wire:.3f}), {seconds:.3f} s at 3 Mbaud")
        assert payload / wire >= 0.90 and weights / wire >= 0.90
        assert seconds <= 0.5
        assert np.array_equal(emu.model.W, net.weights)


# --- Protocol version 4: the INPUT space, spike counts, RUN_WITH (docs/protocol.md) ---------

def gen_addr(field, j):
    return (field.value << SB) | j


def test_input_space_writes_reads_and_checks():
    raw = Raw()
    m = raw.emu.model
    assert m.gen.tolist() == [1, 2, 3, 4, 5] and not m.rate.any(), "power-up"
    assert raw.write(Space.INPUT, gen_addr(InputField.RATE, 3), [65535, 7], 3) == (OK, b"")
    assert m.rate.tolist() == [0, 0, 0, 65535, 7]
    # The block wraps from the last input's rate to input 0's state.
    assert raw.write(Space.INPUT, gen_addr(InputField.RATE, 4), [9, 0xFFFFFFFF], 4) == (OK, b"")
    assert m.rate[4] == 9 and m.gen[0] == 0xFFFFFFFF
    assert raw.read(Space.INPUT, gen_addr(InputField.GEN, 0), 2, 4) == \
        (OK, b"\xff\xff\xff\xff\x02\x00\x00\x00")
    # The state's low 32 bits must not be 0; a rate is at most 65535; nothing applies.
    assert raw.write(Space.INPUT, gen_addr(InputField.GEN, 1), [5, 0], 4) == (BAD_VALUE, 1)
    assert raw.write(Space.INPUT, gen_addr(InputField.RATE, 0), [1, 65536], 3) == (BAD_VALUE, 1)
    assert m.gen[1] == 2 and m.rate[0] == 0
    assert raw.write(Space.INPUT, gen_addr(InputField.GEN, 4), [5, 5], 4) == (BAD_ADDRESS, 1)
    assert raw.read(Space.INPUT, gen_addr(InputField.RATE, N_IN), 1, 3) == (BAD_ADDRESS, 0)


def test_counts_are_read_and_cleared():
    raw = Raw()
    raw.emu.model.count[:] = np.arange(N_N) * 1000
    status, data = raw.read(Space.STATE, (StateField.COUNT.value << SB) | 10, 2, 2)
    assert (status, protocol.decode_values(data, 2, signed=False).tolist()) == \
        (OK, [10000, 11000])
    assert raw.next(header(Command.RESET, ResetFlags.STATE.value)) == (OK, b"")
    assert raw.emu.model.count[11] == 11000, "RESET STATE keeps the counts"
    assert raw.next(header(Command.RESET, ResetFlags.SPIKE_COUNTS.value)) == (OK, b"")
    assert not raw.emu.model.count.any()


@pytest.mark.parametrize("missing", [spec.Feature.GENERATORS, spec.Feature.COUNTS])
def test_a_device_without_generators_or_counts_has_no_address_there(missing):
    raw = Raw(spec.Feature.all() & ~missing)
    if missing is spec.Feature.GENERATORS:
        assert raw.write(Space.INPUT, 0, [1], 3) == (BAD_ADDRESS, 0)
        assert raw.read(Space.INPUT, gen_addr(InputField.GEN, 0), 1, 4) == (BAD_ADDRESS, 0)
    else:
        assert raw.read(Space.STATE, StateField.COUNT.value << SB, 1, 2) == (BAD_ADDRESS, 0)
        assert raw.next(header(Command.RESET, ResetFlags.SPIKE_COUNTS.value)) == (BAD_VALUE, 0)


def run_with(steps, flags, probes=(), records=b""):
    return protocol.run_with_request(steps, flags, probes, records)


def test_run_with_probes_and_no_spike_records():
    raw = Raw()
    m = raw.emu.model
    m.bias[:] = 100
    m.vth[:] = spec.STATE_MAX
    m.dv[:] = 0
    v_addr = (StateField.V.value << SB) | 2
    # 3 steps, no inputs, no spike records, one probe: 3 bytes a step. v grows by 100.
    status, data = raw.next(run_with(3, 0, [(Space.STATE, v_addr)]))
    assert (status, data) == (OK, bytes([100, 0, 0, 200, 0, 0, 44, 1, 0]))
    # Spike records first, then the probes (theta in NEURON, u in STATE).
    status, data = raw.next(run_with(1, RunFlags.SPIKES, [
        (Space.NEURON, (NeuronField.THETA.value << NB) | 0), (Space.STATE, v_addr)]))
    assert (status, data) == (OK, bytes([0, 0, 0, 0, 144, 1, 0]))
    assert raw.next(run_with(2, 0)) == (OK, b""), "nothing per step"
    assert m.v[2] == 600 and m.steps == 6


def test_run_with_inputs_delivers_them():
    raw = Raw()
    m = raw.emu.model
    m._W[3, :] = 5
    m.du[:] = 4096
    u_addr = (StateField.U.value << SB) | 0
    status, data = raw.next(run_with(2, RunFlags.INPUTS, [(Space.STATE, u_addr)],
                                     bytes([1, 3, 0])))
    assert (status, data) == (OK, bytes([5, 0, 0, 0, 0, 0]))


def test_run_with_checks_in_order():
    raw = Raw()
    most = spec.max_run_with_steps(N_N, spec.MAX_PAYLOAD, True, 0)
    probe = (Space.STATE, 0)
    for payload, status in [
            (header(Command.RUN_WITH, 1, 0, 0), (BAD_LENGTH, b"")),          # short header
            (run_with(1, 0, [probe] * 9), (BAD_LENGTH, b"")),                 # 9 probes
            (run_with(1, 0) + b"\x00", (BAD_LENGTH, b"")),                    # bytes left
            (run_with(2, RunFlags.INPUTS, [], b"\x00"), (BAD_LENGTH, b"")),   # a record short
            (run_with(most + 1, RunFlags.SPIKES), (BAD_LENGTH, b"")),         # reply too long
            (run_with(1, 0, [probe, (Space.WEIGHT, 0)]), (BAD_ADDRESS, 1)),   # not a probe space
            (run_with(1, 0, [(Space.STATE, 7 << SB)]), (BAD_ADDRESS, 0)),     # no such field
            (run_with(0, 0, [(Space.WEIGHT, 0)]), (BAD_ADDRESS, 0)),          # address first
            (run_with(0, 0), (BAD_VALUE, 0)),
            (run_with(1, 0x04), (BAD_VALUE, 0)),                              # unknown flag
            (run_with(2, RunFlags.INPUTS, [], b"\x00\x01\x09"), (BAD_VALUE, 1)),
    ]:
        assert raw.next(payload) == status, payload.hex()
    assert raw.emu.model.steps == 0, "nothing ran"
    assert raw.next(run_with(spec.MAX_STEPS, 0)) == (OK, b"")
    assert raw.emu.model.steps == spec.MAX_STEPS


def test_a_version_3_device_knows_no_run_with_and_no_inputs():
    with pytest.raises(ValueError, match=r"a version 3 device has none of \['GENERATORS', "
                                         r"'COUNTS', 'RUN_WITH'\]"):
        DeviceEmulator(2, 2, version=3)
    emu = DeviceEmulator(N_IN, N_N, features=spec.Feature(0x0F), version=3)
    raw = Raw.__new__(Raw)
    raw.emu, raw.seq = emu, 0
    identity = protocol.parse_identify(raw.ask(protocol.identify_request(seq=0)).data)
    assert identity.version == 3
    assert raw.next(run_with(1, 0)) == (Status.UNKNOWN_COMMAND, b"")
    assert raw.write(Space.INPUT, 0, [1], 3) == (BAD_ADDRESS, 0)
    assert raw.next(header(Command.RESET, ResetFlags.SPIKE_COUNTS.value)) == (BAD_VALUE, 0)
