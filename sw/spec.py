"""Every width, range and address of the spikecore numeric contract, defined once.

docs/model.md states the model these numbers belong to. The gateware (``spikecore.hw``), the
golden model (``spikecore.model``), the host driver and the tests import them from here;
nothing else re-types them.
"""

from amaranth.lib import enum

__all__ = [
    "STATE_BITS", "STATE_MIN", "STATE_MAX", "DECAY_SHIFT", "DECAY_ONE",
    "TRACE_BITS", "TRACE_MAX", "TRACE_DECAY_SHIFT", "TRACE_DECAY_ONE", "LEARN_SHIFT",
    "SOFT_SHIFT",
    "WEIGHT_BITS", "WEIGHT_MIN", "WEIGHT_MAX", "REF_BITS", "REF_MAX", "W_EXP_MAX",
    "THETA_MAX", "TH_IMP_MAX", "TH_SHIFT_MAX",
    "RATE_BITS", "RATE_MAX", "GEN_BITS", "GEN_MAX", "XORSHIFT", "COUNT_BITS", "COUNT_MAX",
    "INPUT_RANGES", "InputField", "INPUT_FIELD_BYTES", "RunFlags", "MAX_PROBES", "PROBE_BYTES",
    "PROBE_SPACES", "max_run_with_steps", "MAX_STEPS",
    "NEURON_RANGES", "LEARNING_RANGES", "SETTING_RANGES",
    "Space", "NeuronField", "Setting", "StateField", "Counter", "Control", "Feature",
    "FEATURE_OF_SETTING", "FEATURE_OF_FIELD", "SETTING_POWER_UP", "settings_of", "fields_of", "json_default",
    "NEURON_FIELD_BYTES", "SETTING_BYTES", "STATE_FIELD_BYTES",
    "src_bits", "neuron_bits", "ADDR_BITS", "DATA_BITS",
    "PROTOCOL_VERSION", "MAX_PAYLOAD", "MIN_PAYLOAD", "RX_WINDOW", "RECORD_BITMAP", "CRC_INIT",
    "Command", "Status", "ResetFlags", "IDENTIFY_FIELDS", "identify_bytes", "index_bytes",
    "bitmap_bytes", "max_run_steps", "record_bytes",
]

# --- Neuron state and parameters -------------------------------------------------------------

#: u and v are signed 24-bit integers, saturated (never wrapped) to [STATE_MIN, STATE_MAX].
STATE_BITS = 24
STATE_MIN = -(1 << (STATE_BITS - 1))
STATE_MAX = (1 << (STATE_BITS - 1)) - 1

#: ``decay(a, d) = trunc0(a * (DECAY_ONE - d), DECAY_SHIFT)``; d in [0, DECAY_ONE].
DECAY_SHIFT = 12
DECAY_ONE = 1 << DECAY_SHIFT

#: Refractory counter and ``t_ref``: unsigned 4-bit.
REF_BITS = 4
REF_MAX = (1 << REF_BITS) - 1

#: Weights are signed 8-bit; the input of a neuron is ``sum(W) << w_exp``, w_exp in [0, 15].
WEIGHT_BITS = 8
WEIGHT_MIN = -(1 << (WEIGHT_BITS - 1))
WEIGHT_MAX = (1 << (WEIGHT_BITS - 1)) - 1
W_EXP_MAX = 15

# --- Traces and learning ---------------------------------------------------------------------

#: Pre- and post-synaptic traces are unsigned 8-bit, saturated at TRACE_MAX.
TRACE_BITS = 8
TRACE_MAX = (1 << TRACE_BITS) - 1
#: ``x <- (x * x_decay) >> TRACE_DECAY_SHIFT``; x_decay in [0, TRACE_DECAY_ONE] (ONE = no decay).
TRACE_DECAY_SHIFT = 8
TRACE_DECAY_ONE = 1 << TRACE_DECAY_SHIFT
#: Weight changes are ``(trace * rate) >> LEARN_SHIFT``; rates are unsigned 8-bit.
LEARN_SHIFT = 8
#: With soft bounds, potentiation is ``trunc0(trunc0(d * f, SOFT_SHIFT), LEARN_SHIFT)``.
SOFT_SHIFT = 7

#: The adaptive threshold theta is unsigned, saturated at THETA_MAX (vth + theta < 2**24).
THETA_MAX = STATE_MAX
#: Its increment per spike (th_imp) and its decay shift (``theta -= theta >> th_shift``).
TH_IMP_MAX = (1 << 16) - 1
TH_SHIFT_MAX = STATE_BITS

# --- On-device stimulus and readout -----------------------------------------------------------

#: An input's generator rate: it fires with probability rate / 2**16 per step.
RATE_BITS = 16
RATE_MAX = (1 << RATE_BITS) - 1
#: An input's generator state g: a nonzero uint32 (xorshift32 never leaves or reaches 0).
GEN_BITS = 32
GEN_MAX = (1 << GEN_BITS) - 1
#: xorshift32's shifts, in order: ``g ^= g << 13; g ^= g >> 17; g ^= g << 5`` (mod 2**32).
XORSHIFT = (13, 17, 5)
#: A neuron's spike count: unsigned 16-bit, saturated at COUNT_MAX.
COUNT_BITS = 16
COUNT_MAX = (1 << COUNT_BITS) - 1

#: Allowed [low, high] of each per-input field, both ends included.
INPUT_RANGES = {
    "rate":      (0, RATE_MAX),
    "gen_state": (1, GEN_MAX),
}

#: Allowed [low, high] of each per-neuron field, both ends included: the parameters, and the
#: adaptive threshold theta (learned state, set by ``load`` and kept by ``reset``).
NEURON_RANGES = {
    "vth":   (0, STATE_MAX),
    "bias":  (STATE_MIN, STATE_MAX),
    "du":    (0, DECAY_ONE),
    "dv":    (0, DECAY_ONE),
    "t_ref": (0, REF_MAX),
    "theta": (0, THETA_MAX),
}

#: Allowed [low, high] of each learning setting, both ends included (booleans aside).
LEARNING_RANGES = {
    "a_plus":  (0, TRACE_MAX),
    "a_minus": (0, TRACE_MAX),
    "x_imp":   (0, TRACE_MAX),
    "y_imp":   (0, TRACE_MAX),
    "x_decay": (0, TRACE_DECAY_ONE),
    "y_decay": (0, TRACE_DECAY_ONE),
    "w_min":   (WEIGHT_MIN, WEIGHT_MAX),
    "w_max":   (WEIGHT_MIN, WEIGHT_MAX),
    "x_tar":   (0, TRACE_MAX),
    "th_imp":  (0, TH_IMP_MAX),
    "th_shift": (1, TH_SHIFT_MAX),
}


# --- The core's control address map (shared by hw/core.py, the link and the host) ----------

#: Width of the control interface's address and data words.
ADDR_BITS = 24
DATA_BITS = 32


def src_bits(n_inputs, n_neurons):
    """Return the number of bits that index a source (input or neuron)."""
    return max(1, (n_inputs + n_neurons - 1).bit_length())


def neuron_bits(n_neurons):
    """Return the number of bits that index a neuron."""
    return max(1, (n_neurons - 1).bit_length())


class Space(enum.Enum, shape=4):
    """Address space of a control-interface access.

    Addresses within each space (``nb = neuron_bits(n_neurons)``):

    ========  =========================================  ========================================
    space     address                                    data
    ========  =========================================  ========================================
    WEIGHT    ``(source << nb) | neuron``                int8 weight, sign-extended (r/w)
    NEURON    ``(NeuronField << nb) | neuron``            parameter value, sign-extended (r/w)
    SETTING   ``Setting``                                setting value, sign-extended (r/w)
    MASK      source (plastic_src), or                   0 or 1 (r/w)
              ``(1 << src_bits) | neuron`` (plastic_dst)
    STATE     ``(StateField << src_bits) | index``       state value, sign-extended (read only)
    COUNTER   ``Counter``                                32-bit half of a 64-bit counter (read)
    CONTROL   ``Control``                                write: perform the action
    INPUT     ``(InputField << src_bits) | input``       rate, or generator state (low 32 bits)
    ========  =========================================  ========================================
    """
    WEIGHT  = 0
    NEURON  = 1
    SETTING = 2
    MASK    = 3
    STATE   = 4
    COUNTER = 5
    CONTROL = 6
    INPUT   = 7


class NeuronField(enum.Enum, shape=3):
    """Per-neuron field selected in the NEURON space (THETA: the adaptive threshold)."""
    VTH   = 0
    BIAS  = 1
    DU    = 2
    DV    = 3
    T_REF = 4
    THETA = 5


class Setting(enum.Enum, shape=4):
    """Global setting selected in the SETTING space."""
    W_EXP   = 0
    ENABLED = 1
    A_PLUS  = 2
    A_MINUS = 3
    X_IMP   = 4
    Y_IMP   = 5
    X_DECAY = 6
    Y_DECAY = 7
    W_MIN   = 8
    W_MAX   = 9
    W_EXP_REC  = 10
    X_TAR      = 11
    TH_IMP     = 12
    TH_SHIFT   = 13
    SOFT_BOUND = 14


#: Allowed [low, high] of each setting's value on the wire (booleans are 0 or 1).
SETTING_RANGES = {
    Setting.W_EXP: (0, W_EXP_MAX), Setting.ENABLED: (0, 1),
    Setting.W_EXP_REC: (0, W_EXP_MAX), Setting.SOFT_BOUND: (0, 1),
    **{s: LEARNING_RANGES[s.name.lower()] for s in Setting
       if s.name.lower() in LEARNING_RANGES},
}


class Feature(enum.Flag, shape=16):
    """The optional parts of model v2 a device has (IDENTIFY's ``features``).

    A device built without one has no address for its settings and fields (``BAD_ADDRESS``),
    and computes as if they held their defaults (docs/model.md): without W_EXP_REC, neuron
    sources are scaled by ``w_exp`` like inputs.
    """
    THETA      = 0x01   # the adaptive threshold: NeuronField.THETA, TH_IMP, TH_SHIFT
    X_TAR      = 0x02   # the target pre-trace
    W_EXP_REC  = 0x04   # a separate weight exponent for neuron sources
    SOFT_BOUND = 0x08   # soft bounds on potentiation
    GENERATORS = 0x10   # an input generator per input: the INPUT space (rate, state)
    COUNTS     = 0x20   # a spike counter per neuron: StateField.COUNT, ResetFlags.SPIKE_COUNTS
    RUN_WITH   = 0x40   # the RUN_WITH command: steps without inputs or spike records, probes

    @classmethod
    def all(cls):
        """Return every feature."""
        return (cls.THETA | cls.X_TAR | cls.W_EXP_REC | cls.SOFT_BOUND | cls.GENERATORS
                | cls.COUNTS | cls.RUN_WITH)

    def names(self):
        """Return the names of the features set, in bit order (a list; JSON-friendly)."""
        return [f.name for f in Feature if f & self]


def json_default(value):
    """``json.dumps``'s *default*: a ``Feature`` (in build options) as its names."""
    if isinstance(value, Feature):
        return value.names()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


#: The feature that each setting and each neuron field belongs to (the rest are always there).
FEATURE_OF_SETTING = {Setting.W_EXP_REC: Feature.W_EXP_REC, Setting.X_TAR: Feature.X_TAR,
                      Setting.TH_IMP: Feature.THETA, Setting.TH_SHIFT: Feature.THETA,
                      Setting.SOFT_BOUND: Feature.SOFT_BOUND}
FEATURE_OF_FIELD = {NeuronField.THETA: Feature.THETA}
#: What a setting holds at power-up where it is not 0 (th_shift's range starts at 1).
SETTING_POWER_UP = {Setting.TH_SHIFT: TH_SHIFT_MAX}


def settings_of(features):
    """Return the settings a device with *features* (a ``Feature``) has, in address order."""
    return [s for s in Setting
            if s not in FEATURE_OF_SETTING or FEATURE_OF_SETTING[s] & features]


def fields_of(features):
    """Return the neuron fields a device with *features* has, in address order."""
    return [f for f in NeuronField
            if f not in FEATURE_OF_FIELD or FEATURE_OF_FIELD[f] & features]


class StateField(enum.Enum, shape=3):
    """State variable selected in the STATE space (X indexes sources, the rest neurons)."""
    U      = 0
    V      = 1
    REF    = 2
    Y      = 3
    X      = 4
    SPIKED = 5  # s_prev: the neuron spiked in the last step
    COUNT  = 6  # spikes counted since the counts were cleared (Feature.COUNTS)


class InputField(enum.Enum, shape=1):
    """Per-input field selected in the INPUT space (Feature.GENERATORS)."""
    RATE = 0
    GEN  = 1    # the generator state g; values are its low 32 bits (never 0)


#: Bytes a value of each field takes on the wire (WRITE and READ ``width``): the fewest that
#: hold its range, sign-extended; (bytes, signed) for the state, read back and masked.
NEURON_FIELD_BYTES = {NeuronField.VTH: 3, NeuronField.BIAS: 3, NeuronField.DU: 2,
                      NeuronField.DV: 2, NeuronField.T_REF: 1, NeuronField.THETA: 3}
SETTING_BYTES = 3
STATE_FIELD_BYTES = {StateField.U: (3, True), StateField.V: (3, True),
                     StateField.REF: (1, False), StateField.Y: (1, False),
                     StateField.X: (1, False), StateField.SPIKED: (1, False),
                     StateField.COUNT: (2, False)}
#: The wire width of each INPUT field (rate: 3 bytes, as 65535 sign-extends to -1 from 2;
#: the generator state: its 4 bytes, read back and masked with 0xFFFFFFFF).
INPUT_FIELD_BYTES = {InputField.RATE: 3, InputField.GEN: 4}


class Counter(enum.Enum, shape=3):
    """Counter half selected in the COUNTER space."""
    STEPS_LO  = 0
    STEPS_HI  = 1
    CYCLES_LO = 2  # clock cycles spent computing steps
    CYCLES_HI = 3


class Control(enum.Enum, shape=2):
    """Action selected by a write in the CONTROL space."""
    RESET          = 0  # u, v, ref, x, y, s_prev to zero; weights and parameters kept
    CLEAR_COUNTERS = 1  # steps and cycles counters to zero
    CLEAR_COUNTS   = 2  # the spike counts to zero (Feature.COUNTS)


# --- The UART link protocol (docs/protocol.md; shared by hw/link.py and the host driver) -----

#: Version reported by IDENTIFY; bumped on any incompatible change of docs/protocol.md.
PROTOCOL_VERSION = 4
#: Largest frame payload (sequence byte and command/status byte included, CRC excluded); a
#: device reports its own limit (IDENTIFY's max_payload), a power of two from MIN_PAYLOAD up.
MAX_PAYLOAD = 1024
#: Smallest payload limit a device may have (IDENTIFY's reply and a WRITE's header fit).
MIN_PAYLOAD = 64
#: Default receive window (bytes the host may have on the wire in unanswered frames).
RX_WINDOW = 4096
#: Header byte of a step record that announces a bitmap; 0..254 announce that many indices.
RECORD_BITMAP = 255
#: Initial value of the CRC-16/CCITT-FALSE (polynomial 0x1021) that ends every frame;
#: ``binascii.crc_hqx(payload, CRC_INIT)``.
CRC_INIT = 0xFFFF


class Command(enum.Enum, shape=8):
    """Command byte of a host-to-device frame (docs/protocol.md)."""
    IDENTIFY = 0x01
    WRITE    = 0x02
    READ     = 0x03
    RESET    = 0x04
    RUN      = 0x05
    RUN_WITH = 0x06     # RUN choosing what comes in and what comes back (Feature.RUN_WITH)


class Status(enum.Enum, shape=8):
    """Status byte of a device-to-host frame: OK, or why nothing was applied."""
    OK              = 0x00
    BAD_CRC         = 0x01  # the frame's CRC did not match
    BAD_FRAME       = 0x02  # the frame did not arrive intact: COBS, UART framing, its length
    UNKNOWN_COMMAND = 0x03
    BAD_LENGTH      = 0x04  # the payload does not match the command (or the reply won't fit)
    BAD_ADDRESS     = 0x05  # an address outside the space, or a space that forbids the access
    BAD_VALUE       = 0x06  # a value outside its field's range, or an input index too large
    OUT_OF_ORDER    = 0x07  # seq is neither the expected next one nor a retransmission


class ResetFlags(enum.Flag, shape=8):
    """Argument of the RESET command."""
    STATE    = 0x01  # u, v, ref, x, y, s_prev to zero
    COUNTERS = 0x02  # steps and cycles counters to zero
    SPIKE_COUNTS = 0x04  # the spike counts to zero (Feature.COUNTS)


class RunFlags(enum.Flag, shape=8):
    """RUN_WITH's flags: what its frame carries in, and what its reply carries back."""
    INPUTS = 0x01   # one input record per step follows the probes (else no streamed inputs)
    SPIKES = 0x02   # the reply holds each step's spike record (before its probe values)


#: The most probes a RUN_WITH may name; each is ``space:u8 addr:u24`` in the request and its
#: value after every step PROBE_BYTES bytes (READ's width 3) in the reply.
MAX_PROBES = 8
PROBE_BYTES = 3
#: The spaces a probe may read: the state, and the neuron fields (theta).
PROBE_SPACES = (Space.STATE, Space.NEURON)
#: The most steps of one RUN_WITH (its ``steps:u16``).
MAX_STEPS = (1 << 16) - 1


#: The IDENTIFY reply's data: (field, bytes) in order, little-endian (docs/protocol.md).
IDENTIFY_FIELDS = (("version", 1), ("n_inputs", 2), ("n_neurons", 2), ("lanes", 1),
                   ("clk_hz", 4), ("baud", 4), ("rx_window", 2), ("max_payload", 2),
                   ("features", 2))


def identify_bytes(**values):
    """Return the data bytes of an IDENTIFY reply with these field *values*."""
    return b"".join(int(values[name]).to_bytes(size, "little")
                    for name, size in IDENTIFY_FIELDS)


def index_bytes(n_bits):
    """Return the bytes of one member index in a sparse record of a set of *n_bits*."""
    return 1 if n_bits <= 256 else 2


def bitmap_bytes(n_bits):
    """Return the bytes of a bitmap record's bitmap (its header byte not included)."""
    return (n_bits + 7) // 8


def max_run_steps(n_neurons, max_payload=MAX_PAYLOAD):
    """Return the most steps one RUN may carry: ``(max_payload − 2) // (1 + ceil(n / 8))``.

    That many spike records always fit the reply, whatever the spikes.
    """
    return (max_payload - 2) // (1 + bitmap_bytes(n_neurons))


def max_run_with_steps(n_neurons, max_payload=MAX_PAYLOAD, spikes=True, n_probes=0):
    """Return the most steps one RUN_WITH may carry.

    Each step's reply bytes are ``b = (1 + ceil(n / 8) if spikes else 0) + 3 · n_probes``:
    ``(max_payload − 2) // b`` steps always fit; with nothing per step (``b = 0``),
    MAX_STEPS.
    """
    per_step = (1 + bitmap_bytes(n_neurons) if spikes else 0) + PROBE_BYTES * n_probes
    return MAX_STEPS if per_step == 0 else min(MAX_STEPS, (max_payload - 2) // per_step)


def record_bytes(n_members, n_bits):
    """Return the bytes of one step record with *n_members* set out of a set of *n_bits*.

    The smaller encoding wins: sparse (header byte, then one index of 1 byte, or 2 bytes when
    *n_bits* > 256, per member; at most 254 members) unless the bitmap (header byte, then
    ``ceil(n_bits / 8)`` bytes) is not larger.
    """
    index, bitmap = index_bytes(n_bits), bitmap_bytes(n_bits)
    if n_members <= RECORD_BITMAP - 1 and n_members * index < bitmap:
        return 1 + n_members * index
    return 1 + bitmap
