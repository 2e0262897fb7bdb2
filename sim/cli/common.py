"""Helpers shared by every ``vitsim`` sub-command."""

from __future__ import annotations

import json
import sys

from sim.config import load_arch, parse_override

__all__ = ["add_arch_args", "arch_from_args", "add_trace_args", "trace_from_args", "emit_json",
           "add_json_arg", "to_jsonable"]


def add_arch_args(parser, required: bool = True) -> None:
    """``--arch A`` (file or preset) and repeatable ``--set key.path=value``."""
    parser.add_argument("--arch", required=required,
                        help="architecture YAML file or preset name (see `vitsim check --list`)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override an arch key, e.g. --set array.rows=64 (repeatable)")


def add_json_arg(parser) -> None:
    """``--json``: print exactly one JSON object on stdout and nothing else."""
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout and nothing else")


def arch_from_args(args):
    """The validated architecture named by ``--arch`` with every ``--set`` applied."""
    overrides = dict(parse_override(text) for text in args.overrides)
    return load_arch(args.arch, overrides=overrides or None)


def add_trace_args(parser) -> None:
    """``--trace T`` (file or built-in model), ``--batch B`` and ``--mode cycle|analytic``."""
    parser.add_argument("--trace", required=True, help="trace file (YAML/JSON) or built-in "
                        "model name (deit_t, deit_s, deit_b, lvvit_s, vit_l, dinov2_g)")
    parser.add_argument("--batch", type=int, default=None,
                        help="batch (for a built-in model name, or to re-batch a trace file)")
    parser.add_argument("--mode", choices=("cycle", "analytic"), default="cycle",
                        help="cycle: compute + memory stalls (default); analytic: compute only")


def trace_from_args(args):
    """The trace named by ``--trace``: a file, a shipped ``workloads/`` file from anywhere,
    or a built-in model name; ``--batch`` re-batches it."""
    import dataclasses
    from pathlib import Path

    from sim.config.arch import data_dir
    from sim.workload import MODEL_SPECS, load_trace, model_trace

    path = Path(args.trace)
    if not path.exists() and args.trace in MODEL_SPECS:
        return model_trace(args.trace, batch=args.batch or 1)
    shipped = data_dir("workloads") / path.name
    if not path.exists() and shipped.is_file():
        path = shipped
    trace = load_trace(path)
    if args.batch is not None and args.batch != trace.batch:
        if not hasattr(trace, "layers"):  # a v2 op list is fixed at its capture batch
            from sim.errors import TraceError

            raise TraceError(f"--batch = {args.batch}; must be {trace.batch} for a v2 trace "
                             "(re-export with `vitsim export --batch`)", source=str(path))
        trace = dataclasses.replace(trace, batch=args.batch)
    return trace


def to_jsonable(obj):
    """numpy scalars/arrays and paths to plain JSON types (recursively)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def emit_json(obj) -> None:
    """Write one JSON object to stdout."""
    json.dump(to_jsonable(obj), sys.stdout, indent=2)
    sys.stdout.write("\n")
