"""Moved to :mod:`sim.search.sweep.executors`; kept for one release (removed in 0.3)."""

from sim.search.sweep.executors import *  # noqa: F403
from sim.search.sweep.executors import __all__  # noqa: F401
