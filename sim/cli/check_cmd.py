"""``vitsim check FILE``: validate an architecture or trace file; ``--list`` presets."""

from __future__ import annotations

import sys

__all__ = ["register"]


def register(sub) -> None:
    check = sub.add_parser("check", help="validate an arch or trace file (or list presets)")
    check.add_argument("file", nargs="?", help="YAML/JSON arch or trace file")
    check.add_argument("--list", action="store_true", help="list shipped arch presets")
    check.set_defaults(func=_check)


def _check(args) -> int:
    from sim.config import as_arch, list_presets
    from sim.config.validate import read_yaml
    from sim.cost import resolve_design
    from sim.errors import ConfigError, VitsimError
    from sim.workload import load_trace

    if args.list or not args.file:
        sys.stdout.write("\n".join(list_presets()) + "\n")
        return 0
    data = read_yaml(args.file, ConfigError)
    is_trace = isinstance(data, dict) and "layers" in data
    if isinstance(data, dict) and ("ops" in data or data.get("schema_version") == 2):
        t = load_trace(args.file)
        sys.stdout.write(f"{args.file}: ok (trace v2: {t.model.name}, batch {t.batch}, "
                         f"{len(t.ops)} ops)\n")
    elif is_trace:
        t = load_trace(args.file)
        sys.stdout.write(f"{args.file}: ok (trace: {t.model.name}, batch {t.batch}, "
                         f"{len(t.layers)} blocks)\n")
    elif isinstance(data, dict) and "array" in data:
        a = resolve_design(as_arch(args.file)).arch
        sys.stdout.write(f"{args.file}: ok (arch: {a.name}, {a.array.rows}x{a.array.cols} "
                         f"{a.array.dataflow})\n")
    else:
        raise VitsimError("neither an arch config (no 'array' key) nor a trace "
                          "(no 'layers' key)", source=args.file)
    return 0
