"""Sweep spaces: a grid, or a seeded random sample, over dotted arch key paths.

A *point* is a plain dict ``{"array.rows": 64, "array.dataflow": "ws", ...}`` that
:func:`sim.with_overrides` turns into a validated candidate architecture, in memory.

Examples
--------
>>> Space.grid({"array.rows": [16, 32], "array.dataflow": ["os", "ws"]}).points()[:2]
[{'array.rows': 16, 'array.dataflow': 'os'}, {'array.rows': 16, 'array.dataflow': 'ws'}]

Tied axes give several keys the same value (square arrays):

>>> Space.grid({("array.rows", "array.cols"): [8, 16]}).points()
[{'array.rows': 8, 'array.cols': 8}, {'array.rows': 16, 'array.cols': 16}]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.errors import ConfigError

__all__ = ["Space", "Uniform", "parse_axis", "parse_value", "parse_axes", "check_axis"]


@dataclass(frozen=True)
class Uniform:
    """A continuous (or integer) range for random sampling.

    Parameters
    ----------
    low, high : float
        Inclusive bounds, in the unit of the key (e.g. MHz for ``clock_mhz``).
    log : bool
        Sample uniformly in log space (both bounds must be > 0).
    integer : bool
        Round the sample to the nearest integer.
    """

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def __post_init__(self):
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
            raise ConfigError(f"range must have finite low <= high, not "
                              f"[{self.low}, {self.high}]")
        if self.log and self.low <= 0:
            raise ConfigError(f"a log range must have low > 0, not {self.low}")

    def sample(self, rng: np.random.Generator):
        """One value drawn from the range."""
        if self.log:
            v = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            v = float(rng.uniform(self.low, self.high))
        return int(round(v)) if self.integer else v


def _plain(v):
    """numpy scalars to plain Python values (for hashing, JSON and Parquet)."""
    return v.item() if hasattr(v, "item") else v


def _typed(values: list) -> np.ndarray:
    """An axis' values as one numpy array: bool, int64 or float64 when they all are,
    else object (the values themselves: ``16`` stays an int beside ``32.5``)."""
    kinds = {type(v) for v in values}
    if kinds == {bool}:
        return np.array(values, dtype=bool)
    if kinds == {int} and all(abs(v) < 2**63 for v in values):
        return np.array(values, dtype=np.int64)
    if kinds == {float}:
        return np.array(values, dtype=np.float64)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _norm_key(key) -> tuple:
    keys = (key,) if isinstance(key, str) else tuple(key)
    if not keys or any(not isinstance(k, str) or not k for k in keys):
        raise ConfigError(f"an axis key must be a dotted key path or a tuple of them, "
                          f"not {key!r}")
    return keys


class Space:
    """Points to evaluate: a full grid or ``n`` seeded random samples.

    Parameters
    ----------
    axes : dict
        Key path (or tuple of key paths sharing one value) -> list of values, or a
        :class:`Uniform` range (random spaces only).
    n : int, optional
        Number of random points; ``None`` means the full grid.
    seed : int
        Seed of the random sample (the same seed gives the same points).
    source : str
        Where the axes come from, for messages (e.g. ``"--grid"``).

    Every value (and both bounds of a range) is checked against the architecture
    schema here, before any point is evaluated: an unknown key, a wrong type, NaN or an
    out-of-range value raises :class:`ConfigError`.

    Notes
    -----
    A random sample over list-only axes draws distinct grid points without replacement
    (all of them when ``n`` >= grid size); with a :class:`Uniform` axis each point is an
    independent draw.  Point order is deterministic for given ``axes``, ``n``, ``seed``.
    """

    def __init__(self, axes: dict, n: int | None = None, seed: int = 0,
                 source: str = "space"):
        self.axes = {}
        keys_seen = set()
        for key, values in axes.items():
            keys = _norm_key(key)
            dup = keys_seen.intersection(keys)
            if dup:
                raise ConfigError(f"axis key(s) {sorted(dup)} given twice")
            keys_seen.update(keys)
            if not isinstance(values, Uniform):
                values = [_plain(v) for v in values]
                if not values:
                    raise ConfigError(f"axis {'+'.join(keys)} has no values")
            for k in keys:
                check_axis(k, values, source)
            self.axes[keys] = values
        if n is not None and (not isinstance(n, (int, np.integer)) or n < 1):
            raise ConfigError(f"n (random points) must be an integer >= 1, not {n!r}")
        if n is None and any(isinstance(v, Uniform) for v in self.axes.values()):
            raise ConfigError("a Uniform range needs a random space (give n)")
        self.n, self.seed = (None if n is None else int(n)), int(seed)

    @classmethod
    def grid(cls, axes: dict, source: str = "space") -> Space:
        """Every combination of the axes' values."""
        return cls(axes, source=source)

    @classmethod
    def random(cls, axes: dict, n: int, seed: int = 0, source: str = "space") -> Space:
        """``n`` points drawn with ``seed`` (see the class notes)."""
        return cls(axes, n=n, seed=seed, source=source)

    @property
    def keys(self) -> list:
        """Every dotted key path the space sets, in column order."""
        return [k for keys in self.axes for k in keys]

    @property
    def grid_size(self) -> float:
        """Number of grid points (``inf`` with a continuous axis)."""
        if any(isinstance(v, Uniform) for v in self.axes.values()):
            return math.inf
        return math.prod(len(v) for v in self.axes.values())

    def _point(self, choice: list) -> dict:
        point = {}
        for keys, value in zip(self.axes, choice):
            for k in keys:
                point[k] = value
        return point

    #: Points drawn per random block: a random space's point ``i`` depends only on the
    #: seed and ``i // RANDOM_BLOCK``, so any batch is drawn without drawing the others.
    RANDOM_BLOCK = 1 << 16

    def __len__(self):
        size = self.grid_size
        if self.n is None:
            return int(size)
        return self.n if size == math.inf else int(min(self.n, size))

    def points(self) -> list:
        """The points, each a dict of dotted key path -> plain Python value (all of them
        in memory: use :meth:`column_batches` for large spaces)."""
        cols = self.columns(0, len(self))
        keys = self.keys
        return [dict(zip(keys, (_plain(v) for v in row)))
                for row in zip(*(cols[k].tolist() for k in keys))]

    def _picks(self):
        """Sorted flat grid indices of a random sample of a finite grid (None: all)."""
        size = self.grid_size
        if self.n >= size:
            return None
        if getattr(self, "_pick_cache", None) is None:
            rng = np.random.default_rng(self.seed)
            self._pick_cache = np.sort(rng.choice(int(size), self.n, replace=False))
        return self._pick_cache

    def columns(self, lo: int, hi: int) -> dict:
        """Points ``lo`` to ``hi`` (exclusive) as columns: dotted key -> numpy array
        (int64, float64, bool or object), computed without the other points."""
        hi = min(hi, len(self))
        lo = min(lo, hi)
        lists = list(self.axes.values())
        if self.n is None or self.grid_size < math.inf:
            flat = np.arange(lo, hi, dtype=np.int64)
            if self.n is not None:
                picks = self._picks()
                flat = flat if picks is None else picks[lo:hi]
            idx = np.unravel_index(flat, [len(v) for v in lists]) if lists else []
            choice = [_typed(v)[i] for v, i in zip(lists, idx)]
        else:
            choice = self._random_columns(lo, hi)
        return {k: c for keys, c in zip(self.axes, choice) for k in keys}

    def _random_columns(self, lo, hi):
        out = [[] for _ in self.axes]
        b = self.RANDOM_BLOCK
        for block in range(lo // b, (hi - 1) // b + 1 if hi > lo else lo // b):
            rng = np.random.default_rng([self.seed, block])
            a, z = max(lo, block * b) - block * b, min(hi, (block + 1) * b) - block * b
            for j, v in enumerate(self.axes.values()):
                if isinstance(v, Uniform):
                    if v.log:
                        x = np.exp(rng.uniform(math.log(v.low), math.log(v.high), b))
                    else:
                        x = rng.uniform(v.low, v.high, b)
                    x = np.rint(x).astype(np.int64) if v.integer else x
                else:
                    x = _typed(v)[rng.integers(len(v), size=b)]
                out[j].append(x[a:z])
        return [np.concatenate(c) if c else _typed([])[:0] for c in out]

    def column_batches(self, size: int):
        """``(lo, hi)`` index ranges of ``size`` points covering the space (lazily)."""
        for lo in range(0, len(self), size):
            yield lo, min(lo + size, len(self))

    def __repr__(self):
        kind = "grid" if self.n is None else f"random n={self.n} seed={self.seed}"
        return f"<Space {kind}: {', '.join('+'.join(k) for k in self.axes)}>"


def check_axis(key: str, values, source: str = "space") -> None:
    """Check an axis' values (a list, or a :class:`Uniform`'s bounds) against the arch
    schema; an integer key needs an integer range (``:int``)."""
    from sim.config import check_override

    if isinstance(values, Uniform):
        for bound in (values.low, values.high):
            b = int(round(bound)) if values.integer else bound
            tp = check_override(key, b, source)
        if tp is int and not values.integer:
            raise ConfigError(f"{key} = {values.low:g}:{values.high:g}; must be an integer "
                              f"range (add :int, e.g. {key}=lo:hi:int)", source=source)
        return
    for v in values:
        check_override(key, v, source)


def parse_axes(texts, flag: str = "--grid") -> dict:
    """Parse repeated CLI axes into ``{keys: values}``; a key given twice is an error."""
    axes, seen = {}, {}
    for text in texts:
        keys, values = parse_axis(text)
        for k in keys:
            if k in seen:
                raise ConfigError(f"{flag} {k} is given twice ({seen[k]!r} and "
                                  f"{text[:200]!r}); must be one {flag} per key (list every "
                                  "value in one: key=v1,v2,...)")
            seen[k] = text[:200]
        axes[keys] = values
    return axes


def parse_value(text: str):
    """A CLI value: int, then float, then ``true``/``false``, else the string."""
    text = text.strip()
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    return text


def parse_axis(text: str):
    """Parse a CLI axis ``key[,key2]=v1,v2,...`` or a range ``key=lo:hi[:log][:int]``.

    Returns ``(keys, values)``: a tuple of key paths and a list or :class:`Uniform`.
    """
    if "=" not in text:
        raise ConfigError(f"axis {text!r}: expected key.path=v1,v2,... "
                          "(e.g. array.rows=16,32,64) or key.path=lo:hi[:log][:int]")
    lhs, _, rhs = text.partition("=")
    keys = tuple(k.strip() for k in lhs.split(",") if k.strip())
    if not keys or not rhs.strip():
        raise ConfigError(f"axis {text!r}: needs key path(s) and value(s)")
    if ":" in rhs and "," not in rhs:
        parts = rhs.split(":")
        flags = {p.strip().lower() for p in parts[2:]}
        if len(parts) < 2 or not flags <= {"log", "int"}:
            raise ConfigError(f"range {text!r}: expected lo:hi[:log][:int]")
        lo, hi = parse_value(parts[0]), parse_value(parts[1])
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi)):
            raise ConfigError(f"range {text!r}: bounds must be numbers")
        return keys, Uniform(float(lo), float(hi), log="log" in flags, integer="int" in flags)
    return keys, [parse_value(v) for v in rhs.split(",") if v.strip()]
