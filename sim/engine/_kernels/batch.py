"""Numba kernel of the batched evaluator: the memory walk of many designs in one call.

Reuses :func:`sim.engine._kernels.memory._walk_one` unchanged, once per (design, GEMM).
"""

from __future__ import annotations

import numpy as np

from sim.engine._kernels import jit
from sim.engine._kernels.memory import _walk_one


@jit
def memory_walk_points(m, n, k, params, max_folds, out_i):
    """Walk every GEMM ``(m[u], n[u], k[u])`` on every design ``params[q]``.

    ``params`` is float64 ``(Q, N_PARAMS)`` (one row per design, layout of
    :mod:`sim.engine._kernels.memory`); ``max_folds`` bounds the folds of any pair.
    ``out_i`` is int64 ``(Q, U, 6)``: stall, fill, drain cycles and DRAM ifmap-read,
    filter-read, ofmap-write bytes per GEMM instance.
    """
    diff = np.zeros(max_folds + 1)
    no_starts = np.zeros(0, dtype=np.int64)
    no_events = np.zeros((0, 5), dtype=np.int64)
    for q in range(params.shape[0]):
        p = params[q]
        for u in range(m.shape[0]):
            res = _walk_one(m[u], n[u], k[u], p, diff, no_starts, no_events)
            out_i[q, u, 0] = res[0]
            out_i[q, u, 1] = res[1]
            out_i[q, u, 2] = res[2]
            out_i[q, u, 3] = res[3]
            out_i[q, u, 4] = res[4]
            out_i[q, u, 5] = res[5]
