"""A tiny real ViT: timm ``VisionTransformer`` trained on scikit-learn's 8x8 digits.

Gives the optimizers (POMT, PIVOT, OPTIN) an honest accuracy to measure without any
download: ``load_digits`` ships inside scikit-learn.  The model has 16 patch tokens of
2x2 pixels plus CLS (17 tokens), 6 blocks of width 64 with 4 heads of 16 and an MLP of 128.
Training is seeded and runs on the CPU in tens of seconds; the weights are cached under
``$VITSIM_CACHE`` (default ``~/.cache/vitsim``) so later calls load them.

>>> model, data = load_digits_vit(seed=0)          # doctest: +SKIP
>>> evaluate(model, data)                          # doctest: +SKIP
0.947...
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sim.errors import ConfigError

__all__ = [
    "DIGITS_CONFIG", "DigitsData", "cache_dir", "load_digits_data", "build_digits_vit",
    "train_digits_vit", "load_digits_vit", "evaluate", "deterministic", "recipe",
    "recipe_key", "weights_checksum",
]

log = logging.getLogger(__name__)

#: ``timm.models.vision_transformer.VisionTransformer`` arguments of the digits ViT.
DIGITS_CONFIG = dict(img_size=8, patch_size=2, in_chans=1, num_classes=10, embed_dim=64,
                     depth=6, num_heads=4, mlp_ratio=2.0)
#: Training recipe (AdamW + one-cycle LR, no augmentation); the cache key hashes it.
TRAIN_DEFAULTS = dict(epochs=20, batch_size=64, lr=2e-3, weight_decay=0.05)
#: Threads used while training: pinned so the weights do not depend on the machine's cores.
TRAIN_THREADS = 1
_CACHE_VERSION = 2


@dataclass(frozen=True)
class DigitsData:
    """Normalised digits images ``(N, 1, 8, 8)`` (float32) and labels (int64).

    The split is stratified and seeded; pixels are scaled by the training-set mean and
    standard deviation (``mean``, ``std``, in units of the raw 0..16 grey levels / 16).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    mean: float
    std: float
    seed: int


def cache_dir() -> Path:
    """``$VITSIM_CACHE`` or ``~/.cache/vitsim`` (created on demand)."""
    return Path(os.environ.get("VITSIM_CACHE") or Path.home() / ".cache" / "vitsim")


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, not {seed!r}")


def load_digits_data(seed: int = 0, test_fraction: float = 0.2) -> DigitsData:
    """scikit-learn's 1,797 digits, split train/test (stratified, ``random_state=seed``).

    Parameters
    ----------
    seed : int
        Split seed.
    test_fraction : float
        Fraction of images held out for testing, in (0, 1); default 0.2 (360 images).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    _check_seed(seed)
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction must be in (0, 1), not {test_fraction!r}")
    raw = load_digits()
    x = raw.images.astype(np.float32) / 16.0
    xtr, xte, ytr, yte = train_test_split(x, raw.target, test_size=test_fraction,
                                          random_state=seed, stratify=raw.target)
    mean, std = float(xtr.mean()), float(xtr.std())

    def prep(a):
        return torch.from_numpy((a - mean) / std).float()[:, None]

    return DigitsData(prep(xtr), torch.from_numpy(ytr).long(), prep(xte),
                      torch.from_numpy(yte).long(), mean, std, seed)


def build_digits_vit(seed: int = 0):
    """A randomly initialised digits ViT (``DIGITS_CONFIG``), seeded."""
    from timm.models.vision_transformer import VisionTransformer

    _check_seed(seed)
    torch.manual_seed(seed)
    model = VisionTransformer(**DIGITS_CONFIG)
    model.vitsim_name = "digits_vit"
    return model


def evaluate(model, data: DigitsData, batch_size: int = 512, device=None) -> float:
    """Top-1 accuracy (fraction in [0, 1]) of ``model`` on ``data``'s test split.

    ``device`` (``"cpu"``, ``"cuda"``, ...) moves the model there first; by default the
    batches go to the device the model's parameters are on.
    """
    from sim.torch.device import model_device

    dev = model_device(model, device)
    was_training = model.training
    model.eval()
    correct = 0
    try:
        with torch.no_grad():
            for i in range(0, len(data.y_test), batch_size):
                logits = model(data.x_test[i:i + batch_size].to(dev))
                y = data.y_test[i:i + batch_size].to(dev)
                correct += int((logits.argmax(1) == y).sum().item())
    finally:
        model.train(was_training)
    return correct / len(data.y_test)


@contextlib.contextmanager
def deterministic(threads: int = TRAIN_THREADS):
    """Pin torch to ``threads`` intra-op threads and deterministic algorithms, then restore.

    Floating-point reductions split over a different number of threads sum in a different
    order, so training with 1 and 2 threads gave different weights (up to 0.09 apart);
    pinning the count makes the result independent of the machine.
    """
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.set_num_threads(old_threads)


def recipe(seed: int = 0, **overrides) -> dict:
    """The full training recipe (model, data split, hyper-parameters, threads, seed)."""
    hp = dict(TRAIN_DEFAULTS)
    hp.update({k: v for k, v in overrides.items() if v is not None})
    return dict(version=_CACHE_VERSION, model=DIGITS_CONFIG, train=hp, seed=seed,
                threads=TRAIN_THREADS, test_fraction=0.2)


def recipe_key(rec: dict) -> str:
    """Short stable hash of a :func:`recipe` (names the cache file)."""
    return hashlib.sha256(json.dumps(rec, sort_keys=True).encode()).hexdigest()[:16]


def weights_checksum(model) -> str:
    """SHA-256 of a model's state dict (names and raw float bytes, in order)."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def train_digits_vit(data: DigitsData, seed: int = 0, epochs: int | None = None,
                     batch_size: int | None = None, lr: float | None = None,
                     weight_decay: float | None = None):
    """Train a fresh digits ViT on ``data`` (AdamW, one-cycle LR, cross-entropy).

    Runs on the CPU under :func:`deterministic` (``TRAIN_THREADS`` threads), so the same
    recipe gives bit-identical weights whatever the caller's thread setting.

    Returns
    -------
    model : timm VisionTransformer
        In eval mode; ``model.vitsim_train_info`` holds ``accuracy`` (test, fraction),
        ``train_seconds`` (wall clock, s), ``epochs`` and ``seed``.
    """
    hp = dict(TRAIN_DEFAULTS)
    hp.update({k: v for k, v in dict(epochs=epochs, batch_size=batch_size, lr=lr,
                                     weight_decay=weight_decay).items() if v is not None})
    if not isinstance(hp["epochs"], int) or hp["epochs"] < 1:
        raise ConfigError(f"epochs must be an integer >= 1, not {hp['epochs']!r}")
    with deterministic():
        return _train(data, seed, hp)


def _train(data, seed, hp):
    model = build_digits_vit(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
    n, bs = len(data.y_train), hp["batch_size"]
    steps = hp["epochs"] * -(-n // bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=hp["lr"], total_steps=steps,
                                                pct_start=0.1)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    model.train()
    for epoch in range(hp["epochs"]):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        log.debug("digits epoch %d: loss %.4f", epoch, loss.detach().item())
    seconds = time.perf_counter() - t0
    model.eval()
    acc = evaluate(model, data)
    model.vitsim_train_info = dict(accuracy=acc, train_seconds=seconds,
                                   epochs=hp["epochs"], seed=seed)
    log.info("digits ViT trained in %.1f s: test accuracy %.4f", seconds, acc)
    return model


def load_digits_vit(seed: int = 0, cache: str | os.PathLike | None = None,
                    retrain: bool = False, epochs: int | None = None):
    """The trained digits ViT and its data, from the cache or trained (then cached).

    Parameters
    ----------
    seed : int
        Seed of the split, the initialisation and the batch order.
    cache : path, optional
        Cache directory (default :func:`cache_dir`).
    retrain : bool
        Ignore a cached model.
    epochs : int, optional
        Training epochs (default ``TRAIN_DEFAULTS["epochs"]``, 20).

    Returns
    -------
    (model, data) : (timm VisionTransformer, DigitsData)
        The model is in eval mode; ``model.vitsim_train_info`` has the test accuracy and
        the training time of the run that produced the weights.
    """
    _check_seed(seed)
    epochs = TRAIN_DEFAULTS["epochs"] if epochs is None else epochs
    data = load_digits_data(seed)
    folder = Path(cache) if cache is not None else cache_dir()
    path = folder / f"digits_vit_{recipe_key(recipe(seed, epochs=epochs))}.pt"
    if not retrain:
        model = _load_cached(path, seed)
        if model is not None:
            return model, data
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / (path.name + ".lock")):
        if not retrain:  # another process may have trained it while we waited
            model = _load_cached(path, seed)
            if model is not None:
                return model, data
        model = train_digits_vit(data, seed=seed, epochs=epochs)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save({"state_dict": model.state_dict(), "info": model.vitsim_train_info,
                    "recipe": recipe(seed, epochs=epochs)}, tmp)
        os.replace(tmp, path)  # readers see the old file or the whole new one
    return model, data


@contextlib.contextmanager
def _locked(lock_path: Path):
    """Exclusive ``fcntl`` lock on ``lock_path`` (no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _load_cached(path: Path, seed: int):
    if not path.exists():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        model = build_digits_vit(seed)
        model.load_state_dict(blob["state_dict"])
        model.vitsim_train_info = dict(blob["info"])
        model.eval()
        log.debug("digits ViT loaded from %s", path)
        return model
    except Exception as err:  # a stale or truncated file: train again
        log.warning("ignoring unreadable cache %s (%s); retraining", path, err)
        return None
