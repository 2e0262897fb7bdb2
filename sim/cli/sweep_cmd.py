"""``vitsim sweep``: a grid or random sweep of arch keys x traces, resumable."""

from __future__ import annotations

import sys

from sim.cli.common import add_arch_args, add_json_arg, arch_from_args, emit_json, int_in

__all__ = ["register"]

_EXAMPLE = """examples:
  vitsim sweep --arch zcu102 --trace deit_s --grid array.rows,array.cols=8,16,32,64,128 \\
      --grid array.dataflow=os,ws,is --mode analytic --out results.parquet
  vitsim sweep --arch zcu102 --trace deit_s --trace deit_t --grid array.rows=16,32,64 \\
      --range clock_mhz=100:300 --random 200 --seed 1 --out rand.csv --workers 2

--grid key[,key2]=v1,v2,...  sweeps a key (keys joined by ',' share one value, e.g. square
arrays); --range key=lo:hi[:log][:int] is a continuous axis for --random.  Rerunning with the
same --out skips the points already there (resume)."""


def register(sub) -> None:
    import argparse

    p = sub.add_parser("sweep", help="sweep arch keys x traces (parallel, resumable)",
                       epilog=_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arch_args(p)
    p.add_argument("--trace", action="append", required=True,
                   help="trace file or built-in model name (repeatable)")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="a swept key and its values (repeatable)")
    p.add_argument("--range", dest="ranges", action="append", default=[],
                   metavar="KEY=LO:HI[:log][:int]", help="a continuous axis (needs --random)")
    p.add_argument("--random", type=int_in(1, 10**7), metavar="N",
                   help="evaluate N random points of the space instead of the full grid")
    p.add_argument("--seed", type=int_in(0, 2**63 - 1),
                   default=0, help="seed of --random (default 0)")
    p.add_argument("--out", help="results: *.parquet (directory of parts) or *.csv; "
                   "a rerun with the same --out resumes")
    p.add_argument("--mode", choices=("cycle", "analytic"), default="cycle",
                   help="cycle: compute + memory stalls (default); analytic: compute only")
    p.add_argument("--workers", type=int_in(1, 256),
                   help="local worker processes (default: all cores; "
                   "1 = in this process)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on a Dask distributed scheduler (needs vitsim[dask])")
    p.add_argument("--batch-size", type=int_in(1, 10**6),
                   help="points per task (default: automatic)")
    p.add_argument("--objective", help="column to minimise and rank by (e.g. "
                   "edp_per_inference_js; "
                   "default latency_s for the printed table)")
    p.add_argument("--top", type=int_in(0, 10**6), default=5, help="best rows to print (default 5)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="tqdm progress bar on stderr (default: when stderr is a terminal)")
    add_json_arg(p)
    p.set_defaults(func=_sweep)


def _traces(names):
    from sim.workload import as_trace

    return [as_trace(name) for name in names]


def _space(args):
    from sim.errors import ConfigError
    from sim.search.sweep.space import Space, parse_axes

    axes = parse_axes(args.grid, "--grid")
    ranges = parse_axes(args.ranges, "--range")
    both = {k for keys in axes for k in keys} & {k for keys in ranges for k in keys}
    if both:
        raise ConfigError(f"{sorted(both)} given as both --grid and --range; give one")
    for keys, values in ranges.items():
        if isinstance(values, list):
            raise ConfigError(f"--range {'+'.join(keys)}: expected lo:hi[:log][:int], "
                              f"not a list (use --grid for a list)")
    for keys, values in axes.items():
        if not isinstance(values, list):
            raise ConfigError(f"--grid {'+'.join(keys)}: a lo:hi range needs --range")
    axes.update(ranges)
    if not axes:
        raise ConfigError("give at least one --grid KEY=V1,V2,... (or --range with --random)")
    if args.random is None and ranges:
        raise ConfigError("--range needs --random N (a continuous axis has no grid)")
    if args.random is None:
        return Space.grid(axes, source="--grid")
    return Space.random(axes, n=args.random, seed=args.seed, source="--grid/--range")


def _sweep(args) -> int:
    import time

    from sim.errors import ConfigError
    from sim.search.sweep import sweep

    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, not {args.workers}")
    if args.scheduler and args.workers:
        raise ConfigError("give --workers (local processes) or --scheduler (Dask), not both")
    if args.out:
        from pathlib import Path

        out = Path(args.out)
        if out.suffix.lower() not in (".csv", ".parquet", ".pq") and not out.is_dir():
            raise ConfigError(f"--out = {args.out[:200]!r}; must end in .parquet (a "
                              "directory of part files) or .csv")
    arch = arch_from_args(args)
    traces = _traces(args.trace)
    space = _space(args)
    progress = args.progress if args.progress is not None else sys.stderr.isatty()
    t0 = time.perf_counter()
    df = sweep(arch, traces, space, objective=args.objective,
               executor=args.scheduler or "process", out=args.out, mode=args.mode,
               workers=args.workers, batch_size=args.batch_size, progress=progress)
    elapsed = time.perf_counter() - t0
    info = df.attrs.get("sweep", {})
    rank = args.objective or "latency_s"
    feasible = df["feasible"].astype(bool)
    best = df[feasible]
    if rank in best:
        best = best.sort_values(rank, kind="stable")
    best = best.head(max(0, args.top))
    cols = ["trace", *space.keys] + [c for c in (rank, "latency_s", "energy_j",
                                                  "edp_per_inference_js", "utilization")
                                      if c in df]
    cols = list(dict.fromkeys(cols))
    summary = {
        "out": args.out, "mode": args.mode, "rows": len(df),
        "points": len(df) // max(1, len(traces)), "traces": [t.name for t in traces],
        "feasible": int(feasible.sum()),
        "infeasible": int((df["status"] == "infeasible").sum()),
        "errors": int((df["status"] == "error").sum()),
        "resumed": info.get("resumed", 0), "evaluated": info.get("evaluated", len(df)),
        "elapsed_s": elapsed,
        "rows_per_s": info.get("evaluated", 0) / elapsed if elapsed > 0 else None,
        "ranked_by": rank, "best": best[cols].to_dict("records"),
    }
    if args.json:
        emit_json(summary)
        return 0
    w = sys.stdout.write
    w(f"sweep: {summary['rows']} rows ({summary['points']} points x {len(traces)} traces), "
      f"{summary['feasible']} feasible, {summary['infeasible']} infeasible"
      + (f", {summary['errors']} errors" if summary["errors"] else "")
      + f"; {summary['evaluated']} evaluated, {summary['resumed']} resumed in "
      f"{elapsed:.2f} s\n")
    if args.out:
        w(f"wrote {args.out}\n")
    if len(best):
        w(f"\nbest {len(best)} by {rank}:\n")
        w(best[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}") + "\n")
    if summary["infeasible"]:
        reason = df.loc[df["status"] == "infeasible", "reason"].iloc[0]
        w(f"\ne.g. infeasible: {reason}\n")
    return 0
