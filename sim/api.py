"""The run, top to bottom: resolve -> lower -> simulate -> price -> report."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.config import as_arch
from sim.cost import price, resolve_design
from sim.engine import simulate_ops
from sim.errors import ConfigError
from sim.report import OpResult, Report
from sim.workload import Ops, as_trace, lower

__all__ = ["simulate", "simulate_gemm"]


def simulate(arch, trace, *, mode: str = "cycle", trace_dir=None,
             progress: bool = False) -> Report:
    """Simulate a ViT trace on an architecture.

    Parameters
    ----------
    arch : ArchConfig or str or Path
        Architecture, a YAML file or a preset name (``"zcu102"``), see :func:`sim.as_arch`.
    trace : Trace or OpsTrace or str or Path
        Trace (v1), captured op list (v2), a trace file, a shipped workload or a built-in
        model name (``"deit_s"``), see :func:`sim.as_trace`.
    mode : {"cycle", "analytic"}
        ``cycle`` adds the double-buffered memory walk (stalls, DRAM traffic);
        ``analytic`` is compute only (stall-free), for the fastest sweeps.
    trace_dir : str or Path, optional
        Write per-cycle SRAM/DRAM address traces (SCALE-Sim format) there (a warning
        with the estimated size is logged first when it passes 100 MB).
    progress : bool
        Show a progress bar on stderr while writing address traces.

    Returns
    -------
    Report
    """
    if trace_dir is not None and Path(trace_dir).exists() and not Path(trace_dir).is_dir():
        raise ConfigError(f"trace_dir = {str(trace_dir)[:200]!r}; must be a folder (it is "
                          "a file)")
    design = resolve_design(as_arch(arch))
    trace = as_trace(trace)
    ops = lower(trace)
    timing = simulate_ops(design.arch, ops, mode)
    energy = price(design, ops, timing, batch=trace.batch)
    report = Report(design, trace, ops, timing, energy, mode)
    if trace_dir is not None:
        from sim.engine.address_trace import write_traces  # numba, only when asked

        write_traces(design.arch, ops, Path(trace_dir), progress=progress)
    return report


def simulate_gemm(arch, m: int, n: int, k: int, *, mode: str = "cycle") -> OpResult:
    """Simulate one GEMM ``out[m, n] = A[m, k] @ B[k, n]``; see :class:`OpResult`."""
    bad = [f"{name} = {v!r}" for name, v in (("m", m), ("n", n), ("k", k))
           if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1]
    if bad:
        raise ConfigError(f"GEMM dimensions must be integers >= 1, not {', '.join(bad)}")
    design = resolve_design(as_arch(arch))
    arch = design.arch
    one = lambda v: np.array([v], dtype=np.int64)  # noqa: E731
    ops = Ops(layer=one(0), op=("gemm",), kind=("gemm",), vop=("",), m=one(m), n=one(n),
              k=one(k), count=one(1), elements=one(0))
    timing = simulate_ops(arch, ops, mode)
    energy = price(design, ops, timing)
    values = {"m": m, "n": n, "k": k, "dataflow": arch.array.dataflow,
              "rows": arch.array.rows, "cols": arch.array.cols}
    values.update({key: col[0] for key, col in {**timing.ops, **energy.ops}.items()})
    values["latency_s"] = timing.latency_s
    values.update(energy.summary)
    return OpResult(values)
