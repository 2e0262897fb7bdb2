"""Array and vector-unit compute costs of lowered ops (vectorised closed forms)."""

from __future__ import annotations

import numpy as np

from sim.config.schema import ArchConfig
from sim.hw.dataflow import get_dataflow
from sim.workload.lower import Ops

__all__ = ["gemm_compute", "vector_cycles"]


def gemm_compute(arch: ArchConfig, m, n, k) -> dict:
    """Per-instance compute figures of GEMMs ``(M, N, K)`` on ``arch``'s array.

    Returns a dict of int64/float64 arrays: ``folds``, ``compute_cycles``, ``macs``,
    ``mapping_efficiency``, ``utilization``, ``sram_ifmap_reads``, ``sram_filter_reads``,
    ``sram_ofmap_writes`` (words).  Arrays may be empty.
    """
    a = arch.array
    df = get_dataflow(a.dataflow)
    rows, cols = a.rows, a.cols
    folds = df.folds(m, n, k, rows, cols)
    cycles = df.compute_cycles(m, n, k, rows, cols, a.fold_overlap)
    macs = m * n * k
    sr, sc, _ = df.dims(m, n, k)
    pe = rows * cols
    with np.errstate(divide="ignore", invalid="ignore"):
        mapping = np.where(folds > 0, sr * sc / np.maximum(folds * pe, 1), 0.0)
        util = np.where(cycles > 0, macs / np.maximum(cycles * pe, 1), 0.0)
    ifmap, filt, ofmap = df.sram_counts(m, n, k, rows, cols)
    return {
        "folds": folds, "compute_cycles": cycles, "macs": macs,
        "mapping_efficiency": mapping, "utilization": util,
        "sram_ifmap_reads": ifmap, "sram_filter_reads": filt, "sram_ofmap_writes": ofmap,
    }


def vector_cycles(arch: ArchConfig, ops: Ops) -> np.ndarray:
    """Vector-unit cycles of each op: ``ceil(ceil(elements/lanes) * cost) + latency``.

    GEMM ops get 0.  ``cost`` is ``arch.vector.cost.<vop>`` (cycles per element per lane).
    """
    v = arch.vector
    is_vec = ~ops.is_gemm
    cost = np.array([getattr(v.cost, vop) if vop else 0.0 for vop in ops.vop])
    beats = -(-ops.elements // v.lanes)
    cycles = np.ceil(beats * cost).astype(np.int64) + v.latency_cycles
    return np.where(is_vec, cycles, 0)
