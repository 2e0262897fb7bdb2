"""OPTIN budgets and marginal cost tables read from an evaluator (the simulator by default).

:func:`cost_tables` prices each layer's head count and MLP width one block at a time:
``attn[l, h] = metric(trace with block l at h heads) - metric(trace)`` and ``mlp[l, m]``
likewise for width ``m`` (``h = 0`` skips the attention).  The predicted metric of a keep-set
is ``base + sum_l attn[l, h_l] + mlp[l, m_l]`` (exact for MACs and, in analytic mode, for
latency; first order for EDP).  With ``metric="macs"`` the tables are OPTIN's own cost model
(per head ``3Nd d_h + 2N^2 d_h + N d_h d``, per neuron ``2Nd``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from sim.config import as_arch
from sim.errors import ConfigError
from sim.search.simulator import default_evaluate, summaries, summary_of
from sim.workload.edit import narrow_mlp, skip_attention
from sim.workload.trace import Trace

__all__ = ["Budget", "CostTables", "parse_budget", "cost_tables", "metric_of", "METRICS"]

#: Budget names -> summary keys of :class:`sim.Report`.
METRICS = {"latency": "latency_s", "cycles": "cycles", "energy": "energy_j",
           "edp": "edp_per_inference_js", "macs": "macs"}


@dataclass(frozen=True)
class Budget:
    """Keep ``metric <= fraction * metric(unpruned)``; ``metric`` is a summary key."""

    metric: str
    fraction: float

    def __str__(self):
        name = {v: k for k, v in METRICS.items()}.get(self.metric, self.metric)
        return f"{name}={self.fraction:g}"


def parse_budget(text) -> Budget:
    """``"latency=0.7"``, ``"edp=0.5"``, ``"macs=0.6"`` (also ``energy``, ``cycles``)."""
    if isinstance(text, Budget):
        return text
    name, sep, value = str(text).partition("=")
    problems = []
    if not sep or name.strip() not in METRICS:
        problems.append(f"budget must look like METRIC=FRACTION with METRIC one of "
                        f"{sorted(METRICS)}, not {text!r}")
    try:
        frac = float(value)
    except ValueError:
        frac = float("nan")
    if not 0 < frac <= 1:
        problems.append(f"budget fraction must be a number in (0, 1], not {value!r}")
    if problems:
        raise ConfigError(problems)
    return Budget(METRICS[name.strip()], frac)


@dataclass(frozen=True)
class CostTables:
    """Per-layer marginal costs of head counts and MLP widths (units of ``metric``).

    Attributes
    ----------
    metric : str
        Summary key priced (``latency_s``, ``edp_per_inference_js``, ``macs``...).
    base : float
        Metric of the unpruned trace.
    attn : ndarray, shape (L, H+1)
        Change of the metric when block l keeps h heads (``h = 0``: attention skipped).
    mlp : ndarray, shape (L, M+1)
        Change when block l keeps m MLP neurons; ``mlp[:, 0] = inf`` (a trace needs >= 1)
        and widths off ``width_grid`` are ``inf``.
    quantum : float or None
        Every cost is an integer multiple of this (one clock period for latency, 1 for
        cycles and MACs; None for energy/EDP): lets the knapsack solve exactly.
    """

    metric: str
    base: float
    attn: np.ndarray
    mlp: np.ndarray
    width_grid: int = 1
    quantum: float | None = None

    def predict(self, h, m) -> float:
        """Predicted metric for per-layer head counts ``h`` and widths ``m``."""
        rows = np.arange(len(h))
        return float(self.base + self.attn[rows, h].sum() + self.mlp[rows, m].sum())


def metric_of(summary, metric: str) -> float:
    """``summary[metric]`` as a float (``summary`` is a dict or has ``.summary``)."""
    summary = summary_of(summary)
    try:
        return float(summary[metric])
    except KeyError:
        raise ConfigError(
            f"metric {metric!r} is not in the simulator's summary (keys: "
            f"{sorted(summary)}); energy/EDP need the energy model") from None


def cost_tables(arch, trace: Trace, metric: str = "latency_s", *, mode: str = "analytic",
                width_grid: int = 1, evaluate=None) -> CostTables:
    """Marginal cost tables from the evaluator (default the simulator), one block changed at
    a time.

    Parameters
    ----------
    arch : ArchConfig or str
    trace : Trace
        The unpruned trace (every block at full heads and width).
    metric : str
        A :class:`sim.Report` summary key (``latency_s``, ``cycles``, ``energy_j``,
        ``edp_per_inference_js``, ``macs``).
    mode : {"analytic", "cycle"}
    width_grid : int
        Only widths that are multiples of this (and the full width) are priced and may be
        selected: the hardware granularity ``g`` (e.g. the array edge).  1 = every width.
    evaluate : callable, optional
        ``evaluate(arch, trace) -> summary dict``; default the simulator in ``mode``
        (:func:`sim.search.simulator.simulate_summary`).

    Costs ``L * (H + 1 + M / width_grid)`` simulations (~0.5 ms each in analytic mode).
    """
    arch = as_arch(arch)
    evaluate = default_evaluate(evaluate, mode)
    spec = trace.model
    depth, H, M = spec.depth, spec.num_heads, spec.mlp_hidden
    if any(len(lt.heads) != H or lt.mlp_hidden != M or not lt.attention
           for lt in trace.layers):
        raise ConfigError("cost_tables needs the unpruned trace (all heads, full MLP width "
                          "in every block)")
    if not isinstance(width_grid, int) or width_grid < 1:
        raise ConfigError(f"width_grid must be an integer >= 1, not {width_grid!r}")
    widths = sorted(set(range(width_grid, M + 1, width_grid)) | {M})
    traces, cells = [trace], [None]
    for layer in range(depth):
        for h in range(H):
            if h == 0:
                t = skip_attention(trace, [layer])
            else:
                lts = list(trace.layers)
                lts[layer] = dataclasses.replace(lts[layer], heads=tuple(range(h)))
                t = trace.replace_layers(lts)
            traces.append(t)
            cells.append(("attn", layer, h))
        for m in widths:
            if m != M:
                traces.append(narrow_mlp(trace, {layer: m}))
                cells.append(("mlp", layer, m))
    # one batched call when evaluate is the simulator (sim.search.evaluate)
    values = [metric_of(s, metric) for s in summaries(arch, traces, evaluate)]
    base = values[0]
    attn = np.zeros((depth, H + 1))
    mlp = np.full((depth, M + 1), np.inf)
    mlp[:, M] = 0.0
    for cell, v in zip(cells[1:], values[1:]):
        table = attn if cell[0] == "attn" else mlp
        table[cell[1], cell[2]] = v - base
    quantum = {"latency_s": 1.0 / arch.clock_hz, "cycles": 1.0, "macs": 1.0}
    return CostTables(metric, base, attn, mlp, width_grid, quantum.get(metric))
