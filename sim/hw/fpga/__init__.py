"""FPGA platforms: device budgets, the resource mapping and the over-budget check.

``platform: zcu102`` in an arch maps it onto the XCZU9EG (:mod:`.mapping`); loading an
arch that does not fit raises :class:`~sim.errors.ResourceError` naming every resource,
used vs available.
"""

from __future__ import annotations

from sim.errors import ResourceError
from sim.hw.fpga.device import DEVICES, RESOURCES, FpgaDevice, get_device
from sim.hw.fpga.mapping import FpgaMapping, map_arch

__all__ = ["DEVICES", "RESOURCES", "FpgaDevice", "FpgaMapping", "get_device", "map_arch",
           "check_fits", "utilization", "utilization_summary"]

_UNIT_NOTE = {"pe": "array", "ifmap": "ifmap", "filter": "filter", "ofmap": "ofmap",
              "vector": "vector", "control": "control"}


def _explain(arch, mapping: FpgaMapping, resource: str) -> str:
    parts = [f"{_UNIT_NOTE[u]} {v:,.0f}" for u, v in mapping.used[resource].items() if v]
    why = " + ".join(parts)
    if resource == "dsp":
        per = {"int8": "2 MACs per DSP48E2", "int16": "1 MAC per DSP48E2",
               "fp16": "1 DSP48E2 per MAC", "fp32": "3 DSP48E2 per MAC"}[arch.precision]
        why += (f"; the array has {arch.array.rows}x{arch.array.cols} "
                f"{arch.precision} MACs at {per}")
    return why


def check_fits(arch) -> FpgaMapping:
    """Map ``arch`` onto its device; raise :class:`ResourceError` if anything is over budget.

    The error lists every resource as ``used / available`` (over-budget ones first, each
    with where the use comes from) and suggests a fix.
    """
    mapping = map_arch(arch)
    over = mapping.over_budget()
    if not over:
        return mapping
    dev = mapping.device
    util = mapping.utilization()
    problems = [f"design {arch.name!r} does not fit the {dev.board} ({dev.part})"]
    for r in over:
        used, avail = util[r]
        problems.append(f"{RESOURCES[r]}: needs {used:,} but the device has {avail:,} "
                        f"({used / avail:.0%}), because {_explain(arch, mapping, r)}")
    fits = [f"{RESOURCES[r]} {u:,}/{a:,}" for r, (u, a) in util.items() if r not in over]
    if fits:
        problems.append("within budget: " + ", ".join(fits))
    hint = {"dsp": "use fewer PEs (array.rows x array.cols)" + (
                "" if arch.precision == "int8" else " or int8 (2 MACs per DSP48E2)"),
            "bram36": "use smaller SRAM buffers (memory.*_kib)",
            "lut": "use fewer vector lanes or integer precision",
            "ff": "use fewer PEs or vector lanes"}
    problems.append("suggestion: " + "; ".join(hint[r] for r in over))
    raise ResourceError(problems)


def utilization(arch):
    """Resource use of ``arch`` as a DataFrame: resource, used, available, utilization and
    the use per unit (pe, ifmap, filter, ofmap, vector, control)."""
    import pandas as pd

    mapping = map_arch(arch)
    rows = []
    for r, (used, avail) in mapping.utilization().items():
        row = {"resource": RESOURCES[r], "used": used, "available": avail,
               "utilization": used / avail if avail else float("inf")}
        row.update({f"{u}": v for u, v in mapping.used[r].items()})
        rows.append(row)
    return pd.DataFrame(rows).fillna(0)


def utilization_summary(mapping: FpgaMapping) -> dict:
    """Summary keys ``fpga_<resource>_used / _available / _utilization``."""
    out = {"fpga_board": mapping.device.board, "fpga_part": mapping.device.part}
    for r, (used, avail) in mapping.utilization().items():
        out[f"fpga_{r}_used"] = used
        out[f"fpga_{r}_available"] = avail
        out[f"fpga_{r}_utilization"] = used / avail if avail else 0.0
    return out
