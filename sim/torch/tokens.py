"""OPTIN's token importance and ToMe merging to per-layer token counts (the τ config).

Token importance (vision only in OPTIN): for block ``l >= 1`` and patch position ``t``, drop
token ``t`` from block ``l``'s input (for every calibration image), run the trajectory and
score ``MD + s * KD`` as for heads and neurons.  The sequences are shorter than the
teacher's, so MD uses an *inter-sample* Gram: each image's L2-normalised token features are
averaged over tokens (B x d), and the B x B Gram matrices of the teacher and the masked run
are compared (squared Frobenius distance, mean).  This is our reading of the released
code's "inter-sample Gram"; block 0 and prefix tokens are not scored (zero).

:func:`tome_to_counts` makes a model whose block ``l`` receives ``counts[l]`` tokens: the
ToMe merge of block ``l - 1`` (bipartite soft matching on the keys, size-weighted average,
between attention and MLP) takes ``counts[l-1] - counts[l]`` tokens.  OPTIN merges with the
hidden states as the metric just before block ``l``; ToMe's placement and key metric are
used here so the exporter and the simulator's ToMe ops describe what runs.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from sim.errors import ConfigError

__all__ = ["token_importance", "tome_to_counts"]


def _sample_feats(f):
    """(..., B, n, d) token features -> (..., B, d) mean of L2-normalised tokens (float64)."""
    from sim.torch.device import acc_dtype

    return F.normalize(f.to(acc_dtype(f.device)), dim=-1).mean(-2)


def _gram_md(fs, ft):
    """Mean squared difference of the inter-sample Gram matrices (..., B, B)."""
    gs = fs @ fs.transpose(-1, -2)
    gt = ft @ ft.transpose(-1, -2)
    return (gs - gt).pow(2).mean((-1, -2))


@torch.no_grad()
def token_importance(model, inputs, options=None, *, device=None, amp: bool = False):
    """``(md, kd, scores)`` arrays (L, N) for dropping token (l, t); zeros at l = 0 and at
    prefix positions.  ``scores`` combine MD and KD with ``options.balance`` (per-unit by
    default, its own history)."""
    from sim.torch.device import autocast, model_device, progress
    from sim.torch.importance import (
        ImportanceOptions,
        _check_model,
        _emb,
        _embed,
        combine,
        kd_loss,
    )

    opts = (options or ImportanceOptions()).validate()
    _check_model(model)
    dev = model_device(model, device)
    x = inputs.to(dev)
    was = model.training
    model.eval()
    try:
        with autocast(dev, amp):
            h = _embed(model, x)
        stream = [h.float()]
        for blk in model.blocks:
            with autocast(dev, amp):
                stream.append(blk(stream[-1]).float())
        L = len(model.blocks)
        teacher = [None] + [_sample_feats(_emb(model, z, stream[z], opts.embeddings))
                            for z in range(1, L + 1)]
        with autocast(dev, amp):
            logits_t = model.forward_head(model.norm(stream[L])).float()
        B, N, d = stream[0].shape
        P = int(getattr(model, "num_prefix_tokens", 1))
        md, kd = np.zeros((L, N)), np.zeros((L, N))
        jobs = [(layer, s) for layer in range(1, L) for s in range(P, N, opts.chunk)]
        for layer, start in progress(jobs, total=len(jobs), desc="optin tokens"):
            pos = list(range(start, min(start + opts.chunk, N)))
            u = len(pos)
            keep = torch.stack([torch.tensor([j for j in range(N) if j != t])
                                for t in pos]).to(dev)                      # (u, N-1)
            src = stream[layer]                                               # (B, N, d)
            y = src[:, keep].permute(1, 0, 2, 3).reshape(u * B, N - 1, d)
            total = torch.zeros(u, dtype=teacher[1].dtype, device=dev)
            for z in range(layer, L):
                with autocast(dev, amp):
                    y = model.blocks[z](y).float()
                f = _emb(model, z + 1, y, opts.embeddings).reshape(u, B, N - 1, d)
                total += _gram_md(_sample_feats(f), teacher[z + 1])
            with autocast(dev, amp):
                logits = model.forward_head(model.norm(y)).float().reshape(u, B, -1)
            md[layer, pos] = total.cpu().numpy()
            kd[layer, pos] = kd_loss(logits, logits_t, opts.temperature,
                                     opts.soften_logits).cpu().numpy()
    finally:
        model.train(was)
    scores, _, _ = combine(md, kd, md[:0], kd[:0], opts)
    scores[0] = 0.0
    scores[:, :P] = 0.0
    return md, kd, scores


def tome_to_counts(model, counts):
    """A copy of ``model`` whose block ``l`` receives ``counts[l]`` tokens (ToMe merges).

    ``counts`` has one entry per block, ``counts[0]`` = all tokens, non-increasing, and
    each step merges at most half of the non-prefix tokens (ToMe's bipartite limit).
    """
    from sim.torch.blocks import ToMeMerge
    from sim.torch.transforms import _as_vitsim, _blocks, _prefix, _with_blocks

    blocks = _blocks(model, "tome_to_counts")
    P = _prefix(model)
    full = int(model.patch_embed.num_patches) + P
    counts = [int(c) for c in counts]
    if len(counts) != len(blocks) or counts[0] != full:
        raise ConfigError(f"counts = {counts}; must have {len(blocks)} entries starting "
                          f"with {full}")
    for i in range(1, len(counts)):
        step = counts[i - 1] - counts[i]
        if step < 0 or step > (counts[i - 1] - P) // 2:
            raise ConfigError(f"counts[{i}] = {counts[i]}; must be in "
                              f"[{counts[i - 1] - (counts[i - 1] - P) // 2}, {counts[i - 1]}]")

    def edit(blks):
        for i in range(1, len(counts)):
            r = counts[i - 1] - counts[i]
            if r:
                _as_vitsim(blks, i - 1).pruner = ToMeMerge(r, P)

    return _with_blocks(model, "tome_to_counts", edit)
