"""``vitsim prune optin``: OPTIN one-shot head/neuron pruning under a simulated budget.

torch/timm are imported only when the command runs.
"""

from __future__ import annotations

import sys

from sim.cli.common import add_arch_args, add_json_arg, arch_from_args, emit_json
from sim.cli.torch_args import add_torch_args, load_from_args

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
    add_arch_args(p)
    p.add_argument("--budget", required=True,
                   help="METRIC=FRACTION of the unpruned model: latency=0.7, edp=0.5, "
                   "energy=0.6, cycles=0.7 or macs=0.6 (macs = the paper's FLOP budget)")
    p.add_argument("--solver", choices=("auto", "optin", "knapsack"), default="auto",
                   help="optin: the paper's SEARCH (k heads + neuron fill); knapsack: exact "
                   "over per-layer (heads, width); auto: optin for macs, else knapsack")
    p.add_argument("--mode", choices=("analytic", "cycle"), default="analytic")
    p.add_argument("--config", choices=("beta", "tau"), default="beta",
                   help="beta: heads and neurons only; tau: they take a share of the "
                   "reduction, per-layer token counts (ToMe merges) the rest")
    p.add_argument("--tau-share", type=float, default=None,
                   help="share of the reduction for heads/neurons with --config tau "
                   "(default: U(0.15, 0.30) drawn with --seed, as OPTIN)")
    p.add_argument("--batch", type=int, default=1, help="batch of the simulated trace")
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
    p.add_argument("--cache-dir", help="importance cache (default $VITSIM_CACHE/optin)")
    p.add_argument("--out", help="write pruned trace (trace.yaml) and keep_sets.json here")
    p.add_argument("--plot", help="write a per-layer figure (PNG/SVG) here")
    add_torch_args(p, calib=64)
    add_json_arg(p)
    p.set_defaults(func=_optin)


def _load_model(args):
    """``(Loaded, example batch, evaluate)`` -- every input checked before scoring."""
    from sim.errors import ConfigError
    from sim.torch.data import accuracy

    if args.batch < 1:
        raise ConfigError(f"--batch = {args.batch}; must be an integer >= 1")
    loaded = load_from_args(args)
    example = loaded.example.repeat(args.batch, *([1] * (loaded.example.dim() - 1)))

    def evaluate(m):
        return accuracy(m, loaded.val, device=loaded.device, amp=args.amp)

    return loaded, example, evaluate


def _optin(args) -> int:
    import json
    from pathlib import Path

    from sim.api import simulate
    from sim.cli.common import check_figure_path
    from sim.search.optin import optin_search, parse_budget
    from sim.torch.export import export_trace
    from sim.torch.importance import (
        ImportanceOptions,
        prune_model,
        trajectory_importance,
    )
    from sim.workload import save_trace

    check_figure_path(args.plot, "--plot")
    budget = parse_budget(args.budget)
    arch = arch_from_args(args)
    opts = ImportanceOptions(lam=args.lam, temperature=args.temperature,
                             gram_rows=args.gram_rows, embeddings=args.embeddings,
                             seed=args.seed).validate()
    loaded, example, evaluate = _load_model(args)
    model = loaded.model
    imp = trajectory_importance(model, loaded.calib[0], opts, cache_dir=args.cache_dir,
                                device=loaded.device, amp=args.amp)
    trace = export_trace(model, example)
    kw = dict(solver=args.solver, min_heads=args.min_heads, min_neurons=args.min_neurons,
              width_grid=args.width_grid)
    if args.config == "tau":
        from sim.search.optin.tau import tau_search
        from sim.torch.tokens import token_importance, tome_to_counts

        _, _, tok = token_importance(model, loaded.calib[0], opts, device=loaded.device,
                                     amp=args.amp)
        tau = tau_search(imp.heads, imp.neurons, tok, arch, trace, budget,
                         share=args.tau_share, seed=args.seed, mode=args.mode, **kw)
        res = tau.hn
        pruned = tome_to_counts(prune_model(model, res.selection), tau.counts)
        out = tau.to_dict()
        sim_trace, sim_summary = tau.trace, tau.summary
    else:
        res = optin_search(imp.heads, imp.neurons, arch, trace, budget, mode=args.mode, **kw)
        pruned = prune_model(model, res.selection)
        out = res.to_dict()
        out["config"] = "beta"
        sim_trace, sim_summary = res.trace, res.summary
    exported = export_trace(pruned, example)
    base = simulate(arch, trace, mode=args.mode).summary
    out.update(model=args.model, arch=arch.name, mode=args.mode,
               trace_matches=exported.layers == sim_trace.layers,
               latency_s_unpruned=base["latency_s"],
               latency_fraction=sim_summary["latency_s"] / base["latency_s"],
               macs_fraction=sim_summary["macs"] / base["macs"],
               importance_cached=imp.from_cache, kd_scale=imp.kd_scale,
               weights=loaded.weights, data=loaded.data,
               device=str(loaded.device), baseline_latency_s=base["latency_s"],
               pruned_latency_s=sim_summary["latency_s"],
               kept_heads=out["keep_sets"]["heads"], kept_neurons=out["keep_sets"]["neurons"])
    out.setdefault("budget_met", bool(out["achieved_fraction"]
                                      <= budget.fraction * (1 + 1e-9)))
    out["baseline_accuracy"] = evaluate(model)
    out["accuracy"] = evaluate(pruned)
    out["accuracy_unpruned"] = out["baseline_accuracy"]
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
                          simulate(arch, sim_trace, mode=args.mode))
        fig.savefig(args.plot, dpi=120)
    if args.json:
        emit_json(out)
        return 0
    w = sys.stdout.write
    w(f"OPTIN ({out['config']}) on {args.model} / {arch.name} ({args.mode}), budget {budget}, "
      f"solver {res.solver}\n")
    w(f"  simulated {budget.metric}: {out['achieved_fraction']:.3f} of unpruned "
      f"(latency {out['latency_fraction']:.3f}, MACs {out['macs_fraction']:.3f}); "
      f"latency {base['latency_s'] * 1e6:.2f} -> {out['latency_s'] * 1e6:.2f} us\n")
    if not out["budget_met"]:
        w(f"  BUDGET NOT MET: the cheapest selection found reaches {out['achieved_fraction']:.3f}"
          f" of the unpruned {budget.metric}\n")
    w(f"  weights: {out['weights']}; data: {out['data']}\n")
    w(f"  accuracy (measured, no retraining): {out['baseline_accuracy']:.4f} -> "
      f"{out['accuracy']:.4f}\n")
    w(f"  heads kept per block: {out['head_counts']}\n")
    w(f"  MLP widths per block: {out['widths']}\n")
    if "token_counts" in out:
        w(f"  tokens per block (tau, share {out['tau_share']:.3f}): {out['token_counts']}\n")
    w(f"  exported trace matches the keep-sets: {out['trace_matches']}\n")
    if args.out:
        w(f"  wrote {args.out}/trace.yaml, keep_sets.json\n")
    return 0
