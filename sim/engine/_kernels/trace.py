"""Numba kernels of the per-cycle SRAM and DRAM address traces (SCALE-Sim's format).

SRAM demand rows follow SCALE-Sim 3.0.0's demand matrices row for row (same skew,
prefix and suffix rows, port order and addresses), so a trace without stalls equals
SCALE-Sim's.  Rows are produced in chunks ``[row0, row0 + out.shape[0])`` so that a large
GEMM never holds its whole trace in memory.  ``sim/engine/trace_reference.py`` builds the
same rows slowly, per dataflow, from SCALE-Sim's demand-matrix rules.

Operands play one of three roles, read off the dataflow's dims vector
(:mod:`sim.engine._kernels.dataflow`): a *stationary* input (spans the rows and the cols
dim: ws filter, is ifmap) is preloaded during the first R rows of a fold; a *streamed*
input enters after the preload, skewed by one cycle per port; the *output* leaves
either after the stream (os: it spans the rows) or streamed, skewed, after ``(1+p)R - 1``.

Addresses (words): ifmap ``A[m, k] -> m*K + k``; filter ``B[k, n] -> n*K + k`` (SCALE-Sim
stores each filter's window contiguously); ofmap ``C[m, n] -> m*N + n``; each plus its
operand offset.  ``-1`` marks an idle port.

``geom`` int64 vector: ``(R, C, M, N, K, per_fold, off_ifmap, off_filter, off_ofmap, FR,
dims[0..3])`` with FR the number of row folds and dims the dataflow's dims vector.
"""

from __future__ import annotations

import numpy as np

from sim.engine._kernels import jit
from sim.engine._kernels.dataflow import extent, spans
from sim.engine._kernels.layout import (
    G_C,
    G_DIMS,
    G_K,
    G_M,
    G_N,
    G_NFR,
    G_OFF_F,
    G_OFF_I,
    G_OFF_O,
    G_PER_FOLD,
    G_R,
)

#: Each operand's dims in address order: A[m, k], B[k, n], C[m, n].
OPERAND_AXES = np.array([[0, 2], [2, 1], [0, 1]], dtype=np.int64)


@jit
def _dims(geom):
    return geom[G_DIMS:G_DIMS + 4]


@jit
def address(geom, op, i_m, i_n, i_k):
    """Address of element ``(i_m, i_n, i_k)`` of operand ``op`` (the dim it does not
    span is ignored), or -1 outside the operand."""
    m, n, k = geom[G_M], geom[G_N], geom[G_K]
    if op == 0:
        if i_m < m and i_k < k:
            return geom[G_OFF_I] + i_m * k + i_k
    elif op == 1:
        if i_k < k and i_n < n:
            return geom[G_OFF_F] + i_n * k + i_k
    elif i_m < m and i_n < n:
        return geom[G_OFF_O] + i_m * n + i_n
    return -1


@jit
def _on(dims, d, on_rows, on_cols, on_stream):
    """The coordinate along GEMM dim ``d`` of the element at these rows-, cols- and
    stream-dim coordinates."""
    if d == dims[0]:
        return on_rows
    if d == dims[1]:
        return on_cols
    return on_stream


@jit
def _at(geom, op, on_rows, on_cols, on_stream):
    """Address of the element at these rows-, cols- and stream-dim coordinates."""
    dims = _dims(geom)
    return address(geom, op, _on(dims, 0, on_rows, on_cols, on_stream),
                   _on(dims, 1, on_rows, on_cols, on_stream),
                   _on(dims, 2, on_rows, on_cols, on_stream))


@jit
def sram_rows(geom, op, row0, out):
    """Fill ``out[r, 1:]`` with the demand of global row ``row0 + r`` of operand ``op``
    (0 ifmap, 1 filter, 2 ofmap); column 0 is left to the caller (the cycle)."""
    dims = _dims(geom)
    rows = geom[G_R]
    cols = geom[G_C]
    per = geom[G_PER_FOLD]
    nfr = geom[G_NFR]
    t = extent(dims[2], geom[G_M], geom[G_N], geom[G_K])
    pre = dims[3] * rows
    on_rows = spans(dims, op, 0)
    stationary = on_rows and spans(dims, op, 1)
    ports = out.shape[1] - 1
    for r in range(out.shape[0]):
        g = row0 + r
        fold = g // per
        i = g - fold * per
        fc = fold // nfr
        fr = fold - fc * nfr
        for c in range(ports):
            u = i - c
            a = -1
            if op == 2 and on_rows:          # output drained after the stream (os)
                if t - 1 <= u < t - 1 + rows:
                    a = _at(geom, op, fr * rows + rows - 1 - (u - t + 1), fc * cols + c, 0)
            elif op == 2:                    # output streamed out, skewed
                if pre + rows - 1 <= u < pre + rows - 1 + t:
                    a = _at(geom, op, 0, fc * cols + c, u - pre - rows + 1)
            elif stationary:                 # preloaded, bottom row first
                if i < rows:
                    a = _at(geom, op, fr * rows + rows - 1 - i, fc * cols + c, 0)
            elif pre <= u < pre + t:         # streamed input, after the preload
                if on_rows:
                    a = _at(geom, op, fr * rows + c, 0, u - pre)
                else:
                    a = _at(geom, op, 0, fc * cols + c, u - pre)
            out[r, c + 1] = a


@jit
def _tile_span(geom, d, fr, fc):
    """``(first index, size)`` of GEMM dim ``d`` in the tile of fold ``(fc, fr)``."""
    dims = _dims(geom)
    full = extent(d, geom[G_M], geom[G_N], geom[G_K])
    if d == dims[0]:
        return fr * geom[G_R], min(geom[G_R], full - fr * geom[G_R])
    if d == dims[1]:
        return fc * geom[G_C], min(geom[G_C], full - fc * geom[G_C])
    return 0, full


@jit
def tile_addr(geom, op, fold, w):
    """Address of word ``w`` (row-major) of the tile operand ``op`` moves for ``fold``."""
    nfr = geom[G_NFR]
    fc = fold // nfr
    fr = fold - fc * nfr
    d1 = OPERAND_AXES[op, 0]
    d2 = OPERAND_AXES[op, 1]
    base1, _size1 = _tile_span(geom, d1, fr, fc)
    base2, size2 = _tile_span(geom, d2, fr, fc)
    i1 = base1 + w // size2
    i2 = base2 + w % size2
    # (i_m, i_n, i_k) from the operand's two dims; the third is ignored by address()
    i_m = i1 if d1 == 0 else (i2 if d2 == 0 else 0)
    i_n = i1 if d1 == 1 else (i2 if d2 == 1 else 0)
    i_k = i1 if d1 == 2 else (i2 if d2 == 2 else 0)
    return address(geom, op, i_m, i_n, i_k)


@jit
def dram_rows(geom, op, fold, words, word0, cycle0, words_per_cycle, out):
    """Rows of one DRAM transfer: words ``word0 ...`` of the tile, ``width = out.shape[1]
    - 1`` per row; row ``r`` (global row ``word0 // width + r``) is stamped
    ``cycle0 + floor(global_row * width / words_per_cycle)`` (``cycle0`` if unlimited).
    Returns the number of rows written."""
    width = out.shape[1] - 1
    nrow = 0
    w = word0
    while w < words and nrow < out.shape[0]:
        grow = w // width
        if words_per_cycle > 0.0:
            out[nrow, 0] = cycle0 + int(grow * width / words_per_cycle + 1e-9)
        else:
            out[nrow, 0] = cycle0
        for c in range(width):
            out[nrow, c + 1] = tile_addr(geom, op, fold, w) if w < words else -1
            w += 1
        nrow += 1
    return nrow


@jit
def format_rows(rows, out):
    """Write ``rows`` (int64, 2-D) as CSV text into ``out`` (uint8): values joined by ``,``,
    rows ended by ``\\n``, as ``numpy.savetxt(fmt="%d", delimiter=",")`` writes them.
    ``out`` needs ``21 * rows.size`` bytes at most.  Returns the bytes used."""
    p = 0
    for r in range(rows.shape[0]):
        for c in range(rows.shape[1]):
            if c > 0:
                out[p] = 44  # ","
                p += 1
            v = rows[r, c]
            if v < 0:
                out[p] = 45  # "-"
                p += 1
                v = -v
            start = p
            while True:
                out[p] = 48 + v % 10
                p += 1
                v //= 10
                if v == 0:
                    break
            i, j = start, p - 1
            while i < j:
                out[i], out[j] = out[j], out[i]
                i += 1
                j -= 1
        out[p] = 10  # "\n"
        p += 1
    return p
