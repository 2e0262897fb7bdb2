"""PIVOT Phase 1 path selection from per-encoder redundancy (numpy only).

The redundancy ``r_j = CKA(MLP_{j-1}, A_j)`` comes from :func:`sim.torch.cka.cka_matrix`
(torch) or any other source.  A path skipping the set ``S`` scores
``S(path) = sum_{j in S} r_j`` (``aggregate="mean"`` divides by ``|S|``); with an additive
score the best path of an effort is the top-``s`` encoders by ``r_j``, no search.  Encoder 0
has no ``MLP_{-1}``: by default it is never skipped (PIVOT's code cannot skip it);
``encoder0="embed"`` scores it against the patch-embedding output instead.
"""

from __future__ import annotations

import math

import numpy as np

from sim.errors import ConfigError

__all__ = ["redundancy", "path_score", "best_paths", "random_paths"]


def redundancy(cka: dict, encoder0: str = "never") -> np.ndarray:
    """Per-encoder redundancy ``r_j = CKA(MLP_{j-1}, A_j)``; ``r_0`` is NaN
    (``encoder0="never"``: cannot be skipped) or ``CKA(embed, A_0)`` (``"embed"``)."""
    if encoder0 not in ("never", "embed"):
        raise ConfigError(f"encoder0 must be 'never' or 'embed', not {encoder0!r}")
    m = cka["matrix"]
    r = np.full(m.shape[1], np.nan)
    r[1:] = np.diagonal(m, offset=1)
    if encoder0 == "embed":
        r[0] = cka["embed"][0]
    return r


def path_score(r, skip, aggregate: str = "sum") -> float:
    """Path-Score of skipping the encoders ``skip`` (higher = better path)."""
    r = np.asarray(r, dtype=float)
    skip = list(skip)
    if aggregate not in ("sum", "mean"):
        raise ConfigError(f"aggregate must be 'sum' or 'mean', not {aggregate!r}")
    bad = [j for j in skip if not 0 <= j < len(r) or np.isnan(r[j])]
    if bad:
        raise ConfigError(f"cannot score skipping encoder(s) {bad}: out of range or not "
                          "skippable (encoder 0 without encoder0='embed')")
    if not skip:
        return 0.0
    s = float(r[skip].sum())
    return s / len(skip) if aggregate == "mean" else s


def _skippable(r):
    return [j for j in range(len(r)) if not np.isnan(r[j])]


def _n_skip(r, kept):
    depth = len(r)
    can = len(_skippable(r))
    if not isinstance(kept, (int, np.integer)) or not depth - can <= kept <= depth:
        raise ConfigError(f"effort kept = {kept!r}; must be an integer in "
                          f"[{depth - can}, {depth}] (attentions kept of {depth}; "
                          f"{depth - can} cannot be skipped)")
    return depth - int(kept)


def best_paths(r, kept_counts) -> dict:
    """Phase 1: for each effort (attentions kept), the skip set with the best additive
    Path-Score: the ``depth - kept`` skippable encoders with the highest ``r_j`` (ties: lower
    index first).  Returns ``{kept: sorted skip tuple}``."""
    r = np.asarray(r, dtype=float)
    can = _skippable(r)
    order = sorted(can, key=lambda j: (-r[j], j))
    return {int(k): tuple(sorted(order[:_n_skip(r, k)])) for k in kept_counts}


def random_paths(r, kept: int, n: int, seed: int = 0) -> list:
    """Up to ``n`` distinct random skip sets of one effort (seeded; skippable encoders)."""
    r = np.asarray(r, dtype=float)
    s, can = _n_skip(r, kept), _skippable(r)
    total = math.comb(len(can), s)
    rng = np.random.default_rng(seed)
    out, seen = [], set()
    while len(out) < min(n, total):
        pick = tuple(sorted(int(j) for j in rng.choice(can, s, replace=False)))
        if pick not in seen:
            seen.add(pick)
            out.append(pick)
    return out
