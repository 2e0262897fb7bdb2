"""Everything that needs torch (the ``vitsim[torch]`` extra).

* :mod:`sim.torch.export` -- trace a timm/PyTorch ViT into a :class:`~sim.workload.Trace`.
* :mod:`sim.torch.transforms` -- structural edits of a timm ViT (skip attention, prune heads
  and MLP neurons, token pruning), built on :mod:`sim.torch.blocks`.
* :mod:`sim.torch.digits` -- the small sklearn-digits ViT used by the examples and tests.
* :mod:`sim.torch.importance` -- OPTIN trajectory importance of heads and neurons.
* :mod:`sim.torch.cka` -- PIVOT Phase 1 CKA, effort outputs (entropy, correctness) and
  fine-tuning.
* :mod:`sim.torch.sources` -- ``load_model`` (``timm:NAME``, ``hf:TYPE``, ``digits``).
* :mod:`sim.torch.data` -- ImageFolder with the model's preprocessing, any (images, labels)
  iterable, accuracy.
* :mod:`sim.torch.device` -- devices, autocast, progress bars, cost estimates.
* :mod:`sim.torch.balance` -- OPTIN's MD/KD magnitude balancing.
* :mod:`sim.torch.tokens` -- OPTIN token importance and ToMe to per-layer counts (tau).
* :mod:`sim.torch.pomt_measure` -- POMT's A(n) measured on images.
* :mod:`sim.torch.efforts` -- PIVOT efforts measured on images.

This package's ``__init__`` imports nothing, and ``import sim`` never imports it; each module
imports torch itself (``sim.torch.cka`` only inside its functions).
"""
