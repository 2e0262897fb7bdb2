"""Moved to :mod:`sim.search.sweep.space`; kept for one release (removed in 0.3)."""

from sim.search.sweep.space import *  # noqa: F403
from sim.search.sweep.space import __all__  # noqa: F401
