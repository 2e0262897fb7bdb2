"""Regenerate the SCALE-Sim 3.0.0 golden files in ``tests/data`` (run only on purpose).

Usage::

    /work/venv/bin/python tests/data/make_scalesim_goldens.py \
        [--scalesim-python /work/scalesim-venv/bin/python] [--only calc,user,trace,deit]

(``--only timing`` re-times SCALE-Sim into the DeiT file; not part of the default run.)

Writes (each a JSON object with ``schema_version``, ``meta`` and ``records``):

* ``scalesim_calc.json``        -- CALC mode, small GEMMs x {os, ws, is}, many array shapes;
* ``scalesim_user.json``        -- USER mode, 1-8 words/cycle, 1-8 kB SRAMs (stalls);
* ``scalesim_trace_os.json``    -- SRAM/DRAM traces of one small OS GEMM, trace row counts
  of one DeiT-S QK^T head;
* ``scalesim_deit_s_layer.json`` -- one DeiT-S encoder layer at 32x32, CALC and USER, all
  dataflows, with SCALE-Sim run times (the speed baseline).  Takes 15-30 minutes.

The case lists below are deterministic; the files change only if SCALE-Sim does.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scalesim_oracle as oracle

DATA = Path(__file__).resolve().parent
SCHEMA_VERSION = 1
DATAFLOWS = ("os", "ws", "is")
CALC_SRAM_KB = (256, 256, 128)

# (m, n, k, rows, cols): token counts off the array edge, dims below the array, odd arrays.
CALC_CASES = [
    (197, 64, 64, 32, 32), (197, 197, 64, 32, 32), (197, 64, 197, 32, 32),
    (64, 197, 16, 32, 32), (33, 65, 129, 32, 32), (128, 96, 32, 32, 32),
    (50, 40, 30, 8, 8), (3, 5, 7, 8, 8), (8, 8, 8, 8, 8), (9, 9, 9, 8, 8),
    (20, 16, 24, 8, 8), (1, 64, 64, 8, 8), (64, 1, 64, 8, 8), (64, 64, 1, 8, 8),
    (65, 33, 17, 8, 16), (197, 16, 12, 8, 16), (141, 24, 20, 16, 4), (45, 31, 17, 16, 4),
    (31, 17, 45, 4, 16), (16, 16, 16, 16, 16), (17, 31, 33, 16, 16), (197, 48, 24, 16, 16),
    (50, 64, 48, 32, 8), (65, 20, 40, 32, 8), (100, 50, 25, 16, 8), (37, 41, 43, 8, 32),
    (12, 10, 9, 1, 8), (12, 10, 9, 8, 1), (7, 13, 5, 1, 1), (1, 1, 1, 4, 4),
    (5, 200, 3, 4, 4), (200, 5, 3, 4, 4), (3, 5, 200, 4, 4), (24, 24, 24, 2, 3),
]

# (dataflow, m, n, k, rows, cols, sram_kb, bandwidth_words) -- operands exceed the SRAMs.
USER_CASES = [
    ("os", 64, 64, 64, 8, 8, (2, 2, 2), (4, 4, 4)),
    ("os", 50, 40, 100, 8, 8, (1, 1, 1), (1, 1, 1)),
    ("os", 197, 64, 64, 16, 16, (4, 4, 2), (8, 8, 8)),
    ("os", 65, 33, 130, 8, 16, (2, 4, 1), (2, 4, 2)),
    ("os", 100, 100, 50, 16, 8, (8, 8, 4), (8, 2, 4)),
    ("ws", 64, 64, 64, 8, 8, (2, 2, 2), (4, 4, 4)),
    ("ws", 50, 40, 100, 8, 8, (1, 1, 1), (1, 1, 1)),
    ("ws", 197, 64, 64, 16, 16, (4, 4, 2), (8, 8, 8)),
    ("ws", 65, 33, 130, 8, 16, (2, 4, 1), (2, 4, 2)),
    ("ws", 100, 100, 50, 16, 8, (8, 8, 4), (8, 2, 4)),
    ("is", 64, 64, 64, 8, 8, (2, 2, 2), (4, 4, 4)),
    ("is", 50, 40, 100, 8, 8, (1, 1, 1), (1, 1, 1)),
    ("is", 197, 64, 64, 16, 16, (4, 4, 2), (8, 8, 8)),
    ("is", 65, 33, 130, 8, 16, (2, 4, 1), (2, 4, 2)),
    ("is", 100, 100, 50, 16, 8, (8, 8, 4), (8, 2, 4)),
    ("os", 141, 96, 48, 8, 8, (1, 2, 1), (2, 1, 8)),
    ("ws", 141, 96, 48, 8, 8, (1, 2, 1), (2, 1, 8)),
    ("is", 141, 96, 48, 8, 8, (1, 2, 1), (2, 1, 8)),
]

# DeiT-S: T=197 tokens, E=384, F=1536, 6 heads of 64.  (name, M, N, K).
DEIT_S_HEADS = 6
DEIT_S_GEMMS = [("QKV", 197, 1152, 384), ("QKT", 197, 197, 64), ("SV", 197, 64, 197),
                ("PROJ", 197, 384, 384), ("FC1", 197, 1536, 384), ("FC2", 197, 384, 1536)]
DEIT_SRAM_KB = (256, 256, 128)
DEIT_USER_BW = (32, 32, 32)
TIMING_GEMM = ("PROJ", 197, 384, 384)

TRACE_SMALL = ("small", 20, 16, 24, 8, 8)
TRACE_NAMES = [f"{op}_{mem}_TRACE" for op in ("IFMAP", "FILTER", "OFMAP")
               for mem in ("SRAM", "DRAM")]


def _meta(python: str, **extra) -> dict:
    ver = subprocess.run(
        [python, "-c",
         "import importlib.metadata as m, numpy; print(m.version('scalesim'), numpy.__version__)"],
        capture_output=True, text=True, check=True).stdout.split()
    meta = {"generator": "tests/data/make_scalesim_goldens.py", "scalesim_version": ver[0],
            "scalesim_numpy_version": ver[1], "word_bytes": 1,
            "offsets_words": dict(zip(("ifmap", "filter", "ofmap"), oracle.OFFSETS))}
    meta.update(extra)
    return meta


def _record(res: dict, rows, cols, df, mode, sram_kb, bw) -> dict:
    rec = {"name": res["name"], "m": res["m"], "n": res["n"], "k": res["k"],
           "rows": rows, "cols": cols, "dataflow": df, "mode": mode,
           "sram_kb": list(sram_kb), "bandwidth_words": list(bw) if bw else None}
    rec.update({k: v for k, v in res.items() if k not in rec and k != "trace_dir"})
    return rec


def _write(name: str, meta: dict, records: list, **extra) -> None:
    doc = {"schema_version": SCHEMA_VERSION, "meta": meta, **extra, "records": records}
    text = json.dumps(doc, indent=1)
    # put every innermost list of numbers (sram_kb, trace rows) on one line
    text = re.sub(r"\[\s*(-?[\d.]+(?:,\s*-?[\d.]+)*)\s*\]",
                  lambda mt: "[" + ",".join(mt.group(1).split()).replace(",,", ",") + "]", text)
    (DATA / name).write_text(text + "\n")


def make_calc(python: str) -> None:
    """CALC goldens: one SCALE-Sim run per (array, dataflow) holding all its GEMMs."""
    arrays = sorted({(r, c) for *_, r, c in CALC_CASES})
    records = []
    for rows, cols in arrays:
        gemms = [(f"g{m}x{n}x{k}", m, n, k) for m, n, k, r, c in CALC_CASES
                 if (r, c) == (rows, cols)]
        for df in DATAFLOWS:
            results, _ = oracle.run_scalesim(gemms, rows, cols, df, "CALC", CALC_SRAM_KB,
                                             python=python)
            records += [_record(res, rows, cols, df, "CALC", CALC_SRAM_KB, None)
                        for res in results]
    _write("scalesim_calc.json", _meta(python), records)


def make_user(python: str) -> None:
    """USER goldens: small SRAMs and 1-8 words/cycle, one run per case."""
    records = []
    for i, (df, m, n, k, rows, cols, sram, bw) in enumerate(USER_CASES):
        results, _ = oracle.run_scalesim([(f"u{i}", m, n, k)], rows, cols, df, "USER", sram,
                                         bw, python=python)
        records.append(_record(results[0], rows, cols, df, "USER", sram, bw))
    _write("scalesim_user.json", _meta(python, bandwidth_note=(
        "bandwidth_words = (ifmap fill, filter fill, ofmap drain) words/cycle, written as "
        "[layout] IfmapSRAMBankBandwidth, FilterSRAMBankBandwidth and "
        "[architecture_presets] Bandwidth")), records)


def _trace_counts(trace_dir: Path) -> dict:
    return {n: len(oracle.read_trace(trace_dir / f"{n}.csv")) for n in TRACE_NAMES}


def make_trace(python: str) -> None:
    """Trace golden: full SRAM traces of one small OS GEMM, row counts for QK^T."""
    name, m, n, k, rows, cols = TRACE_SMALL
    qkt = DEIT_S_GEMMS[1]
    with tempfile.TemporaryDirectory(prefix="scalesim_trace_") as tmp:
        res, _ = oracle.run_scalesim([(name, m, n, k)], rows, cols, "os", "CALC",
                                     CALC_SRAM_KB, python=python, traces=True,
                                     out_dir=Path(tmp) / "small")
        tdir = Path(res[0]["trace_dir"])
        small = _record(res[0], rows, cols, "os", "CALC", CALC_SRAM_KB, None)
        small["trace_rows"] = _trace_counts(tdir)
        small["traces"] = {n_: oracle.read_trace(tdir / f"{n_}.csv")
                           for n_ in ("IFMAP_SRAM_TRACE", "FILTER_SRAM_TRACE",
                                      "OFMAP_SRAM_TRACE")}
        res, _ = oracle.run_scalesim([qkt], 32, 32, "os", "CALC", DEIT_SRAM_KB,
                                     python=python, traces=True, out_dir=Path(tmp) / "qkt")
        big = _record(res[0], 32, 32, "os", "CALC", DEIT_SRAM_KB, None)
        big["trace_rows"] = _trace_counts(Path(res[0]["trace_dir"]))
    _write("scalesim_trace_os.json", _meta(python, trace_note=(
        "traces[X] rows are [cycle, addr_0, ..., addr_{P-1}] with -1 for an idle port; "
        "addresses include offsets_words; trace_rows counts CSV rows (no header)")),
        [small, big])


def make_deit(python: str) -> None:
    """DeiT-S layer at 32x32: CALC and USER for all dataflows, plus SCALE-Sim run times."""
    records, layers, timings = [], {}, []
    runs = [("CALC", df, None) for df in DATAFLOWS] + \
           [("USER", df, DEIT_USER_BW) for df in DATAFLOWS]
    for mode, df, bw in runs:
        results, timing = oracle.run_scalesim_timed(DEIT_S_GEMMS, 32, 32, df, mode,
                                                    DEIT_SRAM_KB, bw, python=python)
        recs = [_record(r, 32, 32, df, mode, DEIT_SRAM_KB, bw) for r in results]
        records += recs
        mult = {"QKT": DEIT_S_HEADS, "SV": DEIT_S_HEADS}
        layers[f"{mode}_{df}"] = {
            key: sum(r[key] * mult.get(r["name"], 1) for r in recs)
            for key in ("total_cycles", "stall_cycles", "total_cycles_incl_prefetch")}
        timings.append(_timing_entry(LAYER_WHAT.format(df=df, mode=mode), timing))
        _write_deit(python, records, layers, timings)  # partial results survive a crash
    _write_deit(python, records, layers, timings + _time_single_gemm(python))


def make_timing(python: str) -> None:
    """Re-time the os layer (CALC, USER) and the single GEMM; merge into the DeiT file."""
    doc = json.loads((DATA / "scalesim_deit_s_layer.json").read_text())
    new = []
    for mode, bw in (("CALC", None), ("USER", DEIT_USER_BW)):
        _, timing = oracle.run_scalesim_timed(DEIT_S_GEMMS, 32, 32, "os", mode, DEIT_SRAM_KB,
                                              bw, python=python)
        new.append(_timing_entry(LAYER_WHAT.format(df="os", mode=mode), timing))
    new += _time_single_gemm(python)
    fresh = {e["what"] for e in new}
    timings = [e for e in doc["timings"] if e["what"] not in fresh] + new
    _write_deit(python, doc["records"], doc["layer_totals"], timings)


LAYER_WHAT = "DeiT-S layer (6 distinct GEMMs) 32x32 {df} {mode}"


def _timing_entry(what: str, timing: dict) -> dict:
    return {"what": what, **{k: round(v, 2) for k, v in timing.items()}}


def _time_single_gemm(python: str) -> list:
    out = []
    for mode, bw in (("CALC", None), ("USER", DEIT_USER_BW)):
        _, timing = oracle.run_scalesim_timed([TIMING_GEMM], 32, 32, "os", mode,
                                              DEIT_SRAM_KB, bw, python=python)
        out.append(_timing_entry(f"one 197x384x384 GEMM 32x32 os {mode}", timing))
    return out


def _write_deit(python, records, layers, timings) -> None:
    _write("scalesim_deit_s_layer.json", _meta(
        python, heads=DEIT_S_HEADS,
        layer_note="layer_totals sum QKV + heads*QKT + heads*SV + PROJ + FC1 + FC2",
        timing_note=("SCALE-Sim subprocess, interpreter start included, traces off, "
                     "2-core host shared with other jobs: wall_seconds depends on load, "
                     "cpu_seconds (child user+sys) much less; entries without cpu_seconds "
                     "are wall only")),
        records, layer_totals=layers, timings=timings)


REPORTS = DATA / "scalesim_reports"


def report_cases() -> list[dict]:
    """Deterministic multi-layer topologies for the drop-in goldens (small layers).

    Each case: ``name, input_type (gemm|conv), rows, cols, dataflow, mode, sram_kb,
    bandwidth_words, layers`` with GEMM layers ``(name, M, N, K)`` and conv layers
    ``(name, H, W, Fh, Fw, C, Nf, stride)``.
    """
    import random
    rng = random.Random(14)
    arrays = [(4, 4), (8, 8), (8, 16), (16, 8), (16, 16), (4, 8), (32, 32), (5, 7)]
    cases = []
    for i in range(36):
        kind = "conv" if (i // 6) % 3 == 2 else "gemm"
        mode = ("CALC", "USER")[(i // 3) % 2]
        df = DATAFLOWS[i % 3]
        rows, cols = arrays[i % len(arrays)]
        if mode == "USER":
            sram = tuple(rng.choice((1, 2, 4, 8)) for _ in range(3))
            bw = tuple(rng.choice((1, 2, 4, 8, 16)) for _ in range(3))
        else:
            sram = rng.choice([(256, 256, 128), (2, 2, 2), (8, 4, 2), (1, 1, 1)])
            bw = None
        layers = []
        for j in range(rng.randint(3, 5)):
            if kind == "gemm":
                layers.append((f"g{j}", rng.randint(1, 80), rng.randint(1, 72),
                               rng.randint(1, 96)))
            else:
                fh, fw = rng.randint(1, 5), rng.randint(1, 5)
                h, w = rng.randint(fh, 14), rng.randint(fw, 14)
                name = f"DPconv{j}" if (i == 13 and j == 0) else f"conv{j}"
                layers.append((name, h, w, fh, fw, rng.randint(1, 6), rng.randint(1, 24),
                               rng.randint(1, 3)))
        cases.append({"name": f"c{i:02d}_{kind}_{mode.lower()}_{df}_{rows}x{cols}",
                      "input_type": kind, "rows": rows, "cols": cols, "dataflow": df,
                      "mode": mode, "sram_kb": sram, "bandwidth_words": bw, "layers": layers})
    return cases


def make_reports(python: str) -> None:
    """Drop-in goldens: cfg, topology and SCALE-Sim's three reports per case."""
    import shutil
    for case in report_cases():
        out = REPORTS / case["name"]
        if (out / "COMPUTE_REPORT.csv").exists():
            continue
        out.mkdir(parents=True, exist_ok=True)
        bw = case["bandwidth_words"] or (10, 10, case["cols"])
        (out / "scalesim.cfg").write_text(oracle.config_text(
            case["rows"], case["cols"], case["dataflow"], case["mode"], case["sram_kb"], bw,
            run_name=case["name"]))
        if case["input_type"] == "gemm":
            head = "Layer, M, N, K,\n"
        else:
            head = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                    "Channels, Num Filter, Strides,\n")
        (out / "topology.csv").write_text(
            head + "".join(", ".join(map(str, layer)) + ",\n" for layer in case["layers"]))
        with tempfile.TemporaryDirectory(prefix="scalesim_rep_") as tmp:
            oracle.run_files(out / "scalesim.cfg", out / "topology.csv", Path(tmp) / "res",
                             case["input_type"], python=python)
            for f in ("COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv",
                      "DETAILED_ACCESS_REPORT.csv"):
                shutil.copy(Path(tmp) / "res" / case["name"] / f, out / f)
        print(case["name"], flush=True)


PARTS = {"reports": make_reports, "calc": make_calc, "user": make_user, "trace": make_trace, "deit": make_deit,
         "timing": make_timing}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scalesim-python", default=oracle.DEFAULT_PYTHON)
    parser.add_argument("--only", default="calc,user,trace,deit",
                        help=f"comma-separated subset of {','.join(PARTS)}")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {unknown}; choose from {list(PARTS)}")
    if not oracle.scalesim_available(args.scalesim_python):
        parser.error(f"cannot import scalesim with {args.scalesim_python}")
    for part in parts:
        PARTS[part](args.scalesim_python)
        print(f"{part}: done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
