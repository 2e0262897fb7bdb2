"""Array and vector-unit compute costs of lowered ops (vectorised closed forms).

Every rule here is written once for all dataflows from the description in
:mod:`sim.hw.dataflow` (which dimension lies on rows, on columns, streamed).
"""

from __future__ import annotations

import numpy as np

from sim.config.schema import ArchConfig
from sim.hw.dataflow import OPERANDS, get_dataflow
from sim.workload.lower import VECTOR_OPS, Ops

__all__ = ["gemm_compute", "vector_cycles", "vector_cost", "compute_cycles", "sram_counts",
           "scalesim_ofmap_writes"]


def _ceil_div(a, b):
    return -(-a // b)


def compute_cycles(dataflow: str, m, n, k, rows, cols, fold_overlap=False):
    """Closed-form compute cycles of ``out[M,N] = A[M,K] @ B[K,N]`` on ``rows x cols``.

    ``folds * cycles_per_fold``; with ``fold_overlap`` the fill/drain of one fold hides
    behind the stream of the previous one: ``folds * max(T, P) + (cycles_per_fold - T)``
    where ``P = preload_rows * R`` cannot overlap with its own stream.
    """
    df = get_dataflow(dataflow)
    folds = df.folds(m, n, k, rows, cols)
    per_fold = df.fold_cycles(m, n, k, rows, cols)
    if not fold_overlap:
        return folds * per_fold
    _, _, t = df.dims(m, n, k)
    return folds * np.maximum(t, df.preload_rows * rows) + (per_fold - t)


def sram_counts(dataflow: str, m, n, k, rows, cols):
    """SRAM accesses in words: ``(ifmap_reads, filter_reads, ofmap_writes)``.

    An operand is read (the ofmap written) once per fold along every array dimension
    its tile does not span: ifmap ``M*K*ceil(N/C)`` on os/ws and ``M*K`` on is, and so
    on.  ifmap/filter reads equal SCALE-Sim's counts; ofmap writes are the true number
    (``M*N`` for os; SCALE-Sim adds ``folds*(R+C)``, see :func:`scalesim_ofmap_writes`;
    one partial sum per K-fold for ws/is, as SCALE-Sim counts them).
    """
    df = get_dataflow(dataflow)
    sr, sc, _ = df.dims(m, n, k)
    words = {"ifmap": m * k, "filter": k * n, "ofmap": m * n}
    out = []
    for x in OPERANDS:
        count = words[x]
        if not df.on_rows(x):
            count = count * _ceil_div(sr, rows)
        if not df.on_cols(x):
            count = count * _ceil_div(sc, cols)
        out.append(count)
    return tuple(out)


def scalesim_ofmap_writes(dataflow: str, m, n, k, rows, cols):
    """ofmap writes as SCALE-Sim 3.0.0 reports them (os adds ``folds*(R+C)``)."""
    writes = sram_counts(dataflow, m, n, k, rows, cols)[2]
    if dataflow == "os":
        writes = writes + get_dataflow(dataflow).folds(m, n, k, rows, cols) * (rows + cols)
    return writes


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
    cycles = compute_cycles(a.dataflow, m, n, k, rows, cols, a.fold_overlap)
    macs = m * n * k
    sr, sc, _ = df.dims(m, n, k)
    pe = rows * cols
    with np.errstate(divide="ignore", invalid="ignore"):
        # float products: cycles * PEs may pass 2^63 where every count fits
        mapping = np.where(folds > 0, sr * sc / np.maximum(folds * float(pe), 1), 0.0)
        util = np.where(cycles > 0, macs / np.maximum(cycles * float(pe), 1), 0.0)
    ifmap, filt, ofmap = sram_counts(a.dataflow, m, n, k, rows, cols)
    return {
        "folds": folds, "compute_cycles": cycles, "macs": macs,
        "mapping_efficiency": mapping, "utilization": util,
        "sram_ifmap_reads": ifmap, "sram_filter_reads": filt, "sram_ofmap_writes": ofmap,
    }


def vector_cost(arch: ArchConfig, ops: Ops) -> np.ndarray:
    """Per op, ``arch.vector.cost.<vop>``: cycles per element per lane (0 for GEMMs)."""
    table = np.array([getattr(arch.vector.cost, v) for v in VECTOR_OPS] + [0.0])
    return table[ops.vop_index]


def vector_cycles(arch: ArchConfig, ops: Ops) -> np.ndarray:
    """Vector-unit cycles of each op: ``ceil(ceil(elements/lanes) * cost) + latency``.

    GEMM ops get 0.  ``cost`` is ``arch.vector.cost.<vop>`` (cycles per element per lane).
    """
    v = arch.vector
    is_vec = ~ops.is_gemm
    cost = vector_cost(arch, ops)
    beats = -(-ops.elements // v.lanes)
    cycles = np.ceil(beats * cost).astype(np.int64) + v.latency_cycles
    return np.where(is_vec, cycles, 0)
