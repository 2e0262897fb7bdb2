"""Sweep figures: a heatmap of one metric over two swept keys, and a Pareto front.

matplotlib is imported inside the functions; nothing here calls ``plt.show()``.
"""

from __future__ import annotations

import numpy as np

from sim.errors import ConfigError

__all__ = ["heatmap", "pareto", "LABELS"]

#: Axis labels (with units) of common sweep columns.
LABELS = {
    "latency_s": "latency (s)", "energy_j": "energy (J)", "edp_per_inference_js": "EDP (J·s)",
    "power_w": "power (W)", "cycles": "cycles", "utilization": "PE utilization",
    "macs": "MACs", "stall_cycles": "stall cycles", "array.rows": "array rows R",
    "array.cols": "array columns C", "array.dataflow": "dataflow",
    "clock_mhz": "clock (MHz)", "throughput_ips": "throughput (images/s)",
    "memory.ifmap_kib": "ifmap SRAM (KiB)", "memory.filter_kib": "filter SRAM (KiB)",
    "memory.ofmap_kib": "ofmap SRAM (KiB)", "dram.bandwidth_gbps": "DRAM bandwidth (GB/s)",
}


def _label(col: str) -> str:
    return LABELS.get(col, col)


def _need(df, cols):
    missing = [c for c in cols if c not in df]
    if missing:
        raise ConfigError(f"column(s) {missing} not in the sweep results; columns are "
                          f"{list(df.columns)}")


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax.figure, ax


def _title(ax, text: str, fontsize: float = 9.5) -> None:
    """Set a title wrapped to the width of the axes' figure."""
    import textwrap

    width_in = ax.figure.get_figwidth() * ax.get_position().width * 1.15
    chars = max(20, int(width_in * 72 / (fontsize * 0.55)))
    ax.set_title(textwrap.fill(text, chars), fontsize=fontsize)


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return ""
    a = abs(v)
    return f"{v:.0f}" if 1 <= a < 1000 and v == int(v) else f"{v:.3g}"


def heatmap(df, x: str, y: str, z: str, ax=None, agg: str = "min", log=None,
            annotate=None, title: str | None = None):
    """Heatmap of ``z`` over the values of ``x`` and ``y``.

    Parameters
    ----------
    df : pandas.DataFrame
        Sweep results (:func:`sim.search.sweep.sweep` or ``load_results``).
    x, y : str
        Swept columns for the horizontal and vertical axes (categorical; sorted).
    z : str
        Metric to colour, e.g. ``"edp_per_inference_js"`` (J·s) or ``"latency_s"`` (s).
    ax : matplotlib.axes.Axes, optional
        Axes to draw in; default a new figure.
    agg : str
        How rows sharing an ``(x, y)`` cell combine (other swept keys, traces):
        ``"min"`` (the best design of the cell, default), ``"mean"``, ``"max"``.
    log : bool, optional
        Logarithmic colour scale; default when ``z`` is positive and spans > 100x.
    annotate : bool, optional
        Write values into cells; default when the grid has at most 12 x 12 cells.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Cells with no feasible row are grey and marked "×" (infeasible).
    """
    from matplotlib.colors import LogNorm, Normalize

    _need(df, [x, y, z])
    feas = df["feasible"].astype(bool) if "feasible" in df else np.ones(len(df), bool)
    good = df[feas & df[z].notna()]
    xs, ys = sorted(df[x].dropna().unique()), sorted(df[y].dropna().unique())
    table = good.pivot_table(index=y, columns=x, values=z, aggfunc=agg)
    grid = table.reindex(index=ys, columns=xs).to_numpy(dtype=float)
    fig, ax = _axes(ax, (1.2 + 0.62 * max(len(xs), 4), 1.2 + 0.5 * max(len(ys), 3)))
    finite = grid[np.isfinite(grid)]
    if log is None:
        log = finite.size > 0 and finite.min() > 0 and finite.max() > 100 * finite.min()
    norm = (LogNorm(finite.min(), finite.max()) if log and finite.size
            else Normalize(*(finite.min(), finite.max()) if finite.size else (0, 1)))
    cmap = _cmap()
    im = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto", cmap=cmap,
                   norm=norm, interpolation="nearest")
    ax.set_facecolor("0.85")
    ax.set_xticks(range(len(xs)), [str(v) for v in xs])
    ax.set_yticks(range(len(ys)), [str(v) for v in ys])
    ax.set_xlabel(_label(x))
    ax.set_ylabel(_label(y))
    bar = fig.colorbar(im, ax=ax)
    bar.set_label(f"{_label(z)}" + ("" if agg == "min" else f" ({agg})")
                  + (", log scale" if log else ""))
    if annotate is None:
        annotate = len(xs) <= 12 and len(ys) <= 12
    if finite.size:
        best = np.unravel_index(np.nanargmin(np.where(np.isfinite(grid), grid, np.inf)),
                                grid.shape)
    for (i, j), v in np.ndenumerate(grid):
        if not np.isfinite(v):
            ax.text(j, i, "×", ha="center", va="center", color="0.35", fontsize=11)
        elif annotate:
            frac = norm(v)
            color = "white" if frac < 0.45 else "black"
            weight = "bold" if (i, j) == best else "normal"
            ax.text(j, i, _fmt(v), ha="center", va="center", color=color, fontsize=7.5,
                    fontweight=weight)
    if finite.size:
        ax.add_patch(_box(best[1], best[0]))
    _title(ax, title or f"{_label(z)} over {_label(y)} × {_label(x)}"
           + (" (best of the other keys; box = minimum, × = infeasible)" if agg == "min"
              else f" ({agg} of the other keys)"))
    return fig


def _box(x, y):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2)


def _cmap():
    import matplotlib

    return matplotlib.colormaps["viridis"]


def pareto(df, x: str, y: str, ax=None, color_by: str | None = None,
           label_by=None, log=None, title: str | None = None):
    """Scatter of ``y`` against ``x`` with the Pareto front (both minimised) marked.

    Parameters
    ----------
    df : pandas.DataFrame
        Sweep results.
    x, y : str
        Metrics, e.g. ``"latency_s"`` and ``"energy_j"``.
    ax : matplotlib.axes.Axes, optional
    color_by : str, optional
        Categorical column colouring the points (e.g. ``"array.dataflow"``); default the
        dataflow when it was swept.
    label_by : list of str, optional
        Columns naming each front point (default: the swept array keys present).
    log : bool, optional
        Log axes; default per axis when its metric spans > 30x.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from sim.search.pareto import pareto_front

    _need(df, [x, y])
    feas = df["feasible"].astype(bool) if "feasible" in df else np.ones(len(df), bool)
    good = df[feas & df[x].notna() & df[y].notna()].reset_index(drop=True)
    front = pareto_front(good, [x, y])
    fig, ax = _axes(ax, (6.4, 4.6))
    if color_by is None and "array.dataflow" in good and good["array.dataflow"].nunique() > 1:
        color_by = "array.dataflow"
    if color_by is not None:
        _need(good, [color_by])
        cats = sorted(good[color_by].dropna().unique(), key=str)
        colors = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown",
                  "tab:pink", "tab:olive", "tab:cyan"]
        for c, cat in zip(colors * (len(cats) // len(colors) + 1), cats):
            sel = good[color_by] == cat
            ax.scatter(good.loc[sel, x], good.loc[sel, y], s=18, color=c, alpha=0.55,
                       linewidths=0, label=f"{color_by.split('.')[-1]} = {cat}")
    else:
        ax.scatter(good[x], good[y], s=18, color="tab:blue", alpha=0.55, linewidths=0,
                   label="design points")
    fr = good[front].sort_values(x)
    ax.step(fr[x], fr[y], where="post", color="black", linewidth=1.2, zorder=3)
    ax.scatter(fr[x], fr[y], s=70, facecolors="none", edgecolors="red", linewidths=1.6,
               zorder=4, label=f"Pareto front ({len(fr)} point{'s' * (len(fr) != 1)})")
    for col, setter in ((x, ax.set_xscale), (y, ax.set_yscale)):
        v = good[col].to_numpy(dtype=float)
        v = v[v > 0]
        use_log = log if log is not None else (v.size and v.max() > 30 * v.min())
        if use_log and v.size:
            setter("log")
    ax.margins(x=0.12, y=0.1)
    ax.autoscale_view()
    if label_by is None:
        label_by = [c for c in ("array.rows", "array.cols", "array.dataflow") if c in good]
        if "array.rows" in label_by and "array.cols" in label_by and \
                (good["array.rows"] == good["array.cols"]).all():
            label_by.remove("array.cols")
    if label_by and len(fr) <= 20:
        _label_front(ax, fr, x, y, label_by)
    ax.set_xlabel(_label(x))
    ax.set_ylabel(_label(y))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    n_bad = int((~feas).sum())
    _title(ax, title or f"{_label(y)} vs {_label(x)}: {len(good)} feasible designs"
           + (f", {n_bad} infeasible not shown" if n_bad else ""))
    return fig


def _label_front(ax, fr, x, y, label_by) -> None:
    """Name the front points; points closer than ~14 px share one label.

    Labels go below-left of a point: nothing is plotted there (no point dominates a front
    point, and the step line runs above and to the right of it); below-right when the
    label would leave the axes.
    """
    xy = ax.transData.transform(fr[[x, y]].to_numpy(dtype=float))
    left = ax.transAxes.transform((0, 0))[0]
    px_per_char = 7 * 0.6 * ax.figure.dpi / 72  # 7 pt text
    names = [_name(r, label_by) for _, r in fr.iterrows()]
    groups = []
    for i, p in enumerate(xy):
        if groups and np.hypot(*(p - xy[groups[-1][0]])) < 14:
            groups[-1].append(i)
        else:
            groups.append([i])
    for g in groups:
        last = fr.iloc[g[-1]]  # the group's lowest-right point: its below-left is free
        text = ", ".join(names[i] for i in g)
        right = xy[g[-1]][0] - 5 - len(text) * px_per_char < left  # would leave the axes
        ax.annotate(text, (last[x], last[y]),
                    textcoords="offset points", xytext=(5 if right else -5, -5),
                    ha="left" if right else "right", va="top", fontsize=7, color="0.15")


def _name(row, cols) -> str:
    """``32x128 ws`` for array rows, cols, dataflow; values joined by spaces otherwise."""
    parts = [str(row[c]) for c in cols]
    if "array.rows" in cols and "array.cols" in cols:
        i, j = cols.index("array.rows"), cols.index("array.cols")
        parts[i] = f"{row['array.rows']}x{row['array.cols']}"
        del parts[j]
    return " ".join(parts)
