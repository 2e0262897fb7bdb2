"""POMT token-pruning schedules from the simulator.

* :mod:`~sim.search.pomt.schedule` -- latency curves L(n), step detection, the utility
  choice (:func:`choose`, :func:`choose_joint`).
* :mod:`~sim.search.pomt.accuracy` -- accuracy sources A(n) (tables, callables, the digits
  model).
* :mod:`~sim.search.pomt.compare` -- POMT vs Top-K vs ToMe at matched token budgets.
"""

from sim.search.pomt.accuracy import (
    AccuracySource,
    DigitsAccuracy,
    load_accuracy,
    resolve_accuracy,
)
from sim.search.pomt.compare import compare
from sim.search.pomt.schedule import (
    DEFAULT_PRUNE_LAYER,
    METRICS,
    STEP_K,
    Schedule,
    choose,
    choose_joint,
    deployed_trace,
    find_steps,
    latency_curve,
)

__all__ = [
    "latency_curve", "find_steps", "choose", "choose_joint", "Schedule", "deployed_trace",
    "METRICS", "STEP_K", "DEFAULT_PRUNE_LAYER", "AccuracySource", "DigitsAccuracy",
    "load_accuracy", "resolve_accuracy", "compare",
]
