"""Stalls of ``memory.model: ideal`` vs ``scalesim`` on one DeiT-S encoder layer.

Usage::

    PYTHONPATH=. python examples/memory_models.py     # writes docs/img/memory_models.png

The layer's GEMMs (QKV, 6 x QK^T, 6 x S.V, PROJ, FC1, FC2) on a 32x32 array with
256/256/128 KiB SRAMs, 1-byte words, DRAM latency 1 cycle, the same bandwidth on all three
interfaces (4-64 bytes per cycle), each dataflow; stall cycles and total cycles of the
layer under both memory models (``scalesim`` = SCALE-Sim 3.0.0's USER mode exactly).
Prints the table the figure shows.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sim  # noqa: E402
from sim.engine.simulate import simulate_ops  # noqa: E402
from sim.workload.lower import Ops  # noqa: E402

GEMMS = [(197, 1152, 384, 1), (197, 197, 64, 6), (197, 64, 197, 6), (197, 384, 384, 1),
         (197, 1536, 384, 1), (197, 384, 1536, 1)]
BANDWIDTHS = (4, 8, 16, 32, 64)


def layer_ops() -> Ops:
    n = len(GEMMS)
    col = [np.array([g[i] for g in GEMMS], dtype=np.int64) for i in range(4)]
    return Ops(layer=np.zeros(n, dtype=np.int64), op=tuple(f"g{i}" for i in range(n)),
               kind=("gemm",) * n, vop=("",) * n, m=col[0], n=col[1], k=col[2],
               count=col[3], elements=np.zeros(n, dtype=np.int64))


def run():
    ops = layer_ops()
    rows = []
    for df in ("os", "ws", "is"):
        for bw in BANDWIDTHS:
            for model in ("ideal", "scalesim"):
                arch = sim.load_arch("scalesim_32x32", overrides={
                    "array.dataflow": df, "memory.model": model, "memory.ifmap_kib": 256,
                    "memory.filter_kib": 256, "memory.ofmap_kib": 128,
                    "dram.ifmap_bytes_per_cycle": bw, "dram.filter_bytes_per_cycle": bw,
                    "dram.ofmap_bytes_per_cycle": bw, "dram.latency_cycles": 1})
                cols = simulate_ops(arch, ops)
                rows.append((df, bw, model, int(cols["stall_cycles"].sum()),
                             int(cols["total_cycles"].sum())))
    return rows


def main() -> int:
    rows = run()
    print("df  B/cycle  model     stall_cycles  total_cycles")
    for df, bw, model, stall, total in rows:
        print(f"{df:3} {bw:7} {model:9} {stall:12,} {total:13,}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), sharey=True)
    for ax, df in zip(axes, ("os", "ws", "is")):
        for model, style in (("ideal", "o-"), ("scalesim", "s--")):
            ys = [r[3] for r in rows if r[0] == df and r[2] == model]
            ax.plot(BANDWIDTHS, ys, style, label=model)
        ax.set_xscale("log", base=2)
        ax.set_yscale("symlog", linthresh=1e3)
        ax.set_title(f"DeiT-S layer, 32x32 {df}")
        ax.set_xlabel("DRAM bytes/cycle per interface")
    axes[0].set_ylabel("stall cycles")
    axes[0].legend()
    fig.tight_layout()
    out = ROOT / "docs" / "img" / "memory_models.png"
    fig.savefig(out, dpi=110)
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
