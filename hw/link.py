"""The link: docs/protocol.md between the UART bytes and the core's control interface.

Received bytes are COBS-decoded into a frame buffer while their CRC is checked; a complete
frame is checked command by command, then executed against the core; its reply is built in
one of two reply buffers and sent (CRC appended, COBS-encoded) while the next frame executes.
The other reply buffer keeps the last executed command's reply for retransmissions.
"""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out, flipped

from .. import spec
from ..spec import Feature
from .checks import check_features
from .cobs import CobsDecoder, CobsEncoder
from .executor import Executor
from .frames import FrameReceiver, ReplySender, check_max_payload
from .interface import CoreSignature
from .uart import RxByte

__all__ = ["Link", "check_max_payload"]


class Link(wiring.Component):
    """Serve docs/protocol.md: decode frames, execute them on the core, send the replies.

    ``CobsDecoder`` → ``FrameReceiver`` (frame buffer, CRC) → ``Executor`` (the commands, on
    the core) → ``ReplySender`` (reply buffers, CRC) → ``CobsEncoder``.

    Parameters
    ----------
    n_inputs, n_neurons, lanes : int
        The core's geometry (reported by IDENTIFY and used to check addresses and records).
    clk_hz, baud, rx_window : int
        Reported by IDENTIFY.
    max_payload : int
        The longest payload a frame may have (reported by IDENTIFY): a power of two, at most
        ``spec.MAX_PAYLOAD``. The frame buffer holds one payload, the reply buffers two.
    features : spikecore.spec.Feature
        The core's: reported by IDENTIFY, and the addresses of the others are refused.

    Members
    -------
    rx : In(stream.Signature(RxByte))
        Received bytes (from the receive FIFO).
    tx : Out(stream.Signature(8))
        Bytes to send.
    core : In(CoreSignature(n_inputs, n_neurons))
        The core's control and step interfaces, driven from this side.
    frame_error : Out(1)
        Pulses when a frame is rejected at the frame level (bad COBS, CRC or length).
    """

    def __init__(self, n_inputs, n_neurons, lanes, clk_hz, baud, rx_window,
                 max_payload=spec.MAX_PAYLOAD, features=Feature.all()):
        check_max_payload(max_payload, n_neurons)
        self.n_inputs, self.n_neurons, self.lanes = n_inputs, n_neurons, lanes
        self.max_payload = max_payload
        self.features = check_features(features)
        self.identify = spec.identify_bytes(
            version=spec.PROTOCOL_VERSION, n_inputs=n_inputs, n_neurons=n_neurons, lanes=lanes,
            clk_hz=clk_hz, baud=baud, rx_window=rx_window, max_payload=max_payload,
            features=features.value)
        super().__init__({
            "rx": In(stream.Signature(RxByte)),
            "tx": Out(stream.Signature(8)),
            "core": In(CoreSignature(n_inputs, n_neurons)),
            "frame_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.decoder = decoder = CobsDecoder()
        m.submodules.receiver = receiver = FrameReceiver(self.max_payload)
        m.submodules.executor = executor = Executor(self.n_inputs, self.n_neurons,
                                                    self.max_payload, self.identify,
                                                    self.features)
        m.submodules.sender = sender = ReplySender(self.max_payload)
        m.submodules.encoder = encoder = CobsEncoder()
        wiring.connect(m, flipped(self.rx), decoder.i)
        wiring.connect(m, decoder.o, receiver.i)
        wiring.connect(m, receiver.frame, executor.frame)
        wiring.connect(m, executor.reply, sender.reply)
        wiring.connect(m, sender.o, encoder.i)
        wiring.connect(m, encoder.o, flipped(self.tx))
        wiring.connect(m, executor.core, flipped(self.core))
        m.d.comb += self.frame_error.eq(executor.frame_error)
        return m
