"""The simulation step: lowered ops -> a typed :class:`Timing` (cycles and access counts)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config.schema import ArchConfig
from sim.engine.compute import gemm_compute, vector_cycles
from sim.engine.memory import MEMORY_KEYS, MEMORY_RATE_KEYS, memory_for_gemms, no_memory
from sim.engine.scalesim_memory import scalesim_memory_for_gemms
from sim.errors import ConfigError, SimulationError
from sim.hw.dataflow import get_dataflow
from sim.hw.memory import memory_hierarchy
from sim.workload.lower import EMBED_LAYER, INT64_MAX, Ops

__all__ = ["MODES", "GEMM_KEYS", "SUM_KEYS", "RATE_KEYS", "Timing", "simulate_ops",
           "layer_cycles", "count_bound", "bound_terms", "bound_of", "int64_refusals"]

#: ``cycle``: closed-form compute + the double-buffered memory walk (stalls, DRAM traffic).
#: ``analytic``: closed-form compute only (stall-free, fastest; for large sweeps).
MODES = ("cycle", "analytic")

#: Per-instance GEMM columns that scale with ``count`` (int64).
GEMM_KEYS = ("folds", "compute_cycles", "macs", "sram_ifmap_reads", "sram_filter_reads",
             "sram_ofmap_writes") + MEMORY_KEYS
#: Op columns that add up over ops, layers and the model (int64).
SUM_KEYS = GEMM_KEYS + ("vector_cycles",)
#: Per-instance ratios and rates of GEMM ops (float64, not summable).
RATE_KEYS = ("utilization", "mapping_efficiency") + MEMORY_RATE_KEYS


@dataclass(frozen=True, eq=False)
class Timing:
    """What the engine computed for a run of ops.

    Attributes
    ----------
    ops : dict of str -> numpy.ndarray
        One entry per op (totals over its ``count`` identical instances): every key of
        :data:`SUM_KEYS`, :data:`RATE_KEYS` (per instance), ``total_cycles`` (= compute +
        stall + fill + drain + vector) and ``latency_s`` (``total_cycles`` at the clock).
    layer_ids : numpy.ndarray of int64
        Layers in order (``EMBED_LAYER`` ... head).
    array_cycles, vector_cycles, layer_cycles : numpy.ndarray of int64
        Per layer: array (GEMM + memory) cycles, vector-unit cycles, and the layer's
        cycles -- their sum, or their max with ``vector.overlap: true``.
    cycles : int
        Cycles of the whole run (sum of ``layer_cycles``).
    latency_s : float
        ``cycles`` at the array clock, seconds.
    """

    ops: dict
    layer_ids: np.ndarray
    array_cycles: np.ndarray
    vector_cycles: np.ndarray
    layer_cycles: np.ndarray
    cycles: int
    latency_s: float


def layer_cycles(arch: ArchConfig, ops: Ops, total_cycles, vec_cycles):
    """``(layer ids, array cycles, vector cycles, layer cycles)`` in layer order (int64).

    A layer takes array + vector cycles, or their max with ``vector.overlap: true``.
    """
    idx = ops.layer - EMBED_LAYER
    size = int(idx.max()) + 1 if len(idx) else 0
    vec = np.zeros(size, dtype=np.int64)
    tot = np.zeros(size, dtype=np.int64)
    np.add.at(vec, idx, vec_cycles)
    np.add.at(tot, idx, total_cycles)
    arr = tot - vec
    both = np.maximum(arr, vec) if arch.vector.overlap else arr + vec
    return np.arange(size, dtype=np.int64) + EMBED_LAYER, arr, vec, both


def bound_terms(arch: ArchConfig, mode: str) -> dict:
    """The design figures :func:`bound_of` needs (scalars): array edges, vector unit and,
    in cycle mode, the memory hierarchy's word size, slowest interface and latency."""
    a = arch.array
    terms = {"dataflow": a.dataflow, "rows": a.rows, "cols": a.cols,
             "cost": max(vars(arch.vector.cost).values()), "lanes": arch.vector.lanes,
             "vec_latency": arch.vector.latency_cycles}
    if mode == "cycle":
        h = memory_hierarchy(arch)
        terms.update(word_bytes=h.word_bytes, slowest=min(h.bytes_per_cycle),
                     latency=h.latency_cycles)
    return terms


def bound_of(terms: dict, m, n, k, count, elements, mode: str):
    """:func:`count_bound` from :func:`bound_terms`; every argument but ``dataflow``
    may be a numpy array (broadcast together, e.g. designs ``(Q, 1)`` x ops ``(1, O)``)."""
    vals = [terms[x] for x in ("rows", "cols", "cost", "lanes", "vec_latency")]
    if mode == "cycle":
        vals += [terms[x] for x in ("word_bytes", "slowest", "latency")]
    arrays = any(np.ndim(x) for x in (m, n, k, count, elements, *vals))
    # floats for the quick scalar check, float64 arrays op by op (same formulas)
    fl = (lambda x: np.asarray(x, dtype=np.float64)) if arrays else float
    big = np.maximum if arrays else max
    m, n, k, count, elements = (fl(x) for x in (m, n, k, count, elements))
    rows, cols, cost, lanes, vlat = (fl(x) for x in vals[:5])
    df = get_dataflow(terms["dataflow"])
    sr, sc, t = df.dims(m, n, k)
    folds = -(-sr // rows) * -(-sc // cols)
    per_fold = (1 + df.preload_rows) * rows + cols + t
    gemm = big(m * n * k, (folds + 1) * per_fold)  # + 1: the fold_overlap tail
    if mode == "cycle":
        word, slowest, lat = (fl(x) for x in vals[5:])
        # a fold's tiles span two of (R, C, T) each: R*T + C*T + R*C words at most
        moved = word * (rows * t + cols * t + rows * cols) * (folds + 1)
        if arrays:
            xfer = np.where(slowest < np.inf, moved / slowest, 0.0)
        else:
            xfer = moved / slowest if slowest < float("inf") else 0.0
        gemm = big(gemm, 8 * moved + xfer + 3 * (folds + 1) * (lat + 1)
                   + (folds + 1) * per_fold)
    vec = (elements / lanes + 1) * cost + (vlat + 1)
    return gemm * count, vec


def count_bound(arch: ArchConfig, m, n, k, count, elements, mode: str):
    """Upper bounds (float64) of every count the engine computes for a GEMM ``(m, n, k)``
    run ``count`` times and for a vector op of ``elements``: ``(gemm bound, vector bound)``.

    Each of a GEMM's cycles, accesses and bytes (totals over ``count``) is at most its
    bound; cycle mode adds the memory walk's time: every fold moves at most its three
    tiles, each at the slowest interface, plus the DRAM latency per transfer.
    Both bounds grow with every argument, so the bound of the largest sizes bounds all.
    """
    return bound_of(bound_terms(arch, mode), m, n, k, count, elements, mode)


#: A run whose counts' bound reaches this is refused (2^63 - 1 with float64 headroom).
_LIMIT = INT64_MAX * (1 - 1e-9)


def _int64_message(name: str, ops: Ops, i: int, bound: float, mode: str) -> str:
    return (f"{name}: this run's counts may pass 2^63 - 1, the most an exact int64 holds "
            f"(op {ops.op[i]!r} of layer {int(ops.layer[i])} alone: up to {bound:.3g}); use "
            f"a smaller workload or batch" + (", or --mode analytic" if mode == "cycle" else ""))


def _check_int64(arch: ArchConfig, ops: Ops, mode: str) -> None:
    """Refuse a run whose counts could pass 2^63 - 1 (never a silently wrong number).

    A quick bound from the largest sizes clears every ordinary run in microseconds; only
    a run that fails it is bounded op by op.
    """
    if not len(ops):
        return
    terms = bound_terms(arch, mode)
    sizes = (ops.m, ops.n, ops.k, ops.count, ops.elements)
    quick = bound_of(terms, *(float(x.max()) for x in sizes), mode)
    if len(ops) * (quick[0] + quick[1]) < _LIMIT:
        return
    gemm, vec = bound_of(terms, *sizes, mode)
    bound = np.where(ops.is_gemm, gemm, vec)
    if bound.sum() < _LIMIT:
        return
    i = int(np.argmax(bound))
    raise SimulationError(_int64_message(arch.name, ops, i, bound[i], mode))


def int64_refusals(name: str, ops: Ops, terms: dict, mode: str) -> np.ndarray:
    """:func:`simulate_ops`'s int64 refusal, for many designs at once.

    ``terms`` is :func:`bound_terms` with one array of ``Q`` designs per figure (the
    ``dataflow`` shared).  Returns the :class:`~sim.errors.SimulationError` text each
    design's run would raise, ``""`` where it runs (object array ``(Q,)``): the same
    quick bound, then the same op-by-op bound, as :func:`simulate_ops`.
    """
    size = len(np.asarray(terms["rows"]))
    out = np.full(size, "", dtype=object)
    if not len(ops) or not size:
        return out
    sizes = (ops.m, ops.n, ops.k, ops.count, ops.elements)
    quick = bound_of(terms, *(float(x.max()) for x in sizes), mode)
    maybe = np.flatnonzero(len(ops) * (quick[0] + quick[1]) >= _LIMIT)
    step = max(1, (1 << 22) // len(ops))  # designs per chunk: <= 32 MiB of bounds
    for lo in range(0, len(maybe), step):
        idx = maybe[lo:lo + step]
        sub = {k: (v if k == "dataflow" else np.asarray(v)[idx][:, None])
               for k, v in terms.items()}
        gemm, vec = bound_of(sub, *(x[None, :] for x in sizes), mode)
        bound = np.where(ops.is_gemm[None, :], gemm, vec)
        for j in np.flatnonzero(bound.sum(axis=1) >= _LIMIT):
            i = int(np.argmax(bound[j]))
            out[idx[j]] = _int64_message(name, ops, i, bound[j, i], mode)
    return out


def simulate_ops(arch: ArchConfig, ops: Ops, mode: str = "cycle") -> Timing:
    """Cycles and access counts of every op, per layer and for the whole run.

    Raises
    ------
    SimulationError
        A count could exceed 2^63 - 1, or (cycle mode) a GEMM has more folds than the
        memory walk takes.
    """
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {list(MODES)}, not {mode!r}")
    _check_int64(arch, ops, mode)
    g = ops.is_gemm
    m, n, k = ops.m[g], ops.n[g], ops.k[g]
    comp = gemm_compute(arch, m, n, k)
    if mode != "cycle":
        mem = no_memory(len(m))
    elif arch.memory.model == "scalesim":
        mem = scalesim_memory_for_gemms(arch, m, n, k)
    else:
        mem = memory_for_gemms(arch, m, n, k)
    count = ops.count[g]
    cols = {}
    for key in GEMM_KEYS:
        full = np.zeros(len(ops), dtype=np.int64)
        full[g] = (comp[key] if key in comp else mem[key]) * count
        cols[key] = full
    for key in RATE_KEYS:
        full = np.zeros(len(ops))
        full[g] = comp[key] if key in comp else mem[key]
        cols[key] = full
    cols["vector_cycles"] = vector_cycles(arch, ops)
    cols["total_cycles"] = (cols["compute_cycles"] + cols["stall_cycles"] + cols["fill_cycles"]
                            + cols["drain_cycles"] + cols["vector_cycles"])
    cols["latency_s"] = cols["total_cycles"] / arch.clock_hz
    ids, arr, vec, both = layer_cycles(arch, ops, cols["total_cycles"], cols["vector_cycles"])
    cycles = int(both.sum())
    return Timing(cols, ids, arr, vec, both, cycles, cycles / arch.clock_hz)
