"""simulate() speed, side by side with a reference checkout (e.g. v0.1.0) in one run.

    git worktree add /tmp/vitsim-0.1.0 947af85     # the v0.1.0 tree, once
    python bench/bench_simulate.py --reference /tmp/vitsim-0.1.0 [--repeats 7]

Each tree is timed in its own fresh process, alternating (this tree, reference, this
tree, ...), so machine load hits both alike.  Reported: CPU ms per ``sim.simulate`` call
of the whole DeiT-B trace on the zcu102 preset, analytic and cycle mode (median and range
over the repeats, each repeat the mean of 200 calls after a warm-up).  Targets (issue 15):
analytic <= 0.15 ms, cycle <= 0.8 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKER = """
import json, sys, time
import sim
arch, trace = sim.load_arch("zcu102"), sim.model_trace("deit_b")
out = {}
for mode in ("analytic", "cycle"):
    sim.simulate(arch, trace, mode=mode)
    t0 = time.process_time()
    for _ in range(200):
        sim.simulate(arch, trace, mode=mode)
    out[mode] = (time.process_time() - t0) / 200 * 1e3
print(json.dumps(out))
"""


def one(tree: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.run([sys.executable, "-c", WORKER], env=env, cwd=tree, check=True,
                          capture_output=True, text=True)
    return json.loads(proc.stdout)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", type=Path, help="checkout to time side by side")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    trees = {"this tree": REPO}
    if args.reference:
        trees["reference"] = args.reference.resolve()
    runs = {name: [] for name in trees}
    for _ in range(args.repeats):
        for name, tree in trees.items():
            runs[name].append(one(tree))
    print("simulate() DeiT-B on zcu102, CPU ms per call: median (range)")
    for mode, target in (("analytic", 0.15), ("cycle", 0.8)):
        cells = []
        for name in trees:
            v = [r[mode] for r in runs[name]]
            cells.append(f"{name} {statistics.median(v):.3f} ({min(v):.3f}-{max(v):.3f})")
        print(f"  {mode:8s} " + " | ".join(cells) + f" | target <= {target}")


if __name__ == "__main__":
    main()
