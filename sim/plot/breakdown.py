"""Latency and energy breakdown of a run: stacked bars per layer and per op.

``breakdown(report)`` draws four panels: latency per layer (stacked by op), energy per
layer (stacked by component), latency per op name and energy per op name (stacked by
component), summed over layers.  matplotlib is imported inside the function.
"""

from __future__ import annotations

import numpy as np

__all__ = ["breakdown"]


def _stacked(ax, labels, parts: dict, ylabel: str, title: str):
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    bottom = np.zeros(len(labels))
    x = np.arange(len(labels))
    for j, (name, values) in enumerate(parts.items()):
        values = np.asarray(values, dtype=float)
        if not values.any():
            continue
        ax.bar(x, values, bottom=bottom, label=name, width=0.8, color=cmap(j % 20))
        bottom += values
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=90, fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    if len(parts) > 1:
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)


def _layer_names(report):
    lay = report.layers
    return dict(zip(lay["layer"], lay["name"]))


def breakdown(report, ax=None):
    """Stacked bars of latency and energy per layer and per op.

    Parameters
    ----------
    report : sim.Report
        A priced run (``sim.simulate``).
    ax : matplotlib Axes or sequence of 4 Axes, optional
        Four axes (latency/layer, energy/layer, latency/op, energy/op), or one Axes that
        gets the energy per layer only.  ``None`` creates a 2 x 2 figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.axes import Axes

    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(13, 8), layout="constrained")
        axes = fig.subplots(2, 2).ravel()
    elif isinstance(ax, Axes):
        axes = [None, ax, None, None]
        fig = ax.figure
    else:
        axes = list(np.ravel(ax))
        if len(axes) != 4:
            from sim.errors import VitsimError

            raise VitsimError(f"breakdown: ax must be one Axes or 4 Axes, not {len(axes)}")
        fig = axes[0].figure
    from sim.cost import COMPONENTS

    ops = report.ops
    names = _layer_names(report)
    layers = list(names)
    labels = [names[i] for i in layers]
    op_names = list(dict.fromkeys(ops["op"]))
    s = report.summary
    ms = ops["total_cycles"] / report.arch.clock_hz * 1e3
    has_energy = "energy_pj" in ops
    if axes[0] is not None:
        parts = {op: [ms[(ops.layer == i) & (ops.op == op)].sum() for i in layers]
                 for op in op_names}
        _stacked(axes[0], labels, parts, "latency, ms (serial op time)",
                 f"{s['model']} on {s['arch']}: latency per layer")
    if axes[1] is not None and has_energy:
        by_layer = ops.groupby("layer")[[f"energy_{c}_pj" for c in COMPONENTS]].sum()
        parts = {c: by_layer[f"energy_{c}_pj"].reindex(layers, fill_value=0) * 1e-9
                 for c in COMPONENTS}
        _stacked(axes[1], labels, parts, "energy, mJ",
                 f"energy per layer ({s.get('energy_table', '?')}: "
                 f"{s.get('energy_label', '')})")
    if axes[2] is not None:
        parts = {"latency": [ms[ops.op == op].sum() for op in op_names]}
        _stacked(axes[2], op_names, parts, "latency, ms", "latency per op (all layers)")
    if axes[3] is not None and has_energy:
        by_op = ops.groupby("op")[[f"energy_{c}_pj" for c in COMPONENTS]].sum()
        parts = {c: by_op[f"energy_{c}_pj"].reindex(op_names, fill_value=0) * 1e-9
                 for c in COMPONENTS}
        _stacked(axes[3], op_names, parts, "energy, mJ", "energy per op (all layers)")
    return fig
