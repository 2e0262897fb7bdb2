"""Systolic-array dataflows: how a GEMM maps onto an R x C array (SCALE-Sim v3 exact).

A GEMM ``out[M, N] = A[M, K] @ B[K, N]`` is cut into *folds*.  Each dataflow says
which GEMM dimension is spread over the array rows (``sr``), which over the columns
(``sc``) and which is streamed through time (``t``):

======== ========= ========= ========== =========================== ==================
dataflow rows map  cols map  streamed T folds                       cycles per fold
======== ========= ========= ========== =========================== ==================
os       M         N         K          ceil(M/R) * ceil(N/C)       R + C + K - 2
ws       K         N         M          ceil(K/R) * ceil(N/C)       2R + C + M - 2
is       K         M         N          ceil(K/R) * ceil(M/C)       2R + C + N - 2
======== ========= ========= ========== =========================== ==================

``compute_cycles = folds * cycles_per_fold``.  SCALE-Sim 3.0.0 prints
``Total Cycles = compute_cycles - 1 + stalls`` (the 0-based index of the last cycle).

With ``fold_overlap=True`` the fill/drain of one fold hides behind the stream of the
previous one (a pipelined array with double-buffered stationary registers):
``compute_cycles = folds * max(T, P) + (cycles_per_fold - T)`` where ``P`` is the
per-fold preload that cannot overlap with its own stream (0 for os, R for ws/is).

All functions accept numpy integer arrays as well as Python ints (vectorised).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.errors import ConfigError

__all__ = ["Dataflow", "DATAFLOWS", "get_dataflow", "compute_cycles", "sram_counts"]


def _ceil_div(a, b):
    return -(-a // b)


@dataclass(frozen=True)
class Dataflow:
    """One dataflow: the dimension mapping and the per-fold cycle cost.

    Attributes
    ----------
    name : str
        ``"os"``, ``"ws"`` or ``"is"``.
    rows_dim, cols_dim, stream_dim : str
        Which of ``"m"``, ``"n"``, ``"k"`` is mapped on rows, on columns, streamed.
    preload_rows : int
        Multiples of R spent loading the stationary operand per fold (0 for os, 1 for ws/is).
    """

    name: str
    rows_dim: str
    cols_dim: str
    stream_dim: str
    preload_rows: int

    def dims(self, m, n, k):
        """Return ``(sr, sc, t)``: rows-mapped, cols-mapped and streamed extents."""
        d = {"m": m, "n": n, "k": k}
        return d[self.rows_dim], d[self.cols_dim], d[self.stream_dim]

    def folds(self, m, n, k, rows, cols):
        """Number of array folds (partial folds count as whole ones)."""
        sr, sc, _ = self.dims(m, n, k)
        return _ceil_div(sr, rows) * _ceil_div(sc, cols)

    def fold_cycles(self, m, n, k, rows, cols):
        """Cycles of one fold: preload + skewed stream + drain, ``(1+p)R + C + T - 2``."""
        _, _, t = self.dims(m, n, k)
        return (1 + self.preload_rows) * rows + cols + t - 2

    def compute_cycles(self, m, n, k, rows, cols, fold_overlap=False):
        """Compute cycles of the whole GEMM (no memory stalls)."""
        folds = self.folds(m, n, k, rows, cols)
        per_fold = self.fold_cycles(m, n, k, rows, cols)
        if not fold_overlap:
            return folds * per_fold
        _, _, t = self.dims(m, n, k)
        steady = np.maximum(t, self.preload_rows * rows)
        return folds * steady + (per_fold - t)

    def sram_counts(self, m, n, k, rows, cols):
        """SRAM accesses in words: ``(ifmap_reads, filter_reads, ofmap_writes)``.

        ifmap/filter reads equal SCALE-Sim's counts.  ofmap writes are the true number:
        ``M*N`` for os (SCALE-Sim adds ``folds*(R+C)``, an artefact, see
        :func:`scalesim_ofmap_writes`), one partial sum per K-fold for ws/is
        (``M*N*ceil(K/R)``, as SCALE-Sim counts them).
        """
        if self.name == "os":
            return (m * k * _ceil_div(n, cols), k * n * _ceil_div(m, rows), m * n)
        if self.name == "ws":
            return (m * k * _ceil_div(n, cols), k * n, m * n * _ceil_div(k, rows))
        return (m * k, k * n * _ceil_div(m, cols), m * n * _ceil_div(k, rows))

    def scalesim_ofmap_writes(self, m, n, k, rows, cols):
        """ofmap writes as SCALE-Sim 3.0.0 reports them (os adds ``folds*(R+C)``)."""
        writes = self.sram_counts(m, n, k, rows, cols)[2]
        if self.name == "os":
            writes = writes + self.folds(m, n, k, rows, cols) * (rows + cols)
        return writes


DATAFLOWS: dict[str, Dataflow] = {
    "os": Dataflow("os", rows_dim="m", cols_dim="n", stream_dim="k", preload_rows=0),
    "ws": Dataflow("ws", rows_dim="k", cols_dim="n", stream_dim="m", preload_rows=1),
    "is": Dataflow("is", rows_dim="k", cols_dim="m", stream_dim="n", preload_rows=1),
}


def get_dataflow(name: str) -> Dataflow:
    """Look a dataflow up by name; an unknown name is a :class:`ConfigError`."""
    try:
        return DATAFLOWS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"dataflow must be one of {sorted(DATAFLOWS)}, not {name!r}"
        ) from None


def compute_cycles(dataflow: str, m, n, k, rows, cols, fold_overlap=False):
    """Closed-form compute cycles of ``out[M,N] = A[M,K] @ B[K,N]`` on ``rows x cols``."""
    return get_dataflow(dataflow).compute_cycles(m, n, k, rows, cols, fold_overlap)


def sram_counts(dataflow: str, m, n, k, rows, cols):
    """``(ifmap_reads, filter_reads, ofmap_writes)`` in words; see :meth:`Dataflow.sram_counts`."""
    return get_dataflow(dataflow).sram_counts(m, n, k, rows, cols)
