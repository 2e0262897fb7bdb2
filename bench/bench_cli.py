"""Whole-process wall time of the CLI, beside ``python -c "import numpy"`` in the same run.

Each repeat runs, interleaved (so machine load hits both alike):

* ``python -c "import numpy"`` -- the floor any numpy program pays;
* ``vitsim run --arch zcu102 --trace deit_s --mode analytic`` (``python -m sim``);
* ``python -c "import sim"``.

Reported: median and [min, max] wall seconds over ``--repeats``, and the run's overhead
above the numpy floor.  ``--cold`` also times one cycle-mode run with an empty Numba cache
(a fresh ``NUMBA_CACHE_DIR``) and a second, warm one, and checks that only the cold run
says it compiles kernels.

Target (issue 15): ``vitsim run --mode analytic``, warm, <= 0.5 s.

Run::

    python bench/bench_cli.py [--repeats 9] [--cold] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = ["-m", "sim", "run", "--arch", "zcu102", "--trace", "deit_s", "--mode", "analytic"]
CASES = {"import numpy": ["-c", "import numpy"], "vitsim run --mode analytic": RUN,
         "import sim": ["-c", "import sim"]}


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def wall(args, env=None) -> tuple[float, str]:
    """Wall seconds of ``python *args`` and its stderr."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, *args], env=env or _env(), capture_output=True,
                       text=True)
    dt = time.perf_counter() - t0
    if p.returncode:
        raise RuntimeError(f"{args}: exit {p.returncode}: {p.stderr[-500:]}")
    return dt, p.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--cold", action="store_true", help="also an empty-Numba-cache run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    wall(RUN)  # warm the OS file cache and the Numba/pyc caches
    times = {k: [] for k in CASES}
    for _ in range(args.repeats):
        for name, argv in CASES.items():
            times[name].append(wall(argv)[0])
    out = {name: {"median_s": statistics.median(t), "min_s": min(t), "max_s": max(t)}
           for name, t in times.items()}
    floor = out["import numpy"]["median_s"]
    out["vitsim run --mode analytic"]["over_numpy_s"] = \
        out["vitsim run --mode analytic"]["median_s"] - floor
    if args.cold:
        cycle = [*RUN[:-1], "cycle"]
        with tempfile.TemporaryDirectory() as cache:
            cold, cold_err = wall(cycle, _env(NUMBA_CACHE_DIR=cache))
            warm, warm_err = wall(cycle, _env(NUMBA_CACHE_DIR=cache))
        out["cycle run, empty Numba cache"] = {"wall_s": cold,
                                               "says_compiling": "compiling" in cold_err}
        out["cycle run, warm cache"] = {"wall_s": warm,
                                        "says_compiling": "compiling" in warm_err}
    out["load_1min"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for name, r in out.items():
        if name == "load_1min":
            print(f"1-min load average: {r:.1f}")
        elif "median_s" in r:
            extra = f"  (+{r['over_numpy_s']:.3f} s over import numpy)" \
                if "over_numpy_s" in r else ""
            print(f"{name:32s} {r['median_s']:.3f} s [{r['min_s']:.3f}, {r['max_s']:.3f}]"
                  f"{extra}")
        else:
            print(f"{name:32s} {r['wall_s']:.2f} s, says it compiles: {r['says_compiling']}")


if __name__ == "__main__":
    main()
