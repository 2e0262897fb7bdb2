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
from sim.config import as_arch

__all__ = ["simulate_summary", "default_evaluate", "is_simulator", "summary_of",
           "simulator_mode", "summaries", "rows_to_summaries"]


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


def simulator_mode(evaluate: Callable) -> str | None:
    """The mode of ``evaluate`` when it is the simulator (:func:`is_simulator`) with
    nothing bound but its mode, else None: then the batched evaluator may stand in."""
    if not is_simulator(evaluate) or evaluate.args or set(evaluate.keywords) - {"mode"}:
        return None
    return evaluate.keywords.get("mode", "cycle")


def rows_to_summaries(df, skip=()) -> list:
    """Rows of :func:`sim.search.evaluate` as summary dicts (Python scalars; keys missing
    on a row, the point's columns ``skip`` and ``point``/``feasible``/``reason`` left out)."""
    import pandas as pd

    drop = set(skip) | {"point", "feasible", "reason"}
    keys = [k for k in df.columns if k not in drop]
    out = []
    for rec in df[keys].to_dict("records"):
        out.append({k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()
                    if not (v is None or v is pd.NA or (isinstance(v, float) and v != v))})
    return out


def summaries(arch, traces: list, evaluate: Callable) -> list:
    """``[summary_of(evaluate(arch, t)) for t in traces]``, in one batched call when
    ``evaluate`` is the simulator (:func:`simulator_mode`): rows equal ``simulate()``'s
    summaries, and a trace whose run is refused goes through ``evaluate`` itself, so
    it raises exactly what the simulator raises."""
    mode = simulator_mode(evaluate)
    if mode is None or not traces:
        return [summary_of(evaluate(arch, t)) for t in traces]
    from sim.search.evaluate import evaluate as batched

    arch = as_arch(arch)
    df = batched(arch, list(traces), {"clock_mhz": [arch.clock_mhz]}, mode=mode)
    rows = rows_to_summaries(df)  # clock_mhz is a summary key too (same value)
    ok = df["feasible"].tolist()
    return [row if good else summary_of(evaluate(arch, t))
            for row, good, t in zip(rows, ok, traces)]
