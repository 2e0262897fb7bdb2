"""Simulation results: a summary dict, and per-op / per-layer tables built on demand."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from sim.config.schema import ArchConfig
from sim.workload.lower import EMBED_LAYER, Ops
from sim.workload.trace import Trace

__all__ = ["Report", "OpResult", "SUM_KEYS", "layer_cycles", "run_latency_s"]

#: Op columns that add up over ops, layers and the model.
SUM_KEYS = (
    "macs", "folds", "compute_cycles", "stall_cycles", "fill_cycles", "drain_cycles",
    "vector_cycles", "sram_ifmap_reads", "sram_filter_reads", "sram_ofmap_writes",
    "dram_ifmap_read_bytes", "dram_filter_read_bytes", "dram_ofmap_write_bytes",
)


def layer_cycles(arch: ArchConfig, ops: Ops, cols: dict):
    """``(layer ids, array cycles, vector cycles, layer cycles)`` in layer order.

    A layer takes array + vector cycles, or their max with ``vector.overlap: true``.
    """
    idx = ops.layer - EMBED_LAYER
    size = int(idx.max()) + 1
    vec = np.bincount(idx, weights=cols["vector_cycles"], minlength=size)
    arr = np.bincount(idx, weights=cols["total_cycles"], minlength=size) - vec
    both = np.maximum(arr, vec) if arch.vector.overlap else arr + vec
    return np.arange(size) + EMBED_LAYER, arr, vec, both


def run_latency_s(arch: ArchConfig, ops: Ops, cols: dict) -> float:
    """Latency of the whole run, seconds (what ``Report.summary["latency_s"]`` says)."""
    return int(round(layer_cycles(arch, ops, cols)[3].sum())) / (arch.clock_mhz * 1e6)


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
        Whole-model figures: ``cycles``, ``latency_s``, ``macs``, ``utilization``, ...
        (and ``energy_j``, ``power_w``, ``edp_js`` when the energy model priced the run).
    ops : pandas.DataFrame
        One row per op (totals over its ``count`` identical instances).
    layers : pandas.DataFrame
        One row per layer (``embed``, ``block0`` ... ``head``).
    """

    def __init__(self, arch: ArchConfig, trace: Trace, ops: Ops, cols: dict, mode: str,
                 extra_summary: dict | None = None):
        self.arch, self.trace, self.mode = arch, trace, mode
        self._ops, self._cols = ops, cols
        self._layer_cycles = layer_cycles(arch, ops, cols)
        self.summary = self._summarise(extra_summary or {})

    def _summarise(self, extra):
        a, c = self.arch, self._cols
        cycles = int(round(self._layer_cycles[3].sum()))
        out = {
            "arch": a.name, "trace": self.trace.name, "model": self.trace.model.name,
            "batch": self.trace.batch, "mode": self.mode, "dataflow": a.array.dataflow,
            "rows": a.array.rows, "cols": a.array.cols, "clock_mhz": a.clock_mhz,
            "precision": a.precision, "cycles": cycles,
            "latency_s": cycles / (a.clock_mhz * 1e6),
        }
        out.update({key: int(c[key].sum()) for key in SUM_KEYS})
        pe = a.array.rows * a.array.cols
        out["utilization"] = out["macs"] / (cycles * pe) if cycles else 0.0
        g = self._ops.is_gemm
        pe_folds = float((c["folds"][g]).sum()) * pe
        used = (c["mapping_efficiency"][g] * c["folds"][g] * pe).sum()
        out["mapping_efficiency"] = float(used / pe_folds) if pe_folds else 0.0
        out["throughput_ips"] = self.trace.batch / out["latency_s"] if cycles else 0.0
        out.update(extra)
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
        for key, values in self._cols.items():
            df[key] = values
        return df

    @cached_property
    def layers(self):
        """Per-layer table (pandas DataFrame): cycles, latency and summed counts."""
        import pandas as pd

        ids, arr, vec, both = self._layer_cycles
        sums = self.ops.groupby("layer")[[k for k in self._cols if k in SUM_KEYS
                                          or k.startswith("energy_")]].sum()
        df = pd.DataFrame({
            "layer": ids, "name": [_layer_name(i, self.trace.model.depth) for i in ids],
            "array_cycles": arr.astype(np.int64), "vector_cycles": vec.astype(np.int64),
            "cycles": both.astype(np.int64),
        }).set_index("layer")
        df["latency_s"] = df["cycles"] / (self.arch.clock_mhz * 1e6)
        df = df.join(sums.drop(columns=["vector_cycles"]), how="left").reset_index()
        if "energy_pj" in df:
            df["energy_j"] = df["energy_pj"] * 1e-12
            df["power_w"] = df["energy_j"] / df["latency_s"]
            df["edp_js"] = df["energy_j"] * df["latency_s"]
        return df

    def to_dict(self) -> dict:
        """The summary as plain JSON-ready Python values."""
        return _plain(self.summary)

    def __repr__(self):
        s = self.summary
        return (f"<Report {s['model']} on {s['arch']}: {s['cycles']:,} cycles, "
                f"{s['latency_s'] * 1e3:.3f} ms, util {s['utilization']:.1%}>")


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
