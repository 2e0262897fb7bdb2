"""Pareto fronts of sweep results (pure functions, no plotting)."""

from __future__ import annotations

import numpy as np

from sim.errors import ConfigError

__all__ = ["pareto_front"]


def pareto_front(df, cols, maximize=()) -> np.ndarray:
    """Mask of the rows on the Pareto front of ``cols`` (all minimised by default).

    A row is on the front when no other row is at least as good in every column and
    strictly better in one.  Rows with a NaN in ``cols`` (infeasible points) or
    ``feasible == False`` are never on the front.  Equal rows are all kept.

    Parameters
    ----------
    df : pandas.DataFrame
        Sweep results.
    cols : list of str or str
        Objective columns, e.g. ``["latency_s", "energy_j"]`` (or ``"latency_s,energy_j"``).
    maximize : iterable of str
        Columns where larger is better (e.g. ``"utilization"``).

    Returns
    -------
    numpy.ndarray of bool
        ``len(df)`` entries, True on the front.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"lat": [1, 2, 3, 2], "e": [3, 1, 2, 3]})
    >>> pareto_front(df, ["lat", "e"]).tolist()
    [True, True, False, False]
    """
    if isinstance(cols, str):
        cols = [c.strip() for c in cols.split(",") if c.strip()]
    missing = [c for c in cols if c not in df]
    if not cols or missing:
        raise ConfigError(f"pareto columns must be result columns, not {missing or cols}; "
                          f"columns are {list(df.columns)}")
    maximize = set(maximize)
    pts = np.column_stack([
        (-1.0 if c in maximize else 1.0) * df[c].to_numpy(dtype=float, na_value=np.nan)
        for c in cols])
    ok = ~np.isnan(pts).any(axis=1)
    if "feasible" in df:
        ok &= df["feasible"].to_numpy(dtype=bool, na_value=False)
    idx = np.flatnonzero(ok)
    front = np.zeros(len(df), dtype=bool)
    if idx.size == 0:
        return front
    cand = pts[idx]
    # Sort lexicographically: a row can only be dominated by rows before it.
    order = np.lexsort(cand.T[::-1])
    cand, idx = cand[order], idx[order]
    kept = []  # indices into cand of the front so far
    for i in range(len(cand)):
        p = cand[i]
        if kept:
            f = cand[kept]
            dominated = np.all(f <= p, axis=1) & np.any(f < p, axis=1)
            if dominated.any():
                continue
        kept.append(i)
    front[idx[kept]] = True
    return front
