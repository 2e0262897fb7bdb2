"""``vitsim prune optin``: OPTIN one-shot head/neuron pruning under a simulated budget.

torch/timm are imported only when the command runs.
"""

from __future__ import annotations

import sys

from sim.cli.common import add_arch_args, add_json_arg, arch_from_args, emit_json

__all__ = ["register"]


def register(sub) -> None:
    prune = sub.add_parser("prune", help="prune a ViT under a simulated budget (OPTIN)")
    methods = prune.add_subparsers(dest="prune_method", required=True,
                                   parser_class=type(prune))
    p = methods.add_parser(
        "optin", help="OPTIN trajectory importance + keep-sets under a latency/EDP/MAC budget",
        description="Score every head and MLP neuron by OPTIN's trajectory importance on one "
        "calibration batch (cached), keep the most important ones under the budget as "
        "simulated on the architecture, prune the model structurally and report its "
        "simulated cost (and measured accuracy for the digits model).")
    p.add_argument("--model", required=True,
                   help="'digits' (the built-in digits ViT, accuracy measured) or a timm "
                   "model name (random weights unless --checkpoint; no accuracy)")
    add_arch_args(p)
    p.add_argument("--budget", required=True,
                   help="METRIC=FRACTION of the unpruned model: latency=0.7, edp=0.5, "
                   "energy=0.6, cycles=0.7 or macs=0.6 (macs = the paper's FLOP budget)")
    p.add_argument("--solver", choices=("auto", "optin", "knapsack"), default="auto",
                   help="optin: the paper's SEARCH (k heads + neuron fill); knapsack: exact "
                   "over per-layer (heads, width); auto: optin for macs, else knapsack")
    p.add_argument("--mode", choices=("analytic", "cycle"), default="analytic")
    p.add_argument("--batch", type=int, default=1, help="batch of the simulated trace")
    p.add_argument("--calib", type=int, default=64, help="calibration images (one batch)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lam", type=float, default=10.0, help="lambda of the KD term (10)")
    p.add_argument("--temperature", type=float, default=4.0, help="KD temperature T (4)")
    p.add_argument("--gram-rows", type=int, default=768, help="Gram sample rows (768)")
    p.add_argument("--embeddings", choices=("norm", "residual"), default="norm")
    p.add_argument("--min-heads", type=int, default=0,
                   help="heads every block keeps (0 allows skipping a block's attention)")
    p.add_argument("--min-neurons", type=int, default=1)
    p.add_argument("--width-grid", type=int, default=1,
                   help="MLP widths in multiples of this (e.g. the array edge)")
    p.add_argument("--checkpoint", help="state_dict file for a timm model")
    p.add_argument("--cache-dir", help="importance cache (default $VITSIM_CACHE/optin)")
    p.add_argument("--out", help="write pruned trace (trace.yaml) and keep_sets.json here")
    p.add_argument("--plot", help="write a per-layer figure (PNG/SVG) here")
    add_json_arg(p)
    p.set_defaults(func=_optin)


def _load_model(args):
    """``(model, calibration batch, example input, evaluate or None)``."""
    import torch

    from sim.errors import ConfigError

    if args.calib < 1 or args.batch < 1:
        raise ConfigError(f"--calib and --batch must be >= 1, not {args.calib}, {args.batch}")
    if args.model == "digits":
        from sim.torch.digits import evaluate, load_digits_vit

        model, data = load_digits_vit(seed=args.seed)
        return (model, data.x_train[:args.calib], data.x_test[:args.batch],
                lambda m: evaluate(m, data))
    import timm

    try:
        model = timm.create_model(args.model, pretrained=False)
    except RuntimeError as err:
        raise ConfigError(f"--model {args.model!r}: {err}") from None
    if args.checkpoint:
        model.load_state_dict(torch.load(args.checkpoint, map_location="cpu",
                                         weights_only=True))
    model.eval()
    c, h, w = model.patch_embed.proj.in_channels, *model.patch_embed.img_size
    gen = torch.Generator().manual_seed(args.seed)
    calib = torch.randn(args.calib, c, h, w, generator=gen)  # no data set: noise (smoke)
    example = torch.randn(args.batch, c, h, w, generator=gen)
    return model, calib, example, None


def _optin(args) -> int:
    import json
    from pathlib import Path

    from sim.cli.common import check_figure_path

    check_figure_path(args.plot, "--plot")
    import torch

    from sim.api import simulate
    from sim.search.optin import optin_search, parse_budget
    from sim.torch.export import export_trace
    from sim.torch.importance import (
        ImportanceOptions,
        prune_model,
        trajectory_importance,
    )
    from sim.workload import save_trace

    budget = parse_budget(args.budget)
    arch = arch_from_args(args)
    opts = ImportanceOptions(lam=args.lam, temperature=args.temperature,
                             gram_rows=args.gram_rows, embeddings=args.embeddings,
                             seed=args.seed).validate()
    torch.manual_seed(args.seed)
    model, calib, example, evaluate = _load_model(args)
    imp = trajectory_importance(model, calib, opts, cache_dir=args.cache_dir)
    trace = export_trace(model, example)
    res = optin_search(imp.heads, imp.neurons, arch, trace, budget, solver=args.solver,
                       mode=args.mode, min_heads=args.min_heads,
                       min_neurons=args.min_neurons, width_grid=args.width_grid)
    pruned = prune_model(model, res.selection)
    exported = export_trace(pruned, example)
    base = simulate(arch, trace, mode=args.mode).summary
    out = res.to_dict()
    out.update(model=args.model, arch=arch.name, mode=args.mode,
               trace_matches=exported.layers == res.trace.layers,
               latency_s_unpruned=base["latency_s"],
               latency_fraction=res.summary["latency_s"] / base["latency_s"],
               macs_fraction=res.summary["macs"] / base["macs"],
               importance_cached=imp.from_cache, kd_scale=imp.kd_scale)
    if evaluate is not None:
        out.update(accuracy_unpruned=evaluate(model), accuracy=evaluate(pruned))
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        save_trace(exported, folder / "trace.yaml")
        (folder / "keep_sets.json").write_text(json.dumps(out["keep_sets"], indent=1))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from sim.plot.optin import layers as plot_layers

        fig = plot_layers(res, simulate(arch, trace, mode=args.mode),
                          simulate(arch, res.trace, mode=args.mode))
        fig.savefig(args.plot, dpi=120)
    if args.json:
        emit_json(out)
        return 0
    w = sys.stdout.write
    w(f"OPTIN on {args.model} / {arch.name} ({args.mode}), budget {budget}, "
      f"solver {res.solver}\n")
    w(f"  simulated {budget.metric}: {out['achieved_fraction']:.3f} of unpruned "
      f"(latency {out['latency_fraction']:.3f}, MACs {out['macs_fraction']:.3f}); "
      f"latency {base['latency_s'] * 1e6:.2f} -> {out['latency_s'] * 1e6:.2f} us\n")
    if evaluate is not None:
        w(f"  accuracy (measured, no retraining): {out['accuracy_unpruned']:.4f} -> "
          f"{out['accuracy']:.4f}\n")
    w(f"  heads kept per block: {out['head_counts']}\n")
    w(f"  MLP widths per block: {out['widths']}\n")
    w(f"  exported trace matches the keep-sets: {out['trace_matches']}\n")
    if args.out:
        w(f"  wrote {args.out}/trace.yaml, keep_sets.json\n")
    return 0
