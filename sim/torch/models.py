"""Torch models vitsim ships: LV-ViT-S (Jiang et al., "All Tokens Matter: Token Labeling
for Training Better Vision Transformers", NeurIPS 2021) as a timm ``VisionTransformer``.

LV-ViT-S: a 4-conv stem -- 7x7/2 conv (3 -> 64), two 3x3 convs (64 -> 64), each with
BatchNorm + ReLU, then an 8x8/8 patch projection (64 -> 384), i.e. 16 px patches and 197
tokens at 224 px -- then 16 timm pre-norm blocks (dim 384, 6 heads, MLP ratio 3, no qkv
bias) and the CLS classifier.  The token-labelling auxiliary head (a classifier on every
patch token, used in training) is not modelled.  Random weights: the model is for shapes
(export, PIVOT's transforms, CKA), not accuracy.
"""

from __future__ import annotations

from torch import nn

__all__ = ["ConvStemPatchEmbed", "lvvit_s", "MODELS"]


def _conv_bn_relu(cin, cout, k, stride):
    return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True)]


class ConvStemPatchEmbed(nn.Module):
    """timm ``PatchEmbed`` interface (``img_size``, ``patch_size``, ``grid_size``,
    ``num_patches``; ``forward`` -> ``(B, N, D)``) over LV-ViT's 4-conv stem."""

    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=384,
                 stem_dim=64, **_ignored):
        super().__init__()
        if patch_size % 2:
            raise ValueError(f"patch_size = {patch_size}; must be even (stride-2 stem)")
        self.img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.patch_size = (patch_size, patch_size)
        self.grid_size = tuple(s // patch_size for s in self.img_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.stem = nn.Sequential(*_conv_bn_relu(in_chans, stem_dim, 7, 2),
                                  *_conv_bn_relu(stem_dim, stem_dim, 3, 1),
                                  *_conv_bn_relu(stem_dim, stem_dim, 3, 1))
        half = patch_size // 2
        self.proj = nn.Conv2d(stem_dim, embed_dim, half, half)

    def feat_ratio(self, as_scalar=True):
        return self.patch_size[0] if as_scalar else self.patch_size

    def forward(self, x):
        return self.proj(self.stem(x)).flatten(2).transpose(1, 2)


def lvvit_s(img_size: int = 224, num_classes: int = 1000, **kwargs):
    """LV-ViT-S (26M parameters) with random weights."""
    from timm.models.vision_transformer import VisionTransformer

    model = VisionTransformer(img_size=img_size, patch_size=16, embed_dim=384, depth=16,
                              num_heads=6, mlp_ratio=3.0, qkv_bias=False,
                              num_classes=num_classes, embed_layer=ConvStemPatchEmbed,
                              **kwargs)
    model.vitsim_name = "lvvit_s"
    return model


#: ``vitsim:NAME`` models of ``vitsim export``.
MODELS = {"lvvit_s": lvvit_s}
