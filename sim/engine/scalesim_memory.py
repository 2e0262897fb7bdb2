"""``memory.model: scalesim``: SCALE-Sim 3.0.0's memory system, per layer or per GEMM.

:func:`simulate_layers` returns SCALE-Sim's report items per topology layer (the drop-in
``vitsim scalesim`` writes them); :func:`scalesim_memory_for_gemms` returns the engine's
:data:`~sim.hw.memory.MEMORY_KEYS` / ``MEMORY_RATE_KEYS`` per GEMM so ``simulate_ops`` can
dispatch on ``arch.memory.model``.  Mapping onto the engine's keys (per GEMM instance):

* ``stall_cycles`` = SCALE-Sim's Stall Cycles;
* ``fill_cycles`` = ``-(first DRAM ifmap/filter read cycle)`` (the initial fill, stamped
  before cycle 0);
* ``drain_cycles`` = ``max(0, last DRAM ofmap write - Total Cycles)``, so that
  ``compute + stall + fill + drain`` = SCALE-Sim's ``Total Cycles (incl. prefetch)`` + 1
  whenever the last drain ends after the last SRAM write (vitsim counts cycles, SCALE-Sim
  reports the index of the last one);
* DRAM bytes = SCALE-Sim's DRAM reads/writes (words) x ``word_bytes``;
* ``dram_avg_bytes_per_cycle`` = DRAM bytes / compute cycles;
  ``dram_peak_bytes_per_cycle`` = the sum of SCALE-Sim's three Avg DRAM BW x ``word_bytes``.

The arch must describe something SCALE-Sim can run: per-interface DRAM bandwidths that are
whole words per cycle, ``dram.latency_cycles: 1`` and ``array.fold_overlap: false``
(anything else is a one-line :class:`ConfigError`).
"""

from __future__ import annotations

import math

import numpy as np

from sim.engine.memory import MEMORY_KEYS, MEMORY_RATE_KEYS
from sim.engine.scalesim_compute import (
    Layer,
    fold_stats,
    layer_matrices,
    operand_matrices,
    prefetch_matrices,
)
from sim.engine.scalesim_memory_reference import simulate_layer
from sim.errors import ConfigError, SimulationError

__all__ = ["simulate_layers", "fast_layer", "scalesim_memory_for_gemms", "scalesim_params"]

OFFSETS = (0, 10_000_000, 20_000_000)


#: Most demand rows (folds x rows per fold) or operand words of one layer: SCALE-Sim's
#: memory model steps through every one (a 2^27-row layer takes tens of seconds).
MAX_LAYER_ROWS = 1 << 27


def check_layer_size(layer, dataflow: str, rows: int, cols: int) -> None:
    """Refuse a layer too large to step through (one line naming it)."""
    px, win, nf = layer.pixels, layer.window, layer.num_filters
    sr, sc, t = {"os": (px, nf, win), "ws": (win, nf, px), "is": (win, px, nf)}[dataflow]
    demand = -(-sr // rows) * -(-sc // cols) * (2 * rows + cols + t)
    words = max(px * win, win * nf, px * nf)
    if max(demand, words) > MAX_LAYER_ROWS:
        raise SimulationError(
            f"layer {layer.name!r}: {demand:,} demand rows and {words:,} operand words; "
            f"SCALE-Sim's memory model steps through each and takes at most "
            f"{MAX_LAYER_ROWS:,}: split the layer, or use memory.model: ideal "
            f"(vitsim run, --mode analytic for the compute cycles alone)")


def simulate_layers(layers, dataflow, rows, cols, sram_kb, mode, bandwidth_words=None,
                    offsets=OFFSETS, reference=False, traces=False) -> list[dict]:
    """SCALE-Sim's report items of every layer (see :func:`simulate_layer`).

    ``sram_kb`` may hold fractions (sizes are ``floor(kb * 1024)`` words).  The fast path
    and the reference return identical numbers (tests/test_scalesim_memory.py).
    """
    for layer in layers:  # every size checked before any work
        check_layer_size(layer, dataflow, rows, cols)
    out, seen = [], {}
    for layer in layers:
        shape = (layer.ifmap_h, layer.ifmap_w, layer.filt_h, layer.filt_w, layer.channels,
                 layer.num_filters, layer.stride)
        if shape in seen and not traces:  # identical rows (e.g. attention heads) once
            out.append(seen[shape])
            continue
        if reference:
            res = simulate_layer(layer, dataflow, rows, cols, sram_kb, mode, bandwidth_words,
                                 offsets, traces=traces)
        else:
            res = fast_layer(layer, dataflow, rows, cols, sram_kb, mode, bandwidth_words,
                             offsets, traces=traces)
        seen[shape] = res
        out.append(res)
    return out


def _line_table(prefetch, offset, n_addr, words, bw):
    """Address -> hash-line table of a USER read buffer, and its state vector.

    ``start[a] >= 0``: the address occurs once, in line ``start[a]``.  Otherwise
    ``i = -start[a] - 1`` indexes ``lines``: ``lines[i]`` = how many lines follow, then the
    line ids (an ifmap pixel shared by overlapping conv windows).
    """
    flat = prefetch.ravel()
    fetch_rows = -(-flat.size // bw)
    valid = flat[flat != -1] - offset
    per_line = -(-words // 100)
    line = np.arange(valid.size, dtype=np.int64) // per_line
    counts = np.bincount(valid, minlength=n_addr)
    start = np.full(n_addr, -1, dtype=np.int64)  # never fetched: an empty entry
    if counts.max(initial=0) <= 1:  # every address once (GEMMs): no CSR needed
        start[valid] = line
        return (_line_state(words, bw, fetch_rows, valid.size, per_line), start,
                np.zeros(1, dtype=np.int64))
    order = np.argsort(valid, kind="stable")
    csr = np.zeros(n_addr + 1, dtype=np.int64)
    np.cumsum(counts, out=csr[1:])
    sorted_lines = line[order]
    single = counts == 1
    start[single] = sorted_lines[csr[:-1][single]]
    multi = np.flatnonzero(counts > 1)
    chunks = [np.zeros(1, dtype=np.int64)]
    pos = 1
    for a in multi:
        chunk = sorted_lines[csr[a]:csr[a + 1]]
        start[a] = -pos - 1
        chunks.append(np.concatenate(([chunk.size], chunk)))
        pos += chunk.size + 1
    return (_line_state(words, bw, fetch_rows, valid.size, per_line), start,
            np.concatenate(chunks))


def _line_state(words, bw, fetch_rows, n_valid, per_line):
    """Initial state vector of a USER read buffer (``U_*`` indices of the kernel)."""
    n_lines = n_valid // per_line + 1
    active = math.ceil(words * 0.5)
    n_act = min(n_lines, -(-active // per_line))
    n_pre = min(n_lines - n_act, -(-(words - active) // per_line))
    st = np.zeros(14, dtype=np.int64)
    st[:9] = (bw, active, words - active, fetch_rows, n_lines, n_act, n_pre, 0, n_act)
    return st


def _antidiagonal(mat):
    from sim.engine._kernels.scalesim_memory import antidiagonal

    out = np.empty(mat.size, dtype=np.int64)
    antidiagonal(np.ascontiguousarray(mat, dtype=np.int64), out)
    return out


def fast_layer(layer: Layer, dataflow, rows, cols, sram_kb, mode, bandwidth_words=None,
               offsets=OFFSETS, traces=False) -> dict:
    """:func:`simulate_layer`'s result from the Numba kernel (identical numbers); with
    ``traces`` the demand matrices are built in numpy for the SRAM traces."""
    from sim.engine._kernels import scalesim_memory as _k

    words = [math.floor(kb * 1024) for kb in sram_kb]
    user = mode == "USER"
    bws = tuple(bandwidth_words) if user else (10, 10, cols)
    ho, wo = layer.ofmap_hw
    geo = np.array([("os", "ws", "is").index(dataflow), rows, cols, layer.ifmap_h,
                    layer.ifmap_w, layer.filt_h, layer.filt_w, layer.channels,
                    layer.num_filters, layer.stride, ho, wo,
                    int(layer.filt_h == layer.channels == layer.stride == 1
                        and layer.filt_w == layer.ifmap_w)], dtype=np.int64)
    par = np.array([int(user), *words, *bws], dtype=np.int64)
    n_i = layer.ifmap_h * layer.ifmap_w * layer.channels
    n_f = layer.window * layer.num_filters
    reads_i, reads_f, writes_o, eff, util = fold_stats(layer, dataflow, rows, cols)
    unset = -(1 << 62)
    empty = np.zeros(1, dtype=np.int64)
    if user:
        ifm, flt, _ = operand_matrices(layer, (0, 0, 0))
        pre_i, pre_f = prefetch_matrices(ifm, flt, dataflow, rows, cols, _antidiagonal)
        st_i, start_i, lines_i = _line_table(pre_i, 0, n_i, words[0], bws[0])
        st_f, start_f, lines_f = _line_table(pre_f, 0, n_f, words[1], bws[1])
        est = (np.zeros((1, 2), dtype=np.int64), empty) * 2
    else:
        st_i, st_f = (np.zeros(16, dtype=np.int64) for _ in range(2))
        for st, w in ((st_i, words[0]), (st_f, words[1])):
            st[_k.E_PER], st[_k.E_RE] = w // 100, 49
            st[_k.E_PFS] = st[_k.E_PFE] = -1
            st[_k.E_LS], st[_k.E_LE] = -2, -1
        start_i = lines_i = start_f = lines_f = empty
        est = (np.full((n_i, 2), -1, dtype=np.int64),
               np.zeros(max(1, words[0] // 100), dtype=np.int64),
               np.full((n_f, 2), -1, dtype=np.int64),
               np.zeros(max(1, words[1] // 100), dtype=np.int64))
    st_o = np.zeros(11, dtype=np.int64)
    active_o = math.ceil(words[2] * 0.5)
    st_o[:4] = (bws[2], active_o, words[2] - active_o, words[2])
    st_o[_k.W_FIRST] = st_o[_k.W_LAST] = unset
    wlines = np.zeros(writes_o + 2, dtype=np.int64)
    out = np.zeros(len(_k.OUT_KEYS), dtype=np.int64)
    mats = layer_matrices(layer, dataflow, rows, cols, offsets) if traces else None
    served = np.zeros((len(mats.ofmap_demand) if traces else 0, 3), dtype=np.int64)
    _k.scalesim_layer(geo, par, st_i, st_f, st_o, start_i, lines_i, start_f, lines_f,
                      *est, wlines, out, served)
    v = dict(zip(_k.OUT_KEYS, out.tolist()))
    total = v["total"]
    if total == 0:
        raise SimulationError(f"layer {layer.name}: Total Cycles = 0 (one demand row); "
                              "SCALE-Sim divides by it and crashes")
    sram = [(float(v["sram_i_first"]), float(v["sram_i_last"]), reads_i),
            (float(v["sram_f_first"]), float(v["sram_f_last"]), reads_f),
            (float(v["sram_o_first"]), float(v["sram_o_last"]), writes_o)]
    dram = [(float(v[f"dram_{x}_first"]), float(v[f"dram_{x}_last"]), v[f"dram_{x}_acc"])
            for x in ("i", "f", "o")]
    overall = int(dram[2][1] - min(dram[0][0], dram[1][0]))
    compute = [overall, total, v["stalls"], (layer.macs * 100) / (total * rows * cols),
               sum(eff) / len(eff) * 100, sum(util) / len(util) * 100]
    bandwidth = [x[2] / total for x in sram] + [d[2] / (d[1] - d[0] + 1) for d in dram]
    res = {"compute": compute, "bandwidth": bandwidth,
           "detail": [x for trio in sram + dram for x in trio]}
    if traces:
        res["sram_traces"] = {"IFMAP": (served[:, 0], mats.ifmap_demand),
                              "FILTER": (served[:, 1], mats.filter_demand),
                              "OFMAP": (served[:, 2], mats.ofmap_demand)}
    return res


def scalesim_params(arch):
    """(sram words i/f/o, bandwidth words/cycle i/f/o) of ``arch``; ConfigError if SCALE-Sim
    cannot model it."""
    mem, dram = arch.memory, arch.dram
    src = "memory.model = scalesim"
    if arch.array.fold_overlap:
        raise ConfigError(f"{src}: array.fold_overlap = true; must be false (SCALE-Sim "
                          "never overlaps folds)")
    if dram.bandwidth_gbps is not None:
        raise ConfigError(f"{src}: dram.bandwidth_gbps = {dram.bandwidth_gbps}; SCALE-Sim has "
                          "three DRAM interfaces, set dram.{ifmap,filter,ofmap}_bytes_per_cycle "
                          "and dram.bandwidth_gbps=null")
    if dram.latency_cycles != 1:
        raise ConfigError(f"{src}: dram.latency_cycles = {dram.latency_cycles}; must be 1 "
                          "(SCALE-Sim's fixed DRAM latency)")
    bws = []
    for name in ("ifmap", "filter", "ofmap"):
        value = getattr(dram, f"{name}_bytes_per_cycle")
        words = value / mem.word_bytes
        if not math.isfinite(words) or words < 1 or words != int(words):
            raise ConfigError(f"{src}: dram.{name}_bytes_per_cycle = {value}; must be a whole "
                              f"number (>= 1) of {mem.word_bytes}-byte words per cycle")
        bws.append(int(words))
    sizes = [math.floor(kib * 1024 / mem.word_bytes)
             for kib in (mem.ifmap_kib, mem.filter_kib, mem.ofmap_kib)]
    for name, words in zip(("ifmap", "filter", "ofmap"), sizes):
        if words < 100:
            raise ConfigError(f"{src}: memory.{name}_kib gives {words} words; SCALE-Sim needs "
                              ">= 100 words per SRAM")
    return sizes, bws


def scalesim_memory_for_gemms(arch, m, n, k) -> dict:
    """Engine memory results of each GEMM ``(m[i], n[i], k[i])`` under SCALE-Sim's model."""
    sizes, bws = scalesim_params(arch)
    kb = [w / 1024 for w in sizes]
    wb = arch.memory.word_bytes
    a = arch.array
    size = len(m)
    out = {key: np.zeros(size, dtype=np.int64) for key in MEMORY_KEYS}
    out.update({key: np.zeros(size) for key in MEMORY_RATE_KEYS})
    cache: dict = {}
    for i in range(size):
        check_layer_size(Layer.gemm(f"gemm {i}", int(m[i]), int(n[i]), int(k[i])),
                         a.dataflow, a.rows, a.cols)
    for i in range(size):
        shape = (int(m[i]), int(n[i]), int(k[i]))
        if shape not in cache:
            cache[shape] = fast_layer(Layer.gemm("g", *shape), a.dataflow, a.rows, a.cols,
                                      kb, "USER", bws)
        res = cache[shape]
        comp, det, bw = res["compute"], res["detail"], res["bandwidth"]
        first_read = min(det[9], det[12])
        out["stall_cycles"][i] = comp[2]
        out["fill_cycles"][i] = int(-first_read)
        out["drain_cycles"][i] = max(0, int(det[16]) - comp[1])
        out["dram_ifmap_read_bytes"][i] = det[11] * wb
        out["dram_filter_read_bytes"][i] = det[14] * wb
        out["dram_ofmap_write_bytes"][i] = det[17] * wb
        compute = comp[1] + 1 - comp[2]
        out["dram_avg_bytes_per_cycle"][i] = (det[11] + det[14] + det[17]) * wb / compute
        out["dram_peak_bytes_per_cycle"][i] = sum(bw[3:]) * wb
    return out
