"""Numba kernel of the double-buffered memory model: an exact event walk over folds.

See :mod:`sim.engine.memory` for the model and ``docs/memory.md`` for its derivation.  The
walk costs O(folds) per GEMM, never O(cycles).  ``sim/engine/memory_reference.py`` is
the slow, obvious Python version this kernel must equal exactly.

Layout of the ``params`` float64 vector (one per call, shared by every GEMM):

====  =========================================================================
idx   meaning (units)
====  =========================================================================
0     rows R of the array
1     cols C of the array
2-5   the dataflow's dims vector (rows dim, cols dim, stream dim, preload rows),
      :mod:`sim.engine._kernels.dataflow`
6     fold_overlap: 1.0 pipelines folds (period max(T, pre*R) + tail), else 0.0
7-9   DRAM bandwidth of ifmap, filter, ofmap, bytes per cycle (``inf`` allowed)
10    1.0 if the three interfaces share one channel, else 0.0
11    DRAM latency, cycles (added once per transfer; transfers are pipelined)
12-14 SRAM half capacity of ifmap, filter, ofmap, words
15    bytes per word
====  =========================================================================

Output columns: ``out_i[g] = (stall, fill, drain, ifmap_bytes, filter_bytes,
ofmap_bytes)`` and ``out_f[g] = (avg_bytes_per_cycle, peak_bytes_per_cycle)``.
"""

from __future__ import annotations

import math

import numpy as np

from sim.engine._kernels import jit
from sim.engine._kernels.dataflow import first_use, fold_dims, spans, tile_key, tile_words
from sim.engine._kernels.layout import (
    P_BW_F,
    P_BW_I,
    P_BW_O,
    P_COLS,
    P_DIMS,
    P_HALF_F,
    P_HALF_I,
    P_HALF_O,
    P_LAT,
    P_OVERLAP,
    P_ROWS,
    P_SHARED,
    P_WORD,
)

#: Slack subtracted before ``ceil`` so that e.g. 96 / 3.2 transfers in 30 cycles, not 31.
XFER_EPS = 1e-9


@jit
def xfer_cycles(nbytes, bw):
    """Cycles to move ``nbytes`` at ``bw`` bytes per cycle (0 for infinite bandwidth)."""
    if nbytes <= 0 or math.isinf(bw):
        return 0
    return int(math.ceil(nbytes / bw - XFER_EPS))


@jit
def kernel_dims(params):
    """The dataflow's dims vector stored in ``params[P_DIMS:P_DIMS + 4]``."""
    dims = np.empty(4, dtype=np.int64)
    for i in range(4):
        dims[i] = int(params[P_DIMS + i])
    return dims


@jit
def _record(events, nev, op, fold, issue, xf, words):
    """Store one transfer in ``events`` (if it has room); return the new count."""
    if nev < events.shape[0] - 1:
        events[nev, 0] = op
        events[nev, 1] = fold
        events[nev, 2] = issue
        events[nev, 3] = xf
        events[nev, 4] = words
    return nev + 1


@jit
def _walk_one(m, n, k, params, diff, starts, events):
    """Walk the folds of one GEMM; return the 6 ints and 2 floats of the output row.

    If ``starts`` has room, ``starts[j]`` receives the start cycle of fold ``j``; if
    ``events`` has rows, row ``e`` receives transfer ``e`` as ``(operand, fold, issue
    cycle, transfer cycles, words)`` (fold = the fold that needs it, or the last fold of
    a drained run) and ``events[-1, 0]`` the number of transfers.
    """
    rows = int(params[P_ROWS])
    cols = int(params[P_COLS])
    dims = kernel_dims(params)
    shared = params[P_SHARED] != 0.0
    lat = int(params[P_LAT])
    wb = params[P_WORD]
    sr, sc, t, pre = fold_dims(dims, m, n, k)
    nfr = (sr + rows - 1) // rows
    nfc = (sc + cols - 1) // cols
    nfold = nfr * nfc
    per_fold = (1 + pre) * rows + cols + t - 2
    if params[P_OVERLAP] != 0.0:
        period = max(t, pre * rows)
        tail = per_fold - t
    else:
        period = per_fold
        tail = 0
    total_words = np.array([m * k, k * n, m * n], dtype=np.int64)
    bw = np.array([params[P_BW_I], params[P_BW_F], params[P_BW_O]])
    half = np.array([params[P_HALF_I], params[P_HALF_F], params[P_HALF_O]])
    fits = np.zeros(3, dtype=np.bool_)
    for x in range(3):
        fits[x] = total_words[x] <= half[x]
    # an ofmap that does not span the rows dim (ws/is) accumulates a run of row folds
    # partial sums on chip if the run's tile fits a half
    out_acc = not spans(dims, 2, 0) and (
        fits[2] or tile_words(dims, 2, m, n, k, rows, min(cols, sc)) <= half[2])
    run_len = nfr if out_acc else 1

    free = np.zeros(3, dtype=np.int64)        # channel free time (index 0 if shared)
    room = np.zeros(2, dtype=np.int64)        # earliest start of the next load (inputs)
    prev_key = np.full(2, -1, dtype=np.int64)
    prev_load = np.full(2, -1, dtype=np.int64)  # fold of the previous load (for peak)
    done_next = np.zeros(2, dtype=np.int64)   # completion of the loads for the next fold
    dbytes = np.zeros(3, dtype=np.int64)
    cum = np.zeros(2)                         # bytes of resident operands fetched so far
    need_rate = np.zeros(3)                   # zero-stall bandwidth per interface, B/cycle
    drain_done1 = 0   # drain completion of output run u-1
    drain_done2 = 0   # drain completion of output run u-2
    last_drain = 0
    for j in range(nfold + 1):
        diff[j] = 0.0

    stall = 0
    fill = 0
    end_prev = 0
    rec_starts = starts.shape[0] >= nfold
    rec_events = events.shape[0] > 0
    nev = 0
    for j in range(nfold):
        fc = j // nfr
        fr = j - fc * nfr
        rr = min(rows, sr - fr * rows)
        cc = min(cols, sc - fc * cols)
        if j == 0:  # the initial fill: fold 0's tiles, from time 0
            for x in range(2):
                words = tile_words(dims, x, m, n, k, rr, cc)
                nbytes = int(words * wb)
                ch = 0 if shared else x
                issue = max(free[ch], 0)
                xf = xfer_cycles(nbytes, bw[x])
                free[ch] = issue + xf
                done_next[x] = issue + xf + lat
                dbytes[x] += nbytes
                if rec_events:
                    nev = _record(events, nev, x, 0, issue, xf, words)
                prev_key[x] = tile_key(dims, x, fr, fc, nfr)
                prev_load[x] = 0
        # ---- start of fold j ----------------------------------------------------------
        start = max(end_prev, max(done_next[0], done_next[1]))
        first_of_run = (j % run_len) == 0
        if first_of_run and not fits[2]:
            start = max(start, drain_done2)
        if j == 0:
            fill = start
        else:
            stall += start - end_prev
        if rec_starts:
            starts[j] = start
        end = start + period
        if j == nfold - 1:
            end += tail
        # ---- issue the loads of fold j+1 into the idle halves -------------------------
        if j + 1 < nfold:
            j2 = j + 1
            fc2 = j2 // nfr
            fr2 = j2 - fc2 * nfr
            rr2 = min(rows, sr - fr2 * rows)
            cc2 = min(cols, sc - fc2 * cols)
            for x in range(2):
                key = tile_key(dims, x, fr2, fc2, nfr)
                words = tile_words(dims, x, m, n, k, rr2, cc2)
                if fits[x]:
                    # whole operand resident: fetch each tile on its first use only
                    need = first_use(dims, x, fr2, fc2)
                    ready = 0
                else:
                    need = key != prev_key[x] or words > half[x]
                    ready = room[x]
                if not need:
                    done_next[x] = 0
                    continue
                nbytes = int(words * wb)
                ch = 0 if shared else x
                issue = max(free[ch], ready)
                xf = xfer_cycles(nbytes, bw[x])
                free[ch] = issue + xf
                done_next[x] = issue + xf + lat
                dbytes[x] += nbytes
                if rec_events:
                    nev = _record(events, nev, x, j2, issue, xf, words)
                # zero-stall rate: resident operands stream from time 0 (cumulative
                # bytes by the deadline); others must arrive within their own window
                if fits[x]:
                    cum[x] += nbytes
                    need_rate[x] = max(need_rate[x], cum[x] / (j2 * period))
                else:
                    need_rate[x] = max(need_rate[x], nbytes / ((j2 - prev_load[x]) * period))
                # the next load overwrites the half this load's predecessor used,
                # free once the fold before this load's fold has ended
                room[x] = end
                prev_key[x] = key
                prev_load[x] = j2
        # ---- drain the outputs of a finished run --------------------------------------
        if (j + 1) % run_len == 0 or j == nfold - 1:
            words = tile_words(dims, 2, m, n, k, rr, cc)
            nbytes = int(words * wb)
            ch = 0 if shared else 2
            issue = max(free[ch], end)
            xf = xfer_cycles(nbytes, bw[2])
            free[ch] = issue + xf
            done = issue + xf + lat
            dbytes[2] += nbytes
            if rec_events:
                nev = _record(events, nev, 2, j, issue, xf, words)
            drain_done2 = drain_done1
            drain_done1 = done
            last_drain = max(last_drain, done)
            if j + 1 < nfold:  # the final drain has no deadline
                if fits[2]:
                    diff[j + 1] += nbytes
                else:
                    b = min(nfold, j + 1 + run_len)
                    need_rate[2] = max(need_rate[2], nbytes / ((b - j - 1) * period))
        end_prev = end
    if rec_events:
        events[events.shape[0] - 1, 0] = nev
    drain = max(0, last_drain - end_prev)
    if fits[2]:  # resident outputs: released after their fold, due by the last fold
        acc = 0.0
        for j in range(nfold - 1, 0, -1):
            acc += diff[j]
            need_rate[2] = max(need_rate[2], acc / ((nfold - j) * period))
    peak = need_rate[0] + need_rate[1] + need_rate[2]
    compute = nfold * period + tail
    total = dbytes[0] + dbytes[1] + dbytes[2]
    avg = total / compute if compute > 0 else 0.0
    return stall, fill, drain, dbytes[0], dbytes[1], dbytes[2], avg, peak


@jit
def memory_walk(m, n, k, params, out_i, out_f):
    """Run the fold walk for every GEMM ``(m[g], n[g], k[g])``; fill ``out_i``/``out_f``.

    ``out_i`` is int64 ``(G, 6)``: stall, fill, drain cycles and DRAM ifmap-read,
    filter-read, ofmap-write bytes.  ``out_f`` is float64 ``(G, 2)``: average and peak
    DRAM bytes per cycle needed for zero stalls.
    """
    rows = int(params[P_ROWS])
    cols = int(params[P_COLS])
    dims = kernel_dims(params)
    max_folds = 1
    for g in range(m.shape[0]):
        sr, sc, _t, _pre = fold_dims(dims, m[g], n[g], k[g])
        f = ((sr + rows - 1) // rows) * ((sc + cols - 1) // cols)
        if f > max_folds:
            max_folds = f
    diff = np.zeros(max_folds + 1)
    no_starts = np.zeros(0, dtype=np.int64)
    no_events = np.zeros((0, 5), dtype=np.int64)
    for g in range(m.shape[0]):
        s, fi, dr, bi, bf, bo, avg, peak = _walk_one(m[g], n[g], k[g], params, diff,
                                                     no_starts, no_events)
        out_i[g, 0] = s
        out_i[g, 1] = fi
        out_i[g, 2] = dr
        out_i[g, 3] = bi
        out_i[g, 4] = bf
        out_i[g, 5] = bo
        out_f[g, 0] = avg
        out_f[g, 1] = peak


@jit
def walk_schedule(m, n, k, params, starts, events):
    """One GEMM's schedule for the address traces: fold starts and transfers.

    ``starts`` (int64, >= folds) receives each fold's start cycle; ``events`` (int64,
    ``(3 * folds + 1, 5)``) the transfers, see :func:`_walk_one`.  Returns the fill cycles.
    """
    diff = np.zeros(starts.shape[0] + 1)
    res = _walk_one(m, n, k, params, diff, starts, events)
    return res[1]


@jit
def memory_walk_points(m, n, k, params, max_folds, out_i):
    """:func:`memory_walk` of many designs (batched evaluator, ``sim.search.evaluate``).

    ``params`` is float64 ``(Q, N_PARAMS)``, one design per row; every GEMM ``(m[u],
    n[u], k[u])`` is walked on every design; ``max_folds`` bounds the folds of any pair.
    ``out_i`` is int64 ``(Q, U, 6)``, the columns of :func:`memory_walk`'s ``out_i``.
    (Kept in this file so that Numba's cache is invalidated with :func:`_walk_one`.)
    """
    diff = np.zeros(max_folds + 1)
    no_starts = np.zeros(0, dtype=np.int64)
    no_events = np.zeros((0, 5), dtype=np.int64)
    for q in range(params.shape[0]):
        p = params[q]
        for u in range(m.shape[0]):
            s, fi, dr, bi, bf, bo, _avg, _peak = _walk_one(m[u], n[u], k[u], p, diff,
                                                          no_starts, no_events)
            out_i[q, u, 0] = s
            out_i[q, u, 1] = fi
            out_i[q, u, 2] = dr
            out_i[q, u, 3] = bi
            out_i[q, u, 4] = bf
            out_i[q, u, 5] = bo
