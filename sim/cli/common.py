"""Helpers shared by every ``vitsim`` sub-command."""

from __future__ import annotations

import json
import sys

from sim.config import load_arch, parse_override

__all__ = ["add_arch_args", "arch_from_args", "emit_json", "add_json_arg", "to_jsonable"]


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
