"""``vitsim schedule``: POMT token-pruning schedule (R, prune layer) from the simulator."""

from __future__ import annotations

import logging
import sys

from sim.cli.common import add_arch_args, add_json_arg, arch_from_args, emit_json, float_in

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser(
        "schedule", help="choose a POMT token-pruning schedule from the simulated L(n)",
        description="POMT: simulate the cost for every token count n, find its steps, "
                    "maximise U(n) = a(1 - L/maxL) + (1 - a) A/maxA and report R. "
                    "Default: R from the input curve (POMT's offline grid), deployed as "
                    "prune-and-merge inside block 3.  See docs/pomt.md.")
    add_arch_args(p)
    p.add_argument("--model", help="built-in model (deit_s, ...); or give --trace")
    p.add_argument("--trace", help="trace file (YAML/JSON) instead of --model")
    p.add_argument("--batch", type=int, help="batch size (default: the trace's, or 1)")
    p.add_argument("--accuracy", help="accuracy CSV (prune_layer,tokens,top1; measured on "
                   "your GPU) or 'digits' (tiny digits ViT, needs torch); default for deit_s: "
                   "the shipped ILLUSTRATIVE synthetic table")
    p.add_argument("--alpha", type=float, default=0.5, help="latency weight a in [0, 1] "
                   "(default 0.5)")
    p.add_argument("--metric", choices=("latency_s", "energy_j", "edp_per_inference_js"),
                   default="latency_s",
                   help="cost in the utility (default latency_s)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--prune-layer", type=int, default=None, metavar="L",
                       help="block (0-based) where prune-and-merge is deployed (default 3)")
    where.add_argument("--joint", action="store_true",
                       help="choose (prune layer, R) together on deployed curves")
    p.add_argument("--layers", help="with --joint: comma-separated candidate blocks "
                   "(default all)")
    p.add_argument("--curve", choices=("input", "deployed"), default="input",
                   help="choose R on the input curve (POMT's released code, default) or on "
                        "the deployed curve (prune at --prune-layer, op cost included)")
    p.add_argument("--mode", choices=("analytic", "cycle"), default="analytic",
                   help="simulator mode (default analytic)")
    p.add_argument("--k", type=float_in(0.01, 1000.0), default=3.0,
                   help="step threshold: L(n+1)-L(n) > k x median increment (default 3)")
    p.add_argument("--compare", action="store_true",
                   help="also simulate Top-K (EViT, blocks 3,6,9) and ToMe at the chosen "
                        "schedule's mean-token budget")
    p.add_argument("--plot", metavar="FILE", help="write the L(n)/U(n) figure (.png/.svg)")
    add_json_arg(p)
    p.set_defaults(func=_schedule)


def _trace(args):
    from sim.errors import ConfigError
    from sim.workload import as_trace

    if not (args.trace or args.model):
        raise ConfigError("give --model (e.g. deit_s) or --trace FILE")
    return as_trace(args.trace or args.model, batch=args.batch)


def _accuracy(args, trace):
    from sim.errors import ConfigError
    from sim.search.pomt.accuracy import resolve_accuracy

    if args.accuracy:
        return resolve_accuracy(args.accuracy)
    if trace.model.name != "deit_s":
        raise ConfigError(f"--accuracy is required for {trace.model.name}: the shipped "
                          "illustrative table is for deit_s only")
    return resolve_accuracy(None)


def _schedule(args) -> int:
    from sim.cli.common import check_figure_path
    from sim.errors import ConfigError
    from sim.search.pomt import DEFAULT_PRUNE_LAYER, choose, choose_joint, latency_curve

    check_figure_path(args.plot, "--plot")
    if args.layers and not args.joint:
        raise ConfigError("--layers only applies with --joint")
    arch = arch_from_args(args)
    trace = _trace(args)
    acc = _accuracy(args, trace)
    if args.joint:
        layers = None
        if args.layers:
            try:
                layers = [int(x) for x in args.layers.split(",") if x.strip()]
            except ValueError:
                raise ConfigError(f"--layers must be comma-separated integers, "
                                  f"not {args.layers!r}") from None
        sched = choose_joint(arch, trace, acc, layers=layers, alpha=args.alpha,
                             metric=args.metric, mode=args.mode, k=args.k)
    else:
        layer = DEFAULT_PRUNE_LAYER if args.prune_layer is None else args.prune_layer
        curve = latency_curve(arch, trace, prune_layer=None if args.curve == "input" else layer,
                              metric=args.metric, mode=args.mode)
        sched = choose(curve, acc, alpha=args.alpha, k=args.k, deploy_layer=layer)
    if not args.accuracy:  # warned once the inputs proved valid (errors stay one line)
        log.warning("used the ILLUSTRATIVE (synthetic) DeiT-S accuracy table; pass "
                    "--accuracy with top-1 measured on your GPU for a real schedule")
    out = sched.to_dict()
    if args.compare:
        from sim.search.pomt.compare import compare

        df = compare(arch, trace, tokens_keep=sched.tokens_keep,
                     prune_layer=sched.prune_layer, mode=args.mode)
        out["comparison"] = df.to_dict(orient="records")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from sim.plot.pomt import curve as plot_curve

        fig = plot_curve(sched.table, sched)
        fig.savefig(args.plot, dpi=150)
        out["plot"] = str(args.plot)
    if args.json:
        emit_json(out)
        return 0
    sys.stdout.write(_text(sched, out) + "\n")
    return 0


def _text(s, out) -> str:
    lines = [
        f"POMT schedule: {s.model} on {s.arch}, batch {s.batch}, metric {s.metric}, "
        f"alpha {s.alpha:g} ({s.curve} curve)",
        f"  keep {s.tokens_keep} of {s.tokens_full} tokens: R = {s.R}, prune-and-merge "
        f"inside block {s.prune_layer}",
        f"  latency {s.baseline_latency_s * 1e3:.4g} ms -> {s.pruned_latency_s * 1e3:.4g} ms "
        f"({s.speedup:.3f}x)",
        f"  accuracy {s.accuracy_baseline:.2f} -> {s.accuracy_pruned:.2f} "
        f"({s.accuracy_source})",
        f"  steps of {s.metric}(n) (k = {s.step_k:g}): {list(s.steps)}",
        f"  exploited: {list(s.steps_exploited)}; chosen n on a step: {s.on_step}",
    ]
    if s.pruned_edp_js is not None:
        lines.insert(4, f"  EDP {s.baseline_edp_js:.4g} -> {s.pruned_edp_js:.4g} J*s")
    for row in out.get("comparison", []):
        lines.append(f"  {row['method']:>5} {row['setting']:<28} mean tokens "
                     f"{row['mean_tokens']:7.2f}  {row['speedup']:.3f}x"
                     f"{'  SLOWER than no pruning' if row['slower'] else ''}")
    if "plot" in out:
        lines.append(f"wrote {out['plot']}")
    return "\n".join(lines)
