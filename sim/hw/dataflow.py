"""Systolic-array dataflows: how a GEMM maps onto an R x C array (SCALE-Sim v3 exact).

A GEMM ``out[M, N] = A[M, K] @ B[K, N]`` is cut into *folds*.  Each dataflow says
which GEMM dimension is spread over the array rows (``sr``), which over the columns
(``sc``) and which is streamed through time (``t``):

======== ==== ========= ========= ========== =========================== ==================
dataflow code rows map  cols map  streamed T folds                       cycles per fold
======== ==== ========= ========= ========== =========================== ==================
os       0    M         N         K          ceil(M/R) * ceil(N/C)       R + C + K - 2
ws       1    K         N         M          ceil(K/R) * ceil(N/C)       2R + C + M - 2
is       2    K         M         N          ceil(K/R) * ceil(M/C)       2R + C + N - 2
======== ==== ========= ========= ========== =========================== ==================

Folds run column folds outer, row folds inner (fold ``j = fc * FR + fr``).  Operand
``x`` spans the GEMM dimensions :data:`OPERAND_DIMS` (ifmap ``A[M,K]``, filter ``B[K,N]``,
ofmap ``C[M,N]``); every per-dataflow rule of the engine (tile sizes, tile reuse, SRAM
read counts) follows from which of its dimensions lie on the rows and on the columns, so
this table is the only place a dataflow is defined.  Kernels get the same facts as
plain integers: :attr:`Dataflow.code` and :attr:`Dataflow.dims_vector`.

All methods accept numpy integer arrays as well as Python ints (vectorised).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config.schema import DATAFLOW_NAMES
from sim.errors import ConfigError

__all__ = ["Dataflow", "DATAFLOWS", "DIM_NAMES", "OPERANDS", "OPERAND_DIMS", "get_dataflow"]

#: GEMM dimensions, in the order of every dims vector: index 0 ``m``, 1 ``n``, 2 ``k``.
DIM_NAMES = ("m", "n", "k")
#: Operands, in kernel order (0 ifmap, 1 filter, 2 ofmap).
OPERANDS = ("ifmap", "filter", "ofmap")
#: GEMM dimensions each operand spans.
OPERAND_DIMS = {"ifmap": ("m", "k"), "filter": ("k", "n"), "ofmap": ("m", "n")}


def _ceil_div(a, b):
    return -(-a // b)


@dataclass(frozen=True)
class Dataflow:
    """One dataflow: the dimension mapping and the per-fold cycle cost.

    Attributes
    ----------
    name : str
        ``"os"``, ``"ws"`` or ``"is"``.
    code : int
        Small integer naming the dataflow inside kernels: its index in the schema's
        ``DATAFLOW_NAMES`` (0 os, 1 ws, 2 is).
    rows_dim, cols_dim, stream_dim : str
        Which of ``"m"``, ``"n"``, ``"k"`` is mapped on rows, on columns, streamed.
    preload_rows : int
        Multiples of R spent loading the stationary operand per fold (0 for os, 1 for ws/is).
    """

    name: str
    code: int
    rows_dim: str
    cols_dim: str
    stream_dim: str
    preload_rows: int

    @property
    def dims_vector(self) -> np.ndarray:
        """int64 ``[rows dim, cols dim, stream dim, preload_rows]``, dims as indices into
        :data:`DIM_NAMES` (what the kernels read instead of branching on the dataflow)."""
        idx = DIM_NAMES.index
        return np.array([idx(self.rows_dim), idx(self.cols_dim), idx(self.stream_dim),
                         self.preload_rows], dtype=np.int64)

    def dims(self, m, n, k):
        """Return ``(sr, sc, t)``: rows-mapped, cols-mapped and streamed extents."""
        d = {"m": m, "n": n, "k": k}
        return d[self.rows_dim], d[self.cols_dim], d[self.stream_dim]

    def on_rows(self, operand: str) -> bool:
        """Whether ``operand``'s tile changes with the row fold (it spans the rows dim)."""
        return self.rows_dim in OPERAND_DIMS[operand]

    def on_cols(self, operand: str) -> bool:
        """Whether ``operand``'s tile changes with the column fold."""
        return self.cols_dim in OPERAND_DIMS[operand]

    def folds(self, m, n, k, rows, cols):
        """Number of array folds (partial folds count as whole ones)."""
        sr, sc, _ = self.dims(m, n, k)
        return _ceil_div(sr, rows) * _ceil_div(sc, cols)

    def fold_cycles(self, m, n, k, rows, cols):
        """Cycles of one fold: preload + skewed stream + drain, ``(1+p)R + C + T - 2``."""
        _, _, t = self.dims(m, n, k)
        return (1 + self.preload_rows) * rows + cols + t - 2


DATAFLOWS: dict[str, Dataflow] = {
    name: Dataflow(name, DATAFLOW_NAMES.index(name), rows, cols, stream, pre)
    for name, rows, cols, stream, pre in (("os", "m", "n", "k", 0), ("ws", "k", "n", "m", 1),
                                          ("is", "k", "m", "n", 1))
}


def get_dataflow(name: str) -> Dataflow:
    """Look a dataflow up by name; an unknown name is a :class:`ConfigError`."""
    try:
        return DATAFLOWS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"dataflow must be one of {sorted(DATAFLOWS)}, not {name!r}"
        ) from None

