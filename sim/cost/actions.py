"""Action counts: what the hardware did, per op, in countable units (Accelergy's actions).

Every pricer (:mod:`sim.cost.pricers`) turns these counts into energy; nothing here knows
any energy value.  Actions (per op, totals over the op's ``count`` instances):

====================  ========  ==========================================================
action                unit      meaning
====================  ========  ==========================================================
macs                  MAC       multiply-accumulates at ``arch.precision``
register_bits         bit       PE pipeline-register writes: per MAC two operands hop one
                                PE and the accumulator updates (2*operand + acc bits)
sram_<buf>_read       word      array reads (ifmap, filter) / drain reads (ofmap -> DRAM)
sram_<buf>_write      word      fills from DRAM (ifmap, filter) / array writes (ofmap)
dram_<buf>_<dir>      byte      DRAM traffic of each interface
vector_lane_ops       lane-op   vector-unit work: elements x cost (cycles/element/lane)
array_s               s         time the array spends on the op (GEMMs)
vector_s              s         time the vector unit spends on the op
time_s                s         the op's share of the run's latency (sums to latency_s;
                                leakage and static power are charged on it)
====================  ========  ==========================================================
"""

from __future__ import annotations

import numpy as np

from sim.config.schema import ACC_BITS, PRECISION_BYTES, ArchConfig

__all__ = ["ACTIONS", "actions", "register_bits_per_mac"]

#: action -> (unit, component it is priced into for the per-action tables).
ACTIONS = {
    "macs": ("MAC", "mac"),
    "register_bits": ("bit", "register"),
    "sram_ifmap_read": ("word", "sram_ifmap"),
    "sram_ifmap_write": ("word", "sram_ifmap"),
    "sram_filter_read": ("word", "sram_filter"),
    "sram_filter_write": ("word", "sram_filter"),
    "sram_ofmap_read": ("word", "sram_ofmap"),
    "sram_ofmap_write": ("word", "sram_ofmap"),
    "dram_ifmap_read": ("byte", "dram"),
    "dram_filter_read": ("byte", "dram"),
    "dram_ofmap_write": ("byte", "dram"),
    "vector_lane_ops": ("lane-op", "vector"),
    "array_s": ("s", "time"),
    "vector_s": ("s", "time"),
    "time_s": ("s", "time"),
}


def register_bits_per_mac(precision: str) -> int:
    """Register bits written per MAC: two operand hops plus the accumulator update."""
    return 2 * 8 * PRECISION_BYTES[precision] + ACC_BITS[precision]


def actions(arch: ArchConfig, vector_cost, elements, cols, latency_s: float) -> dict:
    """Per-op action counts (float64 arrays, one entry per op).

    Parameters
    ----------
    arch : ArchConfig
    vector_cost : array of float
        Vector-unit cycles per element per lane of each op (0 for GEMMs).
    elements : array of int
        Vector-op elements per op.
    cols : mapping of str -> array
        The engine's op columns (``macs``, ``sram_*``, ``dram_*_bytes``,
        ``vector_cycles``, ``total_cycles``).
    latency_s : float
        Latency of the whole run (with vector overlap applied), seconds.
    """
    f = lambda key: np.asarray(cols[key], dtype=np.float64)  # noqa: E731
    word = float(arch.memory.word_bytes)
    hz = arch.clock_hz
    macs = f("macs")
    total, vec = f("total_cycles"), f("vector_cycles")
    cost = np.asarray(vector_cost, dtype=np.float64)
    cycles_sum = total.sum()
    share = total / cycles_sum if cycles_sum > 0 else np.zeros_like(total)
    return {
        "macs": macs,
        "register_bits": macs * register_bits_per_mac(arch.precision),
        "sram_ifmap_read": f("sram_ifmap_reads"),
        "sram_ifmap_write": f("dram_ifmap_read_bytes") / word,
        "sram_filter_read": f("sram_filter_reads"),
        "sram_filter_write": f("dram_filter_read_bytes") / word,
        "sram_ofmap_read": f("dram_ofmap_write_bytes") / word,
        "sram_ofmap_write": f("sram_ofmap_writes"),
        "dram_ifmap_read": f("dram_ifmap_read_bytes"),
        "dram_filter_read": f("dram_filter_read_bytes"),
        "dram_ofmap_write": f("dram_ofmap_write_bytes"),
        "vector_lane_ops": np.asarray(elements, dtype=np.float64) * cost,
        "array_s": (total - vec) / hz,
        "vector_s": vec / hz,
        "time_s": latency_s * share,
    }
