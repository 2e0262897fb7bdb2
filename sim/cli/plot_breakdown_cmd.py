"""``vitsim plot breakdown``: stacked latency/energy bars per layer and per op (PNG/SVG)."""

from __future__ import annotations

import sys

from sim.cli.common import add_arch_args, add_trace_args, arch_from_args, trace_from_args

__all__ = ["register"]


def register(plot_sub) -> None:
    """Add ``breakdown`` to the ``vitsim plot`` sub-commands."""
    p = plot_sub.add_parser("breakdown", help="latency and energy per layer and per op")
    add_arch_args(p)
    add_trace_args(p)
    p.add_argument("--out", required=True, help="output figure, .png or .svg (or .pdf)")
    p.set_defaults(func=_breakdown)


def _breakdown(args) -> int:
    from pathlib import Path

    from sim.api import simulate
    from sim.errors import ConfigError
    from sim.plot.breakdown import breakdown

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ConfigError(f"--out must end in .png, .svg or .pdf, not {out.name!r}")
    report = simulate(arch_from_args(args), trace_from_args(args), mode=args.mode)
    fig = breakdown(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    sys.stdout.write(f"wrote {out}\n")
    return 0
