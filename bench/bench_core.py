"""Core speed targets (README "Performance"): whole-model simulate and a cold `vitsim run`.

Run: ``python bench/bench_core.py`` (prints a table; medians of repeated runs).

* analytic mode, whole DeiT-B trace: target < 5 ms after warm-up
* cycle mode (memory walk), whole DeiT-B on 32x32 OS: target < 1 s
* ``vitsim run`` cold (new process: import + first simulate, Numba cache warm): target < 3 s
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import fmt_s, median_time  # noqa: E402

import sim  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    arch = sim.load_arch("scalesim_32x32")
    deit_b = sim.model_trace("deit_b")
    rows = []
    for mode, target in (("analytic", 5e-3), ("cycle", 1.0)):
        sim.simulate(arch, deit_b, mode=mode)  # warm-up (JIT, caches)
        t = median_time(lambda mode=mode: sim.simulate(arch, deit_b, mode=mode), repeats=9,
                        number=20 if mode == "analytic" else 1)
        rows.append((f"simulate DeiT-B, 32x32 os, {mode}", t, target))
    t = median_time(lambda: sim.simulate("zcu102", "workloads/deit_s.yaml"), repeats=9, number=5)
    rows.append(("simulate DeiT-S from files (preset + YAML load)", t, None))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "sim", "run", "--arch", "zcu102", "--trace",
           "workloads/deit_s.yaml", "--json"]
    subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True)  # warm Numba cache
    t = median_time(lambda: subprocess.run(cmd, cwd=REPO, env=env, check=True,
                                           capture_output=True), repeats=5)
    rows.append(("`vitsim run` cold process (zcu102, DeiT-S)", t, 3.0))
    print(f"{'benchmark':<52} {'median':>10} {'target':>10}  ok")
    for name, t, target in rows:
        ok = "" if target is None else ("yes" if t < target else "NO")
        tgt = "" if target is None else fmt_s(target)
        print(f"{name:<52} {fmt_s(t):>10} {tgt:>10}  {ok}")


if __name__ == "__main__":
    main()
