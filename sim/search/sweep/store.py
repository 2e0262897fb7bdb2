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

Safety: a writable store holds an exclusive lock (``<out>.lock``, :func:`fcntl.flock`)
until :meth:`close`, so a second sweep writing the same ``out`` refuses with one line
instead of losing rows.  Stored rows are checked on load: a row with a wrong number of
fields, a malformed key, an unknown status, or an ``ok`` status without finite
``cycles``/``latency_s`` is dropped (and so recomputed, then removed at compaction).  An
existing ``out`` that is not a vitsim result (a CSV without the key/status columns, a
directory holding other files, text that is not UTF-8) is refused and never modified.
Keys are always strings.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import re
import uuid
from pathlib import Path

from sim.errors import ConfigError

__all__ = ["open_store", "load_results", "ParquetStore", "CsvStore", "rows_to_frame",
           "REQUIRED_COLUMNS"]

log = logging.getLogger(__name__)

#: Columns every vitsim sweep result has; a file without them is not ours.
REQUIRED_COLUMNS = ("key", "trace", "feasible", "status")
#: Columns read as text (an all-digit key or hash must stay a string).
_TEXT_COLUMNS = ("key", "trace", "status", "reason", "arch_hash", "trace_hash", "mode")
_KEY = re.compile(r"[0-9a-f]{16}")
_STATUSES = ("ok", "infeasible", "error")


def _not_ours(path, why: str) -> ConfigError:
    return ConfigError(f"not a vitsim sweep result ({why}); it was not modified: choose "
                       "another --out, or delete it to start afresh", source=str(path))


def _finite(v) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v))


def _valid_row(r: dict) -> bool:
    """A stored row is whole: a 16-hex key, a known status, and an ``ok`` row is feasible
    with finite ``cycles`` and ``latency_s`` (when the columns exist)."""
    if not isinstance(r.get("key"), str) or not _KEY.fullmatch(r["key"]):
        return False
    status = r.get("status")
    if status not in _STATUSES:
        return False
    if status == "ok":
        if r.get("feasible") not in (True, "True", "true", 1):
            return False
        return all(_finite(r[c]) for c in ("cycles", "latency_s") if c in r)
    return True


class _Lock:
    """An exclusive, non-blocking ``flock`` on ``<path>.lock`` (no-op without fcntl)."""

    def __init__(self, path: Path):
        self.file = None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return
        lock = path.with_name(path.name + ".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        f = open(lock, "a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "?"
            f.close()
            raise ConfigError(f"another sweep (pid {holder}) is writing it now; wait for "
                              "it to finish or choose another --out", source=str(path)) from None
        f.truncate(0)
        f.write(str(os.getpid()))
        f.flush()
        self.file = f

    def release(self) -> None:
        if self.file is not None:
            self.file.close()  # closing drops the flock
            self.file = None


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
        self.bad_rows = 0
        self._lock = None
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"{self.path}: a Parquet sweep output is a directory of part "
                              "files, but a file of that name exists; choose another --out")
        if self.path.is_dir():
            other = [p.name for p in self.path.iterdir()
                     if not re.fullmatch(r"part-\d+-[0-9a-f]+\.parquet(\.tmp)?", p.name)]
            if other:
                raise _not_ours(self.path, f"a directory holding {other[:3]}")
        if writable:
            self._lock = _Lock(self.path)
            self.path.mkdir(parents=True, exist_ok=True)
            for tmp in self.path.glob("*.tmp"):  # a write killed before its rename
                tmp.unlink()

    def close(self) -> None:
        """Release the write lock (idempotent)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _parts(self):
        return sorted(self.path.glob("part-*.parquet"))

    def read_rows(self) -> list:
        """Every stored, whole row (dicts), in write order; an unreadable part or a
        damaged row is skipped (counted in ``bad_rows``) so a sweep recomputes it."""
        import pyarrow.parquet as pq

        rows, self.bad_rows = [], 0
        for part in self._parts():
            try:
                table = pq.read_table(part)
            except Exception as exc:  # noqa: BLE001 - any decode error: recompute the part
                log.warning("%s: unreadable part (%s); its rows will be recomputed", part, exc)
                self.bad_rows += 1
                continue
            missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
            if missing:
                raise _not_ours(part, f"no {missing} column(s)")
            for r in table.to_pylist():
                if _valid_row(r):
                    rows.append(r)
                else:
                    self.bad_rows += 1
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
        rows = self.read_rows()
        if len(parts) <= 1 and not self.bad_rows:
            return
        rows = _dedup(rows)
        new = self._write(rows, self._next_seq())
        for part in parts:
            if part != new:
                part.unlink()


class CsvStore:
    """One CSV file appended per batch (see the module docstring)."""

    def __init__(self, path, writable: bool = True):
        self.path = Path(path)
        self.columns = []
        self.bad_rows = 0
        self._lock = None
        if self.path.is_dir():
            raise _not_ours(self.path, "a directory, not a CSV file")
        if self.path.exists():
            text = self._text()
            header = next(csv.reader(io.StringIO(text)), None) if text.strip() else None
            if header is not None:
                missing = [c for c in REQUIRED_COLUMNS if c not in header]
                if missing:
                    raise _not_ours(self.path, f"no {missing} column(s) in its header")
            self.columns = header or []
        if writable:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = _Lock(self.path)
            if self.path.exists():
                data = self.path.read_bytes()
                if data and not data.endswith(b"\n"):  # torn last line
                    with open(self.path, "r+b") as f:
                        f.truncate(data.rfind(b"\n") + 1)

    def close(self) -> None:
        """Release the write lock (idempotent)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _text(self) -> str:
        try:
            return self.path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _not_ours(self.path, f"byte {exc.start} is not UTF-8") from None
        except OSError as exc:
            raise ConfigError(f"cannot read ({exc.strerror or exc})",
                              source=str(self.path)) from None

    def read_rows(self) -> list:
        """Every stored, whole row (dicts), in write order; a torn or damaged row is
        skipped (counted in ``bad_rows``) so a sweep recomputes it."""
        import pandas as pd

        self.bad_rows = 0
        if not self.columns:
            return []
        text = self._text()
        if not text.endswith("\n"):  # a torn last line (a write in progress or killed)
            text = text[:text.rfind("\n") + 1]
        try:
            lines = list(csv.reader(io.StringIO(text)))
        except csv.Error as exc:
            raise _not_ours(self.path, f"unparsable CSV: {exc}") from None
        whole = [r for r in lines[1:] if len(r) == len(self.columns)]
        self.bad_rows = len(lines) - 1 - len(whole)
        if not whole:
            return []
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([lines[0], *whole])
        buf.seek(0)
        dtype = {c: str for c in _TEXT_COLUMNS if c in self.columns}
        df = pd.read_csv(buf, dtype=dtype, keep_default_na=False, na_values=[""])
        rows = []
        for r in df.to_dict("records"):
            r = {k: _clean(v) for k, v in r.items()}
            if _valid_row(r):
                rows.append(r)
            else:
                self.bad_rows += 1
        return rows

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
        if len(dedup) != len(rows) or self.bad_rows:
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

    Works on a finished, interrupted or running sweep (no lock is taken).  A file that
    cannot be decoded raises one :class:`ConfigError` naming it.

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

        _pyarrow()
        try:
            df = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - any decode error is one line
            msg = " ".join(str(exc).split())[:200]
            raise ConfigError(f"not a readable Parquet file ({type(exc).__name__}: {msg}); "
                              "must be a vitsim sweep result", source=str(path)) from None
        missing = [c for c in REQUIRED_COLUMNS if c not in df]
        if missing:
            raise _not_ours(path, f"no {missing} column(s)")
        return df
    return rows_to_frame(_dedup(open_store(path, writable=False).read_rows()))
