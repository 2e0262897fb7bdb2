"""Numba kernels of the per-cycle SRAM and DRAM address traces (SCALE-Sim's format).

SRAM demand rows follow SCALE-Sim 3.0.0's demand matrices row for row (same skew,
prefix and suffix rows, port order and addresses), so a trace without stalls equals
SCALE-Sim's.  Rows are produced in chunks ``[row0, row0 + out.shape[0])`` so that a large
GEMM never holds its whole trace in memory.

Addresses (words): ifmap ``A[m, k] -> m*K + k``; filter ``B[k, n] -> n*K + k`` (SCALE-Sim
stores each filter's window contiguously); ofmap ``C[m, n] -> m*N + n``; each plus its
operand offset.  ``-1`` marks an idle port.

``geom`` int64 vector: ``(df, R, C, M, N, K, per_fold, off_ifmap, off_filter, off_ofmap,
FR)`` with df 0 os, 1 ws, 2 is and FR the number of row folds.
"""

from __future__ import annotations

from sim.engine._kernels import jit

G_DF, G_R, G_C, G_M, G_N, G_K, G_PER_FOLD, G_OFF_I, G_OFF_F, G_OFF_O, G_NFR = range(11)


@jit
def _addr_a(geom, mm, kk):
    if mm < geom[G_M] and kk < geom[G_K]:
        return geom[G_OFF_I] + mm * geom[G_K] + kk
    return -1


@jit
def _addr_b(geom, kk, nn):
    if kk < geom[G_K] and nn < geom[G_N]:
        return geom[G_OFF_F] + nn * geom[G_K] + kk
    return -1


@jit
def _addr_c(geom, mm, nn):
    if mm < geom[G_M] and nn < geom[G_N]:
        return geom[G_OFF_O] + mm * geom[G_N] + nn
    return -1


@jit
def sram_rows(geom, op, row0, out):
    """Fill ``out[r, 1:]`` with the demand of global row ``row0 + r`` of operand ``op``
    (0 ifmap, 1 filter, 2 ofmap); column 0 is left to the caller (the cycle)."""
    df = geom[G_DF]
    rows = geom[G_R]
    cols = geom[G_C]
    per = geom[G_PER_FOLD]
    nfr = geom[G_NFR]
    if df == 0:
        t = geom[G_K]
    elif df == 1:
        t = geom[G_M]
    else:
        t = geom[G_N]
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
            if df == 0:
                if op == 0 and 0 <= u < t:
                    a = _addr_a(geom, fr * rows + c, u)
                elif op == 1 and 0 <= u < t:
                    a = _addr_b(geom, u, fc * cols + c)
                elif op == 2 and t - 1 <= u < t - 1 + rows:
                    a = _addr_c(geom, fr * rows + rows - 1 - (u - t + 1), fc * cols + c)
            elif df == 1:
                if op == 0 and rows <= u < rows + t:
                    a = _addr_a(geom, u - rows, fr * rows + c)
                elif op == 1 and i < rows:
                    a = _addr_b(geom, fr * rows + rows - 1 - i, fc * cols + c)
                elif op == 2 and 2 * rows - 1 <= u < 2 * rows - 1 + t:
                    a = _addr_c(geom, u - 2 * rows + 1, fc * cols + c)
            else:
                if op == 0 and i < rows:
                    a = _addr_a(geom, fc * cols + c, fr * rows + rows - 1 - i)
                elif op == 1 and rows <= u < rows + t:
                    a = _addr_b(geom, fr * rows + c, u - rows)
                elif op == 2 and 2 * rows - 1 <= u < 2 * rows - 1 + t:
                    a = _addr_c(geom, fc * cols + c, u - 2 * rows + 1)
            out[r, c + 1] = a


@jit
def tile_addr(geom, op, fold, w):
    """Address of word ``w`` (row-major) of the tile operand ``op`` moves for ``fold``."""
    df = geom[G_DF]
    rows = geom[G_R]
    cols = geom[G_C]
    nfr = geom[G_NFR]
    fc = fold // nfr
    fr = fold - fc * nfr
    m = geom[G_M]
    n = geom[G_N]
    k = geom[G_K]
    if df == 0:
        if op == 0:
            return _addr_a(geom, fr * rows + w // k, w % k)
        if op == 1:
            cc = min(cols, n - fc * cols)
            return _addr_b(geom, w // cc, fc * cols + w % cc)
        cc = min(cols, n - fc * cols)
        return _addr_c(geom, fr * rows + w // cc, fc * cols + w % cc)
    if df == 1:
        rr = min(rows, k - fr * rows)
        cc = min(cols, n - fc * cols)
        if op == 0:
            return _addr_a(geom, w // rr, fr * rows + w % rr)
        if op == 1:
            return _addr_b(geom, fr * rows + w // cc, fc * cols + w % cc)
        return _addr_c(geom, w // cc, fc * cols + w % cc)
    rr = min(rows, k - fr * rows)
    cc = min(cols, m - fc * cols)
    if op == 0:
        return _addr_a(geom, fc * cols + w // rr, fr * rows + w % rr)
    if op == 1:
        return _addr_b(geom, fr * rows + w // n, w % n)
    return _addr_c(geom, fc * cols + w // n, w % n)


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
