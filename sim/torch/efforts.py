"""PIVOT efforts measured from data: per-input entropy and correctness of each effort.

An effort is the model with the attention of some encoders skipped
(:func:`sim.torch.transforms.skip_attention`), optionally with its own fine-tuned weights
(a state_dict of the same architecture, loaded before the skip).  Each effort runs over the
same images in the same order (:func:`sim.torch.cka.effort_outputs`), and its trace is
exported from what ran.  The caller turns the results into ``Effort`` objects
(``sim.search.pivot.efforts.make_effort``).
"""

from __future__ import annotations

import copy

from sim.errors import ConfigError

__all__ = ["parse_effort_spec", "measure_efforts"]


def parse_effort_spec(text: str) -> dict:
    """``NAME=I,J,K[@CHECKPOINT]`` (0-based encoders whose attention is skipped; empty =
    none) -> ``{"name", "skip", "checkpoint"}``."""
    if not isinstance(text, str) or "=" not in text:
        raise ConfigError(f"effort = {text!r}; must be NAME=I,J,...[@CHECKPOINT]")
    name, rest = text.split("=", 1)
    ckpt = None
    if "@" in rest:
        rest, ckpt = rest.split("@", 1)
    try:
        skip = [int(v) for v in rest.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"effort = {text!r}; skip list must be integers "
                          "(NAME=I,J,...[@CHECKPOINT])") from None
    if not name.strip():
        raise ConfigError(f"effort = {text!r}; must start with a name")
    return {"name": name.strip(), "skip": skip, "checkpoint": ckpt or None}


def measure_efforts(model, specs, data, *, device=None, amp: bool = False, limit=None,
                    batch_size: int = 64, example=None) -> list[dict]:
    """Run every effort of ``specs`` over ``data``.

    Parameters
    ----------
    model : timm VisionTransformer
        The base model (its weights are the default for every effort).
    specs : list of dict
        From :func:`parse_effort_spec`.
    data : (images, labels) pair, Dataset or iterable of batches
    example : Tensor, optional
        One input ``(1, C, H, W)`` for the traces (default: the first image of ``data``).

    Returns
    -------
    list of dict with ``name, skip, trace, entropy, correct`` (numpy arrays).
    """
    from sim.torch.cka import effort_outputs
    from sim.torch.data import batches
    from sim.torch.export import export_trace
    from sim.torch.sources import _load_checkpoint
    from sim.torch.transforms import skip_attention

    depth = len(model.blocks)
    for s in specs:  # check everything before running anything
        bad = [i for i in s["skip"] if not 0 <= i < depth]
        if bad or len(set(s["skip"])) != len(s["skip"]):
            raise ConfigError(f"effort {s['name']!r}: skip = {s['skip']}; must be distinct "
                              f"encoder indices in [0, {depth})")
    names = [s["name"] for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"efforts = {names}; names must be unique")
    if example is None:
        example = next(iter(batches(data, 1)))[0][:1]
    out = []
    for s in specs:
        m = model
        if s["checkpoint"]:
            m = copy.deepcopy(model).cpu()
            _load_checkpoint(m, s["checkpoint"], s["name"])
        if s["skip"]:
            m = skip_attention(m, s["skip"])
        ent, correct, _ = effort_outputs(m, data, device=device, amp=amp, limit=limit,
                                         batch_size=batch_size)
        out.append({"name": s["name"], "skip": list(s["skip"]),
                    "trace": export_trace(m, example.cpu(), name=s["name"], device=device),
                    "entropy": ent, "correct": correct})
    return out
