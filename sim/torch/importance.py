"""OPTIN trajectory importance of attention heads and MLP neurons (needs torch).

For a unit j of block i (a head, or a hidden neuron of the MLP), mask it, run the model on
one calibration batch and score

    I[i, j] = sum_{z > i} L_MD(F'_z, F_z)  +  KD term(logits', logits)

where F_z is the embedding entering block z (``F_L`` = the final-norm output), i.e. only
the *trajectory* after the masked unit counts (Khaki & Plataniotis, ICLR 2024, "OPTIN").

* L_MD (manifold distillation): L2-normalise every token feature, flatten batch x tokens,
  keep ``gram_rows`` rows (one seeded sample shared by every unit), and take the squared
  Frobenius distance of the Gram matrices ``f f^T`` (``aggregate="mean"`` or ``"sum"``).
  It is computed as ``|A'|^2 + |A|^2 - 2|C|^2`` with the d x d matrices ``A = f^T f``,
  ``C = f'^T f`` in float64 -- equal to the Gram form, cheaper when d < rows.
* KD: ``T^2 * KL(softmax(z) || softmax(z'))`` summed over the batch, clamped >= 0; like
  the released code the logits are not divided by T unless ``soften_logits``.
* Combination, ``I = MD + s * KD``:

  - ``balance="unit"`` (default; the released code's per-unit magnitude balancing): units
    are visited in order (heads layer by layer, then neurons, each with its own history);
    when a unit's MD exceeds its KD, ``s = 10^trunc(log10(MD / KD) - log10(lambda))`` and
    ``s`` joins the history; otherwise (or when a term is 0) ``s`` is the mean of the
    history so far (1 when empty).
  - ``balance="global"`` (``True``): one ``s = 10^trunc(log10(sum MD / (lambda sum KD)))``
    over all units.
  - ``balance=False``: the paper's ``s = lambda``.

  The raw MD and KD arrays are kept, so other combinations need no new forward passes.

Masking is gradient-free and batched: block i's input is computed once, repeated for
``chunk`` masked copies along the batch dimension, and a forward pre-hook multiplies the
input of ``attn.proj`` (the concatenated head outputs) or of ``mlp.fc2`` (the activated
hidden units; GELU(0) = 0, so this equals zeroing the pre-activation) by one mask per copy.
Blocks < i are never re-run.  Works on timm ``VisionTransformer`` modules
(``patch_embed``, ``_pos_embed``, ``blocks[i].attn.proj``, ``blocks[i].mlp.fc2``, ``norm``,
``forward_head``).  Results are cached on disk, keyed by a hash of the weights, the
calibration batch and the options.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sim.errors import ConfigError
from sim.torch.balance import combine, unit_scales  # noqa: F401 - re-exported
from sim.torch.device import (
    acc_dtype,
    autocast,
    log_cost,
    model_device,
    time_pass,
    to_numpy,
)

__all__ = ["ImportanceOptions", "Importance", "trajectory_importance", "combine",
           "prune_model", "default_cache_dir", "weights_hash", "forward_embeddings",
           "md_loss", "kd_loss"]

log = logging.getLogger(__name__)
_VERSION = 1  # bump when the scores change meaning (invalidates caches)


@dataclass(frozen=True)
class ImportanceOptions:
    """Knobs of the trajectory importance.

    Attributes
    ----------
    lam : float
        lambda, weight of the KD term (see ``balance``).  10 as in OPTIN.
    temperature : float
        T of the KD term (4 as in OPTIN).
    gram_rows : int
        Rows (token features) sampled for the Gram matrices (768 as in OPTIN; capped at
        batch x tokens).
    embeddings : {"norm", "residual"}
        ``norm``: the LayerNorm-ed input of each later block (``blocks[z].norm1``) and the
        final-norm output, as OPTIN's ``layernorm_before``; ``residual``: the raw residual
        stream between blocks.
    aggregate : {"mean", "sum"}
        Reduction of the squared Gram difference.
    balance : {"unit", "global", False}
        Power-of-ten magnitude balancing of KD against MD per unit (released code), once
        over all units (``"global"`` or ``True``), or none (``MD + lambda * KD``).
    soften_logits : bool
        Divide logits by T inside the softmax (textbook KD; the released code does not).
    seed : int
        Seed of the Gram row sample.
    chunk : int
        Masked copies per forward pass (memory ~ chunk x batch activations).
    """

    lam: float = 10.0
    temperature: float = 4.0
    gram_rows: int = 768
    embeddings: str = "norm"
    aggregate: str = "mean"
    balance: object = "unit"
    soften_logits: bool = False
    seed: int = 0
    chunk: int = 32

    def validate(self):
        p = []
        if not self.lam >= 0:
            p.append(f"lam must be >= 0, not {self.lam!r}")
        if not self.temperature > 0:
            p.append(f"temperature must be > 0, not {self.temperature!r}")
        if not isinstance(self.gram_rows, int) or self.gram_rows < 2:
            p.append(f"gram_rows must be an integer >= 2, not {self.gram_rows!r}")
        if self.embeddings not in ("norm", "residual"):
            p.append(f"embeddings must be 'norm' or 'residual', not {self.embeddings!r}")
        if self.aggregate not in ("mean", "sum"):
            p.append(f"aggregate must be 'mean' or 'sum', not {self.aggregate!r}")
        if self.balance not in ("unit", "global", True, False):
            p.append(f"balance must be 'unit', 'global' or False, not {self.balance!r}")
        if not isinstance(self.chunk, int) or self.chunk < 1:
            p.append(f"chunk must be an integer >= 1, not {self.chunk!r}")
        if p:
            raise ConfigError(p)
        return self


@dataclass
class Importance:
    """Importance tables (higher = more important) and the raw terms behind them.

    ``heads`` (L, H) and ``neurons`` (L, M) are the combined scores; ``md_*``/``kd_*``
    the raw trajectory MD and KD terms; ``kd_scale`` the factor applied to KD (the mean
    factor for ``balance="unit"``).
    """

    heads: np.ndarray
    neurons: np.ndarray
    md_heads: np.ndarray
    kd_heads: np.ndarray
    md_neurons: np.ndarray
    kd_neurons: np.ndarray
    kd_scale: float
    options: ImportanceOptions
    key: str = ""
    from_cache: bool = False


def default_cache_dir() -> Path:
    """``$VITSIM_CACHE/optin`` or ``~/.cache/vitsim/optin``."""
    root = os.environ.get("VITSIM_CACHE") or Path.home() / ".cache" / "vitsim"
    return Path(root) / "optin"


def weights_hash(model: torch.nn.Module) -> str:
    """sha256 of every parameter/buffer (name, shape, dtype, bytes), in name order."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{tuple(t.shape)}|{t.dtype}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _check_model(model):
    need = ("patch_embed", "_pos_embed", "blocks", "norm", "forward_head")
    missing = [n for n in need if not hasattr(model, n)]
    if missing:
        raise ConfigError(f"trajectory importance needs a timm VisionTransformer; the model "
                          f"lacks {missing}")
    for i, blk in enumerate(model.blocks):
        if not isinstance(getattr(blk.attn, "norm", torch.nn.Identity()), torch.nn.Identity):
            raise ConfigError(f"blocks[{i}].attn.norm is not Identity: masking the proj "
                              "input would not zero a head")
        if not isinstance(getattr(blk.mlp, "norm", torch.nn.Identity()), torch.nn.Identity):
            raise ConfigError(f"blocks[{i}].mlp.norm is not Identity: masking the fc2 input "
                              "would not zero a neuron")


def _embed(model, x):
    x = model.patch_embed(x)
    x = model._pos_embed(x)
    x = model.patch_drop(x) if hasattr(model, "patch_drop") else x
    return model.norm_pre(x) if hasattr(model, "norm_pre") else x


def _emb(model, z, x, kind):
    """Embedding F_z from the residual stream ``x`` entering block z (z = L: the end)."""
    if kind == "residual":
        return x
    return model.norm(x) if z == len(model.blocks) else model.blocks[z].norm1(x)


@torch.no_grad()
def forward_embeddings(model, inputs, embeddings: str = "norm"):
    """Unmasked run: ``(stream, F, logits)``; ``stream[z]`` enters block z (z = 0..L),
    ``F[z]`` is the embedding of z (``F[0]`` unused), logits of the classifier."""
    x = _embed(model, inputs)
    stream = [x]
    for blk in model.blocks:
        x = blk(x)
        stream.append(x)
    L = len(model.blocks)
    feats = [None] + [_emb(model, z, stream[z], embeddings) for z in range(1, L + 1)]
    return stream, feats, model.forward_head(model.norm(x))


def _rows(feat, idx):
    """Normalised token features, flattened over (batch, tokens), rows ``idx``: (..., S, d)."""
    f = F.normalize(feat, dim=-1)
    return f.reshape(*f.shape[:-3], -1, f.shape[-1])[..., idx, :].to(acc_dtype(f.device))


def md_loss(f_masked, f_teacher, aggregate="mean"):
    """Manifold-distillation loss of row-sampled features ``(..., S, d)`` (Gram form)."""
    gs = f_masked @ f_masked.transpose(-1, -2)
    gt = f_teacher @ f_teacher.transpose(-1, -2)
    d = (gt - gs).pow(2)
    return d.sum((-1, -2)) if aggregate == "sum" else d.mean((-1, -2))


def kd_loss(logits_masked, logits_teacher, temperature=4.0, soften=False):
    """``T^2 * KL(softmax(teacher) || softmax(masked))`` summed over the batch, >= 0."""
    t = temperature
    zs, zt = (logits_masked / t, logits_teacher / t) if soften else (logits_masked,
                                                                     logits_teacher)
    dt = acc_dtype(zs.device)
    ls, lt = F.log_softmax(zs.to(dt), -1), F.log_softmax(zt.to(dt), -1)
    kl = (lt.exp() * (lt - ls)).sum((-1, -2)) * t * t
    return kl.clamp(min=0)


class _Masker:
    """Forward pre-hook multiplying a module's input by one mask per copy."""

    def __init__(self, module, copies, width, group=1):
        self.mask = None
        self.copies, self.width, self.group = copies, width, group
        self.handle = module.register_forward_pre_hook(self)

    def __call__(self, module, args):
        x = args[0]
        u = self.mask.shape[0]
        shaped = x.reshape(u, -1, x.shape[-2], self.width, self.group)
        out = (shaped * self.mask[:, None, None, :, None]).reshape(x.shape)
        return (out,) + tuple(args[1:])


@torch.no_grad()
def _score_layer(model, layer, kind, stream, teacher, logits_t, idx, opts, amp=False,
                 bar=None):
    """MD and KD of every unit of ``kind`` ("heads"/"neurons") in block ``layer``."""
    blk = model.blocks[layer]
    L = len(model.blocks)
    if kind == "heads":
        n_units, group, module = blk.attn.num_heads, blk.attn.head_dim, blk.attn.proj
    else:
        n_units, group, module = blk.mlp.fc2.in_features, 1, blk.mlp.fc2
    md = np.zeros(n_units)
    kd = np.zeros(n_units)
    x_in = stream[layer]
    B = x_in.shape[0]
    hook = _Masker(module, opts.chunk, n_units, group)
    try:
        for start in range(0, n_units, opts.chunk):
            dev = x_in.device
            units = torch.arange(start, min(start + opts.chunk, n_units), device=dev)
            u = len(units)
            mask = torch.ones(u, n_units, dtype=x_in.dtype, device=dev)
            mask[torch.arange(u, device=dev), units] = 0
            hook.mask = mask
            with autocast(dev, amp):
                y = blk(x_in.repeat(u, 1, 1))
            total = torch.zeros(u, dtype=acc_dtype(dev), device=dev)
            for z in range(layer + 1, L + 1):
                f = _emb(model, z, y, opts.embeddings).reshape(u, B, *y.shape[1:])
                total += _md_fast(_rows(f, idx), teacher[z], opts.aggregate)
                if z < L:
                    with autocast(dev, amp):
                        y = model.blocks[z](y)
            with autocast(dev, amp):
                logits = model.forward_head(model.norm(y)).reshape(u, B, -1)
            md[start:start + u] = to_numpy(total)
            kd[start:start + u] = to_numpy(kd_loss(logits, logits_t, opts.temperature,
                                                   opts.soften_logits))
            if bar is not None:
                bar.update(u)
    finally:
        hook.handle.remove()
    return md, kd


def _md_fast(fs, teacher, aggregate):
    """MD of masked rows ``fs`` (U, S, d) against the teacher, via d x d matrices."""
    ft, tt_norm = teacher
    s = fs.shape[-2]
    if fs.shape[-1] >= s:  # the Gram form is the cheaper one
        out = md_loss(fs, ft.expand_as(fs), "sum")
    else:
        a = fs.transpose(-1, -2) @ fs
        c = fs.transpose(-1, -2) @ ft
        out = a.pow(2).sum((-1, -2)) + tt_norm - 2 * c.pow(2).sum((-1, -2))
    out = out.clamp(min=0)
    return out if aggregate == "sum" else out / (s * s)


def _cache_key(model, inputs, opts):
    h = hashlib.sha256()
    h.update(weights_hash(model).encode())
    x = inputs.detach().cpu().contiguous()
    h.update(f"{tuple(x.shape)}|{x.dtype}".encode())
    h.update(x.view(torch.uint8).numpy().tobytes())
    raw = {k: v for k, v in dataclasses.asdict(opts).items()
           if k not in ("lam", "balance", "chunk")}  # these do not change the raw terms
    h.update(json.dumps({"v": _VERSION, **raw}, sort_keys=True).encode())
    return h.hexdigest()[:32]


def trajectory_importance(model, inputs, options: ImportanceOptions | None = None, *,
                          cache_dir=None, use_cache: bool = True,
                          progress=None, device=None, amp: bool = False,
                          show_progress=None) -> Importance:
    """Trajectory importance of every head and MLP neuron of a timm ViT.

    Parameters
    ----------
    model : timm VisionTransformer
        Used in eval mode; not modified (hooks are removed afterwards).
    inputs : Tensor (B, C, H, W), (images, labels) pair or iterable of such batches
        The calibration images (one batch; an iterable is concatenated).
    options : ImportanceOptions
    cache_dir : path, optional
        Where to cache (default :func:`default_cache_dir`); ``use_cache=False`` disables.
    progress : callable, optional
        ``progress(done_layers, total_layers)`` after each block's units are scored.
    device : str or torch.device, optional
        Where to run (``"cpu"``, ``"cuda"``, ``"mps"``); the model is moved there and every
        tensor stays there.  Default: the model's device.
    amp : bool
        Autocast the block forwards (bfloat16 on the CPU, float16 elsewhere); the MD/KD
        reductions stay in float64 (float32 on MPS, which has no float64).
    show_progress : bool, optional
        tqdm bar over the units with an ETA (default: when stderr is a terminal).

    Returns
    -------
    Importance
    """
    opts = (options or ImportanceOptions()).validate()
    _check_model(model)
    dev = model_device(model, device)
    if not isinstance(inputs, torch.Tensor):
        from sim.torch.data import take

        inputs = take(inputs, None, dev)[0]
    inputs = inputs.to(dev)
    was_training = model.training
    model.eval()
    try:
        key = _cache_key(model, inputs, opts)
        path = Path(cache_dir or default_cache_dir()) / f"{key}.npz"
        if use_cache and path.exists():
            with np.load(path) as z:
                raw = {k: z[k] for k in ("md_heads", "kd_heads", "md_neurons", "kd_neurons")}
            log.info("optin importance: cache hit %s", path)
            return _result(raw, opts, key, True)
        raw = _compute(model, inputs, opts, progress, amp, show_progress)
        if use_cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, **raw)
            tmp.replace(path)
        return _result(raw, opts, key, False)
    finally:
        model.train(was_training)


def _result(raw, opts, key, cached):
    heads, neurons, scale = combine(raw["md_heads"], raw["kd_heads"], raw["md_neurons"],
                                    raw["kd_neurons"], opts)
    return Importance(heads, neurons, raw["md_heads"], raw["kd_heads"], raw["md_neurons"],
                      raw["kd_neurons"], scale, opts, key, cached)


def _compute(model, inputs, opts, progress, amp=False, show_progress=None):
    from sim.torch.device import progress as bar_of

    dev = inputs.device
    with autocast(dev, amp):
        stream, feats, logits_t = forward_embeddings(model, inputs, opts.embeddings)
    stream = [s.float() for s in stream]
    feats = [None] + [f.float() for f in feats[1:]]
    logits_t = logits_t.float()
    B, N, _ = stream[0].shape
    rows = min(opts.gram_rows, B * N)
    gen = torch.Generator().manual_seed(opts.seed)
    idx = torch.randperm(B * N, generator=gen)[:rows].to(dev)
    L = len(model.blocks)
    units = sum(b.attn.num_heads + b.mlp.fc2.in_features for b in model.blocks)

    def one_pass():  # masked copies of block 0 through the whole trajectory
        with torch.no_grad(), autocast(dev, amp):
            y = stream[0][:B].repeat(min(opts.chunk, units), 1, 1)
            for b in model.blocks:
                y = b(y)
    per_copy = time_pass(one_pass, 1) / min(opts.chunk, units)  # s, all L blocks
    # a unit of block i runs blocks i..L-1: on average (L + 1) / (2 L) of the full depth
    log_cost("optin importance", units, B, per_copy * (L + 1) / (2 * L), B)
    bar = bar_of(range(units), total=units, desc="optin units", enable=show_progress)
    bar = bar if hasattr(bar, "update") else None
    teacher = [None]
    for z in range(1, L + 1):
        ft = _rows(feats[z], idx)
        teacher.append((ft, (ft.transpose(-1, -2) @ ft).pow(2).sum()))
    out = {"md_heads": [], "kd_heads": [], "md_neurons": [], "kd_neurons": []}
    for layer in range(L):
        for kind in ("heads", "neurons"):
            md, kd = _score_layer(model, layer, kind, stream, teacher, logits_t, idx, opts,
                                  amp, bar)
            out[f"md_{kind}"].append(md)
            out[f"kd_{kind}"].append(kd)
        log.info("optin importance: block %d/%d scored", layer + 1, L)
        if progress is not None:
            progress(layer + 1, L)
    if bar is not None:
        bar.close()
    return {k: np.stack(v) for k, v in out.items()}


def prune_model(model, selection):
    """The structurally pruned model of an OPTIN :class:`~sim.search.optin.Selection`.

    Heads via :func:`sim.torch.transforms.prune_heads` (a layer keeping no head skips
    its attention, :func:`~sim.torch.transforms.skip_attention`), neurons via
    :func:`~sim.torch.transforms.prune_mlp`; a layer keeping everything is untouched.
    The input model is not modified.
    """
    from sim.torch.transforms import prune_heads, prune_mlp, skip_attention

    heads = {i: list(h) for i, h in enumerate(selection.heads)
             if h and len(h) < model.blocks[i].attn.num_heads}
    skipped = [i for i, h in enumerate(selection.heads) if not h]
    neurons = {i: list(n) for i, n in enumerate(selection.neurons)
               if len(n) < model.blocks[i].mlp.fc1.out_features}
    out = prune_heads(model, heads) if heads else model
    if skipped:
        out = skip_attention(out, skipped)
    if neurons:
        out = prune_mlp(out, neurons)
    if out is model:
        import copy

        out = copy.deepcopy(model)
    return out
