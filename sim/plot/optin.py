"""OPTIN figure: measured accuracy vs simulated cost of pruned models, one panel per arch.

matplotlib is imported inside the function; nothing here calls ``plt.show()``.
"""

from __future__ import annotations

from sim.errors import ConfigError

__all__ = ["accuracy_cost", "layers"]

_UNITS = {"latency_s": ("simulated latency", 1e6, "µs"),
          "edp_per_inference_js": ("simulated EDP", 1e9, "nJ·s"),
          "energy_j": ("simulated energy", 1e6, "µJ"), "macs": ("MACs", 1e-6, "M"),
          "latency_frac": ("simulated latency / unpruned", 1.0, "")}
_STYLE = {"optin-macs": ("tab:gray", "o", "--"), "knapsack-macs": ("tab:blue", "s", ":"),
          "optin-latency": ("tab:orange", "^", "-."), "knapsack-latency": ("tab:red", "D", "-")}


def accuracy_cost(df, ax=None, *, x: str = "latency_frac", title: str | None = None):
    """Accuracy vs cost, a line per ``method``, a panel per ``arch``.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``arch``, ``method``, ``accuracy`` and ``x`` (one row per pruned model;
        an ``unpruned`` method is drawn as a star).
    ax : matplotlib Axes or array of Axes, optional
        One per arch; default a new figure.
    x : str
        Cost column (``latency_frac``, ``latency_s``, ``edp_per_inference_js``, ``macs``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    import numpy as np

    need = {"arch", "method", "accuracy", x}
    if not need <= set(df.columns):
        raise ConfigError(f"accuracy_cost() needs columns {sorted(need)}, "
                          f"not {list(df.columns)}")
    arches = list(dict.fromkeys(df["arch"]))
    if ax is None:
        fig, axes = plt.subplots(1, len(arches), figsize=(5.2 * len(arches), 4.2),
                                 layout="constrained", squeeze=False)
        axes = axes[0]
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    name, scale, unit = _UNITS.get(x, (x, 1.0, ""))
    for a, arch in zip(axes, arches):
        sub = df[df["arch"] == arch]
        for method, rows in sub.groupby("method", sort=False):
            rows = rows.sort_values(x)
            if method == "unpruned":
                a.plot(rows[x] * scale, rows["accuracy"] * 100, "k*", ms=12, label="unpruned")
                continue
            color, marker, ls = _STYLE.get(method, (None, "o", "-"))
            hollow = method.startswith("optin-")
            a.plot(rows[x] * scale, rows["accuracy"] * 100, ls=ls, marker=marker,
                   ms=7 if hollow else 4, mfc="none" if hollow else color, color=color,
                   label=method)
        a.set_title(arch if title is None else f"{title} — {arch}")
        a.set_xlabel(f"{name}" + (f" ({unit})" if unit else ""))
        a.set_ylabel("test accuracy (%)")
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    return fig


def layers(result, unpruned_report, pruned_report, ax=None):
    """Per-block simulated latency before/after an OPTIN result, kept heads/width on top.

    Parameters
    ----------
    result : sim.search.optin.OptinResult
    unpruned_report, pruned_report : sim.Report
        Simulations of the unpruned trace and of ``result.trace`` on the same arch and mode.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    import numpy as np

    before = unpruned_report.layers
    after = pruned_report.layers
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    fig = ax.figure
    x = np.arange(len(before))
    ax.bar(x - 0.2, before["latency_s"] * 1e6, 0.4, label="unpruned", color="tab:gray")
    ax.bar(x + 0.2, after["latency_s"] * 1e6, 0.4, label="pruned", color="tab:red")
    sel = result.selection
    for i, (h, m) in enumerate(zip(sel.head_counts, sel.widths)):
        pos = int(np.flatnonzero(before["name"].to_numpy() == f"block{i}")[0])
        ax.annotate(f"{h}h\n{m}", (pos + 0.2, after["latency_s"].iloc[pos] * 1e6),
                    ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, before["name"], rotation=45)
    ax.set_ylabel("simulated latency (µs)")
    ax.set_title(f"OPTIN {result.budget} on {pruned_report.summary['arch']}: "
                 f"{result.achieved:.3f} of unpruned")
    ax.legend(fontsize=8)
    return fig
