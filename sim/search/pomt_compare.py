"""Moved to :mod:`sim.search.pomt.compare`; kept for one release (removed in 0.3)."""

from sim.search.pomt.compare import *  # noqa: F403
from sim.search.pomt.compare import __all__  # noqa: F401
