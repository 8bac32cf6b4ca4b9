"""Board-specific memory mapping: put the large memories of an iCE40UP5K design into SPRAM.

Yosys (``synth_ice40 -spram``) maps an ``amaranth.lib.memory.Memory`` to the UP5K's four
256-kbit single-port RAMs (SB_SPRAM256KA, 16384 x 16 bits each) only when

1. the memory has no initial contents (SPRAM cannot be initialized, and Amaranth always
   gives a memory an initial value, zeros by default),
2. it carries ``ram_style = "huge"`` (otherwise Yosys prefers the 4-kbit block RAMs, of which
   the UP5K has only 30), and
3. it has one address: its read port and its write port are driven by the same address signal,
   and the read port is disabled (``en = 0``) in the cycles that write. A read port with its
   own address (simple dual port) or one enabled while writing cannot be mapped.

Four SPRAMs hold 16384 words of up to 64 bits (or 8192 of up to 128 bits, which needs eight);
write enables may be per byte (granularity 8) or per nibble.

The core's memories are written for every FPGA, so :func:`map_large_memories_to_spram` does
1. and 2. on the design's RTLIL text for the iCE40 build only: every memory of at least
*min_bits* bits whose initial contents are all zeros loses its initializer and gets
``ram_style = "huge"``. (The host loads every weight before running, so the power-up contents
do not matter; the virtual board starts from zeros.) Condition 3 is the core's to meet.
"""

import re

__all__ = ["map_large_memories_to_spram", "sprams_needed", "SPRAM_MIN_BITS", "SPRAM_DEPTH",
           "SPRAM_WIDTH"]

#: Memories at least this large (bits) go to SPRAM: more than half the UP5K's block RAM.
SPRAM_MIN_BITS = 64 * 1024

#: One SB_SPRAM256KA: 16384 words of 16 bits.
SPRAM_DEPTH, SPRAM_WIDTH = 16384, 16

_MEMORY = re.compile(r"^(\s*)memory width (\d+) size (\d+) (\S+)\s*$")
_MODULE = re.compile(r"^module (\S+)")


def _zero_init(block):
    """Return True if a ``$meminit_v2`` cell block initializes to zeros only."""
    for line in block:
        text = line.strip()
        if text.startswith("connect \\DATA "):
            value = text.split(None, 2)[2]
            bits = value.split("'", 1)[1] if "'" in value else value
            return set(bits) <= {"0"}
    return False


def map_large_memories_to_spram(rtlil, min_bits=SPRAM_MIN_BITS):
    """Return ``(rtlil, mapped)``: *rtlil* with its large zero-initialized memories for SPRAM.

    Parameters
    ----------
    rtlil : str
        The design as Amaranth's RTLIL text.
    min_bits : int
        Memories of fewer bits are left alone.

    Returns
    -------
    str
        The edited RTLIL text.
    list of dict
        One ``{"module", "memory", "width", "depth"}`` per memory marked for SPRAM.
    """
    lines = rtlil.split("\n")
    # Pass 1: find the large memories, per module.
    module = None
    large = {}
    for line in lines:
        if (match := _MODULE.match(line)):
            module = match.group(1)
        elif (match := _MEMORY.match(line)):
            width, depth, name = int(match.group(2)), int(match.group(3)), match.group(4)
            if width * depth >= min_bits:
                large[(module, name)] = (width, depth)
    if not large:
        return rtlil, []

    # Pass 2: drop their all-zero initializers and mark them.
    out, mapped, skipped = [], [], set()
    module = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if (match := _MODULE.match(line)):
            module = match.group(1)
        stripped = line.strip()
        if stripped.startswith("cell $meminit_v2 "):
            end = i
            while lines[end].strip() != "end":
                end += 1
            block = lines[i:end + 1]
            memid = next((b.strip().split(None, 2)[2] for b in block
                          if b.strip().startswith("parameter \\MEMID ")), "")
            # MEMID is an RTLIL string such as "\\mem"; the memory's name is \mem.
            name = memid.strip('"').replace("\\\\", "\\")
            if (module, name) in large:
                if _zero_init(block):
                    while out and out[-1].strip().startswith("attribute "):
                        out.pop()  # the cell's own attributes
                    i = end + 1
                    continue
                skipped.add((module, name))
        out.append(line)
        i += 1

    result = []
    for line in out:
        if line.startswith("module "):
            module = line.split()[1]
        match = _MEMORY.match(line)
        if match and (module, match.group(4)) in large and (module, match.group(4)) not in skipped:
            result.append(f'{match.group(1)}attribute \\ram_style "huge"')
            width, depth = large[(module, match.group(4))]
            mapped.append({"module": module.lstrip("\\"), "memory": match.group(4).lstrip("\\"),
                           "width": width, "depth": depth})
        result.append(line)
    return "\n".join(result), mapped


def sprams_needed(mapped):
    """Return how many SB_SPRAM256KA (16384 x 16 bits) the memories *mapped* (as returned by
    :func:`map_large_memories_to_spram`) take, as Yosys packs them: a memory narrower than 16
    bits keeps 16 // w words in each SPRAM word (w its width rounded up to a power of two; a
    32768 x 8 memory takes one SPRAM), a wider one is tiled by whole SPRAMs, and memories do
    not share one (each has its own address)."""
    total = 0
    for mem in mapped:
        width, depth = mem["width"], mem["depth"]
        if width >= SPRAM_WIDTH:
            total += -(-width // SPRAM_WIDTH) * -(-depth // SPRAM_DEPTH)
        else:
            per_word = SPRAM_WIDTH // (1 << (width - 1).bit_length())
            total += -(-depth // (SPRAM_DEPTH * per_word))
    return total
