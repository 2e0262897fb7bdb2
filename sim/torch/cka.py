"""PIVOT Phase 1 on a torch model: CKA between encoder branches, effort outputs, fine-tuning.

Path-Score (docs/references.md#pivot-path-score; an assumption where the PIVOT paper is
silent): on a calibration batch of the
**pretrained** model, the redundancy of encoder ``j`` is

    r_j = CKA(MLP_{j-1}, A_j)

the CKA between the MLP branch output of encoder ``j-1`` and the attention branch output of
encoder ``j`` (high = the attention adds little: skip it).  :func:`cka_matrix` computes the
CKA values; the pure-numpy path selection (:func:`~sim.search.pivot.phase1.redundancy`,
``path_score``, ``best_paths``, ``random_paths``) lives in :mod:`sim.search.pivot.phase1`.

Options (defaults first): ``variant`` ``"linear"`` (Kornblith et al. 2019, whole calibration
batch) or ``"unbiased"`` (minibatch unbiased HSIC accumulated over batches, as the Yale lab's
CKA code); ``features`` ``"tokens"`` (every token of a sample flattened into one vector) or
``"cls"`` (the first token only).

Torch is imported inside the functions that need it, so :func:`class_mean_entropy` (numpy)
can be imported without torch.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from sim.errors import ConfigError

__all__ = [
    "cka_matrix", "linear_cka", "unbiased_cka", "class_mean_entropy", "effort_outputs",
    "finetune", "VARIANTS", "FEATURES",
]

log = logging.getLogger(__name__)

VARIANTS = ("linear", "unbiased")
FEATURES = ("tokens", "cls")


# -- CKA on Gram matrices -----------------------------------------------------------------

def _center(k):
    return k - k.mean(0, keepdim=True) - k.mean(1, keepdim=True) + k.mean()


def _hsic1(k, lg):
    """Unbiased HSIC of two Gram matrices whose diagonals are already zero (n >= 4)."""
    n = k.shape[0]
    ones = k.new_ones(n)
    kl = k @ lg
    t = kl.trace() + (k.sum() * lg.sum()) / ((n - 1) * (n - 2)) - 2.0 * (ones @ kl @ ones) / (
        n - 2)
    return t / (n * (n - 3))


def linear_cka(x, y) -> float:
    """Linear CKA of two feature matrices (n samples x p, n x q), biased estimator.

    ``CKA = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with column-centred X, Y.
    """
    import torch

    x, y = (torch.as_tensor(v, dtype=torch.float64).reshape(len(v), -1) for v in (x, y))
    k, lg = _center(x @ x.T), _center(y @ y.T)
    return float((k * lg).sum() / (k.norm() * lg.norm()))


def unbiased_cka(x, y, batch_size: int | None = None) -> float:
    """Minibatch CKA with the unbiased HSIC estimator, summed over batches of
    ``batch_size`` samples (all samples in one batch by default)."""
    import torch

    x, y = (torch.as_tensor(v, dtype=torch.float64).reshape(len(v), -1) for v in (x, y))
    b = batch_size or len(x)
    acc = torch.zeros(3, dtype=torch.float64)
    for s in range(0, len(x) - 3, b):
        xs, ys = x[s:s + b], y[s:s + b]
        if len(xs) < 4:
            break
        k, lg = xs @ xs.T, ys @ ys.T
        k.fill_diagonal_(0)
        lg.fill_diagonal_(0)
        acc += torch.stack([_hsic1(k, lg), _hsic1(k, k), _hsic1(lg, lg)])
    return float(acc[0] / (acc[1] * acc[2]).sqrt())


# -- features of a timm ViT -----------------------------------------------------------------

def _float(device):
    """float64 for the CKA sums, except on MPS (no float64 there)."""
    import torch

    return torch.float32 if device.type == "mps" else torch.float64


def _collect(model, x, features, batch_size):
    """Per minibatch, yield ``{("mlp", i) | ("attn", j) | ("embed", 0): (b, p) tensor}``."""
    import torch

    blocks = getattr(model, "blocks", None)
    if blocks is None or not len(blocks):
        raise ConfigError(f"CKA needs a timm-style ViT with `blocks`, not "
                          f"{type(model).__name__}")
    store, hooks = {}, []

    def keep(key):
        def hook(mod, args, out):
            t = out[0] if isinstance(out, tuple) else out
            t = t[:, 0] if features == "cls" else t
            store[key] = t.detach().reshape(t.shape[0], -1).to(_float(t.device))
        return hook

    def pre(mod, args):
        t = args[0][:, 0] if features == "cls" else args[0]
        store[("embed", 0)] = t.detach().reshape(t.shape[0], -1).to(_float(t.device))

    try:
        hooks.append(blocks[0].register_forward_pre_hook(pre))
        for i, blk in enumerate(blocks):
            hooks.append(blk.attn.register_forward_hook(keep(("attn", i))))
            hooks.append(blk.mlp.register_forward_hook(keep(("mlp", i))))
        was = model.training
        model.eval()
        dev = next(model.parameters()).device
        with torch.no_grad():
            for s in range(0, len(x), batch_size):
                store.clear()
                model(x[s:s + batch_size].to(dev))
                yield dict(store)
        model.train(was)
    finally:
        for h in hooks:
            h.remove()


def cka_matrix(model, x, *, variant: str = "linear", features: str = "tokens",
               batch_size: int = 64, device=None) -> dict:
    """CKA between every MLP output and every attention output of a ViT.

    Parameters
    ----------
    model : timm VisionTransformer (pretrained, every attention running)
    x : torch.Tensor, (images, labels) pair or iterable of batches
        Calibration images ``(n, C, H, W)``; ``n >= 4``.
    device : str, optional
        Where to run (the model is moved there; default: the model's device).
    variant : {"linear", "unbiased"}
        Linear CKA on the whole batch, or unbiased HSIC summed over minibatches of
        ``batch_size`` (>= 4) samples.
    features : {"tokens", "cls"}
        All tokens of a sample flattened, or the CLS (first) token.

    Returns
    -------
    dict with ``matrix`` (depth x depth, ``[i, j] = CKA(MLP_i, A_j)``), ``embed``
    (length depth, ``CKA(patch embedding, A_j)``) and the settings.
    """
    import torch

    from sim.torch.device import model_device

    if variant not in VARIANTS:
        raise ConfigError(f"variant must be one of {list(VARIANTS)}, not {variant!r}")
    dev = model_device(model, device)
    if not isinstance(x, torch.Tensor):
        from sim.torch.data import take

        x = take(x, None, dev)[0]
    if features not in FEATURES:
        raise ConfigError(f"features must be one of {list(FEATURES)}, not {features!r}")
    if len(x) < 4 or batch_size < 4:
        raise ConfigError(f"CKA needs >= 4 calibration samples and batch_size >= 4, not "
                          f"n = {len(x)}, batch_size = {batch_size}")
    depth = len(model.blocks)
    srcs = [("embed", 0)] + [("mlp", i) for i in range(depth)]
    dsts = [("attn", j) for j in range(depth)]
    if variant == "linear":
        parts = {}
        for feats in _collect(model, x, features, batch_size):
            for k, v in feats.items():
                parts.setdefault(k, []).append(v)
        grams = {}
        for k, v in parts.items():
            f = torch.cat(v)
            grams[k] = _center(f @ f.T)
        num = {(a, b): float((grams[a] * grams[b]).sum()) for a in srcs for b in dsts}
        norm = {k: float(g.norm()) for k, g in grams.items()}
    else:
        num = dict.fromkeys([(a, b) for a in srcs for b in dsts], 0.0)
        sq = dict.fromkeys(srcs + dsts, 0.0)
        for feats in _collect(model, x, features, batch_size):
            if len(next(iter(feats.values()))) < 4:
                continue
            grams = {}
            for k, f in feats.items():
                g = f @ f.T
                g.fill_diagonal_(0)
                grams[k] = g
            for k in sq:
                sq[k] += float(_hsic1(grams[k], grams[k]))
            for a in srcs:
                for b in dsts:
                    num[(a, b)] += float(_hsic1(grams[a], grams[b]))
        norm = {k: math.sqrt(max(v, 0.0)) for k, v in sq.items()}

    def cka(a, b):
        d = norm[a] * norm[b]
        return num[(a, b)] / d if d > 0 else float("nan")

    m = np.array([[cka(("mlp", i), ("attn", j)) for j in range(depth)]
                  for i in range(depth)])
    embed = np.array([cka(("embed", 0), ("attn", j)) for j in range(depth)])
    return {"matrix": m, "embed": embed, "variant": variant, "features": features,
            "n": int(len(x)), "batch_size": int(batch_size)}


# -- efforts from a torch model ---------------------------------------------------------------

def class_mean_entropy(logits, axis: int = -1) -> np.ndarray:
    """PIVOT's routing entropy ``H = -(1/C) sum_c p_c ln p_c`` (nats), ``p = softmax(logits)``.

    Computed from log-softmax, so it never gives NaN when a probability underflows
    (PIVOT's code computes ``p * log p`` and turns such inputs into NaN, i.e. errors).
    Pure numpy: works on logits from any framework.
    """
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
    p = np.exp(logp)
    return -(p * logp).sum(axis=axis) / z.shape[axis]


def effort_outputs(model, x, y=None, batch_size: int = 256, *, device=None,
                   amp: bool = False, limit=None):
    """Per-input class-mean entropy and correctness of ``model``.

    ``x, y`` are image and label tensors, or ``x`` is any iterable of ``(images, labels)``
    batches (a DataLoader) and ``y`` is None; ``limit`` caps the number of images.
    ``device`` moves the model (default: its own device); ``amp`` autocasts.
    Returns ``(entropy, correct, logits)`` as numpy arrays (entropy NaN-safe,
    :func:`class_mean_entropy`)."""
    import torch

    from sim.torch.data import batches
    from sim.torch.device import autocast, model_device, progress, to_numpy

    dev = model_device(model, device)
    data = (x, torch.as_tensor(y)) if y is not None else x
    was = model.training
    model.eval()
    zs, ys = [], []
    try:
        with torch.no_grad():
            for xb, yb in progress(batches(data, batch_size, limit), desc="effort"):
                with autocast(dev, amp):
                    zs.append(to_numpy(model(xb.to(dev)).float()).astype(np.float64))
                ys.append(np.asarray(yb.cpu() if hasattr(yb, "cpu") else yb))
    finally:
        model.train(was)
    if not zs:
        raise ConfigError("data = empty; must yield at least one (images, labels) batch")
    z = np.concatenate(zs)
    correct = z.argmax(1) == np.concatenate(ys)
    return class_mean_entropy(z), correct, z


def finetune(model, x, y, *, epochs: int = 10, lr: float = 1e-3, batch_size: int = 64,
             weight_decay: float = 0.05, entropy_weight: float = 1.0, teacher=None,
             kd_weight: float = 0.5, label_smoothing: float = 0.1, seed: int = 0,
             device=None, amp: bool = False, ema: float | None = None,
             freeze_tokens: bool = False):
    """Fine-tune an effort in place with PIVOT's entropy-aware loss (small, generic loop).

    ``loss = CE(z, y; label_smoothing) + kd_weight * KL(teacher || student)
    + entropy_weight * acc_batch * mean_i H_i``, with ``H_i`` the Shannon entropy of the
    softmax and ``acc_batch`` the (detached) batch accuracy.  PIVOT uses
    ``1000 * acc * mean(class-mean entropy)`` on 1000 classes, which is ``1.0 * acc *
    mean(Shannon entropy)``: the default keeps that strength for any class count.  The
    entropy term makes confident predictions cheap, which is what entropy routing needs.
    AdamW with a cosine schedule; no token loss, no augmentation (PIVOT's
    35-epoch ImageNet recipe: docs/references.md#pivot-models-and-fine-tuning).
    ``ema=DECAY`` keeps an exponential moving average of the weights (updated every step,
    float parameters and buffers) and copies it into the model at the end;
    ``freeze_tokens=True`` keeps the class token and position embedding fixed
    (``cls_token``, ``pos_embed``, ``reg_token``, ``dist_token`` where present).  Returns the
    per-epoch mean losses.  ``device`` moves the model (and the teacher) there; every batch
    is moved to it; ``amp`` autocasts the forward passes (with a gradient scaler on CUDA).
    """
    import torch
    import torch.nn.functional as F

    from sim.torch.device import autocast, model_device, progress

    dev = model_device(model, device)
    if teacher is not None:
        teacher.to(dev)
    scaler = torch.amp.GradScaler("cuda") if amp and dev.type == "cuda" else None
    if ema is not None and not 0.0 < ema < 1.0:
        raise ConfigError(f"ema = {ema!r}; must be a decay in (0, 1) or None")
    frozen = []
    if freeze_tokens:
        for name in ("cls_token", "pos_embed", "reg_token", "dist_token"):
            p = getattr(model, name, None)
            if isinstance(p, torch.nn.Parameter) and p.requires_grad:
                p.requires_grad_(False)
                frozen.append(p)
    shadow = ({k: v.detach().clone() for k, v in model.state_dict().items()
               if v.dtype.is_floating_point} if ema is not None else None)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr,
                            weight_decay=weight_decay)
    steps = epochs * math.ceil(len(x) / batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    y = torch.as_tensor(y)
    if teacher is not None:
        teacher.eval()
    model.train()
    history = []
    for _ in progress(range(epochs), total=epochs, desc="finetune"):
        perm = torch.randperm(len(x), generator=g)
        total, count = 0.0, 0
        for s in range(0, len(x), batch_size):
            idx = perm[s:s + batch_size]
            xb, yb = x[idx].to(dev), y[idx].to(dev)
            with autocast(dev, amp):
                z = model(xb)
            z = z.float()
            loss = F.cross_entropy(z, yb, label_smoothing=label_smoothing)
            logp = z.log_softmax(-1)
            if teacher is not None and kd_weight:
                with torch.no_grad(), autocast(dev, amp):
                    pt = teacher(xb).float().softmax(-1)
                loss = loss + kd_weight * F.kl_div(logp, pt, reduction="batchmean")
            if entropy_weight:
                h = -(logp.exp() * logp).sum(-1)
                acc = (z.argmax(-1) == yb).float().mean().detach()
                loss = loss + entropy_weight * acc * h.mean()
            opt.zero_grad()
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            sched.step()
            if shadow is not None:
                with torch.no_grad():
                    for k, v in model.state_dict().items():
                        if k in shadow:
                            shadow[k].mul_(ema).add_(v.detach(), alpha=1.0 - ema)
            total += loss.item() * len(idx)
            count += len(idx)
        history.append(total / count)
    if shadow is not None:
        model.load_state_dict({**model.state_dict(), **shadow})
    for p in frozen:
        p.requires_grad_(True)
    model.eval()
    return history
