"""Where a torch model comes from: one name grammar for every command.

``load_model(name, ...)`` accepts

* ``digits`` -- the built-in trained digits ViT (:mod:`sim.torch.digits`);
* ``timm:NAME`` or a bare timm name (``deit_small_patch16_224``) -- built by
  ``timm.create_model``; weights from ``checkpoint=FILE``, from timm's *local* cache with
  ``pretrained=True`` (never a download), or random with an explicit ``random_init=True``;
* ``hf:TYPE`` -- a Hugging Face ``transformers`` model built from
  ``AutoConfig.for_model(TYPE, **hf_config)`` (no weights are fetched; random init).

It returns ``(model, info)``; ``info`` has ``source``, ``name`` and ``weights`` (a string
every JSON result records: ``"random-init (seeded)"``, ``"pretrained (timm cache)"``,
``"checkpoint FILE (sha256 ...)"`` or ``"digits (trained, recipe KEY)"``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from sim.errors import ConfigError

__all__ = ["NAMESPACES", "load_model", "parse_name"]

NAMESPACES = ("timm", "hf", "digits")


def parse_name(name: str) -> tuple[str, str]:
    """``(namespace, rest)`` of a model name; a bare name is a timm name."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"model = {name!r}; must be a non-empty name (timm:NAME, hf:TYPE, "
                          "digits)")
    name = name.strip()
    if name == "digits":
        return "digits", ""
    if ":" in name:
        ns, rest = name.split(":", 1)
        if ns not in ("timm", "hf") or not rest:
            raise ConfigError(f"model = {name!r}; namespace must be one of "
                              f"{list(NAMESPACES)} (timm:NAME, hf:TYPE, digits)")
        return ns, rest
    return "timm", name


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def _load_checkpoint(model, checkpoint, name):
    import torch

    path = Path(checkpoint)
    if not path.is_file():
        raise ConfigError(f"checkpoint = {str(path)!r}; must be an existing file")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is one user error
        raise ConfigError(f"checkpoint = {str(path)!r}; must be a torch state_dict file "
                          f"({type(err).__name__})") from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(blob, dict) and isinstance(blob.get(key), dict):
            blob = blob[key]
            break
    if not isinstance(blob, dict):
        raise ConfigError(f"checkpoint = {str(path)!r}; must hold a state_dict")
    try:
        model.load_state_dict(blob, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        detail = " ".join(first[1:2]).strip()[:160] if len(first) > 1 else first[0][:160]
        raise ConfigError(f"checkpoint = {str(path)!r}; must match model {name!r} "
                          f"({detail})") from None
    return f"checkpoint {path} (sha256 {_file_hash(path)})"


@contextlib.contextmanager
def _offline():
    """Hugging Face Hub offline mode (env var and the already-imported constant)."""
    old_env = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import huggingface_hub.constants as hc
    except ImportError:  # pragma: no cover - timm without the hub: nothing to download
        hc = None
    old_const = getattr(hc, "HF_HUB_OFFLINE", None)
    if hc is not None:
        hc.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        if hc is not None:
            hc.HF_HUB_OFFLINE = old_const
        if old_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old_env


def _timm(name, pretrained, checkpoint, random_init):
    import timm

    if name not in timm.list_models() and name not in timm.list_models(pretrained=True):
        close = timm.list_models(f"*{name.split('_')[0]}*")[:6]
        raise ConfigError(f"model = {name!r}; must be a timm model name (similar: {close})")
    if pretrained:
        with _offline():  # the local cache only: never download
            try:
                model = timm.create_model(name, pretrained=True)
            except Exception as err:  # noqa: BLE001 - missing from the cache, offline
                raise ConfigError(f"model = {name!r}; pretrained weights must be in the "
                                  f"local timm/HF cache ({type(err).__name__})") from None
        return model, "pretrained (timm local cache)"
    model = timm.create_model(name, pretrained=False)
    if checkpoint is not None:
        return model, _load_checkpoint(model, checkpoint, name)
    return model, "random-init"


def _hf(kind, checkpoint, random_init, hf_config):
    try:
        from transformers import AutoConfig, AutoModelForImageClassification
    except ImportError as err:
        raise ConfigError(f"model = 'hf:{kind}'; needs transformers ({err})") from None
    try:
        cfg = AutoConfig.for_model(kind, **(hf_config or {}))
    except (ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"model = 'hf:{kind}'; must be a transformers model type "
                          f"({str(err).splitlines()[0][:120]})") from None
    try:
        model = AutoModelForImageClassification.from_config(cfg)
    except ValueError:
        from transformers import AutoModel

        model = AutoModel.from_config(cfg)
    if checkpoint is not None:
        return model, _load_checkpoint(model, checkpoint, f"hf:{kind}")
    return model, "random-init"


def load_model(name, *, pretrained=False, checkpoint=None, random_init=False,
               device="cpu", hf_config=None):
    """Build the model ``name`` (see the module docstring) on ``device``.

    Exactly one weight source must be chosen for timm/hf models: ``pretrained``,
    ``checkpoint`` or ``random_init``; random weights are never a silent default.
    The model is returned in eval mode.

    Returns
    -------
    (model, info) : (torch.nn.Module, dict)
        ``info``: ``source`` (timm|hf|digits), ``name``, ``weights`` (description).
    """
    from sim.torch.device import resolve_device

    ns, rest = parse_name(name)
    dev = resolve_device(device)  # fail before building anything
    chosen = [k for k, v in (("pretrained", pretrained), ("checkpoint", checkpoint),
                             ("random_init", random_init)) if v]
    if ns == "digits":
        if pretrained or random_init:
            raise ConfigError(f"model = 'digits'; {chosen[0]} must not be set (the digits "
                              "ViT is trained on first use and cached)")
        from sim.torch.digits import build_digits_vit, load_digits_vit, recipe, recipe_key

        if checkpoint is not None:
            model = build_digits_vit(0)
            weights = _load_checkpoint(model, checkpoint, "digits")
        else:
            model, _ = load_digits_vit(seed=0)
            weights = f"digits (trained, recipe {recipe_key(recipe(0))})"
    else:
        if len(chosen) != 1:
            what = "none" if not chosen else " and ".join(chosen)
            raise ConfigError(f"model = {name!r}; weights = {what}; must be exactly one of "
                              "pretrained (timm local cache), checkpoint FILE or random_init")
        if ns == "timm":
            model, weights = _timm(rest, pretrained, checkpoint, random_init)
        else:
            if pretrained:
                raise ConfigError(f"model = {name!r}; pretrained must be False (hf: models "
                                  "are built from their config, without weights)")
            model, weights = _hf(rest, checkpoint, random_init, hf_config)
    model.eval()
    model.to(dev)
    return model, {"source": ns, "name": rest or "digits", "weights": weights}
