"""Energy, power and EDP: the engine's action counts priced by an energy table.

The run calls :func:`price` after the engine; it returns per-op columns
``energy_<component>_pj`` (components :data:`COMPONENTS`), ``energy_pj``, ``latency_s``,
``power_w``, ``edp_js`` and summary keys ``energy_j``, ``energy_<component>_j``,
``power_w``, ``edp_js``, ``energy_source`` ... (docs/energy.md).

* :func:`action_counts` -- the tidy table of what was counted (report -> DataFrame).
* :func:`layer_energy` -- energy, power and EDP per layer (report -> DataFrame).
* :mod:`sim.cost.tables` -- the YAML tables; :mod:`sim.cost.pricers` -- one pricer per
  table kind (asic, fpga, unit_power).
"""

from __future__ import annotations

import numpy as np

from sim.cost.actions import ACTIONS, actions
from sim.cost.pricers import COMPONENTS, get_pricer
from sim.cost.tables import EnergyTable, list_tables, load_table, resolve_table

__all__ = ["price", "action_counts", "layer_energy", "COMPONENTS", "ACTIONS", "EnergyTable",
           "load_table", "list_tables", "resolve_table"]


def _edp(energy_j, latency_s, batch):
    """EDP per inference: (energy / batch) x (latency / batch), J*s."""
    return (energy_j / batch) * (latency_s / batch)


def price(arch, ops, cols, latency_s, batch: int = 1):
    """Energy of a run: ``(extra op columns, extra summary keys)``.

    Parameters
    ----------
    arch : ArchConfig
    ops : sim.workload.Ops
    cols : dict of arrays
        The engine's op columns.
    latency_s : float
        Latency of the whole run, seconds.
    batch : int
        Images in the run; ``edp_js`` is per inference: ``(E/b) * (latency/b)``.

    Returns
    -------
    (dict, dict)
        Op columns (pJ, s, W, J*s) and summary keys (J, W, J*s, provenance strings).
    """
    table = resolve_table(arch)
    acts = actions(arch, ops.vop, ops.elements, cols, latency_s)
    comps, extra = get_pricer(table.kind)(arch, table, acts)
    out = {f"energy_{c}_pj": comps[c] for c in COMPONENTS}
    energy_pj = np.sum([comps[c] for c in COMPONENTS], axis=0)
    out["energy_pj"] = energy_pj
    op_s = np.asarray(cols["total_cycles"], dtype=np.float64) / (arch.clock_mhz * 1e6)
    out["latency_s"] = op_s
    energy_j = energy_pj * 1e-12
    out["power_w"] = np.divide(energy_j, op_s, out=np.zeros_like(op_s), where=op_s > 0)
    out["edp_js"] = energy_j * op_s
    total_j = float(energy_j.sum())
    summary = {"energy_j": total_j}
    summary.update({f"energy_{c}_j": float(comps[c].sum()) * 1e-12 for c in COMPONENTS})
    summary["power_w"] = total_j / latency_s if latency_s > 0 else 0.0
    summary["edp_js"] = _edp(total_j, latency_s, batch)
    summary["energy_per_inference_j"] = total_j / batch
    summary["energy_table"] = table.name
    summary["energy_label"] = table.label
    summary["energy_source"] = table.source
    if table.overridden:
        summary["energy_overrides"] = ", ".join(
            f"{k}={table.entries[k]:g}" for k in table.overridden)
    summary.update(extra)
    if arch.platform != "asic":
        from sim.hw.fpga import check_fits, utilization_summary

        summary["platform"] = arch.platform
        summary.update(utilization_summary(check_fits(arch)))
    return out, summary


def action_counts(report):
    """Tidy table of action counts of a :class:`~sim.report.Report`.

    Columns: ``layer``, ``op``, ``kind``, ``action`` (``mac_<precision>``,
    ``register_bits``, ``sram_<buf>_read|write``, ``dram_<buf>_read|write``,
    ``vector_<vop>``, ``array_s``, ``vector_s``, ``time_s``), ``component``, ``count``,
    ``unit``.  One row per op and non-zero action.
    """
    import pandas as pd

    df = report.ops
    arch = report.arch
    acts = actions(arch, list(df["vector_op"]), df["vector_elements"].to_numpy(),
                   {k: df[k].to_numpy() for k in df.columns}, report.summary["latency_s"])
    frames = []
    for name, values in acts.items():
        unit, component = ACTIONS[name]
        keep = values > 0
        if not keep.any():
            continue
        if name == "macs":
            label = np.full(keep.sum(), f"mac_{arch.precision}", dtype=object)
        elif name == "vector_lane_ops":
            label = np.array([f"vector_{v}" for v in df["vector_op"][keep]], dtype=object)
        else:
            label = np.full(keep.sum(), name, dtype=object)
        frames.append(pd.DataFrame({
            "layer": df["layer"].to_numpy()[keep], "op": df["op"].to_numpy()[keep],
            "kind": df["kind"].to_numpy()[keep], "action": label, "component": component,
            "count": values[keep], "unit": unit}))
    cols = ["layer", "op", "kind", "action", "component", "count", "unit"]
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)[cols]


def layer_energy(report):
    """Energy, power and EDP per layer: ``layer, name, latency_s, energy_j,
    energy_<component>_j, power_w, edp_js`` (one row per layer, from ``report.layers``)."""
    df = report.layers
    out = df[["layer", "name", "latency_s"]].copy()
    if "energy_pj" not in df:
        return out
    out["energy_j"] = df["energy_pj"] * 1e-12
    for c in COMPONENTS:
        out[f"energy_{c}_j"] = df[f"energy_{c}_pj"] * 1e-12
    lat = out["latency_s"].to_numpy()
    e = out["energy_j"].to_numpy()
    out["power_w"] = np.divide(e, lat, out=np.zeros_like(e), where=lat > 0)
    out["edp_js"] = e * lat
    return out
