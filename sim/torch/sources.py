"""Where a torch model comes from: one name grammar for every command.

* ``timm:NAME`` or a bare timm name (``deit_small_patch16_224``) -- ``timm.create_model``;
* ``hf:MODEL_TYPE`` -- HuggingFace ``AutoConfig.for_model(MODEL_TYPE)`` (or a
  ``config.json``) and ``AutoModelForImageClassification.from_config``;
* ``vitsim:NAME`` -- vitsim's own torch models (:mod:`sim.torch.models`, LV-ViT-S);
* ``digits`` -- the built-in trained digits ViT (:mod:`sim.torch.digits`).

:func:`build_model` builds any of them offline with random weights (``vitsim export``
traces only shapes).  :func:`load_model` adds the weights an optimizer needs: a
``checkpoint=FILE``, timm's *local* cache with ``pretrained=True`` (never a download), or
random weights only with an explicit ``random_init=True``; it returns ``(model, info)``
where ``info["weights"]`` is the string every JSON result records.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from sim.errors import ConfigError

__all__ = ["NAMESPACES", "parse_name", "build_model", "load_model", "example_input"]

#: Model namespaces ``--model NS:NAME`` understands (``timm`` when none is given); the
#: built-in ``digits`` model is named without one.
NAMESPACES = ("timm", "hf", "vitsim")


def parse_name(spec: str) -> tuple[str, str]:
    """``"hf:vit"`` -> ``("hf", "vit")``; a bare name is timm's; ``"digits"`` ->
    ``("digits", "")``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"--model = {spec!r}; must be a non-empty name (timm:NAME, hf:TYPE, "
                          "vitsim:NAME or digits)")
    spec = spec.strip()
    if spec == "digits":
        return "digits", ""
    ns, sep, name = spec.partition(":")
    if not sep:
        return "timm", spec
    if ns not in NAMESPACES or not name:
        raise ConfigError(f"--model = {spec!r}; the namespace must be one of "
                          f"{[f'{n}:' for n in NAMESPACES]} (e.g. timm:deit_small_patch16_224, "
                          "hf:vit, vitsim:lvvit_s), or the model is 'digits'")
    return ns, name


def _hf_config(model_type, hf_config, overrides):
    try:
        import transformers
    except ImportError as e:
        raise ConfigError("hf: models need transformers (pip install 'vitsim[hf]')") from e
    if hf_config is not None:
        try:
            raw = json.loads(Path(hf_config).read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(f"--hf-config = {str(hf_config)!r}; must be a readable JSON "
                             f"config ({type(e).__name__}: {e})") from e
        model_type = raw.pop("model_type", model_type)
        raw.update(overrides)
        overrides = raw
    try:
        cfg = transformers.AutoConfig.for_model(model_type, **overrides)
    except ValueError as e:
        raise ConfigError(f"--model = 'hf:{model_type}'; must be a transformers model_type such "
                         f"as vit, deit, swin, dinov2, beit ({str(e).splitlines()[0]})") from e
    if getattr(cfg, "architectures", None) is None:
        cfg.architectures = []  # transformers 5 iterates it; [] picks the default class
    return transformers, cfg


def build_model(spec: str, *, image_size: int | None = None, hf_config=None,
                overrides: dict | None = None):
    """``(model, image_size, name)`` for ``spec`` (random init, eval mode)."""
    ns, name = parse_name(spec)
    if ns == "digits":
        raise ConfigError("--model = 'digits'; it is trained, not built: use load_model")
    if ns == "vitsim":
        from sim.torch.models import MODELS

        if name not in MODELS:
            raise ConfigError(f"--model = {spec!r}; vitsim: models are {sorted(MODELS)}")
        model = MODELS[name](**({"img_size": image_size} if image_size else {}))
        return model.eval(), image_size or 224, name
    if ns == "timm":
        import timm

        if not timm.is_model(name):
            close = timm.list_models(f"*{name.split('_')[0]}*")[:4]
            raise ConfigError(f"--model = {spec!r}; unknown timm model (similar: {close}); "
                             f"must be a timm name or use a namespace: "
                             f"{[f'{n}:' for n in NAMESPACES]}")
        kwargs = {"img_size": image_size} if image_size else {}
        try:
            model = timm.create_model(name, pretrained=False, **kwargs)
        except TypeError:  # models without an img_size argument (CNNs) take any size
            model = timm.create_model(name, pretrained=False)
        size = image_size or model.pretrained_cfg.get("input_size", (3, 224, 224))[-1]
        return model.eval(), size, name
    overrides = dict(overrides or {})
    if image_size:
        overrides["image_size"] = image_size
    transformers, cfg = _hf_config(name, hf_config, overrides)
    try:
        model = transformers.AutoModelForImageClassification.from_config(cfg)
    except ValueError as e:
        raise ConfigError(f"--model = {spec!r}; transformers has no image classifier for it "
                         f"({str(e).splitlines()[0]})") from e
    size = cfg.image_size if isinstance(cfg.image_size, int) else cfg.image_size[0]
    return model.eval(), size, f"hf_{cfg.model_type}"


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


def load_model(name, *, pretrained=False, checkpoint=None, random_init=False,
               device="cpu", hf_config=None, image_size=None):
    """Build the model ``name`` (see the module docstring) with its weights, on ``device``.

    Exactly one weight source must be chosen for timm/hf/vitsim models: ``pretrained``
    (timm only), ``checkpoint`` or ``random_init``; random weights are never a silent
    default.  ``hf_config`` is a dict of config overrides for ``hf:`` models.  The model is
    returned in eval mode.

    Returns
    -------
    (model, info) : (torch.nn.Module, dict)
        ``info``: ``source`` (timm|hf|vitsim|digits), ``name``, ``weights`` (description).
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
        if pretrained and ns != "timm":
            raise ConfigError(f"model = {name!r}; pretrained must be False ({ns}: models are "
                              "built from their config, without weights)")
        if pretrained:
            model, weights = _timm_pretrained(rest), "pretrained (timm local cache)"
        else:
            model = build_model(name, image_size=image_size, overrides=hf_config)[0]
            weights = ("random-init" if checkpoint is None
                       else _load_checkpoint(model, checkpoint, rest))
    model.eval()
    model.to(dev)
    return model, {"source": ns, "name": rest or "digits", "weights": weights}


def _timm_pretrained(name):
    import timm

    if name not in timm.list_models(pretrained=True) and not timm.is_model(name):
        close = timm.list_models(f"*{name.split('_')[0]}*")[:6]
        raise ConfigError(f"model = {name!r}; must be a timm model name (similar: {close})")
    with _offline():  # the local cache only: never download
        try:
            return timm.create_model(name, pretrained=True)
        except Exception as err:  # noqa: BLE001 - missing from the cache, offline
            raise ConfigError(f"model = {name!r}; pretrained weights must be in the local "
                              f"timm/HF cache ({type(err).__name__})") from None


def example_input(spec: str, image_size: int, batch: int = 1, channels: int | None = None,
                  model=None):
    """Random input for ``spec``: a tensor, or ``{"pixel_values": ...}`` for HF models;
    ``channels`` defaults to the model's (HF ``config.num_channels``, timm ``input_size``)."""
    import torch

    if channels is None:
        cfg = getattr(model, "config", None)
        timm_cfg = getattr(model, "pretrained_cfg", None) or {}
        channels = int(getattr(cfg, "num_channels", 0) or getattr(model, "in_chans", 0)
                       or timm_cfg.get("input_size", (3,))[0])

    x = torch.randn(batch, channels, image_size, image_size,
                    generator=torch.Generator().manual_seed(0))
    return {"pixel_values": x} if parse_name(spec)[0] == "hf" else x
