"""Building the DataFrame of :func:`sim.search.evaluate` from column arrays."""

from __future__ import annotations

import numpy as np

__all__ = ["tile", "labels", "is_text", "given", "const_column", "scatter"]


def tile(col, times):
    import pandas as pd

    if isinstance(col, np.ndarray):
        return np.tile(col, times)
    return pd.concat([pd.Series(col)] * times, ignore_index=True).array


def labels(names, size):
    """A categorical column of ``names[i]`` repeated ``size`` times each."""
    import pandas as pd

    cats = list(dict.fromkeys(names))
    codes = np.repeat(np.array([cats.index(n) for n in names], dtype=np.int32), size)
    return pd.Categorical.from_codes(codes, cats)


def is_text(col):
    return isinstance(col, list) or col.dtype == object


def given(col):
    """A given column for the frame (edit columns are lists: ints or nullable Int64)."""
    import pandas as pd

    if not isinstance(col, list):
        return pd.Categorical(col)
    if any(isinstance(v, str) for v in col):
        return pd.Categorical(col)
    return np.array(col, dtype=np.int64) if None not in col else pd.array(col, dtype="Int64")


def const_column(value, size):
    import pandas as pd

    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, str):
        return pd.Categorical.from_codes(np.zeros(size, dtype=np.int8), [value])
    return np.full(size, value)


def scatter(parts, size):
    """Merge group results into full-length columns.

    Strings become categoricals; a key missing on some rows is <NA> (integers, as
    nullable ``Int64``), NaN (floats) or a missing category (strings).
    """
    import pandas as pd

    keys = []
    for _, res in parts:
        keys.extend(k for k in res if k not in keys)
    out = {}
    for key in keys:
        vals = [(idx, res[key]) for idx, res in parts if key in res]
        have = np.zeros(size, dtype=bool)
        for idx, _ in vals:
            have[idx] = True
        sample = vals[0][1]
        if isinstance(sample, str):
            cats = list(dict.fromkeys(v for _, v in vals))
            codes = np.full(size, -1, dtype=np.int16)
            for idx, v in vals:
                codes[idx] = cats.index(v)
            out[key] = pd.Categorical.from_codes(codes, cats)
            continue
        is_int = np.asarray(sample).dtype.kind in "iu"
        col = np.zeros(size, dtype=np.int64) if is_int else np.full(size, np.nan)
        for idx, v in vals:
            col[idx] = v
        if is_int and not have.all():
            col = pd.arrays.IntegerArray(col, ~have)
        out[key] = col
    return out
