"""Write a :class:`~sim.report.Report` to disk: one file (``.json``: summary, layers and
ops; ``.csv``/``.parquet``: the per-op table) or a folder of summary JSON plus op/layer
tables -- the same ``--out`` rule as ``vitsim sweep``."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["write_report", "write_report_file", "check_out_path", "FORMATS"]

FORMATS = ("csv", "json", "parquet")


def write_report(report, out_dir, formats=("csv", "json")) -> list[Path]:
    """Write ``summary.json`` and ``ops``/``layers`` tables in each of ``formats``.

    Returns the paths written.
    """
    from sim.errors import ConfigError

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ConfigError(f"report formats must be among {list(FORMATS)}, not {bad}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "summary.json"]
    paths[0].write_text(json.dumps(report.to_dict(), indent=2))
    for name in ("ops", "layers"):
        df = getattr(report, name)
        for fmt in formats:
            path = out / f"{name}.{fmt}"
            if fmt == "csv":
                df.to_csv(path, index=False)
            elif fmt == "json":
                df.to_json(path, orient="records", indent=1)
            else:
                df.to_parquet(path, index=False)
            paths.append(path)
    return paths


def check_out_path(path) -> str:
    """What ``--out PATH`` writes: ``"file"`` for a ``.csv``/``.parquet``/``.json`` path,
    ``"dir"`` for a path without a suffix; any other suffix is a ConfigError (checked
    before any work)."""
    from sim.errors import ConfigError, short_repr

    suffix = Path(path).suffix.lower()
    if not suffix:
        return "dir"
    if suffix.lstrip(".") in FORMATS:
        return "file"
    raise ConfigError(f"--out = {short_repr(str(path))}; must end in .csv, .parquet or .json "
                      f"(one file) or have no suffix (a folder of summary.json, ops.*, "
                      f"layers.*)")


def write_report_file(report, path) -> Path:
    """Write one file: ``.json`` = ``{"summary", "layers", "ops"}``; ``.csv``/``.parquet``
    = the per-op table (the summary is in ``report.summary``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lower().lstrip(".")
    if fmt == "json":
        doc = {"summary": report.to_dict(),
               "layers": json.loads(report.layers.to_json(orient="records")),
               "ops": json.loads(report.ops.to_json(orient="records"))}
        path.write_text(json.dumps(doc, indent=1))
    elif fmt == "csv":
        report.ops.to_csv(path, index=False)
    else:
        report.ops.to_parquet(path, index=False)
    return path
