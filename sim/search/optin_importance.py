"""Moved to :mod:`sim.torch.importance`; kept for one release (removed in 0.3)."""

from sim.torch.importance import *  # noqa: F403
from sim.torch.importance import __all__  # noqa: F401
