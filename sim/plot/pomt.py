"""POMT figure: the simulated cost curve L(n) with its steps, the chosen n and the utility.

matplotlib is imported inside the function; nothing here calls ``plt.show()``.
"""

from __future__ import annotations

import numpy as np

from sim.errors import ConfigError

__all__ = ["curve"]

_UNITS = {"latency_s": ("latency", 1e3, "ms"), "energy_j": ("energy", 1e3, "mJ"),
          "edp_per_inference_js": ("EDP", 1e6, "mJ·ms"), "cycles": ("cycles", 1e-6, "Mcycles")}


def curve(df, schedule=None, ax=None, *, k: float | None = None, title: str | None = None):
    """Plot a POMT curve: cost vs tokens kept, steps, chosen n, accuracy and utility.

    Parameters
    ----------
    df : pandas.DataFrame
        A curve from :func:`sim.search.pomt.latency_curve` (one prune layer), or a
        schedule's ``table`` (with ``accuracy`` and ``utility`` columns).
    schedule : Schedule, optional
        Mark its chosen n; its ``table`` provides A(n) and U(n) when ``df`` lacks them.
        For a joint schedule only the chosen layer's rows are drawn.
    ax : matplotlib Axes, optional
        Draw there (the utility goes on a twin axis); default a new figure.
    k : float, optional
        Step threshold (default the schedule's, else :data:`sim.search.pomt.STEP_K`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from sim.search.pomt import STEP_K, find_steps

    metric = df.attrs.get("metric") or (schedule.metric if schedule else "latency_s")
    if schedule is not None and "utility" not in df.columns and schedule.table is not None:
        df = schedule.table
    if "prune_layer" in df.columns and df["prune_layer"].nunique() > 1:
        if schedule is None:
            raise ConfigError("curve() draws one prune layer; pass a schedule or select rows")
        df = df[df["prune_layer"] == schedule.prune_layer]
    if metric not in df.columns or "tokens" not in df.columns:
        raise ConfigError(f"curve() needs columns tokens and {metric}, not {list(df.columns)}")
    df = df.sort_values("tokens")
    name, scale, unit = _UNITS.get(metric, (metric, 1.0, ""))
    n = df["tokens"].to_numpy()
    y = df[metric].to_numpy(float) * scale
    k = k if k is not None else (schedule.step_k if schedule is not None else STEP_K)
    steps = find_steps(df, k, metric)

    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4.2), layout="constrained")
    fig = ax.figure
    ax.step(n, y, where="post", color="C0", lw=1.6, label=f"{name} L(n) (simulated)")
    if steps:
        idx = np.searchsorted(n, steps)
        ax.plot(n[idx], y[idx], "v", color="C3", ms=6, label=f"steps (k={k:g}): {len(steps)}")
    ax.set_xlabel("tokens kept n (CLS included)")
    ax.set_ylabel(f"{name} ({unit})")
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if "utility" in df.columns:
        ax2 = ax.twinx()
        acc = df["accuracy"].to_numpy(float)
        ax2.plot(n, acc / acc.max(), "--", color="C2", lw=1.2, label="A(n) / max A")
        ax2.plot(n, df["utility"], color="C1", lw=1.4, label="utility U(n)")
        ax2.set_ylabel("normalised accuracy, utility")
        ax2.set_ylim(0, 1.05)
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    if schedule is not None:
        ax.axvline(schedule.tokens_keep, color="k", ls=":", lw=1.2)
        handles.append(ax.lines[-1])
        labels.append(f"chosen n = {schedule.tokens_keep} (R = {schedule.R}, "
                      f"{schedule.speedup:.2f}x)")
    ax.legend(handles, labels, loc="upper left", fontsize=8, framealpha=0.9)
    if title is None:
        a = df.attrs
        kind = (schedule.curve if schedule else "") or a.get("curve", "")
        layer = int(df["prune_layer"].iloc[0])
        where = {"input": "tokens removed at the input",
                 "deployed": f"prune-and-merge inside block {layer}",
                 "joint": f"joint choice; best: prune-and-merge inside block {layer}",
                 }.get(kind, kind)
        arch = getattr(a.get("arch"), "name", "") or (schedule.arch if schedule else "")
        trace = a.get("trace")
        model = trace.model.name if trace is not None else (schedule.model if schedule else "")
        batch = trace.batch if trace is not None else (schedule.batch if schedule else "")
        title = f"POMT: {model} on {arch}, batch {batch} ({where})"
        src = getattr(schedule, "accuracy_source", "") if schedule else ""
        if src:
            title += f"\naccuracy: {src}"
    ax.set_title(title, fontsize=10)
    return fig
