"""``vitsim sweep --random N --mode analytic`` end to end: whole-process wall time.

Runs the CLI as a subprocess (import, space generation, the streamed batched path on
``--workers`` local processes, Parquet parts written), then reruns it on the same
``--out`` (every point resumed, nothing evaluated).  The space: DeiT-S on zcu102, array
rows in {8, 16, 32, 64}, cols in [4, 64], dataflow os/ws/is, clock in [100, 300] MHz.

Target (issue 15): N = 1,000,000 on 2 cores in < 1 min, Parquet out.

Run::

    python bench/bench_sweep_stream.py [--points 1000000] [--workers 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(points: int, workers: int, out: Path) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "sim", "sweep", "--arch", "zcu102", "--trace", "deit_s",
           "--grid", "array.rows=8,16,32,64", "--range", "array.cols=4:64:int",
           "--range", "clock_mhz=100:300", "--grid", "array.dataflow=os,ws,is",
           "--random", str(points), "--mode", "analytic", "--out", str(out),
           "--workers", str(workers), "--no-progress"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if p.returncode:
        raise RuntimeError(p.stderr[-1000:])
    return dt, p.stdout.splitlines()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sweep.parquet"
        first, line = run(args.points, args.workers, out)
        size = sum(f.stat().st_size for f in out.glob("*.parquet"))
        again, line2 = run(args.points, args.workers, out)
    evaluated = int(re.search(r"(\d+) evaluated", line).group(1))
    res = {"points": args.points, "workers": args.workers, "wall_s": first,
           "designs_per_s": evaluated / first, "parquet_mb": size / 1e6,
           "resume_wall_s": again, "resume_line": line2, "load_1min": os.getloadavg()[0]}
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print(f"vitsim sweep --random {args.points:,} --mode analytic --workers {args.workers}: "
          f"{first:.1f} s wall ({res['designs_per_s']:,.0f} designs/s, whole process), "
          f"{res['parquet_mb']:.0f} MB Parquet")
    print(f"rerun on the same --out (resume): {again:.1f} s; {line2}")
    print(f"1-min load average: {res['load_1min']:.1f}")


if __name__ == "__main__":
    main()
