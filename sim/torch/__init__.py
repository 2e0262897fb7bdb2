"""Everything that needs torch (the ``vitsim[torch]`` extra).

* :mod:`sim.torch.export` -- trace a timm/PyTorch ViT into a :class:`~sim.workload.Trace`.
* :mod:`sim.torch.transforms` -- structural edits of a timm ViT (skip attention, prune heads
  and MLP neurons, token pruning), built on :mod:`sim.torch.blocks`.
* :mod:`sim.torch.digits` -- the small sklearn-digits ViT used by the examples and tests.
* :mod:`sim.torch.importance` -- OPTIN trajectory importance of heads and neurons.
* :mod:`sim.torch.cka` -- PIVOT Phase 1 CKA, effort outputs (entropy, correctness) and
  fine-tuning.
* :func:`sim.torch.capture` (in :mod:`sim.torch.op_capture`) -- op-level capture of any
  model into a v2 trace.
* :mod:`sim.torch.model_export` -- ``vitsim export``: v1 when proven against the capture,
  else v2.
* :mod:`sim.torch.sources` -- one model-name grammar (``timm:NAME``, ``hf:TYPE``,
  ``vitsim:NAME``, ``digits``): ``build_model`` (random init) and ``load_model`` (weights).
* :mod:`sim.torch.models` -- LV-ViT-S (4-conv stem) as a timm ``VisionTransformer``.
* :mod:`sim.torch.data` -- ImageFolder with the model's preprocessing, any (images, labels)
  iterable, accuracy.
* :mod:`sim.torch.device` -- devices, autocast, progress bars, cost estimates.
* :mod:`sim.torch.balance` -- OPTIN's MD/KD magnitude balancing.
* :mod:`sim.torch.tokens` -- OPTIN token importance and ToMe to per-layer counts (tau).
* :mod:`sim.torch.pomt_measure` -- POMT's A(n) measured on images.
* :mod:`sim.torch.efforts` -- PIVOT efforts measured on images.

This package's ``__init__`` imports nothing (``capture`` is loaded on first access), and
``import sim`` never imports it; each module imports torch itself (``sim.torch.cka`` only
inside its functions).
"""

__all__ = ["capture"]


def __getattr__(name):
    if name == "capture":
        from sim.torch.op_capture import capture

        return capture
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
