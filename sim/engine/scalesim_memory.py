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

from sim.engine.scalesim_compute import Layer
from sim.engine.scalesim_memory_reference import simulate_layer
from sim.errors import ConfigError

__all__ = ["simulate_layers", "scalesim_memory_for_gemms", "scalesim_params"]

OFFSETS = (0, 10_000_000, 20_000_000)


def simulate_layers(layers, dataflow, rows, cols, sram_kb, mode, bandwidth_words=None,
                    offsets=OFFSETS, reference=False, traces=False) -> list[dict]:
    """SCALE-Sim's report items of every layer (see :func:`simulate_layer`).

    ``sram_kb`` may hold fractions (sizes are ``floor(kb * 1024)`` words).  The fast path
    and the reference return identical numbers (tests/test_scalesim_memory.py).
    """
    out = []
    for layer in layers:
        res = simulate_layer(layer, dataflow, rows, cols, sram_kb, mode, bandwidth_words,
                             offsets, traces=traces)
        out.append(res)
    return out


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
    from sim.hw.memory import MEMORY_KEYS, MEMORY_RATE_KEYS

    sizes, bws = scalesim_params(arch)
    kb = [w / 1024 for w in sizes]
    wb = arch.memory.word_bytes
    a = arch.array
    size = len(m)
    out = {key: np.zeros(size, dtype=np.int64) for key in MEMORY_KEYS}
    out.update({key: np.zeros(size) for key in MEMORY_RATE_KEYS})
    cache: dict = {}
    for i in range(size):
        shape = (int(m[i]), int(n[i]), int(k[i]))
        if shape not in cache:
            cache[shape] = simulate_layer(Layer.gemm("g", *shape), a.dataflow, a.rows, a.cols,
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
