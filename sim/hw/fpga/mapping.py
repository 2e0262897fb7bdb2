"""Map an architecture onto FPGA resources: PEs -> DSP48E2, buffers -> BRAM36, logic -> LUT/FF.

Rules (every number lives in :data:`PE_COST`, :data:`VECTOR_LANE_COST`,
:data:`CONTROL_COST` or :data:`BRAM36_SHAPES`; docs/energy.md explains them):

* **PEs.** A DSP48E2 (27x18 multiplier) computes two int8 MACs that share an operand
  (Xilinx WP486/WP487), so ``int8 -> 2 MACs per DSP``; ``int16 -> 1``.  Floating point
  [assumption, Floating-Point Operator class figures]: ``fp16`` = 1 DSP + 150 LUT + 150 FF
  per MAC, ``fp32`` = 3 DSPs + 400 LUT + 600 FF per MAC.  Every PE also holds its
  datapath registers (two operands + accumulator) in flip-flops and ~10 LUTs of muxing.
* **Buffers.** Each SRAM is double-buffered; each half is ``W`` bits wide (the array edge
  it feeds: ifmap -> rows, filter -> cols, ofmap -> cols, times ``8*word_bytes``) and
  ``D = ceil(half_bits / W)`` deep, mapped to ``ceil(W/w) * ceil(D/d)`` BRAM36 for the
  cheapest legal aspect ratio ``(w, d)`` of :data:`BRAM36_SHAPES`; x2 for both halves.
* **Vector unit.** Per lane 1 DSP, 300 LUT, 400 FF (fixed-point polynomial exp/GELU,
  HeatViT-style) [assumption].  **Control** (DMA, AXI, sequencer): 20k LUT, 30k FF.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.config.schema import ACC_BITS, PRECISION_BYTES, ArchConfig
from sim.hw.fpga.device import RESOURCES, FpgaDevice, get_device

__all__ = ["PE_COST", "VECTOR_LANE_COST", "CONTROL_COST", "BRAM36_SHAPES",
           "FpgaMapping", "BufferMap", "map_arch", "bram36_for"]

#: Per-MAC resources by precision: (DSP per MAC, LUT per PE, extra FF per PE beyond the
#: datapath registers).  int8: 2 MACs/DSP (WP486); int16: 1; fp16/fp32: [assumption].
PE_COST = {
    "int8": (0.5, 10, 0),
    "int16": (1.0, 8, 0),
    "fp16": (1.0, 150, 150),
    "fp32": (3.0, 400, 600),
}
#: Per vector-unit lane: DSP, LUT, FF [assumption].
VECTOR_LANE_COST = {"dsp": 1, "lut": 300, "ff": 400}
#: DMA engines, AXI interconnect and the sequencer [assumption].
CONTROL_COST = {"dsp": 0, "lut": 20_000, "ff": 30_000}
#: Legal BRAM36 simple-dual-port aspect ratios (width bits incl. parity, depth)
#: [unverified against UG573].
BRAM36_SHAPES = ((1, 32768), (2, 16384), (4, 8192), (9, 4096), (18, 2048), (36, 1024),
                 (72, 512))


@dataclass(frozen=True)
class BufferMap:
    """One double-buffered SRAM on BRAM36.

    Attributes
    ----------
    width_bits, depth : int
        Shape of one half (row = one array-edge access).
    bram_width_bits, bram_depth : int
        Chosen BRAM36 aspect ratio.
    brams_per_row : int
        BRAM36 enabled by one row access (``ceil(W/w)``).
    words_per_row : int
        Operand words delivered by one row access.
    bram36 : int
        BRAM36 used by both halves.
    """

    width_bits: int
    depth: int
    bram_width_bits: int
    bram_depth: int
    brams_per_row: int
    words_per_row: int
    bram36: int

    @property
    def bram_accesses_per_word(self) -> float:
        """BRAM36 port accesses per operand word read or written."""
        return self.brams_per_row / self.words_per_row


def bram36_for(width_bits: int, depth: int) -> tuple[int, int, int]:
    """Cheapest ``(count, w, d)`` BRAM36 mapping of a ``width_bits x depth`` memory."""
    best = None
    for w, d in BRAM36_SHAPES:
        count = -(-width_bits // w) * -(-depth // d)
        if best is None or count < best[0]:
            best = (count, w, d)
    return best


def _buffer(kib: float, lanes: int, word_bits: int) -> BufferMap:
    width = lanes * word_bits
    half_bits = kib * 1024 * 8 / 2
    depth = max(1, -(-int(round(half_bits)) // width))
    count, w, d = bram36_for(width, depth)
    return BufferMap(width, depth, w, d, -(-width // w), lanes, 2 * count)


@dataclass(frozen=True)
class FpgaMapping:
    """Resources a design uses on its device, per unit.

    Attributes
    ----------
    device : FpgaDevice
    used : dict[str, dict[str, float]]
        ``used[resource][unit]`` for resource in dsp, bram36, lut, ff and unit in pe,
        ifmap, filter, ofmap, vector, control.
    buffers : dict[str, BufferMap]
        ``ifmap``, ``filter``, ``ofmap``.
    """

    device: FpgaDevice
    used: dict
    buffers: dict

    def total(self, resource: str) -> int:
        """Whole-design use of ``resource`` (rounded up)."""
        return int(-(-sum(self.used[resource].values()) // 1))

    def utilization(self) -> dict:
        """``{resource: (used, available)}`` in :data:`RESOURCES` order."""
        return {r: (self.total(r), self.device.available(r)) for r in RESOURCES}

    def over_budget(self) -> list[str]:
        """Resources used beyond what the device has."""
        return [r for r, (u, a) in self.utilization().items() if u > a]


def map_arch(arch: ArchConfig) -> FpgaMapping:
    """Resources of ``arch`` on its platform's device (the platform must be an FPGA)."""
    device = get_device(arch.platform)
    pes = arch.array.rows * arch.array.cols
    dsp_per_mac, lut_pe, ff_extra = PE_COST[arch.precision]
    op_bits = 8 * PRECISION_BYTES[arch.precision]
    ff_pe = 2 * op_bits + ACC_BITS[arch.precision] + ff_extra
    word_bits = 8 * arch.memory.word_bytes
    m, lanes = arch.memory, arch.vector.lanes
    buffers = {
        "ifmap": _buffer(m.ifmap_kib, arch.array.rows, word_bits),
        "filter": _buffer(m.filter_kib, arch.array.cols, word_bits),
        "ofmap": _buffer(m.ofmap_kib, arch.array.cols, word_bits),
    }
    used = {
        "dsp": {"pe": pes * dsp_per_mac, "vector": lanes * VECTOR_LANE_COST["dsp"],
                "control": CONTROL_COST["dsp"]},
        "bram36": {name: b.bram36 for name, b in buffers.items()},
        "lut": {"pe": pes * lut_pe, "vector": lanes * VECTOR_LANE_COST["lut"],
                "control": CONTROL_COST["lut"]},
        "ff": {"pe": pes * ff_pe, "vector": lanes * VECTOR_LANE_COST["ff"],
               "control": CONTROL_COST["ff"]},
    }
    return FpgaMapping(device, used, buffers)

