"""``vitsim plot <figure>``: each figure kind registers from ``sim/cli/plot_<kind>_cmd.py``."""

from __future__ import annotations

import importlib

#: Modules registering ``vitsim plot`` sub-commands.
PLOT_MODULES = ("plot_breakdown_cmd", "plot_sweep_cmd")


def register(sub) -> None:
    parser = sub.add_parser("plot", help="draw a figure (PNG/SVG) from a report or sweep")
    plot_sub = parser.add_subparsers(dest="figure", required=True, parser_class=type(parser))
    for name in PLOT_MODULES:
        importlib.import_module(f"sim.cli.{name}").register(plot_sub)
