"""cocotb tests of the link's blocks: the UART pair, and the whole top level (UART, COBS,
CRC, the protocol engine and the core) against the Python device emulator, byte for byte."""

import json
import random

import pytest
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hdl import run_cocotb
from spikecore.hw.top import Top
from spikecore.hw.uart import RxByte, UartRx, UartTx

pytestmark = pytest.mark.cocotb


class UartPair(wiring.Component):
    """A receiver and a transmitter side by side (not looped), for the UART testbench."""
    rx: In(1, init=1)
    rx_data: Out(stream.Signature(RxByte))     # ready ignored: the receiver cannot wait
    tx_data: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, divisor):
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        from amaranth.hdl import Module
        m = Module()
        m.submodules.urx = urx = UartRx(self.divisor)
        m.submodules.utx = utx = UartTx(self.divisor)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        m.d.comb += [self.rx_data.valid.eq(urx.data.valid),
                     self.rx_data.payload.eq(urx.data.payload)]
        wiring.connect(m, wiring.flipped(self.tx_data), utx.data)
        return m


@pytest.mark.parametrize("divisor", [4, 7])
def test_uart(divisor):
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    run_cocotb(UartPair(divisor), "cocotb.tb_uart", name=f"uart_d{divisor}",
               extra_env={"TB_PARAMS": json.dumps({"divisor": divisor, "seed": seed})})


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_uart_arguments():
    with pytest.raises(ValueError, match="divisor must be at least 4"):
        UartRx(3)
    with pytest.raises(TypeError, match="divisor must be an integer"):
        UartTx(4.0)


#: (n_inputs, n_neurons, lanes, more Top options): 1-byte indices with a padded bitmap; a
#: bitmap of whole bytes; 2-byte spike indices and 33-byte bitmaps (loaded and read back a
#: weight row a frame); the iCEBreaker's options (single-port weights, the 2-stage neuron unit,
#: short payloads: rows a frame, runs split) at a small geometry.
TOP_GEOMETRIES = [
    # Padded bitmaps at 1-byte indices: the differential fuzz (tests/test_fuzz.py, 5 + 12)
    # covers them in make test; make test-all runs this session too.
    pytest.param(5, 8, 2, {}, marks=pytest.mark.slow, id="5-8-2-{}"),
    # Several lanes and whole-byte bitmaps: the virtual board (the same Top, 8 + 16, through
    # the driver) and the differential fuzz cover them in make test; make test-all runs this.
    pytest.param(8, 16, 4, {}, marks=pytest.mark.slow, id="8-16-4-{}"),
    # 2-byte indices make this session the longest by far (10-15 min of a core since the
    # v2 session cases): make test-all runs it.
    pytest.param(3, 264, 8, {}, marks=pytest.mark.slow, id="3-264-8-{}"),
    (5, 16, 1, {"weight_ports": 1, "neuron_latency": 2, "register_commands": False,
                "max_payload": 128, "rx_window": 1024}),
]


def run_top(n_inputs, n_neurons, lanes, options, seed, testcase):
    """Run the tb_top *testcase* on a Top of that geometry and those options."""
    params = {"n_inputs": n_inputs, "n_neurons": n_neurons, "lanes": lanes, "divisor": 4,
              "clk_hz": 1_000_000, "rx_window": 4096, "seed": seed, **options}
    top = Top(n_inputs, n_neurons, lanes, divisor=params["divisor"], clk_hz=params["clk_hz"],
              **{key: params[key] for key in ("rx_window", *options)})
    name = f"top_{n_inputs}x{n_neurons}_l{lanes}" + "".join(
        f"_{key}{value}" for key, value in options.items())
    run_cocotb(top, "cocotb.tb_top", name=name, extra_env={"TB_PARAMS": json.dumps(params)},
               testcase=testcase)


@pytest.mark.parametrize("n_inputs,n_neurons,lanes,options", TOP_GEOMETRIES)
def test_top_against_emulator(n_inputs, n_neurons, lanes, options):
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    run_top(n_inputs, n_neurons, lanes, options, seed, "session_matches_emulator")


#: Geometries whose bitmaps have a byte beyond the bytes of the fewest spikes sent as one.
RESET_GEOMETRIES = [TOP_GEOMETRIES[1], TOP_GEOMETRIES[3]]


@pytest.mark.parametrize("n_inputs,n_neurons,lanes,options", RESET_GEOMETRIES)
def test_top_reset_mid_run(n_inputs, n_neurons, lanes, options):
    """A reset while the link collects a step's spikes leaves no stale bitmap byte behind."""
    run_top(n_inputs, n_neurons, lanes, options, 0, "reset_mid_run")
