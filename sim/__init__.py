"""vitsim: cycle-accurate simulation of Vision Transformers on systolic arrays and FPGAs.

``import sim`` is light: it never imports torch, matplotlib or dask.
"""

from sim.api import simulate, simulate_gemm
from sim.config import ArchConfig, as_arch, list_presets, load_arch, with_overrides
from sim.errors import ConfigError, ResourceError, SimulationError, TraceError, VitsimError
from sim.report import OpResult, Report
from sim.workload import (
    Trace,
    TraceSet,
    as_trace,
    drop_heads,
    load_trace,
    model_trace,
    narrow_mlp,
    prune_tokens,
    save_trace,
    skip_attention,
    tome_trace,
    with_batch,
)

__version__ = "0.2.0"

__all__ = [
    "simulate", "simulate_gemm", "simulate_pe_array", "as_arch", "as_trace", "with_batch",
    "load_arch", "list_presets",
    "with_overrides", "ArchConfig", "load_trace", "save_trace", "model_trace",
    "skip_attention", "drop_heads", "narrow_mlp", "prune_tokens", "tome_trace", "Trace",
    "TraceSet", "Report", "OpResult", "VitsimError", "ConfigError", "TraceError",
    "ResourceError", "SimulationError", "__version__",
]


def __getattr__(name):
    # The PE-array proof kernel pulls in numba; load it on first use only.
    if name == "simulate_pe_array":
        from sim.engine.pe_array import simulate_pe_array

        return simulate_pe_array
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
