"""Images in: ImageFolder trees with the model's own preprocessing, or any iterable.

Every torch entry point takes ``data`` as

* an iterable of ``(images, labels)`` batches (a ``DataLoader``, a list of pairs), or
* a single ``(images, labels)`` pair of tensors (sliced into batches here).

:func:`image_folder` opens an ImageFolder tree (``DIR/<class>/<image>``) with the
preprocessing of the model's timm data config (resize, centre crop, normalisation; the
input size follows the model's ``patch_embed.img_size``) and checks it before any long work:
a missing or empty directory, too few images for the request, or an image that does not
decode is a one-line :class:`~sim.errors.ConfigError`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from sim.errors import ConfigError

__all__ = ["image_folder", "batches", "take", "accuracy", "describe", "check_count",
           "data_transform"]

log = logging.getLogger(__name__)


def check_count(name: str, n, allow_none: bool = True):
    """``n`` is None (all) or an integer >= 1, else a one-line ConfigError."""
    if n is None and allow_none:
        return n
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"{name} = {n!r}; must be an integer >= 1")
    return n


def data_transform(model):
    """The eval transform of ``model``'s timm data config at the model's input size."""
    from timm.data import create_transform, resolve_data_config

    cfg = resolve_data_config({}, model=model)
    pe = getattr(model, "patch_embed", None)
    size = getattr(pe, "img_size", None)
    if size is not None:
        chans = getattr(getattr(pe, "proj", None), "in_channels", cfg["input_size"][0])
        cfg["input_size"] = (chans, *tuple(size))
    return create_transform(**cfg), cfg


def image_folder(root, model, *, n=None, seed: int = 0, offset: int = 0, verify=True):
    """An ImageFolder ``Dataset`` of ``root`` (``n`` images, seeded sample, after ``offset``).

    Parameters
    ----------
    root : path
        ``root/<class>/<image>``; classes sorted by name (ImageNet's folder order gives the
        ImageNet label indices).
    model : torch.nn.Module
        Supplies the preprocessing (:func:`data_transform`).
    n : int, optional
        Number of images (a seeded random subset; all by default).
    offset : int
        Skip this many images of the seeded order first (disjoint calibration and
        validation subsets: calibration takes ``[0, calib)``, validation the next ``val``).
    verify : bool
        Decode every selected image now (a broken file is a ConfigError, not a crash
        hours later).
    """
    from torchvision.datasets import ImageFolder

    path = Path(root)
    if not path.is_dir():
        raise ConfigError(f"data = {str(path)!r}; must be an existing ImageFolder directory")
    check_count("n", n)
    transform, _ = data_transform(model)
    try:
        ds = ImageFolder(str(path), transform=transform)
    except (FileNotFoundError, RuntimeError) as err:
        raise ConfigError(f"data = {str(path)!r}; must hold class folders with images "
                          f"({str(err).splitlines()[0][:100]})") from None
    total = len(ds)
    want = total - offset if n is None else n
    if want < 1 or offset + want > total:
        raise ConfigError(f"data = {str(path)!r}; must hold at least {offset + max(want, 1)} "
                          f"images, has {total}")
    order = torch.randperm(total, generator=torch.Generator().manual_seed(seed)).tolist()
    idx = order[offset:offset + want]
    sub = torch.utils.data.Subset(ds, idx)
    if verify:
        from PIL import Image

        for i in idx:
            file = ds.samples[i][0]
            try:
                with Image.open(file) as im:
                    im.convert("RGB").load()
            except Exception as err:  # noqa: BLE001 - PIL raises many types
                raise ConfigError(f"data = {file!r}; must be a decodable image "
                                  f"({type(err).__name__})") from None
    sub.vitsim_data = {"dir": str(path), "images": want, "classes": len(ds.classes),
                       "offset": offset, "seed": seed}
    return sub


def loader(dataset, batch_size: int = 64, workers: int = 0):
    """A non-shuffling ``DataLoader`` over ``dataset``."""
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False,
                                       num_workers=workers)


def _is_pair(data):
    return (isinstance(data, (tuple, list)) and len(data) == 2
            and all(isinstance(t, torch.Tensor) for t in data)
            and data[0].dim() >= 2 and len(data[0]) == len(data[1]))


def batches(data, batch_size: int = 64, limit=None):
    """Yield ``(images, labels)`` batches of ``data`` (pair, Dataset or iterable),
    stopping after ``limit`` images (the last batch is cut)."""
    if _is_pair(data):
        x, y = data
        n = len(x) if limit is None else min(limit, len(x))
        for s in range(0, n, batch_size):
            yield x[s:min(s + batch_size, n)], y[s:min(s + batch_size, n)]
        return
    if isinstance(data, torch.utils.data.Dataset) and hasattr(data, "__len__"):
        data = loader(data, batch_size)
    seen = 0
    for item in data:
        if not (isinstance(item, (tuple, list)) and len(item) >= 2):
            raise ConfigError(f"data batch = {type(item).__name__}; must be (images, labels)")
        x, y = item[0], torch.as_tensor(item[1])
        if limit is not None and seen + len(x) > limit:
            x, y = x[:limit - seen], y[:limit - seen]
        if len(x):
            yield x, y
        seen += len(x)
        if limit is not None and seen >= limit:
            return


def take(data, n=None, device="cpu", batch_size: int = 64):
    """The first ``n`` images and labels of ``data`` as two tensors on ``device``."""
    check_count("n", n)
    xs, ys = [], []
    for x, y in batches(data, batch_size, n):
        xs.append(x)
        ys.append(y)
    if not xs:
        raise ConfigError("data = empty; must yield at least one (images, labels) batch")
    got = sum(len(x) for x in xs)
    if n is not None and got < n:
        raise ConfigError(f"data images = {got}; must be at least {n}")
    return torch.cat(xs).to(device), torch.cat(ys).long().to(device)


@torch.no_grad()
def accuracy(model, data, *, device=None, amp: bool = False, limit=None,
             batch_size: int = 64, desc: str = "accuracy") -> float:
    """Top-1 accuracy (fraction in [0, 1]) of ``model`` over ``data``, on ``device``."""
    from sim.torch.device import autocast, model_device, progress

    dev = model_device(model, device)
    was = model.training
    model.eval()
    correct = total = 0
    try:
        for x, y in progress(batches(data, batch_size, limit), desc=desc):
            x, y = x.to(dev), y.to(dev)
            with autocast(dev, amp):
                z = model(x)
            correct += int((z.argmax(-1) == y).sum().item())
            total += len(y)
    finally:
        model.train(was)
    if total == 0:
        raise ConfigError("data = empty; must yield at least one image")
    return correct / total


def describe(data) -> dict | str:
    """What ``data`` was, for JSON results (ImageFolder summary or the Python type)."""
    info = getattr(data, "vitsim_data", None)
    if info is not None:
        return dict(info)
    if _is_pair(data):
        return {"tensors": int(len(data[0]))}
    return {"iterable": type(data).__name__}
