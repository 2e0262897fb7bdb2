"""Moved to :mod:`sim.search.pomt.accuracy`; kept for one release (removed in 0.3)."""

from sim.search.pomt.accuracy import *  # noqa: F403
from sim.search.pomt.accuracy import __all__  # noqa: F401
