"""Sweep square systolic arrays (4x4 ... 256x256) and the three dataflows for DeiT-S.

Writes to the output folder (default ``examples/out/``):

* ``sweep_array_sizes.parquet`` - one row per design (rerunning resumes from it);
* ``sweep_heatmap.png``         - EDP (J·s) per array size and dataflow (latency when the
  energy model is absent); designs over the ZCU102's budget are marked "×";
* ``sweep_pareto.png``          - latency vs energy and vs power of every feasible design,
  Pareto fronts circled.

Run::

    python examples/sweep_array_sizes.py [--out DIR] [--arch zcu102] [--small]

``--small`` (used by the tests) sweeps four sizes in this process.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import sim
from sim.search.sweep import sweep
from sim.search.sweep.space import Space

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "out"), help="output folder")
    parser.add_argument("--arch", default="zcu102", help="base architecture (file or preset)")
    parser.add_argument("--mode", choices=("cycle", "analytic"), default="cycle")
    parser.add_argument("--small", action="store_true", help="4 sizes, in this process")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.plot.sweep import LABELS, heatmap, pareto

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = [4, 16, 64, 128] if args.small else [4, 8, 16, 32, 64, 128, 256]
    space = Space.grid({("array.rows", "array.cols"): sizes,
                        "array.dataflow": ["os", "ws", "is"]})
    df = sweep(args.arch, [sim.model_trace("deit_s")], space, mode=args.mode,
               executor="inline" if args.small else "process",
               out=out / "sweep_array_sizes.parquet")

    metric = "edp_per_inference_js"
    fig = heatmap(df, "array.rows", "array.dataflow", metric,
                  title=f"DeiT-S on {args.arch}, {args.mode} mode: {LABELS[metric]} per "
                        "square array (box = best, × = over the platform budget)")
    fig.axes[0].set_xlabel("array size (R = C)")
    fig.savefig(out / "sweep_heatmap.png", dpi=150)

    # Energy falls with array size along with latency (leakage x time dominates), so its
    # front is one design; power is the real trade-off against latency.
    pairs = [("latency_s", y) for y in ("energy_j", "power_w") if y in df]
    pairs = pairs or [("latency_s", "utilization")]
    fig, axes = plt.subplots(1, len(pairs), figsize=(5.6 * len(pairs), 4.4),
                             layout="constrained", squeeze=False)
    for ax, (x, y) in zip(axes[0], pairs):
        pareto(df, x, y, ax=ax, title=f"{LABELS.get(y, y)} vs latency")
    fig.suptitle(f"DeiT-S on {args.arch}: square arrays {sizes[0]}..{sizes[-1]} x "
                 "dataflows (Pareto front circled)", fontsize=10)
    fig.savefig(out / "sweep_pareto.png", dpi=150)

    feasible = df[df["feasible"]]
    best = feasible.loc[feasible[metric].idxmin()]
    print(f"{len(df)} designs, {len(feasible)} feasible; best {metric}: "
          f"{best['array.rows']}x{best['array.cols']} {best['array.dataflow']} "
          f"= {best[metric]:.4g}")
    print(f"wrote {out / 'sweep_heatmap.png'} and {out / 'sweep_pareto.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
