"""PIVOT end to end: LVViT-S effort costs, then the whole co-search on the digits ViT.

Part A (torch-free): LVViT-S full vs PIVOT's published low effort ({1,3,...,15} skipped) on
``pivot_zcu102``: per-effort delay, energy, EDP, and the cascade's expected EDP as a function
of the fraction of inputs the low effort classifies.

Part B (torch, CPU): the tiny timm ViT trained on scikit-learn digits (6 encoders):

1. CKA(MLP_i, A_j) on a calibration batch of training images -> redundancy r_j;
2. Phase 1: the best-Path-Score skip set for every effort (attentions kept), plus every
   path of one effort to check that Path-Score predicts accuracy (Spearman);
3. each selected path -> ``skip_attention`` -> entropy-aware fine-tuning (teacher = full
   model) -> per-input class-mean entropy and correctness -> efforts.yaml;
4. Phase 2 over (low, high, threshold) x (array size, dataflow) under the LEC and an
   accuracy floor, selected on one half of the digits test split and reported on the other.

    python examples/pivot_digits.py [--out DIR] [--small] [--lec 0.5] [--acc-drop 0.01]

Figures and ``summary.json`` go to DIR (default ``examples/out``); ``--small`` is the
quick setting used by the tests.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

import sim  # noqa: E402
from sim.search.pivot import cascade_curve, pivot_search, search_cascades  # noqa: E402
from sim.search.pivot.efforts import make_effort, save_efforts  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LVVIT_ARCHS = ("pivot_zcu102", "zcu102")


def lvvit_table(archs=LVVIT_ARCHS, mode="cycle") -> list:
    """Per-effort delay/energy/EDP of LVViT-S full vs PIVOT's low effort, and the cascade."""
    full = sim.load_trace(REPO / "workloads/lvvit_s.yaml")
    low = sim.load_trace(REPO / "workloads/lvvit_s_pivot_low.yaml")
    rows = []
    for name in archs:
        a = sim.load_arch(name)
        sf, sl = (sim.simulate(a, t, mode=mode).summary for t in (full, low))
        row = {"arch": name, "full_ms": sf["latency_s"] * 1e3, "low_ms": sl["latency_s"] * 1e3,
               "full_mj": sf["energy_j"] * 1e3, "low_mj": sl["energy_j"] * 1e3}
        row["delay_ratio"] = sl["latency_s"] / sf["latency_s"]
        row["energy_ratio"] = sl["energy_j"] / sf["energy_j"]
        row["edp_gain_low"] = sf["edp_per_inference_js"] / sl["edp_per_inference_js"]
        for f in (1.0, 0.9, 0.8, 0.7, 0.5):  # cumulative cascade, E[E] * E[D]
            e = sl["energy_j"] + (1 - f) * sf["energy_j"]
            d = sl["latency_s"] + (1 - f) * sf["latency_s"]
            row[f"edp_gain_f{f}"] = sf["edp_per_inference_js"] / (e * d)
            # non-cumulative (fall-through inputs pay the high effort only), for comparison
            e = f * sl["energy_j"] + (1 - f) * sf["energy_j"]
            d = f * sl["latency_s"] + (1 - f) * sf["latency_s"]
            row[f"edp_gain_f{f}_noncum"] = sf["edp_per_inference_js"] / (e * d)
        # break-even: the cascade beats the full model in EDP when f_low exceeds this
        r_e, r_d = row["energy_ratio"], row["delay_ratio"]
        fs = np.linspace(0, 1, 100001)
        gain = 1 / ((r_e + 1 - fs) * (r_d + 1 - fs))
        row["f_break_even"] = float(fs[np.argmax(gain >= 1)])
        rows.append(row)
    return rows


def _fmt_lvvit(rows) -> str:
    head = ("| arch | full ms | low ms | delay low/full | energy low/full | EDP gain low "
            "alone | cascade f=0.9 | f=0.7 | f=0.5 | break-even f_low | non-cumulative "
            "f=0.9 |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
    return head + "".join(
        f"| {r['arch']} | {r['full_ms']:.2f} | {r['low_ms']:.2f} | {r['delay_ratio']:.3f} | "
        f"{r['energy_ratio']:.3f} | {r['edp_gain_low']:.2f}x | {r['edp_gain_f0.9']:.2f}x | "
        f"{r['edp_gain_f0.7']:.2f}x | {r['edp_gain_f0.5']:.2f}x | {r['f_break_even']:.3f} | "
        f"{r['edp_gain_f0.9_noncum']:.2f}x |\n" for r in rows)


def digits_pipeline(out: Path, small: bool, lec: float, acc_drop: float, seed: int) -> dict:
    import torch
    from scipy.stats import spearmanr

    from sim.plot.pivot import (
        plot_cascade_curve,
        plot_cka_matrix,
        plot_pareto,
        plot_path_scores,
    )
    from sim.search.pivot import phase1 as ph1
    from sim.torch import cka as pc
    from sim.torch.digits import load_digits_vit
    from sim.torch.export import export_trace
    from sim.torch.transforms import skip_attention

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    model, data = load_digits_vit(seed=seed)
    depth = len(model.blocks)
    xt, yt = data.x_test, data.y_test
    # the test split in two random halves: Phase 2 selects on one, reports on the other
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(yt), generator=g)
    halves = (perm[: len(perm) // 2], perm[len(perm) // 2:])
    calib = data.x_train[: 64 if small else 512]

    # 1. CKA and redundancy (default: linear, all tokens), plus two variants
    cka = pc.cka_matrix(model, calib, variant="linear", features="tokens", batch_size=256)
    scores = {"tokens": ph1.redundancy(cka),
              "unbiased": ph1.redundancy(pc.cka_matrix(model, calib, variant="unbiased",
                                                      features="tokens", batch_size=64)),
              "cls": ph1.redundancy(pc.cka_matrix(model, calib, variant="linear",
                                                 features="cls", batch_size=256))}
    r = scores["tokens"]
    fig = plot_cka_matrix(cka["matrix"], title="digits ViT: CKA(MLP_i, A_j), linear, tokens")
    fig.savefig(out / "pivot_cka.png", dpi=130)

    # 2. Path-Score vs accuracy over every path of an effort (whole test split, 360 images);
    #    fine-tuned accuracy for effort K, training-free accuracy for the others
    K = depth // 2
    ft = dict(epochs=2 if small else 8, lr=1e-3, batch_size=64, teacher=model, seed=seed)
    rows = []
    for kept in ((K,) if small else (K - 1, K, K + 1)):
        for p in ph1.random_paths(r, kept, 1000, seed=seed):  # all of them
            m = skip_attention(model, p)
            row = {"kept": kept, "skip": list(p),
                   "accuracy_free": float(pc.effort_outputs(m, xt, yt)[1].mean())}
            row.update({f"score_{v}": ph1.path_score(sc, p) for v, sc in scores.items()})
            if kept == K and not small:
                pc.finetune(m, data.x_train, data.y_train, **ft)
                row["accuracy_tuned"] = float(pc.effort_outputs(m, xt, yt)[1].mean())
            rows.append(row)
    import pandas as pd

    ps = pd.DataFrame(rows)
    ps.to_csv(out / "pivot_paths.csv", index=False)
    rho = []
    for kept, grp in ps.groupby("kept"):
        for col in ("accuracy_free", "accuracy_tuned"):
            if col in grp and grp[col].notna().all():
                rho.append({"kept": int(kept), "paths": len(grp), "accuracy": col,
                            **{v: float(spearmanr(grp[f"score_{v}"], grp[col]).statistic)
                               for v in scores}})
    acc_col = "accuracy_tuned" if "accuracy_tuned" in ps else "accuracy_free"
    pk = ps[ps["kept"] == K].rename(columns={acc_col: "acc", "score_tokens": "path_score"})
    best = ph1.best_paths(r, [K])[K]
    brow = pk[pk["skip"].apply(tuple) == best].iloc[0]
    rho_k = next(x["tokens"] for x in rho if x["kept"] == K and x["accuracy"] == acc_col)
    fig = plot_path_scores(pk, acc="acc", best=brow, label="every path of this effort",
                           title=f"digits ViT, {K} of {depth} attentions kept\n"
                           f"{len(pk)} paths, Spearman {rho_k:.2f}")
    fig.axes[0].set_ylabel("path accuracy, 360 test images" +
                           (" (fine-tuned)" if acc_col == "accuracy_tuned" else
                            " (training-free)"))
    fig.savefig(out / "pivot_path_scores.png", dpi=130)

    # 3. efforts: Phase 1 path per effort, fine-tuned, outputs on both halves
    kept_list = [2] if small else list(range(1, depth))
    chosen_paths = ph1.best_paths(r, kept_list)
    folds = ([], [])
    effort_rows = []
    base_trace = export_trace(model, xt[:1])

    def add(name, m, skip):
        trace = sim.skip_attention(base_trace, list(skip))
        row = {"effort": name, "kept": depth - len(skip), "skip": list(skip),
               "accuracy_test": float(pc.effort_outputs(m, xt, yt)[1].mean())}
        for h, idx in enumerate(halves):
            ent, cor, _ = pc.effort_outputs(m, xt[idx], yt[idx])
            folds[h].append(make_effort(name, trace, ent, cor, skip))
            row[f"accuracy_half{h}"] = float(cor.mean())
        effort_rows.append(row)

    for k in kept_list:
        m = skip_attention(model, chosen_paths[k])
        pc.finetune(m, data.x_train, data.y_train, **ft)
        add(f"k{k}", m, chosen_paths[k])
    add("full", model, ())
    save_efforts(out / "efforts.yaml", folds[0])

    # 4. Phase 2 on pivot_zcu102 x (array size, dataflow); select on one half, report on
    #    the other, both ways round
    space = ({("array.rows", "array.cols"): [16, 48], "array.dataflow": ["os", "ws"]}
             if small else
             {("array.rows", "array.cols"): [8, 16, 32, 48, 64], "array.dataflow":
              ["os", "ws", "is"]})
    res = pivot_search("pivot_zcu102", folds[0], lec=lec, acc_drop=acc_drop, space=space,
                       seed=seed, mode="analytic" if small else "cycle")
    res.points.to_csv(out / "pivot_points.csv", index=False)
    fig = plot_pareto(res.points, chosen=res.chosen, baseline=res.baseline,
                      floor=res.settings["accuracy_floor"],
                      title=f"digits ViT on pivot_zcu102 grid (LEC {lec}, half 0)")
    fig.savefig(out / "pivot_pareto.png", dpi=130)
    res_b = search_cascades(folds[1], res.costs, lec=lec, acc_drop=acc_drop)
    phase2 = []
    for h, rr in enumerate((res, res_b)):
        phase2.append({"select_half": h, "chosen": rr.chosen,
                       "report": _report(rr.chosen, rr.costs, folds[1 - h])})
    c = res.chosen
    if c is not None and c["high"]:
        lo, hi = (next(e for e in folds[0] if e.name == n) for n in (c["low"], c["high"]))
        fig = plot_cascade_curve(cascade_curve(lo.entropy, lo.correct, hi.correct), lec=lec,
                                 title=f"{c['low']} -> {c['high']} (selection half 0)")
        fig.axes[0].axvline(c["threshold"], c="red", lw=0.8, label="chosen threshold")
        fig.axes[0].legend(fontsize=8, loc="lower right")
        fig.savefig(out / "pivot_cascade.png", dpi=130)
    return {"redundancy": {v: [None if np.isnan(x) else float(x) for x in sc]
                           for v, sc in scores.items()},
            "spearman": rho, "spearman_K": rho_k, "effort_K": K, "n_paths": len(pk),
            "best_path": list(best), "best_path_accuracy": float(brow["acc"]),
            "mean_path_accuracy": float(pk["acc"].mean()), "path_accuracy": acc_col,
            "efforts": effort_rows, "settings": res.settings, "phase2": phase2,
            "seconds": time.perf_counter() - t0}


def _report(c, costs, efforts) -> dict | None:
    """The chosen cascade (threshold, arch point) applied to other inputs."""
    if c is None:
        return None
    by = {e.name: e for e in efforts}
    lo, full = by[c["low"]], by["full"]
    if c["high"]:
        cur = cascade_curve(lo.entropy, lo.correct, by[c["high"]].correct, [c["threshold"]])
        f, acc = float(cur["f_low"][0]), float(cur["accuracy"][0])
    else:
        f, acc = (0.0 if c["low"] == "full" else 1.0), lo.accuracy
    cost = costs[costs["point_id"] == c["point_id"]].set_index("effort")
    el, dl = cost.loc[c["low"], ["energy_j", "latency_s"]]
    eh, dh = cost.loc[c["high"], ["energy_j", "latency_s"]] if c["high"] else (0.0, 0.0)
    ef, df_ = cost.loc["full", ["energy_j", "latency_s"]]
    e, d = el + (1 - f) * eh, dl + (1 - f) * dh
    return {"f_low": f, "accuracy": acc, "full_accuracy": full.accuracy,
            "edp_gain": float(ef * df_ / (e * d)), "delay_ratio": float(d / df_),
            "energy_ratio": float(e / ef)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "examples" / "out"), help="output folder")
    ap.add_argument("--small", action="store_true", help="quick settings (tests)")
    ap.add_argument("--lec", type=float, default=0.5, help="low effort constraint")
    ap.add_argument("--acc-drop", type=float, default=0.01, help="accuracy floor offset")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-digits", action="store_true", help="LVViT-S table only")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    rows = lvvit_table(("pivot_zcu102",) if args.small else LVVIT_ARCHS,
                       mode="analytic" if args.small else "cycle")
    print("LVViT-S, full vs PIVOT low effort {1,3,...,15} skipped:")
    print(_fmt_lvvit(rows))
    summary = {"lvvit_s": rows}
    if not args.no_digits:
        d = digits_pipeline(out, args.small, args.lec, args.acc_drop, args.seed)
        summary["digits"] = d
        print("digits ViT: Spearman(Path-Score, path accuracy), every path of an effort, "
              "per Path-Score variant")
        for x in d["spearman"]:
            print(f"  kept {x['kept']} ({x['paths']} paths, {x['accuracy']}): " +
                  ", ".join(f"{v} {x[v]:+.2f}" for v in ("tokens", "unbiased", "cls")))
        print(f"  best-score path {d['best_path']} (kept {d['effort_K']}): "
              f"{d['path_accuracy']} {d['best_path_accuracy']:.4f} (mean of all paths "
              f"{d['mean_path_accuracy']:.4f})")
        for e in d["efforts"]:
            print(f"  effort {e['effort']:>5} kept {e['kept']} skip {e['skip']}: accuracy "
                  f"{e['accuracy_test']:.4f} (halves {e['accuracy_half0']:.4f} / "
                  f"{e['accuracy_half1']:.4f})")
        for p2 in d["phase2"]:
            c, rh = p2["chosen"], p2["report"]
            if c is None:
                print(f"  Phase 2 (select on half {p2['select_half']}): no point meets the "
                      "LEC and the accuracy floor")
                continue
            full_sel = d["efforts"][-1][f"accuracy_half{p2['select_half']}"]
            print(f"  Phase 2 (select on half {p2['select_half']}): {c['low']} -> "
                  f"{c['high'] or '-'} th={c['threshold']:.4g} rows=cols="
                  f"{c.get('array.rows')} {c.get('array.dataflow')}: f_low={c['f_low']:.3f} "
                  f"acc={c['accuracy']:.4f} (full {full_sel:.4f}), EDP gain vs full "
                  f"{c['edp_ratio']:.2f}x")
            print(f"    on the other half: f_low={rh['f_low']:.3f} accuracy "
                  f"{rh['accuracy']:.4f} vs full {rh['full_accuracy']:.4f}; EDP gain "
                  f"{rh['edp_gain']:.2f}x, delay {rh['delay_ratio']:.3f}x, energy "
                  f"{rh['energy_ratio']:.3f}x")
        print(f"  ({d['seconds']:.0f} s)")
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"wrote {out}/summary.json and figures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
