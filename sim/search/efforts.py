"""Moved to :mod:`sim.search.pivot.efforts`; kept for one release (removed in 0.3)."""

from sim.search.pivot.efforts import *  # noqa: F403
from sim.search.pivot.efforts import __all__  # noqa: F401
