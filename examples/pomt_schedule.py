"""POMT token-pruning schedules for DeiT-S, driven by the simulator.

For each architecture and batch: simulate L(n) for every token count n (POMT's offline
grid: tokens removed at the input), find its fold steps, pick R with POMT's utility and the
shipped ILLUSTRATIVE accuracy table (synthetic numbers, see workloads/), deploy it as
prune-and-merge inside block 3, and save the figure.

    python examples/pomt_schedule.py [OUT_DIR] [--small] [--table] [--joint] [--digits]

``--table`` prints the POMT vs Top-K vs ToMe comparison (markdown) used in docs/pomt.md;
``--joint`` also chooses (prune layer, R) together at batch 1 and saves that figure;
``--digits`` also picks R with accuracy from the tiny digits ViT (needs torch);
``--small`` runs one architecture at batch 1 (for the tests).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import sim  # noqa: E402
from sim.plot.pomt import curve as plot_curve  # noqa: E402
from sim.search.pomt import choose, choose_joint, latency_curve  # noqa: E402
from sim.search.pomt.compare import compare, mean_tokens  # noqa: E402

ARCHS = ("edge_16x16", "scalesim_32x32", "zcu102")
BATCHES = (1, 8)
TABLE_ARCHS = ("edge_16x16", "scalesim_32x32", "zcu102", "tpu_v1_like")
TABLE_BATCHES = (1, 64)
LANES = (None, 4, 1)  # vector-unit lanes for the sensitivity table (None = the preset's)


def joint(out: Path, archs) -> None:
    for name in archs:
        s = choose_joint(sim.load_arch(name), "deit_s", layers=range(0, 12))
        fig = plot_curve(s.table, s)
        path = out / f"pomt_{name}_b1_joint.png"
        fig.savefig(path, dpi=120)
        matplotlib.pyplot.close(fig)
        print(f"{name:>15} b=1   joint: prune-and-merge in block {s.prune_layer}, keep "
              f"{s.tokens_keep} (R={s.R}), {s.speedup:.3f}x, top-1 {s.accuracy_pruned:.2f} "
              f"(illustrative)  -> {path}")


def schedules(out: Path, archs, batches, digits: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in archs:
        arch = sim.load_arch(name)  # one ArchConfig object reused for the whole curve
        for batch in batches:
            curve = latency_curve(arch, "deit_s", batch=batch)
            s = choose(curve)  # None = the shipped illustrative table
            fig = plot_curve(curve, s)
            path = out / f"pomt_{name}_b{batch}.png"
            fig.savefig(path, dpi=120)
            matplotlib.pyplot.close(fig)
            print(f"{name:>15} b={batch:<3} keep {s.tokens_keep:3d} (R={s.R:3d}) "
                  f"{s.baseline_latency_s * 1e3:8.3f} -> {s.pruned_latency_s * 1e3:8.3f} ms "
                  f"({s.speedup:.3f}x)  on step: {s.on_step}  steps {list(s.steps)[-4:]}"
                  f"  -> {path}")
            if digits:
                d = choose(curve, "digits")
                print(f"{'':>15}  digits-ViT accuracy: keep {d.tokens_keep} (R={d.R}), "
                      f"{d.speedup:.3f}x, top-1 {d.accuracy_pruned:.1f}%")


def _cell(df, method, what):
    row = df[df["method"] == method].iloc[0]
    if what == "edp":
        return f"{row['edp_ratio']:.3f}" if row["edp_ratio"] == row["edp_ratio"] else "n/a"
    setting = row["setting"].split(" @")[0].replace("keep ", "κ=")
    text = f"{row['speedup']:.3f}x ({setting})"
    return f"**{text}**" if row["slower"] else text


def comparison(name: str, batch: int):
    """POMT vs Top-K vs ToMe on DeiT-S at matched budgets (the README/docs table rows):
    ``(baseline ms, compare() DataFrame)``."""
    arch = sim.load_arch(name)
    trace = sim.model_trace("deit_s", batch=batch)
    s = choose(latency_curve(arch, trace))  # the illustrative DeiT-S table, as documented
    light = mean_tokens(sim.tome_trace(trace, 1))
    df = compare(arch, trace, tokens_keep=s.tokens_keep, budgets={"light": light})
    return df[df["method"] == "none"]["latency_s"].iloc[0] * 1e3, df


def table(archs, batches) -> None:
    print("| arch | batch | budget (mean tokens/block) | no pruning (ms) | POMT | Top-K (EViT) "
          "| ToMe | EDP POMT | EDP Top-K | EDP ToMe |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in archs:
        for batch in batches:
            base_ms, df = comparison(name, batch)
            for label, part in df.groupby("budget", sort=False):
                tag = "POMT's choice" if label == "pomt" else "light (ToMe r=1)"
                print(f"| {name} | {batch} | {tag}: {part['target_tokens'].iloc[0]:.1f} | "
                      f"{base_ms:.3f} | {_cell(part, 'pomt', 's')} | {_cell(part, 'topk', 's')} "
                      f"| {_cell(part, 'tome', 's')} | {_cell(part, 'pomt', 'edp')} | "
                      f"{_cell(part, 'topk', 'edp')} | {_cell(part, 'tome', 'edp')} |")


def lanes_table(archs) -> None:
    print("\n| arch | vector lanes | batch | POMT | Top-K (EViT) | ToMe r=1 |")
    print("|---|---|---|---|---|---|")
    for name in archs:
        for lanes in LANES:
            arch = sim.load_arch(name, overrides={"vector.lanes": lanes} if lanes else None)
            for batch in (1,):
                trace = sim.model_trace("deit_s", batch=batch)
                df = compare(arch, trace, budgets={"light": mean_tokens(sim.tome_trace(trace, 1))})
                print(f"| {name} | {arch.vector.lanes} | {batch} | {_cell(df, 'pomt', 's')} | "
                      f"{_cell(df, 'topk', 's')} | {_cell(df, 'tome', 's')} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", default="examples/out", help="figure folder")
    p.add_argument("--small", action="store_true", help="one arch, batch 1 (fast)")
    p.add_argument("--table", action="store_true", help="print the comparison tables")
    p.add_argument("--joint", action="store_true", help="joint (layer, R) choice at batch 1")
    p.add_argument("--digits", action="store_true", help="also use the digits ViT (torch)")
    args = p.parse_args(argv)
    archs, batches = (("scalesim_32x32",), (1,)) if args.small else (ARCHS, BATCHES)
    schedules(Path(args.out), archs, batches, args.digits)
    if args.joint:
        joint(Path(args.out), archs)
    if args.table:
        print()
        table(archs if args.small else TABLE_ARCHS, (1,) if args.small else TABLE_BATCHES)
        lanes_table(archs if args.small else ("edge_16x16", "zcu102", "tpu_v1_like"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
