"""A drop-in for SCALE-Sim 3.0.0: its cfg and topology files in, its three reports out.

``vitsim scalesim -c CFG -t TOPOLOGY [-l LAYOUT] [-p OUTDIR] [-i conv|gemm] [-s Y|N]``
takes the flags of ``python -m scalesim.scale`` and writes
``OUTDIR/<run_name>/{COMPUTE,BANDWIDTH,DETAILED_ACCESS}_REPORT.csv`` with SCALE-Sim's
headers, column order and number formatting, every cell equal (tests/test_scalesim_dropin.py
against reports of the real SCALE-Sim).  From Python:

>>> arch, ops = load("scale.cfg", "topology.csv", "gemm")     # doctest: +SKIP
>>> rows = run("scale.cfg", "topology.csv", "gemm", "results") # doctest: +SKIP

See ``docs/scalesim.md`` for what is and is not reproduced.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sim.config import arch_from_dict
from sim.engine.scalesim_memory import simulate_layers
from sim.scalesim.files import INPUT_TYPES, ScaleSimConfig, read_config, read_topology
from sim.scalesim.reports import write_reports
from sim.workload.conv import conv_gemm
from sim.workload.lower import Ops

__all__ = ["load", "run", "arch_of", "read_config", "read_topology", "write_reports",
           "ScaleSimConfig", "INPUT_TYPES"]

#: SCALE-Sim has no clock; vitsim needs one for seconds (cycles are unaffected).
CLOCK_MHZ = 1000.0


def arch_of(cfg: ScaleSimConfig):
    """The vitsim :class:`~sim.config.ArchConfig` of a SCALE-Sim config.

    1-byte words, ``kB`` SRAMs.  USER mode: ``memory.model: scalesim`` with the cfg's
    bandwidths (ifmap fill, filter fill, ofmap drain words/cycle) and SCALE-Sim's 1-cycle
    DRAM latency, so the engine's stalls, traffic and totals are SCALE-Sim's.  CALC mode
    (stall-free in SCALE-Sim): ``memory.model: ideal`` with unlimited bandwidth and no
    latency, so the engine's total is SCALE-Sim's Total Cycles + 1 per layer.
    """
    user = cfg.mode == "USER"
    bw = cfg.bandwidth_words if user else (float("inf"),) * 3
    return arch_from_dict({
        "schema_version": 1, "name": cfg.run_name, "clock_mhz": CLOCK_MHZ,
        "precision": "int8",
        "description": f"SCALE-Sim config {cfg.run_name} ({cfg.mode} mode)",
        "array": {"rows": cfg.rows, "cols": cfg.cols, "dataflow": cfg.dataflow},
        "memory": {"ifmap_kib": cfg.sram_kb[0], "filter_kib": cfg.sram_kb[1],
                   "ofmap_kib": cfg.sram_kb[2], "word_bytes": 1,
                   "model": "scalesim" if user else "ideal"},
        "dram": {"ifmap_bytes_per_cycle": bw[0], "filter_bytes_per_cycle": bw[1],
                 "ofmap_bytes_per_cycle": bw[2], "latency_cycles": int(user)},
    }, source=f"scalesim config {cfg.run_name}")


def load(cfg, topology, input_type: str = "conv"):
    """``(arch, ops)``: a SCALE-Sim cfg and topology as a vitsim arch and GEMM ops.

    Each topology layer is one GEMM op (``layer`` = its row index, ``op`` = its name), conv
    layers lowered with SCALE-Sim's im2col and ceil rounding (:func:`sim.workload.conv_gemm`).
    """
    conf = read_config(cfg)
    layers = read_topology(topology, input_type)
    dims = [conv_gemm(lay.ifmap_h, lay.ifmap_w, lay.filt_h, lay.filt_w, lay.channels,
                      lay.num_filters, lay.stride, rounding="scalesim") for lay in layers]
    n = len(layers)
    ops = Ops(layer=np.arange(n, dtype=np.int64), op=tuple(lay.name for lay in layers),
              kind=("gemm",) * n, vop=("",) * n,
              m=np.array([d[0] for d in dims], dtype=np.int64),
              n=np.array([d[1] for d in dims], dtype=np.int64),
              k=np.array([d[2] for d in dims], dtype=np.int64),
              count=np.ones(n, dtype=np.int64), elements=np.zeros(n, dtype=np.int64))
    return arch_of(conf), ops


def run(cfg, topology, input_type: str = "conv", outdir="./results", layout=None,
        traces: bool = False, reference: bool = False) -> list[dict]:
    """Simulate like ``python -m scalesim.scale`` and write its reports.

    Reports go to ``outdir/<run_name>/`` (``outdir`` is created if missing, its parent must
    exist, as in SCALE-Sim).  ``layout`` is accepted for compatibility and not read (custom
    layouts are refused in the cfg).  ``traces=True`` also writes each layer's SRAM traces
    (``layer<i>/{IFMAP,FILTER,OFMAP}_SRAM_TRACE.csv``).  ``reference=True`` runs the slow
    pure-Python restatement instead of the Numba kernel.  Returns one dict per layer
    (``compute``, ``bandwidth``, ``detail`` report items).
    """
    conf = read_config(cfg)
    layers = read_topology(topology, input_type)
    results = simulate_layers(layers, conf.dataflow, conf.rows, conf.cols, conf.sram_kb,
                              conf.mode, conf.bandwidth_words, conf.offsets,
                              reference=reference, traces=traces)
    out = Path(outdir)
    if not out.is_dir():
        os.mkdir(out)
    report_dir = out / conf.run_name
    report_dir.mkdir(exist_ok=True)
    write_reports(report_dir, results)
    if traces:
        from sim.scalesim.reports import write_sram_traces

        write_sram_traces(report_dir, results)
    return results
