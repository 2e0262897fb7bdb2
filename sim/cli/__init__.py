"""The ``vitsim`` command line (also ``python -m sim``).

Every sub-command lives in its own module ``sim/cli/<name>_cmd.py`` exposing
``register(subparsers)``, which adds its parser and sets ``func=handler`` where
``handler(args) -> int`` returns the exit code.  Errors: a :class:`VitsimError` (or a bad
flag) prints one line on stderr and exits 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from sim.errors import VitsimError

__all__ = ["main", "COMMAND_MODULES"]

#: Modules that register sub-commands, in ``--help`` order.
COMMAND_MODULES = (
    "run_cmd", "check_cmd", "export_cmd", "sweep_cmd", "schedule_cmd", "search_cmd",
    "prune_cmd", "plot_cmd", "scalesim_cmd",
)


class _StoreOnce(argparse._StoreAction):
    """A single-valued option: giving it twice is an error, not "the last one wins"."""

    def __call__(self, parser, namespace, values, option_string=None):
        seen = vars(namespace).setdefault("_given_once", set())
        if self.dest in seen:
            parser.error(f"argument {'/'.join(self.option_strings)}: given twice; "
                         "must be given once")
        seen.add(self.dest)
        super().__call__(parser, namespace, values, option_string)


class _Version(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        from sim import __version__

        sys.stdout.write(f"vitsim {__version__}\n")
        raise SystemExit(0)


class _Parser(argparse.ArgumentParser):
    """One-line errors; single-valued options refuse repeats; ``type=int``/``float``
    options refuse values beyond int64 and NaN/inf (see :mod:`sim.cli.common`)."""

    def error(self, message):  # one line, exit 2, like every other vitsim error
        message = " ".join(str(message).split())
        sys.stderr.write(f"vitsim: error: {message[:500]}\n")
        raise SystemExit(2)

    def add_argument(self, *args, **kwargs):
        from sim.cli.common import finite_float, int64

        if args and args[0].startswith("-") and kwargs.get("action") in (None, "store"):
            kwargs["action"] = _StoreOnce
        if kwargs.get("type") is int:
            kwargs["type"] = int64
        elif kwargs.get("type") is float:
            kwargs["type"] = finite_float
        return super().add_argument(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered sub-command."""
    from sim import __version__

    parser = _Parser(prog="vitsim", description="Cycle-accurate ViT accelerator simulator.")
    parser.add_argument("--version", action=_Version, nargs=0,
                        help=f"print 'vitsim {__version__}' and exit")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"sim.cli.{name}").register(sub)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``vitsim`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # accepted anywhere on the line
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    args = parser.parse_args(argv)
    args.debug = debug
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `vitsim run ... | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (VitsimError, ImportError, OSError) as exc:
        if args.debug:
            raise
        msg = " ".join(str(exc).split())
        if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
            msg = f"{exc.filename}: {exc.strerror}"  # not Python's "[Errno 21] ..."
        sys.stderr.write(f"vitsim: error: {msg}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("vitsim: interrupted\n")
        return 130
    except (MemoryError, RecursionError) as exc:
        if args.debug:
            raise
        sys.stderr.write(f"vitsim: error: out of memory ({type(exc).__name__}) on an input "
                         "too large for this machine; must be smaller (or use --mode "
                         "analytic)\n")
        return 2
