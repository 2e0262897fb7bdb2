"""Human-readable text tables of a report (what ``vitsim run`` prints)."""

from __future__ import annotations

__all__ = ["format_report"]


def _fmt(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_report(report, ops: bool = False) -> str:
    """Summary, the per-layer table and (optionally) the per-op table as text."""
    s = report.summary
    lines = [
        f"vitsim: {s['model']} (batch {s['batch']}, trace {s['trace']}) on {s['arch']} "
        f"[{s['rows']}x{s['cols']} {s['dataflow']}, {s['clock_mhz']:g} MHz, {s['precision']}, "
        f"{s['mode']} mode]",
        "",
    ]
    keys = [k for k in ("cycles", "latency_s", "throughput_ips", "compute_cycles",
                        "stall_cycles", "vector_cycles", "macs", "utilization",
                        "mapping_efficiency", "energy_j", "power_w", "edp_per_inference_js")
            if k in s]
    width = max(map(len, keys))
    lines += [f"  {k:<{width}}  {_fmt(s[k])}" for k in keys]
    if "energy_source" in s:
        lines.append(f"  {'energy source':<{width}}  {s['energy_source']}")
    cols = ["name", "cycles", "array_cycles", "vector_cycles", "stall_cycles", "macs"]
    if "energy_j" in report.layers.columns:
        cols.append("energy_j")
    lines += ["", report.layers[cols].to_string(index=False)]
    if ops:
        ocols = ["layer", "op", "m", "n", "k", "count", "compute_cycles", "stall_cycles",
                 "vector_cycles", "total_cycles"]
        lines += ["", report.ops[ocols].to_string(index=False)]
    return "\n".join(lines)
