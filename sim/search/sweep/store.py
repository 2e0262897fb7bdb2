"""Sweep result stores: rows stream to disk as batches finish; a rerun skips done keys.

Parquet (``out`` ends in ``.parquet``, or is an existing directory) is a **directory of
part files**: each finished batch is written to ``part-<seq>-<uuid>.parquet.tmp`` and
renamed into place (:func:`os.replace` is atomic), so a crash or Ctrl-C never leaves a
half-written part.  When a sweep completes, the parts are compacted into one file (written
and renamed the same way, then the old parts removed).  ``pandas.read_parquet(dir)``
reads the compacted directory; :func:`load_results` reads any state, also mid-sweep.

CSV (``out`` ends in ``.csv``) is one file, appended one batch per ``write``; on reopen a
torn last line (killed mid-write) is cut off.  A batch with new columns (the first
feasible row after infeasible ones) rewrites the file atomically with the wider header.

Rows are keyed by ``key`` (see :func:`sim.search.sweep.point_key`); on load, duplicates
keep the last written row.  Rows whose ``status`` is ``"error"`` (an unexpected
exception, not an infeasible design) are not counted as done, so a rerun retries them.
"""

from __future__ import annotations

import csv
import io
import math
import os
import uuid
from pathlib import Path

from sim.errors import ConfigError

__all__ = ["open_store", "load_results", "ParquetStore", "CsvStore", "rows_to_frame"]


def _clean(v):
    """NaN -> None (CSV reads give NaN for empty cells)."""
    return None if isinstance(v, float) and math.isnan(v) else v


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError as exc:
        raise ImportError("Parquet sweep output needs pyarrow: pip install 'vitsim[parquet]' "
                          "(or write CSV: --out results.csv)") from exc
    return pyarrow


def rows_to_frame(rows: list, columns: list | None = None):
    """A DataFrame from row dicts (missing keys -> null), via pyarrow (when installed)
    so Parquet, CSV and in-memory results get the same dtypes."""
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))
    try:
        import pyarrow as pa
    except ImportError:
        import pandas as pd

        return pd.DataFrame([[_clean(r.get(c)) for c in columns] for r in rows],
                            columns=columns)
    arrays = {}
    for col in columns:
        values = [_clean(r.get(col)) for r in rows]
        try:
            arrays[col] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays[col] = pa.array([None if v is None else str(v) for v in values])
    return pa.table(arrays).to_pandas() if arrays else pa.table({}).to_pandas()


class ParquetStore:
    """A directory of Parquet part files (see the module docstring)."""

    def __init__(self, path, writable: bool = True):
        _pyarrow()
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"{self.path}: a Parquet sweep output is a directory of part "
                              "files, but a file of that name exists; choose another --out")
        if writable:
            self.path.mkdir(parents=True, exist_ok=True)
            for tmp in self.path.glob("*.tmp"):  # a write killed before its rename
                tmp.unlink()

    def _parts(self):
        return sorted(self.path.glob("part-*.parquet"))

    def read_rows(self) -> list:
        """Every stored row (dicts), in write order."""
        import pyarrow.parquet as pq

        rows = []
        for part in self._parts():
            rows.extend(pq.read_table(part).to_pylist())
        return rows

    def _next_seq(self) -> int:
        parts = self._parts()
        return int(parts[-1].name.split("-")[1]) + 1 if parts else 0

    def _write(self, rows, seq) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(rows_to_frame(rows), preserve_index=False)
        final = self.path / f"part-{seq:08d}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = final.with_name(final.name + ".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, final)
        return final

    def append(self, rows: list) -> None:
        """Write one batch as a new part file (atomically)."""
        if rows:
            self._write(rows, self._next_seq())

    def compact(self) -> None:
        """Merge every part into one (deduplicated by key, last row wins)."""
        parts = self._parts()
        if len(parts) <= 1:
            return
        rows = _dedup(self.read_rows())
        new = self._write(rows, self._next_seq())
        for part in parts:
            if part != new:
                part.unlink()


class CsvStore:
    """One CSV file appended per batch (see the module docstring)."""

    def __init__(self, path, writable: bool = True):
        self.path = Path(path)
        if writable:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.columns = []
        if self.path.exists():
            data = self.path.read_bytes()
            if writable and data and not data.endswith(b"\n"):  # torn last line
                cut = data.rfind(b"\n") + 1
                with open(self.path, "r+b") as f:
                    f.truncate(cut)
            with open(self.path, newline="") as f:
                header = next(csv.reader(f), None)
            self.columns = header or []

    def read_rows(self) -> list:
        """Every stored row (dicts), in write order."""
        import pandas as pd

        if not self.columns:
            return []
        text = self.path.read_text()
        if not text.endswith("\n"):  # a torn last line (a write in progress or killed)
            text = text[:text.rfind("\n") + 1]
        df = pd.read_csv(io.StringIO(text))
        return [{k: _clean(v) for k, v in r.items()} for r in df.to_dict("records")]

    def _render(self, rows, header: bool) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.columns, extrasaction="raise",
                           lineterminator="\n")
        if header:
            w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
        return buf.getvalue()

    def _rewrite(self, rows) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(self._render(rows, header=True))
        os.replace(tmp, self.path)

    def append(self, rows: list) -> None:
        """Append one batch (one ``write`` call); widen the header if needed."""
        if not rows:
            return
        new_cols = [k for k in dict.fromkeys(k for r in rows for k in r)
                    if k not in self.columns]
        if new_cols:
            old = self.read_rows()
            self.columns = self.columns + new_cols
            self._rewrite(old + rows)
            return
        with open(self.path, "a", newline="") as f:
            f.write(self._render(rows, header=False))
            f.flush()
            os.fsync(f.fileno())

    def compact(self) -> None:
        """Rewrite without duplicate keys (last row wins)."""
        rows = self.read_rows()
        dedup = _dedup(rows)
        if len(dedup) != len(rows):
            self._rewrite(dedup)


def _dedup(rows: list) -> list:
    by_key = {}
    for r in rows:
        by_key.pop(r.get("key"), None)
        by_key[r.get("key")] = r
    return list(by_key.values())


def open_store(out, writable: bool = True):
    """The store for ``out``: ``*.csv`` -> :class:`CsvStore`, else
    :class:`ParquetStore` (``*.parquet`` or an existing directory)."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return CsvStore(path, writable)
    if suffix in (".parquet", ".pq") or path.is_dir():
        return ParquetStore(path, writable)
    raise ConfigError(f"out must end in .parquet (a directory of part files) or .csv, "
                      f"not {str(out)!r}")


def load_results(path):
    """Read a sweep's results (Parquet directory or CSV), deduplicated by key.

    Works on a finished, interrupted or running sweep.

    Returns
    -------
    pandas.DataFrame
        One row per point x trace (see :func:`sim.search.sweep.sweep`).
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such sweep result")
    if path.is_file() and path.suffix.lower() in (".parquet", ".pq"):
        import pandas as pd

        return pd.read_parquet(path)
    return rows_to_frame(_dedup(open_store(path, writable=False).read_rows()))
