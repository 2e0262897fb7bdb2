"""Moved to :mod:`sim.search.sweep.store`; kept for one release (removed in 0.3)."""

from sim.search.sweep.store import *  # noqa: F403
from sim.search.sweep.store import __all__  # noqa: F401
