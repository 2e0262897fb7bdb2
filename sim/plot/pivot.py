"""PIVOT figures: CKA matrix (Fig. 3a style), accuracy vs Path-Score (Fig. 4a style),
the accuracy-EDP Pareto front of Phase 2, and the cascade's exit/accuracy curve.

matplotlib is imported inside each function; every function returns the Figure and never
calls ``plt.show()``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_cka_matrix", "plot_path_scores", "plot_pareto", "plot_cascade_curve"]


def _axes(ax, figsize=(5.0, 4.0)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    return ax.figure, ax


def plot_cka_matrix(matrix, ax=None, title: str | None = None):
    """Heatmap of ``matrix[i, j] = CKA(MLP_i, A_j)``; the cells ``(i, i + 1)`` (the
    redundancy scores Path-Score sums) are outlined."""
    from matplotlib.patches import Rectangle

    m = np.asarray(matrix, dtype=float)
    fig, ax = _axes(ax, (5.2, 4.4))
    im = ax.imshow(m, cmap="viridis", vmin=0, vmax=max(1e-9, np.nanmax(m)), origin="upper")
    for i in range(min(m.shape[0], m.shape[1] - 1)):
        ax.add_patch(Rectangle((i + 1 - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=1.5))
    ax.set_xlabel("attention output A_j (encoder j)")
    ax.set_ylabel("MLP output MLP_i (encoder i)")
    ax.set_xticks(range(m.shape[1]))
    ax.set_yticks(range(m.shape[0]))
    ax.set_title(title or "CKA(MLP_i, A_j); red: (i, i+1)")
    fig.colorbar(im, ax=ax, label="CKA")
    return fig


def plot_path_scores(df, ax=None, score: str = "path_score", acc: str = "accuracy",
                     best=None, title: str | None = None, label: str = "paths"):
    """Path accuracy vs Path-Score of same-effort paths (one dot per path).

    ``best`` (a row or dict with the score and accuracy columns) is drawn as a star;
    the Spearman rank correlation is in the title.
    """
    from scipy.stats import spearmanr

    fig, ax = _axes(ax)
    ax.scatter(df[score], df[acc], s=22, alpha=0.75, label=label)
    if best is not None:
        ax.scatter([best[score]], [best[acc]], marker="*", s=220, c="red", zorder=3,
                   label="Phase 1 (best Path-Score)")
    rho = spearmanr(df[score], df[acc]).statistic if len(df) > 2 else float("nan")
    ax.set_xlabel("Path-Score S (sum of CKA(MLP_{j-1}, A_j) over skipped j)")
    ax.set_ylabel("path accuracy")
    ax.set_title(title or f"accuracy vs Path-Score (Spearman {rho:.2f})", fontsize=10)
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def plot_pareto(points, ax=None, chosen=None, baseline=None, floor: float | None = None,
                x: str = "edp_per_inference_js", y: str = "accuracy", title: str | None = None):
    """Phase-2 points (accuracy vs expected EDP), LEC-feasible Pareto front, chosen point
    and the baseline (full model alone) on each arch point."""
    fig, ax = _axes(ax, (6.0, 4.2))
    p = points
    ok = p["lec_ok"].to_numpy(bool)
    ax.scatter(p.loc[~ok, x], p.loc[~ok, y], s=6, c="0.8", label="below LEC")
    ax.scatter(p.loc[ok, x], p.loc[ok, y], s=6, c="tab:blue", alpha=0.5, label="meets LEC")
    front = p[p["pareto"]].sort_values(x)
    ax.step(front[x], front[y], where="post", c="tab:orange", lw=1.5, label="Pareto front")
    if baseline is not None and len(baseline):
        ax.scatter(baseline[x], baseline[y], marker="s", s=40, c="k", label="full model")
    if chosen is not None:
        ax.scatter([chosen[x]], [chosen[y]], marker="*", s=250, c="red", zorder=4,
                   label="chosen")
    if floor is not None:
        ax.axhline(floor, ls="--", c="red", lw=0.8, label="accuracy floor")
    ax.set_xscale("log")
    ax.set_xlabel("expected EDP per inference (J*s)" if x == "edp_per_inference_js" else x)
    ax.set_ylabel("cascade accuracy" if y == "accuracy" else y)
    ax.set_title(title or "PIVOT Phase 2: accuracy vs expected EDP")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3, which="both")
    return fig


def plot_cascade_curve(curve, ax=None, lec: float | None = None, title: str | None = None):
    """Exit fraction ``f_low`` and accuracy vs entropy threshold (one low/high pair)."""
    fig, ax = _axes(ax)
    ax.plot(curve["threshold"], curve["f_low"], label="f_low (exit at low effort)")
    ax.plot(curve["threshold"], curve["accuracy"], label="cascade accuracy")
    if lec is not None:
        ax.axhline(lec, ls="--", c="0.4", lw=0.8, label=f"LEC = {lec}")
    ax.set_xlabel("class-mean entropy threshold")
    ax.set_title(title or "entropy routing")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig
