"""Design-space sweeps: every point of a space x every trace, in parallel, resumable.

>>> import sim
>>> from sim.search.sweep import Space, sweep
>>> df = sweep("zcu102", ["deit_s"], Space.grid({"array.rows": [32, 64]}),
...            executor="inline", mode="analytic")
>>> list(df["array.rows"]), bool(df["feasible"].all())
([32, 64], True)

Each candidate is built in memory with :func:`sim.with_overrides` (validated; never by
rewriting YAML).  A candidate that fails — a :class:`~sim.errors.ResourceError` (over the
ZCU102 budget), an invalid combination, any :class:`~sim.errors.VitsimError` — becomes a
row with ``feasible=False`` and the ``reason``; even an unexpected exception becomes a row
(``status="error"``, retried on the next run).  The sweep never dies on one point.

Rows stream to ``out`` as batches finish (see :mod:`sim.search.sweep.store`); a rerun with the
same ``out`` skips every point already there, so an interrupted sweep resumes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sim.config import ArchConfig, arch_hash, as_arch, with_overrides
from sim.engine.simulate import MODES
from sim.errors import ConfigError, VitsimError
from sim.search.simulator import default_evaluate, is_simulator, simulate_summary, summary_of
from sim.search.sweep.batched import batched_rows
from sim.search.sweep.executors import Executor, make_executor
from sim.search.sweep.space import Space
from sim.search.sweep.store import load_results, open_store, rows_to_frame
from sim.workload import Trace, as_trace, trace_to_dict
from sim.workload.ops_trace import OpsTrace

__all__ = [
    "sweep", "run_batch", "simulate_summary", "point_key", "trace_hash", "resolve_traces",
    "SweepContext", "META_COLUMNS", "load_results",
]

log = logging.getLogger(__name__)

#: Columns every row has, before the space's keys and the summary fields.
META_COLUMNS = ("key", "trace", "feasible", "status", "reason", "arch_hash", "trace_hash",
                "mode")
#: Most rows the per-point path (custom evaluators, CSV output) builds in memory (about
#: 20 KB a row: 100,000 rows stay near 2 GB).
_MAX_POINT_ROWS = 100_000
#: Largest auto batch per mode (points; the batched evaluator takes each in one call).
_MAX_BATCH = {"analytic": 1024, "cycle": 256}


def trace_hash(trace: Trace) -> str:
    """Stable 16-hex-digit fingerprint of a trace's content (independent of its name)."""
    data = trace_to_dict(trace)
    data.pop("name", None)
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def point_key(base_arch_hash: str, point: dict, trace_digest: str, mode: str) -> str:
    """Stable 16-hex-digit key of one result row.

    It hashes the base architecture's :func:`~sim.config.arch_hash`, the point's
    overrides (sorted), the trace hash and the mode: together they fix the candidate
    architecture and the workload, and the key is known *before* the candidate is built,
    so a rerun skips finished points without rebuilding them.
    """
    text = json.dumps([base_arch_hash, sorted(point.items()), trace_digest, mode],
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def resolve_traces(traces) -> list:
    """Traces from Trace objects, files or built-in model names (``"deit_s"``).

    Raises :class:`ConfigError` when two different traces share a name (rows are told
    apart by the ``trace`` column).
    """
    if isinstance(traces, (Trace, str, Path)):
        traces = [traces]
    out = []
    for t in traces:
        if isinstance(t, (Trace, OpsTrace, str, Path)):  # v1 Trace or v2 OpsTrace
            out.append(as_trace(t))
        else:
            raise ConfigError(f"traces must be Trace objects, trace files or model names, "
                              f"not {type(t).__name__}")
    if not out:
        raise ConfigError("a sweep needs at least one trace")
    by_name = {}
    for t in out:
        h = trace_hash(t)
        if t.name in by_name:
            if by_name[t.name] == h:
                raise ConfigError(f"trace {t.name!r} is given twice; give each trace once")
            raise ConfigError(f"two different traces are both named {t.name!r}; give them "
                              "distinct names (dataclasses.replace(trace, name=...))")
        by_name[t.name] = h
    return out


@dataclass(frozen=True)
class SweepContext:
    """What every worker needs once: the base arch, the traces, the evaluator."""

    arch: ArchConfig
    traces: tuple
    trace_hashes: tuple
    mode: str
    evaluate: Callable


#: Longest summary string carried into rows (labels yes, free-text citations no).
_MAX_LABEL = 64


def _scalar(v):
    if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:
        v = v.item()
    return v if isinstance(v, (bool, int, float, str)) or v is None else None


def _carried(summary: dict) -> dict:
    """Summary entries kept in a row: numbers, booleans and short string labels."""
    out = {}
    for k, v in summary.items():
        v = _scalar(v)
        if v is not None and not (isinstance(v, str) and len(v) > _MAX_LABEL):
            out[k] = v
    return out


def run_batch(ctx: SweepContext, batch: list) -> list:
    """Evaluate one batch of ``(key, point, trace_index)`` tasks; return the row dicts.

    Runs in the worker.  Candidates are built once per point (a point's traces are
    adjacent in a batch) and never raise out of here.
    """
    fast = {}
    if is_simulator(ctx.evaluate):
        fast = batched_rows(ctx, batch)  # the batched path (feasible rows)
    rows = []
    built = {}
    for pos, (key, point, ti) in enumerate(batch):
        if pos in fast:
            rows.append(fast[pos])
            continue
        trace = ctx.traces[ti]
        row = {"key": key, **point, "trace": trace.name, "feasible": False,
               "status": "ok", "reason": None, "arch_hash": None,
               "trace_hash": ctx.trace_hashes[ti], "mode": ctx.mode}
        sig = json.dumps(sorted(point.items()), default=str)
        try:
            if sig not in built:
                try:
                    built[sig] = with_overrides(ctx.arch, point)
                except Exception as exc:  # noqa: BLE001 - cached, re-raised per trace
                    built[sig] = exc
            arch = built[sig]
            if isinstance(arch, Exception):
                raise arch
            row["arch_hash"] = arch_hash(arch)
            summary = summary_of(ctx.evaluate(arch, trace))
            row["feasible"] = True
            for k, v in _carried(summary).items():
                row.setdefault(k, v)
        except VitsimError as exc:
            row.update(status="infeasible", reason=" ".join(str(exc).split()))
        except Exception as exc:  # noqa: BLE001 - a sweep never dies on one point
            log.warning("sweep point %s on %s raised %s: %s", point, trace.name,
                        type(exc).__name__, exc)
            row.update(status="error",
                       reason=" ".join(f"{type(exc).__name__}: {exc}".split()))
        rows.append(row)
    return rows


def _batches(tasks: list, size: int):
    for i in range(0, len(tasks), size):
        yield tasks[i:i + size]


def _progress_bar(progress, total: int, initial: int):
    """A callable ``update(n_new)``; tqdm for ``progress=True``."""
    if not progress:
        return None, None
    if callable(progress):
        state = {"done": initial}

        def update(n):
            state["done"] += n
            progress(state["done"], total)

        return update, None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=initial, unit="pt", desc="sweep", smoothing=0.1,
               dynamic_ncols=True)
    return bar.update, bar


def sweep(arch, traces, space, objective=None, executor="process", out=None, *,
          mode: str = "cycle", workers: int | None = None, batch_size: int | None = None,
          progress=None, evaluate: Callable | None = None):
    """Evaluate every point of ``space`` on every trace.

    Parameters
    ----------
    arch : ArchConfig or str or Path
        Base architecture (file or preset name); each point overrides some of its keys.
    traces : Trace, str, Path or list of them
        Workloads; a string is a trace file or a built-in model name (``"deit_s"``).
    space : Space or dict
        The points (a dict is a grid: key path -> values).
    objective : str or callable, optional
        A result column to minimise (e.g. ``"edp_per_inference_js"``) or ``f(row: dict) -> float``
        (evaluated in this process, so lambdas are fine).  Adds an ``objective`` column
        and sorts the result ascending (infeasible rows last).
    executor : str or Executor or distributed.Client
        ``"process"`` (default: local processes, all cores), ``"inline"``, ``"dask"``,
        ``"tcp://host:port"`` or a ``distributed.Client``; see
        :func:`sim.search.sweep.executors.make_executor`.
    out : str or Path, optional
        ``*.parquet`` (a directory of part files) or ``*.csv``: rows stream there as
        batches finish, and a rerun skips points already there (resume).
    mode : {"cycle", "analytic"}
        Simulation mode of the default evaluator.
    workers : int, optional
        Processes for the ``"process"`` executor (default all cores; 1 = inline).
    batch_size : int, optional
        Points per task; default ``ceil(todo / (4 * workers))`` capped at 1024 (analytic)
        or 256 (cycle) points (one batched-evaluator call each), so per-task overhead is
        small and a crash loses little; streamed sweeps take up to 65,536.
    progress : bool or callable, optional
        ``True``: a tqdm bar on stderr; a callable gets ``(done, total)`` after each
        batch.  Default: silent.
    evaluate : callable, optional
        ``evaluate(arch, trace) -> summary dict`` (or a Report); default
        :func:`sim.search.simulator.simulate_summary` with ``mode``.  Must be picklable
        (a module-level function or ``functools.partial`` of one) for process and Dask
        executors.

    Returns
    -------
    pandas.DataFrame
        One row per point x trace, in space order (trace order within a point): ``key``,
        ``trace``, ``feasible``, ``status`` (``ok``/``infeasible``/``error``), ``reason``,
        ``arch_hash``, ``trace_hash``, ``mode``, then the space's key paths, then every
        number of the run's summary (``cycles``, ``latency_s``, ``utilization``,
        ``macs``, ``stall_cycles``, ``energy_j``, ``power_w``, ``edp_per_inference_js``,
        ...) and its short string labels (``model``, ``dataflow``, ...; free text over 64
        characters, such as an energy table's citation, is left out).  Rows already in ``out`` are
        included.
        Integer summary fields are float when infeasible rows (NaN) are present.
        ``df.attrs["sweep"]`` holds ``rows``, ``resumed`` (already in ``out``),
        ``evaluated`` and ``elapsed_s`` (wall time, s).

    Notes
    -----
    With the default evaluator, a sweep of at least
    :data:`sim.search.sweep.stream.STREAM_MIN_ROWS` rows over :func:`sim.search.evaluate`
    columns to Parquet (or to memory) is *streamed* (:mod:`sim.search.sweep.stream`): the
    space is generated batch by batch in the workers, ``key`` hashes the point's values,
    rows come in completion order without ``arch_hash``, and with ``out`` the returned
    frame holds only the meta columns, the space's keys and the main figures.
    """
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {list(MODES)}, not {mode!r}")
    if batch_size is not None and (not isinstance(batch_size, int)
                                   or isinstance(batch_size, bool) or batch_size < 1):
        raise ConfigError(f"batch_size = {batch_size!r}; must be an integer >= 1")
    base = as_arch(arch)
    trace_list = resolve_traces(traces)
    space = space if isinstance(space, Space) else Space.grid(space)
    evaluate = default_evaluate(evaluate, mode)
    hashes = tuple(trace_hash(t) for t in trace_list)
    ctx = SweepContext(base, tuple(trace_list), hashes, mode, evaluate)
    if isinstance(objective, str):
        _check_objective(ctx, objective)

    if objective is None or isinstance(objective, str):
        from sim.search.sweep.stream import STREAM_MIN_ROWS, streamable, sweep_stream

        if len(space) * len(trace_list) >= STREAM_MIN_ROWS and streamable(
                base, space, evaluate, out):
            return sweep_stream(base, trace_list, space, out, mode=mode, executor=executor,
                                workers=workers, batch_size=batch_size, progress=progress,
                                objective=objective)
    if len(space) * len(trace_list) > _MAX_POINT_ROWS:
        raise ConfigError(
            f"this sweep has {len(space) * len(trace_list):,} rows, more than the "
            f"{_MAX_POINT_ROWS:,} the per-point path holds in memory (a CSV --out, a custom "
            f"evaluator or a key the batched evaluator lacks); write Parquet (--out "
            f"x.parquet) with the default evaluator, which streams, or sample it (--random N)")
    base_hash = arch_hash(base)
    tasks, seen = [], set()
    for point in space.points():
        for ti, th in enumerate(hashes):
            key = point_key(base_hash, point, th, mode)
            if key not in seen:
                seen.add(key)
                tasks.append((key, point, ti))

    store = open_store(out) if out is not None else None
    try:
        return _run(ctx, space, tasks, seen, store, executor, objective, mode, workers,
                    batch_size, progress)
    finally:
        if store is not None:
            store.close()


def _run(ctx, space, tasks, seen, store, executor, objective, mode, workers, batch_size,
         progress):
    """Resume from ``store``, evaluate the rest, return the frame (see :func:`sweep`)."""
    hashes = ctx.trace_hashes
    found = {}
    if store is not None:
        for r in store.read_rows():
            if r.get("key") in seen:
                found[r["key"]] = r
    done = {k: r for k, r in found.items() if r.get("status") != "error"}
    todo = [t for t in tasks if t[0] not in done]
    log.info("sweep: %d rows (%d points x %d traces), %d already done, %d to run",
             len(tasks), len(tasks) // max(1, len(hashes)), len(hashes), len(done), len(todo))

    started = time.perf_counter()
    rows = dict(done)
    ex = make_executor(executor, workers) if todo else None
    own = not isinstance(executor, Executor)
    bar = None
    try:
        if todo:
            size = batch_size or max(1, min(_MAX_BATCH.get(mode, 32),
                                            math.ceil(len(todo) / (4 * ex.workers))))
            try:
                results = ex.imap(run_batch, ctx, _batches(todo, size))
                update, bar = _progress_bar(progress, len(tasks), len(done))
                for batch_rows in results:
                    if store is not None:
                        store.append(batch_rows)
                    for r in batch_rows:
                        rows[r["key"]] = r
                    if update:
                        update(len(batch_rows))
            finally:
                if own:
                    ex.close()
        if store is not None:
            store.compact()
    finally:
        if bar is not None:
            bar.close()

    ordered = [rows[t[0]] for t in tasks]
    columns = list(dict.fromkeys([*META_COLUMNS, *space.keys,
                                  *(k for r in ordered for k in r)]))
    df = rows_to_frame(ordered, columns)
    if objective is not None:
        df = _apply_objective(df, objective)
    df.attrs["sweep"] = {"rows": len(tasks), "resumed": len(done), "evaluated": len(todo),
                         "elapsed_s": time.perf_counter() - started}
    return df


def _check_objective(ctx: SweepContext, name: str) -> None:
    """Fail before the sweep if ``name`` is not a summary key (one probe evaluation)."""
    try:
        summary = summary_of(ctx.evaluate(ctx.arch, ctx.traces[0]))
    except VitsimError:
        return  # the base design itself may be infeasible; checked at the end instead
    value = _scalar(summary.get(name))
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        numeric = sorted(k for k, v in summary.items() if isinstance(_scalar(v), (int, float))
                         and not isinstance(_scalar(v), bool))
        raise ConfigError(f"objective must be a result column, not {name!r}; "
                          f"numeric columns are {numeric}")


def _apply_objective(df, objective):
    import numpy as np

    if isinstance(objective, str):
        if objective not in df:
            raise ConfigError(f"objective must be a result column, not {objective!r}")
        values = df[objective].astype(float).where(df["feasible"].astype(bool))
    else:
        values = [float(objective(r)) if r["feasible"] else np.nan
                  for r in df.to_dict("records")]
    df = df.assign(objective=values)
    return df.sort_values("objective", na_position="last", kind="stable").reset_index(drop=True)
