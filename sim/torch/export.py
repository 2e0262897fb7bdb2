"""Export a trace from a PyTorch ViT by running it (forward hooks record what ran).

Works on any timm-style ``VisionTransformer`` (``model.blocks[i].attn.qkv``,
``.mlp.fc1``, ``model.patch_embed``), including the models built by
:mod:`sim.torch.transforms`.  Per block the hooks record, from tensor shapes:

* ``tokens``: the block input's token dimension (prefix tokens included), and the batch;
* ``attention``: whether the attention's ``qkv`` projection ran;
* ``heads``: ``qkv`` output width / (3 * head_dim) heads ran; their original indices come
  from ``attn.vitsim_heads`` (set by :func:`~sim.torch.transforms.prune_heads`), and
  heads zeroed by a head mask (``attn.proj.head_mask`` or ``attn.head_mask``) are dropped;
* ``mlp_hidden``: ``fc1``'s output width;
* ``prune``: when ``fc1`` sees fewer tokens than the block received, the block pruned
  tokens after its attention; the method is the block's ``vitsim_prune_method``
  (``topk``, ``tome`` or ``pomt``).

Anything a trace cannot say (a block run twice, tokens changed between blocks or after the
MLP, an unnamed pruning method) is a :class:`~sim.errors.TraceError`, never a guess.
"""

from __future__ import annotations

import dataclasses
import logging

import torch
from torch import nn

from sim.errors import TraceError
from sim.workload.spec import MODEL_SPECS, ModelSpec
from sim.workload.trace import LayerTrace, PruneEvent, Trace, TraceSet, validate_trace

__all__ = ["export_trace", "export_traceset", "model_spec"]

log = logging.getLogger(__name__)


def _square(value, what):
    v = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if v[0] != v[1]:
        raise TraceError(f"model_spec: {what} = {v}; only square images/patches are "
                         "supported by the trace schema")
    return int(v[0])


def model_spec(model, name: str | None = None) -> ModelSpec:
    """The static :class:`ModelSpec` of a timm-style ViT (original sizes before pruning).

    The name is ``name``, else ``model.vitsim_name``, else the built-in spec with the same
    dimensions (``deit_small_patch16_224`` -> ``deit_s``), else timm's architecture name.
    """
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, (nn.Sequential, nn.ModuleList)) or len(blocks) == 0:
        raise TraceError(f"export: model must be a timm-style ViT with a non-empty `blocks` "
                         f"sequence, not {type(model).__name__}")
    pe = getattr(model, "patch_embed", None)
    missing = [a for a in ("img_size", "patch_size", "proj") if not hasattr(pe, a)]
    if missing:
        raise TraceError(f"export: model.patch_embed lacks {missing}; a timm PatchEmbed "
                         "is needed to tell image and patch size")
    embed_dim = getattr(model, "embed_dim", None)
    if not isinstance(embed_dim, int):
        raise TraceError(f"export: model.embed_dim must be an integer, not {embed_dim!r} "
                         "(timm VisionTransformer sets it)")
    heads, widths, head_dims = [], [], set()
    for i, blk in enumerate(blocks):
        attn, mlp = getattr(blk, "attn", None), getattr(blk, "mlp", None)
        if not hasattr(attn, "num_heads") or not hasattr(getattr(mlp, "fc1", None),
                                                         "out_features"):
            raise TraceError(f"export: block {i} must have attn.num_heads and mlp.fc1 "
                             f"(timm Attention and Mlp); got {type(attn).__name__}, "
                             f"{type(mlp).__name__}")
        heads.append(getattr(attn, "vitsim_num_heads", attn.num_heads))
        widths.append(getattr(mlp, "vitsim_hidden", mlp.fc1.out_features))
        head_dims.add(int(getattr(attn, "head_dim", embed_dim // attn.num_heads)))
    if len(head_dims) != 1:
        raise TraceError(f"export: blocks use head widths {sorted(head_dims)}; the trace "
                         "schema has one head_dim")
    spec = ModelSpec(
        name="", depth=len(blocks), embed_dim=embed_dim,
        num_heads=int(max(heads)), head_dim=head_dims.pop(), mlp_hidden=int(max(widths)),
        patch_size=_square(pe.patch_size, "patch_size"),
        image_size=_square(pe.img_size, "img_size"),
        num_classes=int(getattr(model, "num_classes", 0)),
        prefix_tokens=int(getattr(model, "num_prefix_tokens", 0)),
        in_chans=int(pe.proj.in_channels))
    if name is None:
        name = getattr(model, "vitsim_name", None)
    if name is None:
        name = next((s.name for s in MODEL_SPECS.values()
                     if dataclasses.replace(s, name="") == spec), None)
    if name is None:
        cfg = getattr(model, "pretrained_cfg", None) or {}
        name = cfg.get("architecture") or type(model).__name__.lower()
    return dataclasses.replace(spec, name=str(name))


class _Recorder:
    """Forward hooks on every block, its ``attn.qkv`` and ``mlp.fc1``."""

    def __init__(self, blocks):
        self.blocks = blocks
        self.handles = []
        self.reset()
        for i, blk in enumerate(blocks):
            self.handles.append(blk.register_forward_pre_hook(self._pre(i)))
            self.handles.append(blk.register_forward_hook(self._post(i)))
            # attn itself also counts: BEiT/EVA call F.linear(qkv.weight), not qkv
            qkv = getattr(blk.attn, "qkv", None)
            self.handles.append(blk.attn.register_forward_hook(self._attn(i, False)))
            if isinstance(qkv, nn.Module):
                self.handles.append(qkv.register_forward_hook(self._attn(i, True)))
            self.handles.append(blk.mlp.fc1.register_forward_hook(self._mlp(i)))

    def reset(self):
        self.rec = [dict(runs=0, attn=0) for _ in self.blocks]

    def _pre(self, i):
        def hook(module, args):
            r = self.rec[i]
            r["runs"] += 1
            r["batch"], r["tokens"] = int(args[0].shape[0]), int(args[0].shape[1])
        return hook

    def _post(self, i):
        def hook(module, args, out):
            out = out[0] if isinstance(out, tuple) else out
            self.rec[i]["tokens_out"] = int(out.shape[1])
        return hook

    def _attn(self, i, is_qkv):
        def hook(module, args, out):
            self.rec[i]["attn"] += 1  # either hook: VitsimBlock calls attn.qkv directly
            if is_qkv:
                self.rec[i]["qkv_width"] = int(out.shape[-1])
        return hook

    def _mlp(self, i):
        def hook(module, args, out):
            self.rec[i]["mlp_tokens"] = int(args[0].shape[1])
            self.rec[i]["mlp_hidden"] = int(out.shape[-1])
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


def _active_heads(attn, rec, i):
    run = rec.get("qkv_width")
    n_run = attn.num_heads if run is None else run // (3 * int(attn.head_dim))
    heads = list(getattr(attn, "vitsim_heads", range(n_run)))
    if len(heads) != n_run:
        raise TraceError(f"export: block {i} ran {n_run} heads but attn.vitsim_heads "
                         f"lists {len(heads)}")
    mask = getattr(getattr(attn, "proj", None), "head_mask", None)
    if mask is None:
        mask = getattr(attn, "head_mask", None)
    if mask is not None:
        mask = [float(m) for m in mask.detach().flatten().tolist()]
        if len(mask) != n_run:
            raise TraceError(f"export: block {i}'s head mask has {len(mask)} entries for "
                             f"{n_run} heads")
        heads = [h for h, m in zip(heads, mask) if m != 0.0]
    return tuple(heads)


def _layers(blocks, recs):
    problems, layers, batch = [], [], None
    for i, (blk, r) in enumerate(zip(blocks, recs)):
        if r["runs"] != 1:
            problems.append(f"block {i} ran {r['runs']} times in one forward pass; a trace "
                            "describes one pass through each block (export each ViT of a "
                            "cascade separately)")
            continue
        if batch is None:
            batch = r["batch"]
        elif r["batch"] != batch:
            problems.append(f"block {i} ran at batch {r['batch']}, block 0 at {batch}")
        n, n_mlp = r["tokens"], r.get("mlp_tokens")
        if n_mlp is None:
            problems.append(f"block {i}'s mlp.fc1 did not run")
            continue
        if r["tokens_out"] != n_mlp:
            problems.append(f"block {i} changed the token count after its MLP "
                            f"({n_mlp} -> {r['tokens_out']}); traces prune only between "
                            "attention and MLP")
        if layers and layers[-1].index == i - 1 and n != layers[-1].tokens_after:
            problems.append(f"block {i} received {n} tokens but block {i - 1} emitted "
                            f"{layers[-1].tokens_after}; traces cannot prune between blocks")
        prune = None
        if n_mlp > n:
            problems.append(f"block {i}'s MLP ran on {n_mlp} tokens, more than the {n} "
                            "the block received")
        elif n_mlp < n:
            method = getattr(blk, "vitsim_prune_method", None)
            if method is None:
                problems.append(f"block {i} pruned {n} -> {n_mlp} tokens but does not name "
                                "its method; set block.vitsim_prune_method to 'topk', "
                                "'tome' or 'pomt'")
                continue
            prune = PruneEvent(str(method), n_mlp)
        ran = r["attn"] > 0
        heads = _active_heads(blk.attn, r, i) if ran else ()
        layers.append(LayerTrace(i, n, ran, heads, r["mlp_hidden"], prune))
    if problems:
        raise TraceError([f"export: {p}" for p in problems])
    return layers, batch


def export_trace(model, example_input, name: str | None = None, device=None) -> Trace:
    """Run ``model`` once on ``example_input`` and return the :class:`Trace` of what ran.

    Parameters
    ----------
    model : torch.nn.Module
        A timm-style ViT (``blocks``, ``patch_embed``), possibly transformed by
        :mod:`sim.torch.transforms`.  It runs in eval mode under ``torch.no_grad``; its
        training flag is restored afterwards.
    example_input : torch.Tensor
        Images ``(batch, channels, height, width)``; the trace's batch is ``batch``.
    name : str, optional
        Model and trace name (default: see :func:`model_spec`).
    device : str, optional
        Run there (the model is moved; default: the model's device; the input follows).

    Returns
    -------
    Trace
        Validated trace; tokens count prefix (CLS) tokens.
    """
    from sim.torch.device import model_device

    dev = model_device(model, device)
    spec = model_spec(model, name)
    blocks = model.blocks
    rec = _Recorder(blocks)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(example_input.to(dev))
        layers, batch = _layers(blocks, rec.rec)
    finally:
        rec.remove()
        model.train(was_training)
    log.debug("exported %s: batch %d, tokens %s", spec.name, batch,
              [lt.tokens for lt in layers])
    return validate_trace(Trace(spec, batch, tuple(layers), spec.name))


def export_traceset(model, inputs, batch: int = 1, name: str | None = None,
                    device=None) -> TraceSet:
    """Trace each input on its own and group inputs that took the same path.

    For models whose path depends on the input (e.g. a router that skips attentions).

    Parameters
    ----------
    model : torch.nn.Module
    inputs : torch.Tensor or iterable of torch.Tensor
        A tensor ``(N, C, H, W)`` of N inputs, or an iterable of single images ``(C, H,
        W)`` / one-image batches ``(1, C, H, W)``.  Each runs alone (batch 1).
    batch : int
        Batch written into every trace (the deployment batch), default 1.
    name : str, optional
        Base name; path ``k`` (in order of first appearance) is named ``{name}_path{k}``.

    Returns
    -------
    TraceSet
        One trace per distinct path; weight = fraction of inputs that took it.
    """
    from sim.torch.device import model_device

    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise TraceError(f"export_traceset: batch must be an integer >= 1, not {batch!r}")
    dev = model_device(model, device)
    spec = model_spec(model, name)
    blocks = model.blocks
    rec = _Recorder(blocks)
    counts: dict = {}
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            for x in inputs:
                x = (x if x.dim() == 4 else x.unsqueeze(0)).to(dev)
                if x.shape[0] != 1:
                    raise TraceError("export_traceset: each input must be one image, got a "
                                     f"batch of {x.shape[0]}")
                rec.reset()
                model(x)
                layers, _ = _layers(blocks, rec.rec)
                key = tuple(layers)
                counts[key] = counts.get(key, 0) + 1
    finally:
        rec.remove()
        model.train(was_training)
    if not counts:
        raise TraceError("export_traceset: inputs is empty")
    total = sum(counts.values())
    items = []
    for k, (layers, c) in enumerate(counts.items()):
        t = validate_trace(Trace(spec, batch, layers, f"{spec.name}_path{k}"))
        items.append((t, c / total))
    log.debug("export_traceset: %d inputs, %d paths", total, len(items))
    return TraceSet(tuple(items))
