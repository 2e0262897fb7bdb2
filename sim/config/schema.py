"""Architecture schema: one frozen dataclass per YAML section.

Each field's ``metadata`` declares its allowed range or choices and a one-line doc with
units; :func:`sim.config.validate.build` enforces them.  ``docs/config.md`` is the
human-readable version of this file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ArrayConfig", "MemoryConfig", "DramConfig", "VectorCost", "VectorConfig",
    "ArchConfig", "DATAFLOW_NAMES", "PRECISIONS", "PRECISION_BYTES", "SCHEMA_VERSION",
    "EnergyTableConfig", "PLATFORMS", "FPGA_PLATFORMS", "ENERGY_TABLES", "AUTO_ENERGY_TABLE",
    "DRAM_TECHNOLOGIES", "ACC_BITS",
]

SCHEMA_VERSION = 1
DATAFLOW_NAMES = ("os", "ws", "is")
PRECISIONS = ("int8", "int16", "fp16", "fp32")
PRECISION_BYTES = {"int8": 1, "int16": 2, "fp16": 2, "fp32": 4}
#: Accumulator width per precision, bits (int8 -> int32, int16 -> 48-bit DSP accumulator,
#: floating point accumulates in fp32).
ACC_BITS = {"int8": 32, "int16": 48, "fp16": 32, "fp32": 32}
_BIG = 1 << 20
#: FPGA boards whose device budget is enforced (devices in ``sim.hw.fpga.device``).
FPGA_PLATFORMS = ("zcu102",)
#: ``asic`` (no resource budget) or an FPGA board.
PLATFORMS = ("asic",) + FPGA_PLATFORMS
#: Shipped energy tables (``sim/cost/tables/<name>.yaml``), plus ``auto``.
ENERGY_TABLES = ("auto", "horowitz45", "zcu102", "pivot_sim")
#: The table ``auto`` picks on each platform.
AUTO_ENERGY_TABLE = {"asic": "horowitz45", "zcu102": "zcu102"}
#: DRAM technologies priced by the ASIC table (pJ/bit); ``auto`` = the table's default.
DRAM_TECHNOLOGIES = ("auto", "ddr4", "lpddr4", "lpddr", "ddr3", "gddr5", "hbm2", "hmc")


def _f(doc, *, range=None, choices=None, inf=False, **kw):
    meta = {"doc": doc}
    if inf:
        meta["inf"] = True
    if range is not None:
        meta["range"] = range
    if choices is not None:
        meta["choices"] = choices
    return field(metadata=meta, **kw)


@dataclass(frozen=True)
class ArrayConfig:
    """The systolic array: R x C processing elements and how GEMMs map onto them."""

    rows: int = _f("PE rows R", range=(1, 4096))
    cols: int = _f("PE columns C", range=(1, 4096))
    dataflow: str = _f("output, weight or input stationary", choices=DATAFLOW_NAMES)
    fold_overlap: bool = _f(
        "hide each fold's fill/drain behind the previous fold (pipelined array); "
        "false = SCALE-Sim-compatible", default=False)


@dataclass(frozen=True)
class MemoryConfig:
    """Three double-buffered on-chip SRAMs (sizes are the whole buffer, both halves)."""

    ifmap_kib: float = _f("ifmap SRAM size, KiB", range=(0.001, _BIG))
    filter_kib: float = _f("filter (weight) SRAM size, KiB", range=(0.001, _BIG))
    ofmap_kib: float = _f("ofmap (output) SRAM size, KiB", range=(0.001, _BIG))
    word_bytes: int = _f("bytes per operand word (SCALE-Sim: 1)", range=(1, 8), default=1)
    model: str = _f(
        "memory model: ideal (vitsim's fold-level walk) or scalesim (SCALE-Sim 3.0.0 USER "
        "mode, quirks included, docs/scalesim.md)", choices=("ideal", "scalesim"),
        default="ideal")


@dataclass(frozen=True)
class DramConfig:
    """Off-chip DRAM: either three per-interface bandwidths or one shared GB/s figure."""

    ifmap_bytes_per_cycle: float | None = _f(
        "DRAM->ifmap SRAM bandwidth, bytes per array cycle (.inf = unlimited)",
        range=(1e-6, None), inf=True, default=None)
    filter_bytes_per_cycle: float | None = _f(
        "DRAM->filter SRAM bandwidth, bytes per array cycle (.inf = unlimited)",
        range=(1e-6, None), inf=True, default=None)
    ofmap_bytes_per_cycle: float | None = _f(
        "ofmap SRAM->DRAM bandwidth, bytes per array cycle (.inf = unlimited)",
        range=(1e-6, None), inf=True, default=None)
    bandwidth_gbps: float | None = _f(
        "one DRAM channel shared by all three interfaces, GB/s, converted at clock_mhz "
        "(.inf = unlimited)", range=(1e-6, None), inf=True, default=None)
    latency_cycles: int = _f("DRAM access latency, array cycles", range=(0, _BIG), default=0)

    def problems(self, path="dram"):
        """Cross-field rule: exactly one bandwidth form is given."""
        per = [self.ifmap_bytes_per_cycle, self.filter_bytes_per_cycle, self.ofmap_bytes_per_cycle]
        n_per = sum(v is not None for v in per)
        if self.bandwidth_gbps is not None and n_per == 0:
            return []
        if self.bandwidth_gbps is None and n_per == 3:
            return []
        return [
            f"{path}: give exactly one bandwidth form, either all of ifmap_bytes_per_cycle, "
            f"filter_bytes_per_cycle, ofmap_bytes_per_cycle or bandwidth_gbps alone, "
            f"not {n_per} per-interface value(s) and bandwidth_gbps = {self.bandwidth_gbps!r}"
        ]

    def bytes_per_cycle(self, clock_mhz: float):
        """``(ifmap, filter, ofmap, shared)``: bytes per cycle; ``shared`` is True when the
        three interfaces share one channel of ``bandwidth_gbps``."""
        if self.bandwidth_gbps is not None:
            b = self.bandwidth_gbps * 1e3 / clock_mhz
            return b, b, b, True
        return (self.ifmap_bytes_per_cycle, self.filter_bytes_per_cycle,
                self.ofmap_bytes_per_cycle, False)


_VEC = (0.0, 1e6)


@dataclass(frozen=True)
class VectorCost:
    """Vector-unit cost of each non-GEMM op, cycles per element per lane."""

    softmax: float = _f("exp + sum + divide", range=_VEC, default=4.0)
    layernorm: float = _f("mean, variance, scale", range=_VEC, default=4.0)
    gelu: float = _f("activation", range=_VEC, default=2.0)
    add: float = _f("residual / positional add", range=_VEC, default=1.0)
    score: float = _f("token-importance score (reduce over heads)", range=_VEC, default=1.0)
    topk: float = _f("top-k / sort / argmax selection, per candidate", range=_VEC, default=2.0)
    gather: float = _f("token gather / copy", range=_VEC, default=1.0)
    merge: float = _f("token merge (weighted average)", range=_VEC, default=2.0)


@dataclass(frozen=True)
class VectorConfig:
    """Vector unit for non-GEMM ops: ``cycles = ceil(elements/lanes)*cost + latency``."""

    lanes: int = _f("elements processed per cycle", range=(1, _BIG), default=64)
    latency_cycles: int = _f("pipeline latency per op, cycles", range=(0, _BIG), default=8)
    overlap: bool = _f(
        "vector ops run concurrently with the array (a layer takes max, not sum)",
        default=False)
    cost: VectorCost = field(default_factory=VectorCost, metadata={"doc": "per-op costs"})


@dataclass(frozen=True)
class EnergyTableConfig:
    """Which energy table prices the run, and entry overrides (see docs/energy.md)."""

    name: str = _f("energy table: horowitz45 (ASIC, 45 nm), zcu102 (FPGA calibration "
                   "profile), pivot_sim (PIVOT-Sim constants) or auto", choices=ENERGY_TABLES,
                   default="auto")
    dram: str = _f("DRAM technology priced per bit (ASIC tables)", choices=DRAM_TECHNOLOGIES,
                   default="auto")
    overrides: dict[str, float] = field(
        default_factory=dict,
        metadata={"doc": "table entries to replace, e.g. {mac_int8_pj: 0.3}",
                  "range": (0.0, None)})


@dataclass(frozen=True)
class ArchConfig:
    """A whole accelerator design."""

    schema_version: int = _f("file format version", choices=(SCHEMA_VERSION,))
    name: str = _f("design name")
    clock_mhz: float = _f("array clock, MHz", range=(1.0, 10000.0))
    precision: str = _f("operand precision", choices=PRECISIONS)
    array: ArrayConfig = _f("systolic array")
    memory: MemoryConfig = _f("on-chip SRAMs")
    dram: DramConfig = _f("off-chip DRAM")
    vector: VectorConfig = field(default_factory=VectorConfig, metadata={"doc": "vector unit"})
    description: str = _f("free text", default="")
    platform: str = _f("asic, or an FPGA board whose resource budget is enforced (zcu102)",
                       choices=PLATFORMS, default="asic")
    energy_table: EnergyTableConfig = field(
        default_factory=EnergyTableConfig, metadata={"doc": "energy table and overrides"})

    @property
    def peak_macs_per_cycle(self) -> int:
        """R x C MACs per cycle."""
        return self.array.rows * self.array.cols

    @property
    def clock_hz(self) -> float:
        """Array clock, Hz."""
        return self.clock_mhz * 1e6
