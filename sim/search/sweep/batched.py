"""The sweep's batched path: one :func:`sim.search.evaluate` call per batch and trace.

:func:`sim.search.sweep.run_batch` calls :func:`batched_rows` when the sweep uses the
default evaluator (``simulate(...).summary``).  It returns the rows of the batch's
*feasible* points, equal to what the per-point path builds (same columns, same values,
same ``arch_hash``); infeasible points and batches the evaluator cannot take (a key that
is not a plain arch key, a bad value) are left to the per-point path, so their
``status`` and ``reason`` are exactly what the loader says.
"""

from __future__ import annotations

import copy
import hashlib
import json

import numpy as np

from sim.config import arch_to_dict
from sim.errors import VitsimError
from sim.search.evaluate import POINT_KEYS, evaluate

__all__ = ["batched_rows"]

#: Longest summary string carried into rows (as in sim.search.sweep).
_MAX_LABEL = 64


def _native(v, tp):
    if v is None:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if tp is float and isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    return v


def _arch_hashes(arch, points: list) -> list:
    """:func:`sim.config.arch_hash` of ``arch`` with each point applied (no ArchConfig)."""
    base = arch_to_dict(arch)
    base.pop("name", None)
    base.pop("description", None)
    out = []
    for point in points:
        data = copy.deepcopy(base)
        for key, value in point.items():
            node = data
            parts = key.split(".")
            for part in parts[:-1]:
                node = node[part]
            node[parts[-1]] = _native(value, POINT_KEYS[key][0])
        text = json.dumps(data, sort_keys=True, default=str)
        out.append(hashlib.sha256(text.encode()).hexdigest()[:16])
    return out


def _carried(value):
    if value is None or value is np.nan:
        return None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, str) and len(value) > _MAX_LABEL:
        return None
    return value if isinstance(value, (bool, int, float, str)) else None


def batched_rows(ctx, batch: list) -> dict:
    """``{position in batch: row}`` for the feasible tasks of ``batch``; ``{}`` if the
    batch cannot go through the evaluator (then every task takes the per-point path)."""
    if not batch:
        return {}
    keys = list(batch[0][1])
    if not keys or any(k not in POINT_KEYS for k in keys) or any(
            list(p) != keys for _, p, _ in batch):
        return {}
    out = {}
    for ti, trace in enumerate(ctx.traces):
        pos = [i for i, (_, _, t) in enumerate(batch) if t == ti]
        if not pos:
            continue
        pts = [batch[i][1] for i in pos]
        cols = {k: np.array([p[k] for p in pts], dtype=object) for k in keys}
        try:
            df = evaluate(ctx.arch, trace, cols, mode=ctx.mode)
        except VitsimError:
            return {}
        feasible = df["feasible"].to_numpy()
        summary_cols = [c for c in df.columns
                        if c not in keys and c not in ("point", "feasible", "reason")]
        records = df.loc[feasible, summary_cols].to_dict("records")
        ok = [i for i, f in zip(pos, feasible) if f]
        hashes = _arch_hashes(ctx.arch, [batch[i][1] for i in ok])
        for i, rec, h in zip(ok, records, hashes):
            key, point, _ = batch[i]
            row = {"key": key, **point, "trace": trace.name, "feasible": True,
                   "status": "ok", "reason": None, "arch_hash": h,
                   "trace_hash": ctx.trace_hashes[ti], "mode": ctx.mode}
            for k, v in rec.items():
                v = _carried(v)
                if v is not None:
                    row.setdefault(k, v)
            out[i] = row
    return out
