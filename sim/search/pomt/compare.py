"""POMT vs Top-K (EViT) vs ToMe at matched token budgets, bookkeeping ops costed.

Token budget (the matching rule): the **mean tokens per block**, where a block counts
``(tokens entering + tokens leaving) / 2`` -- its attention runs on the tokens entering,
its MLP on the tokens leaving (pruning happens between the two).  This is total
token-layers divided by depth, with each block split half attention, half MLP.

* POMT: one prune-and-merge inside block ``prune_layer`` (default 3).
* Top-K (EViT): keep ``P + ceil(keep_rate * (n - P))`` tokens inside blocks 3, 6, 9
  (**0-based**, EViT's 4th, 7th and 10th blocks), P prefix tokens; the keep rate is
  searched on a 0.001 grid to match the budget.
* ToMe: merge ``r`` tokens in every block (``sim.tome_trace``); r is the integer whose
  budget is closest.

Each method's own ops (score, select, gather, merge; ToMe's similarity GEMM) are in the
lowered trace, so their cost is in the simulated latency; ``overhead_cycles`` reports it.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from sim.api import simulate
from sim.config import as_arch
from sim.errors import ConfigError
from sim.search.pomt.schedule import DEFAULT_PRUNE_LAYER, deployed_trace
from sim.search.simulator import summary_of
from sim.workload import as_trace, prune_tokens, tome_trace

__all__ = [
    "mean_tokens", "topk_trace", "match_topk", "match_tome", "match_pomt", "compare",
    "EVIT_LAYERS", "PRUNE_OP_PREFIXES", "summary_with_overhead",
]

#: EViT's pruning blocks, 0-based (its paper's 4th, 7th and 10th blocks).
EVIT_LAYERS = (3, 6, 9)
#: Lowered op-name prefixes of the pruning bookkeeping ops (see sim.workload.lower).
PRUNE_OP_PREFIXES = ("topk_", "tome_", "pomt_")


def _mean(seq_in, seq_out) -> float:
    return float(np.mean((np.asarray(seq_in) + np.asarray(seq_out)) / 2))


def mean_tokens(trace) -> float:
    """Mean tokens per block: ``mean((tokens entering + tokens leaving) / 2)``."""
    return _mean([lt.tokens for lt in trace.layers], [lt.tokens_after for lt in trace.layers])


def _topk_seq(n0, depth, prefix, rate, layers):
    ins, outs, n = [], [], n0
    for i in range(depth):
        ins.append(n)
        if i in layers:
            n = min(n, prefix + max(1, math.ceil(rate * (n - prefix))))
        outs.append(n)
    return ins, outs


def _tome_seq(n0, depth, prefix, r):
    ins, outs, n = [], [], n0
    for _ in range(depth):
        ins.append(n)
        n -= min(r, (n - prefix) // 2)
        outs.append(n)
    return ins, outs


def topk_trace(trace, keep_rate: float, layers=EVIT_LAYERS):
    """EViT-style Top-K: keep ``P + ceil(keep_rate * (n - P))`` tokens inside ``layers``."""
    if not 0 < keep_rate <= 1:
        raise ConfigError(f"keep_rate must be in (0, 1], not {keep_rate!r}")
    spec = trace.model
    _, outs = _topk_seq(trace.layers[0].tokens, spec.depth, spec.prefix_tokens, keep_rate,
                        set(layers))
    for layer in sorted(layers):
        if outs[layer] < trace.layers[layer].tokens:
            trace = prune_tokens(trace, layer, outs[layer], "topk")
    return trace


def match_topk(trace, budget: float, layers=EVIT_LAYERS) -> float:
    """EViT keep rate (0.001 grid) whose mean tokens per block is closest to ``budget``."""
    spec, layers = trace.model, set(layers)
    rates = np.round(np.arange(1000, 0, -1) / 1000, 3)
    means = np.array([_mean(*_topk_seq(trace.layers[0].tokens, spec.depth, spec.prefix_tokens,
                                       r, layers)) for r in rates])
    return float(rates[int(np.argmin(np.abs(means - budget)))])


def match_tome(trace, budget: float) -> int:
    """ToMe r (tokens merged per block) whose mean tokens per block is closest to ``budget``."""
    spec = trace.model
    n0 = trace.layers[0].tokens
    rs = np.arange(0, (n0 - spec.prefix_tokens) // 2 + 1)
    means = np.array([_mean(*_tome_seq(n0, spec.depth, spec.prefix_tokens, int(r)))
                      for r in rs])
    return int(rs[int(np.argmin(np.abs(means - budget)))])


def match_pomt(trace, budget: float, prune_layer: int = DEFAULT_PRUNE_LAYER) -> int:
    """Tokens kept by one prune-and-merge in ``prune_layer`` closest to ``budget``."""
    spec = trace.model
    n_in = trace.layers[prune_layer].tokens
    ns = np.arange(spec.prefix_tokens + 1, n_in + 1)
    base = [lt.tokens for lt in trace.layers]
    means = []
    for n in ns:
        outs = [b if i < prune_layer else int(n) for i, b in enumerate(base)]
        ins = [b if i <= prune_layer else int(n) for i, b in enumerate(base)]
        means.append(_mean(ins, outs))
    return int(ns[int(np.argmin(np.abs(np.array(means) - budget)))])


def summary_with_overhead(arch, trace, mode: str = "analytic") -> dict:
    """:func:`compare`'s default evaluator: the simulator's summary plus ``overhead_cycles``
    (cycles of the pruning bookkeeping ops, :data:`PRUNE_OP_PREFIXES`)."""
    rep = simulate(arch, trace, mode=mode)
    ops = rep.ops
    prune = ops["op"].str.startswith(PRUNE_OP_PREFIXES)
    return {**rep.summary, "overhead_cycles": int(ops.loc[prune, "total_cycles"].sum())}


def _run(evaluate, arch, trace):
    s = summary_of(evaluate(arch, trace))
    return {"latency_s": s["latency_s"], "cycles": s["cycles"],
            "energy_j": s.get("energy_j", np.nan),
            "edp_per_inference_js": s.get("edp_per_inference_js", np.nan),
            "overhead_cycles": s.get("overhead_cycles", np.nan),
            "mean_tokens": mean_tokens(trace)}


def compare(arch, trace, *, budgets=None, tokens_keep=None, batch=None,
            prune_layer: int = DEFAULT_PRUNE_LAYER, mode: str = "analytic", evaluate=None):
    """POMT vs Top-K vs ToMe (and no pruning) at matched mean-token budgets.

    Parameters
    ----------
    arch, trace, batch
        As :func:`sim.search.pomt.latency_curve`.
    budgets : dict of {label: mean tokens per block}, optional
        Budgets to match.  ``tokens_keep`` (a POMT schedule's kept tokens at
        ``prune_layer``) adds the budget ``"pomt"``: that schedule's own.
    mode : str
        Simulator mode of the default evaluator.
    evaluate : callable, optional
        ``evaluate(arch, trace) -> summary dict``; default :func:`summary_with_overhead`
        in ``mode``.  ``overhead_cycles`` is NaN when its summary has no such key.

    Returns
    -------
    pandas.DataFrame
        One row per (budget, method): ``budget``, ``target_tokens``, ``method``
        (``none|pomt|topk|tome``), ``setting``, ``mean_tokens``, ``latency_s``,
        ``speedup`` (baseline / method), ``energy_j``, ``edp_per_inference_js``, ``edp_ratio``
        (method / baseline), ``overhead_cycles`` (the pruning ops), ``slower`` (True
        when the method is slower than no pruning).
    """
    import pandas as pd

    arch, trace = as_arch(arch), as_trace(trace, batch)
    budgets = dict(budgets or {})
    if tokens_keep is not None:
        budgets = {"pomt": mean_tokens(deployed_trace(trace, prune_layer, tokens_keep)),
                   **budgets}
    if not budgets:
        raise ConfigError("compare needs budgets or tokens_keep")
    if evaluate is None:
        evaluate = functools.partial(summary_with_overhead, mode=mode)
    base = _run(evaluate, arch, trace)
    rows = []
    for label, target in budgets.items():
        n = match_pomt(trace, target, prune_layer)
        rate = match_topk(trace, target)
        r = match_tome(trace, target)
        cases = [
            ("none", "-", trace),
            ("pomt", f"R={trace.layers[prune_layer].tokens - n} @ block {prune_layer}",
             deployed_trace(trace, prune_layer, n)),
            ("topk", f"keep {rate:.3f} @ blocks {','.join(map(str, EVIT_LAYERS))}",
             topk_trace(trace, rate)),
            ("tome", f"r={r}", tome_trace(trace, r) if r else trace),
        ]
        for method, setting, t in cases:
            res = base if method == "none" else _run(evaluate, arch, t)
            rows.append({"budget": label, "target_tokens": float(target), "method": method,
                         "setting": setting, **res})
    df = pd.DataFrame(rows)
    df["speedup"] = base["latency_s"] / df["latency_s"]
    df["edp_ratio"] = df["edp_per_inference_js"] / base["edp_per_inference_js"]
    df["slower"] = df["latency_s"] > base["latency_s"]
    df.attrs.update({"arch": arch.name, "model": trace.model.name, "batch": trace.batch})
    return df
