"""Simulation results: a summary dict, and per-op / per-layer tables built on demand.

:class:`Report` only assembles what the engine (:class:`~sim.engine.Timing`) and the
cost model (:class:`~sim.cost.Energy`) computed; it computes no cycle or energy itself.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from sim.cost import COMPONENTS, Design, Energy
from sim.cost.actions import ACTIONS, actions
from sim.engine import SUM_KEYS, Timing
from sim.engine.compute import vector_cost
from sim.workload.lower import EMBED_LAYER, Ops
from sim.workload.trace import Trace

__all__ = ["Report", "OpResult", "action_counts", "layer_energy"]


def _plain(values: dict) -> dict:
    """numpy scalars to Python scalars."""
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in values.items()}


def _layer_name(layer: int, depth: int) -> str:
    if layer == EMBED_LAYER:
        return "embed"
    return "head" if layer == depth else f"block{layer}"


class Report:
    """Result of :func:`sim.simulate`.

    Attributes
    ----------
    summary : dict
        Whole-model figures: ``cycles``, ``latency_s``, ``macs``, ``utilization``,
        ``energy_j``, ``power_w``, ``edp_per_inference_js`` (J*s per image),
        ``edp_batch_js`` (J*s of the whole batch), ...
    ops : pandas.DataFrame
        One row per op (totals over its ``count`` identical instances).
    layers : pandas.DataFrame
        One row per layer (``embed``, ``block0`` ... ``head``).
    arch, design, trace, mode
        What was simulated.
    """

    def __init__(self, design: Design, trace: Trace, ops: Ops, timing: Timing,
                 energy: Energy, mode: str):
        self.design, self.arch, self.trace, self.mode = design, design.arch, trace, mode
        self.timing, self.energy = timing, energy
        self._ops = ops
        self.summary = self._summarise()

    def _summarise(self):
        a, t, c = self.arch, self.timing, self.timing.ops
        out = {
            "arch": a.name, "trace": self.trace.name, "model": self.trace.model.name,
            "batch": self.trace.batch, "mode": self.mode, "dataflow": a.array.dataflow,
            "rows": a.array.rows, "cols": a.array.cols, "clock_mhz": a.clock_mhz,
            "precision": a.precision, "cycles": t.cycles, "latency_s": t.latency_s,
        }
        totals = np.stack([c[key] for key in SUM_KEYS]).sum(axis=1)  # int64, exact
        out.update(zip(SUM_KEYS, totals.tolist()))
        pe = a.peak_macs_per_cycle
        out["utilization"] = out["macs"] / (t.cycles * pe) if t.cycles else 0.0
        g = self._ops.is_gemm
        pe_folds = float((c["folds"][g]).sum()) * pe
        used = (c["mapping_efficiency"][g] * c["folds"][g] * pe).sum()
        out["mapping_efficiency"] = float(used / pe_folds) if pe_folds else 0.0
        out["throughput_ips"] = self.trace.batch / t.latency_s if t.cycles else 0.0
        out.update(self.energy.summary)
        return out

    @cached_property
    def ops(self):
        """Per-op table (pandas DataFrame)."""
        import pandas as pd

        o = self._ops
        df = pd.DataFrame({
            "layer": o.layer, "op": list(o.op), "kind": list(o.kind), "vector_op": list(o.vop),
            "m": o.m, "n": o.n, "k": o.k, "count": o.count, "vector_elements": o.elements,
        })
        for key, values in {**self.timing.ops, **self.energy.ops}.items():
            df[key] = values
        return df

    def layer_columns(self) -> dict:
        """Per-layer columns as numpy arrays (what :attr:`layers` tabulates): ``layer``,
        ``name``, ``array_cycles``, ``vector_cycles``, ``cycles``, ``latency_s``, the sums
        of every :data:`~sim.engine.SUM_KEYS` count but vector cycles, ``energy_pj``,
        ``energy_<component>_pj``, ``energy_j``, ``energy_<component>_j``, ``power_w``
        and ``edp_batch_js``."""
        t = self.timing
        idx = self._ops.layer - EMBED_LAYER
        cols = {"layer": t.layer_ids,
                "name": [_layer_name(i, self.trace.model.depth) for i in t.layer_ids],
                "array_cycles": t.array_cycles, "vector_cycles": t.vector_cycles,
                "cycles": t.layer_cycles, "latency_s": t.layer_cycles / self.arch.clock_hz}
        for key in SUM_KEYS:
            if key != "vector_cycles":
                total = np.zeros(len(t.layer_ids), dtype=np.int64)
                np.add.at(total, idx, t.ops[key])
                cols[key] = total
        for c in [f"energy_{c}" for c in COMPONENTS] + ["energy"]:
            pj = np.bincount(idx, weights=self.energy.ops[f"{c}_pj"], minlength=len(idx))
            cols[f"{c}_pj"] = pj[:len(t.layer_ids)]
        for c in ["energy"] + [f"energy_{c}" for c in COMPONENTS]:
            cols[f"{c}_j"] = cols[f"{c}_pj"] * 1e-12
        lat, e = cols["latency_s"], cols["energy_j"]
        cols["power_w"] = np.divide(e, lat, out=np.zeros_like(e), where=lat > 0)
        cols["edp_batch_js"] = e * lat
        return cols

    @cached_property
    def layers(self):
        """Per-layer table (pandas DataFrame) of :meth:`layer_columns`."""
        import pandas as pd

        return pd.DataFrame(self.layer_columns())

    def to_dict(self) -> dict:
        """The summary as plain JSON-ready Python values."""
        return _plain(self.summary)

    def __repr__(self):
        s = self.summary
        return (f"<Report {s['model']} on {s['arch']}: {s['cycles']:,} cycles, "
                f"{s['latency_s'] * 1e3:.3f} ms, util {s['utilization']:.1%}>")


def layer_energy(report: Report):
    """Energy, power and EDP per layer: ``layer, name, latency_s, energy_j,
    energy_<component>_j, power_w, edp_batch_js`` (columns of ``report.layers``)."""
    cols = (["layer", "name", "latency_s", "energy_j"]
            + [f"energy_{c}_j" for c in COMPONENTS] + ["power_w", "edp_batch_js"])
    return report.layers[cols].copy()


def action_counts(report: Report):
    """Tidy table of the action counts of a run.

    Columns: ``layer``, ``op``, ``kind``, ``action`` (``mac_<precision>``,
    ``register_bits``, ``sram_<buf>_read|write``, ``dram_<buf>_read|write``,
    ``vector_<vop>``, ``array_s``, ``vector_s``, ``time_s``), ``component``, ``count``,
    ``unit``.  One row per op and non-zero action.
    """
    import pandas as pd

    o, arch = report._ops, report.arch
    acts = actions(arch, vector_cost(arch, o), o.elements, report.timing.ops,
                   report.timing.latency_s)
    frames = []
    for name, values in acts.items():
        unit, component = ACTIONS[name]
        keep = values > 0
        if not keep.any():
            continue
        if name == "macs":
            label = np.full(keep.sum(), f"mac_{arch.precision}", dtype=object)
        elif name == "vector_lane_ops":
            label = np.array([f"vector_{v}" for v, k in zip(o.vop, keep) if k], dtype=object)
        else:
            label = np.full(keep.sum(), name, dtype=object)
        frames.append(pd.DataFrame({
            "layer": o.layer[keep], "op": np.asarray(o.op, dtype=object)[keep],
            "kind": np.asarray(o.kind, dtype=object)[keep], "action": label,
            "component": component, "count": values[keep], "unit": unit}))
    cols = ["layer", "op", "kind", "action", "component", "count", "unit"]
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)[cols]


class OpResult:
    """Result of :func:`sim.simulate_gemm`: one GEMM's figures as attributes.

    Every key of :meth:`to_dict` (``compute_cycles``, ``stall_cycles``, ``total_cycles``,
    ``macs``, ``utilization``, ``mapping_efficiency``, ``sram_ifmap_reads`` ...) is also
    an attribute.
    """

    def __init__(self, values: dict):
        self._values = dict(values)

    def __getattr__(self, name):
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self) -> dict:
        """Plain JSON-ready dict."""
        return _plain(self._values)

    def __repr__(self):
        v = self._values
        return (f"<OpResult {v['m']}x{v['n']}x{v['k']} {v['dataflow']}: "
                f"{v['total_cycles']:,} cycles>")
