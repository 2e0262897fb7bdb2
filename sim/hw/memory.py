"""Double-buffered SRAMs and DRAM: stalls and traffic per GEMM (DESIGN.md §3.2).

Placeholder until the memory model lands: every GEMM runs stall-free and its DRAM
traffic is not counted (all zeros).  ``sim.simulate(..., mode="analytic")`` uses the
same zeros on purpose.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MEMORY_KEYS", "memory_for_gemms", "no_memory"]

#: Per-GEMM-instance results of the memory model (int64 arrays).
MEMORY_KEYS = (
    "stall_cycles", "fill_cycles", "drain_cycles",
    "dram_ifmap_read_bytes", "dram_filter_read_bytes", "dram_ofmap_write_bytes",
)


def no_memory(size: int) -> dict:
    """All-zero memory results for ``size`` GEMMs (analytic mode)."""
    return {key: np.zeros(size, dtype=np.int64) for key in MEMORY_KEYS}


def memory_for_gemms(arch, m, n, k) -> dict:
    """Memory results of each GEMM instance ``(m[i], n[i], k[i])`` on ``arch``."""
    return no_memory(len(m))
