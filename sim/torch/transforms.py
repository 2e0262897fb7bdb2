"""Model transforms: turn a timm ViT into the model a trace describes.

Every transform takes a timm-style ``VisionTransformer`` (``model.blocks[i].attn``,
``.mlp.fc1``), deep-copies it, changes the copy and returns it; a bad argument raises
:class:`~sim.errors.TraceError` before anything is built, and the input model is never
modified.  The results are ordinary runnable torch models (accuracy can be measured), and
:func:`sim.torch.export.export_trace` reads back exactly the trace they stand for.

* :func:`skip_attention` -- bypass the whole attention sub-block (PIVOT).
* :func:`prune_heads`, :func:`prune_mlp` -- structural: ``qkv``/``proj`` and ``fc1``/``fc2``
  weights are sliced, the modules really get smaller.  :func:`mask_heads` zeroes heads
  without changing shapes (for importance studies).
* :func:`topk_prune` (EViT), :func:`tome` (Token Merging), :func:`pomt_prune` (POMT) --
  token pruning/merging inside a block, after the attention residual and before the MLP.

Blocks that skip attention or prune tokens are replaced by :class:`VitsimBlock` (same
sub-modules, same ``state_dict`` keys) inside a :class:`VitsimBlocks` container, which carries
ToMe's token sizes from block to block (both live in :mod:`sim.torch.blocks`
with the pruners, and are re-exported here).
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn

from sim.errors import TraceError
from sim.torch.blocks import (
    POMTMerge,
    ToMeMerge,
    TopKPrune,
    VitsimBlock,
    VitsimBlocks,
    attention_explicit,
)

__all__ = [
    "skip_attention", "prune_heads", "prune_mlp", "mask_heads", "topk_prune", "tome",
    "pomt_prune", "token_plan", "VitsimBlock", "VitsimBlocks", "TopKPrune", "ToMeMerge",
    "POMTMerge", "attention_explicit",
]

log = logging.getLogger(__name__)

try:  # timm's pre-norm block is the one whose forward VitsimBlock reproduces
    from timm.models.vision_transformer import Block as _TimmBlock
    _PRENORM = (_TimmBlock,)
except ImportError:  # pragma: no cover - timm is part of the extra
    _PRENORM = ()


# ----------------------------------------------------------------------------- checks
def _blocks(model, what):
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.Sequential) and not isinstance(blocks, nn.ModuleList):
        raise TraceError(f"{what}: model must be a timm-style ViT with a `blocks` "
                         f"sequence of encoder blocks, not {type(model).__name__} "
                         f"(blocks = {type(blocks).__name__})")
    return blocks


def _check_layers(model, layers, what, arg="layers"):
    depth = len(_blocks(model, what))
    bad = [i for i in layers if isinstance(i, bool) or not isinstance(i, int)
           or not 0 <= i < depth]
    if bad:
        raise TraceError(f"{what}: {arg} {sorted(bad, key=str)} out of range [0, {depth}) "
                         f"(the model has {depth} blocks)")


def _prefix(model) -> int:
    return int(getattr(model, "num_prefix_tokens", 0))


def token_plan(model) -> list:
    """Tokens entering each block for the model's own input size (static prediction).

    Raises :class:`TraceError` when a pruner cannot run on the tokens it would receive.
    """
    blocks = _blocks(model, "token_plan")
    pe = getattr(model, "patch_embed", None)
    if getattr(pe, "num_patches", None) is None:
        raise TraceError("token_plan: model.patch_embed.num_patches is missing; cannot "
                         "tell how many tokens enter block 0")
    n, plan, problems = int(pe.num_patches) + _prefix(model), [], []
    for i, blk in enumerate(blocks):
        plan.append(n)
        pruner = getattr(blk, "pruner", None)
        if pruner is not None:
            msg = pruner.check(n)
            if msg:
                problems.append(f"block {i} ({pruner.method}): {msg}")
                continue
            n = pruner.tokens_out(n)
    if problems:
        raise TraceError(problems)
    return plan


def _wrappable(model, layers, what):
    blocks = _blocks(model, what)
    bad = [i for i in layers if not isinstance(blocks[i], (VitsimBlock,) + _PRENORM)]
    if bad:
        kinds = sorted({type(blocks[i]).__name__ for i in bad})
        raise TraceError(f"{what}: block(s) {bad} are {kinds}; only timm's pre-norm "
                         "`Block` (norm1 -> attn -> residual -> norm2 -> mlp) can skip "
                         "attention or prune tokens")
    for i in layers:
        _check_attn(blocks[i].attn, i, what)


def _check_attn(attn, i, what):
    need = ("qkv", "proj", "num_heads", "head_dim", "q_norm", "k_norm")
    missing = [a for a in need if not hasattr(attn, a)]
    if missing or not isinstance(attn.qkv, nn.Linear):
        raise TraceError(f"{what}: block {i}'s attention ({type(attn).__name__}) lacks "
                         f"{missing or ['a fused nn.Linear qkv']}; a timm `Attention` "
                         "(fused qkv, num_heads, head_dim) is required")


def _with_blocks(model, what, edit):
    """Deep-copy ``model``, wrap its blocks in :class:`VitsimBlocks`, apply ``edit(blocks)``
    and check the token plan; the input model is untouched on failure."""
    new = copy.deepcopy(model)
    blocks = list(_blocks(new, what))
    edit(blocks)
    new.blocks = VitsimBlocks(*blocks)
    try:
        token_plan(new)
    except TraceError as err:
        raise TraceError([f"{what}: {p}" for p in err.problems]) from None
    return new


def _as_vitsim(blocks, i):
    if not isinstance(blocks[i], VitsimBlock):
        blocks[i] = VitsimBlock(blocks[i])
    return blocks[i]


def _set_pruner(model, layer, pruner, what):
    if not isinstance(layer, int) or isinstance(layer, bool):
        raise TraceError(f"{what}: layer must be an integer, not {layer!r}")
    _check_layers(model, [layer], what, arg="layer")
    _wrappable(model, [layer], what)
    blk = model.blocks[layer]
    if getattr(blk, "skip_attn", False):
        raise TraceError(f"{what}: block {layer} skips its attention; token pruning needs "
                         "the block's attention scores")
    old = getattr(blk, "pruner", None)
    if old is not None:
        raise TraceError(f"{what}: block {layer} already prunes tokens ({old.method}); "
                         "apply one token pruning per block")

    def edit(blocks):
        _as_vitsim(blocks, layer).pruner = pruner

    return _with_blocks(model, what, edit)


def _int_arg(what, name, value, lo):
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise TraceError(f"{what}: {name} must be an integer >= {lo}, not {value!r}")


# ----------------------------------------------------------------------------- transforms
def skip_attention(model, layers):
    """Bypass the whole attention sub-block (LN1 .. first residual) of ``layers`` (PIVOT).

    Parameters
    ----------
    model : timm VisionTransformer
    layers : iterable of int
        Block indices in ``[0, depth)``.

    Returns
    -------
    torch.nn.Module
        A new model; the MLP of every block still runs.
    """
    layers = sorted(set(layers))
    _check_layers(model, layers, "skip_attention")
    _wrappable(model, layers, "skip_attention")
    busy = [i for i in layers if getattr(model.blocks[i], "pruner", None) is not None]
    if busy:
        raise TraceError(f"skip_attention: block(s) {busy} prune tokens, which needs their "
                         "attention; skip other blocks or prune elsewhere")

    def edit(blocks):
        for i in layers:
            _as_vitsim(blocks, i).skip_attn = True

    return _with_blocks(model, "skip_attention", edit)


def _current_heads(attn):
    return tuple(getattr(attn, "vitsim_heads", range(attn.num_heads)))


def _head_plan(model, heads, what):
    """Validate ``{layer: kept heads}`` -> ``{layer: sorted original head indices}``."""
    if not isinstance(heads, dict):
        raise TraceError(f"{what}: heads must be a dict {{layer: heads to keep}}, "
                         f"not {type(heads).__name__}")
    _check_layers(model, list(heads), what)
    plan, problems = {}, []
    for i, keep in heads.items():
        attn = model.blocks[i].attn
        try:
            _check_attn(attn, i, what)
        except TraceError as err:
            problems.extend(err.problems)
            continue
        cur = _current_heads(attn)
        if isinstance(keep, int) and not isinstance(keep, bool):
            if not 1 <= keep <= len(cur):
                problems.append(f"{what}: heads[{i}] = {keep}; must keep between 1 and "
                                f"{len(cur)} heads (block {i} has {len(cur)})")
                continue
            keep = cur[:keep]
        keep = list(keep)
        bad = [h for h in keep if isinstance(h, bool) or not isinstance(h, int)
               or h not in cur]
        if bad or not keep or len(set(keep)) != len(keep):
            problems.append(f"{what}: heads[{i}] = {keep}; must be a non-empty list of "
                            f"distinct heads from {list(cur)} (block {i}'s heads"
                            f"{'; use skip_attention to drop all' if not keep else ''})")
            continue
        plan[i] = sorted(keep)
    if problems:
        raise TraceError(problems)
    return plan


def _slice_linear(lin, rows=None, cols=None):
    w = lin.weight.detach()
    if rows is not None:
        w = w[rows]
    if cols is not None:
        w = w[:, cols]
    new = nn.Linear(w.shape[1], w.shape[0], bias=lin.bias is not None,
                    device=w.device, dtype=w.dtype)
    with torch.no_grad():
        new.weight.copy_(w)
        if lin.bias is not None:
            new.bias.copy_(lin.bias.detach()[rows] if rows is not None else lin.bias)
    new.requires_grad_(lin.weight.requires_grad)
    return new


def prune_heads(model, heads):
    """Structurally remove attention heads.

    Parameters
    ----------
    model : timm VisionTransformer
    heads : dict
        ``{layer: heads to KEEP}``: a list of original head indices (in ``[0, num_heads)``,
        as in a trace's ``heads:``) or an int *n* (keep the first *n* remaining heads).

    Returns
    -------
    torch.nn.Module
        A new model whose ``attn.qkv`` has ``3 * kept * head_dim`` outputs and ``attn.proj``
        ``kept * head_dim`` inputs; ``attn.num_heads`` is updated, ``attn.vitsim_heads``
        records the original indices.  Keeping every head leaves outputs unchanged.
    """
    what = "prune_heads"
    plan = _head_plan(model, heads, what)
    problems = [f"{what}: block {i} has a scale norm over all heads (timm scale_attn_norm)"
                "; its statistics change when heads are removed"
                for i in plan if not isinstance(getattr(model.blocks[i].attn, "norm",
                                                        nn.Identity()), nn.Identity)]
    if problems:
        raise TraceError(problems)
    new = copy.deepcopy(model)
    for i, keep in plan.items():
        attn = new.blocks[i].attn
        cur, dh = _current_heads(attn), attn.head_dim
        pos = [cur.index(h) for h in keep]
        within = [p * dh + c for p in pos for c in range(dh)]
        width = len(cur) * dh
        attn.qkv = _slice_linear(attn.qkv, rows=[s * width + j for s in range(3)
                                                 for j in within])
        attn.proj = _slice_linear(attn.proj, cols=within)
        mask = getattr(model.blocks[i].attn.proj, "head_mask", None)
        if mask is not None:
            _install_mask(attn.proj, mask[pos].clone())
        if getattr(attn, "gate", None) is not None:
            attn.gate = _slice_linear(attn.gate, rows=within)
        attn.vitsim_num_heads = getattr(attn, "vitsim_num_heads", attn.num_heads)
        attn.num_heads = len(keep)
        if hasattr(attn, "attn_dim"):
            attn.attn_dim = len(keep) * dh
        attn.vitsim_heads = tuple(keep)
    return new


def _mask_hook(module, args):
    x = args[0]
    m = module.head_mask
    shape = x.shape[:-1] + (m.numel(), x.shape[-1] // m.numel())
    return ((x.reshape(shape) * m[:, None].to(x.dtype)).reshape(x.shape),) + args[1:]


def _install_mask(proj, mask):
    if "head_mask" in proj._buffers:
        proj.head_mask = mask
    else:
        proj.register_buffer("head_mask", mask, persistent=False)
        proj.register_forward_pre_hook(_mask_hook)


def mask_heads(model, heads):
    """Zero attention heads without changing shapes (a head mask on ``attn.proj``'s input).

    ``heads`` follows :func:`prune_heads` (``{layer: heads to KEEP}``); the exporter
    reports only unmasked heads.  Use it to measure head importance; use
    :func:`prune_heads` for a model that really is smaller.
    """
    what = "mask_heads"
    plan = _head_plan(model, heads, what)
    new = copy.deepcopy(model)
    for i, keep in plan.items():
        attn = new.blocks[i].attn
        cur = _current_heads(attn)
        mask = torch.tensor([1.0 if h in keep else 0.0 for h in cur],
                            device=attn.proj.weight.device)
        _install_mask(attn.proj, mask)
    return new


def prune_mlp(model, neurons):
    """Structurally narrow MLPs.

    Parameters
    ----------
    model : timm VisionTransformer
    neurons : dict
        ``{layer: neurons to KEEP}``: a list of hidden-unit positions of the block's current
        ``fc1`` outputs, or an int *n* (keep the first *n*).

    Returns
    -------
    torch.nn.Module
        A new model with ``fc1`` (rows) and ``fc2`` (columns) sliced; ``mlp.vitsim_hidden``
        records the original width.  Keeping every neuron leaves outputs unchanged.
    """
    what = "prune_mlp"
    if not isinstance(neurons, dict):
        raise TraceError(f"{what}: neurons must be a dict {{layer: neurons to keep}}, "
                         f"not {type(neurons).__name__}")
    _check_layers(model, list(neurons), what)
    plan, problems = {}, []
    for i, keep in neurons.items():
        mlp = model.blocks[i].mlp
        fc1, fc2 = getattr(mlp, "fc1", None), getattr(mlp, "fc2", None)
        if not (isinstance(fc1, nn.Linear) and isinstance(fc2, nn.Linear)
                and fc1.out_features == fc2.in_features
                and isinstance(getattr(mlp, "norm", nn.Identity()), nn.Identity)):
            problems.append(f"{what}: block {i}'s MLP ({type(mlp).__name__}) must be a "
                            "timm `Mlp` (fc1 -> act -> fc2, no hidden norm, no GLU)")
            continue
        m = fc1.out_features
        if isinstance(keep, int) and not isinstance(keep, bool):
            if not 1 <= keep <= m:
                problems.append(f"{what}: neurons[{i}] = {keep}; must keep between 1 and "
                                f"{m} neurons (block {i}'s MLP width)")
                continue
            keep = range(keep)
        keep = list(keep)
        bad = [j for j in keep if isinstance(j, bool) or not isinstance(j, int)
               or not 0 <= j < m]
        if bad or not keep or len(set(keep)) != len(keep):
            problems.append(f"{what}: neurons[{i}] must be a non-empty list of distinct "
                            f"neuron positions in [0, {m}), not {keep[:8]}"
                            f"{'...' if len(keep) > 8 else ''}")
            continue
        plan[i] = sorted(keep)
    if problems:
        raise TraceError(problems)
    new = copy.deepcopy(model)
    for i, keep in plan.items():
        mlp = new.blocks[i].mlp
        mlp.vitsim_hidden = getattr(mlp, "vitsim_hidden", mlp.fc1.out_features)
        mlp.fc1 = _slice_linear(mlp.fc1, rows=keep)
        mlp.fc2 = _slice_linear(mlp.fc2, cols=keep)
    return new


def topk_prune(model, layer: int, keep: int):
    """EViT-style top-k token pruning inside block ``layer`` by CLS attention.

    Parameters
    ----------
    layer : int
        Block index; pruning happens after its attention residual, before its MLP.
    keep : int
        Tokens leaving the block, prefix tokens included (the trace's ``tokens_out``);
        must be below the tokens entering the block.
    """
    _int_arg("topk_prune", "keep", keep, 1)
    return _set_pruner(model, layer, TopKPrune(keep, _prefix(model)), "topk_prune")


def pomt_prune(model, layer: int, R: int):
    """POMT prune-and-merge inside block ``layer``: ``n`` tokens in, ``n - R`` out.

    ``R = 0`` returns an unchanged copy (POMT's schedule has r = 0 everywhere else).
    """
    _int_arg("pomt_prune", "R", R, 0)
    if R == 0:
        _check_layers(model, [layer], "pomt_prune", arg="layer")
        return copy.deepcopy(model)
    return _set_pruner(model, layer, POMTMerge(R, _prefix(model)), "pomt_prune")


def tome(model, r: int):
    """Token Merging: merge ``r`` tokens in every block with attention (n, n-r, n-2r, ...).

    At most half of the non-prefix tokens merge per block (``min(r, (n - P) // 2)``), as in
    :func:`sim.workload.tome_trace`.  Blocks that skip attention do not merge; blocks that
    already prune tokens are an error.
    """
    what = "tome"
    _int_arg(what, "r", r, 0)
    blocks = _blocks(model, what)
    layers = list(range(len(blocks)))
    _wrappable(model, layers, what)
    busy = [i for i in layers if getattr(blocks[i], "pruner", None) is not None]
    if busy:
        raise TraceError(f"{what}: block(s) {busy} already prune tokens; apply ToMe first")
    P = _prefix(model)

    def edit(blks):
        for i in layers:
            b = _as_vitsim(blks, i)
            if not b.skip_attn and r > 0:
                b.pruner = ToMeMerge(r, P)

    return _with_blocks(model, what, edit)
