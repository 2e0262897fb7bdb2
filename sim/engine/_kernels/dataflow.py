"""Jitted view of a dataflow's dims vector (:attr:`sim.hw.dataflow.Dataflow.dims_vector`).

Kernels never branch on a dataflow's name: they read which GEMM dimension lies on the
rows, the columns and the stream from ``dims = [rows dim, cols dim, stream dim,
preload_rows]`` (dims as indices 0 m, 1 n, 2 k), and which dimensions each operand spans
from :data:`OPERAND_MASK`.
"""

from __future__ import annotations

import numpy as np

from sim.engine._kernels import jit

#: Bit ``d`` set if operand (0 ifmap A[M,K], 1 filter B[K,N], 2 ofmap C[M,N]) spans dim d.
OPERAND_MASK = np.array([0b101, 0b110, 0b011], dtype=np.int64)


@jit
def extent(d, m, n, k):
    """Size of GEMM dimension ``d`` (0 m, 1 n, 2 k)."""
    if d == 0:
        return m
    if d == 1:
        return n
    return k


@jit
def fold_dims(dims, m, n, k):
    """``(sr, sc, t, pre)``: rows-mapped, cols-mapped and streamed extents, preload rows."""
    return extent(dims[0], m, n, k), extent(dims[1], m, n, k), extent(dims[2], m, n, k), dims[3]


@jit
def spans(dims, op, which):
    """Whether operand ``op`` spans the rows (``which=0``) or cols (``which=1``) dim."""
    return (OPERAND_MASK[op] >> dims[which]) & 1 == 1


@jit
def tile_words(dims, op, m, n, k, rr, cc):
    """Words of operand ``op``'s tile in a fold using ``rr`` rows and ``cc`` cols.

    Each spanned dimension contributes ``rr`` if it lies on the rows, ``cc`` if on the
    columns, its whole extent if streamed.  For the ofmap of ws/is this is the output
    tile a run of row folds accumulates.
    """
    words = 1
    for d in range(3):
        if (OPERAND_MASK[op] >> d) & 1 == 1:
            if d == dims[0]:
                words *= rr
            elif d == dims[1]:
                words *= cc
            else:
                words *= extent(d, m, n, k)
    return words


@jit
def tile_key(dims, op, fr, fc, nfr):
    """Identity of the tile operand ``op`` uses in fold ``(fc, fr)``: it changes with the
    row fold if the operand spans the rows dim, with the column fold if it spans the cols."""
    on_rows = spans(dims, op, 0)
    on_cols = spans(dims, op, 1)
    if on_rows and on_cols:
        return fc * nfr + fr
    if on_rows:
        return fr
    return fc


@jit
def first_use(dims, op, fr, fc):
    """Whether fold ``(fc, fr)`` is the first to use its tile of ``op`` (folds run
    column folds outer, row folds inner)."""
    on_rows = spans(dims, op, 0)
    on_cols = spans(dims, op, 1)
    if on_rows and on_cols:
        return True
    if on_rows:
        return fc == 0
    return fr == 0
