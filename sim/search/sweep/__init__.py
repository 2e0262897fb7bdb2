"""Design-space sweeps: spaces of arch points, executors, resumable result stores.

* :mod:`~sim.search.sweep.space` -- :class:`Space` (grid, random, Latin hypercube) and
  :class:`Uniform`.
* :mod:`~sim.search.sweep.executors` -- inline, process and Dask executors.
* :mod:`~sim.search.sweep.store` -- Parquet/CSV result stores, :func:`load_results`.
* :mod:`~sim.search.sweep.runner` -- :func:`sweep` itself.
"""

from sim.search.sweep.executors import (
    DaskExecutor,
    Executor,
    InlineExecutor,
    ProcessExecutor,
    default_workers,
    make_executor,
)
from sim.search.sweep.runner import (
    META_COLUMNS,
    SweepContext,
    point_key,
    resolve_traces,
    run_batch,
    simulate_summary,
    sweep,
    trace_hash,
)
from sim.search.sweep.space import Space, Uniform, parse_axis, parse_value
from sim.search.sweep.store import load_results, open_store, rows_to_frame

__all__ = [
    "sweep", "run_batch", "simulate_summary", "point_key", "trace_hash", "resolve_traces",
    "SweepContext", "META_COLUMNS", "load_results", "open_store", "rows_to_frame", "Space",
    "Uniform", "parse_axis", "parse_value", "Executor", "InlineExecutor", "ProcessExecutor",
    "DaskExecutor", "make_executor", "default_workers",
]
