"""Accuracy sources for the POMT schedule optimizer: A(n), or A(n, prune layer).

The simulator gives latency and energy, never accuracy.  POMT measures A(n) once on a
GPU (accuracy does not depend on the device) and the optimizer reads it from here.  Every
source is turned into an :class:`AccuracySource` by :func:`resolve_accuracy`:

* a CSV file (or :class:`pandas.DataFrame`) with columns ``tokens, top1`` and an optional
  ``prune_layer`` (``-1`` = tokens removed at the input, POMT's offline grid; ``0..depth-1``
  = POMT prune-and-merge inside that block).  Lines starting with ``#`` are comments.
  Values between measured token counts are interpolated linearly; outside the measured
  range is an error.
* a mapping ``{tokens: top1}``;
* a callable ``f(tokens)`` or ``f(tokens, prune_layer)`` returning top-1;
* ``"digits"``: the tiny ViT on scikit-learn digits with POMT's prune-and-merge
  (:class:`DigitsAccuracy`, needs torch and scikit-learn).
* ``None``: the shipped *illustrative* DeiT-S table :data:`DEFAULT_ACCURACY_FILE`
  (synthetic numbers, not a measurement).
"""

from __future__ import annotations

import inspect
import io
from pathlib import Path

import numpy as np

from sim.config.arch import data_dir
from sim.errors import ConfigError

__all__ = [
    "AccuracySource", "resolve_accuracy", "load_accuracy", "default_accuracy_path",
    "DigitsAccuracy", "DEFAULT_ACCURACY_FILE", "INPUT_LAYER",
]

#: The shipped illustrative (synthetic) DeiT-S table, under ``workloads/``.
DEFAULT_ACCURACY_FILE = "deit_s_pomt_accuracy.csv"
#: ``prune_layer`` value meaning "tokens removed at the input" (POMT's offline grid).
INPUT_LAYER = -1


def default_accuracy_path() -> Path:
    """Path of the shipped illustrative DeiT-S accuracy table."""
    return data_dir("workloads") / DEFAULT_ACCURACY_FILE


class AccuracySource:
    """Top-1 accuracy as a function of tokens kept (and, optionally, the prune layer).

    Parameters
    ----------
    func : callable
        ``func(tokens: ndarray, prune_layer: int) -> ndarray`` of top-1 values.
    per_layer : bool
        True when the values depend on the prune layer (needed by the joint choice).
    name : str
        Where the numbers come from (shown in reports).
    illustrative : bool
        True for synthetic numbers (the shipped table).
    """

    def __init__(self, func, per_layer: bool, name: str, illustrative: bool = False):
        self._func, self.per_layer, self.name = func, per_layer, name
        self.illustrative = illustrative

    def values(self, tokens, prune_layer: int = INPUT_LAYER) -> np.ndarray:
        """Top-1 at each token count in ``tokens`` for pruning at ``prune_layer``."""
        tokens = np.asarray(tokens, dtype=np.int64)
        out = np.asarray(self._func(tokens, int(prune_layer)), dtype=float)
        if out.shape != tokens.shape:
            raise ConfigError(f"accuracy source {self.name}: returned shape {out.shape} "
                              f"for {tokens.shape} token counts")
        if not np.all(np.isfinite(out)) or np.any(out < 0):
            raise ConfigError(f"accuracy source {self.name}: top-1 must be finite and >= 0, "
                              f"not {out[~np.isfinite(out) | (out < 0)][:5].tolist()}")
        return out

    def __repr__(self):
        return f"<AccuracySource {self.name}{' (illustrative)' if self.illustrative else ''}>"


def _table_source(df, name: str, illustrative: bool = False) -> AccuracySource:
    import pandas as pd

    problems = []
    missing = [c for c in ("tokens", "top1") if c not in df.columns]
    if missing:
        raise ConfigError(f"accuracy table needs columns tokens, top1 (optional prune_layer), "
                          f"not {list(df.columns)}", source=name)
    extra = sorted(set(df.columns) - {"tokens", "top1", "prune_layer"})
    if extra:
        problems.append(f"unknown column(s) {extra}; allowed: prune_layer, tokens, top1")
    df = df.copy()
    if "prune_layer" not in df.columns:
        per_layer = False
        df["prune_layer"] = INPUT_LAYER
    else:
        per_layer = True
    for col in ("tokens", "prune_layer"):
        vals = pd.to_numeric(df[col], errors="coerce")
        bad = df[col][vals.isna() | (vals != vals.round())]
        if len(bad):
            problems.append(f"{col} must be integers, not {bad.head(3).tolist()}")
        df[col] = vals
    top1 = pd.to_numeric(df["top1"], errors="coerce")
    bad = df["top1"][top1.isna() | ~np.isfinite(top1) | (top1 < 0)]
    if len(bad):
        problems.append(f"top1 must be numbers >= 0 and finite, not {bad.head(3).tolist()}")
    if not len(df):
        problems.append("no rows; must hold at least one tokens,top1 row")
    if not problems:
        if ((df["tokens"] < 1) | (df["tokens"] > 1 << 31)).any():
            problems.append("tokens must be in [1, 2^31]")
        dup = df.duplicated(["prune_layer", "tokens"])
        if dup.any():
            rows = df.loc[dup, ["prune_layer", "tokens"]].head(3).values.tolist()
            problems.append(f"duplicate (prune_layer, tokens) rows {rows}")
    if problems:
        raise ConfigError(problems, source=name)
    df["top1"] = top1
    grids = {int(layer): (g["tokens"].to_numpy(np.int64), g["top1"].to_numpy(float))
             for layer, g in df.sort_values("tokens").groupby("prune_layer")}

    def lookup(tokens, prune_layer):
        key = prune_layer if per_layer else INPUT_LAYER
        if key not in grids:
            raise ConfigError(f"accuracy table has no rows for prune_layer = {prune_layer}; "
                              f"it has {sorted(grids)} (-1 = pruned at the input)",
                              source=name)
        xs, ys = grids[key]
        out_of = tokens[(tokens < xs[0]) | (tokens > xs[-1])]
        if len(out_of):
            raise ConfigError(f"accuracy table covers tokens {xs[0]}..{xs[-1]} at "
                              f"prune_layer = {key}, not {sorted(set(out_of.tolist()))[:5]}; "
                              "measure those token counts or narrow the curve's tokens",
                              source=name)
        return np.interp(tokens, xs, ys)

    return AccuracySource(lookup, per_layer, name, illustrative)


def load_accuracy(path, name: str | None = None) -> AccuracySource:
    """Read an accuracy CSV (``prune_layer,tokens,top1``; ``#`` comments).

    A file whose ``#`` header mentions "illustrative" is flagged as synthetic.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"accuracy table {str(path)!r} is not a file")
    what = "; must be a UTF-8 CSV with columns tokens,top1 (optional prune_layer)"
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"byte {exc.start} is not UTF-8{what}", source=str(path)) from None
    illustrative = "illustrative" in "".join(
        line for line in text.splitlines() if line.startswith("#")).lower()
    try:
        df = pd.read_csv(io.StringIO(text), comment="#", skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        msg = " ".join(str(exc).split())[:200]
        raise ConfigError(f"not a readable CSV ({msg}){what}", source=str(path)) from None
    return _table_source(df, name or str(path), illustrative)


def _callable_source(func) -> AccuracySource:
    try:
        params = [p for p in inspect.signature(func).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        two = len(params) >= 2
    except (TypeError, ValueError):
        two = False
    name = getattr(func, "__name__", type(func).__name__)

    def call(tokens, prune_layer):
        args = (prune_layer,) if two else ()
        return [float(func(int(n), *args)) for n in tokens]

    return AccuracySource(call, two, f"callable {name}")


def resolve_accuracy(source) -> AccuracySource:
    """Turn any supported accuracy source into an :class:`AccuracySource` (see module doc)."""
    import pandas as pd

    if isinstance(source, AccuracySource):
        return source
    if source is None:
        return load_accuracy(default_accuracy_path(), f"workloads/{DEFAULT_ACCURACY_FILE}")
    if isinstance(source, str) and source == "digits" and not Path(source).exists():
        return DigitsAccuracy().source()
    if isinstance(source, DigitsAccuracy):
        return source.source()
    if isinstance(source, (str, Path)):
        return load_accuracy(source)
    if isinstance(source, pd.DataFrame):
        return _table_source(source, "<DataFrame>")
    if isinstance(source, dict):
        df = pd.DataFrame({"tokens": list(source), "top1": list(source.values())})
        return _table_source(df, "<dict>")
    if callable(source):
        return _callable_source(source)
    raise ConfigError("accuracy must be a CSV path, a DataFrame, a {tokens: top1} dict, a "
                      f"callable, 'digits' or None, not {type(source).__name__}")


class DigitsAccuracy:
    """Accuracy from the tiny digits ViT with POMT's prune-and-merge (torch needed).

    A real, cheap A(n, layer): the tiny ViT of :mod:`sim.torch.digits` is trained on
    scikit-learn's 8x8 digits and evaluated with :func:`sim.torch.transforms.pomt_prune`
    at each (layer, R).  It is a *proxy* for a big model: a DeiT-style count of ``n``
    tokens out of ``tokens_full`` is mapped to the digits model by the fraction of patch
    tokens removed, and block ``l`` of ``depth_full`` to the block at the same relative
    depth.  Results are cached per (layer, R).

    Parameters
    ----------
    tokens_full, prefix_tokens, depth_full : int
        The big model's tokens (CLS included), prefix tokens and depth (DeiT-S: 197, 1, 12).
    model, data : optional
        A trained digits model and its :class:`DigitsData` (default: ``load_digits_vit()``,
        trained once and cached).
    """

    def __init__(self, tokens_full: int = 197, prefix_tokens: int = 1, depth_full: int = 12,
                 model=None, data=None):
        self.tokens_full, self.prefix, self.depth_full = tokens_full, prefix_tokens, depth_full
        self._model, self._data, self._cache = model, data, {}

    def _load(self):
        try:
            from sim.torch import digits
            from sim.torch.transforms import pomt_prune
        except ImportError as exc:
            raise ImportError("the digits accuracy source needs torch, timm and scikit-learn "
                              f"(pip install 'vitsim[torch]'): {exc}") from exc
        if self._model is None:
            self._model, self._data = digits.load_digits_vit()
        return digits, pomt_prune

    def _digits_dims(self):
        """``(tokens, prefix tokens, depth)`` of the digits model (timm attributes)."""
        m = self._model
        prefix = int(getattr(m, "num_prefix_tokens", 1))
        return int(m.patch_embed.num_patches) + prefix, prefix, len(m.blocks)

    def accuracy(self, tokens: int, prune_layer: int) -> float:
        """Top-1 (percent) of the digits model for a big-model count ``tokens`` at a layer."""
        digits, pomt_prune = self._load()
        n_tok, prefix, depth = self._digits_dims()
        removed = (self.tokens_full - tokens) / max(self.tokens_full - self.prefix, 1)
        r = int(round(removed * (n_tok - prefix)))
        r = min(max(r, 0), n_tok - prefix - 1)
        if prune_layer == INPUT_LAYER:
            layer = 0
        else:
            layer = min(depth - 1, int(round(prune_layer * depth / self.depth_full)))
        key = (layer, r)
        if key not in self._cache:
            model = pomt_prune(self._model, layer, r) if r > 0 else self._model
            self._cache[key] = 100.0 * float(digits.evaluate(model, self._data))
        return self._cache[key]

    def source(self) -> AccuracySource:
        """This source as an :class:`AccuracySource` (per layer)."""
        self._load()

        def call(tokens, prune_layer):
            return [self.accuracy(int(n), prune_layer) for n in tokens]

        return AccuracySource(call, True, "digits ViT (pomt_prune proxy)")
