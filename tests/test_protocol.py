"""The pure protocol functions (spikecore.protocol): CRC, COBS, frames, requests, records."""

import random

import numpy as np
import pytest

from spikecore import protocol, spec
from spikecore.emulator import DeviceEmulator
from spikecore.protocol import (FrameDecoder, FrameError, RecordError, cobs_decode, cobs_encode,
                                decode_records, encode_frame, encode_records)
from spikecore.spec import Command, Setting, Space, Status


def test_crc_check_value():
    # The catalogued check value of CRC-16/CCITT-FALSE.
    assert protocol.crc16(b"123456789") == 0x29B1


# Wikipedia's COBS examples (encoded without the trailing 0x00).
COBS_VECTORS = [
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x00\x11\x00", b"\x01\x02\x11\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
    (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
    (bytes(range(0, 255)), b"\x01\xff" + bytes(range(1, 255))),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
    (bytes(range(2, 256)) + b"\x00", b"\xff" + bytes(range(2, 256)) + b"\x01\x01"),
    (bytes(range(3, 256)) + b"\x00\x01", b"\xfe" + bytes(range(3, 256)) + b"\x02\x01"),
]


@pytest.mark.parametrize("data, encoded", COBS_VECTORS, ids=range(len(COBS_VECTORS)))
def test_cobs_vectors(data, encoded):
    assert cobs_encode(data) == encoded
    assert cobs_decode(encoded) == data


def test_cobs_random_round_trip():
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    for _ in range(300):
        n = rng.choice([0, 1, 2, 253, 254, 255, 508, 509, 1000])
        zeros = rng.choice([0.0, 0.01, 0.5])
        data = bytes(0 if rng.random() < zeros else rng.randrange(1, 256) for _ in range(n))
        encoded = cobs_encode(data)
        assert b"\x00" not in encoded
        assert len(encoded) <= len(data) + max(1, -(-len(data) // 254))
        assert cobs_decode(encoded) == data


def test_cobs_decode_errors():
    with pytest.raises(protocol.CobsError, match="cut short"):
        cobs_decode(b"\x05\x11\x22")
    with pytest.raises(protocol.CobsError, match="0x00"):
        cobs_decode(b"\x03\x11\x00")


def test_frame_round_trip_in_any_chunks():
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    payloads = [bytes(rng.randrange(256) for _ in range(rng.choice([2, 3, 50, 600, 1024])))
                for _ in range(40)]
    wire = b"".join(encode_frame(p) for p in payloads)
    decoder, got, at = FrameDecoder(), [], 0
    while at < len(wire):
        size = rng.choice([1, 2, 7, 300, 5000])
        got += decoder.feed(wire[at:at + size])
        at += size
    assert got == payloads


def test_frame_example_of_the_docs():
    # docs/protocol.md: IDENTIFY, seq 7.
    crc = protocol.crc16(b"\x07\x01")
    assert encode_frame(b"\x07\x01") == cobs_encode(b"\x07\x01" + crc.to_bytes(2, "big")) + b"\0"


def test_decoder_frame_errors_and_resync():
    good = encode_frame(b"\x07\x01")
    bad_crc = bytearray(good)
    bad_crc[2] ^= 0x40
    long_payload = bytes([9]) + b"\x55" * spec.MAX_PAYLOAD     # MAX_PAYLOAD + 1 bytes
    stream = (b"\x00" + b"\x01\x00"                             # empty frames: ignored
              + b"\x05\x11\x22\x00"                             # block cut short
              + b"\x05\x00"                                     # cut short, nothing decoded
              + bytes(bad_crc)
              + cobs_encode(b"\x07\x01") + b"\x00"              # 2 decoded bytes
              + encode_frame(long_payload)
              + encode_frame(long_payload[:spec.MAX_PAYLOAD])   # the longest good payload
              + b"garbage without a delimiter" + good           # merges with the next frame
              + good)
    assert FrameDecoder().feed(stream) == [
        FrameError(Status.BAD_FRAME, 0x11, 2),
        FrameError(Status.BAD_FRAME, 0, 0),
        FrameError(Status.BAD_CRC, 7, 4),
        FrameError(Status.BAD_FRAME, 7, 2),
        FrameError(Status.BAD_FRAME, 9, spec.MAX_PAYLOAD + 3),
        long_payload[:spec.MAX_PAYLOAD],
        # "g" (103) is read as a code byte: its block of 102 is cut short after 31 bytes.
        FrameError(Status.BAD_FRAME, ord("a"), 31),
        b"\x07\x01",
    ]


def test_decoder_length_is_checked_before_crc():
    # Three decoded bytes can never hold a payload: BAD_FRAME, whatever their CRC.
    assert FrameDecoder().feed(cobs_encode(b"\x05\x00\x00") + b"\x00") == [
        FrameError(Status.BAD_FRAME, 5, 3)]


def test_framing_error_mark():
    decoder = FrameDecoder()
    decoder.feed(encode_frame(b"\x03\x01")[:2])
    decoder.mark_error()
    assert decoder.feed(encode_frame(b"\x03\x01")[2:]) == [FrameError(Status.BAD_FRAME, 3, 4)]


# --- requests and replies ---

def test_request_bytes_by_hand():
    assert protocol.identify_request(seq=7) == b"\x07\x01"
    assert protocol.write_request(Space.NEURON, 0x000102, [-1, 5], 3, seq=9) == bytes(
        [9, 2, 1, 0x02, 0x01, 0x00, 2, 0, 3, 0xFF, 0xFF, 0xFF, 5, 0, 0])
    assert protocol.read_request(Space.STATE, 0x20, 300, 1, seq=255) == bytes(
        [255, 3, 4, 0x20, 0, 0, 0x2C, 0x01, 1])
    assert protocol.reset_request(spec.ResetFlags.STATE | spec.ResetFlags.COUNTERS, seq=1) \
        == b"\x01\x04\x03"
    assert protocol.run_request(b"\x00\x01\x05", 2, seq=4) == b"\x04\x05\x02\x00\x00\x01\x05"


def test_request_arguments_are_checked():
    with pytest.raises(ValueError, match="width must be 1 … 4 bytes, not 5"):
        protocol.write_request(Space.WEIGHT, 0, [1], 5)
    with pytest.raises(ValueError, match="at least one value"):
        protocol.write_request(Space.WEIGHT, 0, [], 1)
    with pytest.raises(ValueError, match=r"addr must be an integer in \[0, 16777215\]"):
        protocol.read_request(Space.WEIGHT, 1 << 24, 1, 1)
    with pytest.raises(ValueError, match="count must be a positive integer, not 0"):
        protocol.read_request(Space.WEIGHT, 0, 0, 1)
    with pytest.raises(ValueError, match=r"seq must be an integer in \[0, 255\], not 256"):
        protocol.identify_request(seq=256)


def test_values_sign_extension():
    data = protocol.encode_values([-1, 127, -128, 8388607, -8388608, 4096], 3)
    assert data[:3] == b"\xff\xff\xff"
    assert protocol.decode_values(data, 3).tolist() == [-1, 127, -128, 8388607, -8388608, 4096]
    assert protocol.decode_values(b"\x80\xff", 1).tolist() == [-128, -1]
    assert protocol.decode_values(b"\x80\xff", 1, signed=False).tolist() == [128, 255]
    assert protocol.decode_values(b"\xff\xff\xff\xff", 4, signed=False).tolist() == [2**32 - 1]
    assert protocol.encode_values([-100], 2) == b"\x9c\xff"
    with pytest.raises(ValueError, match="whole number of 3-byte values"):
        protocol.decode_values(b"\x00" * 4, 3)


def test_reply_and_identity_round_trip():
    features = spec.Feature.THETA | spec.Feature.W_EXP_REC
    identity = protocol.Identity(1, 256, 300, 8, 12_000_000, 3_000_000, 4096, 1024, features)
    data = identity.to_bytes()
    assert len(data) == 20
    assert data[:6] == bytes([1, 0x00, 0x01, 0x2C, 0x01, 8])
    assert data[-2:] == b"\x05\x00"                                   # features: u16
    parsed = protocol.parse_identify(data)
    assert parsed == identity and isinstance(parsed.features, spec.Feature)
    # Bits no Feature names (reserved) are dropped.
    assert protocol.parse_identify(data[:-2] + b"\x81\x80").features == spec.Feature.THETA
    with pytest.raises(ValueError, match="IDENTIFY data has 20 bytes, not 18"):
        protocol.parse_identify(data[:-2])
    payload = protocol.reply_payload(9, Status.BAD_VALUE, b"\x05\x01")
    reply = protocol.parse_reply(payload)
    assert reply == protocol.Reply(9, Status.BAD_VALUE, b"\x05\x01")
    assert protocol.parse_position(reply.data) == 0x105
    assert protocol.parse_reply(b"\x01\x99").status == 0x99        # unknown status: an int


# --- step records ---

def records(rows, n):
    sets = np.zeros((len(rows), n), dtype=bool)
    for t, members in enumerate(rows):
        sets[t, list(members)] = True
    return sets


def test_records_by_hand():
    # n = 16: bitmap 2 bytes. 0 members: sparse (1 byte); 1: sparse (2 < 3); 2: a tie → bitmap.
    assert encode_records(records([[], [5], [9, 1]], 16)) == bytes(
        [0, 1, 5, 255, 0b0000_0010, 0b0000_0010])
    # n = 8: one member costs as much as the bitmap → bitmap.
    assert encode_records(records([[], [7]], 8)) == bytes([0, 255, 0x80])
    # n = 300: two-byte indices, little-endian, increasing.
    assert encode_records(records([[257, 3]], 300)) == bytes([2, 3, 0, 1, 1])


def test_record_size_limit_of_254_members():
    n = 4096                        # bitmap 512 bytes; 2-byte indices
    sets = records([range(254), range(255)], n)
    lengths, sparse = protocol.record_lengths(sets)
    assert lengths.tolist() == [1 + 508, 1 + 512] == [spec.record_bytes(254, n),
                                                      spec.record_bytes(255, n)]
    assert sparse.tolist() == [True, False]
    buf = encode_records(sets)
    assert buf[0] == 254 and buf[509] == spec.RECORD_BITMAP
    assert np.array_equal(decode_records(buf, 2, n), sets)


def test_records_random_round_trip_and_sizes():
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    for n in (1, 7, 8, 9, 16, 255, 256, 257, 300, 2100):
        sets = rng.random((200, n)) < rng.choice([0.0, 0.01, 0.1, 0.5, 1.0], (200, 1))
        buf = encode_records(sets)
        lengths, _ = protocol.record_lengths(sets)
        assert lengths.tolist() == [spec.record_bytes(int(k), n) for k in sets.sum(1)]
        assert len(buf) == lengths.sum()
        assert np.array_equal(decode_records(buf, 200, n), sets)


def test_decode_records_accepts_any_order_and_duplicates():
    assert decode_records(bytes([3, 5, 2, 5]), 1, 10)[0].nonzero()[0].tolist() == [2, 5]
    # n = 9: bit 8 (byte 1, bit 0) is a member, not padding.
    assert decode_records(bytes([0, 255, 0xFF, 0x01]), 2, 9)[1].all()


@pytest.mark.parametrize("buf, steps, n, kind, step", [
    (bytes([1, 10]), 1, 10, "value", 0),                    # index >= n
    (bytes([0, 1, 0x2C, 0x01]), 2, 300, "value", 1),         # 300 >= 300, two-byte index
    (bytes([255, 0, 0b0000_0100]), 1, 10, "value", 0),      # padding bit 10 set
    (bytes([2, 1]), 1, 10, "length", 0),                    # runs past the end
    (bytes([0, 0]), 1, 10, "length", 1),                    # a byte left over
    (bytes([0]), 2, 10, "length", 1),                       # record 1 missing
    (bytes([1, 99, 0]), 1, 10, "length", 1),                # structure wins over values
])
def test_decode_records_errors(buf, steps, n, kind, step):
    with pytest.raises(RecordError) as info:
        decode_records(buf, steps, n)
    assert (info.value.kind, info.value.step) == (kind, step)


# --- RUN frames ---

def test_max_run_steps():
    assert protocol.max_run_steps(256) == (spec.MAX_PAYLOAD - 2) // 33 == 30
    assert protocol.max_run_steps(16) == (spec.MAX_PAYLOAD - 2) // 3
    assert protocol.max_run_steps(1) == (spec.MAX_PAYLOAD - 2) // 2


@pytest.mark.parametrize("n_inputs, n_neurons, p", [(16, 16, 0.3), (2000, 16, 0.5),
                                                    (300, 256, 0.02), (8, 1, 0.0)])
def test_split_run(n_inputs, n_neurons, p):
    inputs = np.random.default_rng(1).random((1500, n_inputs)) < p
    rows = []
    at = 0
    for start, stop, payload in protocol.split_run(inputs, n_neurons):
        assert start == at and stop > start
        assert len(payload) <= spec.MAX_PAYLOAD
        assert payload[1] == Command.RUN.value
        steps = int.from_bytes(payload[2:4], "little")
        assert steps == stop - start <= protocol.max_run_steps(n_neurons)
        rows.append(decode_records(payload[4:], steps, n_inputs))
        at = stop
    assert at == len(inputs)
    assert np.array_equal(np.concatenate(rows), inputs)


def test_split_run_payload_limit_binds():
    # 2000 inputs, all set: a 251-byte bitmap per step; 4 steps fill 1008 of 1024 bytes.
    frames = list(protocol.split_run(np.ones((9, 2000), bool), 16))
    assert [(a, b) for a, b, _ in frames] == [(0, 4), (4, 8), (8, 9)]


def test_split_run_record_too_large():
    with pytest.raises(ValueError, match="does not fit in a RUN payload"):
        list(protocol.split_run(np.ones((1, 9000), bool), 16))


# --- The device emulator: what a device accepts and answers ----------------------------------

class Device:
    """A power-up DeviceEmulator spoken to in single frames, seq counting up from 0."""

    def __init__(self, n_inputs=4, n_neurons=8, **options):
        self.emu = DeviceEmulator(n_inputs, n_neurons, **options)
        self.seq = 0

    def ask(self, payload):
        """Send one request; return its reply (seq checked)."""
        payload = bytes([self.seq]) + payload[1:]
        self.seq = (self.seq + 1) & 0xFF
        replies = FrameDecoder().feed(self.emu.feed(encode_frame(payload)))
        assert len(replies) == 1 and not isinstance(replies[0], FrameError)
        reply = protocol.parse_reply(replies[0])
        assert reply.seq == payload[0]
        return reply

    def write_settings(self, first, values, width=1):
        """WRITE *values* from setting *first*; return (status, position or None)."""
        reply = self.ask(protocol.write_request(Space.SETTING, first.value, values, width))
        return reply.status, protocol.parse_position(reply.data)

    @property
    def bounds(self):
        lr = self.emu.model.learning
        return lr.w_min, lr.w_max

    def wire(self, data):
        """Send raw wire bytes; return the replies as (seq, status, data)."""
        return [tuple(protocol.parse_reply(p)) for p in FrameDecoder().feed(self.emu.feed(data))]


def test_emulator_refuses_a_single_write_that_crosses_the_bounds():
    # Power-up: w_min = w_max = 0. Each WRITE is judged by the settings it would leave.
    dev = Device()
    assert dev.write_settings(Setting.W_MIN, [1]) == (Status.BAD_VALUE, 0)     # (1, 0)
    assert dev.write_settings(Setting.W_MAX, [-1]) == (Status.BAD_VALUE, 0)    # (0, -1)
    assert dev.bounds == (0, 0)
    assert dev.write_settings(Setting.W_MIN, [-10]) == (Status.OK, None)       # (-10, 0)
    assert dev.write_settings(Setting.W_MAX, [-10]) == (Status.OK, None)       # equal: fine
    assert dev.write_settings(Setting.W_MAX, [-11]) == (Status.BAD_VALUE, 0)
    assert dev.write_settings(Setting.W_MIN, [-9]) == (Status.BAD_VALUE, 0)
    assert dev.bounds == (-10, -10)


def test_emulator_judges_a_block_by_the_settings_it_leaves():
    dev = Device()
    assert dev.write_settings(Setting.W_MIN, [50, 60]) == (Status.OK, None)    # (0,0) -> up
    assert dev.bounds == (50, 60)
    # (50, 60) -> (-60, -50): W_MIN first, so one at a time W_MAX = -50 would cross; the block
    # leaves (-60, -50) and is fine.
    assert dev.write_settings(Setting.W_MIN, [-60, -50]) == (Status.OK, None)
    assert dev.bounds == (-60, -50)
    # Crossing blocks: BAD_VALUE at the position of the block's first bound, nothing applied.
    assert dev.write_settings(Setting.W_MIN, [10, 5]) == (Status.BAD_VALUE, 0)
    assert dev.write_settings(Setting.Y_DECAY, [7, 10, 5], 2) == (Status.BAD_VALUE, 1)
    # A block that ends at W_MIN is judged with the current w_max (-50).
    assert dev.write_settings(Setting.A_PLUS, [1, 2, 3, 4, 5, 6, -49]) == (Status.BAD_VALUE, 6)
    # A block that starts at W_MAX is judged with the current w_min (-60).
    assert dev.write_settings(Setting.W_MAX, [-61]) == (Status.BAD_VALUE, 0)
    assert dev.bounds == (-60, -50)
    assert dev.emu.model.learning.a_plus == 0 and dev.emu.model.learning.y_decay == 0
    # The whole settings block, as the driver writes it on load.
    every = [3, 1, 16, 16, 64, 64, 224, 224, -128, 127, 3, 0, 0, 24, 0]
    assert dev.write_settings(Setting.W_EXP, every, spec.SETTING_BYTES) == (Status.OK, None)
    assert dev.bounds == (-128, 127) and dev.emu.model.w_exp == 3


def test_emulator_checks_each_position_before_the_bounds():
    # The address and the range of every position come first; the bounds rule last. Without
    # W_EXP_REC, the address after W_MAX is none.
    dev = Device(features=spec.Feature.all() & ~spec.Feature.W_EXP_REC)
    assert dev.write_settings(Setting.W_MIN, [10, 999], 2) == (Status.BAD_VALUE, 1)
    assert dev.write_settings(Setting.W_MAX, [-1, 0]) == (Status.BAD_ADDRESS, 1)
    assert dev.write_settings(Setting.W_MIN, [5, 4, 0]) == (Status.BAD_ADDRESS, 2)
    assert dev.write_settings(Setting.W_MIN, [5, 4]) == (Status.BAD_VALUE, 0)
    assert dev.bounds == (0, 0)


def test_emulator_answers_frame_level_length_errors_bad_frame():
    # 1 … 3 decoded bytes, or more than max_payload + 2: the frame did not arrive intact.
    # BAD_LENGTH is a command's status only; neither touches the sequence state.
    dev = Device(max_payload=64)
    assert dev.ask(protocol.identify_request(seq=0)).status is Status.OK      # expect 1
    assert dev.wire(cobs_encode(b"\x05") + b"\x00") == [(5, Status.BAD_FRAME, b"")]
    assert dev.wire(cobs_encode(b"\x05\x01\x02") + b"\x00") == [(5, Status.BAD_FRAME, b"")]
    too_long = bytes([1, Command.RUN.value]) + bytes(63)                      # 65 bytes
    assert dev.wire(encode_frame(too_long)) == [(1, Status.BAD_FRAME, b"")]
    longest = protocol.read_request(Space.WEIGHT, 0, 1, 1, seq=1) + bytes(64 - 9)
    # Seq 1 is still the one expected: it executes, and its status is a command's.
    assert dev.wire(encode_frame(longest)) == [(1, Status.BAD_LENGTH, b"")]
    assert dev.wire(encode_frame(protocol.reset_request(0, seq=3))) == [
        (3, Status.OUT_OF_ORDER, b"")]
    assert dev.wire(encode_frame(protocol.reset_request(0, seq=2))) == [(2, Status.OK, b"")]


def test_emulator_reports_protocol_version_4_and_its_features():
    dev = Device()
    identity = protocol.parse_identify(dev.ask(protocol.identify_request()).data)
    assert identity.version == spec.PROTOCOL_VERSION == 4
    assert identity.features == spec.Feature.all()
    dev = Device(features=spec.Feature.X_TAR)
    assert protocol.parse_identify(dev.ask(protocol.identify_request()).data).features == \
        spec.Feature.X_TAR
    with pytest.raises(TypeError, match="features must be a spikecore.spec.Feature, not 15"):
        DeviceEmulator(4, 4, features=15)


def test_emulator_settings_are_3_bytes_wide():
    # th_imp goes to 65535: written with width 3 (2 bytes would sign-extend it to -1).
    dev = Device()
    reply = dev.ask(protocol.write_request(Space.SETTING, Setting.TH_IMP.value, [65535], 3))
    assert reply.status is Status.OK and dev.emu.model.learning.th_imp == 65535
    reply = dev.ask(protocol.read_request(Space.SETTING, Setting.TH_IMP.value, 1,
                                          spec.SETTING_BYTES))
    assert reply.data == b"\xff\xff\x00"
