"""PIVOT: effort selection (Phase 1) and the hardware-in-the-loop cascade search (Phase 2).

* :mod:`~sim.search.pivot.phase1` -- path selection from per-encoder redundancy (numpy;
  the CKA itself is :mod:`sim.torch.cka`).
* :mod:`~sim.search.pivot.efforts` -- the efforts file: a trace plus per-input entropy and
  correctness for each effort.
* :mod:`~sim.search.pivot.phase2` -- effort costs on arch points and the cascade search.
"""

from sim.search.pivot.efforts import Effort, load_efforts, make_effort, save_efforts
from sim.search.pivot.phase1 import best_paths, path_score, random_paths, redundancy
from sim.search.pivot.phase2 import (
    OBJECTIVES,
    PivotResult,
    accuracy_edp_front,
    cascade_curve,
    class_mean_entropy,
    effort_costs,
    pivot_search,
    search_cascades,
)

__all__ = [
    "class_mean_entropy", "cascade_curve", "effort_costs", "search_cascades",
    "pivot_search", "accuracy_edp_front", "PivotResult", "OBJECTIVES", "Effort",
    "load_efforts", "save_efforts", "make_effort", "redundancy", "path_score",
    "best_paths", "random_paths",
]
