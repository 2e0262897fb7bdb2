"""One way to name a trace: a Trace, a file, a shipped workload or a built-in model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sim.config.arch import data_dir
from sim.errors import TraceError, short_repr
from sim.workload.edit import model_trace
from sim.workload.ops_trace import OpsTrace
from sim.workload.spec import MODEL_SPECS
from sim.workload.trace import Trace, load_trace

__all__ = ["as_trace", "with_batch", "list_workloads"]


def list_workloads() -> list[str]:
    """Names of the shipped workload traces (``workloads/*.yaml``)."""
    return sorted(p.stem for p in data_dir("workloads").glob("*.yaml"))


def with_batch(trace: Trace, batch) -> Trace:
    """``trace`` with another batch; ``batch`` must be an integer >= 1."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise TraceError(f"batch = {short_repr(batch)}; must be an integer >= 1")
    if isinstance(trace, OpsTrace) and batch != trace.batch:  # ops fixed at capture
        raise TraceError(f"batch = {batch}; must be {trace.batch} for a v2 trace (its ops "
                         "were captured at that batch; re-export with `vitsim export "
                         "--batch`)", source=trace.name or None)
    return trace if batch == trace.batch else dataclasses.replace(trace, batch=batch)


def as_trace(x, batch=None) -> Trace:
    """Resolve ``x`` to a :class:`Trace` (or a v2 :class:`OpsTrace`), optionally re-batched.

    ``x`` is, in this order: a :class:`Trace` or :class:`OpsTrace`; an existing YAML/JSON
    file; the name of a shipped workload (``"deit_s_topk3"``, with or without ``.yaml``; see
    :func:`list_workloads`); or a built-in model (``"deit_s"``, see ``MODEL_SPECS``).
    A shipped workload of the same name as a built-in model is the same trace.

    Raises
    ------
    TraceError
        ``x`` names nothing (the message lists workloads and models), or ``batch`` is
        not an integer >= 1.
    """
    if isinstance(x, (Trace, OpsTrace)):
        trace = x
    else:
        path = Path(x)
        shipped = data_dir("workloads") / (path.name if path.suffix else f"{path.name}.yaml")
        if path.is_file() or path.parent != Path("."):
            trace = load_trace(path)
        elif shipped.is_file():
            trace = load_trace(shipped)
        elif str(x) in MODEL_SPECS:
            trace = model_trace(str(x))
        elif path.suffix:
            trace = load_trace(path)  # a missing file: "file not found"
        else:
            raise TraceError(
                f"{short_repr(str(x))} is neither a trace file, a shipped workload nor a "
                f"built-in model; workloads are {list_workloads()}, models are "
                f"{sorted(MODEL_SPECS)}")
    return trace if batch is None else with_batch(trace, batch)
