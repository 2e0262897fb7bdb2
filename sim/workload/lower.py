"""Lower a ViT trace to ops: GEMMs for the array, element-wise ops for the vector unit.

Per block with n tokens, batch b, embed d, h' active heads of width dh, MLP width m'
(GEMMs as ``(M, N, K)`` for ``out[M,N] = A[M,K] @ B[K,N]``):

===========  ======  =====================================  =====================
op           kind    shape                                  count
===========  ======  =====================================  =====================
ln1          vector  layernorm, b*n*d elements
qkv          gemm    (b*n, 3*h'*dh, d)                      1
qk           gemm    (n, n, dh)                             h'*b
softmax      vector  softmax, h'*b*n*n
sv           gemm    (n, dh, n)                             h'*b
proj         gemm    (b*n, d, h'*dh)                        1
add1         vector  add, b*n*d
(prune ops, see below; the MLP then runs on n' = tokens_out)
ln2          vector  layernorm, b*n'*d
fc1          gemm    (b*n', m', d)                          1
gelu         vector  gelu, b*n'*m'
fc2          gemm    (b*n', d, m')                          1
add2         vector  add, b*n'*d
===========  ======  =====================================  =====================

A skipped attention removes ln1..add1.  Pruning ops (n -> n', P prefix tokens):

* topk (EViT):  score (CLS-attention row, b*h'*n), select (top-k, b*(n-P)),
  gather (b*n'*d).
* pomt:         score (sum_i max_h A and max_h V, b*h'*n*(n+dh)), select (b*(n-P)),
  gather (b*n'*d), merge (average of the n-n'+1 dropped tokens, b*(n-n'+1)*d).
* tome:         metric (keys averaged over heads, b*h'*n*dh), sim GEMM
  (ceil(n/2), floor(n/2), dh) x b, match (row argmax + sort, b*ceil(n/2)*(floor(n/2)+1)),
  merge (size-weighted average, b*n*d).

Patch embedding is a GEMM (b*P, d, c*p*p) plus the positional add; the classifier is the
final layernorm and a GEMM (b, classes, d).  Identical GEMMs are one op with ``count``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sim.errors import TraceError
from sim.workload.trace import Trace

__all__ = ["Ops", "lower", "VECTOR_OPS", "EMBED_LAYER", "INT64_MAX"]

#: Largest value an int64 column holds.
INT64_MAX = 2**63 - 1

#: Vector op kinds; each has a per-element cost in ``arch.vector.cost``.
VECTOR_OPS = ("softmax", "layernorm", "gelu", "add", "score", "topk", "gather", "merge")
#: ``layer`` value of the patch embedding; the classifier head is ``depth``.
EMBED_LAYER = -1


@dataclass(frozen=True)
class Ops:
    """Lowered ops as parallel arrays (one entry per op, in execution order).

    ``kind`` is ``"gemm"`` or ``"vector"``; GEMMs use ``m, n, k, count`` and have
    ``vop == ""``; vector ops use ``vop`` (one of :data:`VECTOR_OPS`) and ``elements``.
    """

    layer: np.ndarray      # int64
    op: tuple              # str names: "qkv", "softmax", ...
    kind: tuple            # "gemm" | "vector"
    vop: tuple             # vector op kind or ""
    m: np.ndarray          # int64, GEMM rows of the output
    n: np.ndarray          # int64, GEMM columns of the output
    k: np.ndarray          # int64, reduction length
    count: np.ndarray      # int64, identical GEMM instances
    elements: np.ndarray   # int64, vector-op elements

    @property
    def is_gemm(self) -> np.ndarray:
        """Boolean mask of GEMM ops."""
        return self.m > 0

    def __len__(self):
        return len(self.op)


def _block(rows, i, lt, spec, b):
    d, dh, P = spec.embed_dim, spec.head_dim, spec.prefix_tokens
    n = lt.tokens
    h = len(lt.heads)

    def gemm(name, m, nn, k, count=1):
        rows.append((i, name, "gemm", "", m, nn, k, count, 0))

    def vec(name, vop, elements):
        rows.append((i, name, "vector", vop, 0, 0, 0, 1, elements))

    if lt.attention:
        vec("ln1", "layernorm", b * n * d)
        gemm("qkv", b * n, 3 * h * dh, d)
        gemm("qk", n, n, dh, h * b)
        vec("softmax", "softmax", h * b * n * n)
        gemm("sv", n, dh, n, h * b)
        gemm("proj", b * n, d, h * dh)
        vec("add1", "add", b * n * d)
    n2 = lt.tokens_after
    if lt.prune is not None:
        method = lt.prune.method
        if method == "tome":
            half_a, half_b = -(-n // 2), n // 2
            vec("tome_metric", "score", b * h * n * dh)
            gemm("tome_sim", half_a, half_b, dh, b)
            vec("tome_match", "topk", b * half_a * (half_b + 1))
            vec("tome_merge", "merge", b * n * d)
        else:
            score = b * h * n * (n + dh) if method == "pomt" else b * h * n
            vec(f"{method}_score", "score", score)
            vec(f"{method}_select", "topk", b * max(n - P, 0))
            vec(f"{method}_gather", "gather", b * n2 * d)
            if method == "pomt":
                vec("pomt_merge", "merge", b * (n - n2 + 1) * d)
    vec("ln2", "layernorm", b * n2 * d)
    gemm("fc1", b * n2, lt.mlp_hidden, d)
    vec("gelu", "gelu", b * n2 * lt.mlp_hidden)
    gemm("fc2", b * n2, d, lt.mlp_hidden)
    vec("add2", "add", b * n2 * d)


def _check_int64(trace: Trace, rows) -> None:
    """Refuse ops whose sizes (exact Python ints) do not fit the int64 columns."""
    names = ("m", "n", "k", "count", "elements")
    for row in rows:
        for name, value in zip(names, row[4:]):
            if value > INT64_MAX:
                raise TraceError(
                    f"trace {trace.name!r} (batch {trace.batch}): op {row[1]!r} of layer "
                    f"{row[0]} has {name} = {value}, which exceeds 2^63 - 1; use a smaller "
                    f"batch or model")


@lru_cache(maxsize=512)
def lower(trace: Trace) -> Ops:
    """Lower ``trace`` to :class:`Ops` (cached: traces are immutable); a v2
    :class:`~sim.workload.ops_trace.OpsTrace` already is an op list."""
    if not isinstance(trace, Trace):
        from sim.workload.ops_trace import lower_ops_trace

        return lower_ops_trace(trace)
    spec, b = trace.model, trace.batch
    d = spec.embed_dim
    rows = [
        (EMBED_LAYER, "patch_embed", "gemm", "", b * spec.num_patches, d,
         spec.in_chans * spec.patch_size ** 2, 1, 0),
        (EMBED_LAYER, "pos_add", "vector", "add", 0, 0, 0, 1, b * spec.tokens * d),
    ]
    n0 = trace.layers[0].tokens
    if n0 < spec.tokens:  # tokens dropped at the input (e.g. POMT's offline grid)
        rows.append((EMBED_LAYER, "input_gather", "vector", "gather", 0, 0, 0, 1, b * n0 * d))
    for lt in trace.layers:
        _block(rows, lt.index, lt, spec, b)
    head = spec.depth
    rows.append((head, "norm", "vector", "layernorm", 0, 0, 0, 1,
                 b * trace.layers[-1].tokens_after * d))
    if spec.num_classes:
        rows.append((head, "head", "gemm", "", b, spec.num_classes, d, 1, 0))
    _check_int64(trace, rows)
    cols = list(zip(*rows))
    as_int = lambda c: np.asarray(c, dtype=np.int64)  # noqa: E731
    return Ops(layer=as_int(cols[0]), op=cols[1], kind=cols[2], vop=cols[3],
               m=as_int(cols[4]), n=as_int(cols[5]), k=as_int(cols[6]),
               count=as_int(cols[7]), elements=as_int(cols[8]))
