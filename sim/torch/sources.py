"""Model sources for export: ``timm:NAME`` (the default namespace) and ``hf:MODEL_TYPE``.

Every model is built offline with random weights: timm's ``create_model(pretrained=False)``,
HuggingFace's ``AutoConfig.for_model(MODEL_TYPE)`` (or a ``config.json``) and
``AutoModelForImageClassification.from_config`` -- nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

from sim.errors import TraceError

__all__ = ["NAMESPACES", "split_model", "build_model", "example_input"]

#: Model namespaces ``--model NS:NAME`` understands (``timm`` when none is given).
NAMESPACES = ("timm", "hf", "vitsim")


def split_model(spec: str) -> tuple:
    """``"hf:vit"`` -> ``("hf", "vit")``; no namespace means timm."""
    ns, sep, name = spec.partition(":")
    if not sep:
        return "timm", spec
    if ns not in NAMESPACES:
        raise TraceError(f"--model = {spec!r}; the namespace must be one of "
                         f"{[f'{n}:' for n in NAMESPACES]} (e.g. timm:deit_small_patch16_224, "
                         "hf:vit, vitsim:lvvit_s)")
    return ns, name


def _hf_config(model_type, hf_config, overrides):
    try:
        import transformers
    except ImportError as e:
        raise TraceError("hf: models need transformers (pip install 'vitsim[hf]')") from e
    if hf_config is not None:
        try:
            raw = json.loads(Path(hf_config).read_text())
        except (OSError, ValueError) as e:
            raise TraceError(f"--hf-config = {str(hf_config)!r}; must be a readable JSON "
                             f"config ({type(e).__name__}: {e})") from e
        model_type = raw.pop("model_type", model_type)
        raw.update(overrides)
        overrides = raw
    try:
        cfg = transformers.AutoConfig.for_model(model_type, **overrides)
    except ValueError as e:
        raise TraceError(f"--model = 'hf:{model_type}'; must be a transformers model_type such "
                         f"as vit, deit, swin, dinov2, beit ({str(e).splitlines()[0]})") from e
    if getattr(cfg, "architectures", None) is None:
        cfg.architectures = []  # transformers 5 iterates it; [] picks the default class
    return transformers, cfg


def build_model(spec: str, *, image_size: int | None = None, hf_config=None,
                overrides: dict | None = None):
    """``(model, image_size, name)`` for ``spec`` (random init, eval mode)."""
    ns, name = split_model(spec)
    if ns == "vitsim":
        from sim.torch.models import MODELS

        if name not in MODELS:
            raise TraceError(f"--model = {spec!r}; vitsim: models are {sorted(MODELS)}")
        model = MODELS[name](**({"img_size": image_size} if image_size else {}))
        return model.eval(), image_size or 224, name
    if ns == "timm":
        import timm

        if not timm.is_model(name):
            close = timm.list_models(f"*{name.split('_')[0]}*")[:4]
            raise TraceError(f"--model = {spec!r}; unknown timm model (similar: {close}); "
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
        raise TraceError(f"--model = {spec!r}; transformers has no image classifier for it "
                         f"({str(e).splitlines()[0]})") from e
    size = cfg.image_size if isinstance(cfg.image_size, int) else cfg.image_size[0]
    return model.eval(), size, f"hf_{cfg.model_type}"


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
    return {"pixel_values": x} if split_model(spec)[0] == "hf" else x
