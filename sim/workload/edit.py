"""Build full-model traces and derive pruned ones (every result is validated)."""

from __future__ import annotations

import dataclasses

from sim.errors import TraceError
from sim.workload.spec import ModelSpec, get_spec
from sim.workload.trace import LayerTrace, PruneEvent, Trace, validate_trace

__all__ = [
    "model_trace", "full_trace", "skip_attention", "drop_heads", "narrow_mlp",
    "prune_tokens", "tome_trace", "input_tokens",
]


def full_trace(spec: ModelSpec, batch: int = 1, name: str | None = None) -> Trace:
    """The unpruned trace of ``spec``: every block at full tokens, heads and width."""
    layers = tuple(
        LayerTrace(i, spec.tokens, True, tuple(range(spec.num_heads)), spec.mlp_hidden)
        for i in range(spec.depth)
    )
    return validate_trace(Trace(spec, batch, layers, name or spec.name))


def model_trace(name: str, batch: int = 1, **spec_edits) -> Trace:
    """Full trace of a built-in model (``deit_t deit_s deit_b lvvit_s vit_l dinov2_g``).

    ``spec_edits`` replace spec fields, e.g. ``model_trace("deit_s", image_size=384)``.
    """
    spec = get_spec(name)
    if spec_edits:
        unknown = set(spec_edits) - {f.name for f in dataclasses.fields(ModelSpec)}
        if unknown:
            raise TraceError(f"model_trace: unknown spec field(s) {sorted(unknown)}")
        spec = dataclasses.replace(spec, **spec_edits)
    return full_trace(spec, batch)


def _check_layers(trace: Trace, layers, what: str):
    bad = [i for i in layers if not isinstance(i, int) or not 0 <= i < trace.model.depth]
    if bad:
        raise TraceError(f"{what}: layer(s) {bad} out of range [0, {trace.model.depth})")


def skip_attention(trace: Trace, layers) -> Trace:
    """Skip the whole attention sub-block of ``layers`` (PIVOT); the MLP still runs."""
    layers = set(layers)
    _check_layers(trace, layers, "skip_attention")
    new = [dataclasses.replace(lt, attention=False, heads=()) if lt.index in layers else lt
           for lt in trace.layers]
    return trace.replace_layers(new)


def drop_heads(trace: Trace, heads) -> Trace:
    """Keep only some heads.

    ``heads`` is ``{layer: kept head indices}`` or an int *n*: keep heads ``0..n-1`` of
    every block with attention.
    """
    if isinstance(heads, int):
        heads = {lt.index: range(heads) for lt in trace.layers if lt.attention}
    _check_layers(trace, heads, "drop_heads")
    new = [dataclasses.replace(lt, heads=tuple(heads[lt.index])) if lt.index in heads else lt
           for lt in trace.layers]
    return trace.replace_layers(new)


def narrow_mlp(trace: Trace, widths) -> Trace:
    """Set MLP hidden widths: ``{layer: width}`` or one int for every block."""
    if isinstance(widths, int):
        widths = {lt.index: widths for lt in trace.layers}
    _check_layers(trace, widths, "narrow_mlp")
    new = [dataclasses.replace(lt, mlp_hidden=widths[lt.index]) if lt.index in widths else lt
           for lt in trace.layers]
    return trace.replace_layers(new)


def prune_tokens(trace: Trace, layer: int, tokens_out: int, method: str = "topk") -> Trace:
    """Prune (or merge) tokens inside block ``layer``; later blocks run on ``tokens_out``.

    An existing prune event at that block is replaced; token counts of later blocks are
    rescaled so every later event removes the same number of tokens as before (clipped
    at 1).
    """
    _check_layers(trace, [layer], "prune_tokens")
    lts = list(trace.layers)
    n_in = lts[layer].tokens
    if not 1 <= tokens_out <= n_in:
        raise TraceError(f"prune_tokens: tokens_out = {tokens_out}; must be in [1, {n_in}] "
                         f"(tokens entering block {layer})")
    lts[layer] = dataclasses.replace(lts[layer], prune=PruneEvent(method, tokens_out))
    return trace.replace_layers(_reflow(lts, layer))


def _reflow(lts, start):
    """Recompute token counts after block ``start`` keeping each later event's removal."""
    out = list(lts[: start + 1])
    n = out[-1].tokens_after
    for lt in lts[start + 1:]:
        prune = lt.prune
        if prune is not None:
            removed = lt.tokens - prune.tokens_out
            prune = dataclasses.replace(prune, tokens_out=max(1, n - removed))
        out.append(dataclasses.replace(lt, tokens=n, prune=prune))
        n = out[-1].tokens_after
    return out


def tome_trace(trace: Trace, r: int) -> Trace:
    """Token Merging: merge ``r`` tokens in every block (n, n-r, n-2r, ...).

    ToMe merges at most half of the non-prefix tokens per block (bipartite matching), so
    ``r`` is clipped per block to ``(n - prefix) // 2`` as in the ToMe reference code.
    """
    if not isinstance(r, int) or r < 0:
        raise TraceError(f"tome_trace: r = {r!r}; must be an integer >= 0")
    lts, n = [], trace.layers[0].tokens
    prefix = trace.model.prefix_tokens
    for lt in trace.layers:
        step = min(r, (n - prefix) // 2)
        prune = PruneEvent("tome", n - step) if step > 0 and lt.attention else None
        lts.append(dataclasses.replace(lt, tokens=n, prune=prune))
        n = lts[-1].tokens_after
    return trace.replace_layers(lts, name=f"{trace.name}_tome{r}")


def input_tokens(trace: Trace, n: int) -> Trace:
    """Run every block at ``n`` tokens (tokens removed at the input: POMT's offline grid)."""
    if not 1 <= n <= trace.model.tokens:
        raise TraceError(f"input_tokens: n = {n}; must be in [1, {trace.model.tokens}]")
    lts = [dataclasses.replace(lt, tokens=n, prune=None) for lt in trace.layers]
    return trace.replace_layers(lts)
