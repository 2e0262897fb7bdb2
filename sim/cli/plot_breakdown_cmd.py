"""``vitsim plot breakdown``: stacked latency/energy bars per layer and per op (PNG/SVG)."""

from __future__ import annotations

import sys

from sim.cli.common import add_arch_args, arch_from_args

__all__ = ["register"]


def register(plot_sub) -> None:
    """Add ``breakdown`` to the ``vitsim plot`` sub-commands."""
    p = plot_sub.add_parser("breakdown", help="latency and energy per layer and per op")
    add_arch_args(p)
    p.add_argument("--trace", required=True, help="trace file (YAML/JSON) or built-in model "
                   "name (deit_t, deit_s, deit_b, lvvit_s, vit_l, dinov2_g)")
    p.add_argument("--batch", type=int, default=None, help="batch for a built-in model name")
    p.add_argument("--mode", choices=("cycle", "analytic"), default="cycle")
    p.add_argument("--out", required=True, help="output figure, .png or .svg (or .pdf)")
    p.set_defaults(func=_breakdown)


def _breakdown(args) -> int:
    from pathlib import Path

    from sim.api import simulate
    from sim.cli.run_cmd import _load_trace
    from sim.errors import ConfigError
    from sim.plot.breakdown import breakdown

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ConfigError(f"--out must end in .png, .svg or .pdf, not {out.name!r}")
    report = simulate(arch_from_args(args), _load_trace(args), mode=args.mode)
    fig = breakdown(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    sys.stdout.write(f"wrote {out}\n")
    return 0
