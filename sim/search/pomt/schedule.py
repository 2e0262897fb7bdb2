"""POMT ("Pruning One More Token is Enough") token-pruning schedules from the simulator.

POMT (Eliopoulos et al., WACV 2025) picks how many tokens R to prune from a measured
latency-vs-tokens curve L(n) and an accuracy curve A(n):

    U(n) = alpha * (1 - L(n) / max L) + (1 - alpha) * A(n) / max A,   R = N - argmax U

and deploys the schedule as one prune-and-merge inside block ``prune_layer`` (default 3,
0-based).  Here the GPU measurement is replaced by :func:`sim.simulate`, so L(n) shows the
systolic array's fold steps: with M = b*n rows on an R-row output-stationary array,
``ceil(b*n/R)`` row folds, so one token more past a multiple of R/b costs a whole fold.

Two curves (:func:`latency_curve`):

``prune_layer=None`` -- *input* curve, POMT's offline grid: every block runs at n tokens
    (tokens removed at the input).  This is what the released POMT code sweeps to pick R.
``prune_layer=l`` -- *deployed* curve: blocks ``< l`` and block ``l``'s attention at the
    full count, then prune-and-merge (its score/select/gather/merge ops costed) and the
    rest at n.  This is what actually runs.

:func:`choose` applies the utility to either curve; from an input curve it simulates the
deployed schedule too, so the report is the latency that would really be achieved.
:func:`choose_joint` picks (prune layer, R) together on deployed curves.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from sim.config import as_arch
from sim.errors import ConfigError, TraceError
from sim.search.pomt.accuracy import INPUT_LAYER, AccuracySource, resolve_accuracy
from sim.search.simulator import (
    default_evaluate,
    rows_to_summaries,
    simulator_mode,
    summary_of,
)
from sim.workload import Trace, as_trace, input_tokens, prune_tokens
from sim.workload.trace import PRUNE_METHODS

__all__ = [
    "latency_curve", "find_steps", "choose", "choose_joint", "Schedule", "deployed_trace",
    "METRICS", "STEP_K", "DEFAULT_PRUNE_LAYER",
]

#: Cost metrics a curve can be built on (summary keys of :class:`sim.Report`).
METRICS = ("latency_s", "energy_j", "edp_per_inference_js", "cycles")
#: Default step threshold: an increment L(n+1) - L(n) is a step when it exceeds
#: ``STEP_K`` times the median one-token increment.
STEP_K = 3.0
#: POMT's default prune layer (0-based block index), as in its released code.
DEFAULT_PRUNE_LAYER = 3
_SUMMARY_KEYS = ("cycles", "latency_s", "energy_j", "edp_per_inference_js")




def _check_layer(trace: Trace, layer) -> int:
    depth = trace.model.depth
    if not isinstance(layer, (int, np.integer)) or isinstance(layer, bool) \
            or not 0 <= layer < depth:
        raise TraceError(f"prune_layer must be an integer in [0, {depth}) or None (tokens "
                         f"removed at the input), not {layer!r}")
    return int(layer)


def deployed_trace(trace: Trace, prune_layer: int, tokens_keep: int,
                   method: str = "pomt") -> Trace:
    """``trace`` pruned to ``tokens_keep`` inside block ``prune_layer`` (``method`` ops costed).

    Keeping every token (R = 0) returns ``trace`` itself: no prune op is run.
    """
    layer = _check_layer(trace, prune_layer)
    if tokens_keep == trace.layers[layer].tokens and trace.layers[layer].prune is None:
        return trace
    return prune_tokens(trace, layer, int(tokens_keep), method)


def _summary_row(summary) -> dict:
    s = summary_of(summary)
    return {key: s[key] for key in _SUMMARY_KEYS if key in s}


def _batched_curve(arch, trace, ns, prune_layer, layer_id, method, evaluate):
    """Summary rows of every n in one :func:`sim.search.evaluate` call (trace edits as
    point columns) when ``evaluate`` is the simulator, else None.  A refused n is None
    (the per-point path then raises what the simulator raises)."""
    mode = simulator_mode(evaluate)
    if mode is None or method not in PRUNE_METHODS:
        return None
    from sim.search.evaluate import evaluate as batched

    if prune_layer is None:
        pts = {"trace.input_tokens": list(ns)}
    else:
        lt = trace.layers[layer_id]
        keep_all = lambda n: n == lt.tokens and lt.prune is None  # noqa: E731
        pts = {"trace.prune_layer": [None if keep_all(n) else layer_id for n in ns],
               "trace.prune_tokens": [None if keep_all(n) else int(n) for n in ns],
               "trace.prune_method": [method] * len(ns)}
    df = batched(arch, trace, {k: np.array(v, dtype=object) for k, v in pts.items()},
                 mode=mode)
    rows = rows_to_summaries(df, skip=pts)
    return [_summary_row(r) if ok else None for r, ok in zip(rows, df["feasible"])]


def latency_curve(arch, trace, batch=None, tokens=None, prune_layer=None,
                  metric: str = "latency_s", mode: str = "analytic", method: str = "pomt",
                  evaluate=None):
    """Simulated cost for each token count n: POMT's L(n) (or energy / EDP).

    Parameters
    ----------
    arch : ArchConfig or str
        Architecture; pass an :class:`ArchConfig` in loops (a preset name is parsed once).
    trace : Trace or str
        Trace, trace file, or built-in model name (``"deit_s"``).
    batch : int, optional
        Override the trace's batch.
    tokens : iterable of int, optional
        Token counts n (CLS included) to simulate.  Default: every n from
        ``prefix_tokens + 1`` to the full count.  The full count (R = 0, unpruned
        baseline) is always added.
    prune_layer : int or None
        None: *input* curve (every block at n; POMT's offline grid).  An int: *deployed*
        curve (prune-and-merge inside that block, including the op's own cost).
    metric : {"latency_s", "energy_j", "edp_per_inference_js", "cycles"}
        Cost the optimizer will use; it must be in the simulator's report.
    mode : {"analytic", "cycle"}
        Simulator mode (see :func:`sim.simulate`).
    method : str
        Pruning method of the deployed curve (default ``"pomt"``).
    evaluate : callable, optional
        ``evaluate(arch, trace) -> summary dict``; default the simulator in ``mode``
        (:func:`sim.search.simulator.simulate_summary`).

    Returns
    -------
    pandas.DataFrame
        One row per n, ascending: ``tokens``, ``R`` (tokens removed), ``prune_layer``
        (-1 = at the input), ``cycles``, ``latency_s`` and ``energy_j``,
        ``edp_per_inference_js`` when the energy model reports them.  ``df.attrs`` holds
        ``metric``, ``curve`` (``"input"``/``"deployed"``), ``arch``, ``trace``
        (objects), ``tokens_full``, ``sim_mode``.
    """
    import pandas as pd

    evaluate = default_evaluate(evaluate, mode)
    if metric not in METRICS:
        raise ConfigError(f"metric must be one of {list(METRICS)}, not {metric!r}")
    arch, trace = as_arch(arch), as_trace(trace, batch)
    spec = trace.model
    if prune_layer is None:
        full, layer_id = spec.tokens, INPUT_LAYER
    else:
        layer_id = _check_layer(trace, prune_layer)
        full = trace.layers[layer_id].tokens
    lo = spec.prefix_tokens + 1 if spec.prefix_tokens + 1 <= full else 1
    grid = set(range(lo, full + 1)) if tokens is None else set()
    if tokens is not None:
        bad = [n for n in tokens if not isinstance(n, (int, np.integer)) or isinstance(n, bool)
               or not 1 <= n <= full]
        if bad:
            raise TraceError(f"tokens must be integers in [1, {full}] (tokens entering "
                             f"{'the model' if prune_layer is None else f'block {layer_id}'}),"
                             f" not {bad[:5]}")
        grid = {int(n) for n in tokens}
    grid.add(full)
    rows = []
    ns = sorted(grid)
    fast = _batched_curve(arch, trace, ns, prune_layer, layer_id, method, evaluate)
    for j, n in enumerate(ns):
        if fast is not None and fast[j] is not None:
            row = fast[j]
        else:
            t = (input_tokens(trace, n) if prune_layer is None
                 else deployed_trace(trace, layer_id, n, method))
            row = _summary_row(evaluate(arch, t))
        if not rows and metric not in row:
            raise ConfigError(
                f"metric {metric!r} is not in the simulator's report (it has "
                f"{sorted(row)}); energy_j and edp_per_inference_js need the energy model "
                f"(sim.cost)")
        rows.append({"tokens": n, "R": full - n, "prune_layer": layer_id, **row})
    df = pd.DataFrame(rows)
    df.attrs.update({"metric": metric, "curve": "input" if prune_layer is None else "deployed",
                     "arch": arch, "trace": trace, "tokens_full": full, "sim_mode": mode,
                     "method": method})
    return df


def find_steps(curve, k: float = STEP_K, column: str | None = None) -> list:
    """Token counts n where L(n+1) - L(n) is a step (a tile/fold boundary).

    An increment is a step when it exceeds ``k`` times the median one-token increment of
    the curve (vector ops and streamed dimensions make L rise a little at every n; a new
    fold makes it jump).  Only consecutive pairs (n, n+1) present in the curve count.  If
    the median increment is <= 0, the median of the positive increments is used.
    ``n`` is the largest token count *before* the jump: pruning to n saves the step.
    """
    column = column or curve.attrs.get("metric", "latency_s")
    if "prune_layer" in curve.columns and curve["prune_layer"].nunique() > 1:
        raise ConfigError("find_steps needs one curve (one prune_layer); select it first")
    df = curve.sort_values("tokens")
    n = df["tokens"].to_numpy(np.int64)
    v = df[column].to_numpy(float)
    consecutive = np.diff(n) == 1
    inc = np.diff(v)[consecutive]
    at = n[:-1][consecutive]
    if len(inc) == 0:
        return []
    base = float(np.median(inc))
    if base <= 0:
        pos = inc[inc > 0]
        if len(pos) == 0:
            return []
        base = float(np.median(pos))
    return [int(x) for x in at[inc > k * base]]


@dataclass(frozen=True)
class Schedule:
    """A chosen POMT schedule: prune ``R`` tokens inside block ``prune_layer``.

    Latency/energy/EDP fields are per inference of the whole batch; ``pruned_*`` are the
    *deployed* schedule's figures (prune-and-merge op included), ``proxy_*`` the value
    of the curve the choice was made on (equal for deployed curves).  Energy fields are
    None when the simulator has no energy model.
    """

    tokens_keep: int
    R: int
    prune_layer: int
    tokens_full: int
    curve: str                      # "input" | "deployed" | "joint"
    metric: str
    alpha: float
    utility: float
    accuracy_baseline: float
    accuracy_pruned: float
    accuracy_source: str
    baseline_latency_s: float
    pruned_latency_s: float
    proxy_latency_s: float
    baseline_energy_j: float | None = None
    pruned_energy_j: float | None = None
    baseline_edp_js: float | None = None
    pruned_edp_js: float | None = None
    steps: tuple = ()
    steps_exploited: tuple = ()
    on_step: bool = False
    step_k: float = STEP_K
    arch: str = ""
    model: str = ""
    batch: int = 1
    table: object = field(default=None, repr=False, compare=False)

    @property
    def speedup(self) -> float:
        """Baseline latency over deployed latency."""
        return self.baseline_latency_s / self.pruned_latency_s

    def to_dict(self) -> dict:
        """JSON-ready fields (the curve ``table`` is left out)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name != "table"}
        out["steps"] = list(self.steps)
        out["steps_exploited"] = list(self.steps_exploited)
        out["speedup"] = self.speedup
        return out


def _utility(table, source: AccuracySource, alpha: float, metric: str):
    acc = np.empty(len(table))
    for layer, idx in table.groupby("prune_layer").indices.items():
        acc[idx] = source.values(table["tokens"].to_numpy()[idx], int(layer))
    cost = table[metric].to_numpy(float)
    if cost.max() <= 0 or acc.max() <= 0:
        raise ConfigError(f"utility needs max {metric} > 0 and max accuracy > 0")
    table = table.assign(accuracy=acc)
    return table.assign(utility=alpha * (1 - cost / cost.max()) + (1 - alpha) * acc / acc.max())


def _argmax(table) -> int:
    """Row position of the best utility; ties go to more tokens kept, then a later layer."""
    order = np.lexsort((table["prune_layer"].to_numpy(), table["tokens"].to_numpy(),
                        table["utility"].to_numpy()))
    return int(order[-1])


def _check_alpha(alpha):
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 0 <= alpha <= 1:
        raise ConfigError(f"alpha must be a number in [0, 1], not {alpha!r}")
    return float(alpha)


def _figures(row) -> dict:
    return {key: (float(row[key]) if key in row and row[key] == row[key] else None)
            for key in ("latency_s", "energy_j", "edp_per_inference_js")}


def _make_schedule(table, best, source, alpha, metric, curve_kind, prune_layer, k,
                   deployed, attrs) -> Schedule:
    layer_rows = table[table["prune_layer"] == table.iloc[best]["prune_layer"]]
    row = table.iloc[best]
    n, full = int(row["tokens"]), int(layer_rows["tokens"].max())
    base_row = layer_rows[layer_rows["tokens"] == full].iloc[0]
    steps = find_steps(layer_rows, k, metric)
    base, proxy = _figures(base_row), _figures(row)
    pruned = deployed if deployed is not None else proxy
    trace = attrs.get("trace")
    return Schedule(
        tokens_keep=n, R=full - n, prune_layer=prune_layer, tokens_full=full,
        curve=curve_kind, metric=metric, alpha=alpha, utility=float(row["utility"]),
        accuracy_baseline=float(base_row["accuracy"]), accuracy_pruned=float(row["accuracy"]),
        accuracy_source=source.name + (" [ILLUSTRATIVE]" if source.illustrative else ""),
        baseline_latency_s=base["latency_s"], pruned_latency_s=pruned["latency_s"],
        proxy_latency_s=proxy["latency_s"],
        baseline_energy_j=base["energy_j"], pruned_energy_j=pruned["energy_j"],
        baseline_edp_js=base["edp_per_inference_js"], pruned_edp_js=pruned["edp_per_inference_js"],
        steps=tuple(steps), steps_exploited=tuple(s for s in steps if n <= s < full),
        on_step=n in steps, step_k=k,
        arch=getattr(attrs.get("arch"), "name", ""),
        model=trace.model.name if trace is not None else "",
        batch=trace.batch if trace is not None else 1, table=table)


def choose(curve, accuracy=None, alpha: float = 0.5, *, k: float = STEP_K,
           deploy_layer: int = DEFAULT_PRUNE_LAYER, evaluate=None) -> Schedule:
    """POMT's choice: the n maximising U(n) on ``curve`` (from :func:`latency_curve`).

    ``U(n) = alpha * (1 - C(n)/max C) + (1 - alpha) * A(n)/max A`` with C the curve's
    metric (``curve.attrs["metric"]``) and A from ``accuracy`` (see
    :func:`sim.search.pomt.accuracy.resolve_accuracy`; None = the shipped *illustrative*
    DeiT-S table).  Ties go to the larger n (fewer tokens pruned).

    On an input curve (POMT's offline grid) the accuracy is looked up at prune_layer -1
    and the chosen n is then deployed with prune-and-merge inside block ``deploy_layer``
    (re-simulated, so ``pruned_latency_s`` includes the op's cost and the unpruned early
    blocks; ``proxy_latency_s`` is the grid's value).  On a deployed curve the curve's
    own layer is used and ``deploy_layer`` is ignored.  ``evaluate(arch, trace) -> summary``
    re-simulates the deployed schedule (default: the simulator in the curve's mode; pass
    the evaluator the curve was built with).
    """
    alpha = _check_alpha(alpha)
    metric = curve.attrs.get("metric", "latency_s")
    kind = curve.attrs.get("curve", "input" if (curve["prune_layer"] < 0).all() else "deployed")
    if curve["prune_layer"].nunique() != 1:
        raise ConfigError("choose() takes one curve; use choose_joint() for several layers")
    source = resolve_accuracy(accuracy)
    table = _utility(curve.sort_values("tokens").reset_index(drop=True), source, alpha, metric)
    best = _argmax(table)
    deployed, attrs = None, curve.attrs
    if kind == "input":
        prune_layer = deploy_layer
        n = int(table.iloc[best]["tokens"])
        if "arch" in attrs and "trace" in attrs:
            evaluate = default_evaluate(evaluate, attrs.get("sim_mode", "analytic"))
            t = deployed_trace(attrs["trace"], deploy_layer, n, attrs.get("method", "pomt"))
            deployed = _figures(summary_of(evaluate(attrs["arch"], t)))
    else:
        prune_layer = int(table["prune_layer"].iloc[0])
    return _make_schedule(table, best, source, alpha, metric, kind, prune_layer, k, deployed,
                          attrs)


def choose_joint(arch, trace, accuracy=None, *, layers=None, tokens=None, batch=None,
                 alpha: float = 0.5, metric: str = "latency_s", mode: str = "analytic",
                 k: float = STEP_K, evaluate=None) -> Schedule:
    """Choose (prune layer, R) together: argmax of U over deployed curves of ``layers``.

    ``accuracy`` must depend on the prune layer (a table with a ``prune_layer`` column, a
    two-argument callable, or ``"digits"``): with A(n) alone every layer would have the
    same accuracy and the earliest layer would always win.  U is normalised by the largest
    cost and accuracy over all layers.  ``Schedule.table`` holds every (layer, n) row.
    ``evaluate`` as :func:`latency_curve`.
    """
    import pandas as pd

    alpha = _check_alpha(alpha)
    source = resolve_accuracy(accuracy)
    if not source.per_layer:
        raise ConfigError(f"the joint choice needs accuracy per prune layer, but {source.name} "
                          "gives A(n) only; add a prune_layer column to the table or pass a "
                          "callable accuracy(tokens, prune_layer)")
    arch, trace = as_arch(arch), as_trace(trace, batch)
    layers = range(trace.model.depth) if layers is None else layers
    curves = [latency_curve(arch, trace, tokens=tokens, prune_layer=layer, metric=metric,
                            mode=mode, evaluate=evaluate) for layer in layers]
    if not curves:
        raise ConfigError("choose_joint needs at least one layer")
    table = pd.concat(curves, ignore_index=True)
    table = _utility(table, source, alpha, metric)
    best = _argmax(table)
    layer = int(table.iloc[best]["prune_layer"])
    return _make_schedule(table, best, source, alpha, metric, "joint", layer, k, None,
                          curves[0].attrs)
