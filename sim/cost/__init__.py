"""Energy, power and EDP: prices the action counts the engine emits.

Placeholder until the energy model lands: :func:`price` adds nothing.
"""

from __future__ import annotations

__all__ = ["price"]


def price(arch, ops, cols, latency_s):
    """Energy of a run: ``(extra op columns, extra summary keys)``; none yet."""
    return {}, {}
