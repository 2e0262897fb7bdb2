"""Write SCALE-Sim 3.0.0's report CSVs, byte for byte in its format.

Each row is ``<layer id>, v1, v2, ...,`` (``", "`` separators, a trailing comma) with every
value printed by ``str``: integers as integers, floats in Python's shortest round-trip form
(``1.0``, ``0.7089077930967048``), as ``simulator.py: generate_reports`` does.  Start/stop
cycles are floats in SCALE-Sim (``-512.0``), counts and cycle totals integers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["COMPUTE_HEADER", "BANDWIDTH_HEADER", "DETAIL_HEADER", "write_reports",
           "format_row", "write_sram_traces"]

COMPUTE_HEADER = ("LayerID, Total Cycles (incl. prefetch), Total Cycles, Stall Cycles, "
                  "Overall Util %, Mapping Efficiency %, Compute Util %,\n")
BANDWIDTH_HEADER = ("LayerID, Avg IFMAP SRAM BW, Avg FILTER SRAM BW, Avg OFMAP SRAM BW, "
                    "Avg IFMAP DRAM BW, Avg FILTER DRAM BW, Avg OFMAP DRAM BW,\n")
DETAIL_HEADER = "LayerID, " + "".join(
    f"{mem} {op} Start Cycle, {mem} {op} Stop Cycle, {mem} {op} {verb}, "
    for mem, op, verb in (("SRAM", "IFMAP", "Reads"), ("SRAM", "Filter", "Reads"),
                          ("SRAM", "OFMAP", "Writes"), ("DRAM", "IFMAP", "Reads"),
                          ("DRAM", "Filter", "Reads"), ("DRAM", "OFMAP", "Writes")))[:-2] + ",\n"

_FILES = (("COMPUTE_REPORT.csv", COMPUTE_HEADER, "compute"),
          ("BANDWIDTH_REPORT.csv", BANDWIDTH_HEADER, "bandwidth"),
          ("DETAILED_ACCESS_REPORT.csv", DETAIL_HEADER, "detail"))


def format_row(layer_id: int, values) -> str:
    """One report line: ``id, v, v, ...,\\n`` with ``str`` of each value."""
    return f"{layer_id}, " + ", ".join(str(v) for v in values) + ",\n"


def write_reports(report_dir, results) -> None:
    """Write the three reports of ``results`` (one dict per layer) into ``report_dir``."""
    report_dir = Path(report_dir)
    for name, header, key in _FILES:
        lines = [header] + [format_row(i, r[key]) for i, r in enumerate(results)]
        (report_dir / name).write_text("".join(lines))


def write_sram_traces(report_dir, results) -> None:
    """``layer<i>/{IFMAP,FILTER,OFMAP}_SRAM_TRACE.csv``: ``cycle, addr, ...`` per demand row
    (``-1`` = idle port), the service cycle of each row first, as SCALE-Sim prints them."""
    for i, res in enumerate(results):
        layer_dir = Path(report_dir) / f"layer{i}"
        layer_dir.mkdir(exist_ok=True)
        for name in ("IFMAP", "FILTER", "OFMAP"):
            served, demand = res["sram_traces"][name]
            table = np.column_stack((np.asarray(served, dtype=np.int64), demand))
            np.savetxt(layer_dir / f"{name}_SRAM_TRACE.csv", table, fmt="%i", delimiter=",")
