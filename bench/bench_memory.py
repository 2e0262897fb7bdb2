"""Benchmark and SCALE-Sim comparison of the memory model (``docs/memory.md``).

Usage::

    PYTHONPATH=. /work/venv/bin/python bench/bench_memory.py             # timing
    PYTHONPATH=. /work/venv/bin/python bench/bench_memory.py --compare   # + USER table

Timing: the whole DeiT-B trace on a 32x32 OS array in cycle mode (fold walk + memory),
median of repeats after a warm-up, beside SCALE-Sim 3.0.0 on one 197x384x384 GEMM (32x32,
USER mode, 32 words/cycle) when SCALE-Sim is installed (``$SCALESIM_PYTHON``, default
``/work/scalesim-venv/bin/python``).

``--compare`` runs SCALE-Sim 3.0.0 in USER mode on :data:`USER_CASES` (1-8 words/cycle,
SRAMs smaller than the operands; ~15 minutes on 2 cores) and prints ours vs theirs; the printed dict
is what ``tests/test_memory.py`` keeps as ``SCALESIM_USER_EXTRA``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "data"))

import numpy as np  # noqa: E402

import sim  # noqa: E402
from sim.config import arch_from_dict, load_arch  # noqa: E402
from sim.engine.compute import compute_cycles  # noqa: E402
from sim.engine.memory import memory_for_gemms  # noqa: E402

#: (dataflow, m, n, k, rows, cols, sram_kb (ifmap, filter, ofmap), words/cycle (i, f, o)):
#: 24 hand-picked cases, then 72 random ones (12 configs x 6 GEMMs of 8..120, seed 7).
USER_CASES = [
    ('os', 40, 8, 96, 8, 8, (2, 2, 1), (2, 2, 2)),
    ('os', 64, 16, 100, 8, 16, (2, 1, 1), (4, 4, 4)),
    ('os', 100, 8, 64, 8, 8, (2, 1, 1), (1, 1, 1)),
    ('os', 197, 16, 64, 16, 16, (4, 2, 1), (8, 8, 8)),
    ('os', 8, 64, 200, 8, 8, (1, 2, 1), (2, 2, 2)),
    ('os', 16, 96, 128, 16, 8, (1, 2, 1), (4, 4, 4)),
    ('os', 60, 30, 50, 8, 8, (1, 1, 1), (2, 2, 2)),
    ('os', 128, 32, 32, 16, 16, (2, 1, 1), (4, 4, 4)),
    ('ws', 64, 64, 64, 8, 8, (8, 1, 1), (4, 4, 4)),
    ('ws', 100, 32, 40, 8, 8, (4, 1, 2), (2, 2, 2)),
    ('ws', 197, 32, 64, 16, 16, (8, 1, 4), (8, 8, 8)),
    ('ws', 50, 64, 32, 8, 8, (2, 1, 1), (1, 1, 1)),
    ('ws', 80, 48, 48, 16, 8, (4, 1, 1), (4, 4, 4)),
    ('ws', 120, 16, 96, 8, 16, (1, 1, 2), (8, 8, 8)),
    ('ws', 64, 40, 24, 8, 8, (1, 1, 1), (2, 2, 2)),
    ('ws', 150, 24, 32, 8, 8, (2, 1, 2), (2, 4, 2)),
    ('is', 64, 64, 64, 8, 8, (1, 8, 1), (4, 4, 4)),
    ('is', 32, 100, 40, 8, 8, (1, 4, 2), (2, 2, 2)),
    ('is', 32, 197, 64, 16, 16, (1, 8, 4), (8, 8, 8)),
    ('is', 64, 50, 32, 8, 8, (1, 2, 1), (1, 1, 1)),
    ('is', 48, 80, 48, 8, 16, (1, 4, 1), (4, 4, 4)),
    ('is', 16, 120, 96, 16, 8, (1, 1, 2), (8, 8, 8)),
    ('is', 40, 64, 24, 8, 8, (1, 1, 1), (2, 2, 2)),
    ('is', 24, 150, 32, 8, 8, (1, 2, 2), (4, 2, 2)),
    ('os', 104, 51, 27, 4, 4, (2, 1, 2), (1, 1, 8)),
    ('os', 70, 61, 13, 4, 4, (2, 1, 2), (1, 1, 8)),
    ('os', 93, 17, 105, 4, 4, (2, 1, 2), (1, 1, 8)),
    ('os', 79, 81, 109, 4, 4, (2, 1, 2), (1, 1, 8)),
    ('os', 120, 112, 48, 4, 4, (2, 1, 2), (1, 1, 8)),
    ('os', 51, 96, 52, 4, 4, (2, 1, 2), (1, 1, 8)),
    ('os', 84, 71, 82, 4, 8, (1, 2, 1), (2, 1, 2)),
    ('os', 110, 66, 16, 4, 8, (1, 2, 1), (2, 1, 2)),
    ('os', 115, 19, 42, 4, 8, (1, 2, 1), (2, 1, 2)),
    ('os', 68, 97, 93, 4, 8, (1, 2, 1), (2, 1, 2)),
    ('os', 16, 15, 101, 4, 8, (1, 2, 1), (2, 1, 2)),
    ('os', 97, 47, 90, 4, 8, (1, 2, 1), (2, 1, 2)),
    ('os', 81, 95, 113, 8, 4, (2, 2, 1), (2, 1, 8)),
    ('os', 65, 44, 99, 8, 4, (2, 2, 1), (2, 1, 8)),
    ('os', 57, 93, 52, 8, 4, (2, 2, 1), (2, 1, 8)),
    ('os', 10, 67, 53, 8, 4, (2, 2, 1), (2, 1, 8)),
    ('os', 29, 86, 22, 8, 4, (2, 2, 1), (2, 1, 8)),
    ('os', 71, 15, 35, 8, 4, (2, 2, 1), (2, 1, 8)),
    ('os', 106, 44, 24, 8, 8, (2, 1, 1), (2, 1, 8)),
    ('os', 102, 39, 58, 8, 8, (2, 1, 1), (2, 1, 8)),
    ('os', 58, 119, 71, 8, 8, (2, 1, 1), (2, 1, 8)),
    ('os', 18, 29, 65, 8, 8, (2, 1, 1), (2, 1, 8)),
    ('os', 59, 78, 43, 8, 8, (2, 1, 1), (2, 1, 8)),
    ('os', 25, 112, 63, 8, 8, (2, 1, 1), (2, 1, 8)),
    ('ws', 118, 78, 43, 4, 4, (4, 2, 1), (2, 1, 8)),
    ('ws', 98, 61, 53, 4, 4, (4, 2, 1), (2, 1, 8)),
    ('ws', 95, 56, 37, 4, 4, (4, 2, 1), (2, 1, 8)),
    ('ws', 27, 18, 30, 4, 4, (4, 2, 1), (2, 1, 8)),
    ('ws', 27, 37, 92, 4, 4, (4, 2, 1), (2, 1, 8)),
    ('ws', 37, 9, 70, 4, 4, (4, 2, 1), (2, 1, 8)),
    ('ws', 114, 83, 31, 4, 8, (1, 2, 2), (2, 1, 8)),
    ('ws', 41, 44, 8, 4, 8, (1, 2, 2), (2, 1, 8)),
    ('ws', 26, 61, 76, 4, 8, (1, 2, 2), (2, 1, 8)),
    ('ws', 55, 86, 80, 4, 8, (1, 2, 2), (2, 1, 8)),
    ('ws', 48, 24, 96, 4, 8, (1, 2, 2), (2, 1, 8)),
    ('ws', 117, 73, 87, 4, 8, (1, 2, 2), (2, 1, 8)),
    ('ws', 91, 94, 102, 8, 4, (2, 4, 1), (1, 2, 4)),
    ('ws', 14, 66, 119, 8, 4, (2, 4, 1), (1, 2, 4)),
    ('ws', 107, 119, 95, 8, 4, (2, 4, 1), (1, 2, 4)),
    ('ws', 110, 79, 58, 8, 4, (2, 4, 1), (1, 2, 4)),
    ('ws', 58, 59, 58, 8, 4, (2, 4, 1), (1, 2, 4)),
    ('ws', 21, 69, 89, 8, 4, (2, 4, 1), (1, 2, 4)),
    ('ws', 59, 15, 32, 8, 8, (1, 4, 1), (1, 2, 4)),
    ('ws', 16, 34, 64, 8, 8, (1, 4, 1), (1, 2, 4)),
    ('ws', 28, 22, 51, 8, 8, (1, 4, 1), (1, 2, 4)),
    ('ws', 84, 14, 21, 8, 8, (1, 4, 1), (1, 2, 4)),
    ('ws', 8, 80, 27, 8, 8, (1, 4, 1), (1, 2, 4)),
    ('ws', 76, 20, 54, 8, 8, (1, 4, 1), (1, 2, 4)),
    ('is', 86, 11, 17, 4, 4, (4, 4, 2), (4, 8, 8)),
    ('is', 119, 34, 86, 4, 4, (4, 4, 2), (4, 8, 8)),
    ('is', 56, 27, 89, 4, 4, (4, 4, 2), (4, 8, 8)),
    ('is', 40, 52, 85, 4, 4, (4, 4, 2), (4, 8, 8)),
    ('is', 54, 68, 23, 4, 4, (4, 4, 2), (4, 8, 8)),
    ('is', 22, 116, 70, 4, 4, (4, 4, 2), (4, 8, 8)),
    ('is', 67, 69, 69, 4, 8, (2, 2, 2), (2, 2, 8)),
    ('is', 47, 18, 26, 4, 8, (2, 2, 2), (2, 2, 8)),
    ('is', 21, 103, 51, 4, 8, (2, 2, 2), (2, 2, 8)),
    ('is', 102, 41, 69, 4, 8, (2, 2, 2), (2, 2, 8)),
    ('is', 114, 96, 28, 4, 8, (2, 2, 2), (2, 2, 8)),
    ('is', 74, 10, 34, 4, 8, (2, 2, 2), (2, 2, 8)),
    ('is', 75, 54, 26, 8, 4, (1, 1, 2), (8, 4, 8)),
    ('is', 96, 77, 11, 8, 4, (1, 1, 2), (8, 4, 8)),
    ('is', 105, 75, 46, 8, 4, (1, 1, 2), (8, 4, 8)),
    ('is', 90, 118, 19, 8, 4, (1, 1, 2), (8, 4, 8)),
    ('is', 97, 116, 41, 8, 4, (1, 1, 2), (8, 4, 8)),
    ('is', 74, 54, 29, 8, 4, (1, 1, 2), (8, 4, 8)),
    ('is', 53, 106, 36, 8, 8, (2, 2, 1), (1, 8, 2)),
    ('is', 76, 77, 107, 8, 8, (2, 2, 1), (1, 8, 2)),
    ('is', 72, 50, 89, 8, 8, (2, 2, 1), (1, 8, 2)),
    ('is', 36, 86, 111, 8, 8, (2, 2, 1), (1, 8, 2)),
    ('is', 108, 105, 117, 8, 8, (2, 2, 1), (1, 8, 2)),
    ('is', 32, 111, 38, 8, 8, (2, 2, 1), (1, 8, 2)),
]

#: SCALE-Sim 3.0.0's fixed DRAM latency (read/write port), cycles.
SCALESIM_LATENCY = 1


def scalesim_arch(dataflow, rows, cols, sram_kb, words_per_cycle, latency=SCALESIM_LATENCY):
    """The vitsim arch equivalent to a SCALE-Sim USER-mode config (1-byte words)."""
    return arch_from_dict({
        "schema_version": 1, "name": "scalesim_user", "clock_mhz": 1000, "precision": "int8",
        "array": {"rows": rows, "cols": cols, "dataflow": dataflow},
        "memory": {"ifmap_kib": sram_kb[0], "filter_kib": sram_kb[1],
                   "ofmap_kib": sram_kb[2], "word_bytes": 1},
        "dram": {"ifmap_bytes_per_cycle": words_per_cycle[0],
                 "filter_bytes_per_cycle": words_per_cycle[1],
                 "ofmap_bytes_per_cycle": words_per_cycle[2], "latency_cycles": latency}})


def ours(dataflow, m, n, k, rows, cols, sram_kb, words_per_cycle) -> dict:
    """Our memory results for one SCALE-Sim-style case, plus ``compute_cycles`` and
    ``total_cycles`` (compute + stall + fill + drain)."""
    arch = scalesim_arch(dataflow, rows, cols, sram_kb, words_per_cycle)
    res = {key: val[0].item() for key, val in memory_for_gemms(arch, [m], [n], [k]).items()}
    res["compute_cycles"] = int(compute_cycles(dataflow, m, n, k, rows, cols))
    res["total_cycles"] = (res["compute_cycles"] + res["stall_cycles"] + res["fill_cycles"]
                           + res["drain_cycles"])
    return res


def bench_deit_b(repeats: int = 7) -> list[float]:
    """Wall times (s) of the whole DeiT-B trace, 32x32 OS, cycle mode, after a warm-up."""
    arch = load_arch("scalesim_32x32")
    trace = sim.model_trace("deit_b")
    run = getattr(sim, "simulate", None)
    if run is None:  # before sim.simulate exists
        from sim.engine import simulate_ops
        from sim.workload import lower

        def run(a, t, mode="cycle"):
            return simulate_ops(a, lower(t), mode)
    run(arch, trace, mode="cycle")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(arch, trace, mode="cycle")
        times.append(time.perf_counter() - start)
    return times


def bench_walk_only(repeats: int = 7) -> list[float]:
    """Wall times (s) of the memory walk alone on DeiT-B's GEMMs (32x32 OS, one call)."""
    from sim.workload import lower

    arch = load_arch("scalesim_32x32")
    ops = lower(sim.model_trace("deit_b"))
    g = ops.is_gemm
    m, n, k = ops.m[g], ops.n[g], ops.k[g]
    memory_for_gemms(arch, m, n, k)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        memory_for_gemms(arch, m, n, k)
        times.append(time.perf_counter() - start)
    return times


def compare(cases=USER_CASES) -> dict:
    """Run SCALE-Sim on ``cases``; return ``{case: (total_incl_prefetch, dram_i, dram_f)}``."""
    import scalesim_oracle as oracle

    out = {}
    for df, m, n, k, rows, cols, kb, bw in cases:
        res, _ = oracle.run_scalesim([("g", m, n, k)], rows, cols, df, "USER", kb, bw)
        r = res[0]
        out[(df, m, n, k, rows, cols, kb, bw)] = (
            r["total_cycles_incl_prefetch"], r["dram_ifmap_reads"], r["dram_filter_reads"])
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--compare", action="store_true",
                        help="run SCALE-Sim on USER_CASES and print the comparison table")
    parser.add_argument("--no-scalesim", action="store_true")
    args = parser.parse_args(argv)
    times = bench_deit_b(args.repeats)
    med = statistics.median(times)
    print(f"vitsim DeiT-B whole trace, 32x32 os, cycle mode: median {med * 1e3:.2f} ms "
          f"over {len(times)} runs (min {min(times) * 1e3:.2f} ms)")
    walk = bench_walk_only(args.repeats)
    print(f"  of which the memory walk (memory_for_gemms, all GEMMs in one kernel call): "
          f"median {statistics.median(walk) * 1e3:.3f} ms")
    if not args.no_scalesim:
        import scalesim_oracle as oracle

        if oracle.scalesim_available():
            gemm = ("PROJ", 197, 384, 384)
            _, wall = oracle.run_scalesim([gemm], 32, 32, "os", "USER", (256, 256, 128),
                                          (32, 32, 32))
            ours_one = []
            arch = scalesim_arch("os", 32, 32, (256, 256, 128), (32, 32, 32))
            for _ in range(args.repeats):
                start = time.perf_counter()
                memory_for_gemms(arch, np.array([197]), np.array([384]), np.array([384]))
                ours_one.append(time.perf_counter() - start)
            print(f"SCALE-Sim 3.0.0 one 197x384x384 GEMM, 32x32 os USER: {wall:.2f} s "
                  f"(subprocess incl. start-up); vitsim same GEMM "
                  f"{statistics.median(ours_one) * 1e6:.1f} us; "
                  f"ratio SCALE-Sim GEMM / vitsim whole DeiT-B = {wall / med:,.0f}x")
        else:
            print("SCALE-Sim venv not found; skipped the SCALE-Sim timing")
    if args.compare:
        theirs = compare()
        print(f"{'case':58s} {'ours':>8s} {'SCALE-Sim':>9s} {'err%':>6s}  dram i/f ours vs theirs")
        for case, (tot, di, dfr) in theirs.items():
            o = ours(*case)
            err = 100.0 * (o["total_cycles"] / tot - 1.0)
            print(f"{str(case):58s} {o['total_cycles']:8d} {tot:9d} {err:+6.1f}  "
                  f"{o['dram_ifmap_read_bytes']}/{di} {o['dram_filter_read_bytes']}/{dfr}")
        print("SCALESIM_USER_EXTRA =", {k: v for k, v in theirs.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
