"""Human-readable text tables of a report (what ``vitsim run`` prints), without pandas."""

from __future__ import annotations

__all__ = ["format_report", "format_table"]

#: Summary keys printed, in order.
SUMMARY_KEYS = ("cycles", "latency_s", "throughput_ips", "compute_cycles", "stall_cycles",
                "vector_cycles", "macs", "utilization", "mapping_efficiency", "energy_j",
                "power_w", "edp_per_inference_js")
LAYER_KEYS = ("name", "cycles", "array_cycles", "vector_cycles", "stall_cycles", "macs",
              "energy_j")
OP_KEYS = ("layer", "op", "m", "n", "k", "count", "compute_cycles", "stall_cycles",
           "vector_cycles", "total_cycles")


def _fmt(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(columns: dict) -> str:
    """Right-aligned plain-text table of equal-length columns (header first)."""
    cells = [[key] + [_fmt(v) for v in values] for key, values in columns.items()]
    widths = [max(map(len, col)) for col in cells]
    return "\n".join(" ".join(col[r].rjust(w) for col, w in zip(cells, widths))
                     for r in range(len(cells[0])))


def format_report(report, ops: bool = False) -> str:
    """Summary, the per-layer table and (optionally) the per-op table as text."""
    s = report.summary
    lines = [
        f"vitsim: {s['model']} (batch {s['batch']}, trace {s['trace']}) on {s['arch']} "
        f"[{s['rows']}x{s['cols']} {s['dataflow']}, {s['clock_mhz']:g} MHz, {s['precision']}, "
        f"{s['mode']} mode]",
        "",
    ]
    keys = [k for k in SUMMARY_KEYS if k in s]
    width = max(map(len, keys))
    lines += [f"  {k:<{width}}  {_fmt(s[k])}" for k in keys]
    if "energy_source" in s:
        lines.append(f"  {'energy source':<{width}}  {s['energy_source']}")
    layer = report.layer_columns()
    lines += ["", format_table({k: layer[k] for k in LAYER_KEYS})]
    if ops:
        o, t = report._ops, report.timing.ops
        table = {"layer": o.layer, "op": o.op, "m": o.m, "n": o.n, "k": o.k, "count": o.count}
        table.update({k: t[k] for k in OP_KEYS[6:]})
        lines += ["", format_table(table)]
    return "\n".join(lines)
