"""Workloads: model specs, traces, trace edits, lowering to ops (pure Python and numpy; the
torch exporter is :mod:`sim.torch.export`)."""

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



# The torch side moved to sim.torch in 0.2 (workload/ holds only pure trace code and never
# imports upward); old names fail with a pointer to the new home.
_MOVED = {"export_trace": "sim.torch.export", "export_traceset": "sim.torch.export",
          "model_spec": "sim.torch.export", "torch_export": "sim.torch.export",
          "transforms": "sim.torch.transforms", "digits": "sim.torch.digits"}


def __getattr__(name):
    if name in _MOVED:
        raise AttributeError(f"sim.workload.{name} moved to {_MOVED[name]} (see CHANGELOG)")
    raise AttributeError(f"module 'sim.workload' has no attribute {name!r}")
