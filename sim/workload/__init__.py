"""Workloads: model specs, traces, trace edits, lowering to ops (and the torch exporter,
imported lazily so ``import sim`` never imports torch)."""

from sim.workload.edit import (
    drop_heads,
    full_trace,
    input_tokens,
    model_trace,
    narrow_mlp,
    prune_tokens,
    skip_attention,
    tome_trace,
)
from sim.workload.lower import Ops, lower
from sim.workload.resolve import as_trace, list_workloads, with_batch
from sim.workload.spec import MODEL_SPECS, ModelSpec, get_spec
from sim.workload.trace import (
    LayerTrace,
    PruneEvent,
    Trace,
    TraceSet,
    load_trace,
    save_trace,
    trace_from_dict,
    trace_to_dict,
    validate_trace,
)

__all__ = [
    "ModelSpec", "MODEL_SPECS", "get_spec", "LayerTrace", "PruneEvent", "Trace", "TraceSet",
    "load_trace", "save_trace", "trace_from_dict", "trace_to_dict", "validate_trace",
    "model_trace", "full_trace", "skip_attention", "drop_heads", "narrow_mlp",
    "prune_tokens", "tome_trace", "input_tokens", "Ops", "lower", "as_trace", "with_batch",
    "list_workloads",
]


# The torch side (vitsim[torch]) is imported on first use so ``import sim`` never imports
# torch: ``sim.workload.export_trace``, ``sim.workload.transforms``, ``sim.workload.digits``.
_LAZY = {"export_trace": "sim.workload.torch_export",
         "export_traceset": "sim.workload.torch_export",
         "model_spec": "sim.workload.torch_export",
         "torch_export": None, "transforms": None, "digits": None}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'sim.workload' has no attribute {name!r}")
    import importlib

    if _LAZY[name] is None:
        return importlib.import_module(f"sim.workload.{name}")
    return getattr(importlib.import_module(_LAZY[name]), name)
