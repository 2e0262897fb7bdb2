"""POMT's A(n), measured: top-1 with CLS plus n-1 random patch tokens kept at the input.

The POMT paper's offline grid: for every token count n, each validation image keeps its
prefix (CLS) token and ``n - 1`` patch tokens drawn at random (seeded, independently per
image, nested so that a smaller n keeps a subset of a larger n's tokens), after the
position embedding; the remaining tokens are dropped before block 0 and the model runs
unchanged on the shorter sequence.  The embedding of a batch is computed once and reused
for every n.  Works on timm ``VisionTransformer`` modules.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from sim.errors import ConfigError

__all__ = ["token_grid", "measure_input_accuracy", "write_accuracy_csv"]

log = logging.getLogger(__name__)


def token_grid(tokens_full: int, prefix: int = 1, step: int = 1) -> list[int]:
    """Token counts ``n`` from ``tokens_full`` down to ``prefix + 1`` every ``step``
    (``tokens_full`` and ``prefix + 1`` always included), ascending."""
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise ConfigError(f"token step = {step!r}; must be an integer >= 1")
    grid = set(range(tokens_full, prefix, -step)) | {prefix + 1, tokens_full}
    return sorted(grid)


@torch.no_grad()
def measure_input_accuracy(model, data, *, tokens=None, step: int = 1, seed: int = 0,
                           device=None, amp: bool = False, limit=None,
                           batch_size: int = 64) -> list[dict]:
    """Top-1 (percent) for every token count ``n`` of the grid.

    Parameters
    ----------
    model : timm VisionTransformer
    data : (images, labels) pair, Dataset or iterable of batches
    tokens : list of int, optional
        Token counts (CLS included); default :func:`token_grid` with ``step``.
    seed : int
        Seed of the random token choice.
    limit : int, optional
        Use at most this many images.

    Returns
    -------
    list of dict ``{"prune_layer": -1, "tokens": n, "top1": percent, "images": count}``.
    """
    from sim.torch.data import batches
    from sim.torch.device import autocast, log_cost, model_device, progress
    from sim.torch.importance import _embed

    for need in ("patch_embed", "blocks", "norm", "forward_head"):
        if not hasattr(model, need):
            raise ConfigError(f"model lacks {need!r}; A(n) is measured on a timm "
                              "VisionTransformer")
    dev = model_device(model, device)
    prefix = int(getattr(model, "num_prefix_tokens", 1))
    full = int(model.patch_embed.num_patches) + prefix
    grid = token_grid(full, prefix, step) if tokens is None else sorted(set(tokens))
    bad = [n for n in grid if not prefix < n <= full]
    if bad:
        raise ConfigError(f"tokens = {bad}; must be in ({prefix}, {full}]")
    was = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    correct = dict.fromkeys(grid, 0)
    seen = 0
    try:
        for x, y in progress(batches(data, batch_size, limit), desc="A(n)"):
            x, y = x.to(dev), torch.as_tensor(y).to(dev)
            with autocast(dev, amp):
                emb = _embed(model, x)
            b, _, d = emb.shape
            if seen == 0:
                t0 = time.perf_counter()
            order = torch.rand(b, full - prefix, generator=gen).argsort(1).to(dev) + prefix
            for n in grid:
                keep = order[:, :n - prefix]
                idx = torch.cat([torch.arange(prefix, device=dev).expand(b, -1), keep], 1)
                h = emb.gather(1, idx[..., None].expand(-1, -1, d))
                with autocast(dev, amp):
                    for blk in model.blocks:
                        h = blk(h)
                    z = model.forward_head(model.norm(h))
                correct[n] += int((z.argmax(-1) == y).sum().item())
            if seen == 0:
                total = limit if limit is not None else _length(data)
                log_cost("A(n)", len(grid), total or b,
                         (time.perf_counter() - t0) / len(grid), b)
            seen += b
    finally:
        model.train(was)
    if seen == 0:
        raise ConfigError("data = empty; must yield at least one image")
    log.info("A(n) measured on %d images over %d token counts", seen, len(grid))
    return [{"prune_layer": -1, "tokens": n, "top1": 100.0 * correct[n] / seen,
             "images": seen} for n in grid]


def _length(data):
    """Number of images in ``data`` when known (pair, Dataset), else None."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and hasattr(data[0], "shape"):
        return int(data[0].shape[0])
    try:
        return len(data) if isinstance(data, torch.utils.data.Dataset) else None
    except TypeError:
        return None


def write_accuracy_csv(rows, path, *, comment: str = "") -> Path:
    """Write ``rows`` as the accuracy CSV the POMT optimizer reads (``tokens,top1``: A(n)
    at the input, valid for every prune layer's choice), ``#`` comment lines first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# {c}" for c in comment.splitlines() if c.strip()]
    lines.append("tokens,top1")
    lines += [f"{r['tokens']},{r['top1']:.6f}" for r in rows]
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)
    return path
