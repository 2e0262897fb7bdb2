"""Write a :class:`~sim.report.Report` to disk: summary JSON plus op/layer tables."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

__all__ = ["write_report", "FORMATS"]

FORMATS = ("csv", "json", "parquet")


def write_report(report, out_dir, formats=("csv", "json")) -> list[Path]:
    """Write ``summary.json`` and ``ops``/``layers`` tables in each of ``formats``.

    ``parquet`` needs pyarrow; asking for it without pyarrow raises ImportError with the
    install hint.  Returns the paths written.
    """
    from sim.errors import ConfigError

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ConfigError(f"report formats must be among {list(FORMATS)}, not {bad}")
    if "parquet" in formats and importlib.util.find_spec("pyarrow") is None:
        raise ImportError("parquet output needs pyarrow: pip install pyarrow")
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
