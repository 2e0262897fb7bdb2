"""Address traces of one DeiT-S encoder layer: vitsim's writer vs numpy.savetxt (v0.1's
formatter) in the same run, and optionally vs SCALE-Sim 3.0.0.

    python bench/bench_traces.py [--repeats 3] [--scalesim]

The layer is the six GEMMs of one block at batch 1 (QKV, QK^T and SV once each, proj, FC1,
FC2) on SCALE-Sim's 32x32 OS array with 256/256/128 KiB SRAMs and 32 bytes per cycle of
DRAM bandwidth per interface (``examples/data/scale.cfg`` for SCALE-Sim).  ``--scalesim``
also times ``python -m scalesim.scale`` on the same GEMM topology in USER mode (needs
``$SCALESIM_PYTHON``, see ``tests/data/scalesim_oracle.py``; it takes minutes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import sim
import sim.engine.address_trace as at

REPO = Path(__file__).resolve().parents[1]

DEIT_S_LAYER = [("QKV", 197, 1152, 384), ("QKT", 197, 197, 64), ("SV", 197, 64, 197),
                ("PROJ", 197, 384, 384), ("FC1", 197, 1536, 384), ("FC2", 197, 384, 1536)]


def arch():
    return sim.as_arch("scalesim_32x32", overrides={
        "dram.ifmap_bytes_per_cycle": 32, "dram.filter_bytes_per_cycle": 32,
        "dram.ofmap_bytes_per_cycle": 32})


def write_layer(a, out: Path) -> int:
    """Write the layer's traces; return the bytes written."""
    for name, m, n, k in DEIT_S_LAYER:
        at.write_gemm_traces(a, m, n, k, out, prefix=f"{name}_")
    return sum(p.stat().st_size for p in out.iterdir())


class _Savetxt(at._CsvWriter):
    """v0.1's formatter, for the side-by-side reference."""

    def write(self, rows):
        np.savetxt(self.fh, rows, fmt="%d", delimiter=",")


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def run_vitsim(repeats: int, reference: bool):
    a = arch()
    with tempfile.TemporaryDirectory() as d:
        write_layer(a, Path(d) / "warm")  # compile the kernels
        fast, ref, size = [], [], 0
        for i in range(repeats):
            t, size = timed(write_layer, a, Path(d) / f"fast{i}")
            fast.append(t)
            if reference:
                kernel = at._CsvWriter
                at._CsvWriter = _Savetxt
                try:
                    t, size_ref = timed(write_layer, a, Path(d) / f"ref{i}")
                finally:
                    at._CsvWriter = kernel
                assert size_ref == size
                ref.append(t)
            shutil.rmtree(Path(d) / f"fast{i}", ignore_errors=True)
            shutil.rmtree(Path(d) / f"ref{i}", ignore_errors=True)
    return fast, ref, size


def run_scalesim() -> float:
    python = os.environ.get("SCALESIM_PYTHON")
    if not python:
        sys.exit("--scalesim needs $SCALESIM_PYTHON (a Python with scalesim==3.0.0)")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "topo.csv").write_text("Layer, M, N, K,\n" + "".join(
            f"{name}, {m}, {n}, {k},\n" for name, m, n, k in DEIT_S_LAYER))
        cfg = (REPO / "examples/data/scale.cfg").read_text().replace(
            "run_name = deit_t_layer", "run_name = deit_s_layer")
        (d / "cfg.cfg").write_text(cfg)  # 32x32 os, 256/256/128 kB, USER, 32 words/cycle
        (d / "layout.csv").write_text((REPO / "examples/data/layout.csv").read_text())
        t0 = time.perf_counter()
        subprocess.run([python, "-m", "scalesim.scale", "-c", d / "cfg.cfg", "-t",
                        d / "topo.csv", "-l", d / "layout.csv", "-p", d / "out", "-i", "gemm"],
                       check=True, stdout=subprocess.DEVNULL, cwd=d)
        elapsed = time.perf_counter() - t0
        if not list((d / "out").rglob("IFMAP_SRAM_TRACE.csv")):
            sys.exit("SCALE-Sim wrote no traces: see its output")
        return elapsed


def rng(ts):
    return f"median {statistics.median(ts):.2f} s (range {min(ts):.2f}-{max(ts):.2f})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-reference", action="store_true", help="skip the savetxt reference")
    ap.add_argument("--scalesim", action="store_true", help="also time SCALE-Sim 3.0.0")
    args = ap.parse_args(argv)
    fast, ref, size = run_vitsim(args.repeats, not args.no_reference)
    print(f"DeiT-S layer address traces, 32x32 os: {size / 1e6:.0f} MB")
    print(f"  vitsim (Numba formatter):      {rng(fast)}")
    if ref:
        print(f"  numpy.savetxt (v0.1):          {rng(ref)}  "
              f"-> {statistics.median(ref) / statistics.median(fast):.1f}x faster")
    if args.scalesim:
        t = run_scalesim()
        print(f"  SCALE-Sim 3.0.0 (USER, whole command): {t:.1f} s "
              f"-> vitsim {t / statistics.median(fast):.0f}x faster")


if __name__ == "__main__":
    main()
