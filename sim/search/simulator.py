"""The default evaluator of every optimizer: the simulator's summary.

Every optimizer (:func:`~sim.search.sweep.sweep`, PIVOT, POMT, OPTIN) takes an
``evaluate(arch, trace) -> summary dict`` callable.  ``evaluate=None`` means
:func:`simulate_summary` in the optimizer's ``mode``; tests and other cost models inject
their own callable instead of monkeypatching the simulator.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from sim.api import simulate

__all__ = ["simulate_summary", "default_evaluate", "is_simulator", "summary_of"]


def simulate_summary(arch, trace, mode: str = "cycle") -> dict:
    """The default evaluator: ``sim.simulate(arch, trace, mode=mode).summary``."""
    return simulate(arch, trace, mode=mode).summary


def default_evaluate(evaluate: Callable | None, mode: str) -> Callable:
    """``evaluate`` itself, or :func:`simulate_summary` bound to ``mode`` when None.

    The partial of a module-level function pickles, so process and Dask executors can
    ship it to their workers.
    """
    return evaluate if evaluate is not None else functools.partial(simulate_summary,
                                                                   mode=mode)


def is_simulator(evaluate: Callable) -> bool:
    """Whether ``evaluate`` is the simulator itself (so the batched evaluator, whose rows
    equal the simulator's, may stand in for it)."""
    return isinstance(evaluate, functools.partial) and evaluate.func is simulate_summary


def summary_of(result) -> dict:
    """The summary dict of an evaluator's result (a dict, or anything with ``.summary``)."""
    return getattr(result, "summary", result)
