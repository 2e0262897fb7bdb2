"""``vitsim schedule``: POMT token-pruning schedule (R, prune layer) from the simulator."""

from __future__ import annotations

import logging
import sys

from sim.cli.common import add_arch_args, add_json_arg, arch_from_args, emit_json, float_in
from sim.cli.torch_args import add_torch_args, load_from_args

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
    p.add_argument("--model", help="built-in model (deit_s, ...); or give --trace; with "
                   "--measure: a torch model (timm:NAME, digits, ...)")
    p.add_argument("--trace", help="trace file (YAML/JSON) instead of --model")
    p.add_argument("--batch", type=int, help="batch size (default: the trace's, or 1)")
    p.add_argument("--accuracy", help="accuracy CSV (prune_layer,tokens,top1; measured on "
                   "your GPU) or 'digits' (tiny digits ViT, needs torch)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--measure", action="store_true",
                     help="measure A(n) on --model with --data (CLS + n-1 random patch "
                     "tokens kept at the input, --val images), write --accuracy-out, use it")
    src.add_argument("--illustrative", action="store_true",
                     help="use the shipped SYNTHETIC DeiT-S table (not a measurement)")
    p.add_argument("--accuracy-out", metavar="CSV",
                   help="with --measure: where to write A(n) (default "
                   "pomt_accuracy_<model>.csv)")
    p.add_argument("--token-step", type=int, default=1,
                   help="with --measure: every k-th token count (ends kept; default 1)")
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
    add_torch_args(p, model=False, calib=None)
    add_json_arg(p)
    p.set_defaults(func=_schedule)


def _trace(args):
    from sim.errors import ConfigError
    from sim.workload import as_trace

    if not (args.trace or args.model):
        raise ConfigError("give --model (e.g. deit_s) or --trace FILE")
    return as_trace(args.trace or args.model, batch=args.batch)


def _accuracy(args, trace):
    """``(AccuracySource, kind)``; kind is ``file`` or ``illustrative``."""
    from sim.errors import ConfigError
    from sim.search.pomt.accuracy import resolve_accuracy

    if args.accuracy and args.illustrative:
        raise ConfigError("--accuracy and --illustrative exclude each other")
    if args.accuracy:
        kind = "measured" if args.accuracy == "digits" else "file"
        return resolve_accuracy(args.accuracy), kind
    if not args.illustrative:
        raise ConfigError("accuracy = None; must be --measure (with --data), --accuracy CSV "
                          "or --illustrative (the shipped synthetic DeiT-S table)")
    if trace.model.name != "deit_s":
        raise ConfigError(f"--illustrative = deit_s table; must not be used for "
                          f"{trace.model.name}: give --accuracy or --measure")
    return resolve_accuracy(None), "illustrative"


def _measure(args):
    """Measure A(n) on the torch model: ``(trace, source, provenance dict)``."""
    from pathlib import Path

    from sim.errors import ConfigError
    from sim.search.pomt.accuracy import load_accuracy
    from sim.torch.export import export_trace
    from sim.torch.pomt_measure import measure_input_accuracy, write_accuracy_csv
    from sim.workload import as_trace

    if not args.model:
        raise ConfigError("--measure needs --model (timm:NAME, digits, ...)")
    if args.accuracy:
        raise ConfigError("--measure and --accuracy exclude each other")
    loaded = load_from_args(args, need_calib=False, need_val=True)
    if args.trace:
        trace = as_trace(args.trace, batch=args.batch)
    else:
        b = args.batch or 1
        example = loaded.example.repeat(b, *([1] * (loaded.example.dim() - 1)))
        trace = export_trace(loaded.model, example)
    rows = measure_input_accuracy(loaded.model, loaded.val, step=args.token_step,
                                  seed=args.data_seed, device=loaded.device, amp=args.amp)
    safe = args.model.replace(":", "_").replace("/", "_")
    path = Path(args.accuracy_out or f"pomt_accuracy_{safe}.csv")
    write_accuracy_csv(rows, path, comment=(
        f"A(n) MEASURED by vitsim schedule --measure: CLS + n-1 random patch tokens kept at "
        f"the input\nmodel {args.model}; weights {loaded.weights}; data {loaded.data}; "
        f"images {rows[0]['images']}"))
    return trace, load_accuracy(path), {"weights": loaded.weights, "data": loaded.data,
                                        "accuracy_file": str(path)}


def _schedule(args) -> int:
    from sim.cli.common import check_figure_path
    from sim.errors import ConfigError
    from sim.search.pomt import DEFAULT_PRUNE_LAYER, choose, choose_joint, latency_curve

    check_figure_path(args.plot, "--plot")
    if args.layers and not args.joint:
        raise ConfigError("--layers only applies with --joint")
    arch = arch_from_args(args)
    provenance = {}
    if args.measure:
        trace, acc, provenance = _measure(args)
        kind = "measured"
    else:
        trace = _trace(args)
        acc, kind = _accuracy(args, trace)
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
    if kind == "illustrative":  # warned once the inputs proved valid (errors stay one line)
        log.warning("used the ILLUSTRATIVE (synthetic) DeiT-S accuracy table, not a "
                    "measurement: pass --measure or --accuracy for a real schedule")
    out = sched.to_dict()
    out["accuracy_source_name"] = out["accuracy_source"]
    out["accuracy_source"] = kind
    out.update(provenance)
    tab = sched.table
    out["accuracy_table"] = [{"prune_layer": int(layer), "tokens": int(n), "top1": float(a)}
                             for layer, n, a in zip(tab["prune_layer"], tab["tokens"],
                                                    tab["accuracy"])]
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
