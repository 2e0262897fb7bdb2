"""Numba kernel of SCALE-Sim 3.0.0's memory system for one layer (``memory.model: scalesim``).

Same algorithm as the slow reference :mod:`sim.engine.scalesim_memory_reference` (which
restates SCALE-Sim step by step; the two must agree exactly), but the demand matrices are
never built: the address each array port touches in row ``r`` of fold ``(fc, fr)`` is
computed on the fly from the layer geometry, and the read buffers look addresses up in a
CSR table ``address -> line ids`` of the fetch order (built once per layer in numpy).  The
walk still visits every demand row (SCALE-Sim's stall accounting is per row) but each row
costs a few integer operations per port.

Arrays (all int64): ``geo`` = [df (0 os, 1 ws, 2 is), R, C, H, W, Fh, Fw, Cin, Nf, stride,
Ho, Wo, is_gemm (1 when Fh = C = stride = 1 and Fw = W)];
``par`` = [user (1 USER, 0 CALC), words i, f, o, bw i, f, o]; ``st_x`` = buffer state
vectors (``U_*``, ``E_*``, ``W_*`` indices); ``out`` receives :data:`OUT_KEYS`.
"""

from __future__ import annotations

import numpy as np

from sim.engine._kernels import jit

OUT_KEYS = ("total", "stalls", "sram_i_first", "sram_i_last", "sram_f_first", "sram_f_last",
            "sram_o_first", "sram_o_last", "dram_i_first", "dram_i_last", "dram_i_acc",
            "dram_f_first", "dram_f_last", "dram_f_acc", "dram_o_first", "dram_o_last",
            "dram_o_acc")

# USER read-buffer state (int64 vector)
U_BW, U_ACTIVE, U_PRE, U_ROWS, U_NLINES, U_NACT, U_NPRE, U_WS, U_WE, U_STARTED, \
    U_LAST, U_ACC, U_DFIRST, U_DLAST = range(14)
# CALC read-buffer state
E_PER, E_CNT, E_SET, E_RS, E_RE, E_PFS, E_PFE, E_LS, E_LE, E_FIRST, E_SEEN, E_DONE, \
    E_ACC, E_DFIRST, E_DLAST, E_ROWS = range(16)
# write-buffer state
W_BW, W_ACTIVE, W_DRAIN, W_FREE, W_FILL, W_NL, W_NEXT, W_END, W_ACC, W_FIRST, \
    W_LAST = range(11)


@jit
def antidiagonal(mat, out):
    """``out`` = ``mat`` read along anti-diagonals, bottom row first (O(n) version of
    :func:`sim.engine.scalesim_compute.antidiagonal_order`)."""
    rows, cols = mat.shape
    idx = 0
    for d in range(rows + cols - 1):
        r = min(d, rows - 1)
        low = max(0, d - cols + 1)
        while r >= low:
            out[idx] = mat[r, d - r]
            idx += 1
            r -= 1


@jit
def _ifm(p, j, g):
    """Local ifmap index of output pixel ``p``, window index ``j`` (-1 off the image)."""
    if g[12] == 1:  # a GEMM: A[p, j] = p*K + j
        return p * g[4] + j
    fwc = g[6] * g[7]
    oy = p // g[11]
    ox = p - oy * g[11]
    fy = j // fwc
    rest = j - fy * fwc
    fx = rest // g[7]
    iy = oy * g[9] + fy
    ix = ox * g[9] + fx
    if iy >= g[3] or ix >= g[4]:
        return -1
    return (iy * g[4] + ix) * g[7] + rest - fx * g[7]


@jit
def _dims(g):
    """(Sr, Sc, T) of the dataflow."""
    px, win, nf = g[10] * g[11], g[5] * g[6] * g[7], g[8]
    if g[0] == 0:
        return px, nf, win
    if g[0] == 1:
        return win, nf, px
    return win, px, nf


@jit
def _addr(op, g, fc, fr, r, port, sr, sc, t):
    """Demand address (local index; ofmap: 0) of ``port`` in row ``r`` of fold (fc, fr)."""
    R, C, df = g[1], g[2], g[0]
    win = g[5] * g[6] * g[7]
    if df == 0:
        tt = r - port
        if op == 0:
            row = fr * R + port
            if 0 <= tt < t and row < sr:
                return _ifm(row, tt, g)
        elif op == 1:
            col = fc * C + port
            if 0 <= tt < t and col < sc:
                return col * win + tt
        else:
            ri = tt - (t - 1)
            if 0 <= ri < R and fr * R + R - 1 - ri < sr and fc * C + port < sc:
                return 0
        return -1
    if op == 2:
        tt = r - port - (2 * R - 1)
        if 0 <= tt < t and fc * C + port < sc:
            return 0
        return -1
    if df == 1:
        if op == 0:
            tt = r - port - R
            col = fr * R + port
            if 0 <= tt < t and col < sr:
                return _ifm(tt, col, g)
            return -1
        row = fr * R + R - 1 - r
        col = fc * C + port
        if r < R and row < sr and col < sc:
            return col * win + row
        return -1
    if op == 0:
        k = fr * R + R - 1 - r
        pix = fc * C + port
        if r < R and k < sr and pix < sc:
            return _ifm(pix, k, g)
        return -1
    tt = r - port - R
    k = fr * R + port
    if 0 <= tt < t and k < sr:
        return tt * win + k
    return -1


@jit
def _user_hit(st, start, lines, a):
    ws, we = st[U_WS], st[U_WE]
    first = start[a]
    if first >= 0:  # the address occurs once in the fetch order: start[a] is its line
        if ws < we:
            return ws <= first < we
        return first >= ws or first < we
    base = -first - 1
    for idx in range(base + 1, base + 1 + lines[base]):
        line = lines[idx]
        if ws < we:
            if ws <= line < we:
                return True
        elif line >= ws or line < we:
            return True
    return False


@jit
def _user_next_row(st, rows):
    if rows * st[U_BW] > st[U_ACTIVE]:
        return rows % st[U_ROWS]
    return (rows + 1) % st[U_ROWS]


@jit
def _user_fill(st, cycle):
    rows = min((st[U_ACTIVE] + st[U_BW] - 1) // st[U_BW], st[U_ROWS])
    st[U_ACC] += rows * st[U_BW]
    st[U_DFIRST] = cycle - rows
    st[U_DLAST] = cycle - 1
    st[U_LAST] = cycle - 1
    st[U_STARTED] = 1


@jit
def _user_slide(st):
    start = (st[U_WS] + st[U_NPRE]) % st[U_NLINES]
    st[U_WS] = start
    st[U_WE] = (start + st[U_NACT]) % st[U_NLINES]
    rows = (st[U_PRE] + st[U_BW] - 1) // st[U_BW]
    st[U_ACC] += rows * st[U_BW]
    st[U_LAST] += rows + 1
    if st[U_LAST] > st[U_DLAST]:
        st[U_DLAST] = st[U_LAST]


@jit
def _est_prefetch(st, first, last, pushed, partial):
    """Words of sets ``first..last`` (sets ``0..pushed-1`` are full; ``partial`` = size of
    the final set, index ``pushed``, or 0) and the DRAM rows of one prefetch."""
    n_full = min(last, pushed - 1) - first + 1
    if n_full > 0:
        st[E_ACC] += n_full * st[E_PER]
    if partial > 0 and first <= pushed <= last:
        st[E_ACC] += partial
    n = st[E_LE] - st[E_LS] + 1
    if st[E_ROWS] == 0:
        st[E_DFIRST] = st[E_LS] + 1
    st[E_ROWS] += n
    st[E_DLAST] = st[E_LS] + n


@jit
def _est_manage(st, marks, members, a, cycle):
    """``marks[a]`` = (last set holding ``a``, set id while ``a`` is in the current set)."""
    s = marks[a, 0]
    if s >= 0 and s >= st[E_RS] and s < min(st[E_SET], st[E_RE] + 1):
        return
    if marks[a, 1] == st[E_SET]:
        return
    marks[a, 1] = st[E_SET]
    members[st[E_CNT]] = a
    st[E_CNT] += 1
    if st[E_CNT] != st[E_PER]:
        return
    for i in range(st[E_CNT]):
        marks[members[i], 0] = st[E_SET]
    st[E_CNT] = 0
    st[E_SET] += 1
    if st[E_SET] != st[E_RE] + 1:
        return
    if st[E_DONE] == 0:
        st[E_LE] = st[E_FIRST] - 2
        st[E_LS] = st[E_LE] - (50 * st[E_PER] + 9) // 10 + 1
        _est_prefetch(st, 0, 49, st[E_SET], 0)
        st[E_PFS] = st[E_RE] + 1
        st[E_PFE] = st[E_RE] + 50
        st[E_DONE] = 1
    else:
        _est_prefetch(st, st[E_PFS], st[E_PFE], st[E_SET], 0)
        st[E_PFS] += 50
        st[E_PFE] += 50
    st[E_RS] += 50
    st[E_RE] += 50
    st[E_LS] = st[E_LE] + 1
    st[E_LE] = cycle


@jit
def _est_finish(st):
    partial = st[E_CNT]
    pushed = st[E_SET]
    if partial == 0:
        st[E_SET] -= 1
    if st[E_DONE] == 0:
        st[E_LE] = -2
        n_sets = st[E_SET] + 1
        st[E_LS] = st[E_LE] - (n_sets * st[E_PER] + 9) // 10 + 1
        _est_prefetch(st, 0, n_sets - 1, pushed, partial)
        st[E_DONE] = 1
    else:
        _est_prefetch(st, st[E_PFS], st[E_SET], pushed, partial)


@jit
def _wr_drain(st, lines, start):
    stop = min(st[W_NEXT] + (st[W_DRAIN] + st[W_BW] - 1) // st[W_BW], st[W_NL])
    n = stop - st[W_NEXT]
    words = (n - 1) * st[W_BW] + lines[stop - 1]
    st[W_ACC] += words
    st[W_FREE] += words
    st[W_NEXT] = stop
    if st[W_FIRST] == -(1 << 62) or start < st[W_FIRST]:
        st[W_FIRST] = start
    if start + n - 1 > st[W_LAST]:
        st[W_LAST] = start + n - 1
    return start + n - 1


@jit
def _wr_flush(st, lines):
    if st[W_FILL] > 0:
        lines[st[W_NL]] = st[W_FILL]
        st[W_NL] += 1
        st[W_FILL] = 0


@jit
def _wr_serve(st, lines, now):
    st[W_FILL] += 1
    st[W_FREE] -= 1
    if st[W_FILL] == st[W_BW]:
        lines[st[W_NL]] = st[W_BW]
        st[W_NL] += 1
        st[W_FILL] = 0
    if now < st[W_END]:
        if st[W_FREE] <= 0:
            now = st[W_END]
    elif st[W_FREE] < st[W_ACTIVE]:
        _wr_flush(st, lines)
        st[W_END] = _wr_drain(st, lines, now)
    return now


@jit
def _read_row(op, g, par, st, start, lines, marks, members, fc, fr, r, ports,
              sr, sc, t, cycle, first_last):
    """Serve one demand row of a read operand; returns the service cycle."""
    busy = False
    if par[0] == 1:
        if st[U_STARTED] == 0:
            _user_fill(st, cycle)
        offset = 1
        for port in range(ports):
            a = _addr(op, g, fc, fr, r, port, sr, sc, t)
            if a < 0:
                continue
            busy = True
            guard = 0
            while not _user_hit(st, start, lines, a):
                _user_slide(st)
                late = st[U_LAST] - (cycle + offset)
                offset += late
                if late > 0:
                    offset += late
                guard += 1
                if guard > 4 * st[U_NLINES] + 4:
                    raise ValueError("scalesim memory: an address is never fetched")
        served = cycle + offset
    else:
        for port in range(ports):
            a = _addr(op, g, fc, fr, r, port, sr, sc, t)
            if a < 0:
                continue
            if not busy and st[E_SEEN] == 0:
                st[E_FIRST] = cycle
                st[E_SEEN] = 1
            busy = True
            _est_manage(st, marks, members, a, cycle)
        served = cycle + 1
    if busy:
        if first_last[0] == -(1 << 62):
            first_last[0] = served
        first_last[1] = served
    return served


@jit
def scalesim_layer(g, par, st_i, st_f, st_o, start_i, lines_i, start_f, lines_f,
                   marks_i, memb_i, marks_f, memb_f, wlines, out, served):
    """Walk every demand row of one layer; fill ``out`` (see :data:`OUT_KEYS`) and, when
    ``served`` has one row per demand row, the ifmap/filter/ofmap service cycle of each."""
    R, C = g[1], g[2]
    sr, sc, t = _dims(g)
    fr_n = (sr + R - 1) // R
    fc_n = (sc + C - 1) // C
    rows = t + R + C - 2 if g[0] == 0 else 2 * R + t + C - 2
    ports_i = C if g[0] == 2 else R
    ports_f = R if g[0] == 2 else C
    unset = -(1 << 62)
    fl_i = np.array([unset, unset])
    fl_f = np.array([unset, unset])
    fl_o = np.array([unset, unset])
    stalls = 0
    i = 0
    served_o = 0
    total = unset
    for fc in range(fc_n):
        for fr in range(fr_n):
            for r in range(rows):
                cycle = i + stalls
                ti = _read_row(0, g, par, st_i, start_i, lines_i, marks_i, memb_i,
                               fc, fr, r, ports_i, sr, sc, t, cycle, fl_i)
                tf = _read_row(1, g, par, st_f, start_f, lines_f, marks_f, memb_f,
                               fc, fr, r, ports_f, sr, sc, t, cycle, fl_f)
                now = cycle
                busy = False
                for port in range(C):
                    if _addr(2, g, fc, fr, r, port, sr, sc, t) >= 0:
                        busy = True
                        now = _wr_serve(st_o, wlines, now)
                if busy:
                    if fl_o[0] == unset:
                        fl_o[0] = now
                    fl_o[1] = now
                served_o = now
                if served.shape[0] > i:
                    served[i, 0] = ti
                    served[i, 1] = tf
                    served[i, 2] = now
                if now > total:
                    total = now
                stalls += max(ti - cycle - 1, tf - cycle - 1, now - cycle)
                i += 1
    if par[0] == 0:
        _est_finish(st_i)
        _est_finish(st_f)
    _wr_flush(st_o, wlines)
    cycle = served_o
    while st_o[W_NEXT] < st_o[W_NL]:
        st_o[W_END] = _wr_drain(st_o, wlines, cycle)
        cycle = st_o[W_END] + 1
    d_i = (U_DFIRST, U_DLAST, U_ACC) if par[0] == 1 else (E_DFIRST, E_DLAST, E_ACC)
    vals = (total, stalls, fl_i[0], fl_i[1], fl_f[0], fl_f[1], fl_o[0], fl_o[1],
            st_i[d_i[0]], st_i[d_i[1]], st_i[d_i[2]], st_f[d_i[0]], st_f[d_i[1]],
            st_f[d_i[2]], st_o[W_FIRST], st_o[W_LAST], st_o[W_ACC])
    for j in range(len(vals)):
        out[j] = vals[j]
