"""PIVOT Phase 2: hardware-in-the-loop search of an entropy-routed two-effort cascade.

Given efforts (:mod:`sim.search.pivot.efforts`: a trace plus per-input class-mean entropy and
correctness each), an architecture and a space of arch points, evaluate every
``(low effort, high effort, entropy threshold, arch point)`` and pick the one with the
lowest expected EDP subject to

* the **LEC** (low effort constraint): the fraction ``f_low`` of inputs that exit at the low
  effort (``H_low <= threshold``) is at least ``lec``;
* an **accuracy floor**: cascade accuracy >= baseline accuracy - ``acc_drop`` (baseline =
  the effort with the most attentions kept, normally the full model, alone).

Cost is **cumulative** (as PIVOT's code): an input that falls through to the high effort
pays for both.  With per-inference energy ``E`` and delay ``D`` of each effort on an arch
point::

    E[E] = E_low + (1 - f_low) E_high      E[D] = D_low + (1 - f_low) D_high
    objective "expected"  (default): EDP = E[E] * E[D]
    objective "per_image":           EDP = f_low E_low D_low
                                           + (1 - f_low)(E_low + E_high)(D_low + D_high)

Both objectives fall as ``f_low`` rises, so for a given pair the best threshold is the
largest feasible one; the search still evaluates every kept threshold on every arch point.
Everything is deterministic; ``seed`` only drives a random arch space.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.config import as_arch
from sim.errors import ConfigError, VitsimError
from sim.search.pareto import pareto_front
from sim.search.pivot.cascade3 import _grid, _rows3, cascade3_curve
from sim.search.sweep import Space, sweep
from sim.torch.cka import class_mean_entropy

__all__ = [
    "class_mean_entropy", "cascade_curve", "cascade3_curve", "effort_costs",
    "search_cascades",
    "pivot_search", "accuracy_edp_front", "PivotResult", "OBJECTIVES",
]
# class_mean_entropy (numpy) lives with the effort outputs in sim.torch.cka; re-exported.

log = logging.getLogger(__name__)

OBJECTIVES = ("expected", "per_image")
_EPS = 1e-12


def cascade_curve(entropy_low, correct_low, correct_high, thresholds=None) -> pd.DataFrame:
    """Exit fraction and accuracy of a two-effort cascade for each threshold.

    An input exits at the low effort when ``entropy_low <= threshold``; the rest are
    classified by the high effort.  ``thresholds=None`` uses every distinct low-effort
    entropy (the exact set of reachable ``f_low`` values above 0).

    Returns
    -------
    DataFrame with ``threshold, n_low, f_low, n_correct, accuracy`` (ascending threshold).
    """
    h = np.asarray(entropy_low, dtype=np.float64)
    cl = np.asarray(correct_low, dtype=bool)
    ch = np.asarray(correct_high, dtype=bool)
    n = h.size
    order = np.argsort(h, kind="stable")
    hs = h[order]
    cum_low = np.concatenate([[0], np.cumsum(cl[order])])
    cum_high = np.concatenate([[0], np.cumsum(ch[order])])
    th = np.unique(hs) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    n_low = np.searchsorted(hs, th, side="right")
    n_correct = cum_low[n_low] + (cum_high[-1] - cum_high[n_low])
    return pd.DataFrame({"threshold": th, "n_low": n_low, "f_low": n_low / n,
                         "n_correct": n_correct, "accuracy": n_correct / n})


def accuracy_edp_front(df: pd.DataFrame, x: str = "edp_per_inference_js",
                       y: str = "accuracy") -> pd.DataFrame:
    """Rows not dominated in (lower ``x``, higher ``y``), sorted by ``x`` then ``-y``.

    :func:`sim.search.pareto.pareto_front` of the two columns alone (a ``feasible``
    column is not looked at), ``y`` maximised: equal rows are all kept.
    """
    if df.empty:
        return df.copy()
    front = df[pareto_front(df[[x, y]], [x, y], maximize=[y])]
    return front.sort_values([x, y], ascending=[True, False], kind="stable")


# -- cost table ---------------------------------------------------------------------------

def _space(space, n_random, seed):
    if isinstance(space, Space):
        return space
    space = dict(space or {})
    if not space:
        return None
    return Space(space, n=n_random, seed=seed)


def effort_costs(arch, efforts, space=None, *, n_random=None, seed: int = 0,
                 mode: str = "cycle", evaluate=None, executor="inline",
                 workers: int | None = None) -> pd.DataFrame:
    """Energy and delay of every effort on every arch point (through :func:`sweep`).

    Parameters
    ----------
    arch : ArchConfig or str
        Base architecture (file or preset).
    efforts : list of Effort
    space : Space or dict, optional
        Arch points (dotted key -> values, a grid; ``n_random`` points drawn with
        ``seed``).  None: the base architecture only.
    mode : {"cycle", "analytic"}
    evaluate : callable, optional
        ``evaluate(arch, trace) -> summary dict`` (or a Report) with ``energy_j`` and
        ``latency_s``; default :func:`sim.search.simulator.simulate_summary` in ``mode``.
    executor, workers
        Passed to :func:`sim.search.sweep.sweep` (default ``"inline"``).

    Returns
    -------
    DataFrame with ``point_id, effort, energy_j, latency_s`` (per inference: divided by the
    trace's batch when the result has a ``batch`` column) plus one column per arch key.
    Arch points where any effort is infeasible (e.g. over the FPGA budget) are dropped
    and listed in ``df.attrs["dropped"]``.

    Raises
    ------
    VitsimError
        When the runs carry no ``energy_j`` (no energy model), or no point is feasible.
    """
    base = as_arch(arch)
    sp = _space(space, n_random, seed)
    keys = sp.keys if sp is not None else []
    if sp is None:  # the base arch alone: a one-point space that changes nothing
        sp = Space.grid({"clock_mhz": [base.clock_mhz]})
    traces = [dataclasses.replace(e.trace, name=e.name) for e in efforts]
    df = sweep(base, traces, sp, executor=executor, mode=mode, workers=workers,
               evaluate=evaluate)
    errors = df[df["status"] == "error"]
    if not errors.empty:
        raise VitsimError(f"evaluating effort {errors['trace'].iloc[0]!r} failed: "
                          f"{errors['reason'].iloc[0]}")
    df["_point"] = df[sp.keys].astype(str).agg("|".join, axis=1)
    order = list(dict.fromkeys(df["_point"]))
    infeasible = ~df["feasible"].astype(bool)
    bad = set(df.loc[infeasible, "_point"])
    dropped = [{**{k: df.loc[df["_point"] == p, k].iloc[0] for k in keys},
                "reason": df.loc[(df["_point"] == p) & infeasible, "reason"].iloc[0]}
               for p in order if p in bad]
    good = [p for p in order if p not in bad]
    if not good:
        raise VitsimError(f"no arch point is feasible for every effort; e.g. "
                          f"{dropped[0]['reason']}")
    ok = df[df["_point"].isin(good)].copy()
    if "energy_j" not in ok or ok["energy_j"].isna().any():
        raise VitsimError("PIVOT Phase 2 needs energy for EDP, but the runs carry no "
                          "'energy_j' (the energy model in sim.cost did not price them); "
                          "enable the energy model or pass evaluate= returning energy_j "
                          "and latency_s")
    ok["point_id"] = ok["_point"].map({p: i for i, p in enumerate(good)})
    bad_cost = ok[~((ok["energy_j"] > 0) & (ok["latency_s"] > 0))]
    if not bad_cost.empty:
        r = bad_cost.iloc[0]
        raise VitsimError(f"effort {r['trace']!r}: energy_j = {r['energy_j']!r}, "
                          f"latency_s = {r['latency_s']!r}; both must be > 0")
    out = ok[["point_id", *keys, "trace", "energy_j", "latency_s"]].rename(
        columns={"trace": "effort"}).reset_index(drop=True)
    # per inference, as the report's edp_per_inference_js: a batch-b trace costs E/b and D/b
    # per image
    batch = ok["batch"].astype(float).to_numpy() if "batch" in ok else 1.0
    out["energy_j"] = out["energy_j"].astype(float) / batch
    out["latency_s"] = out["latency_s"].astype(float) / batch
    out.attrs["dropped"] = dropped
    if dropped:
        log.info("pivot: %d arch point(s) dropped as infeasible", len(dropped))
    return out


# -- the search ---------------------------------------------------------------------------

@dataclass
class PivotResult:
    """Outcome of :func:`pivot_search` / :func:`search_cascades`.

    Attributes
    ----------
    points : DataFrame
        Every evaluated (low, high, threshold, arch point) and single-effort row, with
        ``f_low, accuracy, energy_j, latency_s, edp_per_inference_js, edp_ratio, lec_ok, acc_ok,
        feasible, pareto``.  ``edp_ratio`` = baseline EDP on the same arch point / EDP.
    pareto : DataFrame
        Rows meeting the LEC that no other such row beats in both accuracy and EDP.
    chosen : dict or None
        The feasible row with the lowest EDP (ties: higher accuracy, then row order);
        None when nothing is feasible.
    baseline : DataFrame
        The baseline effort alone on every arch point.
    costs : DataFrame
        The effort x arch-point cost table.
    settings : dict
    """

    points: pd.DataFrame
    pareto: pd.DataFrame
    chosen: dict | None
    baseline: pd.DataFrame
    costs: pd.DataFrame
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready summary (chosen point, Pareto front, settings)."""
        return {"settings": self.settings, "chosen": self.chosen,
                "pareto": self.pareto.to_dict(orient="records"),
                "baseline": self.baseline.to_dict(orient="records"),
                "n_points": int(len(self.points))}


def _edp(objective, f, el, dl, eh, dh):
    energy = el + (1.0 - f) * eh
    delay = dl + (1.0 - f) * dh
    if objective == "expected":
        return energy, delay, energy * delay
    return energy, delay, f * el * dl + (1.0 - f) * (el + eh) * (dl + dh)


def _keep_thresholds(curve, max_thresholds, must):
    t = len(curve)
    if max_thresholds is None or t <= max_thresholds:
        return np.arange(t)
    idx = np.unique(np.round(np.linspace(0, t - 1, max_thresholds)).astype(int))
    return np.union1d(idx, np.asarray([m for m in must if m is not None], dtype=int))


def _check_args(efforts, lec, acc_drop, objective, baseline, max_thresholds):
    problems = []
    if not efforts:
        problems.append("efforts: need at least one effort")
    if not (isinstance(lec, (int, float)) and 0.0 <= lec <= 1.0):
        problems.append(f"lec = {lec!r}; must be a number in [0, 1] (fraction of inputs the "
                        "low effort must classify)")
    if not (isinstance(acc_drop, (int, float)) and 0.0 <= acc_drop <= 1.0):
        problems.append(f"acc_drop = {acc_drop!r}; must be a number in [0, 1] (absolute "
                        "accuracy, e.g. 0.01 = one point)")
    if objective not in OBJECTIVES:
        problems.append(f"objective = {objective!r}; must be one of {list(OBJECTIVES)}")
    names = [e.name for e in efforts]
    if baseline is not None and baseline not in names:
        problems.append(f"baseline = {baseline!r}; must be one of the efforts {names}")
    if max_thresholds is not None and (not isinstance(max_thresholds, int)
                                       or max_thresholds < 2):
        problems.append(f"max_thresholds = {max_thresholds!r}; must be an integer >= 2 "
                        "or None")
    if len({e.n_inputs for e in efforts}) > 1:
        problems.append("efforts must all cover the same inputs (same N)")
    if problems:
        raise ConfigError(problems)


def search_cascades(efforts, costs: pd.DataFrame, *, lec: float, acc_drop: float = 0.01,
                    objective: str = "expected", baseline: str | None = None,
                    thresholds=None, max_thresholds: int | None = 256,
                    max_efforts: int = 2, thresholds3: int = 24) -> PivotResult:
    """Phase 2 over a precomputed cost table (see :func:`effort_costs`).

    Parameters
    ----------
    efforts : list of Effort
    costs : DataFrame
        ``point_id, effort, energy_j, latency_s`` (+ arch key columns).
    lec : float
        Low effort constraint: minimum fraction of inputs exiting at the low effort.
    acc_drop : float
        Accuracy floor = baseline accuracy - ``acc_drop`` (absolute fraction).
    objective : {"expected", "per_image"}
        E[E]*E[D] of the cumulative cascade, or the mean of per-image E*D.
    baseline : str, optional
        Reference effort (default: most attentions kept; first on a tie).
    thresholds : array, optional
        Explicit entropy thresholds (e.g. PIVOT's ``linspace(1e-4, 1.5e-3, 20)``);
        default every distinct low-effort entropy (exact).
    max_thresholds : int or None
        With exact thresholds, keep at most this many evenly spaced ones per pair in the
        table, plus the LEC boundary and the pair's best feasible one (so the optimum is
        still exact).  None keeps all.
    max_efforts : {2, 3}
        Longest cascade: 3 adds low -> mid -> high cascades (``mid``, ``threshold2`` and
        ``f_mid`` columns; cost cumulative: an input reaching the high effort pays all
        three).
    thresholds3 : int
        Thresholds per effort in a three-effort cascade (quantiles of its entropies).
    """
    _check_args(efforts, lec, acc_drop, objective, baseline, max_thresholds)
    if max_efforts not in (2, 3):
        raise ConfigError(f"max_efforts = {max_efforts!r}; must be 2 or 3")
    by_name = {e.name: e for e in efforts}
    if baseline is None:
        baseline = max(efforts, key=lambda e: (e.kept, -efforts.index(e))).name
    base_eff = by_name[baseline]
    n = base_eff.n_inputs
    floor = base_eff.accuracy - acc_drop
    need_low = math.ceil(lec * n - 1e-9)
    need_correct = math.ceil(floor * n - 1e-9)
    missing = sorted(set(by_name) - set(costs["effort"]))
    if missing:
        raise ConfigError(f"cost table has no rows for effort(s) {missing}")
    key_cols = [c for c in costs.columns
                if c not in ("point_id", "effort", "energy_j", "latency_s")]
    pts = costs.drop_duplicates("point_id").sort_values("point_id")[["point_id", *key_cols]]
    pid = pts["point_id"].to_numpy()
    e_tab = costs.pivot(index="point_id", columns="effort", values="energy_j").loc[pid]
    d_tab = costs.pivot(index="point_id", columns="effort", values="latency_s").loc[pid]

    base_e = e_tab[baseline].to_numpy()
    base_d = d_tab[baseline].to_numpy()
    base_edp = base_e * base_d
    frames = []

    def add(low, high, curve, f, el, dl, eh, dh):
        energy, delay, edp = _edp(objective, f[:, None], el[None], dl[None], eh[None], dh[None])
        t, a = len(curve), len(pid)
        df = pd.DataFrame({
            "point_id": np.tile(pid, t), "low": low, "high": high,
            "kept_low": by_name[low].kept,
            "kept_high": by_name[high].kept if high else np.nan,
            "threshold": np.repeat(curve["threshold"].to_numpy(), a),
            "n_low": np.repeat(curve["n_low"].to_numpy(), a),
            "f_low": np.repeat(f, a),
            "accuracy": np.repeat(curve["accuracy"].to_numpy(), a),
            "n_correct": np.repeat(curve["n_correct"].to_numpy(), a),
            "energy_j": energy.ravel(), "latency_s": delay.ravel(),
            "edp_per_inference_js": edp.ravel(),
        })
        frames.append(df)

    for e in efforts:  # single efforts: low effort alone (f_low = 1); baseline alone f = 0
        alone = pd.DataFrame({"threshold": [np.nan], "n_low": [n if e.name != baseline else 0],
                              "n_correct": [int(e.correct.sum())],
                              "accuracy": [e.accuracy]})
        zero = np.zeros(len(pid))
        add(e.name, "", alone, alone["n_low"].to_numpy() / n, e_tab[e.name].to_numpy(),
            d_tab[e.name].to_numpy(), zero, zero)
    for lo in efforts:
        for hi in efforts:
            if lo.kept >= hi.kept:
                continue
            curve = cascade_curve(lo.entropy, lo.correct, hi.correct, thresholds)
            if thresholds is None:
                curve = curve[curve["n_low"] < n]  # f_low = 1 is the single-effort row
                ok = (curve["n_low"] >= need_low) & (curve["n_correct"] >= need_correct)
                okn = np.flatnonzero(ok.to_numpy())
                lec_idx = np.flatnonzero((curve["n_low"] >= need_low).to_numpy())
                keep = _keep_thresholds(curve, max_thresholds,
                                        [okn[-1] if okn.size else None,
                                         lec_idx[0] if lec_idx.size else None])
                curve = curve.iloc[keep]
            if curve.empty:
                continue
            add(lo.name, hi.name, curve, curve["f_low"].to_numpy(),
                e_tab[lo.name].to_numpy(), d_tab[lo.name].to_numpy(),
                e_tab[hi.name].to_numpy(), d_tab[hi.name].to_numpy())

    if max_efforts == 3:
        for lo in efforts:
            for mi in efforts:
                for hi in efforts:
                    if not lo.kept < mi.kept < hi.kept:
                        continue
                    curve = cascade3_curve(lo.entropy, lo.correct, mi.entropy, mi.correct,
                                           hi.correct, _grid(lo.entropy, thresholds3),
                                           _grid(mi.entropy, thresholds3))
                    curve = curve[(curve["n_low"] < n) & (curve["n_mid"] > 0)
                                  & (curve["f_high"] > 0)]
                    if curve.empty:
                        continue
                    frames.append(_rows3(objective, lo.name, mi.name, hi.name, by_name,
                                         curve, pid, e_tab, d_tab))

    df = pd.concat(frames, ignore_index=True)
    if "mid" not in df:
        df["mid"] = ""
    df["mid"] = df["mid"].fillna("")
    df = pts.merge(df, on="point_id", how="right", sort=False)
    point_base = base_edp[np.searchsorted(pid, df["point_id"].to_numpy())]
    df["edp_ratio"] = point_base / df["edp_per_inference_js"]
    df["acc_drop"] = base_eff.accuracy - df["accuracy"]
    df["lec_ok"] = df["n_low"] >= need_low
    df["acc_ok"] = df["n_correct"] >= need_correct
    df["feasible"] = df["lec_ok"] & df["acc_ok"]
    front = accuracy_edp_front(df[df["lec_ok"]])
    df["pareto"] = df.index.isin(front.index)
    feas = df[df["feasible"]]
    chosen = None
    if not feas.empty:
        best = feas.sort_values(["edp_per_inference_js", "accuracy"], ascending=[True, False],
                                kind="stable").iloc[0]
        chosen = {k: (v.item() if hasattr(v, "item") else v) for k, v in best.items()}
    base_rows = df[(df["low"] == baseline) & (df["high"] == "")].reset_index(drop=True)
    settings = {"lec": lec, "acc_drop": acc_drop, "objective": objective,
                "baseline": baseline, "baseline_accuracy": base_eff.accuracy,
                "accuracy_floor": floor, "n_inputs": n, "min_low_inputs": need_low,
                "min_correct_inputs": need_correct, "n_arch_points": int(len(pid)),
                "efforts": {e.name: {"kept": e.kept, "skipped": list(e.skipped),
                                     "accuracy": e.accuracy, "depth": e.trace.model.depth,
                                     "embed_dim": e.trace.model.embed_dim,
                                     "mlp_ratio": e.trace.model.mlp_hidden
                                     / e.trace.model.embed_dim} for e in efforts}}
    return PivotResult(df, front.reset_index(drop=True), chosen, base_rows, costs, settings)


def pivot_search(arch, efforts, *, lec: float, acc_drop: float = 0.01, space=None,
                 n_random: int | None = None, seed: int = 0, objective: str = "expected",
                 mode: str = "cycle", baseline: str | None = None, thresholds=None,
                 max_thresholds: int | None = 256, evaluate=None,
                 executor="inline", workers: int | None = None,
                 max_efforts: int = 2) -> PivotResult:
    """PIVOT Phase 2: effort costs on every arch point, then :func:`search_cascades`.

    ``space`` is a :class:`~sim.search.sweep.space.Space` or a dict of dotted arch keys to
    value lists (e.g. ``{("array.rows", "array.cols"): [32, 48], "array.dataflow":
    ["os", "ws"]}``); ``n_random`` + ``seed`` sample it.  See :func:`search_cascades`
    for the other parameters and :func:`effort_costs` for ``evaluate``.
    """
    _check_args(efforts, lec, acc_drop, objective, baseline, max_thresholds)
    costs = effort_costs(arch, efforts, space, n_random=n_random, seed=seed, mode=mode,
                         evaluate=evaluate, executor=executor, workers=workers)
    res = search_cascades(efforts, costs, lec=lec, acc_drop=acc_drop, objective=objective,
                          baseline=baseline, thresholds=thresholds,
                          max_thresholds=max_thresholds, max_efforts=max_efforts)
    res.settings.update(max_efforts=max_efforts, mode=mode, seed=seed,
                        arch=str(getattr(arch, "name", arch)),
                        dropped_points=costs.attrs.get("dropped", []))
    return res
