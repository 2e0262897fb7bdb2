"""OPTIN one-shot pruning of heads and MLP neurons under a hardware budget.

* :mod:`~sim.search.optin.tables` -- budgets and marginal cost tables from the evaluator.
* :mod:`~sim.search.optin.solvers` -- the ``optin`` (paper's SEARCH) and ``knapsack``
  solvers.
* :mod:`~sim.search.optin.prune` -- :func:`optin_search`, the prune-and-verify loop.
"""

from sim.search.optin.prune import OptinResult, apply_selection, optin_search
from sim.search.optin.solvers import SOLVERS, Selection, select_knapsack, select_optin
from sim.search.optin.tables import METRICS, Budget, CostTables, cost_tables, parse_budget

__all__ = [
    "Budget", "CostTables", "Selection", "OptinResult", "parse_budget", "cost_tables",
    "select_optin", "select_knapsack", "optin_search", "apply_selection", "METRICS",
    "SOLVERS",
]
