"""Optimizers that call an evaluator (the simulator by default) in a loop.

One subpackage per optimizer: :mod:`sim.search.sweep` (design-space sweeps),
:mod:`sim.search.pomt`, :mod:`sim.search.pivot` and :mod:`sim.search.optin`.  Each takes an
``evaluate(arch, trace) -> summary dict`` callable (default
:func:`sim.search.simulator.simulate_summary`); :mod:`sim.search.pareto` is the one Pareto
front.

``sim.search.sweep(...)`` is the sweep function and ``sim.search.evaluate(...)`` the batched
evaluator (each shadows its module's name on purpose; ``from sim.search.sweep import Space``
still imports from the subpackage).
"""

from sim.search.evaluate import evaluate
from sim.search.pareto import pareto_front
from sim.search.sweep import Space, Uniform, load_results, sweep

__all__ = ["sweep", "evaluate", "load_results", "Space", "Uniform", "pareto_front"]
