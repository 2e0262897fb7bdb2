"""vitsim's exceptions.  Every error a user can cause is a :class:`VitsimError`.

An error may carry several *problems* (one per bad key); ``str(err)`` lists them all on
one line, separated by ``"; "``, so the CLI can print it as a single line.
"""

from __future__ import annotations

__all__ = ["VitsimError", "ConfigError", "TraceError", "ResourceError", "SimulationError",
           "short_repr", "REPR_LIMIT"]

#: Most characters of a value's repr shown in a message.
REPR_LIMIT = 200


def short_repr(value, limit: int = REPR_LIMIT) -> str:
    """``repr(value)`` cut to ``limit`` characters (with ``...``), for error messages.

    Containers are cut before they are fully formatted, so a huge or deeply nested value
    (a YAML alias bomb) costs no more than ``limit`` characters of work.
    """
    import reprlib

    r = reprlib.Repr()
    r.maxstring = r.maxother = limit
    r.maxlevel = 3
    text = r.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        super().__init__("; ".join(prefix + p for p in self.problems))


class ConfigError(VitsimError):
    """An architecture config (file, preset or override) is invalid."""


class TraceError(VitsimError):
    """A ViT trace or model spec is invalid."""


class ResourceError(VitsimError):
    """A design does not fit its platform (e.g. more DSPs than the ZCU102 has)."""


class SimulationError(VitsimError):
    """The simulation itself failed (e.g. a runaway loop hit ``max_cycles``)."""
