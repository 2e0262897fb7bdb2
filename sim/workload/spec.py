"""ViT model specs: the static shape of a model (what a trace's ``model:`` holds)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ModelSpec", "MODEL_SPECS", "get_spec"]


def _f(doc, *, range=None, default=None):
    meta = {"doc": doc}
    if range is not None:
        meta["range"] = range
    if default is None:
        return field(metadata=meta)
    return field(metadata=meta, default=default)


@dataclass(frozen=True)
class ModelSpec:
    """Static dimensions of a ViT (timm ``VisionTransformer`` naming)."""

    name: str = _f("model name")
    depth: int = _f("number of encoder blocks", range=(1, 1024))
    embed_dim: int = _f("embedding width d", range=(1, 1 << 16))
    num_heads: int = _f("attention heads H", range=(1, 1024))
    head_dim: int = _f("per-head width d_h", range=(1, 4096))
    mlp_hidden: int = _f("MLP hidden width m", range=(1, 1 << 18))
    patch_size: int = _f("patch edge p, pixels", range=(1, 1024))
    image_size: int = _f("image edge, pixels", range=(1, 1 << 14))
    num_classes: int = _f("classifier outputs (0 = no head)", range=(0, 1 << 20))
    prefix_tokens: int = _f("CLS/distillation/register tokens", range=(0, 64), default=1)
    in_chans: int = _f("image channels", range=(1, 64), default=3)

    @property
    def num_patches(self) -> int:
        """Patch tokens P = (image/patch)^2."""
        return (self.image_size // self.patch_size) ** 2

    @property
    def tokens(self) -> int:
        """Tokens entering block 0: patches + prefix tokens."""
        return self.num_patches + self.prefix_tokens


# Dimensions from the papers / timm configs.  lvvit_s keeps LV-ViT's 16 blocks and MLP
# ratio 3 but models its conv stem as one patch GEMM (the real stem:
# docs/references.md#pivot-models-and-fine-tuning).
# dinov2_g: ViT-g/14 (timm vit_giant_patch14_dinov2) at 224 px as POMT runs it, with a
# plain 4096-wide MLP in place of SwiGLU.
MODEL_SPECS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec("deit_t", 12, 192, 3, 64, 768, 16, 224, 1000),
        ModelSpec("deit_s", 12, 384, 6, 64, 1536, 16, 224, 1000),
        ModelSpec("deit_b", 12, 768, 12, 64, 3072, 16, 224, 1000),
        ModelSpec("lvvit_s", 16, 384, 6, 64, 1152, 16, 224, 1000),
        ModelSpec("vit_l", 24, 1024, 16, 64, 4096, 16, 224, 1000),
        ModelSpec("dinov2_g", 40, 1536, 24, 64, 4096, 14, 224, 1000),
    )
}


def get_spec(name: str) -> ModelSpec:
    """A built-in model spec by name; unknown names raise :class:`TraceError`."""
    from sim.errors import TraceError

    try:
        return MODEL_SPECS[name]
    except KeyError:
        raise TraceError(f"model must be one of {sorted(MODEL_SPECS)}, not {name!r}") from None
