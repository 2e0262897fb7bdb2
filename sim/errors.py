"""vitsim's exceptions.  Every error a user can cause is a :class:`VitsimError`.

An error may carry several *problems* (one per bad key); ``str(err)`` lists them all on
one line, separated by ``"; "``, so the CLI can print it as a single line.
"""

from __future__ import annotations

import reprlib

__all__ = ["VitsimError", "ConfigError", "TraceError", "ResourceError", "SimulationError",
           "short_repr", "REPR_LIMIT"]

#: Most problems listed in one message (the rest are counted; all are in ``.problems``).
MAX_SHOWN = 20
#: Most characters of a value's repr shown in a message.
REPR_LIMIT = 200

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple = 4, 8, 12, 12
_REPR.maxset = _REPR.maxfrozenset = _REPR.maxdeque = _REPR.maxarray = 12
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = REPR_LIMIT, REPR_LIMIT, 60


def short_repr(value, limit: int = REPR_LIMIT) -> str:
    """``repr(value)`` bounded in time and cut to ``limit`` characters (``...`` marks a
    cut), for error messages.  Nested containers show their first few items only, so a
    huge or deeply nested value (a YAML alias bomb) costs no more than that to format."""
    try:
        text = _REPR.repr(value)
    except Exception:  # noqa: BLE001 - a repr must never fail a message
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


class VitsimError(Exception):
    """Base of all vitsim errors.

    Parameters
    ----------
    problems : str or list of str
        One message, or every problem found (all are reported at once).
    source : str, optional
        File (or other origin) the problems were found in; prefixed to each message.
    """

    def __init__(self, problems, source: str | None = None):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        shown = self.problems[:MAX_SHOWN]
        more = len(self.problems) - len(shown)
        tail = [f"... and {more} more problem(s) like these"] if more > 0 else []
        super().__init__("; ".join([prefix + p for p in shown] + tail))


class ConfigError(VitsimError):
    """An architecture config (file, preset or override) is invalid."""


class TraceError(VitsimError):
    """A ViT trace or model spec is invalid."""


class ResourceError(VitsimError):
    """A design does not fit its platform (e.g. more DSPs than the ZCU102 has)."""


class SimulationError(VitsimError):
    """The simulation itself failed (e.g. a runaway loop hit ``max_cycles``)."""
