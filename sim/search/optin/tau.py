"""OPTIN's τ configuration: heads/neurons take a share of the reduction, tokens the rest.

1. The share ``s`` of the reduction ``(1 - C) * base`` assigned to heads and neurons is drawn
   from U(0.15, 0.30) with ``seed`` (OPTIN's vision default) unless given.
2. Heads and neurons: :func:`~sim.search.optin.prune.optin_search` at the budget fraction
   ``1 - s (1 - C)``.
3. Tokens: walk the global token ranking (``tokens[L, N]``, higher = keep; block 0 and
   prefix positions are never removed) from the least important entry; the first ``m``
   entries give raw per-layer counts, made nested and non-increasing by :func:`counts_of`
   (a layer keeping at least the previous count, or at most 10% of the tokens, inherits
   the previous count; a step merges at most half of the non-prefix tokens, ToMe's
   bipartite limit).  Along the walk, the first count vector whose *evaluated* metric
   (ToMe merges in the trace, so their cost is included) meets ``C * base`` is taken
   (strided scan of the distinct vectors, then a linear refinement); when none does, the
   cheapest one seen.

At run time only the counts are used: ToMe merges to them (``sim.torch.tokens``).
Torch-free.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from sim.config import as_arch
from sim.errors import ConfigError
from sim.search.optin.prune import OptinResult, optin_search
from sim.search.optin.tables import parse_budget
from sim.search.simulator import default_evaluate, summary_of
from sim.workload.trace import PruneEvent, Trace

__all__ = ["TauResult", "counts_of", "with_counts", "tau_search"]


def counts_of(order, m: int, n_full: int, prefix: int, depth: int) -> list[int]:
    """Tokens entering each block after removing the first ``m`` entries of ``order``.

    ``order`` is a sequence of ``(layer, position)`` from the least important."""
    removed = np.zeros(depth, dtype=int)
    for layer, _ in order[:m]:
        removed[layer] += 1
    counts = [n_full]
    floor = max(prefix + 1, int(np.ceil(0.10 * n_full)))
    for layer in range(1, depth):
        prev = counts[-1]
        raw = n_full - int(removed[layer])
        k = prev if raw >= prev or raw <= floor else raw
        k = max(k, prev - (prev - prefix) // 2)  # ToMe merges at most half per step
        counts.append(k)
    return counts


def with_counts(trace: Trace, counts) -> Trace:
    """``trace`` with ``counts[l]`` tokens entering block ``l`` (a ToMe merge in block
    ``l - 1`` where the count drops)."""
    lts = []
    for i, lt in enumerate(trace.layers):
        nxt = counts[i + 1] if i + 1 < len(counts) else counts[i]
        prune = PruneEvent("tome", nxt) if nxt < counts[i] else None
        if prune is not None and not lt.attention:
            raise ConfigError(f"block {i} skips its attention; ToMe cannot merge there")
        lts.append(dataclasses.replace(lt, tokens=counts[i], prune=prune))
    return trace.replace_layers(lts, name=f"{trace.name}_tau")


@dataclass
class TauResult:
    """The τ result: heads/neurons (:class:`OptinResult` at the share's budget) + counts."""

    share: float
    hn: OptinResult
    counts: list
    removed_entries: int
    trace: Trace
    summary: dict
    achieved: float
    fraction: float = 1.0  # the overall budget fraction C

    def to_dict(self) -> dict:
        d = self.hn.to_dict()
        s = self.summary
        d.update(config="tau", tau_share=self.share, token_counts=list(self.counts),
                 removed_token_entries=self.removed_entries, achieved_fraction=self.achieved,
                 latency_s=s["latency_s"], cycles=s["cycles"], macs=s["macs"],
                 energy_j=s.get("energy_j"),
                 edp_per_inference_js=s.get("edp_per_inference_js"),
                 hn_fraction=self.hn.achieved,
                 budget=str(dataclasses.replace(self.hn.budget, fraction=self.fraction)),
                 budget_met=bool(self.achieved <= self.fraction * (1 + 1e-9)))
        return d


def tau_search(heads_imp, neurons_imp, tokens_imp, arch, trace: Trace, budget, *,
               share: float | None = None, seed: int = 0, mode: str = "analytic",
               evaluate=None, **optin_kw) -> TauResult:
    """OPTIN τ: see the module docstring.  ``optin_kw`` go to :func:`optin_search`
    (``min_heads`` is raised to 1: ToMe needs each block's attention keys)."""
    evaluate = default_evaluate(evaluate, mode)
    arch = as_arch(arch)
    budget = parse_budget(budget)
    if share is None:
        share = float(np.random.default_rng(seed).uniform(0.15, 0.30))
    if not 0.0 < share <= 1.0:
        raise ConfigError(f"tau share = {share!r}; must be in (0, 1]")
    tok = np.asarray(tokens_imp, dtype=float)
    depth, prefix = len(trace.layers), trace.model.prefix_tokens
    n_full = trace.layers[0].tokens
    if tok.shape != (depth, n_full):
        raise ConfigError(f"token importance shape = {tok.shape}; must be ({depth}, "
                          f"{n_full})")
    hn_fraction = 1.0 - share * (1.0 - budget.fraction)
    hn_budget = dataclasses.replace(budget, fraction=hn_fraction)
    optin_kw["min_heads"] = max(1, optin_kw.get("min_heads", 0))
    hn = optin_search(heads_imp, neurons_imp, arch, trace, hn_budget, mode=mode,
                      evaluate=evaluate, **optin_kw)
    base = hn.tables.base
    target = budget.fraction * base
    entries = [(layer, pos) for layer in range(1, depth) for pos in range(prefix, n_full)]
    order = sorted(entries, key=lambda e: (tok[e], e))

    def cost(m):
        counts = counts_of(order, m, n_full, prefix, depth)
        t = with_counts(hn.trace, counts)
        s = summary_of(evaluate(arch, t))
        return s[budget.metric], counts, t, s

    # distinct count vectors along the walk, in order; the first one that meets the budget
    seen, walk = set(), []
    for m in range(len(order) + 1):
        c = tuple(counts_of(order, m, n_full, prefix, depth))
        if c not in seen:
            seen.add(c)
            walk.append(m)
    stride = max(1, len(walk) // 32)
    best, m = None, walk[-1]
    prev = 0
    for k in list(range(0, len(walk), stride)) + [len(walk) - 1]:
        c = cost(walk[k])
        if c[0] <= target:  # refine inside the last stride (the walk is not monotone)
            for j in range(prev + 1, k):
                cj = cost(walk[j])
                if cj[0] <= target:
                    c, k = cj, j
                    break
            best, m = c, walk[k]
            break
        prev = k
        best, m = (c, walk[k]) if best is None or c[0] < best[0] else (best, m)
    value, counts, t, s = best
    return TauResult(share, hn, counts, m, t, s, value / base, budget.fraction)
