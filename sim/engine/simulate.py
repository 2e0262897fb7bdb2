"""The simulation step: lowered ops -> per-op cycles and access counts (no energy)."""

from __future__ import annotations

import numpy as np

from sim.config.schema import ArchConfig
from sim.engine.compute import gemm_compute, vector_cycles
from sim.errors import ConfigError
from sim.hw.memory import MEMORY_KEYS, MEMORY_RATE_KEYS, memory_for_gemms, no_memory
from sim.workload.lower import Ops

__all__ = ["MODES", "simulate_ops", "GEMM_KEYS"]

#: ``cycle``: closed-form compute + the double-buffered memory walk (stalls, DRAM traffic).
#: ``analytic``: closed-form compute only (stall-free, fastest; for large sweeps).
MODES = ("cycle", "analytic")

#: Per-instance GEMM columns that scale with ``count``.
GEMM_KEYS = ("folds", "compute_cycles", "macs", "sram_ifmap_reads", "sram_filter_reads",
             "sram_ofmap_writes") + MEMORY_KEYS


def simulate_ops(arch: ArchConfig, ops: Ops, mode: str = "cycle") -> dict:
    """Cycles and access counts of every op.

    Returns a dict of arrays, one entry per op (totals over the op's ``count``
    identical instances): every key of :data:`GEMM_KEYS` (0 for vector ops),
    ``vector_cycles``, ``total_cycles`` (= compute + stall + fill + drain + vector),
    ``utilization``, ``mapping_efficiency`` and the DRAM rates of
    :data:`~sim.hw.memory.MEMORY_RATE_KEYS` (per instance; 0 for vector ops).
    """
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {list(MODES)}, not {mode!r}")
    g = ops.is_gemm
    m, n, k = ops.m[g], ops.n[g], ops.k[g]
    comp = gemm_compute(arch, m, n, k)
    if mode != "cycle":
        mem = no_memory(len(m))
    elif arch.memory.model == "scalesim":
        from sim.engine.scalesim_memory import scalesim_memory_for_gemms

        mem = scalesim_memory_for_gemms(arch, m, n, k)
    else:
        mem = memory_for_gemms(arch, m, n, k)
    count = ops.count[g]
    cols = {}
    for key in GEMM_KEYS:
        full = np.zeros(len(ops), dtype=np.int64)
        full[g] = (comp[key] if key in comp else mem[key]) * count
        cols[key] = full
    for key in ("utilization", "mapping_efficiency") + MEMORY_RATE_KEYS:
        full = np.zeros(len(ops))
        full[g] = comp[key] if key in comp else mem[key]
        cols[key] = full
    cols["vector_cycles"] = vector_cycles(arch, ops)
    cols["total_cycles"] = (cols["compute_cycles"] + cols["stall_cycles"] + cols["fill_cycles"]
                            + cols["drain_cycles"] + cols["vector_cycles"])
    return cols
