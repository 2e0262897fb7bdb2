"""Token pruners and the ViT block that runs them (torch); used by
:mod:`sim.torch.transforms`, which re-exports the public names.

A :class:`VitsimBlock` is timm's pre-norm ``Block`` that can skip its attention and prune
tokens after the attention residual, before the MLP; :class:`VitsimBlocks` threads ToMe's
token sizes through ``model.blocks``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sim.errors import TraceError

__all__ = ["TopKPrune", "POMTMerge", "ToMeMerge", "attention_explicit", "VitsimBlock",
           "VitsimBlocks"]


# ----------------------------------------------------------------------------- pruners
class TopKPrune(nn.Module):
    """EViT-style top-k: keep the prefix tokens and the patch tokens the CLS token attends
    to most (attention averaged over heads); ``keep`` counts tokens leaving the block,
    prefix tokens included.  Without prefix tokens the score is the mean attention a token
    receives.  Kept tokens stay in their original order."""

    method = "topk"
    needs = "probs"

    def __init__(self, keep: int, prefix: int):
        super().__init__()
        self.keep, self.prefix = int(keep), int(prefix)

    def tokens_out(self, n: int) -> int:
        return self.keep

    def check(self, n: int):
        lo = max(self.prefix, 1)
        if not lo <= self.keep <= n - 1:
            return (f"keep = {self.keep}; must be in [{lo}, {n - 1}] because the block "
                    f"receives {n} tokens ({self.prefix} prefix) and must drop at least one")
        return None

    def forward(self, x, info, size):
        P, n = self.prefix, x.shape[1]
        _runtime_check(self, n)
        probs = info["probs"]
        score = probs[:, :, 0, P:].mean(1) if P else probs.mean(1).mean(1)
        idx = score.topk(self.keep - P, dim=1).indices.sort(dim=1).values + P
        return _take(x, size, P, idx)


class POMTMerge(nn.Module):
    """POMT prune-and-merge (arXiv 2407.05941; docs/references.md#pomt-prune-and-merge):
    with ``n`` tokens and ``P`` prefix tokens, score patch tokens by ``s_attn + s_v``, keep
    the top ``n - P - R - 1`` and average the other ``R + 1`` (unweighted) into one fused
    token appended at the end: ``n - R`` tokens leave the block (197 -> 141 for R = 56)."""

    method = "pomt"
    needs = "probs"

    def __init__(self, r: int, prefix: int):
        super().__init__()
        self.r, self.prefix = int(r), int(prefix)

    def tokens_out(self, n: int) -> int:
        return n - self.r

    def check(self, n: int):
        hi = n - self.prefix - 1
        if not 1 <= self.r <= hi:
            return (f"R = {self.r}; must be in [1, {hi}] because the block receives {n} "
                    f"tokens ({self.prefix} prefix) and R + 1 patch tokens are merged")
        return None

    def forward(self, x, info, size):
        P, n = self.prefix, x.shape[1]
        _runtime_check(self, n)
        A = info["probs"][:, :, P:, P:]            # (B, H, n-P, n-P)
        V = info["v"][:, :, P:, :]                 # (B, H, n-P, dh)
        s_attn = A.amax(dim=1).sum(dim=1)          # sum_i max_h A[h, i, j]
        s_attn = s_attn / s_attn.max()             # global max over the batch tensor
        s_v = V.amax(dim=1).sum(dim=-1).softmax(dim=-1)
        order = (s_attn + s_v).argsort(dim=1, descending=True)
        k = n - P - self.r - 1
        keep_idx = order[:, :k].sort(dim=1).values + P
        drop_idx = order[:, k:] + P
        d = x.shape[-1]
        fused = x.gather(1, drop_idx[..., None].expand(-1, -1, d)).mean(1, keepdim=True)
        x2, size2 = _take(x, size, P, keep_idx)
        if size2 is not None:
            fsize = size.gather(1, drop_idx[..., None]).sum(1, keepdim=True)
            size2 = torch.cat([size2, fsize], dim=1)
        return torch.cat([x2, fused], dim=1), size2


class ToMeMerge(nn.Module):
    """Token Merging (Bolya et al., ICLR 2023): bipartite soft matching on the keys averaged
    over heads; merge ``min(r, (n - P) // 2)`` tokens by size-weighted average.  Prefix
    tokens are protected (split off before matching, so the alternating A/B split starts at
    the first patch token); the token sizes feed proportional attention in later blocks."""

    method = "tome"
    needs = "keys"

    def __init__(self, r: int, prefix: int):
        super().__init__()
        self.r, self.prefix = int(r), int(prefix)

    def step(self, n: int) -> int:
        return max(0, min(self.r, (n - self.prefix) // 2))

    def tokens_out(self, n: int) -> int:
        return n - self.step(n)

    def check(self, n: int):
        return None

    def forward(self, x, info, size):
        P, (B, n, _) = self.prefix, x.shape
        r = self.step(n)
        if r == 0:
            return x, size
        if size is None:
            size = x.new_ones(B, n, 1)
        metric = info["k"].mean(1)[:, P:]
        metric = metric / metric.norm(dim=-1, keepdim=True)
        a, b = metric[:, ::2], metric[:, 1::2]
        node_max, node_idx = (a @ b.transpose(-1, -2)).max(dim=-1)
        edge_idx = node_max.argsort(dim=-1, descending=True)[..., None]
        unm_idx = edge_idx[:, r:].sort(dim=1).values
        src_idx = edge_idx[:, :r]
        dst_idx = node_idx[..., None].gather(1, src_idx)

        def merge(t):
            src, dst = t[:, ::2], t[:, 1::2]
            c = t.shape[-1]
            unm = src.gather(1, unm_idx.expand(-1, -1, c))
            src = src.gather(1, src_idx.expand(-1, -1, c))
            dst = dst.scatter_reduce(1, dst_idx.expand(-1, -1, c), src, reduce="sum")
            return torch.cat([unm, dst], dim=1)

        sr = size[:, P:]
        xr = merge(x[:, P:] * sr)
        sr = merge(sr)
        return (torch.cat([x[:, :P], xr / sr], dim=1),
                torch.cat([size[:, :P], sr], dim=1))


def _runtime_check(pruner, n):
    msg = pruner.check(n)
    if msg:
        raise TraceError(f"{pruner.method} pruning at run time: {msg}")


def _take(x, size, P, idx):
    """Prefix tokens plus the tokens at ``idx`` (B, k)."""
    d = x.shape[-1]
    x2 = torch.cat([x[:, :P], x.gather(1, idx[..., None].expand(-1, -1, d))], dim=1)
    if size is None:
        return x2, None
    return x2, torch.cat([size[:, :P], size.gather(1, idx[..., None])], dim=1)


# ----------------------------------------------------------------------------- blocks
def attention_explicit(attn, x, size=None, need_probs=False):
    """timm ``Attention`` forward, returning what pruners need.

    Same math as ``timm.layers.Attention.forward`` (q/k norms, scale norm, gate), plus
    ToMe's proportional attention (``log(size)`` added to the logits) when ``size`` (B, N,
    1) is given.  Returns ``(out, info)`` with ``info = {"k", "v"}`` and ``"probs"`` (B, H,
    N, N) when ``need_probs``; otherwise the fused SDPA kernel is used.
    """
    B, N, _ = x.shape
    gate = getattr(attn, "gate", None)
    gate = gate(x).sigmoid() if gate is not None else None
    qkv = attn.qkv(x).reshape(B, N, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    q, k = attn.q_norm(q), attn.k_norm(k)
    bias = None if size is None else size.log()[:, None, None, :, 0].to(q.dtype)
    info = {"k": k, "v": v}
    if need_probs:
        logits = (q * attn.scale) @ k.transpose(-2, -1)
        if bias is not None:
            logits = logits + bias
        probs = logits.softmax(dim=-1)
        info["probs"] = probs
        out = attn.attn_drop(probs) @ v
    else:
        p = attn.attn_drop.p if attn.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)
    out = out.transpose(1, 2).reshape(B, N, attn.num_heads * attn.head_dim)
    out = getattr(attn, "norm", nn.Identity())(out)
    if gate is not None:
        out = out * gate
    return attn.proj_drop(attn.proj(out)), info


class VitsimBlock(nn.Module):
    """A timm pre-norm ``Block`` that can skip its attention and prune tokens.

    Holds the original block's sub-modules under the same names (``state_dict`` keys are
    unchanged).  ``skip_attn`` bypasses LN1..residual; ``pruner`` (a :class:`TopKPrune`,
    :class:`ToMeMerge` or :class:`POMTMerge`) runs after the attention residual and before
    the MLP.  ``forward(x)`` returns the tokens; ``forward(x, size, return_size=True)``
    also returns ToMe's token sizes (used by :class:`VitsimBlocks`).
    """

    def __init__(self, block):
        super().__init__()
        for name in ("norm1", "attn", "ls1", "drop_path1", "norm2", "mlp", "ls2",
                     "drop_path2"):
            setattr(self, name, getattr(block, name, None) or nn.Identity())
        self.skip_attn = bool(getattr(block, "skip_attn", False))
        self.pruner = getattr(block, "pruner", None)

    @property
    def vitsim_prune_method(self):
        """Method name of the token pruning this block does (read by the exporter)."""
        return None if self.pruner is None else self.pruner.method

    def forward(self, x, size=None, return_size=False, attn_mask=None, is_causal=False):
        if attn_mask is not None or is_causal:
            raise TraceError("VitsimBlock does not support attn_mask/is_causal")
        if not self.skip_attn:
            need = None if self.pruner is None else self.pruner.needs
            h = self.norm1(x)
            if need is None and size is None:
                a, info = self.attn(h), None
            else:
                a, info = attention_explicit(self.attn, h, size, need_probs=need == "probs")
            x = x + self.drop_path1(self.ls1(a))
            if self.pruner is not None:
                x, size = self.pruner(x, info, size)
        x = x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))
        return (x, size) if return_size else x


class VitsimBlocks(nn.Sequential):
    """``model.blocks`` replacement that threads ToMe token sizes through the blocks."""

    def forward(self, x):
        size = None
        for blk in self:
            if isinstance(blk, VitsimBlock):
                x, size = blk(x, size=size, return_size=True)
            else:
                x = blk(x)
        return x
