"""Reports: the summary dict, per-op and per-layer DataFrames, and writers."""

from sim.report.report import OpResult, Report, action_counts, layer_energy
from sim.report.writers import write_report

__all__ = ["Report", "OpResult", "write_report", "action_counts", "layer_energy"]
