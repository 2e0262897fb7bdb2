"""Energy, power and EDP: the engine's action counts priced by an energy table.

The run resolves the design once (:func:`resolve_design`: energy table, FPGA mapping),
then calls :func:`price` after the engine; it returns an :class:`Energy` with per-op
columns ``energy_<component>_pj`` (components :data:`COMPONENTS`), ``energy_pj``,
``power_w``, ``edp_batch_js`` and summary keys ``energy_j``, ``energy_<component>_j``,
``power_w``, ``edp_per_inference_js``, ``edp_batch_js``, ``energy_source`` ...
(docs/energy.md).

* :mod:`sim.cost.actions` -- what the hardware did, in countable units.
* :mod:`sim.cost.tables` -- the YAML tables; :mod:`sim.cost.pricers` -- one pricer per
  table kind (asic, fpga, unit_power).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.cost.actions import ACTIONS, actions
from sim.cost.design import Design, resolve_design
from sim.cost.pricers import COMPONENTS, get_pricer
from sim.cost.tables import EnergyTable, list_tables, load_table, resolve_table
from sim.engine import Timing
from sim.engine.compute import vector_cost
from sim.hw.fpga import utilization_summary
from sim.workload.lower import Ops

__all__ = ["price", "Energy", "Design", "resolve_design", "COMPONENTS", "ACTIONS",
           "EnergyTable", "load_table", "list_tables", "resolve_table", "edp_per_inference_js"]


def edp_per_inference_js(energy_j, latency_s, batch):
    """EDP per inference of a batch run: ``(energy / batch) x (latency / batch)``, J*s."""
    return (energy_j / batch) * (latency_s / batch)


@dataclass(frozen=True, eq=False)
class Energy:
    """The priced run.

    Attributes
    ----------
    ops : dict of str -> numpy.ndarray
        Per op: ``energy_<component>_pj``, ``energy_pj``, ``power_w`` (W over the op's
        own time) and ``edp_batch_js`` (op energy x op time, J*s, for the whole batch).
    summary : dict
        Whole-run keys: ``energy_j``, ``energy_<component>_j``, ``power_w``,
        ``edp_per_inference_js``, ``edp_batch_js``, ``energy_per_inference_j``, the table's
        provenance, and pricer- or platform-specific keys.
    """

    ops: dict
    summary: dict


def price(design: Design, ops: Ops, timing: Timing, batch: int = 1) -> Energy:
    """Price a run: the engine's counts x the design's energy table.

    Parameters
    ----------
    design : Design
    ops : Ops
        The lowered ops the engine ran.
    timing : Timing
        The engine's result for ``ops``.
    batch : int
        Images in the run; ``edp_per_inference_js`` is ``(E/b) * (latency/b)``.
    """
    arch, table = design.arch, design.table
    latency_s = timing.latency_s
    acts = actions(arch, vector_cost(arch, ops), ops.elements, timing.ops, latency_s)
    comps, extra = get_pricer(table.kind)(design, acts)
    out = {f"energy_{c}_pj": comps[c] for c in COMPONENTS}
    energy_pj = np.sum([comps[c] for c in COMPONENTS], axis=0)
    out["energy_pj"] = energy_pj
    op_s = timing.ops["latency_s"]
    energy_j = energy_pj * 1e-12
    out["power_w"] = np.divide(energy_j, op_s, out=np.zeros_like(op_s), where=op_s > 0)
    out["edp_batch_js"] = energy_j * op_s
    total_j = float(energy_j.sum())
    summary = {"energy_j": total_j}
    summary.update({f"energy_{c}_j": float(comps[c].sum()) * 1e-12 for c in COMPONENTS})
    summary["power_w"] = total_j / latency_s if latency_s > 0 else 0.0
    summary["edp_per_inference_js"] = edp_per_inference_js(total_j, latency_s, batch)
    summary["edp_batch_js"] = total_j * latency_s
    summary["energy_per_inference_j"] = total_j / batch
    summary.update(table.provenance())
    summary.update(extra)
    if design.fpga is not None:
        summary["platform"] = arch.platform
        summary.update(utilization_summary(design.fpga))
    return Energy(out, summary)
