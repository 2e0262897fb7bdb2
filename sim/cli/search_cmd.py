"""``vitsim search pivot``: PIVOT Phase 2 (cascade x arch co-search) on an efforts file."""

from __future__ import annotations

import sys

from sim.cli.common import add_arch_args, add_json_arg, check_figure_path, emit_json, int_in
from sim.cli.torch_args import add_torch_args

__all__ = ["register"]

_EXAMPLE = """example:
  vitsim search pivot --arch pivot_zcu102 --efforts efforts.yaml --lec 0.5 --acc-drop 0.01 \\
      --grid array.rows,array.cols=32,48,64 --grid array.dataflow=os,ws --plot pareto.png

The efforts file lists each effort's trace (or skip set) and per-input class-mean entropy and
correctness (docs/pivot.md).  The search minimises the expected EDP of the cumulative
cascade subject to f_low >= LEC and accuracy >= baseline - acc-drop."""


def register(sub) -> None:
    import argparse

    search = sub.add_parser("search", help="hardware-in-the-loop co-searches (pivot)")
    ssub = search.add_subparsers(dest="search", required=True, parser_class=type(search))
    p = ssub.add_parser("pivot", help="PIVOT Phase 2: low/high effort, entropy threshold "
                        "and arch point minimising expected EDP under the LEC",
                        epilog=_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arch_args(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--efforts", help="efforts file (YAML/JSON)")
    src.add_argument("--effort", action="append", metavar="NAME=I,J[@CKPT]",
                     help="with --model/--data: an effort skipping the attention of encoders "
                     "I,J,... (empty: none), optional fine-tuned state_dict (repeatable)")
    p.add_argument("--save-efforts", metavar="FILE",
                   help="with --effort: write the measured efforts file here (reusable)")
    p.add_argument("--lec", type=float, required=True,
                   help="low effort constraint: min fraction of inputs the low effort "
                   "classifies, in [0, 1]")
    p.add_argument("--acc-drop", type=float, default=0.01,
                   help="accuracy floor = baseline accuracy - this (absolute; default 0.01)")
    p.add_argument("--baseline", help="reference effort (default: most attentions kept)")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="arch key and values to search (repeatable; keys joined by ',' "
                   "share a value)")
    p.add_argument("--random", type=int_in(1, 10**7),
                   metavar="N", help="N random points of the grid")
    p.add_argument("--seed", type=int_in(0, 2**63 - 1),
                   default=0, help="seed of --random (default 0)")
    p.add_argument("--objective", choices=("expected", "per_image"), default="expected",
                   help="expected: E[E]*E[D] of the cascade (default); per_image: mean E*D")
    p.add_argument("--mode", choices=("cycle", "analytic"), default="cycle")
    p.add_argument("--max-efforts", type=int, choices=(2, 3), default=2,
                   help="longest cascade: 2 (low/high) or 3 (low/mid/high)")
    p.add_argument("--workers", type=int_in(1, 256),
                   help="worker processes (default 1: in process)")
    p.add_argument("--out", help="write every evaluated point to this CSV")
    p.add_argument("--plot", help="write the accuracy-EDP Pareto figure (PNG/SVG/PDF)")
    p.add_argument("--top", type=int_in(0, 10**6),
                   default=8, help="Pareto rows to print (default 8)")
    add_torch_args(p, model=True, calib=None)
    p._option_string_actions["--model"].required = False
    add_json_arg(p)
    p.set_defaults(func=_pivot)


def _pivot(args) -> int:
    from sim.cli.common import arch_from_args
    from sim.errors import ConfigError
    from sim.search.pivot import pivot_search
    from sim.search.pivot.efforts import load_efforts
    from sim.search.sweep.space import parse_axes

    check_figure_path(args.plot, "--plot")
    if args.out and not args.out.lower().endswith(".csv"):
        raise ConfigError(f"--out = {args.out[:200]!r}; must end in .csv")
    arch = arch_from_args(args)
    provenance = {}
    if args.efforts:
        efforts = load_efforts(args.efforts)
    else:
        efforts, provenance = _measured_efforts(args)
    space = parse_axes(args.grid, "--grid") or None
    res = pivot_search(arch, efforts, lec=args.lec, acc_drop=args.acc_drop, space=space,
                       n_random=args.random, seed=args.seed, objective=args.objective,
                       mode=args.mode, baseline=args.baseline,
                       executor="inline" if (args.workers or 1) == 1 else "process",
                       workers=args.workers, max_efforts=args.max_efforts)
    if args.out:
        res.points.to_csv(args.out, index=False)
    if args.plot:
        from sim.plot.pivot import plot_pareto

        fig = plot_pareto(res.points, chosen=res.chosen, baseline=res.baseline,
                          floor=res.settings["accuracy_floor"])
        fig.savefig(args.plot, dpi=130)
    if args.json:
        emit_json({**res.to_dict(), **provenance})
        return 0
    _print(res, args.top)
    return 0


def _measured_efforts(args):
    """Efforts from ``--model/--data`` and ``--effort`` specs (checked before running)."""
    from sim.cli.torch_args import load_from_args
    from sim.errors import ConfigError
    from sim.search.pivot.efforts import make_effort, save_efforts
    from sim.torch.efforts import measure_efforts, parse_effort_spec

    specs = [parse_effort_spec(t) for t in args.effort]
    if not args.model:
        raise ConfigError("--effort needs --model (and --data unless --model digits)")
    loaded = load_from_args(args, need_calib=False, need_val=True)
    rows = measure_efforts(loaded.model, specs, loaded.val, device=loaded.device,
                           amp=args.amp, example=loaded.example)
    efforts = [make_effort(r["name"], r["trace"], r["entropy"], r["correct"], r["skip"])
               for r in rows]
    if args.save_efforts:
        save_efforts(args.save_efforts, efforts)
    return efforts, {"weights": loaded.weights, "data": loaded.data,
                     "efforts_source": "measured"}


def _print(res, top) -> None:
    s, c = res.settings, res.chosen
    w = sys.stdout.write
    w(f"PIVOT Phase 2: {len(res.points)} points, {s['n_arch_points']} arch point(s), "
      f"{s['n_inputs']} inputs; LEC {s['lec']} (>= {s['min_low_inputs']} inputs exit low), "
      f"accuracy floor {s['accuracy_floor']:.4f} (baseline {s['baseline']} "
      f"{s['baseline_accuracy']:.4f})\n")
    if c is None:
        w("no point meets both the LEC and the accuracy floor\n")
    else:
        high = c["high"] or "-"
        mid = f"mid={c['mid']} threshold2={c['threshold2']:.6g} " if c.get("mid") else ""
        w(f"chosen: low={c['low']} {mid}high={high} threshold={c['threshold']:.6g} "
          f"f_low={c['f_low']:.3f} accuracy={c['accuracy']:.4f} "
          f"EDP={c['edp_per_inference_js']:.4g} J*s (EDP of {s['baseline']} on the same arch "
          f"/ this = "
          f"{c['edp_ratio']:.2f})\n")
        keys = [k for k in res.costs.columns
                if k not in ("point_id", "effort", "energy_j", "latency_s")]
        if keys:
            w("arch: " + ", ".join(f"{k}={c[k]}" for k in keys) + "\n")
    cols = [k for k in ("low", "mid", "high", "threshold", "threshold2", "f_low", "accuracy",
                        "latency_s", "energy_j", "edp_per_inference_js", "edp_ratio")
            if k in res.pareto]
    w("\nPareto front (meets LEC):\n")
    w(res.pareto[cols].head(top).to_string(index=False, float_format="%.4g") + "\n")
