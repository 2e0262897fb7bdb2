"""The memory walk: stalls and DRAM traffic of double-buffered SRAMs, per GEMM.

The model (``docs/memory.md`` derives it and compares it with SCALE-Sim 3.0.0):

* **Folds** run in SCALE-Sim's order for every dataflow: column folds outer, row folds
  inner, fold ``j = fc * FR + fr``.  Each fold lasts ``cycles_per_fold``
  (:mod:`sim.engine.compute`; with ``array.fold_overlap`` the period ``max(T, pre*R)`` plus a
  tail after the last fold).
* **Tiles** a fold ``(fc, fr)`` reads, with ``rr``/``cc`` the used rows/cols:

  ==== ======================= ======================= ==============================
  df   ifmap tile (words)      filter tile (words)     output tile (words)
  ==== ======================= ======================= ==============================
  os   A rows ``fr``: rr*K     B cols ``fc``: K*cc     rr*cc, final
  ws   A cols ``fr``: M*rr     B block: rr*cc          M*cc partial sums of run ``fc``
  is   A block: cc*rr          B rows ``fr``: rr*N     cc*N partial sums of run ``fc``
  ==== ======================= ======================= ==============================

* **Reuse.**  Each SRAM is split in two halves of ``floor(size_words / 2)`` words.  An
  operand that fits in a half is fetched once (each tile on first use) and stays.
  Otherwise a tile is fetched once per *run* of consecutive folds that use it (e.g. the
  OS filter tile over the inner row folds) if it fits in a half, else on every fold.
  ws/is accumulate a run's partial sums in the ofmap SRAM when the run's output tile fits
  a half (drained once per run); otherwise every fold's partial sums are drained (their
  read-back is not modelled, as in SCALE-Sim).
* **Prefetch and stalls.**  A load goes into the idle half: it may start once its
  channel is free and the half's previous contents are dead (the fold before the
  previous load's fold has ended); it takes ``ceil(bytes / bw)`` cycles plus
  ``latency_cycles``.  A fold starts when the previous fold has ended, its tiles have
  arrived and its output half has been drained (the drain of the run before the
  previous one).  ``stall = start - previous end``.  Outputs of a run are drained after
  its last fold, behind the following folds.
* **Fill and drain.**  ``fill_cycles`` is the start of fold 0 (fetching its tiles from
  time 0); ``drain_cycles`` is how long the last drain outlasts the last fold.
* **Shared channel** (``dram.bandwidth_gbps``): one channel of ``bandwidth_gbps * 1e3 /
  clock_mhz`` bytes per cycle carries every fetch and drain, one transfer at a time, in
  the order the walk issues them (per fold: the loads of the next fold, then the drain
  of the finished run).

Rates (float64, bytes per cycle, per GEMM instance): ``dram_avg_bytes_per_cycle`` = all
DRAM bytes / compute cycles; ``dram_peak_bytes_per_cycle`` = the sum over the three
interfaces of the smallest bandwidth that meets every zero-stall deadline of that
interface after the fill (the density of its tightest window: a load between the moment
its half frees and the start of its fold in the stall-free schedule, a drain between its
fold's end and the start of the run after next).  That bandwidth on every interface
leaves at most whole-cycle rounding stalls (``tests/test_memory.py``).
"""

from __future__ import annotations

import numpy as np

from sim.engine._kernels import layout as L
from sim.errors import SimulationError
from sim.hw.dataflow import get_dataflow
from sim.hw.memory import memory_hierarchy

__all__ = ["MEMORY_KEYS", "MEMORY_RATE_KEYS", "memory_for_gemms", "no_memory", "memory_params",
           "MAX_WALK_FOLDS", "fold_message", "fold_refusals", "memory_for_points",
           "hierarchy_of_params"]

#: Most folds one GEMM may have in cycle mode: the walk keeps 8 bytes per fold (256 MiB
#: here) and takes ~30 ns per fold, so a larger GEMM is refused, not run for minutes.
MAX_WALK_FOLDS = 1 << 25

#: Per-GEMM-instance results of the memory model (int64 arrays, summable over count).
MEMORY_KEYS = (
    "stall_cycles", "fill_cycles", "drain_cycles",
    "dram_ifmap_read_bytes", "dram_filter_read_bytes", "dram_ofmap_write_bytes",
)
#: Per-GEMM-instance rates (float64 arrays, bytes per cycle; not summable over count).
MEMORY_RATE_KEYS = ("dram_avg_bytes_per_cycle", "dram_peak_bytes_per_cycle")

def memory_params(arch) -> np.ndarray:
    """The kernel's ``params`` vector for ``arch`` (layout in :mod:`sim.engine._kernels.memory`)."""
    a = arch.array
    h = memory_hierarchy(arch)
    p = np.zeros(L.N_PARAMS)
    p[L.P_ROWS], p[L.P_COLS] = a.rows, a.cols
    p[L.P_DIMS:L.P_DIMS + 4] = get_dataflow(a.dataflow).dims_vector
    p[L.P_OVERLAP] = 1.0 if a.fold_overlap else 0.0
    p[L.P_BW_I], p[L.P_BW_F], p[L.P_BW_O] = h.bytes_per_cycle
    p[L.P_SHARED] = 1.0 if h.shared else 0.0
    p[L.P_LAT] = h.latency_cycles
    p[L.P_HALF_I], p[L.P_HALF_F], p[L.P_HALF_O] = h.half_words
    p[L.P_WORD] = h.word_bytes
    return p


def fold_message(m, n, k, folds, rows, cols) -> str:
    """The refusal of a GEMM with more than :data:`MAX_WALK_FOLDS` folds."""
    return (f"GEMM (M, N, K) = ({m}, {n}, {k}) has {folds:,} folds on the {rows}x{cols} "
            f"array; cycle mode walks at most {MAX_WALK_FOLDS:,} per GEMM: use --mode analytic")


def fold_refusals(dataflow: str, rows, cols, m, n, k) -> np.ndarray:
    """:func:`memory_for_gemms`'s fold refusal for many designs: the error text per design
    (``""`` where the walk runs), object ``(Q,)``.

    ``rows``, ``cols`` are int64 ``(Q,)``; ``m``, ``n``, ``k`` the GEMM instances in the
    run's op order (the first GEMM with the most folds is named, as the engine does).
    """
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    out = np.full(len(rows), "", dtype=object)
    m, n, k = (np.asarray(x, dtype=np.int64) for x in (m, n, k))
    if not len(m) or not len(rows):
        return out
    folds = get_dataflow(dataflow).folds(m[None, :], n[None, :], k[None, :],
                                         rows[:, None], cols[:, None])
    worst = np.argmax(folds, axis=1)
    most = folds[np.arange(len(rows)), worst]
    for q in np.flatnonzero(most > MAX_WALK_FOLDS):
        w = worst[q]
        out[q] = fold_message(m[w], n[w], k[w], most[q], rows[q], cols[q])
    return out


def memory_for_points(params, m, n, k) -> np.ndarray:
    """The memory walk of every design x every GEMM ``(m[u], n[u], k[u])``.

    Parameters
    ----------
    params : float64 array ``(Q, N)``
        One :func:`memory_params` vector per design.
    m, n, k : array_like of int ``(U,)``

    Returns
    -------
    numpy.ndarray
        int64 ``(Q, U, 6)``: the :data:`MEMORY_KEYS` of each pair (cycles, bytes).

    Raises
    ------
    SimulationError
        A pair has more than :data:`MAX_WALK_FOLDS` folds (filter designs with
        :func:`fold_refusals` first).
    """
    params = np.ascontiguousarray(params, dtype=np.float64)
    m, n, k = (np.ascontiguousarray(x, dtype=np.int64) for x in (m, n, k))
    q, u = params.shape[0], len(m)
    out = np.zeros((q, u, len(MEMORY_KEYS)), dtype=np.int64)
    if not q or not u:
        return out
    dims = params[:, L.P_DIMS:L.P_DIMS + 2].astype(np.int64)  # rows dim, cols dim
    mnk = np.stack([m, n, k])  # DIM_NAMES order
    rows = params[:, L.P_ROWS].astype(np.int64)[:, None]
    cols = params[:, L.P_COLS].astype(np.int64)[:, None]
    folds = -(-mnk[dims[:, 0]] // rows) * -(-mnk[dims[:, 1]] // cols)
    if folds.max() > MAX_WALK_FOLDS:
        qi, ui = np.unravel_index(int(np.argmax(folds)), folds.shape)
        raise SimulationError(fold_message(m[ui], n[ui], k[ui], folds[qi, ui],
                                           rows[qi, 0], cols[qi, 0]))
    from sim.engine._kernels import memory as _k  # numba, on the first cycle-mode run

    _k.memory_walk_points(m, n, k, params, int(folds.max()), out)
    return out


def hierarchy_of_params(params) -> dict:
    """``word_bytes``, ``latency`` (cycles) and ``slowest`` (bytes per cycle, the slowest
    DRAM interface) of each :func:`memory_params` row (float64 ``(Q,)`` each), as
    :func:`sim.engine.simulate.bound_terms` takes them."""
    params = np.asarray(params, dtype=np.float64).reshape(-1, L.N_PARAMS)
    return {"word_bytes": params[:, L.P_WORD], "latency": params[:, L.P_LAT],
            "slowest": params[:, [L.P_BW_I, L.P_BW_F, L.P_BW_O]].min(axis=1)}


def no_memory(size: int) -> dict:
    """All-zero memory results for ``size`` GEMMs (analytic mode)."""
    out = {key: np.zeros(size, dtype=np.int64) for key in MEMORY_KEYS}
    out.update({key: np.zeros(size) for key in MEMORY_RATE_KEYS})
    return out


def memory_for_gemms(arch, m, n, k) -> dict:
    """Memory results of each GEMM instance ``(m[i], n[i], k[i])`` on ``arch``.

    Parameters
    ----------
    arch : ArchConfig
    m, n, k : array_like of int
        ``out[M, N] = A[M, K] @ B[K, N]`` per instance (all >= 1).

    Returns
    -------
    dict
        int64 arrays for :data:`MEMORY_KEYS` (cycles, bytes) and float64 arrays for
        :data:`MEMORY_RATE_KEYS` (bytes per cycle), one entry per instance.

    Raises
    ------
    SimulationError
        A GEMM has more than :data:`MAX_WALK_FOLDS` folds.
    """
    m = np.ascontiguousarray(m, dtype=np.int64)
    n = np.ascontiguousarray(n, dtype=np.int64)
    k = np.ascontiguousarray(k, dtype=np.int64)
    size = len(m)
    if size:
        folds = get_dataflow(arch.array.dataflow).folds(m, n, k, arch.array.rows,
                                                       arch.array.cols)
        worst = int(np.argmax(folds))
        if folds[worst] > MAX_WALK_FOLDS:
            raise SimulationError(fold_message(m[worst], n[worst], k[worst], folds[worst],
                                               arch.array.rows, arch.array.cols))
    out_i = np.zeros((size, len(MEMORY_KEYS)), dtype=np.int64)
    out_f = np.zeros((size, len(MEMORY_RATE_KEYS)))
    if size:
        from sim.engine._kernels import memory as _k  # numba, on the first cycle-mode run

        _k.memory_walk(m, n, k, memory_params(arch), out_i, out_f)
    res = {key: out_i[:, i].copy() for i, key in enumerate(MEMORY_KEYS)}
    res.update({key: out_f[:, i].copy() for i, key in enumerate(MEMORY_RATE_KEYS)})
    return res
