"""Helpers shared by every ``vitsim`` sub-command."""

from __future__ import annotations

import json
import re
import sys

from sim.config import as_arch, parse_override
from sim.workload import as_trace

__all__ = ["add_arch_args", "arch_from_args", "add_trace_args", "trace_from_args", "emit_json",
           "add_json_arg", "to_jsonable", "int64", "finite_float", "int_in", "float_in",
           "check_figure_path", "FIGURE_SUFFIXES"]

#: Figure formats every ``--plot``/``--out FIG`` accepts.
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def _arg_error(text, must):
    import argparse

    shown = text if len(text) <= 60 else text[:57] + "..."
    return argparse.ArgumentTypeError(f"{shown!r}; must be {must}")


def int64(text: str) -> int:
    """An ``int`` flag value that fits int64 (no bigger count is meaningful)."""
    if not re.fullmatch(r"[+-]?[0-9]+", text.strip()):  # no 4_0, no non-ASCII digits
        raise _arg_error(text, "an integer")
    value = int(text)
    if not -(1 << 63) <= value < (1 << 63):
        raise _arg_error(text, "an integer below 2^63")
    return value


def finite_float(text: str) -> float:
    """A ``float`` flag value that is finite (NaN and inf are never a valid setting)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise _arg_error(text, "a number") from None
    if not math.isfinite(value):
        raise _arg_error(text, "a finite number")
    return value


def _in_range(convert, lo, hi, what: str, name: str):
    """An argparse ``type``: ``convert(text)`` within ``[lo, hi]``."""

    def parse(text: str):
        value = convert(text)
        if not lo <= value <= hi:
            show = (lambda v: f"{v:g}") if isinstance(lo, float) else str
            raise _arg_error(text, f"{what} in [{show(lo)}, {show(hi)}]")
        return value

    parse.__name__ = name  # argparse names the type in its own messages
    return parse


def int_in(lo: int, hi: int):
    """An argparse ``type``: an integer in ``[lo, hi]``."""
    return _in_range(int64, lo, hi, "an integer", "int")


def float_in(lo: float, hi: float):
    """An argparse ``type``: a finite number in ``[lo, hi]``."""
    return _in_range(finite_float, lo, hi, "a number", "float")


def check_figure_path(path, flag: str = "--plot") -> None:
    """Refuse a figure path whose extension matplotlib would not write, before any work."""
    from pathlib import Path

    from sim.errors import ConfigError

    if path is None:
        return
    p = Path(path)
    if p.suffix.lower() not in FIGURE_SUFFIXES:
        raise ConfigError(f"{flag} = {str(path)[:200]!r}; must end in "
                          f"{', '.join(FIGURE_SUFFIXES)}")
    if p.is_dir():
        raise ConfigError(f"{flag} = {str(path)[:200]!r}; must be a file path, not a directory")


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
    return as_arch(args.arch, overrides=overrides or None)


def add_trace_args(parser) -> None:
    """``--trace T`` (file or built-in model), ``--batch B`` and ``--mode cycle|analytic``."""
    parser.add_argument("--trace", required=True, help="trace file (YAML/JSON), shipped "
                        "workload (deit_s_topk3, lvvit_s_pivot_low, ...) or built-in model "
                        "(deit_t, deit_s, deit_b, lvvit_s, vit_l, dinov2_g)")
    parser.add_argument("--batch", type=int, default=None,
                        help="batch (for a built-in model name, or to re-batch a trace file)")
    parser.add_argument("--mode", choices=("cycle", "analytic"), default="cycle",
                        help="cycle: compute + memory stalls (default); analytic: compute only")


def trace_from_args(args):
    """The trace named by ``--trace`` (see :func:`sim.as_trace`), re-batched by ``--batch``."""
    return as_trace(args.trace, batch=args.batch)


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
