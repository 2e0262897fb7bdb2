"""Three-effort PIVOT cascades: exit fractions, accuracy and cumulative cost.

An input exits at the low effort when ``H_low <= t1``, else at the middle effort when
``H_mid <= t2``, else it runs the high effort; it pays for every effort it ran.  Used by
:func:`sim.search.pivot.phase2.search_cascades` with ``max_efforts=3``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["cascade3_curve"]


def cascade3_curve(entropy_low, correct_low, entropy_mid, correct_mid, correct_high,
                   thresholds_low, thresholds_mid) -> pd.DataFrame:
    """Exit fractions and accuracy of a three-effort cascade for every threshold pair.

    An input exits at the low effort when ``entropy_low <= t1``, else at the middle effort
    when ``entropy_mid <= t2``, else it is classified by the high effort.

    Returns
    -------
    DataFrame with ``threshold, threshold2, n_low, n_mid, f_low, f_mid, f_high, n_correct,
    accuracy`` (t1-major order).
    """
    hl = np.asarray(entropy_low, dtype=np.float64)
    hm = np.asarray(entropy_mid, dtype=np.float64)
    cl, cm, ch = (np.asarray(c, dtype=bool) for c in (correct_low, correct_mid, correct_high))
    t1 = np.asarray(thresholds_low, dtype=np.float64)
    t2 = np.asarray(thresholds_mid, dtype=np.float64)
    n = hl.size
    low = hl[None, :] <= t1[:, None]                                  # (T1, N)
    mid = (~low)[:, None, :] & (hm[None, None, :] <= t2[None, :, None])  # (T1, T2, N)
    high = ~low[:, None, :] & ~mid
    n_low = np.broadcast_to(low.sum(1)[:, None], mid.shape[:2])
    n_mid = mid.sum(2)
    correct = ((low & cl).sum(1)[:, None] + (mid & cm).sum(2) + (high & ch).sum(2))
    T1, T2 = mid.shape[:2]
    return pd.DataFrame({
        "threshold": np.repeat(t1, T2), "threshold2": np.tile(t2, T1),
        "n_low": n_low.ravel(), "n_mid": n_mid.ravel(),
        "f_low": n_low.ravel() / n, "f_mid": n_mid.ravel() / n,
        "f_high": (n - n_low - n_mid).ravel() / n,
        "n_correct": correct.ravel(), "accuracy": correct.ravel() / n})


def _grid(values, k):
    """At most ``k`` thresholds: quantiles of ``values`` (distinct, ascending)."""
    u = np.unique(np.asarray(values, dtype=np.float64))
    if u.size <= k:
        return u
    return np.unique(np.quantile(u, np.linspace(0.0, 1.0, k)))


def _rows3(objective, low, mid, high, by_name, curve, pid, e_tab, d_tab):
    """Rows of one three-effort cascade on every arch point (cumulative cost)."""
    fl = curve["f_low"].to_numpy()[:, None]
    fm = curve["f_mid"].to_numpy()[:, None]
    fh = curve["f_high"].to_numpy()[:, None]
    el, em, eh = (e_tab[x].to_numpy()[None] for x in (low, mid, high))
    dl, dm, dh = (d_tab[x].to_numpy()[None] for x in (low, mid, high))
    energy = el + (1 - fl) * em + fh * eh
    delay = dl + (1 - fl) * dm + fh * dh
    if objective == "expected":
        edp = energy * delay
    else:
        edp = fl * el * dl + fm * (el + em) * (dl + dm) + fh * (el + em + eh) * (dl + dm + dh)
    t, a = len(curve), len(pid)

    def rep(col):
        return np.repeat(curve[col].to_numpy(), a)

    return pd.DataFrame({
        "point_id": np.tile(pid, t), "low": low, "mid": mid, "high": high,
        "kept_low": by_name[low].kept, "kept_mid": by_name[mid].kept,
        "kept_high": by_name[high].kept, "threshold": rep("threshold"),
        "threshold2": rep("threshold2"), "n_low": rep("n_low"), "n_mid": rep("n_mid"),
        "f_low": rep("f_low"), "f_mid": rep("f_mid"), "accuracy": rep("accuracy"),
        "n_correct": rep("n_correct"), "energy_j": energy.ravel(),
        "latency_s": delay.ravel(), "edp_per_inference_js": edp.ravel()})
