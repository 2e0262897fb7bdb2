"""OPTIN on the digits ViT: FLOP-budget OPTIN vs hardware-aware OPTIN, no retraining.

For each architecture and budget fraction it selects keep-sets four ways

* ``optin-macs``       the paper: SEARCH (k heads + neuron fill) under a MAC budget;
* ``knapsack-macs``    exact knapsack, still under a MAC budget (isolates the solver);
* ``optin-latency``    the paper's SEARCH with simulated per-layer marginal latencies;
* ``knapsack-latency`` exact knapsack under the simulated latency budget (hardware-aware),

prunes the model structurally, measures its test accuracy, exports its trace (checked equal
to the keep-sets) and simulates its latency.  Writes ``optin_digits.csv``,
``optin_digits.md`` (equal-latency table) and ``optin_digits.png`` to the output folder.

    python examples/optin_digits.py [OUT_DIR] [--small] [--arch edge_16x16 --arch zcu102]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

import sim
from sim.search.optin import Budget, cost_tables, optin_search

METHODS = {  # name -> (budget metric, solver)
    "optin-macs": ("macs", "optin"),
    "knapsack-macs": ("macs", "knapsack"),
    "optin-latency": ("latency_s", "optin"),
    "knapsack-latency": ("latency_s", "knapsack"),
}


def same_keep_sets(trace, selection) -> bool:
    """The exported trace runs exactly the selected heads and widths."""
    for lt, heads, neurons in zip(trace.layers, selection.heads, selection.neurons):
        if tuple(lt.heads) != tuple(heads) or lt.attention != bool(heads):
            return False
        if lt.mlp_hidden != len(neurons):
            return False
    return True


def run(out_dir: Path, arches, fractions, calib: int, batch: int, seed: int = 0):
    import torch

    from sim.torch.digits import evaluate, load_digits_vit
    from sim.torch.export import export_trace
    from sim.torch.importance import (
        ImportanceOptions,
        prune_model,
        trajectory_importance,
    )

    torch.manual_seed(seed)
    model, data = load_digits_vit(seed=seed)
    base_acc = evaluate(model, data)
    t0 = time.perf_counter()
    imp = trajectory_importance(model, data.x_train[:calib],
                                ImportanceOptions(seed=seed, chunk=64))
    imp_s = time.perf_counter() - t0
    example = data.x_test[:batch]
    trace = export_trace(model, example)
    rows, cache = [], {}
    for arch_name in arches:
        arch = sim.load_arch(arch_name)
        base = sim.simulate(arch, trace, mode="analytic").summary
        rows.append(dict(arch=arch_name, method="unpruned", budget=1.0, accuracy=base_acc,
                         latency_s=base["latency_s"], latency_frac=1.0, macs_frac=1.0,
                         heads=4 * trace.model.depth, widths="", trace_ok=True))
        tables = {m: cost_tables(arch, trace, m) for m in ("macs", "latency_s")}
        for method, (metric, solver) in METHODS.items():
            for f in fractions:
                try:
                    res = optin_search(imp.heads, imp.neurons, arch, trace, Budget(metric, f),
                                       solver=solver, tables=tables[metric])
                except sim.VitsimError:
                    continue  # budget below the cheapest keep-set
                sel = res.selection
                key = (sel.heads, sel.neurons)
                if key not in cache:
                    pruned = prune_model(model, sel)
                    exported = export_trace(pruned, example)
                    cache[key] = (evaluate(pruned, data), same_keep_sets(exported, sel)
                                  and exported.layers == res.trace.layers)
                acc, ok = cache[key]
                s = res.summary
                rows.append(dict(arch=arch_name, method=method, budget=f, accuracy=acc,
                                 latency_s=s["latency_s"],
                                 latency_frac=s["latency_s"] / base["latency_s"],
                                 macs_frac=s["macs"] / base["macs"],
                                 heads=sum(sel.head_counts),
                                 widths=" ".join(map(str, sel.widths)), trace_ok=ok))
    df = pd.DataFrame(rows)
    df.attrs.update(importance_seconds=imp_s, importance_cached=imp.from_cache,
                    base_accuracy=base_acc)
    return df


def equal_latency_table(df, targets) -> pd.DataFrame:
    """Best measured accuracy of each method among its points with latency <= target."""
    out = []
    for arch, sub in df.groupby("arch", sort=False):
        for t in targets:
            row = {"arch": arch, "latency <=": t}
            for method in METHODS:
                pts = sub[(sub["method"] == method) & (sub["latency_frac"] <= t + 1e-9)]
                row[method] = float(pts["accuracy"].max()) if len(pts) else np.nan
            out.append(row)
    return pd.DataFrame(out)


def lead_stats(df) -> str:
    """Per arch, the hardware-aware methods minus the paper's ``optin-macs`` (accuracy
    points) at the equal-latency targets 0.40..0.95 in steps of 0.05, and how often block 0
    keeps exactly 64 neurons (the 64x64 array's column-fold edge)."""
    targets = list(np.round(np.arange(0.40, 0.951, 0.05), 2))
    lines = []
    for arch in dict.fromkeys(df["arch"]):
        t = equal_latency_table(df[df["arch"] == arch], targets)
        for m in ("optin-latency", "knapsack-latency"):
            d = 100 * (t[m] - t["optin-macs"])
            ahead = int((d > 0).sum())
            lines.append(f"{arch} {m} - optin-macs over {len(t)} targets 0.40..0.95: "
                         f"ahead at {ahead}, min {d.min():+.1f}, max {d.max():+.1f}, "
                         f"by target {[round(v, 1) for v in d]}")
        sub = df[(df["arch"] == arch) & (df["budget"] <= 0.9)]
        for m in ("knapsack-latency", "optin-macs"):
            w = sub[sub["method"] == m]["widths"].astype(str).str.split().str[0]
            lines.append(f"{arch} {m}: block 0 keeps 64 neurons in {int((w == '64').sum())} "
                         f"of {len(w)} budgets <= 0.9")
            allw = [int(v) for t in sub[sub["method"] == m]["widths"].astype(str)
                    for v in t.split()]
            share = sum(v % 16 == 0 for v in allw) / max(1, len(allw))
            lines.append(f"{arch} {m}: {100 * share:.0f} % of MLP widths are multiples of 16")
    return "\n".join(lines)


def to_markdown(table) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in table.iterrows():
        cells = [str(r["arch"]), f"{r['latency <=']:.2f}"]
        cells += ["—" if np.isnan(r[m]) else f"{100 * r[m]:.1f}" for m in cols[2:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", default="examples/out", help="output folder")
    p.add_argument("--small", action="store_true", help="few budgets, small calibration batch")
    p.add_argument("--arch", action="append", help="arch preset (repeatable)")
    p.add_argument("--calib", type=int, default=None, help="calibration images (default 64)")
    p.add_argument("--batch", type=int, default=1, help="batch of the simulated trace")
    p.add_argument("--from-csv", metavar="CSV", help="only tabulate an earlier run's CSV")
    args = p.parse_args(argv)
    if args.from_csv:
        df = pd.read_csv(args.from_csv)
        print(to_markdown(equal_latency_table(df, [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])))
        print(lead_stats(df))
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    arches = args.arch or ["edge_16x16", "zcu102"]
    if args.small:
        fractions, calib = [0.6, 0.8], args.calib or 8
    else:
        fractions, calib = list(np.round(np.arange(0.10, 1.001, 0.025), 3)), args.calib or 64
    df = run(out, arches, fractions, calib, args.batch)
    df.to_csv(out / "optin_digits.csv", index=False)
    table = equal_latency_table(df, [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    (out / "optin_digits.md").write_text(to_markdown(table) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    from sim.plot.optin import accuracy_cost

    fig = accuracy_cost(df, title="digits ViT, OPTIN without retraining")
    fig.savefig(out / "optin_digits.png", dpi=120)
    print(to_markdown(table))
    print(lead_stats(df))
    print(f"importance: {df.attrs['importance_seconds']:.1f} s "
          f"(cached: {df.attrs['importance_cached']}); all exported traces equal the "
          f"keep-sets: {bool(df['trace_ok'].all())}; wrote {out}/optin_digits.csv/.md/.png")


if __name__ == "__main__":
    main()
