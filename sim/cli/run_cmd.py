"""``vitsim run`` (a trace on an architecture) and ``vitsim gemm`` (one GEMM)."""

from __future__ import annotations

import sys

from sim.cli.common import (
    add_arch_args,
    add_json_arg,
    add_trace_args,
    arch_from_args,
    emit_json,
    trace_from_args,
)
from sim.engine import MODES

__all__ = ["register"]


def register(sub) -> None:
    run = sub.add_parser("run", help="simulate a ViT trace on an architecture")
    add_arch_args(run)
    add_trace_args(run)
    run.add_argument("--out", help="a .json file (summary, layers, ops), a .csv/.parquet file "
                     "(the per-op table), or a folder (no suffix: summary.json, ops.*, "
                     "layers.*)")
    run.add_argument("--format", action="append", choices=("csv", "json", "parquet"),
                     help="table formats when --out is a folder (repeatable; default csv)")
    run.add_argument("--trace-dir", help="write per-cycle SRAM/DRAM address traces here")
    run.add_argument("--ops", action="store_true", help="also print the per-op table")
    add_json_arg(run)
    run.set_defaults(func=_run)

    gemm = sub.add_parser("gemm", help="simulate one GEMM out[M,N] = A[M,K] @ B[K,N]")
    add_arch_args(gemm)
    for dim in ("m", "n", "k"):
        gemm.add_argument(f"--{dim}", type=int, required=True, help=f"GEMM {dim.upper()}")
    gemm.add_argument("--mode", choices=MODES, default="cycle")
    add_json_arg(gemm)
    gemm.set_defaults(func=_gemm)


def _run(args) -> int:
    from sim.api import simulate
    from sim.report.writers import check_out_path, write_report, write_report_file

    out_kind = check_out_path(args.out) if args.out else None
    arch = arch_from_args(args)
    report = simulate(arch, trace_from_args(args), mode=args.mode, trace_dir=args.trace_dir)
    if out_kind == "file":
        write_report_file(report, args.out)
    elif out_kind == "dir":
        write_report(report, args.out, formats=tuple(args.format or ("csv",)))
    if args.json:
        emit_json(report.to_dict())
        return 0
    from sim.report.text import format_report

    sys.stdout.write(format_report(report, ops=args.ops) + "\n")
    if out_kind == "file":
        sys.stdout.write(f"\nwrote {args.out}\n")
    elif out_kind == "dir":
        sys.stdout.write(f"\nwrote {args.out}/summary.json, ops.*, layers.*\n")
    return 0


def _gemm(args) -> int:
    from sim.api import simulate_gemm

    result = simulate_gemm(arch_from_args(args), args.m, args.n, args.k, mode=args.mode)
    if args.json:
        emit_json(result.to_dict())
    else:
        width = max(len(k) for k in result.to_dict())
        for key, value in result.to_dict().items():
            text = f"{value:,.4g}" if isinstance(value, float) else (
                f"{value:,}" if isinstance(value, int) else str(value))
            sys.stdout.write(f"{key:<{width}}  {text}\n")
    return 0
