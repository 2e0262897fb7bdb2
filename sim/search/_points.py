"""Columns of design points for :func:`sim.search.evaluate`: keys, types, validation.

Validation works on whole columns with the schema's ranges and choices
(:mod:`sim.config.schema`): an unknown key, a wrong type, NaN or an out-of-range value
raises :class:`~sim.errors.ConfigError` naming the column and its first bad row.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sim.config import ArchConfig
from sim.config.validate import _hints, _unwrap_optional
from sim.errors import ConfigError
from sim.workload.trace import PRUNE_METHODS

__all__ = ["POINT_KEYS", "TRACE_KEYS", "columns"]

_SKIP = ("schema_version", "name", "description", "energy_table.overrides")
#: Columns whose values split the points into groups evaluated together.
_CATEGORICAL = ("array.dataflow", "array.fold_overlap", "precision", "platform",
                "energy_table.name", "energy_table.dram", "vector.overlap", "memory.model")
_COST_KEYS = ()  # set below: every vector.cost.* key
_DRAM_OPT = ("dram.ifmap_bytes_per_cycle", "dram.filter_bytes_per_cycle",
             "dram.ofmap_bytes_per_cycle", "dram.bandwidth_gbps")


def _leaves(cls, prefix=""):
    hints, fields = _hints(cls)
    for name, field in fields.items():
        tp, optional = _unwrap_optional(hints[name])
        key = prefix + name
        if dataclasses.is_dataclass(tp):
            yield from _leaves(tp, key + ".")
        elif key not in _SKIP:
            yield key, (tp, field.metadata, optional)


#: dotted key -> (type, field metadata, optional) of every key a point may set.
POINT_KEYS = dict(_leaves(ArchConfig))
_COST_KEYS = tuple(k for k in POINT_KEYS if k.startswith("vector.cost."))

#: Trace edits a point may set (schedule searches), applied to each trace in this order:
#: :func:`sim.with_batch`, :func:`sim.workload.input_tokens` (every block at that many
#: tokens), :func:`sim.prune_tokens` (``prune_tokens`` kept inside block ``prune_layer``
#: by ``prune_method``, default ``"topk"``).  None (in an object column) = no edit.
TRACE_KEYS = {
    "trace.batch": (int, {"range": (1, None)}, True),
    "trace.input_tokens": (int, {"range": (1, None)}, True),
    "trace.prune_layer": (int, {"range": (0, None)}, True),
    "trace.prune_tokens": (int, {"range": (1, None)}, True),
    "trace.prune_method": (str, {"choices": PRUNE_METHODS}, True),
}


def _must(tp, meta) -> str:
    if "choices" in meta:
        return f"one of {list(meta['choices'])}"
    must = {int: "an integer", float: "a number", bool: "true or false",
            str: "a string"}[tp]
    if "range" in meta:
        lo, hi = meta["range"]
        must += f" in [{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
    return must


def _fail(key, values, bad, tp, meta, extra=""):
    i = int(np.flatnonzero(bad)[0])
    value = values[i].item() if hasattr(values[i], "item") else values[i]
    raise ConfigError(f"{key} = {value!r}; must be {_must(tp, meta)}{extra} "
                      f"(row {i}, {int(bad.sum())} bad row(s))", source="points")


def _column(key, raw, size):
    """Validate one column; return a typed array (None in optional columns -> NaN)."""
    tp, meta, optional = POINT_KEYS[key]
    arr = np.asarray(raw)
    if arr.ndim != 1 or len(arr) != size:
        raise ConfigError(f"{key}: must be a 1-D column of {size} values, not shape "
                          f"{arr.shape}", source="points")
    if arr.dtype == object and tp is str:
        import pandas as pd

        uniq = pd.unique(arr)
        bad_vals = [v for v in uniq if not isinstance(v, str)
                    or ("choices" in meta and v not in meta["choices"])]
        if bad_vals:
            _fail(key, arr, pd.Series(arr).isin(bad_vals).to_numpy(), tp, meta)
        return arr
    if arr.dtype == object:
        items = list(arr)
        none = np.array([v is None for v in items], dtype=bool)
        if optional and none.any():
            items = [np.nan if v is None else v for v in items]
        ok = {bool: lambda v: isinstance(v, (bool, np.bool_)),
              int: lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool),
              float: lambda v: isinstance(v, (int, float, np.integer, np.floating))
              and not isinstance(v, (bool, np.bool_)),
              str: lambda v: isinstance(v, str)}[tp]
        bad = np.array([not ok(v) for v in items], dtype=bool) & ~(none & optional)
        if bad.any():
            _fail(key, arr, bad, tp, meta)
        arr = np.array(items, dtype={bool: bool, int: np.int64, float: np.float64,
                                     str: object}[tp])
        if tp is float and optional:
            nan = np.isnan(arr) & ~none
            if nan.any():
                _fail(key, arr, nan, tp, meta, ", not NaN")
            return _ranged(key, arr, tp, meta, skip=none)
        return _ranged(key, arr, tp, meta)
    kind = arr.dtype.kind
    ok = {bool: kind == "b", int: kind in "iu", float: kind in "iuf",
          str: kind in "US"}[tp]
    if not ok:
        bad = np.ones(size, dtype=bool)
        first = arr[0].item() if hasattr(arr[0], "item") else arr[0]
        raise ConfigError(f"{key} = {first!r}; must be {_must(tp, meta)}, not dtype "
                          f"{arr.dtype} (row 0, {int(bad.sum())} bad row(s))", source="points")
    if tp is float:
        arr = arr.astype(np.float64)
        if np.isnan(arr).any():
            _fail(key, arr, np.isnan(arr), tp, meta, ", not NaN")
    elif tp is int:
        arr = arr.astype(np.int64)
    elif tp is str:
        arr = arr.astype(object)
    return _ranged(key, arr, tp, meta)


def _ranged(key, arr, tp, meta, skip=None):
    if "choices" in meta:
        bad = ~np.isin(arr, np.array(meta["choices"], dtype=object))
    elif "range" in meta:
        lo, hi = meta["range"]
        bad = np.zeros(len(arr), dtype=bool)
        if lo is not None:
            bad |= arr < lo
        if hi is not None:
            bad |= arr > hi
    else:
        return arr
    if skip is not None:
        bad &= ~skip
    if bad.any():
        _fail(key, arr, bad, tp, meta)
    return arr


def _base_value(arch, key):
    node = arch
    for part in key.split("."):
        node = getattr(node, part)
    return node


def columns(arch, points):
    """All point keys as arrays of one length (points override the base arch)."""
    if hasattr(points, "columns") and hasattr(points, "to_dict"):
        points = {c: points[c].to_numpy() for c in points.columns}
    if not isinstance(points, dict):
        raise ConfigError(f"points must be a DataFrame or a dict of arrays, not "
                          f"{type(points).__name__}", source="points")
    unknown = sorted(k for k in points if k not in POINT_KEYS and k not in TRACE_KEYS)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key; allowed keys are "
                          f"{sorted(POINT_KEYS) + sorted(TRACE_KEYS)}", source="points")
    sizes = {len(np.asarray(v).reshape(-1)) for v in points.values()}
    size = sizes.pop() if len(sizes) == 1 else None
    if size is None:
        raise ConfigError("every column must have the same length" if sizes else
                          "points must have at least one column", source="points")
    cols = {k: _edit_column(k, points[k], size) for k in TRACE_KEYS if k in points}
    if ("trace.prune_layer" in cols) != ("trace.prune_tokens" in cols):
        raise ConfigError("trace.prune_layer and trace.prune_tokens go together; give both "
                          "columns", source="points")
    for key in POINT_KEYS:
        if key in points:
            cols[key] = _column(key, points[key], size)
        else:
            v = _base_value(arch, key)
            if key in _CATEGORICAL:
                cols[key] = v  # constant: kept as a scalar, never materialised
            else:
                cols[key] = np.full(size, np.nan if v is None else v)
    return cols, size


def _edit_column(key, raw, size):
    """A trace-edit column as a list of Python values (None = no edit)."""
    tp, meta, _ = TRACE_KEYS[key]
    arr = np.asarray(raw, dtype=object) if not isinstance(raw, np.ndarray) else raw
    if arr.ndim != 1 or len(arr) != size:
        raise ConfigError(f"{key}: must be a 1-D column of {size} values, not shape "
                          f"{arr.shape}", source="points")
    vals = arr.tolist()
    if tp is int:
        ok = [v is None or (isinstance(v, int) and not isinstance(v, bool)
                            and v >= meta["range"][0]) for v in vals]
    else:
        ok = [v is None or v in meta["choices"] for v in vals]
    if not all(ok):
        _fail(key, np.array(vals, dtype=object), ~np.array(ok), tp, meta)
    return vals


