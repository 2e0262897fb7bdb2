"""Sweep throughput: DeiT-S model evaluations per second, one core vs all cores.

Every point is a distinct candidate (random rows, cols, dataflow, clock), so each one
pays for building and validating its architecture (:func:`sim.with_overrides`), the
simulation and the row.  Reported: the median of ``--repeats`` runs, as wall-clock rates
and as rates per CPU-second (this process plus its worker processes, from getrusage):
on a shared machine the CPU rate is what one dedicated core delivers, the wall rate is
what you got.  The 1-minute load average is printed with the numbers.

* analytic mode, one core (inline executor) and all cores (process pool);
* the split of one analytic evaluation (build candidate / simulate / hash);
* cycle mode (memory walk + energy), one core, cost per point.

Target (README "Performance"): >= 20,000 analytic DeiT-S evaluations per minute per core.

Run::

    python bench/bench_sweep.py [--points 2000] [--repeats 3] [--workers N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

import sim
from sim.config import arch_hash
from sim.search.sweep import sweep
from sim.search.sweep.executors import default_workers
from sim.search.sweep.space import Space, Uniform

TARGET_PER_MIN_PER_CORE = 20_000


def _space(n: int, seed: int) -> Space:
    return Space.random({"array.rows": Uniform(4, 64, integer=True),
                         "array.cols": Uniform(4, 64, integer=True),
                         "array.dataflow": ["os", "ws", "is"],
                         "clock_mhz": Uniform(100, 300)}, n=n, seed=seed)


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the pool's workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _run(n, seed, mode, executor, workers=None):
    """``(rows per wall second, rows per CPU second, feasible rows)`` of one sweep."""
    trace = sim.model_trace("deit_s")
    c0, t0 = _cpu_s(), time.perf_counter()
    df = sweep("zcu102", [trace], _space(n, seed), executor=executor, workers=workers,
               mode=mode)
    dt, dc = time.perf_counter() - t0, _cpu_s() - c0
    return len(df) / dt, len(df) / dc, int(df["feasible"].sum())


def _split(n=300):
    """CPU milliseconds per analytic evaluation spent in each step (one core)."""
    base, trace = sim.load_arch("zcu102"), sim.model_trace("deit_s")
    pts = _space(n, 99).points()
    t0 = time.process_time()
    archs = [sim.with_overrides(base, p) for p in pts]
    t1 = time.process_time()
    for a in archs:
        sim.simulate(a, trace, mode="analytic")
    t2 = time.process_time()
    for a in archs:
        arch_hash(a)
    t3 = time.process_time()
    return {"build_candidate_ms": (t1 - t0) / n * 1e3, "simulate_ms": (t2 - t1) / n * 1e3,
            "arch_hash_ms": (t3 - t2) / n * 1e3}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=2000, help="analytic points per run")
    p.add_argument("--cycle-points", type=int, default=300, help="cycle-mode points per run")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workers", type=int, default=default_workers())
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    # warm-up (imports, Numba cache, forkserver)
    _run(50, 0, "analytic", "inline")
    _run(20, 0, "cycle", "inline")

    one = [_run(args.points, 1 + r, "analytic", "inline") for r in range(args.repeats)]
    many = [_run(args.points * args.workers, 11 + r, "analytic", "process", args.workers)
            for r in range(args.repeats)]
    cyc = [_run(args.cycle_points, 21 + r, "cycle", "inline") for r in range(args.repeats)]
    med = lambda runs, i: statistics.median(r[i] for r in runs)  # noqa: E731
    r1, c1, rn, cn, rc, cc = (med(one, 0), med(one, 1), med(many, 0), med(many, 1),
                              med(cyc, 0), med(cyc, 1))
    res = {
        "model": "deit_s", "arch": "zcu102", "repeats": args.repeats,
        "load_average_1min": os.getloadavg()[0], "cores": default_workers(),
        "analytic_points_per_run_1core": args.points,
        "analytic_evals_per_s_1core_wall": r1,
        "analytic_evals_per_cpu_s_1core": c1,
        "analytic_evals_per_min_per_core": c1 * 60,
        "analytic_target_per_min_per_core": TARGET_PER_MIN_PER_CORE,
        "analytic_meets_target": c1 * 60 >= TARGET_PER_MIN_PER_CORE,
        "workers": args.workers,
        "analytic_evals_per_s_all_cores_wall": rn,
        "analytic_evals_per_cpu_s_all_cores": cn,
        "scaling_wall": rn / r1, "parallel_efficiency_wall": rn / r1 / args.workers,
        # work per evaluation with the pool vs inline: the scaling one gets on idle cores
        "cpu_efficiency_pool": cn / c1, "projected_scaling": args.workers * cn / c1,
        "cycle_evals_per_s_1core_wall": rc, "cycle_ms_per_point_wall": 1e3 / rc,
        "cycle_cpu_ms_per_point": 1e3 / cc,
        "analytic_split_cpu_ms": _split(),
        "feasible_fraction": one[0][2] / args.points,
    }
    if args.json:
        json.dump(res, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    s = res["analytic_split_cpu_ms"]
    print(f"DeiT-S on zcu102 variants, median of {args.repeats} runs; "
          f"{res['cores']} cores, load average {res['load_average_1min']:.1f}")
    print(f"analytic, 1 core   : {c1:6.0f} evals per CPU-s = {c1 * 60:7,.0f} /min/core "
          f"(target {TARGET_PER_MIN_PER_CORE:,}: "
          f"{'met' if res['analytic_meets_target'] else 'NOT met'}); wall {r1:.0f}/s")
    print(f"analytic, {args.workers} workers: wall {rn:6.0f} evals/s = x{res['scaling_wall']:.2f} "
          f"of 1 core (efficiency {res['parallel_efficiency_wall']:.0%}); "
          f"{cn:.0f} evals per CPU-s = {res['cpu_efficiency_pool']:.0%} of inline, i.e. "
          f"x{res['projected_scaling']:.2f} on {args.workers} idle cores")
    print(f"cycle mode, 1 core : {1e3 / cc:.2f} CPU-ms per point (wall {1e3 / rc:.2f} ms)")
    print(f"one analytic point : build candidate {s['build_candidate_ms']:.2f} + "
          f"simulate {s['simulate_ms']:.2f} + arch hash {s['arch_hash_ms']:.2f} CPU-ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
