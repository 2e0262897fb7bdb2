"""Devices, autocast and progress for every torch entry point.

* :func:`resolve_device` -- ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``None`` (the
  model's own device) to a ``torch.device``, with a one-line :class:`ConfigError` when the
  device is not available (checked before any long work).
* :func:`model_device` -- move a model to a device and return it.
* :func:`autocast` -- mixed precision on the device when ``amp`` is true, else a no-op.
* :func:`progress` -- a tqdm bar with an ETA (silent when tqdm is missing or disabled).
* :func:`log_cost` -- log the cost estimate (units x images x measured ms per pass).
"""

from __future__ import annotations

import contextlib
import logging
import time

import torch

from sim.errors import ConfigError

__all__ = ["resolve_device", "model_device", "autocast", "progress", "log_cost", "to_numpy",
           "acc_dtype"]

log = logging.getLogger(__name__)


def resolve_device(device=None, model=None) -> torch.device:
    """The ``torch.device`` named by ``device`` (default: ``model``'s, else the CPU).

    Raises :class:`ConfigError` for an unknown name or a device that is not present.
    """
    if device is None:
        if model is not None:
            for p in model.parameters():
                return p.device
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device = {device!r}; must be cpu, cuda[:N] or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device = {device!r}; must be cpu: CUDA is not available "
                              "on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device = {device!r}; must be below cuda:"
                              f"{torch.cuda.device_count()}")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ConfigError(f"device = {device!r}; must be cpu: MPS is not available")
    elif dev.type != "cpu":
        raise ConfigError(f"device = {device!r}; must be cpu, cuda[:N] or mps")
    return dev


def model_device(model, device=None) -> torch.device:
    """Move ``model`` to ``device`` (if given) and return the device it is on."""
    dev = resolve_device(device, model)
    if device is not None:
        model.to(dev)
    return dev


def autocast(dev: torch.device, amp: bool = False):
    """``torch.autocast`` on ``dev`` (bfloat16 on the CPU, float16 elsewhere) if ``amp``."""
    if not amp:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if dev.type == "cpu" else torch.float16
    return torch.autocast(device_type=dev.type, dtype=dtype)


def acc_dtype(device) -> torch.dtype:
    """Accumulation dtype for reductions: float64, except float32 on MPS (no float64)."""
    return torch.float32 if torch.device(device).type == "mps" else torch.float64


def to_numpy(t):
    """A tensor on any device as a NumPy array (float32 for half types)."""
    t = t.detach()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    return t.cpu().numpy()


def progress(iterable, total=None, desc="", enable=None):
    """Wrap ``iterable`` in a tqdm bar (ETA); plain iterable if tqdm is absent or off.

    ``enable=None`` shows the bar only when stderr is a terminal.
    """
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm ships with timm/transformers
        return iterable
    disable = None if enable is None else not enable
    return tqdm(iterable, total=total, desc=desc, disable=disable, leave=False)


def log_cost(what: str, units: int, images: int, seconds_per_pass: float,
             images_per_pass: int) -> float:
    """Log and return the estimated seconds of ``units`` passes over ``images`` images."""
    passes = units * max(1, -(-images // max(1, images_per_pass)))
    est = passes * seconds_per_pass
    log.info("%s: %d units x %d images, %.1f ms per pass of %d images -> about %.0f s",
             what, units, images, 1e3 * seconds_per_pass, images_per_pass, est)
    return est


def time_pass(fn, repeats: int = 2) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]
