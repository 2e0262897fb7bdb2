"""Moved to :mod:`sim.torch.cka` (CKA, effort outputs, fine-tuning) and
:mod:`sim.search.pivot.phase1` (redundancy and paths); kept for one release (removed in 0.3)."""

from sim.search.pivot.phase1 import best_paths, path_score, random_paths, redundancy
from sim.torch.cka import (
    FEATURES,
    VARIANTS,
    cka_matrix,
    effort_outputs,
    finetune,
    linear_cka,
    unbiased_cka,
)

__all__ = [
    "cka_matrix", "redundancy", "path_score", "best_paths", "random_paths", "linear_cka",
    "unbiased_cka", "finetune", "effort_outputs", "VARIANTS", "FEATURES",
]
