"""The batched evaluator: many designs x one or more traces in vectorised passes.

``evaluate(arch, traces, points)`` returns one row per (trace, point) equal to
``sim.simulate(load_arch(arch, overrides=point), trace, mode=mode).summary`` (integers
exactly, floats to rounding), plus the point's own columns, ``point`` (row index in
``points``), ``feasible`` and ``reason``.  See ``docs/sweep.md`` ("the batched path").

Validation works on whole columns with the schema's ranges and choices
(:mod:`sim.config.schema`): an unknown key, a wrong type, NaN or an out-of-range value
raises :class:`~sim.errors.ConfigError` naming the column and its first bad row.  A point
that breaks a cross-field rule (DRAM bandwidth form, energy table vs platform) or does not
fit its FPGA becomes a row with ``feasible=False`` and the reason; its figures are missing.
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np

from sim.config import ArchConfig, as_arch
from sim.config.schema import DramConfig
from sim.config.validate import _hints, _unwrap_optional
from sim.cost.tables import resolve_table, table_problems
from sim.engine.memory import (
    fold_refusals,
    hierarchy_of_params,
    memory_for_points,
    memory_params,
)
from sim.engine.simulate import int64_refusals
from sim.errors import ConfigError
from sim.hw.fpga.device import RESOURCES
from sim.search import _batch
from sim.workload import as_trace, lower

__all__ = ["evaluate", "POINT_KEYS"]

_SKIP = ("schema_version", "name", "description", "energy_table.overrides")
#: Columns whose values split the points into groups evaluated together.
_CATEGORICAL = ("array.dataflow", "array.fold_overlap", "precision", "platform",
                "energy_table.name", "energy_table.dram", "vector.overlap")
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


def _columns(arch, points):
    """All point keys as arrays of one length (points override the base arch)."""
    if hasattr(points, "columns") and hasattr(points, "to_dict"):
        points = {c: points[c].to_numpy() for c in points.columns}
    if not isinstance(points, dict):
        raise ConfigError(f"points must be a DataFrame or a dict of arrays, not "
                          f"{type(points).__name__}", source="points")
    unknown = sorted(k for k in points if k not in POINT_KEYS)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key; allowed keys are "
                          f"{sorted(POINT_KEYS)}", source="points")
    sizes = {len(np.asarray(v).reshape(-1)) for v in points.values()}
    size = sizes.pop() if len(sizes) == 1 else None
    if size is None:
        raise ConfigError("every column must have the same length" if sizes else
                          "points must have at least one column", source="points")
    cols = {}
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


def _cross_reason(arch, cat, cols, i):
    """Loader's cross-field problems of point ``i`` (one group's categorical values)."""
    dram_vals = [None if np.isnan(cols[k][i]) else float(cols[k][i]) for k in _DRAM_OPT]
    dram = DramConfig(*dram_vals, latency_cycles=int(cols["dram.latency_cycles"][i]))
    et = types.SimpleNamespace(name=cat["energy_table.name"], dram=cat["energy_table.dram"],
                               overrides=arch.energy_table.overrides)
    probs = dram.problems() + table_problems(
        types.SimpleNamespace(energy_table=et, platform=cat["platform"]))
    return "; ".join(probs)


def _fit_reasons(arch, fpga, over):
    """The loader's over-budget lines (``DSP48E2: needs N but the device has M``)."""
    head = f"design {arch.name!r} does not fit the {fpga['fpga_board']} ({fpga['fpga_part']})"
    out = np.full(int(over.sum()), head, dtype=object)
    for r in RESOURCES:
        used, avail = fpga[f"fpga_{r}_used"][over], fpga[f"fpga_{r}_available"]
        bad = np.flatnonzero(used > avail)
        tail = f" but the device has {avail:,}"
        out[bad] = [f"{h}; {RESOURCES[r]}: needs {u:,}{tail}"
                    for h, u in zip(out[bad], used[bad].tolist())]
    return out


def _one_trace(arch, trace, cols, size, mode):
    ops = lower(trace)
    plan = _batch.plan_ops(ops)
    feasible = np.ones(size, dtype=bool)
    reason = np.full(size, "", dtype=object)
    parts = []
    numeric = [k for k in POINT_KEYS if k not in _CATEGORICAL]
    for idx in _groups(cols, size):
        cat = {k: (cols[k][idx[0]] if isinstance(cols[k], np.ndarray) else cols[k])
               for k in _CATEGORICAL}
        cat = {k: (bool(v) if isinstance(v, (bool, np.bool_)) else v) for k, v in cat.items()}
        why = _cross_reason(arch, cat, cols, idx[0])
        if why:
            feasible[idx] = False
            per_row = any(not np.isnan(cols[k][idx[0]]) for k in _DRAM_OPT[3:]) and \
                "bandwidth form" in why
            reason[idx] = [_cross_reason(arch, cat, cols, i) for i in idx] if per_row else why
            continue
        sub = {k: (cols[k] if len(idx) == size else cols[k][idx]) for k in numeric}
        fpga = None
        if cat["platform"] != "asic":
            fpga = _batch.fpga_columns(sub, cat["precision"], cat["platform"])
            over = np.zeros(len(idx), dtype=bool)
            for r in RESOURCES:
                over |= fpga[f"fpga_{r}_used"] > fpga[f"fpga_{r}_available"]
            if over.any():
                feasible[idx[over]] = False
                reason[idx[over]] = _fit_reasons(arch, fpga, over)
                keep = ~over
                idx = idx[keep]
                sub = {k: v[keep] for k, v in sub.items()}
                fpga = {k: (v[keep] if isinstance(v, np.ndarray) else v)
                        for k, v in fpga.items()}
            if not len(idx):
                continue
        params = _memory_params(sub, cat) if mode == "cycle" else None
        why = _refusals(arch, ops, sub, cat, params, mode)
        bad = why != ""
        if bad.any():
            feasible[idx[bad]] = False
            reason[idx[bad]] = why[bad]
            keep = ~bad
            idx = idx[keep]
            sub = {k: v[keep] for k, v in sub.items()}
            params = None if params is None else params[keep]
            if fpga is not None:
                fpga = {k: (v[keep] if isinstance(v, np.ndarray) else v)
                        for k, v in fpga.items()}
            if not len(idx):
                continue
        mem = (memory_for_points(params, plan.m, plan.n, plan.k)
               if mode == "cycle" else None)
        table = resolve_table(types.SimpleNamespace(
            energy_table=types.SimpleNamespace(name=cat["energy_table.name"],
                                               overrides=arch.energy_table.overrides),
            platform=cat["platform"]))
        res = {"dataflow": cat["array.dataflow"], "rows": sub["array.rows"],
               "cols": sub["array.cols"], "clock_mhz": sub["clock_mhz"],
               "precision": cat["precision"]}
        res.update(_batch.run_columns(plan, sub, cat, table, trace.batch, mem, fpga))
        parts.append((idx, res))
    return feasible, reason, parts


def _groups(cols, size):
    """Index arrays of the points that share every categorical value and DRAM form."""
    import pandas as pd

    if not size:
        return []
    key = np.zeros(size, dtype=np.int64)
    for k in _CATEGORICAL + _DRAM_OPT:
        v = cols[k]
        if not isinstance(v, np.ndarray):
            continue
        codes = np.isnan(v).astype(np.int64) if k in _DRAM_OPT else pd.factorize(v)[0]
        key = key * (int(codes.max()) + 1) + codes
    if not key.any():
        return [np.arange(size)]
    order = np.argsort(key, kind="stable")
    cuts = np.flatnonzero(np.diff(key[order])) + 1
    return np.split(order, cuts)


def _memory_params(sub, cat):
    """Each design's memory-walk parameters, float64 ``(Q, N)``, from the engine's own
    :func:`sim.engine.memory.memory_params` (on a light stand-in of the arch)."""
    q = len(sub["array.rows"])
    array = types.SimpleNamespace(dataflow=cat["array.dataflow"],
                                  fold_overlap=cat["array.fold_overlap"])
    cols = [sub[k].tolist() for k in ("array.rows", "array.cols", "clock_mhz",
                                      "memory.ifmap_kib", "memory.filter_kib",
                                      "memory.ofmap_kib", "memory.word_bytes",
                                      "dram.latency_cycles") + _DRAM_OPT]
    rows = []
    for r, c, clk, fi, ff, fo, wb, lat, bi, bf, bo, gbps in zip(*cols):
        array.rows, array.cols = r, c
        dram = DramConfig(None if bi != bi else bi, None if bf != bf else bf,
                          None if bo != bo else bo, None if gbps != gbps else gbps, lat)
        mem = types.SimpleNamespace(ifmap_kib=fi, filter_kib=ff, ofmap_kib=fo, word_bytes=wb)
        rows.append(memory_params(types.SimpleNamespace(
            array=array, memory=mem, dram=dram, clock_mhz=clk)))
    return np.array(rows, dtype=np.float64).reshape(q, -1)


def _refusals(arch, ops, sub, cat, params, mode):
    """What :func:`sim.engine.simulate.simulate_ops` would raise per design (``""``: it
    runs): counts that could pass 2^63 - 1, then (cycle mode) too many folds to walk."""
    cost = np.max(np.stack([sub[k] for k in _COST_KEYS]), axis=0) if _COST_KEYS else 0.0
    terms = {"dataflow": cat["array.dataflow"], "rows": sub["array.rows"],
             "cols": sub["array.cols"], "cost": cost, "lanes": sub["vector.lanes"],
             "vec_latency": sub["vector.latency_cycles"]}
    if mode == "cycle":
        terms.update(hierarchy_of_params(params))
    why = int64_refusals(arch.name, ops, terms, mode)
    if mode == "cycle":
        g = ops.is_gemm
        folds = fold_refusals(cat["array.dataflow"], sub["array.rows"], sub["array.cols"],
                              ops.m[g], ops.n[g], ops.k[g])
        why = np.where(why == "", folds, why)
    return why


def evaluate(arch, traces, points, mode: str = "analytic"):
    """Evaluate many design points on one or more traces.

    Parameters
    ----------
    arch : ArchConfig or str or Path
        Base architecture, as :func:`sim.config.as_arch` takes it (a preset name, a YAML
        file or an ArchConfig).
    traces : Trace or str or Path, or a list of them
        Workload(s) as :func:`sim.workload.as_trace` takes them (a trace, a file, a
        shipped workload or a model name such as ``"deit_s"``); every point runs on
        every trace.
    points : pandas.DataFrame or dict of array_like
        One column per dotted arch key (:data:`POINT_KEYS`: ``array.rows``,
        ``array.dataflow``, ``clock_mhz``, ``memory.ifmap_kib``, ``dram.bandwidth_gbps``
        (None = not given), ``vector.lanes``, ``precision``, ...), one row per point.
    mode : {"analytic", "cycle"}
        As in :func:`sim.simulate`; ``cycle`` runs the memory walk of every point.

    Returns
    -------
    pandas.DataFrame
        One row per (trace, point): the point's columns, ``point``, ``feasible``,
        ``reason`` and every key of ``simulate(...).summary`` (missing on infeasible
        rows; integer columns are nullable ``Int64`` when some row is missing).
    """
    import pandas as pd

    if mode not in ("analytic", "cycle"):
        raise ConfigError(f"mode must be one of ['cycle', 'analytic'], not {mode!r}")
    arch = as_arch(arch)
    traces = [as_trace(t) for t in (traces if isinstance(traces, (list, tuple)) else [traces])]
    cols, size = _columns(arch, points)
    given = list(points.columns if hasattr(points, "columns") else points)
    frames = []
    for trace in traces:
        feasible, reason, parts = _one_trace(arch, trace, cols, size, mode)
        data = {k: (pd.Categorical(cols[k]) if cols[k].dtype == object else cols[k])
                for k in given}
        data["point"] = np.arange(size)
        data["feasible"] = feasible
        data["reason"] = pd.Categorical(reason)
        head = {"arch": arch.name, "trace": trace.name, "model": trace.model.name,
                "batch": trace.batch, "mode": mode}
        data.update({k: _const_column(v, size) for k, v in head.items()})
        data.update(_scatter(parts, size))
        frames.append(pd.DataFrame(data))
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _const_column(value, size):
    import pandas as pd

    if isinstance(value, str):
        return pd.Categorical.from_codes(np.zeros(size, dtype=np.int8), [value])
    return np.full(size, value)


def _scatter(parts, size):
    """Merge group results into full-length columns.

    Strings become categoricals; a key missing on some rows is <NA> (integers, as
    nullable ``Int64``), NaN (floats) or a missing category (strings).
    """
    import pandas as pd

    keys = []
    for _, res in parts:
        keys.extend(k for k in res if k not in keys)
    out = {}
    for key in keys:
        vals = [(idx, res[key]) for idx, res in parts if key in res]
        have = np.zeros(size, dtype=bool)
        for idx, _ in vals:
            have[idx] = True
        sample = vals[0][1]
        if isinstance(sample, str):
            cats = list(dict.fromkeys(v for _, v in vals))
            codes = np.full(size, -1, dtype=np.int16)
            for idx, v in vals:
                codes[idx] = cats.index(v)
            out[key] = pd.Categorical.from_codes(codes, cats)
            continue
        is_int = np.asarray(sample).dtype.kind in "iu"
        col = np.zeros(size, dtype=np.int64) if is_int else np.full(size, np.nan)
        for idx, v in vals:
            col[idx] = v
        if is_int and not have.all():
            col = pd.arrays.IntegerArray(col, ~have)
        out[key] = col
    return out
