"""Streamed sweeps: the batched evaluator over a space generated batch by batch.

:func:`sim.search.sweep.sweep` takes this path when the evaluator is the simulator, every
space key is a point column of :func:`sim.search.evaluate` and the sweep has at least
:data:`STREAM_MIN_ROWS` rows.  Workers (local processes or Dask) receive only an index
range ``(lo, hi)``: each generates its points (:meth:`Space.columns`), skips the ones
already in ``out``, evaluates the rest in one :func:`sim.search.evaluate` call per trace
and returns a DataFrame; the parent writes it to ``out`` as one Parquet part.  No list of
points or row dicts is ever built, so a space of millions of points streams in
constant memory per batch.

Resume is keyed by the point itself: ``key`` is a 64-bit hash of the point's values
(:func:`point_hashes`, salted with the base architecture, trace and mode), 16 hex digits.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.config import ArchConfig, arch_hash
from sim.errors import VitsimError
from sim.search.evaluate import POINT_KEYS, TRACE_KEYS, evaluate
from sim.search.simulator import simulator_mode

__all__ = ["STREAM_MIN_ROWS", "STREAM_BATCH", "streamable", "point_hashes", "sweep_stream",
           "stream_batch"]

#: Sweeps of at least this many rows (points x traces) take the streamed path.
STREAM_MIN_ROWS = 20_000
#: Most points per streamed batch (one evaluate() call and one Parquet part each).
STREAM_BATCH = 1 << 16
#: Columns of the frame sweep() returns when the rows went to ``out`` (all are in ``out``).
SLIM_FIGURES = ("cycles", "latency_s", "energy_j", "edp_per_inference_js", "utilization",
                "throughput_ips", "power_w")
_META = ("key", "trace", "feasible", "status", "reason", "trace_hash", "mode")


def streamable(arch: ArchConfig, space, evaluate_fn, out) -> bool:
    """Whether a sweep can take the streamed path (see the module docstring).

    Each axis' values (a range's bounds) must pass :func:`sim.search.evaluate`'s column
    checks; otherwise the per-point path runs, so a bad value is one infeasible row.
    """
    if simulator_mode(evaluate_fn) is None:
        return False
    if out is not None and Path(out).suffix.lower() not in (".parquet", ".pq") \
            and not Path(out).is_dir():
        return False
    if any(k not in POINT_KEYS and k not in TRACE_KEYS for k in space.keys):
        return False
    from sim.search.sweep.space import Uniform, _typed

    for keys, values in space.axes.items():
        if isinstance(values, Uniform):
            lo, hi = ((int(round(values.low)), int(round(values.high))) if values.integer
                      else (values.low, values.high))
            col = np.array([lo, hi])
        else:
            col = _typed(values)
        try:
            _check_column(arch, keys, col)
        except VitsimError:
            return False
    return True


def _check_column(arch, keys, col):
    from sim.search._points import columns

    columns(arch, {k: col for k in keys})


def _salt(base_hash: str, trace_digest: str, mode: str, keys) -> np.uint64:
    text = "|".join([base_hash, trace_digest, mode, *keys])
    return np.uint64(int(hashlib.sha256(text.encode()).hexdigest()[:16], 16))


def point_hashes(cols: dict, keys, salt) -> np.ndarray:
    """64-bit keys (uint64) of the points in ``cols`` (columns ``keys``), xor ``salt``."""
    import pandas as pd

    frame = pd.DataFrame({k: cols[k] for k in keys})
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(np.uint64) ^ salt


def _hex(h: np.ndarray) -> np.ndarray:
    return np.array([f"{x:016x}" for x in h.tolist()], dtype=object)


@dataclass(frozen=True)
class StreamContext:
    """What every worker needs once: base arch, traces, space, mode, done keys."""

    arch: ArchConfig
    traces: tuple
    trace_hashes: tuple
    salts: tuple
    space: object
    mode: str
    done: np.ndarray  # sorted uint64 keys already in out
    to_parquet: bool = False  # batches come back as Parquet bytes (serialised in workers)


def stream_batch(ctx: StreamContext, span) -> object:
    """Rows of points ``span = (lo, hi)`` on every trace (a DataFrame; runs in a worker)."""
    import pandas as pd

    lo, hi = span
    cols = ctx.space.columns(lo, hi)
    keys = ctx.space.keys
    frames = []
    for ti, trace in enumerate(ctx.traces):
        h = point_hashes(cols, keys, ctx.salts[ti])
        todo = ~np.isin(h, ctx.done) if len(ctx.done) else np.ones(len(h), dtype=bool)
        if not todo.any():
            continue
        sub = {k: v[todo] for k, v in cols.items()}
        df = evaluate(ctx.arch, trace, sub, mode=ctx.mode).drop(columns=["point"])
        feasible = df["feasible"].to_numpy()
        reason = df["reason"].astype(object).to_numpy()
        meta = {"key": _hex(h[todo]), "trace": np.full(len(df), trace.name, dtype=object),
                "feasible": feasible,
                "status": np.where(feasible, "ok", "infeasible").astype(object),
                "reason": np.where(feasible, None, reason),
                "trace_hash": np.full(len(df), ctx.trace_hashes[ti], dtype=object),
                "mode": np.full(len(df), ctx.mode, dtype=object)}
        rest = df.drop(columns=[c for c in _META if c in df])
        if not feasible.all():  # an infeasible row has no summary (as on the per-point path)
            for c in ("arch", "model", "batch"):
                rest[c] = rest[c].astype(object).where(feasible, None)
        for c in rest.columns:
            if isinstance(rest[c].dtype, pd.CategoricalDtype):
                rest[c] = rest[c].astype(object).where(rest[c].notna(), None)
        frames.append(pd.concat([pd.DataFrame(meta), rest.reset_index(drop=True)], axis=1))
    df = (pd.DataFrame() if not frames else frames[0] if len(frames) == 1
          else pd.concat(frames, ignore_index=True))
    return (len(df), _parquet_bytes(df)) if ctx.to_parquet else df


def _parquet_bytes(df) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not len(df):
        return b""
    table = pa.Table.from_pandas(df, preserve_index=False)
    text = [f.name for f in table.schema if pa.types.is_string(f.type)
            or pa.types.is_large_string(f.type)]
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf, use_dictionary=text)
    return buf.getvalue().to_pybytes()


def _parts(path: Path) -> list:
    return sorted(path.glob("part-*.parquet"))


def _done_keys(path: Path) -> np.ndarray:
    """Keys of the whole rows already in ``path``, sorted uint64: a 16-hex key, status
    ``ok`` (feasible, finite ``cycles`` and ``latency_s``) or ``infeasible``, as
    :mod:`sim.search.sweep.store` checks rows on load; other rows are recomputed."""
    import pyarrow.parquet as pq

    found = []
    for part in _parts(path):
        names = set(pq.read_schema(part).names)
        cols = [c for c in ("key", "status", "feasible", "cycles", "latency_s") if c in names]
        t = pq.read_table(part, columns=cols).to_pandas()
        if "key" not in t or "status" not in t:
            continue
        key = t["key"].astype(str)
        good = key.str.fullmatch(r"[0-9a-f]{16}") & t["status"].isin(["ok", "infeasible"])
        ok = t["status"] == "ok"
        if "feasible" in t:
            good &= ~ok | (t["feasible"] == True)  # noqa: E712 - nullable column
        for c in ("cycles", "latency_s"):
            if c in t:
                good &= ~ok | np.isfinite(pd_float(t[c]))
        found.append(np.array([int(k, 16) for k in key[good].tolist()], dtype=np.uint64))
    return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.uint64)


def pd_float(col) -> np.ndarray:
    """A column as float64 (missing -> NaN)."""
    import pandas as pd

    return pd.to_numeric(col, errors="coerce").astype(float).to_numpy()


def _write_part(path: Path, data: bytes, seq: int) -> None:
    """Write one part atomically (a ``.tmp`` file renamed into place)."""
    final = path / f"part-{seq:08d}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = final.with_name(final.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, final)


def _compact(path: Path) -> None:
    """One part with every column, when the parts' schemas differ (a batch without some
    column, e.g. only infeasible rows): schemas unified, nulls where missing."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = _parts(path)
    if len(parts) <= 1 or len({pq.read_schema(p) for p in parts}) == 1:
        return
    table = pa.concat_tables([pq.read_table(p) for p in parts], promote_options="permissive")
    final = path / f"part-{int(parts[-1].name.split('-')[1]) + 1:08d}-{uuid.uuid4().hex[:8]}" \
        ".parquet"
    tmp = final.with_name(final.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, final)
    for p in parts:
        p.unlink()


def _space_keys(space, salts) -> np.ndarray:
    """Every key of the space (uint64, batch by batch: points are never all in memory)."""
    out = []
    for lo, hi in space.column_batches(STREAM_BATCH):
        cols = space.columns(lo, hi)
        out.extend(point_hashes(cols, space.keys, s) for s in salts)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.uint64)


def sweep_stream(arch, traces, space, out=None, *, mode: str, executor="process",
                 workers=None, batch_size=None, progress=None, objective=None):
    """:func:`sim.search.sweep.sweep` on the streamed path (see the module docstring).

    Returns every row (``out`` None) or, with ``out``, the rows' meta columns, the
    space's keys and :data:`SLIM_FIGURES` (every column is in ``out``).
    """

    from sim.search.sweep.runner import trace_hash

    started = time.perf_counter()
    hashes = tuple(trace_hash(t) for t in traces)
    base_hash = arch_hash(arch)
    salts = tuple(_salt(base_hash, th, mode, space.keys) for th in hashes)
    path = Path(out) if out is not None else None
    done = np.zeros(0, dtype=np.uint64)
    store = None
    if path is not None:
        from sim.search.sweep.store import ParquetStore

        # the store's checks (a directory of ours), its write lock and tmp cleanup
        store = ParquetStore(path)
        done = _done_keys(path)
    try:
        return _run(arch, traces, space, path, done, hashes, salts, started, mode=mode,
                    executor=executor, workers=workers, batch_size=batch_size,
                    progress=progress, objective=objective)
    finally:
        if store is not None:
            store.close()


def _run(arch, traces, space, path, done, hashes, salts, started, *, mode, executor,
         workers, batch_size, progress, objective):
    """The batches of :func:`sweep_stream` (``path``'s lock held by the caller)."""
    import pandas as pd

    from sim.search.sweep.executors import Executor, make_executor
    from sim.search.sweep.runner import _progress_bar

    ctx = StreamContext(arch, tuple(traces), hashes, salts, space, mode, done,
                        to_parquet=path is not None)
    parts = _parts(path) if path is not None else []
    seq = int(parts[-1].name.split("-")[1]) + 1 if parts else 0
    total = len(space) * len(traces)
    ex = make_executor(executor, workers)
    own = not isinstance(executor, Executor)
    size = batch_size or max(1, min(STREAM_BATCH, math.ceil(len(space) / (4 * ex.workers))))
    frames, evaluated, bar = [], 0, None
    try:
        update, bar = _progress_bar(progress, total, 0)
        for result in ex.imap(stream_batch, ctx, space.column_batches(size)):
            n = result[0] if path is not None else len(result)
            evaluated += n
            if n and path is not None:
                _write_part(path, result[1], seq)
                seq += 1
            elif n:
                frames.append(result)
            if update:
                update(n)
    finally:
        if own:
            ex.close()
        if bar is not None:
            bar.close()
    if path is not None:
        _compact(path)
        import pyarrow as pa
        import pyarrow.parquet as pq

        tables = []
        for part in _parts(path):
            have = set(pq.read_schema(part).names)
            want = [c for c in (*_META, *space.keys, *SLIM_FIGURES) if c in have]
            tables.append(pq.read_table(part, columns=want))
        df = (pa.concat_tables(tables, promote_options="permissive").to_pandas() if tables
              else pd.DataFrame())
        if len(df) and not df["key"].is_unique:  # a recomputed row: the newest part wins
            df = df.drop_duplicates("key", keep="last").reset_index(drop=True)
        if len(df) != evaluated:  # out holds earlier rows: keep this sweep's points only
            mine = _space_keys(space, salts)
            got = np.array([int(k, 16) for k in df["key"].tolist()], dtype=np.uint64)
            df = df[np.isin(got, mine)].reset_index(drop=True)
    else:
        df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if objective is not None:
        from sim.search.sweep.runner import _apply_objective

        df = _apply_objective(df, objective)
    df.attrs["sweep"] = {"rows": len(df), "resumed": len(df) - evaluated,
                         "evaluated": evaluated, "elapsed_s": time.perf_counter() - started,
                         "streamed": True}
    return df
