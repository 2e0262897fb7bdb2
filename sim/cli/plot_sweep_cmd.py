"""``vitsim plot sweep RESULTS``: a heatmap (``--x --y --z``) or a Pareto front
(``--pareto X,Y``) of sweep results."""

from __future__ import annotations

import sys

from sim.cli.common import check_figure_path, emit_json, int_in

__all__ = ["register"]


def register(plot_sub) -> None:
    p = plot_sub.add_parser(
        "sweep", help="heatmap or Pareto front of sweep results",
        description="Heatmap: --x KEY --y KEY --z METRIC (cells take the minimum over "
                    "other keys and traces).  Pareto: --pareto X,Y (both minimised).")
    p.add_argument("results", help="sweep output (*.parquet directory or *.csv)")
    p.add_argument("--x", help="column for the heatmap's x axis (e.g. array.rows)")
    p.add_argument("--y", help="column for the heatmap's y axis (e.g. array.cols)")
    p.add_argument("--z", help="metric coloured in the heatmap (e.g. edp_per_inference_js)")
    p.add_argument("--agg", choices=("min", "mean", "max"), default="min",
                   help="combine rows sharing a cell (default min = best design)")
    p.add_argument("--pareto", metavar="X,Y", help="Pareto front of two metrics, "
                   "e.g. latency_s,energy_j")
    p.add_argument("--trace", help="only rows of this trace")
    p.add_argument("--out", required=True, help="figure file (.png, .svg, .pdf)")
    p.add_argument("--dpi", type=int_in(1, 2400), default=150,
                   help="figure resolution, dots per inch (1..2400; default 150)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (the figure path and front) on stdout")
    p.set_defaults(func=_plot)


def _plot(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from sim.errors import ConfigError
    from sim.plot.sweep import heatmap, pareto
    from sim.search.pareto import pareto_front
    from sim.search.sweep.store import load_results

    check_figure_path(args.out, "--out")
    df = load_results(args.results)
    if args.trace:
        if args.trace not in set(df["trace"]):
            raise ConfigError(f"--trace must be one of {sorted(set(df['trace']))}, "
                              f"not {args.trace!r}")
        df = df[df["trace"] == args.trace]
    info = {"out": args.out, "rows": len(df)}
    if args.pareto:
        cols = [c.strip() for c in args.pareto.split(",") if c.strip()]
        if len(cols) != 2:
            raise ConfigError(f"--pareto must name two columns X,Y, not {args.pareto!r}")
        _numeric_columns(df, cols, "--pareto")
        fig = pareto(df, cols[0], cols[1])
        mask = pareto_front(df, cols)
        info["front"] = df[mask].drop(columns=["reason"], errors="ignore").to_dict("records")
    else:
        missing = [f"--{a}" for a in ("x", "y", "z") if not getattr(args, a)]
        if missing:
            raise ConfigError(f"a heatmap needs {', '.join(missing)} (or use --pareto X,Y)")
        if args.x == args.y:
            raise ConfigError(f"--x = --y = {args.x!r}; must be two different columns")
        _numeric_columns(df, [args.x, args.y], "--x/--y", numeric=False)
        _numeric_columns(df, [args.z], "--z")
        fig = heatmap(df, args.x, args.y, args.z, agg=args.agg)
    fig.savefig(args.out, dpi=args.dpi)
    if args.json:
        emit_json(info)
    else:
        sys.stdout.write(f"wrote {args.out}\n")
    return 0


def _numeric_columns(df, cols, flag, numeric=True) -> None:
    """Every column exists (and is numeric), or one line naming the choices."""
    import pandas as pd

    from sim.errors import ConfigError

    ok = [c for c in df.columns
          if not numeric or (pd.api.types.is_numeric_dtype(df[c])
                             and not pd.api.types.is_bool_dtype(df[c]))]
    for c in cols:
        if c not in ok:
            kind = "a numeric result column" if numeric else "a result column"
            raise ConfigError(f"{flag} {c[:200]!r}: must be {kind}, one of {ok}")
