"""The weight store: the int8 matrix W in `lanes` skewed banks, a row or a column slice a clock.

Synapse (j, i) lives in bank ``(i + j) mod L`` at address ``j * G + i // L`` (``L`` lanes,
``G = n_neurons / L`` neuron groups). Then the L synapses ``(j, g·L … g·L+L−1)`` of a row slice
and the L synapses ``(h·L … h·L+L−1, i)`` of a column slice each fall into L different banks,
so both the accumulation and row updates (rows of delivered sources) and the column updates
(columns of spiking neurons) touch L synapses per clock. A rotation by ``(i + j) mod L`` maps
banks to lanes.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .. import spec
from .pipeline import delay_line, register

__all__ = ["WeightStore", "rotate", "times_constant"]


def times_constant(value, k):
    """Return *value* × the integer *k* >= 1 as a sum of shifted copies (one per set bit of k).

    Yosys maps a product by a wide-enough constant to a DSP multiplier; the bank addresses
    need none (a few adders each), and the smaller ECP5s run out of multipliers first.
    """
    terms = [value << bit for bit in range(k.bit_length()) if k >> bit & 1]
    return sum(terms[1:], terms[0])


def rotate(m, values, amount):
    """Return signals ``out[l] = values[(l + amount) mod len(values)]`` (a barrel rotator).

    *values* is a list of values of one shape and a power-of-two length; *amount* a value.
    """
    count = len(values)
    for k in range(ceil_log2(count)):
        step = 1 << k
        stage = []
        for lane in range(count):
            out = Signal(values[0].shape(), name=f"rot{k}_{lane}")
            m.d.comb += out.eq(Mux(amount[k], values[(lane + step) % count], values[lane]))
            stage.append(out)
        values = stage
    return values


class Access(data.Struct):
    """Which slice an access touches: row mode (``col == 0``): synapses ``(j, i + l)``;
    column mode: synapses ``(j + l, i)``, for lanes ``l``. The low log2(lanes) bits of *i*
    (row mode) or *j* (column mode) must be zero."""
    col: 1
    j: 16
    i: 16


class WeightStore(wiring.Component):
    """Hold the (n_rows × n_neurons) int8 weights; read and write L synapses a clock.

    Reads are synchronous: ``rd_data`` holds the slice addressed by ``rd`` ``read_latency``
    clocks earlier. A write of the slice ``wr`` with ``wr_data`` takes effect at the clock edge, lane
    by lane as ``wr_en`` says. A read and a write of different synapses may happen in the
    same clock.

    Parameters
    ----------
    n_rows : int
        Number of sources, a multiple of *lanes* (pad it).
    n_neurons : int
        Number of neurons, a multiple of *lanes*.
    lanes : int
        Banks (synapses a clock), a power of two.
    single_port : bool
        Give each bank one shared address (a single-port RAM, e.g. iCE40 SPRAM): a clock
        that writes a bank reads nothing useful from it.
    registered : bool
        Register each bank's read address and read data (dual-port banks only): reads take
        ``read_latency = 3`` clocks instead of 1, and neither the address arithmetic nor the
        block RAM's clock-to-output time shares a clock with the rotation and what follows.

    Members
    -------
    rd : In(Access)
    rd_data : Out(ArrayLayout(signed(8), lanes))
    wr : In(Access)
    wr_data : In(ArrayLayout(signed(8), lanes))
    wr_en : In(lanes)
    """
    def __init__(self, n_rows, n_neurons, lanes, single_port=False, registered=False):
        for name, value in (("n_rows", n_rows), ("n_neurons", n_neurons), ("lanes", lanes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if lanes & (lanes - 1):
            raise ValueError(f"lanes must be a power of two, not {lanes}")
        if n_rows % lanes or n_neurons % lanes:
            raise ValueError(f"n_rows ({n_rows}) and n_neurons ({n_neurons}) must be "
                             f"multiples of lanes ({lanes})")
        if max(n_rows, n_neurons) > (1 << 16):
            raise ValueError("at most 65536 rows and neurons")
        self.n_rows, self.n_neurons, self.lanes = n_rows, n_neurons, lanes
        if single_port and registered:
            raise ValueError("registered reads need dual-port banks (single_port=False)")
        self.single_port = bool(single_port)
        self.registered = bool(registered)
        self.read_latency = 3 if registered else 1
        self.groups = n_neurons // lanes
        lane_data = data.ArrayLayout(signed(spec.WEIGHT_BITS), lanes)
        super().__init__({
            "rd": In(Access), "rd_data": Out(lane_data),
            "wr": In(Access), "wr_data": In(lane_data), "wr_en": In(lanes),
        })

    def _bank_addresses(self, m, access, name):
        """Return (address of each bank, rotation) for *access*."""
        L, G = self.lanes, self.groups
        lb = ceil_log2(L)
        depth = self.n_rows * G
        rot = Signal(range(L), name=f"{name}_rot")
        m.d.comb += rot.eq(access.i + access.j)
        # The low lb bits of j are zero in column mode, so j + lane == j | lane; with a
        # power-of-two G the address is then bits side by side, no adder.
        group = access.i >> lb
        addrs = []
        for bank in range(L):
            addr = Signal(range(depth), name=f"{name}_addr{bank}")
            lane = Signal(range(L), name=f"{name}_lane{bank}")
            row = access.j | Mux(access.col, lane, 0)
            m.d.comb += [lane.eq(bank - rot),
                         addr.eq(Cat(group[:ceil_log2(G)], row) if G & (G - 1) == 0
                                 else times_constant(row, G) + group)]
            addrs.append(addr)
        return addrs, rot

    def elaborate(self, platform):
        m = Module()
        L = self.lanes
        depth = self.n_rows * self.groups
        rd_addrs, rd_rot = self._bank_addresses(m, self.rd, "rd")
        wr_addrs, wr_rot = self._bank_addresses(m, self.wr, "wr")
        if self.registered:
            rd_addrs = [register(m, addr, f"rd_addr{bank}_q") for bank, addr in enumerate(rd_addrs)]
        rot_q = delay_line(m, rd_rot, self.read_latency, "rd_rot")[-1]

        # Lane l's write goes to bank (l + rot): bank b takes lane (b - rot).
        wr_lanes = [self.wr_data[lane] for lane in range(L)]
        en_lanes = [self.wr_en[lane] for lane in range(L)]
        inverse = Signal(range(L))
        m.d.comb += inverse.eq(-wr_rot)
        wr_banks = rotate(m, wr_lanes, inverse)
        en_banks = rotate(m, en_lanes, inverse)

        rd_banks = []
        for bank in range(L):
            mem = Memory(shape=signed(spec.WEIGHT_BITS), depth=depth, init=[])
            m.submodules[f"bank{bank}"] = mem
            rd, wr = mem.read_port(), mem.write_port()
            if self.single_port:
                # One address, and no read in a clock that writes: the shape of a single-port
                # RAM, which Yosys maps to iCE40 SPRAM (with spikecore.boards.memmap's hook).
                shared = Signal(range(depth), name=f"addr{bank}")
                m.d.comb += [shared.eq(Mux(en_banks[bank], wr_addrs[bank], rd_addrs[bank])),
                             rd.addr.eq(shared), wr.addr.eq(shared), rd.en.eq(~en_banks[bank])]
            else:
                m.d.comb += [rd.addr.eq(rd_addrs[bank]), wr.addr.eq(wr_addrs[bank])]
            m.d.comb += [wr.data.eq(wr_banks[bank]), wr.en.eq(en_banks[bank])]
            rd_banks.append(register(m, rd.data, f"bank{bank}_q") if self.registered
                            else rd.data)
        for lane, value in enumerate(rotate(m, rd_banks, rot_q)):
            m.d.comb += self.rd_data[lane].eq(value)
        return m
