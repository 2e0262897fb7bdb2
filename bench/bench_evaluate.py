"""Batched evaluator vs a loop of sim.simulate: DeiT-S designs per second per core.

Both paths evaluate the same random points on the same base arch in the same run:

* **loop**: ``sim.simulate(load_arch(base, overrides=point), trace, mode)`` per point
  (validated arch per point, priced, summary) -- what ``sweep`` did per point in v0.1.0;
* **batched**: one :func:`sim.search.evaluate` call over all points (validation on
  arrays, closed forms and pricing vectorised, the memory walk in one Numba call),
  returning the DataFrame with every summary column, energy included.

Rates are per CPU-second of this single-threaded process (``time.process_time``; BLAS
and OpenMP threads pinned to 1), so on a shared machine they say what one dedicated core
delivers; wall-clock rates and the 1-minute load average are printed beside them.
Reported: median and [min, max] over ``--repeats`` runs.

Spaces (``--space``): ``zcu102`` = rows, cols in [4, 64], dataflow, clock in [100, 300]
MHz on the zcu102 preset (FPGA pricer; the space of bench_sweep.py); ``wide`` = also
precision, SRAM sizes, DRAM bandwidth, vector lanes and overlap on edge_16x16 (ASIC
pricer, SRAM curve per point).

Targets (issue 15): analytic >= 200,000 designs/s/core; cycle >= 100,000 designs/min/core.

Run::

    python bench/bench_evaluate.py [--points 200000] [--cycle-points 5000]
        [--loop-points 300] [--repeats 5] [--space zcu102|wide] [--json]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import sim  # noqa: E402
from sim.config import load_arch  # noqa: E402
from sim.search.evaluate import evaluate  # noqa: E402

TARGETS = {"analytic": ("designs/s/core", 200_000), "cycle": ("designs/min/core", 100_000)}
_BASE = {"zcu102": "zcu102", "wide": "edge_16x16"}


def points(space: str, n: int, seed: int) -> dict:
    """``n`` random points of ``space`` (dict of arrays)."""
    rng = np.random.default_rng(seed)

    def pick(seq):
        return np.array(seq, dtype=object)[rng.integers(0, len(seq), n)]

    pts = {"array.rows": rng.integers(4, 65, n), "array.cols": rng.integers(4, 65, n),
           "array.dataflow": pick(["os", "ws", "is"]), "clock_mhz": rng.uniform(100, 300, n)}
    if space == "wide":
        pts.update({
            "precision": pick(["int8", "int16", "fp16"]),
            "memory.ifmap_kib": np.exp(rng.uniform(np.log(16), np.log(2048), n)),
            "memory.filter_kib": np.exp(rng.uniform(np.log(16), np.log(2048), n)),
            "memory.ofmap_kib": np.exp(rng.uniform(np.log(8), np.log(1024), n)),
            "dram.bandwidth_gbps": rng.uniform(2, 50, n),
            "vector.lanes": rng.integers(8, 257, n),
            "vector.overlap": rng.random(n) < 0.5,
        })
    return pts


def _rows(pts, i):
    return {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in pts.items()}


def _timed(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - t0


def loop_rate(base, trace, pts, mode):
    """Designs per CPU second and per wall second of a ``sim.simulate`` loop."""
    n = len(next(iter(pts.values())))

    def run():
        for i in range(n):
            try:
                sim.simulate(load_arch(base, overrides=_rows(pts, i)), trace, mode=mode)
            except sim.errors.VitsimError:
                pass

    _, cpu, wall = _timed(run)
    return n / cpu, n / wall


def batched_rate(base, trace, pts, mode):
    """Designs per CPU second and per wall second of one ``evaluate`` call."""
    n = len(next(iter(pts.values())))
    df, cpu, wall = _timed(lambda: evaluate(base, trace, pts, mode=mode))
    assert len(df) == n
    return n / cpu, n / wall, float(df["feasible"].mean())


def _stats(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--cycle-points", type=int, default=5_000)
    ap.add_argument("--loop-points", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--space", choices=sorted(_BASE), default="zcu102")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    base, trace = load_arch(_BASE[args.space]), sim.model_trace("deit_s")
    evaluate(base, trace, points(args.space, 50, 0), mode="cycle")  # compile / load kernels
    out = {"space": args.space, "base": base.name, "trace": "deit_s",
           "loadavg_1min": os.getloadavg()[0]}
    for mode, n in (("analytic", args.points), ("cycle", args.cycle_points)):
        loop_cpu, loop_wall, bat_cpu, bat_wall, feas = [], [], [], [], []
        for r in range(args.repeats):
            small = points(args.space, args.loop_points, 1000 + r)
            c, w = loop_rate(base, trace, small, mode)
            loop_cpu.append(c)
            loop_wall.append(w)
            c, w, f = batched_rate(base, trace, points(args.space, n, r), mode)
            bat_cpu.append(c)
            bat_wall.append(w)
            feas.append(f)
        scale = 60.0 if mode == "cycle" else 1.0
        unit, target = TARGETS[mode]
        out[mode] = {
            "unit": unit, "target": target, "points": n, "loop_points": args.loop_points,
            "feasible_fraction": statistics.median(feas),
            "loop_per_cpu": _stats([v * scale for v in loop_cpu]),
            "loop_per_wall": _stats([v * scale for v in loop_wall]),
            "batched_per_cpu": _stats([v * scale for v in bat_cpu]),
            "batched_per_wall": _stats([v * scale for v in bat_wall]),
            "speedup_cpu": statistics.median(bat_cpu) / statistics.median(loop_cpu),
        }
    out["loadavg_1min_end"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        _print(out)
    return out


def _print(out):
    print(f"DeiT-S on {out['base']} ({out['space']} space); load average "
          f"{out['loadavg_1min']:.1f} -> {out['loadavg_1min_end']:.1f}; median [min, max]")
    for mode in ("analytic", "cycle"):
        r = out[mode]

        def f(s):
            return f"{s['median']:>12,.0f} [{s['min']:,.0f}, {s['max']:,.0f}]"

        ok = "meets" if r["batched_per_cpu"]["median"] >= r["target"] else "MISSES"
        print(f"{mode} ({r['unit']}, {r['points']:,} points, "
              f"{r['feasible_fraction']:.0%} feasible):")
        print(f"  simulate loop  per CPU {f(r['loop_per_cpu'])}   wall {f(r['loop_per_wall'])}")
        print(f"  evaluate       per CPU {f(r['batched_per_cpu'])}   wall "
              f"{f(r['batched_per_wall'])}")
        print(f"  speed-up {r['speedup_cpu']:,.0f}x; target {r['target']:,} {r['unit']}: {ok}")


if __name__ == "__main__":
    main()
