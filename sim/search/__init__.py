"""Optimizers that call the simulator in a loop: sweeps, POMT, PIVOT, OPTIN.

``sim.search.sweep(...)`` is the sweep function and ``sim.search.evaluate(...)`` the batched
evaluator (each shadows its module's name on purpose);
POMT, PIVOT and OPTIN live in ``sim.search.pomt``, ``.pivot`` and ``.optin``.
"""

from sim.search.evaluate import evaluate
from sim.search.pareto import pareto_front
from sim.search.space import Space, Uniform
from sim.search.store import load_results
from sim.search.sweep import sweep

__all__ = ["sweep", "evaluate", "load_results", "Space", "Uniform", "pareto_front"]
