"""Run SCALE-Sim 3.0.0 as an external oracle on a list of GEMMs.

SCALE-Sim is *not* a vitsim dependency: it lives in its own virtual environment (it needs
``numpy<2.4``) and is driven here as a subprocess.  This module uses only the standard
library so that tests, golden generators and benchmarks can import it from any environment.

For every call a fresh directory receives

* ``scalesim.cfg`` -- every mandatory section of the 3.0.0 parser (``general``,
  ``architecture_presets``, ``layout``, ``sparsity``, ``run_presets``);
* ``topology.csv`` -- one ``name, M, N, K,`` row per GEMM (SCALE-Sim drops the last field
  of every row, hence the trailing comma);
* ``layout.csv`` -- header only (3.0.0 always opens it, custom layouts stay off).

Bandwidth semantics of 3.0.0 (docs/references.md#scale-sim-memory-model): in ``USER`` mode the
``[architecture_presets] Bandwidth`` value is the OFMAP drain bandwidth only; the IFMAP and
FILTER fill bandwidths are ``[layout] IfmapSRAMBankBandwidth`` / ``FilterSRAMBankBandwidth``.
``bandwidth_words=(ifmap, filter, ofmap)`` is written accordingly.  In ``CALC`` mode
SCALE-Sim ignores all three (it fills at 10 words/cycle and drains at ``cols``).

With ``traces=False`` the class API is used with ``save_disk_space=True`` (no trace files;
the CLI ignores its ``-s`` flag and always writes traces).  With ``traces=True`` the CLI
``python -m scalesim.scale`` is run and per-layer traces land in
``<out_dir>/<RUN_NAME>/layer<i>/{IFMAP,FILTER,OFMAP}_{SRAM,DRAM}_TRACE.csv``.

Example
-------
>>> results, seconds = run_scalesim([("g0", 20, 16, 24)], 8, 8, "os")  # doctest: +SKIP
>>> results[0]["total_cycles"]                                          # doctest: +SKIP
"""

from __future__ import annotations

import csv
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = [
    "DEFAULT_PYTHON",
    "OFFSETS",
    "RUN_NAME",
    "ScaleSimError",
    "read_trace",
    "run_scalesim",
    "run_scalesim_timed",
    "scalesim_available",
]

DEFAULT_PYTHON = os.environ.get("SCALESIM_PYTHON", "/work/scalesim-venv/bin/python")
RUN_NAME = "oracle"
#: Base addresses (words) of the ifmap, filter and ofmap operand spaces in the traces.
OFFSETS = (0, 10_000_000, 20_000_000)

_DRIVER = """
import sys
from scalesim.scale_sim import scalesim
s = scalesim(save_disk_space=True, verbose=False, config=sys.argv[1],
             topology=sys.argv[2], layout=sys.argv[3], input_type_gemm=True)
s.run_scale(top_path=sys.argv[4])
"""

_COMPUTE_KEYS = ("total_cycles_incl_prefetch", "total_cycles", "stall_cycles",
                 "overall_util_pct", "mapping_eff_pct", "compute_util_pct")
_BANDWIDTH_KEYS = ("avg_sram_ifmap_bw", "avg_sram_filter_bw", "avg_sram_ofmap_bw",
                   "avg_dram_ifmap_bw", "avg_dram_filter_bw", "avg_dram_ofmap_bw")
_DETAIL_KEYS = tuple(
    f"{prefix}_{suffix}"
    for prefix, verb in (("sram_ifmap", "reads"), ("sram_filter", "reads"),
                         ("sram_ofmap", "writes"), ("dram_ifmap", "reads"),
                         ("dram_filter", "reads"), ("dram_ofmap", "writes"))
    for suffix in ("start_cycle", "stop_cycle", verb)
)


class ScaleSimError(RuntimeError):
    """SCALE-Sim could not be run or its reports could not be read."""


def scalesim_available(python: str = DEFAULT_PYTHON) -> bool:
    """True if ``python`` exists and can ``import scalesim``."""
    if not Path(python).exists():
        return False
    proc = subprocess.run([python, "-c", "import scalesim"], capture_output=True,
                          env=_env(), check=False)
    return proc.returncode == 0


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONWARNINGS"] = "ignore::DeprecationWarning"
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _config_text(rows, cols, dataflow, mode, sram_kb, bandwidth_words) -> str:
    bw_i, bw_f, bw_o = bandwidth_words
    ifmap_off, filter_off, ofmap_off = OFFSETS
    return f"""[general]
run_name = {RUN_NAME}

[architecture_presets]
ArrayHeight = {rows}
ArrayWidth = {cols}
IfmapSramSzkB = {sram_kb[0]}
FilterSramSzkB = {sram_kb[1]}
OfmapSramSzkB = {sram_kb[2]}
IfmapOffset = {ifmap_off}
FilterOffset = {filter_off}
OfmapOffset = {ofmap_off}
Bandwidth = {bw_o}
Dataflow = {dataflow}
ReadRequestBuffer = 32
WriteRequestBuffer = 32
MemoryBanks = 1

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = {bw_i}
IfmapSRAMBankNum = 1
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = {bw_f}
FilterSRAMBankNum = 1
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = false
SparseRep = ellpack_block
OptimizedMapping = false
BlockSize = 8
RandomNumberGeneratorSeed = 40

[run_presets]
InterfaceBandwidth = {mode}
UseRamulatorTrace = False
"""


def _number(text: str):
    """Parse a report field: int when integral, else float."""
    value = float(text)
    return int(value) if value.is_integer() else value


def _read_report(path: Path, keys) -> list[dict]:
    if not path.exists():
        raise ScaleSimError(f"SCALE-Sim report {path} was not written")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    out = []
    for row in rows:
        fields = [f.strip() for f in row if f.strip() != ""]
        if len(fields) != len(keys) + 1:
            raise ScaleSimError(f"{path.name}: expected {len(keys) + 1} fields, got {row!r}")
        out.append(dict(zip(keys, map(_number, fields[1:]))))
    return out


def read_trace(path) -> list[list[int]]:
    """Read a SCALE-Sim trace CSV: one ``[cycle, addr, addr, ...]`` list per row (-1 = idle)."""
    with open(path, newline="") as fh:
        return [[int(float(x)) for x in row if x.strip() != ""] for row in csv.reader(fh)]


def run_scalesim(gemms, rows, cols, dataflow, mode="CALC", sram_kb=(256, 256, 128),
                 bandwidth_words=None, python=DEFAULT_PYTHON, traces=False,
                 out_dir=None, timeout_s=None):
    """Simulate GEMMs with SCALE-Sim 3.0.0; see :func:`run_scalesim_timed` for arguments.

    Returns ``(results, wall_seconds)``: the per-GEMM dicts and the wall time of the
    SCALE-Sim subprocess.
    """
    results, timing = run_scalesim_timed(gemms, rows, cols, dataflow, mode, sram_kb,
                                         bandwidth_words, python, traces, out_dir, timeout_s)
    return results, timing["wall_seconds"]


def run_scalesim_timed(gemms, rows, cols, dataflow, mode="CALC", sram_kb=(256, 256, 128),
                       bandwidth_words=None, python=DEFAULT_PYTHON, traces=False,
                       out_dir=None, timeout_s=None):
    """Simulate GEMMs with SCALE-Sim 3.0.0 and return one result dict per GEMM.

    Parameters
    ----------
    gemms : sequence of (name, m, n, k)
        ``out[M, N] = A[M, K] @ B[K, N]``; names must not contain commas.
    rows, cols : int
        Array height R and width C.
    dataflow : {"os", "ws", "is"}
    mode : {"CALC", "USER"}
        ``CALC``: stall-free, SCALE-Sim reports required bandwidth.  ``USER``: the given
        bandwidths are simulated and stalls counted.
    sram_kb : (int, int, int)
        ifmap, filter, ofmap SRAM sizes in kB (1-byte words, so k-words).
    bandwidth_words : (int, int, int) or None
        ifmap fill, filter fill, ofmap drain bandwidth in words/cycle.  Required in USER
        mode; in CALC mode SCALE-Sim ignores it (default ``(10, 10, cols)``, its own values).
    python : str
        Interpreter of the SCALE-Sim virtual environment.
    traces : bool
        Run the CLI and write per-cycle traces (slower, large files).
    out_dir : path or None
        Where to run.  ``None``: a temporary directory removed afterwards.  Otherwise the
        directory (created if needed) is kept, with reports in ``out_dir/RUN_NAME/``.
    timeout_s : float or None
        Subprocess timeout.

    Returns
    -------
    (list[dict], dict)
        Per GEMM: the inputs (``name, m, n, k``), the COMPUTE_REPORT fields
        (``total_cycles_incl_prefetch, total_cycles, stall_cycles, overall_util_pct,
        mapping_eff_pct, compute_util_pct``), the DETAILED_ACCESS_REPORT fields
        (``{sram,dram}_{ifmap,filter,ofmap}_{start_cycle,stop_cycle,reads|writes}``), the
        BANDWIDTH_REPORT fields (``avg_{sram,dram}_{ifmap,filter,ofmap}_bw``, words/cycle)
        and, with traces and ``out_dir``, ``trace_dir``.  The dict times the SCALE-Sim
        subprocess (interpreter start and import included): ``wall_seconds`` and
        ``cpu_seconds`` (user + system CPU of the child; robust to a busy host, but
        undefined if other threads of the caller reap children meanwhile).
    """
    gemms = [tuple(g) for g in gemms]
    if dataflow not in ("os", "ws", "is"):
        raise ValueError(f"dataflow must be 'os', 'ws' or 'is', not {dataflow!r}")
    if mode not in ("CALC", "USER"):
        raise ValueError(f"mode must be 'CALC' or 'USER', not {mode!r}")
    if bandwidth_words is None:
        if mode == "USER":
            raise ValueError("USER mode needs bandwidth_words=(ifmap, filter, ofmap)")
        bandwidth_words = (10, 10, cols)
    if out_dir is None:
        with tempfile.TemporaryDirectory(prefix="scalesim_") as tmp:
            return _run_in(Path(tmp), gemms, rows, cols, dataflow, mode, sram_kb,
                           bandwidth_words, python, traces, keep=False, timeout_s=timeout_s)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return _run_in(out, gemms, rows, cols, dataflow, mode, sram_kb, bandwidth_words,
                   python, traces, keep=True, timeout_s=timeout_s)


def _run_in(work, gemms, rows, cols, dataflow, mode, sram_kb, bandwidth_words, python,
            traces, keep, timeout_s):
    cfg, topo, layout = work / "scalesim.cfg", work / "topology.csv", work / "layout.csv"
    results_dir = work / "results"
    cfg.write_text(_config_text(rows, cols, dataflow, mode, sram_kb, bandwidth_words))
    topo.write_text("Layer, M, N, K,\n"
                    + "".join(f"{name}, {m}, {n}, {k},\n" for name, m, n, k in gemms))
    layout.write_text("Layer, IFMAP SRAM Row Size, IFMAP SRAM Col Size, "
                      "Filter SRAM Row Size, Filter SRAM Col Size,\n")
    if traces:
        cmd = [python, "-m", "scalesim.scale", "-c", str(cfg), "-t", str(topo),
               "-p", str(results_dir), "-i", "gemm", "-l", str(layout)]
    else:
        cmd = [python, "-c", _DRIVER, str(cfg), str(topo), str(layout), str(results_dir)]
    start, cpu0 = time.perf_counter(), _children_cpu_s()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=work,
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ScaleSimError(f"SCALE-Sim could not run: {exc}") from exc
    timing = {"wall_seconds": time.perf_counter() - start,
              "cpu_seconds": _children_cpu_s() - cpu0}
    if proc.returncode != 0:
        raise ScaleSimError(f"SCALE-Sim exited with {proc.returncode}:\n{proc.stderr[-2000:]}")
    report = results_dir / RUN_NAME
    compute = _read_report(report / "COMPUTE_REPORT.csv", _COMPUTE_KEYS)
    bandwidth = _read_report(report / "BANDWIDTH_REPORT.csv", _BANDWIDTH_KEYS)
    detail = _read_report(report / "DETAILED_ACCESS_REPORT.csv", _DETAIL_KEYS)
    if not len(compute) == len(bandwidth) == len(detail) == len(gemms):
        raise ScaleSimError(f"expected {len(gemms)} report rows, got {len(compute)}")
    results = []
    for i, (name, m, n, k) in enumerate(gemms):
        rec = {"name": name, "m": m, "n": n, "k": k}
        rec.update(compute[i])
        rec.update(detail[i])
        rec.update(bandwidth[i])
        if traces and keep:
            rec["trace_dir"] = str(report / f"layer{i}")
        results.append(rec)
    return results, timing


def config_text(rows, cols, dataflow, mode, sram_kb, bandwidth_words, run_name=RUN_NAME):
    """The ``.cfg`` text this oracle writes (public for golden generators)."""
    return _config_text(rows, cols, dataflow, mode, sram_kb, bandwidth_words).replace(
        f"run_name = {RUN_NAME}", f"run_name = {run_name}", 1)


LAYOUT_HEADER = ("Layer, IFMAP SRAM Row Size, IFMAP SRAM Col Size, "
                 "Filter SRAM Row Size, Filter SRAM Col Size,\n")

_FILE_DRIVER = """
import sys
from scalesim.scale_sim import scalesim
s = scalesim(save_disk_space=True, verbose=False, config=sys.argv[1],
             topology=sys.argv[2], layout=sys.argv[3], input_type_gemm=sys.argv[5] == 'gemm')
s.run_scale(top_path=sys.argv[4])
"""


def run_files(cfg_path, topo_path, results_dir, input_type="gemm", python=DEFAULT_PYTHON,
              timeout_s=None) -> dict:
    """Run SCALE-Sim 3.0.0 on a ``.cfg`` and a topology CSV (conv or gemm), traces off.

    Reports land in ``results_dir/<run_name>/``.  A header-only layout file is written next
    to the topology.  Returns the timing dict (``wall_seconds``, ``cpu_seconds``).
    """
    topo_path = Path(topo_path)
    layout = topo_path.with_name(topo_path.stem + "_layout.csv")
    layout.write_text(LAYOUT_HEADER)
    cmd = [python, "-c", _FILE_DRIVER, str(cfg_path), str(topo_path), str(layout),
           str(results_dir), input_type]
    start, cpu0 = time.perf_counter(), _children_cpu_s()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(),
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ScaleSimError(f"SCALE-Sim could not run: {exc}") from exc
    finally:
        layout.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise ScaleSimError(f"SCALE-Sim exited with {proc.returncode}:\n{proc.stderr[-2000:]}")
    return {"wall_seconds": time.perf_counter() - start,
            "cpu_seconds": _children_cpu_s() - cpu0}
