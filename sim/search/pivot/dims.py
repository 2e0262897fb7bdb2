"""ViT dimensions as trace edits: embedding width, MLP ratio and depth (PIVOT Phase 2).

:func:`vit_dims` rewrites a trace as if the model had other dimensions; the heads kept and
the attention skips stay, the MLP widths scale with the new width.  Accuracy does *not*
follow from the trace: an effort at other dimensions is another model and needs its own
entropy and correctness (an efforts-file entry with ``dims:``), so Phase 2 searches the
dimensions through the efforts it is given.
"""

from __future__ import annotations

import dataclasses

from sim.errors import ConfigError
from sim.workload.trace import Trace

__all__ = ["vit_dims", "DIM_KEYS"]

DIM_KEYS = ("embed_dim", "mlp_ratio", "depth")


def vit_dims(trace: Trace, embed_dim: int | None = None, mlp_ratio: float | None = None,
             depth: int | None = None) -> Trace:
    """``trace`` with a new embedding width, MLP ratio and/or depth.

    * ``embed_dim``: the head count stays, ``head_dim = embed_dim / heads`` (must divide);
      MLP widths keep their ratio to the width unless ``mlp_ratio`` is given.
    * ``mlp_ratio``: full MLP width ``round(mlp_ratio * embed_dim)``; a narrowed layer keeps
      its fraction of the full width.
    * ``depth``: the first ``depth`` blocks, or extra full blocks (all heads, full MLP, the
      last block's token count) appended.
    """
    spec = trace.model
    d = spec.embed_dim if embed_dim is None else embed_dim
    for key, val in (("embed_dim", d), ("depth", depth)):
        if val is not None and (isinstance(val, bool) or not isinstance(val, int) or val < 1):
            raise ConfigError(f"{key} = {val!r}; must be an integer >= 1")
    if d % spec.num_heads:
        raise ConfigError(f"embed_dim = {d}; must be a multiple of the {spec.num_heads} heads")
    ratio = spec.mlp_hidden / spec.embed_dim if mlp_ratio is None else mlp_ratio
    if not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or not ratio > 0:
        raise ConfigError(f"mlp_ratio = {mlp_ratio!r}; must be a number > 0")
    full = max(1, round(ratio * d))
    new_depth = spec.depth if depth is None else depth
    new_spec = dataclasses.replace(spec, embed_dim=d, head_dim=d // spec.num_heads,
                                   mlp_hidden=full, depth=new_depth)
    layers = []
    for lt in trace.layers[:new_depth]:
        width = max(1, round(lt.mlp_hidden * full / spec.mlp_hidden))
        layers.append(dataclasses.replace(lt, mlp_hidden=width))
    while len(layers) < new_depth:
        last = trace.layers[-1]
        layers.append(dataclasses.replace(last, index=len(layers), tokens=last.tokens_after,
                                          attention=True,
                                          heads=tuple(range(spec.num_heads)),
                                          mlp_hidden=full, prune=None))
    tag = "_".join(f"{k}{v}" for k, v in (("d", embed_dim), ("r", mlp_ratio),
                                          ("L", depth)) if v is not None)
    new = dataclasses.replace(trace, model=new_spec, layers=tuple(layers))
    return new.replace_layers(layers, name=f"{trace.name}_{tag}" if tag else trace.name)
