"""OPTIN solvers: pick per-layer head counts and MLP widths under a cost-table budget.

A layer keeps its *most important* heads/neurons:

* ``"optin"`` (:func:`select_optin`) -- the paper's SEARCH: for each number k of heads kept
  (global importance order) fill the rest of the budget with neurons in global importance
  order, each at its marginal cost; keep the k with the largest total importance.
* ``"knapsack"`` (:func:`select_knapsack`) -- exact multiple-choice knapsack over the
  per-layer (h_l, m_l) grid by dynamic programming on a discretised budget: with tile steps
  a neuron's marginal cost is 0 inside a fold and large at a fold edge, which a greedy fill
  cannot exploit.

Pure numpy; the tables come from :mod:`sim.search.optin.tables`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.errors import ConfigError
from sim.search.optin.tables import CostTables

__all__ = ["Selection", "select_optin", "select_knapsack", "SOLVERS"]

SOLVERS = ("optin", "knapsack")


@dataclass(frozen=True)
class Selection:
    """Kept units per layer (sorted indices) and what the solver thought of them."""

    heads: tuple           # per layer: tuple of kept head indices
    neurons: tuple         # per layer: tuple of kept neuron indices
    importance: float      # sum of kept importances
    predicted: float       # metric predicted by the cost tables
    solver: str
    info: dict = field(default_factory=dict, compare=False)

    @property
    def head_counts(self):
        return tuple(len(h) for h in self.heads)

    @property
    def widths(self):
        return tuple(len(n) for n in self.neurons)

    def keep_sets(self) -> dict:
        """``{"heads": {layer: [...]}, "neurons": {layer: [...]}}`` (JSON-ready)."""
        return {"heads": {i: list(h) for i, h in enumerate(self.heads)},
                "neurons": {i: list(n) for i, n in enumerate(self.neurons)}}


def _orders(imp):
    """Per-layer index order, most important first (stable for ties)."""
    return np.argsort(-np.asarray(imp, dtype=float), axis=1, kind="stable")


def _prefix(imp, order):
    """``out[l, k]`` = sum of the k most important scores of layer l (out[:, 0] = 0)."""
    s = np.take_along_axis(np.asarray(imp, dtype=float), order, axis=1)
    return np.concatenate([np.zeros((s.shape[0], 1)), np.cumsum(s, axis=1)], axis=1)


def _make_selection(heads_imp, neurons_imp, tables, h, m, solver, info=None):
    ho, no = _orders(heads_imp), _orders(neurons_imp)
    heads = tuple(tuple(sorted(int(x) for x in ho[i, :h[i]])) for i in range(len(h)))
    neurons = tuple(tuple(sorted(int(x) for x in no[i, :m[i]])) for i in range(len(m)))
    rows = np.arange(len(h))
    value = float(_prefix(heads_imp, ho)[rows, h].sum() + _prefix(neurons_imp, no)[rows, m].sum())
    return Selection(heads, neurons, value, tables.predict(np.asarray(h), np.asarray(m)),
                     solver, dict(info or {}))


def _check_inputs(heads_imp, neurons_imp, tables, min_heads, min_neurons):
    heads_imp, neurons_imp = np.asarray(heads_imp, float), np.asarray(neurons_imp, float)
    L, H = tables.attn.shape[0], tables.attn.shape[1] - 1
    M = tables.mlp.shape[1] - 1
    problems = []
    if heads_imp.shape != (L, H):
        problems.append(f"head importances have shape {heads_imp.shape}; need {(L, H)}")
    if neurons_imp.shape != (L, M):
        problems.append(f"neuron importances have shape {neurons_imp.shape}; need {(L, M)}")
    if not 0 <= min_heads <= H:
        problems.append(f"min_heads must be in [0, {H}], not {min_heads}")
    if not 1 <= min_neurons <= M:
        problems.append(f"min_neurons must be in [1, {M}], not {min_neurons}")
    if problems:
        raise ConfigError(problems)
    return heads_imp, neurons_imp


def _marginal(table, counts, order_layers):
    """Marginal cost of adding one unit, walking units in order from ``counts``."""
    c = counts.copy()
    out = np.empty(len(order_layers))
    for j, layer in enumerate(order_layers):
        nxt = c[layer] + 1
        out[j] = table[layer, nxt] - table[layer, c[layer]]
        c[layer] = nxt
    return out


def select_optin(heads_imp, neurons_imp, tables: CostTables, budget: float, *,
                 min_heads: int = 0, min_neurons: int = 1, fill: str = "stop",
                 fill_slack: bool = False) -> Selection:
    """OPTIN's SEARCH with the tables' marginal unit costs.

    For k = 1 ... L*H heads kept in global importance order, fill the remaining budget
    with neurons in global importance order (``fill="stop"``: stop at the first neuron
    that does not fit, as the released code does; ``"skip"``: skip it and go on).  The k
    with the largest kept importance wins.  ``min_heads``/``min_neurons`` per layer are
    kept first (the most important ones).  ``fill_slack`` then adds single units in order
    of importance / marginal cost while they fit (snaps widths up to a fold edge when the
    rest of the fold is free).  ``budget`` is absolute (units of ``tables.metric``).
    """
    heads_imp, neurons_imp = _check_inputs(heads_imp, neurons_imp, tables, min_heads,
                                           min_neurons)
    if fill not in ("stop", "skip"):
        raise ConfigError(f"fill must be 'stop' or 'skip', not {fill!r}")
    if not np.isfinite(tables.mlp[:, 1:]).all():
        raise ConfigError("the optin solver prices single neurons: build the tables with "
                          "width_grid=1 (or use solver='knapsack')")
    L, H = heads_imp.shape
    M = neurons_imp.shape[1]
    ho, no = _orders(heads_imp), _orders(neurons_imp)
    # global orders of the units beyond the forced minimum, as layer ids
    hv = np.take_along_axis(heads_imp, ho, 1)[:, min_heads:]
    nv = np.take_along_axis(neurons_imp, no, 1)[:, min_neurons:]
    h_layers = np.repeat(np.arange(L), H - min_heads)[np.argsort(-hv.ravel(), kind="stable")]
    n_layers = np.repeat(np.arange(L), M - min_neurons)[np.argsort(-nv.ravel(), kind="stable")]
    h_vals = np.sort(hv.ravel(), kind="stable")[::-1]
    n_vals = np.sort(nv.ravel(), kind="stable")[::-1]
    h0 = np.full(L, min_heads)
    m0 = np.full(L, min_neurons)
    rows = np.arange(L)
    n_cost = _marginal(tables.mlp, m0, n_layers)
    n_cum = np.cumsum(n_cost)
    best = None
    h = h0.copy()
    for k in range(len(h_layers) + 1):
        if k:
            h[h_layers[k - 1]] += 1
        if k == 0 and min_heads == 0 and len(h_layers):
            continue  # the released code starts at one head
        spent = tables.base + tables.attn[rows, h].sum() + tables.mlp[rows, m0].sum()
        room = budget - spent
        if room < 0:
            continue
        if fill == "stop":
            over = n_cum > room
            j = int(np.argmax(over)) if over.any() else len(n_cum)
            m = m0 + np.bincount(n_layers[:j], minlength=L)
            value = h_vals[:k].sum() + n_vals[:j].sum()
        else:
            # a neuron that does not fit blocks its layer (the next one costs the same
            # or more at the same count), so the kept neurons stay per-layer prefixes
            m = m0.copy()
            for layer in n_layers:
                c = tables.mlp[layer, m[layer] + 1] - tables.mlp[layer, m[layer]]
                if c <= room:
                    room -= c
                    m[layer] += 1
            value = h_vals[:k].sum() + _prefix_value(nv, m - m0)
        if best is None or value > best[0]:
            best = (value, k, h.copy(), m.copy())
    if best is None:
        floor = tables.base + tables.attn[rows, h0].sum() + tables.mlp[rows, m0].sum()
        raise ConfigError(f"budget {budget:.4g} {tables.metric} is below the cheapest keep-set "
                          f"({floor:.4g})")
    _, k, h, m = best
    if fill_slack:
        h, m = _fill_slack(heads_imp, neurons_imp, tables, budget, h, m)
    return _make_selection(heads_imp, neurons_imp, tables, h, m, "optin",
                           {"heads_kept_k": int(k) + L * min_heads, "fill": fill})


def _prefix_value(sorted_vals, extra):
    return float(sum(sorted_vals[i, :e].sum() for i, e in enumerate(extra)))


def _fill_slack(heads_imp, neurons_imp, tables, budget, h, m):
    """Greedily add the unit with the best importance / marginal cost while it fits."""
    L, H = heads_imp.shape
    M = neurons_imp.shape[1]
    hs = np.take_along_axis(heads_imp, _orders(heads_imp), 1)
    ns = np.take_along_axis(neurons_imp, _orders(neurons_imp), 1)
    h, m = h.copy(), m.copy()
    rows = np.arange(L)
    while True:
        room = budget - tables.predict(h, m)
        best = None
        for layer in rows:
            if h[layer] < H:
                c = tables.attn[layer, h[layer] + 1] - tables.attn[layer, h[layer]]
                best = _better(best, hs[layer, h[layer]], c, room, ("h", layer, 1))
            # a whole step of neurons up to the next priced width
            nxt = m[layer] + 1
            while nxt <= M and not np.isfinite(tables.mlp[layer, nxt]):
                nxt += 1
            if nxt <= M:
                c = tables.mlp[layer, nxt] - tables.mlp[layer, m[layer]]
                v = ns[layer, m[layer]:nxt].sum()
                best = _better(best, v, c, room, ("m", layer, nxt - m[layer]))
        if best is None:
            return h, m
        kind, layer, step = best[1]
        if kind == "h":
            h[layer] += step
        else:
            m[layer] += step


def _better(best, value, cost, room, move):
    if cost > room + 1e-12 * abs(room) or value < 0:
        return best
    ratio = np.inf if cost <= 0 else value / cost
    if best is None or ratio > best[0]:
        return (ratio, move)
    return best


def select_knapsack(heads_imp, neurons_imp, tables: CostTables, budget: float, *,
                    min_heads: int = 0, min_neurons: int = 1, bins: int = 20000) -> Selection:
    """Maximise kept importance subject to the tables' predicted metric <= ``budget``.

    Exact over the per-layer grid of (head count, priced width) when the costs are
    integer multiples of ``tables.quantum`` and the budget spans at most ``bins`` steps of
    their common divisor; otherwise the budget is cut into ``bins`` steps and costs are
    rounded *up*, so the prediction never exceeds the budget.
    """
    heads_imp, neurons_imp = _check_inputs(heads_imp, neurons_imp, tables, min_heads,
                                           min_neurons)
    L, H = heads_imp.shape
    ho, no = _orders(heads_imp), _orders(neurons_imp)
    hp, npre = _prefix(heads_imp, ho), _prefix(neurons_imp, no)
    groups = []  # (counts, weights, values)
    for layer in range(L):
        hc = np.arange(min_heads, H + 1)
        groups.append((hc, tables.attn[layer, hc], hp[layer, hc]))
        w = tables.mlp[layer]
        mc = np.flatnonzero(np.isfinite(w))
        mc = mc[mc >= min_neurons]
        if not len(mc):
            mc = np.array([w.shape[0] - 1])
        groups.append((mc, w[mc], npre[layer, mc]))
    floor = sum(float(g[1].min()) for g in groups)
    cap = budget - tables.base - floor
    if cap < 0:
        raise ConfigError(f"budget {budget:.4g} {tables.metric} is below the cheapest keep-set "
                          f"({tables.base + floor:.4g})")
    unit, exact = _unit(groups, tables.quantum, cap, bins)
    bins = int(np.floor(cap / unit + 1e-9)) if exact else bins
    neg = -np.inf
    dp = np.zeros(bins + 1)
    choices = []
    for counts, w, v in groups:
        scaled = (w - w.min()) / unit
        wi = (np.round(scaled) if exact else np.ceil(scaled - 1e-9)).astype(np.int64)
        ok = wi <= bins
        counts, wi, v = counts[ok], wi[ok], v[ok]
        cand = np.full((len(counts), bins + 1), neg)
        for c in range(len(counts)):
            cand[c, wi[c]:] = dp[: bins + 1 - wi[c]] + v[c]
        arg = np.argmax(cand, axis=0)
        dp = cand[arg, np.arange(bins + 1)]
        choices.append((counts, wi, arg))
    # backtrack from the best reachable cell
    b = int(np.argmax(dp))
    picks = []
    for counts, wi, arg in reversed(choices):
        c = arg[b]
        picks.append(int(counts[c]))
        b -= int(wi[c])
    picks.reverse()
    h = np.array(picks[0::2])
    m = np.array(picks[1::2])
    return _make_selection(heads_imp, neurons_imp, tables, h, m, "knapsack",
                           {"bins": bins, "exact": exact})


def _unit(groups, quantum, cap, bins):
    """Budget step of the DP: ``(unit, exact)``.

    Exact when every cost is an integer multiple of ``quantum`` and the budget spans at
    most ``bins`` steps of the costs' common divisor; else ``cap / bins`` with costs
    rounded up.
    """
    if quantum and cap > 0:
        w = np.concatenate([g[1] - g[1].min() for g in groups]) / quantum
        wi = np.round(w)
        if np.allclose(w, wi, rtol=0, atol=1e-6):
            g = int(np.gcd.reduce(wi.astype(np.int64))) or 1
            unit = g * quantum
            if cap / unit <= bins:
                return unit, True
    return (cap / bins if cap > 0 else 1.0), False
