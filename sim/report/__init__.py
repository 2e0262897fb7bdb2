"""Reports: the summary dict, per-op and per-layer DataFrames, and writers."""

from sim.report.report import SUM_KEYS, OpResult, Report
from sim.report.writers import write_report

__all__ = ["Report", "OpResult", "SUM_KEYS", "write_report"]
