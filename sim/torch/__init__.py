"""Everything that needs torch (the ``vitsim[torch]`` extra).

* :mod:`sim.torch.export` -- trace a timm/PyTorch ViT into a :class:`~sim.workload.Trace`.
* :mod:`sim.torch.transforms` -- structural edits of a timm ViT (skip attention, prune heads
  and MLP neurons, token pruning), built on :mod:`sim.torch.blocks`.
* :mod:`sim.torch.digits` -- the small sklearn-digits ViT used by the examples and tests.
* :mod:`sim.torch.importance` -- OPTIN trajectory importance of heads and neurons.
* :mod:`sim.torch.cka` -- PIVOT Phase 1 CKA, effort outputs (entropy, correctness) and
  fine-tuning.

This package's ``__init__`` imports nothing, and ``import sim`` never imports it; each module
imports torch itself (``sim.torch.cka`` only inside its functions).
"""
