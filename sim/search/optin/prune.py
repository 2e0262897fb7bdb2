"""OPTIN one-shot pruning under a budget: the prune-and-verify loop.

Importances come from :mod:`sim.torch.importance` (torch) or any other source: two arrays,
``heads[L, H]`` and ``neurons[L, M]``, higher = more important.  This package is torch-free.
The steps:

1. :func:`~sim.search.optin.tables.cost_tables` -- marginal cost of each layer's head count
   and MLP width, read from the evaluator.
2. A solver (:mod:`sim.search.optin.solvers`) picks per-layer counts.
3. :func:`optin_search` checks the result with a full evaluation and, when the tables'
   prediction was optimistic (EDP, cycle mode), shrinks the internal budget until the
   *evaluated* metric meets the budget.

Budgets are fractions of the unpruned model's value of the metric (whole model, patch
embedding and classifier included).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from sim.config import as_arch
from sim.errors import ConfigError
from sim.search.optin.solvers import SOLVERS, Selection, select_knapsack, select_optin
from sim.search.optin.tables import Budget, CostTables, cost_tables, metric_of, parse_budget
from sim.search.simulator import default_evaluate, summary_of
from sim.workload.edit import narrow_mlp
from sim.workload.trace import Trace

__all__ = ["OptinResult", "optin_search", "apply_selection"]

log = logging.getLogger(__name__)


def apply_selection(trace: Trace, sel: Selection) -> Trace:
    """The trace with the selection's heads and widths (a layer with 0 heads skips attention).

    Head indices are kept as selected, so the trace says *which* heads run.
    """
    if len(sel.heads) != trace.model.depth:
        raise ConfigError(f"selection has {len(sel.heads)} layers; the trace has "
                          f"{trace.model.depth}")
    layers = []
    for lt, heads in zip(trace.layers, sel.heads):
        layers.append(dataclasses.replace(lt, heads=tuple(int(h) for h in heads),
                                          attention=bool(heads) and lt.attention))
    out = trace.replace_layers(layers)
    return narrow_mlp(out, {i: len(n) for i, n in enumerate(sel.neurons)})


@dataclass
class OptinResult:
    """Outcome of :func:`optin_search`.

    ``selection`` (keep-sets), ``trace`` (the pruned trace), ``summary`` (its evaluation:
    the evaluator's summary dict), ``achieved`` (evaluated metric / unpruned metric),
    ``tables``.
    """

    budget: Budget
    selection: Selection
    trace: Trace
    summary: dict
    achieved: float
    tables: CostTables
    solver: str
    iterations: int = 1

    def to_dict(self) -> dict:
        s, sel = self.summary, self.selection
        return {
            "budget": str(self.budget), "metric": self.budget.metric, "solver": self.solver,
            "achieved_fraction": self.achieved, "predicted": sel.predicted,
            "simulated": s.get(self.budget.metric), "base": self.tables.base,
            "latency_s": s["latency_s"], "cycles": s["cycles"], "macs": s["macs"],
            "energy_j": s.get("energy_j"), "edp_per_inference_js": s.get("edp_per_inference_js"),
            "importance_kept": sel.importance, "head_counts": list(sel.head_counts),
            "widths": list(sel.widths), "keep_sets": sel.keep_sets(),
            "iterations": self.iterations,
        }


def optin_search(heads_imp, neurons_imp, arch, trace: Trace, budget, *, solver: str = "auto",
                 mode: str = "analytic", tables: CostTables | None = None,
                 min_heads: int = 0, min_neurons: int = 1, width_grid: int = 1,
                 max_iter: int = 30, fill: str = "stop", fill_slack: bool = False,
                 bins: int = 20000, evaluate=None) -> OptinResult:
    """Select OPTIN keep-sets meeting ``budget`` on the *simulated* metric.

    Parameters
    ----------
    heads_imp, neurons_imp : array (L, H), (L, M)
        Importances, higher = keep.
    arch : ArchConfig or str
    trace : Trace
        Unpruned trace of the model.
    budget : Budget or str
        ``"latency=0.7"``, ``"edp=0.5"``, ``"macs=0.6"``...
    solver : {"auto", "optin", "knapsack"}
        ``auto``: the paper's SEARCH for ``macs``, knapsack for hardware metrics.
    tables : CostTables, optional
        Precomputed for this arch/trace/metric/mode (reuse across budgets).
    fill, fill_slack
        Options of the ``optin`` solver (:func:`~sim.search.optin.solvers.select_optin`).
    bins
        Budget steps of the ``knapsack`` solver
        (:func:`~sim.search.optin.solvers.select_knapsack`).
    evaluate : callable, optional
        ``evaluate(arch, trace) -> summary dict`` used for the tables and to verify each
        keep-set; default the simulator in ``mode``
        (:func:`sim.search.simulator.simulate_summary`).
    """
    evaluate = default_evaluate(evaluate, mode)
    arch = as_arch(arch)
    budget = parse_budget(budget)
    if solver == "auto":
        solver = "optin" if budget.metric == "macs" else "knapsack"
    if solver not in SOLVERS:
        raise ConfigError(f"solver must be one of {list(SOLVERS)} or 'auto', not {solver!r}")
    if tables is None:
        tables = cost_tables(arch, trace, budget.metric, mode=mode, width_grid=width_grid,
                             evaluate=evaluate)
    elif tables.metric != budget.metric:
        raise ConfigError(f"tables price {tables.metric!r}, the budget {budget.metric!r}")
    target = budget.fraction * tables.base

    def attempt(internal):
        if solver == "optin":
            sel = select_optin(heads_imp, neurons_imp, tables, internal, min_heads=min_heads,
                               min_neurons=min_neurons, fill=fill, fill_slack=fill_slack)
        else:
            sel = select_knapsack(heads_imp, neurons_imp, tables, internal,
                                  min_heads=min_heads, min_neurons=min_neurons, bins=bins)
        t = apply_selection(trace, sel)
        summary = summary_of(evaluate(arch, t))
        return sel, t, summary, metric_of(summary, budget.metric)

    sel, t, summary, value = attempt(target)
    iters, lo, hi = 1, None, target
    # shrink the internal budget until the simulated metric fits (non-additive metrics)
    while value > target * (1 + 1e-12) and iters < max_iter:
        hi = hi - (value - target) if lo is None else (lo + hi) / 2
        try:
            sel, t, summary, value = attempt(hi)
        except ConfigError:
            break
        iters += 1
        log.info("optin: internal budget %.4g -> simulated %.4g (target %.4g)", hi, value,
                 target)
    if value > target * (1 + 1e-9):
        log.warning("optin: simulated %s %.4g exceeds the budget %.4g", budget.metric, value,
                    target)
    return OptinResult(budget, sel, t, summary, value / tables.base, tables, solver, iters)
