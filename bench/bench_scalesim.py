"""``vitsim scalesim`` vs SCALE-Sim 3.0.0, whole commands side by side (README table).

Usage::

    PYTHONPATH=. /work/main/.venv/bin/python bench/bench_scalesim.py [--repeats 5]
        [--modes CALC,USER] [--dataflows os] [--out bench/bench_scalesim.json]

Workload: one DeiT-S encoder layer as a SCALE-Sim GEMM topology (T = 197 tokens, E = 384,
F = 1536, 64-dim heads; QKV, 6 x QK^T, 6 x S.V, PROJ, FC1, FC2 = 16 rows), 32x32 array,
SRAMs 256/256/128 kB, USER mode at 32 words/cycle on every interface, CALC mode as is.
Both simulators run as fresh subprocesses on the same cfg and topology, traces off
(SCALE-Sim through its class API with ``save_disk_space=True``, since its CLI ignores
``-s``; vitsim as ``python -m sim scalesim ... -s N``): wall time and child CPU time
(user + system; robust to a busy host), interpreter start and imports included.
vitsim runs ``--repeats`` times (the first may compile the Numba kernel; the range is
reported), SCALE-Sim once per case (minutes).  The reports of the two
must be equal cell for cell, else the benchmark fails.  Writes a JSON with every time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "data"))

import scalesim_oracle as oracle  # noqa: E402

HEADS = 6
GEMMS = ([("QKV", 197, 1152, 384)] + [(f"QKT{h}", 197, 197, 64) for h in range(HEADS)]
         + [(f"SV{h}", 197, 64, 197) for h in range(HEADS)]
         + [("PROJ", 197, 384, 384), ("FC1", 197, 1536, 384), ("FC2", 197, 384, 1536)])
REPORTS = ("COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv", "DETAILED_ACCESS_REPORT.csv")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _vitsim(cfg, topo, out) -> tuple[float, float]:
    """(wall, child CPU) seconds of one ``python -m sim scalesim`` command."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start, cpu0 = time.perf_counter(), _cpu()
    subprocess.run([sys.executable, "-m", "sim", "scalesim", "-c", str(cfg), "-t", str(topo),
                    "-p", str(out), "-i", "gemm", "-s", "N"], check=True, env=env,
                   capture_output=True)
    return time.perf_counter() - start, _cpu() - cpu0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--modes", default="CALC,USER")
    parser.add_argument("--dataflows", default="os")
    parser.add_argument("--out", default=str(ROOT / "bench" / "bench_scalesim.json"))
    args = parser.parse_args(argv)
    if not oracle.scalesim_available():
        parser.error(f"SCALE-Sim 3.0.0 not importable with {oracle.DEFAULT_PYTHON}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_scalesim_") as tmp:
        tmp = Path(tmp)
        topo = tmp / "deit_s_layer.csv"
        topo.write_text("Layer, M, N, K,\n"
                        + "".join(f"{n}, {m}, {nn}, {k},\n" for n, m, nn, k in GEMMS))
        for mode in args.modes.split(","):
            for df in args.dataflows.split(","):
                name = f"deit_s_{df}_{mode.lower()}"
                cfg = tmp / f"{name}.cfg"
                bw = (32, 32, 32) if mode == "USER" else (10, 10, 32)
                cfg.write_text(oracle.config_text(32, 32, df, mode, (256, 256, 128), bw,
                                                  run_name=name))
                runs = [_vitsim(cfg, topo, tmp / f"v{i}") for i in range(args.repeats)]
                ours, ours_cpu = [w for w, _ in runs], [c for _, c in runs]
                timing = oracle.run_files(cfg, topo, tmp / "s", "gemm")
                theirs, theirs_cpu = timing["wall_seconds"], timing["cpu_seconds"]
                for report in REPORTS:
                    a = (tmp / "v0" / name / report).read_text()
                    b = (tmp / "s" / name / report).read_text()
                    if a != b:
                        raise SystemExit(f"{name}: {report} differs from SCALE-Sim's")
                row = {"case": name, "layers": len(GEMMS), "vitsim_seconds": ours,
                       "vitsim_cpu_seconds": ours_cpu, "scalesim_seconds": theirs,
                       "scalesim_cpu_seconds": theirs_cpu,
                       "speedup_range": [theirs / max(ours), theirs / min(ours)],
                       "cpu_speedup_range": [theirs_cpu / max(ours_cpu),
                                             theirs_cpu / min(ours_cpu)]}
                rows.append(row)
                print(f"{name}: wall vitsim {min(ours):.2f}-{max(ours):.2f} s, SCALE-Sim "
                      f"{theirs:.1f} s, {row['speedup_range'][0]:.0f}-"
                      f"{row['speedup_range'][1]:.0f}x; CPU vitsim {min(ours_cpu):.2f}-"
                      f"{max(ours_cpu):.2f} s, SCALE-Sim {theirs_cpu:.1f} s, "
                      f"{row['cpu_speedup_range'][0]:.0f}-{row['cpu_speedup_range'][1]:.0f}x; "
                      "reports identical", flush=True)
    Path(args.out).write_text(json.dumps({"host_note": "2-core host shared with other jobs",
                                          "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
