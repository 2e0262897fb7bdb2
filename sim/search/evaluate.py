"""The batched evaluator: many designs x one or more traces in vectorised passes.

``evaluate(arch, traces, points)`` returns one row per (trace, point) equal to
``sim.simulate(load_arch(arch, overrides=point), trace, mode=mode).summary`` (integers
exactly, floats to rounding), plus the point's own columns, ``point`` (row index in
``points``), ``feasible`` and ``reason``.  See ``docs/sweep.md`` ("the batched path").

Validation works on whole columns with the schema's ranges and choices
(:mod:`sim.config.schema`): an unknown key, a wrong type, NaN or an out-of-range value
raises :class:`~sim.errors.ConfigError` naming the column and its first bad row
(:mod:`sim.search._points`).  Trace edits (:data:`TRACE_KEYS`) are point columns too.  A point
that breaks a cross-field rule (DRAM bandwidth form, energy table vs platform) or does not
fit its FPGA becomes a row with ``feasible=False`` and the reason; its figures are missing.
"""

from __future__ import annotations

import types

import numpy as np

from sim.config import as_arch
from sim.config.schema import DramConfig
from sim.cost.tables import resolve_table, table_problems
from sim.engine.memory import (
    fold_refusals,
    hierarchy_of_params,
    memory_for_points,
    memory_params,
)
from sim.engine.simulate import int64_refusals
from sim.errors import ConfigError, ResourceError, VitsimError
from sim.hw.fpga import check_fits
from sim.hw.fpga.device import RESOURCES
from sim.search import _batch, _frame
from sim.search._points import (
    _CATEGORICAL,
    _COST_KEYS,
    _DRAM_OPT,
    POINT_KEYS,
    TRACE_KEYS,
    columns,
)
from sim.workload import as_trace, input_tokens, lower, prune_tokens, with_batch

__all__ = ["evaluate", "POINT_KEYS", "TRACE_KEYS"]


def _edited(trace, cols, size):
    """``[(edited trace or the VitsimError its edit raised, row indices)]``."""
    keys = [k for k in TRACE_KEYS if k in cols]
    if not keys:
        return [(trace, None)]
    groups = {}
    for i, edit in enumerate(zip(*(cols[k] for k in keys))):
        groups.setdefault(edit, []).append(i)
    out = []
    for edit, idx in groups.items():
        e = dict(zip(keys, edit))
        try:
            t = trace
            if e.get("trace.batch") is not None:
                t = with_batch(t, e["trace.batch"])
            if e.get("trace.input_tokens") is not None:
                t = input_tokens(t, e["trace.input_tokens"])
            layer, kept = e.get("trace.prune_layer"), e.get("trace.prune_tokens")
            if (layer is None) != (kept is None):
                raise ConfigError("trace.prune_layer and trace.prune_tokens go together; "
                                  f"got {layer!r} and {kept!r}")
            if layer is not None:
                t = prune_tokens(t, layer, kept, e.get("trace.prune_method") or "topk")
        except VitsimError as exc:
            t = exc
        out.append((t, np.array(idx, dtype=np.int64)))
    return out


def _cross_reason(arch, cat, cols, i):
    """Loader's cross-field problems of point ``i`` (one group's categorical values)."""
    dram_vals = [None if np.isnan(cols[k][i]) else float(cols[k][i]) for k in _DRAM_OPT]
    dram = DramConfig(*dram_vals, latency_cycles=int(cols["dram.latency_cycles"][i]))
    et = types.SimpleNamespace(name=cat["energy_table.name"], dram=cat["energy_table.dram"],
                               overrides=arch.energy_table.overrides)
    probs = dram.problems() + table_problems(
        types.SimpleNamespace(energy_table=et, platform=cat["platform"]))
    return "; ".join(probs)


def _fit_reasons(arch, cat, sub, over):
    """The loader's over-budget message of each ``over`` row (what
    :func:`sim.hw.fpga.check_fits` raises, on a light stand-in of the row's arch)."""
    ns = types.SimpleNamespace
    keys = ("array.rows", "array.cols", "memory.word_bytes", "memory.ifmap_kib",
            "memory.filter_kib", "memory.ofmap_kib", "vector.lanes")
    seen = {}
    out = []
    for vals in zip(*(sub[k][over].tolist() for k in keys)):
        if vals not in seen:
            r, c, wb, fi, ff, fo, lanes = vals
            stand_in = ns(name=arch.name, platform=cat["platform"], precision=cat["precision"],
                          array=ns(rows=r, cols=c), vector=ns(lanes=lanes),
                          memory=ns(word_bytes=wb, ifmap_kib=fi, filter_kib=ff, ofmap_kib=fo))
            try:
                check_fits(stand_in)
                seen[vals] = "does not fit"  # unreachable: the columns said it does not
            except ResourceError as exc:
                seen[vals] = str(exc)
        out.append(seen[vals])
    return np.array(out, dtype=object)


def _prepare(arch, cols, size, mode):
    """The trace-independent part, once per call: ``(feasible, reason, groups)`` with
    each group a dict of its rows ``idx``, categorical values ``cat``, columns ``sub``,
    ``fpga`` columns, energy ``table`` and (cycle mode) memory ``params``."""
    feasible = np.ones(size, dtype=bool)
    reason = np.full(size, "", dtype=object)
    groups = []
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
                reason[idx[over]] = _fit_reasons(arch, cat, sub, over)
                keep = ~over
                idx = idx[keep]
                sub = {k: v[keep] for k, v in sub.items()}
                fpga = _keep(fpga, keep)
            if not len(idx):
                continue
        table = resolve_table(types.SimpleNamespace(
            energy_table=types.SimpleNamespace(name=cat["energy_table.name"],
                                               overrides=arch.energy_table.overrides),
            platform=cat["platform"]))
        params = _memory_params(sub, cat) if mode == "cycle" else None
        groups.append({"idx": idx, "cat": cat, "sub": sub, "fpga": fpga, "table": table,
                       "params": params})
    return feasible, reason, groups


def _subset(prepared, idx, size):
    """:func:`_prepare`'s result for the points ``idx`` only (their new row numbers are
    positions in ``idx``)."""
    feasible, reason, groups = prepared
    pos = np.full(size, -1, dtype=np.int64)
    pos[idx] = np.arange(len(idx))
    out = []
    for g in groups:
        sel = pos[g["idx"]] >= 0
        if not sel.any():
            continue
        out.append({**g, "idx": pos[g["idx"][sel]], "sub": _keep(g["sub"], sel),
                    "fpga": None if g["fpga"] is None else _keep(g["fpga"], sel),
                    "params": None if g["params"] is None else g["params"][sel]})
    return feasible[idx], reason[idx], out


def _keep(cols, keep):
    return {k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in cols.items()}


def _one_trace(arch, trace, prepared, mode):
    """``(feasible, reason, parts)`` of every point on ``trace`` (``prepared`` is
    :func:`_prepare`'s result; it is not changed)."""
    feasible, reason, groups = prepared
    feasible, reason = feasible.copy(), reason.copy()
    try:
        ops = lower(trace)
    except VitsimError as exc:  # simulate() raises it once the design resolves
        reason[feasible] = str(exc)
        feasible[:] = False
        return feasible, reason, []
    plan = _batch.plan_ops(ops)
    parts = []
    for g in groups:
        idx, cat, sub, fpga, params = g["idx"], g["cat"], g["sub"], g["fpga"], g["params"]
        why = _refusals(arch, ops, sub, cat, params, mode)
        bad = why != ""
        if bad.any():
            feasible[idx[bad]] = False
            reason[idx[bad]] = why[bad]
            keep = ~bad
            idx = idx[keep]
            sub = _keep(sub, keep)
            params = None if params is None else params[keep]
            fpga = None if fpga is None else _keep(fpga, keep)
            if not len(idx):
                continue
        mem = None
        if mode == "cycle" and cat["memory.model"] == "scalesim":
            mem, why = _scalesim_memory(plan, sub, cat)
            bad = why != ""
            if bad.any():
                feasible[idx[bad]] = False
                reason[idx[bad]] = why[bad]
                keep = ~bad
                idx, sub, mem = idx[keep], _keep(sub, keep), mem[keep]
                fpga = None if fpga is None else _keep(fpga, keep)
                if not len(idx):
                    continue
        elif mode == "cycle":
            mem = memory_for_points(params, plan.m, plan.n, plan.k)
        res = {"dataflow": cat["array.dataflow"], "rows": sub["array.rows"],
               "cols": sub["array.cols"], "clock_mhz": sub["clock_mhz"],
               "precision": cat["precision"]}
        res.update(_batch.run_columns(plan, sub, cat, g["table"], trace.batch, mem, fpga))
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


def _stand_ins(sub, cat):
    """A light stand-in of each design's arch (array, memory, dram, clock) for the
    engine's per-design functions."""
    ns = types.SimpleNamespace
    cols = [sub[k].tolist() for k in ("array.rows", "array.cols", "clock_mhz",
                                      "memory.ifmap_kib", "memory.filter_kib",
                                      "memory.ofmap_kib", "memory.word_bytes",
                                      "dram.latency_cycles") + _DRAM_OPT]
    for r, c, clk, fi, ff, fo, wb, lat, bi, bf, bo, gbps in zip(*cols):
        array = ns(dataflow=cat["array.dataflow"], fold_overlap=cat["array.fold_overlap"],
                   rows=r, cols=c)
        dram = DramConfig(None if bi != bi else bi, None if bf != bf else bf,
                          None if bo != bo else bo, None if gbps != gbps else gbps, lat)
        mem = ns(ifmap_kib=fi, filter_kib=ff, ofmap_kib=fo, word_bytes=wb,
                 model=cat["memory.model"])
        yield ns(array=array, memory=mem, dram=dram, clock_mhz=clk)


def _memory_params(sub, cat):
    """Each design's memory-walk parameters, float64 ``(Q, N)``, from the engine's own
    :func:`sim.engine.memory.memory_params`."""
    q = len(sub["array.rows"])
    rows = [memory_params(a) for a in _stand_ins(sub, cat)]
    return np.array(rows, dtype=np.float64).reshape(q, -1)


def _scalesim_memory(plan, sub, cat):
    """``memory.model: scalesim``: the engine's SCALE-Sim memory results of every design
    x GEMM shape, int64 ``(Q, U, 6)``, and the ConfigError text of designs it refuses."""
    from sim.engine.memory import MEMORY_KEYS
    from sim.engine.scalesim_memory import scalesim_memory_for_gemms

    q = len(sub["array.rows"])
    out = np.zeros((q, len(plan.m), len(MEMORY_KEYS)), dtype=np.int64)
    why = np.full(q, "", dtype=object)
    for i, a in enumerate(_stand_ins(sub, cat)):
        try:
            res = scalesim_memory_for_gemms(a, plan.m, plan.n, plan.k)
        except VitsimError as exc:
            why[i] = str(exc)
            continue
        out[i] = np.stack([res[k] for k in MEMORY_KEYS], axis=1)
    return out, why


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
    if mode == "cycle" and cat["memory.model"] != "scalesim":  # only the walk has a limit
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
    cols, size = columns(arch, points)
    given = list(points.columns if hasattr(points, "columns") else points)
    total = size * len(traces)
    feasible = np.ones(total, dtype=bool)
    reason = np.full(total, "", dtype=object)
    batch = np.zeros(total, dtype=np.int64)
    parts = []
    prepared = _prepare(arch, cols, size, mode)  # trace-independent: once per call
    for ti, trace in enumerate(traces):
        at = ti * size  # this trace's rows: at .. at + size
        batch[at:at + size] = trace.batch
        for t, idx in _edited(trace, cols, size):
            if idx is None:  # no trace edits: every point on the trace itself
                f, r, p = _one_trace(arch, t, prepared, mode)
                feasible[at:at + size], reason[at:at + size] = f, r
                parts.extend((i + at, res) for i, res in p)
                continue
            if isinstance(t, VitsimError):
                feasible[idx + at] = False
                reason[idx + at] = str(t)
                continue
            f, r, p = _one_trace(arch, t, _subset(prepared, idx, size), mode)
            feasible[idx + at], reason[idx + at], batch[idx + at] = f, r, t.batch
            parts.extend((idx[i] + at, res) for i, res in p)
    data = {}
    for k in given:
        col = _frame.given(cols[k]) if _frame.is_text(cols[k]) else cols[k]
        data[k] = col if len(traces) == 1 else _frame.tile(col, len(traces))
    data["point"] = np.tile(np.arange(size), len(traces))
    data["feasible"] = feasible
    data["reason"] = pd.Categorical(reason)
    data["arch"] = _frame.const_column(arch.name, total)
    data["trace"] = _frame.labels([t.name for t in traces], size)
    data["model"] = _frame.labels([t.model.name for t in traces], size)
    data["batch"] = batch
    data["mode"] = _frame.const_column(mode, total)
    # a given column that is also a summary key (clock_mhz) keeps its values on every row
    data.update({k: v for k, v in _frame.scatter(parts, total).items() if k not in data})
    return pd.DataFrame(data)
