"""``vitsim scalesim``: a drop-in for ``python -m scalesim.scale`` (SCALE-Sim 3.0.0)."""

from __future__ import annotations

import sys

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser(
        "scalesim", help="run a SCALE-Sim 3.0.0 cfg + topology, write its reports",
        description="Same flags and defaults as python -m scalesim.scale; writes "
                    "OUTDIR/<run_name>/{COMPUTE,BANDWIDTH,DETAILED_ACCESS}_REPORT.csv.")
    p.add_argument("-t", metavar="TOPOLOGY", default="./topologies/conv_nets/test.csv",
                   help="topology CSV")
    p.add_argument("-l", metavar="LAYOUT", default="./layouts/conv_nets/test.csv",
                   help="layout CSV (not read: custom layouts are refused in the cfg)")
    p.add_argument("-c", metavar="CFG", default="./configs/scale.cfg", help="SCALE-Sim .cfg")
    p.add_argument("-p", metavar="OUTDIR", default="./results/", help="log directory")
    p.add_argument("-i", metavar="conv|gemm", default="conv", choices=("conv", "gemm"),
                   help="topology type")
    p.add_argument("-s", metavar="Y|N", default="Y", choices=("Y", "N"),
                   help="Y: also write per-layer SRAM traces (DRAM traces are not written)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from sim.scalesim import run

    traces = args.s == "Y"
    results = run(args.c, args.t, args.i, args.p, layout=args.l, traces=traces)
    if traces:
        sys.stderr.write("vitsim scalesim: SRAM traces written; DRAM traces are not "
                         "(docs/scalesim.md)\n")
    sys.stdout.write(f"vitsim scalesim: {len(results)} layers, reports in {args.p}\n")
    return 0
