"""The run, top to bottom: load -> lower -> simulate -> price -> report."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.config import ArchConfig, load_arch
from sim.cost import price
from sim.engine import simulate_ops
from sim.report import OpResult, Report
from sim.report.report import run_latency_s
from sim.workload import Ops, Trace, load_trace, lower
from sim.workload.ops_trace import OpsTrace

__all__ = ["simulate", "simulate_gemm"]


def _arch(arch) -> ArchConfig:
    return arch if isinstance(arch, ArchConfig) else load_arch(arch)


def simulate(arch, trace, *, mode: str = "cycle", trace_dir=None) -> Report:
    """Simulate a ViT trace on an architecture.

    Parameters
    ----------
    arch : ArchConfig or str or Path
        Architecture, a YAML file or a preset name (``"zcu102"``).
    trace : Trace or OpsTrace or str or Path
        Trace (v1), captured op list (v2) or a trace file (YAML/JSON).
    mode : {"cycle", "analytic"}
        ``cycle`` adds the double-buffered memory walk (stalls, DRAM traffic);
        ``analytic`` is compute only (stall-free), for the fastest sweeps.
    trace_dir : str or Path, optional
        Write per-cycle SRAM/DRAM address traces (SCALE-Sim format) there.

    Returns
    -------
    Report
    """
    arch = _arch(arch)
    if not isinstance(trace, (Trace, OpsTrace)):
        trace = load_trace(trace)
    ops = lower(trace)
    cols = simulate_ops(arch, ops, mode)
    extra_cols, extra_summary = price(arch, ops, cols, run_latency_s(arch, ops, cols),
                                      batch=trace.batch)
    cols.update(extra_cols)
    report = Report(arch, trace, ops, cols, mode, extra_summary)
    if trace_dir is not None:
        from sim.hw.address_trace import write_traces

        write_traces(arch, ops, Path(trace_dir))
    return report


def simulate_gemm(arch, m: int, n: int, k: int, *, mode: str = "cycle") -> OpResult:
    """Simulate one GEMM ``out[m, n] = A[m, k] @ B[k, n]``; see :class:`OpResult`."""
    from sim.errors import ConfigError

    bad = [f"{name} = {v!r}" for name, v in (("m", m), ("n", n), ("k", k))
           if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1]
    if bad:
        raise ConfigError(f"GEMM dimensions must be integers >= 1, not {', '.join(bad)}")
    arch = _arch(arch)
    one = lambda v: np.array([v], dtype=np.int64)  # noqa: E731
    ops = Ops(layer=one(0), op=("gemm",), kind=("gemm",), vop=("",), m=one(m), n=one(n),
              k=one(k), count=one(1), elements=one(0))
    cols = simulate_ops(arch, ops, mode)
    latency_s = int(cols["total_cycles"][0]) / (arch.clock_mhz * 1e6)
    extra_cols, extra_summary = price(arch, ops, cols, latency_s)
    cols.update(extra_cols)
    values = {"m": m, "n": n, "k": k, "dataflow": arch.array.dataflow,
              "rows": arch.array.rows, "cols": arch.array.cols}
    values.update({key: col[0] for key, col in cols.items()})
    values["latency_s"] = latency_s
    values.update(extra_summary)
    return OpResult(values)
