"""Export any model: a layer-level v1 trace when it can be proven, else a v2 op trace.

:func:`export_model` builds the model (:mod:`sim.torch.sources`), applies ``--apply``
transforms, and always captures the ops that run (:func:`sim.torch.capture`).  For
a *recognised* ViT -- timm ``VisionTransformer`` (ViT, DeiT, DeiT-III, DINOv2 with
registers), BEiT, EVA-01 (plain MLP), vitsim's own blocks, HF ViT/DeiT/DINOv2 -- it also
builds the v1 trace (so trace edits keep working) and checks it against the capture:
each block's MACs, and the whole model's, must agree within 0.1 %, else the export fails
naming the block and both numbers.  Anything else (Swin, LeViT, CNNs, EVA02 with its
SwiGLU MLP, ...) is exported as v2 and the result says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.errors import TraceError
from sim.workload.lower import lower

__all__ = ["ExportResult", "export_model", "check_v1", "v1_reason", "hf_spec"]

#: Relative MAC tolerance of the v1-vs-capture check (0.1 %).
V1_TOLERANCE = 1e-3
_V1_BLOCKS = {"Block", "EvaBlock", "VitsimBlock"}
_HF_V1 = {"vit": 1, "deit": 2, "dinov2": 1}  # model_type -> prefix tokens (CLS, dist)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_model` produced: ``trace`` (v1 Trace or v2 OpsTrace), its
    ``version`` (1 or 2), ``why`` (one sentence: why this format) and the ``captured``
    v2 trace the v1 was checked against."""

    trace: object
    version: int
    why: str
    captured: object


def per_layer_macs(ops) -> dict:
    """``{layer: MACs}`` of lowered ops."""
    macs = np.where(ops.m > 0, ops.m * ops.n * ops.k * ops.count, 0)
    out = {}
    for layer, v in zip(ops.layer.tolist(), macs.tolist()):
        out[layer] = out.get(layer, 0) + v
    return out


def check_v1(v1, captured, tol: float = V1_TOLERANCE) -> None:
    """Raise :class:`TraceError` unless ``v1``'s lowering has the captured MACs per block
    and in total (relative ``tol``)."""
    from sim.workload.ops_trace import lower_ops_trace

    name = v1.name or v1.model.name
    if v1.model.depth != captured.model.depth:
        raise TraceError(f"v1 depth = {v1.model.depth} blocks; must equal the "
                         f"{captured.model.depth} blocks the model ran", source=name)
    a, b = per_layer_macs(lower(v1)), per_layer_macs(lower_ops_trace(captured))
    for i in range(v1.model.depth):
        if abs(a.get(i, 0) - b.get(i, 0)) > tol * max(b.get(i, 0), 1):
            raise TraceError(f"block {i}: v1 trace MACs = {a.get(i, 0):,}; must equal the "
                             f"captured {b.get(i, 0):,} within {tol:.1%}", source=name)
    ta, tb = sum(a.values()), sum(b.values())
    if abs(ta - tb) > tol * max(tb, 1):
        raise TraceError(f"whole model: v1 trace MACs = {ta:,}; must equal the captured "
                         f"{tb:,} within {tol:.1%}", source=name)


def v1_reason(model) -> str | None:
    """``None`` when ``model`` is a timm-style ViT the v1 lowering describes, else why not."""
    from torch import nn

    blocks = getattr(model, "blocks", None)
    if blocks is None or getattr(model, "patch_embed", None) is None:
        return f"{type(model).__name__} has no timm-style `blocks` and `patch_embed`"
    convs = [m for m in model.patch_embed.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != 1:
        return (f"its patch embedding runs {len(convs)} convs (a conv stem); v1 models it as "
                "one patch GEMM")
    for i, blk in enumerate(blocks):
        if type(blk).__name__ not in _V1_BLOCKS:
            return f"block {i} is a {type(blk).__name__}, not a ViT Block"
        mlp = getattr(blk, "mlp", None)
        fc1, fc2 = getattr(mlp, "fc1", None), getattr(mlp, "fc2", None)
        if fc1 is None or fc2 is None or not hasattr(getattr(blk, "attn", None), "num_heads"):
            return f"block {i} lacks attn.num_heads or mlp.fc1/fc2"
        if fc1.out_features != fc2.in_features:
            return (f"block {i}'s MLP is gated ({type(mlp).__name__}: fc1 "
                    f"{fc1.out_features} -> fc2 {fc2.in_features}), which v1 cannot express")
    extra = [n for n in ("blocks_token_only", "cls_attn_blocks") if hasattr(model, n)]
    if extra:
        return f"it runs extra blocks ({extra[0]}) outside `blocks`"
    return None


def hf_spec(model, size: int, name: str):
    """The v1 :class:`ModelSpec` of an HF ViT/DeiT/DINOv2 classifier, or a reason string."""
    from sim.workload.spec import ModelSpec

    cfg = model.config
    prefix = _HF_V1.get(cfg.model_type)
    if prefix is None:
        return f"HF model_type {cfg.model_type!r} is not ViT/DeiT/DINOv2"
    if getattr(cfg, "use_swiglu_ffn", False):
        return "its SwiGLU MLP has no v1 form"
    hidden = getattr(cfg, "intermediate_size", None) or int(cfg.hidden_size * cfg.mlp_ratio)
    heads = cfg.num_attention_heads
    return ModelSpec(name=name, depth=cfg.num_hidden_layers, embed_dim=cfg.hidden_size,
                     num_heads=heads, head_dim=cfg.hidden_size // heads, mlp_hidden=hidden,
                     patch_size=cfg.patch_size, image_size=size,
                     num_classes=int(getattr(cfg, "num_labels", 0)), prefix_tokens=prefix,
                     in_chans=cfg.num_channels)


def export_model(spec: str, *, batch: int = 1, image_size: int | None = None,
                 hf_config=None, apply=(), name: str | None = None, seed: int = 0,
                 allow_unmodelled: bool = False) -> ExportResult:
    """Build ``spec`` (``timm:NAME``, ``hf:MODEL_TYPE``, ``vitsim:NAME``), apply the
    ``apply`` callables (``model -> model``), capture it and return an :class:`ExportResult`.
    """
    import torch

    from sim.torch import capture
    from sim.torch.sources import build_model, example_input, parse_name
    from sim.workload.edit import full_trace

    ns = parse_name(spec)[0]
    torch.manual_seed(seed)
    if apply and ns == "hf":
        raise TraceError(f"--apply needs a timm-style ViT; {spec!r} is a HuggingFace model")
    model, size, default_name = build_model(spec, image_size=image_size, hf_config=hf_config)
    for step in apply:
        model = step(model)
    given, name = name, name or default_name
    x = example_input(spec, size, batch, model=model)
    reason = v1_reason(model) if ns != "hf" else None
    v1_blocks = list(model.blocks) if reason is None and ns != "hf" else None
    captured = capture(model, x, name=name, allow_unmodelled=allow_unmodelled,
                       blocks=v1_blocks)
    if ns == "hf":
        hspec = hf_spec(model, size, name)
        if isinstance(hspec, str):
            reason = hspec
        else:
            v1 = full_trace(hspec, batch=batch, name=name)
    elif reason is None:
        from sim.torch.export import export_trace

        v1 = export_trace(model, x, name=given)  # None: a built-in name when dims match
    if reason is not None:  # the capture of the (transformed) model is the truth
        return ExportResult(captured, 2, f"not a recognised ViT: {reason}", captured)
    check_v1(v1, captured)
    return ExportResult(v1, 1, "recognised ViT; v1 checked against the captured ops",
                        captured)
