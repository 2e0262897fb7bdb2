"""Slow, obvious pure-Python reference of the double-buffered memory walk (the proof of the kernel).

It restates the model of :mod:`sim.engine.memory` from scratch: list every fold with the tile
each operand uses, decide which folds load which tile, then replay the loads, folds and
drains in order.  :func:`reference_gemm` must equal the Numba kernel exactly.
"""

from __future__ import annotations

import math

from sim.hw.memory import half_words

OPS = ("ifmap", "filter", "ofmap")


def _ceil_div(a, b):
    return -(-a // b)


def transfer_cycles(nbytes, bw):
    """Whole cycles to move ``nbytes`` at ``bw`` bytes/cycle (0 if unlimited)."""
    if nbytes <= 0 or math.isinf(bw):
        return 0
    return math.ceil(nbytes / bw - 1e-9)


def fold_tiles(dataflow, m, n, k, rows, cols):
    """Folds in walk order, each ``{"fc", "fr", "ifmap": (key, words), "filter": ...,
    "ofmap": (run_key, words)}``, plus ``(sr, sc, t, pre)``."""
    sr, sc, t, pre = {"os": (m, n, k, 0), "ws": (k, n, m, 1), "is": (k, m, n, 1)}[dataflow]
    nfr, nfc = _ceil_div(sr, rows), _ceil_div(sc, cols)
    folds = []
    for fc in range(nfc):
        for fr in range(nfr):
            rr = min(rows, sr - fr * rows)
            cc = min(cols, sc - fc * cols)
            if dataflow == "os":   # A[M-rows fr, :], B[:, N-cols fc], out block
                tiles = {"ifmap": (("A", fr), rr * k), "filter": (("B", fc), k * cc),
                         "ofmap": (("C", fc, fr), rr * cc)}
            elif dataflow == "ws":  # A[:, K-rows fr], B block, out[:, N-cols fc]
                tiles = {"ifmap": (("A", fr), m * rr), "filter": (("B", fc, fr), rr * cc),
                         "ofmap": (("C", fc), m * cc)}
            else:                   # A block (M-cols fc x K-rows fr), B[K-rows fr, :]
                tiles = {"ifmap": (("A", fc, fr), cc * rr), "filter": (("B", fr), rr * n),
                         "ofmap": (("C", fc), cc * n)}
            folds.append({"fc": fc, "fr": fr, **tiles})
    return folds, (sr, sc, t, pre)


def reference_gemm(m, n, k, *, rows, cols, dataflow, fold_overlap=False,
                   bw=(math.inf, math.inf, math.inf), shared=False, latency=0,
                   half=(1 << 40, 1 << 40, 1 << 40), word_bytes=1):
    """The memory model of one GEMM, slowly.  Returns a dict of the memory keys.

    ``bw`` bytes/cycle per interface (ifmap, filter, ofmap), ``half`` words per SRAM half.
    """
    folds, (sr, sc, t, pre) = fold_tiles(dataflow, m, n, k, rows, cols)
    nf = len(folds)
    per_fold = (1 + pre) * rows + cols + t - 2
    period, tail = (max(t, pre * rows), per_fold - t) if fold_overlap else (per_fold, 0)
    total = {"ifmap": m * k, "filter": k * n, "ofmap": m * n}
    resident = {op: total[op] <= half[i] for i, op in enumerate(OPS)}

    # -- which folds load which tile (inputs) ---------------------------------------------
    loads = {"ifmap": [], "filter": []}           # list of (fold index, bytes)
    for op in ("ifmap", "filter"):
        seen = set()
        for j, f in enumerate(folds):
            key, words = f[op]
            if resident[op]:
                need = key not in seen
            else:
                need = j == 0 or key != folds[j - 1][op][0] or words > half[OPS.index(op)]
            seen.add(key)
            if need:
                loads[op].append((j, int(words * word_bytes)))

    # -- output runs: ws/is accumulate partial sums on chip when the run tile fits ------------
    biggest_out = max(f["ofmap"][1] for f in folds)
    accumulate = dataflow != "os" and (resident["ofmap"] or biggest_out <= half[2])
    runs = []                                      # list of [first fold, last fold, bytes]
    for j, f in enumerate(folds):
        if accumulate and runs and folds[runs[-1][0]]["ofmap"][0] == f["ofmap"][0]:
            runs[-1][1] = j
        else:
            runs.append([j, j, int(f["ofmap"][1] * word_bytes)])
    run_of_fold = {}
    for u, (a, b, _) in enumerate(runs):
        for j in range(a, b + 1):
            run_of_fold[j] = u

    # -- replay --------------------------------------------------------------------------
    chan = {"ifmap": 0, "filter": 0, "ofmap": 0, "shared": 0}

    def channel(op):
        return "shared" if shared else op

    def transfer(op, ready, nbytes):
        c = channel(op)
        begin = max(chan[c], ready)
        cyc = transfer_cycles(nbytes, bw[OPS.index(op)])
        chan[c] = begin + cyc
        return begin + cyc + latency

    load_done = {}                                  # (op, fold) -> arrival time
    load_pos = {op: {j: i for i, (j, _) in enumerate(loads[op])} for op in loads}
    fold_end = {}
    drain_done = {}
    dram = {op: 0 for op in OPS}
    for op in ("ifmap", "filter"):
        if loads[op] and loads[op][0][0] == 0:
            load_done[(op, 0)] = transfer(op, 0, loads[op][0][1])
            dram[op] += loads[op][0][1]
    start = [0] * nf
    stall = fill = 0
    for j in range(nf):
        prev_end = fold_end[j - 1] if j else 0
        s = max([prev_end] + [load_done.get((op, j), 0) for op in ("ifmap", "filter")])
        u = run_of_fold[j]
        if runs[u][0] == j and not resident["ofmap"] and u >= 2:
            s = max(s, drain_done[u - 2])
        start[j] = s
        if j == 0:
            fill = s
        else:
            stall += s - prev_end
        fold_end[j] = s + period + (tail if j == nf - 1 else 0)
        # loads of the next fold, into the idle half
        if j + 1 < nf:
            for op in ("ifmap", "filter"):
                if (j + 1) not in load_pos[op]:
                    continue
                i = load_pos[op][j + 1]
                if resident[op] or i < 2:
                    ready = 0
                else:
                    ready = fold_end[loads[op][i - 1][0] - 1]
                nbytes = loads[op][i][1]
                load_done[(op, j + 1)] = transfer(op, ready, nbytes)
                dram[op] += nbytes
        if runs[u][1] == j:
            drain_done[u] = transfer("ofmap", fold_end[j], runs[u][2])
            dram["ofmap"] += runs[u][2]
    last_end = fold_end[nf - 1]
    drain = max(0, max(drain_done.values()) - last_end)
    compute = nf * period + tail

    # -- zero-stall bandwidth per interface (density of the tightest window) ---------------
    need = []
    for op in ("ifmap", "filter"):
        later = [(j, b) for j, b in loads[op] if j > 0]
        if resident[op]:
            rates = [sum(b for jj, b in later if jj <= j) / (j * period) for j, _ in later]
        else:
            folds_of = [j for j, _ in loads[op]]
            rates = [b / ((j - folds_of[folds_of.index(j) - 1]) * period) for j, b in later]
        need.append(max(rates, default=0.0))
    if resident["ofmap"]:
        rel = [(runs[u][1] + 1, runs[u][2]) for u in range(len(runs)) if runs[u][1] + 1 < nf]
        rates = [sum(b for a, b in rel if a >= s) / ((nf - s) * period) for s, _ in rel]
    else:
        rates = []
        for u, (_first, b, nbytes) in enumerate(runs):
            if b + 1 < nf:
                deadline = runs[u + 2][0] if u + 2 < len(runs) else nf
                rates.append(nbytes / ((deadline - b - 1) * period))
    need.append(max(rates, default=0.0))
    return {
        "stall_cycles": stall, "fill_cycles": fill, "drain_cycles": drain,
        "dram_ifmap_read_bytes": dram["ifmap"], "dram_filter_read_bytes": dram["filter"],
        "dram_ofmap_write_bytes": dram["ofmap"],
        "dram_avg_bytes_per_cycle": sum(dram.values()) / compute,
        "dram_peak_bytes_per_cycle": sum(need),
    }


def reference_for_arch(arch, m, n, k):
    """:func:`reference_gemm` with every parameter taken from an ``ArchConfig``."""
    mem = arch.memory
    bw_i, bw_f, bw_o, shared = arch.dram.bytes_per_cycle(arch.clock_mhz)
    return reference_gemm(
        m, n, k, rows=arch.array.rows, cols=arch.array.cols, dataflow=arch.array.dataflow,
        fold_overlap=arch.array.fold_overlap, bw=(bw_i, bw_f, bw_o), shared=shared,
        latency=arch.dram.latency_cycles,
        half=(half_words(mem.ifmap_kib, mem.word_bytes),
              half_words(mem.filter_kib, mem.word_bytes),
              half_words(mem.ofmap_kib, mem.word_bytes)),
        word_bytes=mem.word_bytes)
