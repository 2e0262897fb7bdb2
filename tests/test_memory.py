"""The double-buffered memory model (issue 3): properties, the Python reference, SCALE-Sim.

Run: ``PYTHONPATH=. /work/venv/bin/python -m pytest tests/test_memory.py -q``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.config import arch_from_dict, load_arch
from sim.engine import simulate_ops
from sim.engine.compute import compute_cycles, sram_counts
from sim.engine.memory import MEMORY_KEYS, MEMORY_RATE_KEYS, memory_for_gemms
from sim.engine.memory_reference import reference_for_arch
from sim.hw.dataflow import get_dataflow
from sim.workload import lower, model_trace

HERE = Path(__file__).resolve().parent

DATA = HERE / "data"
SETTINGS = settings(deadline=None, max_examples=150, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
INF = math.inf


def make_arch(df="os", rows=8, cols=8, kib=(1.0, 1.0, 1.0), bw=(4, 4, 4), gbps=None,
              latency=0, word_bytes=1, overlap=False, clock_mhz=1000):
    dram = {"latency_cycles": latency}
    if gbps is not None:
        dram["bandwidth_gbps"] = gbps
    else:
        dram.update(ifmap_bytes_per_cycle=bw[0], filter_bytes_per_cycle=bw[1],
                    ofmap_bytes_per_cycle=bw[2])
    return arch_from_dict({
        "schema_version": 1, "name": "t", "clock_mhz": clock_mhz, "precision": "int8",
        "array": {"rows": rows, "cols": cols, "dataflow": df, "fold_overlap": overlap},
        "memory": {"ifmap_kib": kib[0], "filter_kib": kib[1], "ofmap_kib": kib[2],
                   "word_bytes": word_bytes},
        "dram": dram})


def one(arch, m, n, k) -> dict:
    return {key: val[0].item() for key, val in memory_for_gemms(arch, [m], [n], [k]).items()}


def total(arch, m, n, k) -> int:
    r = one(arch, m, n, k)
    a = arch.array
    comp = int(compute_cycles(a.dataflow, m, n, k, a.rows, a.cols, a.fold_overlap))
    return comp + r["stall_cycles"] + r["fill_cycles"] + r["drain_cycles"]


# ---- strategies --------------------------------------------------------------------------
dims = st.integers(1, 48)
kibs = st.sampled_from([0.01, 0.03, 0.1, 0.25, 1.0, 4.0, 64.0])
bws = st.sampled_from([0.5, 1.0, 2.0, 3.2, 8.0, 32.0, INF])


@st.composite
def cases(draw):
    shared = draw(st.booleans())
    arch = make_arch(
        df=draw(st.sampled_from(["os", "ws", "is"])), rows=draw(st.integers(1, 10)),
        cols=draw(st.integers(1, 10)), kib=(draw(kibs), draw(kibs), draw(kibs)),
        bw=(draw(bws), draw(bws), draw(bws)),
        gbps=draw(st.sampled_from([0.7, 2.0, 8.0, 64.0])) if shared else None,
        latency=draw(st.sampled_from([0, 1, 5, 40])), word_bytes=draw(st.sampled_from([1, 2])),
        overlap=draw(st.booleans()), clock_mhz=draw(st.sampled_from([200, 1000])))
    return arch, draw(dims), draw(dims), draw(dims)


# ---- the kernel is the reference ---------------------------------------------------------
@SETTINGS
@given(cases())
def test_kernel_equals_python_reference(case):
    arch, m, n, k = case
    got, ref = one(arch, m, n, k), reference_for_arch(arch, m, n, k)
    for key in MEMORY_KEYS:
        assert got[key] == ref[key], key
    for key in MEMORY_RATE_KEYS:
        assert got[key] == pytest.approx(ref[key], rel=1e-12, abs=1e-12), key


def test_many_gemms_in_one_call_equal_one_by_one():
    arch = make_arch("ws", 8, 4, kib=(0.1, 0.05, 0.1), bw=(2, 1, 3), latency=3)
    m, n, k = np.array([5, 40, 17, 1]), np.array([9, 3, 33, 64]), np.array([30, 8, 1, 64])
    batch = memory_for_gemms(arch, m, n, k)
    for i in range(len(m)):
        single = one(arch, int(m[i]), int(n[i]), int(k[i]))
        assert all(batch[key][i] == single[key] for key in MEMORY_KEYS)


# ---- properties ------------------------------------------------------------------------
@SETTINGS
@given(cases())
def test_unlimited_bandwidth_never_stalls(case):
    arch, m, n, k = case
    lat = 1  # <= every fold period, so even the latency hides
    fast = make_arch(arch.array.dataflow, arch.array.rows, arch.array.cols,
                     kib=(arch.memory.ifmap_kib, arch.memory.filter_kib, arch.memory.ofmap_kib),
                     bw=(INF, INF, INF), latency=lat, overlap=arch.array.fold_overlap)
    r = one(fast, m, n, k)
    assert r["stall_cycles"] == 0
    assert r["fill_cycles"] == lat and r["drain_cycles"] == lat
    a = fast.array
    comp = int(compute_cycles(a.dataflow, m, n, k, a.rows, a.cols, a.fold_overlap))
    assert total(fast, m, n, k) == comp + 2 * lat
    zero = make_arch(a.dataflow, a.rows, a.cols, bw=(INF, INF, INF), latency=0)
    assert total(zero, m, n, k) == int(compute_cycles(a.dataflow, m, n, k, a.rows, a.cols))


@SETTINGS
@given(cases())
def test_halving_bandwidth_never_reduces_cycles(case):
    arch, m, n, k = case
    d = arch.dram
    if d.bandwidth_gbps is not None:
        slow = arch_from_dict({**_raw(arch), "dram": {"bandwidth_gbps": d.bandwidth_gbps / 2,
                                                      "latency_cycles": d.latency_cycles}})
    else:
        slow = arch_from_dict({**_raw(arch), "dram": {
            "ifmap_bytes_per_cycle": d.ifmap_bytes_per_cycle / 2,
            "filter_bytes_per_cycle": d.filter_bytes_per_cycle / 2,
            "ofmap_bytes_per_cycle": d.ofmap_bytes_per_cycle / 2,
            "latency_cycles": d.latency_cycles}})
    assert total(slow, m, n, k) >= total(arch, m, n, k)
    r_fast, r_slow = one(arch, m, n, k), one(slow, m, n, k)
    assert r_slow["stall_cycles"] + r_slow["fill_cycles"] + r_slow["drain_cycles"] >= \
        r_fast["stall_cycles"] + r_fast["fill_cycles"] + r_fast["drain_cycles"]


@SETTINGS
@given(cases(), st.sampled_from(["ifmap", "filter", "ofmap"]))
def test_shrinking_an_sram_never_reduces_dram_traffic(case, which):
    arch, m, n, k = case
    raw = _raw(arch)
    raw["memory"] = {**raw["memory"], f"{which}_kib": getattr(arch.memory, f"{which}_kib") / 3}
    small = arch_from_dict(raw)
    big_r, small_r = one(arch, m, n, k), one(small, m, n, k)
    for key in ("dram_ifmap_read_bytes", "dram_filter_read_bytes", "dram_ofmap_write_bytes"):
        assert small_r[key] >= big_r[key], key


@SETTINGS
@given(cases())
def test_shared_channel_is_never_faster_than_three_channels(case):
    arch, m, n, k = case
    if arch.dram.bandwidth_gbps is None:
        return
    b = arch.dram.bandwidth_gbps * 1e3 / arch.clock_mhz
    raw = _raw(arch)
    raw["dram"] = {"ifmap_bytes_per_cycle": b, "filter_bytes_per_cycle": b,
                   "ofmap_bytes_per_cycle": b, "latency_cycles": arch.dram.latency_cycles}
    assert total(arch, m, n, k) >= total(arch_from_dict(raw), m, n, k)


@SETTINGS
@given(cases())
def test_peak_bandwidth_on_every_interface_means_no_stalls(case):
    arch, m, n, k = case
    bw = max(one(arch, m, n, k)["dram_peak_bytes_per_cycle"], 1e-3) + 1e-9
    raw = _raw(arch)
    raw["dram"] = {"ifmap_bytes_per_cycle": bw, "filter_bytes_per_cycle": bw,
                   "ofmap_bytes_per_cycle": bw, "latency_cycles": 0}
    r = one(arch_from_dict(raw), m, n, k)
    a = arch.array
    folds = int(get_dataflow(a.dataflow).folds(m, n, k, a.rows, a.cols))
    # whole-cycle rounding costs at most one cycle per transfer
    assert r["stall_cycles"] <= 3 * folds
    assert r["stall_cycles"] <= 0.02 * int(compute_cycles(a.dataflow, m, n, k, a.rows, a.cols))


def test_reuse_when_operand_fits_its_half():
    # OS 64x64x64 on 8x8: ifmap 4096 words, re-read once per column fold unless resident
    small = make_arch("os", kib=(4.0, 16.0, 16.0))          # half = 2048 < 4096
    big = make_arch("os", kib=(8.0, 16.0, 16.0))            # half = 4096
    assert one(small, 64, 64, 64)["dram_ifmap_read_bytes"] == 64 * 64 * 8
    assert one(big, 64, 64, 64)["dram_ifmap_read_bytes"] == 64 * 64
    # the filter tile (64x8) is reused over the 8 inner row folds: read once in all
    assert one(small, 64, 64, 64)["dram_filter_read_bytes"] == 64 * 64
    # ws/is: partial sums accumulate on chip when M x C (ws) fits the ofmap half
    assert one(make_arch("ws", kib=(1, 1, 16)), 64, 64, 64)["dram_ofmap_write_bytes"] == 4096
    assert one(make_arch("ws", kib=(1, 1, 0.5)), 64, 64, 64)["dram_ofmap_write_bytes"] == 4096 * 8


def test_stall_formula_on_a_hand_case():
    # OS, 1 column fold, 2 row folds, K=100: period = 8+8+100-2 = 114 cycles.  The ifmap
    # does not fit (half 400 < 800 words): fold 1's 800-byte tile loads during fold 0 at
    # 4 B/cycle = 200 cycles -> stall 200 - 114 = 86.  Fill = max(200, 800/4) = 200.
    arch = make_arch("os", 8, 8, kib=(0.782, 16, 16), bw=(4, 4, INF))
    r = one(arch, 16, 8, 100)
    assert r["fill_cycles"] == 200
    assert r["stall_cycles"] == 86
    assert r["drain_cycles"] == 0
    assert r["dram_ifmap_read_bytes"] == 1600 and r["dram_filter_read_bytes"] == 800


# ---- engine and config contract ------------------------------------------------------
def test_engine_reports_memory_columns():
    arch = load_arch("scalesim_32x32", overrides={
        "dram.ifmap_bytes_per_cycle": 4, "dram.filter_bytes_per_cycle": 4,
        "dram.ofmap_bytes_per_cycle": 4})
    assert arch.dram.ifmap_bytes_per_cycle == 4
    ops = lower(model_trace("deit_s"))
    cols = simulate_ops(arch, ops, "cycle").ops
    for key in MEMORY_KEYS + MEMORY_RATE_KEYS:
        assert key in cols
    assert cols["stall_cycles"].sum() > 0
    assert np.array_equal(cols["total_cycles"], cols["compute_cycles"] + cols["stall_cycles"]
                          + cols["fill_cycles"] + cols["drain_cycles"] + cols["vector_cycles"])
    g = ops.is_gemm
    assert (cols["dram_peak_bytes_per_cycle"][g] > 0).all()
    assert (cols["dram_avg_bytes_per_cycle"][~g] == 0).all()
    assert (cols["dram_ifmap_read_bytes"][~g] == 0).all()
    analytic = simulate_ops(arch, ops, "analytic").ops
    assert analytic["stall_cycles"].sum() == 0


def test_shared_bandwidth_form_is_converted_at_the_clock():
    arch = make_arch("os", gbps=2.0, clock_mhz=500)        # 2 GB/s at 500 MHz = 4 B/cycle
    per = make_arch("os", bw=(4, 4, 4))
    assert arch.dram.bytes_per_cycle(arch.clock_mhz)[:3] == (4.0, 4.0, 4.0)
    assert total(arch, 64, 64, 64) >= total(per, 64, 64, 64)


def _raw(arch) -> dict:
    from sim.config import arch_to_dict

    return arch_to_dict(arch)


# ---- address traces ------------------------------------------------------------------
def _read(path):
    rows = [line.split(",") for line in Path(path).read_text().splitlines()]
    return [[int(x) for x in row] for row in rows]


def test_sram_traces_equal_scalesim_os(tmp_path):
    from sim.engine.address_trace import write_gemm_traces

    rec = json.loads((DATA / "scalesim_trace_os.json").read_text())["records"][0]
    assert rec["dataflow"] == "os" and rec["stall_cycles"] == 0
    arch = make_arch("os", rec["rows"], rec["cols"], kib=(256, 256, 128), bw=(INF, INF, INF))
    paths = write_gemm_traces(arch, rec["m"], rec["n"], rec["k"], tmp_path, "small_")
    for op in ("ifmap", "filter", "ofmap"):
        ours = _read(paths[(op, "SRAM")])
        assert ours == rec["traces"][f"{op.upper()}_SRAM_TRACE"], op


def test_sram_trace_rows_equal_scalesim_deit_s_qkt(tmp_path):
    from sim.engine.address_trace import write_gemm_traces

    rec = json.loads((DATA / "scalesim_trace_os.json").read_text())["records"][1]
    arch = make_arch("os", rec["rows"], rec["cols"], kib=(256, 256, 128), bw=(INF, INF, INF))
    paths = write_gemm_traces(arch, rec["m"], rec["n"], rec["k"], tmp_path)
    for op in ("ifmap", "filter", "ofmap"):
        n_rows = len(Path(paths[(op, "SRAM")]).read_text().splitlines())
        assert n_rows == rec["trace_rows"][f"{op.upper()}_SRAM_TRACE"], op


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_traces_agree_with_the_walk(tmp_path, df, monkeypatch):
    import sim.engine.address_trace as at

    arch = make_arch(df, 4, 8, kib=(0.05, 0.08, 0.05), bw=(1.5, 2, 3), latency=2,
                     word_bytes=2)
    m, n, k = 13, 18, 11
    res = one(arch, m, n, k)
    big = at.write_gemm_traces(arch, m, n, k, tmp_path / "a")
    monkeypatch.setattr(at, "CHUNK_ROWS", 7)          # chunking changes nothing
    small = at.write_gemm_traces(arch, m, n, k, tmp_path / "b")
    for key in big:
        assert Path(big[key]).read_text() == Path(small[key]).read_text(), key
    comp = int(compute_cycles(df, m, n, k, 4, 8))
    rows_ofmap = _read(big[("ofmap", "SRAM")])
    assert len(rows_ofmap) == comp                     # stalls shift stamps, add no rows
    assert rows_ofmap[-1][0] == comp - 1 + res["stall_cycles"]   # SCALE-Sim's relation
    counts = sram_counts(df, m, n, k, 4, 8)
    for i, op in enumerate(("ifmap", "filter", "ofmap")):
        used = sum(x >= 0 for row in _read(big[(op, "SRAM")]) for x in row[1:])
        assert used == counts[i], op
        words = sum(x >= 0 for row in _read(big[(op, "DRAM")]) for x in row[1:])
        key = {"ifmap": "dram_ifmap_read_bytes", "filter": "dram_filter_read_bytes",
               "ofmap": "dram_ofmap_write_bytes"}[op]
        assert words * 2 == res[key], op
    fill_rows = [r for r in _read(big[("ifmap", "DRAM")]) if r[0] < 0]
    assert fill_rows and min(r[0] for r in fill_rows) == -res["fill_cycles"]


def test_write_traces_for_lowered_ops(tmp_path):
    from dataclasses import replace

    from sim.engine.address_trace import write_traces

    ops = lower(model_trace("deit_t"))
    keep = np.flatnonzero(ops.is_gemm)[:2]
    sub = replace(ops, layer=ops.layer[keep], op=tuple(ops.op[i] for i in keep),
                  kind=tuple(ops.kind[i] for i in keep), vop=tuple(ops.vop[i] for i in keep),
                  m=ops.m[keep], n=ops.n[keep], k=ops.k[keep], count=ops.count[keep],
                  elements=ops.elements[keep])
    arch = load_arch("scalesim_32x32")
    out = write_traces(arch, sub, tmp_path)
    assert len(out) == 2
    for paths in out.values():
        assert len(paths) == 6 and all(Path(p).stat().st_size > 0 for p in paths.values())


# ---- SCALE-Sim 3.0.0, USER mode ------------------------------------------------------
# (dataflow, m, n, k, rows, cols, sram_kb, words/cycle) -> SCALE-Sim's (Total Cycles incl.
# prefetch, DRAM ifmap reads, DRAM filter reads), measured with scalesim 3.0.0 by
# `PYTHONPATH=. python bench/bench_memory.py --compare` (the same 96 cases); the 18 cases
# of tests/data/scalesim_user.json are added below.
SCALESIM_USER_EXTRA = {
    ('os', 40, 8, 96, 8, 8, (2, 2, 1), (2, 2, 2)): (4664, 8192, 768),
    ('os', 64, 16, 100, 8, 16, (2, 1, 1), (4, 4, 4)): (3527, 7168, 12800),
    ('os', 100, 8, 64, 8, 8, (2, 1, 1), (1, 1, 1)): (13742, 13312, 512),
    ('os', 197, 16, 64, 16, 16, (4, 2, 1), (8, 8, 8)): (3519, 26624, 1024),
    ('os', 8, 64, 200, 8, 8, (1, 2, 1), (2, 2, 2)): (7006, 12800, 13312),
    ('os', 16, 96, 128, 16, 8, (1, 2, 1), (4, 4, 4)): (6501, 24576, 24576),
    ('os', 60, 30, 50, 8, 8, (1, 1, 1), (2, 2, 2)): (18369, 17920, 35840),
    ('os', 128, 32, 32, 16, 16, (2, 1, 1), (4, 4, 4)): (8603, 32768, 16384),
    ('ws', 64, 64, 64, 8, 8, (8, 1, 1), (4, 4, 4)): (13142, 4096, 45056),
    ('ws', 100, 32, 40, 8, 8, (4, 1, 2), (2, 2, 2)): (9972, 18432, 5120),
    ('ws', 197, 32, 64, 16, 16, (8, 1, 4), (8, 8, 8)): (4150, 28672, 8192),
    ('ws', 50, 64, 32, 8, 8, (2, 1, 1), (1, 1, 1)): (23597, 22528, 8192),
    ('ws', 80, 48, 48, 16, 8, (4, 1, 1), (4, 4, 4)): (6993, 26624, 18432),
    ('ws', 120, 16, 96, 8, 16, (1, 1, 2), (8, 8, 8)): (6148, 46080, 4608),
    ('ws', 64, 40, 24, 8, 8, (1, 1, 1), (2, 2, 2)): (5810, 10752, 1024),
    ('ws', 150, 24, 32, 8, 8, (2, 1, 2), (2, 4, 2)): (10547, 19456, 1024),
    ('is', 64, 64, 64, 8, 8, (1, 8, 1), (4, 4, 4)): (13142, 45056, 4096),
    ('is', 32, 100, 40, 8, 8, (1, 4, 2), (2, 2, 2)): (9972, 5120, 18432),
    ('is', 32, 197, 64, 16, 16, (1, 8, 4), (8, 8, 8)): (4150, 8192, 28672),
    ('is', 64, 50, 32, 8, 8, (1, 2, 1), (1, 1, 1)): (23597, 8192, 22528),
    ('is', 48, 80, 48, 8, 16, (1, 4, 1), (4, 4, 4)): (6411, 18432, 14336),
    ('is', 16, 120, 96, 16, 8, (1, 1, 2), (8, 8, 8)): (14633, 4608, 114176),
    ('is', 40, 64, 24, 8, 8, (1, 1, 1), (2, 2, 2)): (5810, 1024, 10752),
    ('is', 24, 150, 32, 8, 8, (1, 2, 2), (4, 2, 2)): (10547, 1024, 19456),
    ('os', 104, 51, 27, 4, 4, (2, 1, 2), (1, 1, 8)): (37802, 36864, 9728),
    ('os', 70, 61, 13, 4, 4, (2, 1, 2), (1, 1, 8)): (6429, 936, 1024),
    ('os', 93, 17, 105, 4, 4, (2, 1, 2), (1, 1, 8)): (89127, 88064, 48128),
    ('os', 79, 81, 109, 4, 4, (2, 1, 2), (1, 1, 8)): (336175, 189440, 332800),
    ('os', 120, 112, 48, 4, 4, (2, 1, 2), (1, 1, 8)): (179263, 178176, 90624),
    ('os', 51, 96, 52, 4, 4, (2, 1, 2), (1, 1, 8)): (135445, 82944, 133632),
    ('os', 84, 71, 82, 4, 8, (1, 2, 1), (2, 1, 2)): (95343, 75264, 93184),
    ('os', 110, 66, 16, 4, 8, (1, 2, 1), (2, 1, 2)): (14339, 26624, 2048),
    ('os', 115, 19, 42, 4, 8, (1, 2, 1), (2, 1, 2)): (25249, 48128, 1008),
    ('os', 68, 97, 93, 4, 8, (1, 2, 1), (2, 1, 2)): (327721, 125440, 323584),
    ('os', 16, 15, 101, 4, 8, (1, 2, 1), (2, 1, 2)): (2794, 3584, 2048),
    ('os', 97, 47, 90, 4, 8, (1, 2, 1), (2, 1, 2)): (63002, 78336, 59392),
    ('os', 81, 95, 113, 8, 4, (2, 2, 1), (2, 1, 8)): (206228, 319488, 203776),
    ('os', 65, 44, 99, 8, 4, (2, 2, 1), (2, 1, 8)): (59008, 115712, 26624),
    ('os', 57, 93, 52, 8, 4, (2, 2, 1), (2, 1, 8)): (69138, 104448, 67584),
    ('os', 10, 67, 53, 8, 4, (2, 2, 1), (2, 1, 8)): (22693, 848, 21504),
    ('os', 29, 86, 22, 8, 4, (2, 2, 1), (2, 1, 8)): (3895, 704, 2048),
    ('os', 71, 15, 35, 8, 4, (2, 2, 1), (2, 1, 8)): (5641, 10240, 560),
    ('os', 106, 44, 24, 8, 8, (2, 1, 1), (2, 1, 8)): (12065, 23552, 10752),
    ('os', 102, 39, 58, 8, 8, (2, 1, 1), (2, 1, 8)): (88697, 82944, 87552),
    ('os', 58, 119, 71, 8, 8, (2, 1, 1), (2, 1, 8)): (948994, 82944, 946688),
    ('os', 18, 29, 65, 8, 8, (2, 1, 1), (2, 1, 8)): (17344, 26624, 16896),
    ('os', 59, 78, 43, 8, 8, (2, 1, 1), (2, 1, 8)): (134094, 30720, 133120),
    ('os', 25, 112, 63, 8, 8, (2, 1, 1), (2, 1, 8)): (309303, 39936, 308224),
    ('ws', 118, 78, 43, 4, 4, (4, 2, 1), (2, 1, 8)): (54639, 108544, 17408),
    ('ws', 98, 61, 53, 4, 4, (4, 2, 1), (2, 1, 8)): (45379, 90112, 13312),
    ('ws', 95, 56, 37, 4, 4, (4, 2, 1), (2, 1, 8)): (35389, 69632, 7168),
    ('ws', 27, 18, 30, 4, 4, (4, 2, 1), (2, 1, 8)): (2117, 864, 600),
    ('ws', 27, 37, 92, 4, 4, (4, 2, 1), (2, 1, 8)): (53783, 106496, 17408),
    ('ws', 37, 9, 70, 4, 4, (4, 2, 1), (2, 1, 8)): (12755, 24576, 840),
    ('ws', 114, 83, 31, 4, 8, (1, 2, 2), (2, 1, 8)): (24103, 46080, 13312),
    ('ws', 41, 44, 8, 4, 8, (1, 2, 2), (2, 1, 8)): (1110, 328, 384),
    ('ws', 26, 61, 76, 4, 8, (1, 2, 2), (2, 1, 8)): (42263, 19968, 41984),
    ('ws', 55, 86, 80, 4, 8, (1, 2, 2), (2, 1, 8)): (49597, 65536, 48128),
    ('ws', 48, 24, 96, 4, 8, (1, 2, 2), (2, 1, 8)): (17273, 32256, 7168),
    ('ws', 117, 73, 87, 4, 8, (1, 2, 2), (2, 1, 8)): (71985, 141312, 51200),
    ('ws', 91, 94, 102, 8, 4, (2, 4, 1), (1, 2, 4)): (427253, 425984, 124928),
    ('ws', 14, 66, 119, 8, 4, (2, 4, 1), (1, 2, 4)): (76351, 45056, 149504),
    ('ws', 107, 119, 95, 8, 4, (2, 4, 1), (1, 2, 4)): (478510, 477184, 124928),
    ('ws', 110, 79, 58, 8, 4, (2, 4, 1), (1, 2, 4)): (192033, 191488, 10240),
    ('ws', 58, 59, 58, 8, 4, (2, 4, 1), (1, 2, 4)): (71183, 70656, 4096),
    ('ws', 21, 69, 89, 8, 4, (2, 4, 1), (1, 2, 4)): (41894, 40960, 24576),
    ('ws', 59, 15, 32, 8, 8, (1, 4, 1), (1, 2, 4)): (4659, 4096, 512),
    ('ws', 16, 34, 64, 8, 8, (1, 4, 1), (1, 2, 4)): (11355, 10240, 4096),
    ('ws', 28, 22, 51, 8, 8, (1, 4, 1), (1, 2, 4)): (7930, 7168, 1224),
    ('ws', 84, 14, 21, 8, 8, (1, 4, 1), (1, 2, 4)): (5804, 5632, 336),
    ('ws', 8, 80, 27, 8, 8, (1, 4, 1), (1, 2, 4)): (2351, 256, 4096),
    ('ws', 76, 20, 54, 8, 8, (1, 4, 1), (1, 2, 4)): (21255, 20480, 1296),
    ('is', 86, 11, 17, 4, 4, (4, 4, 2), (4, 8, 8)): (2763, 1496, 224),
    ('is', 119, 34, 86, 4, 4, (4, 4, 2), (4, 8, 8)): (29670, 51200, 198656),
    ('is', 56, 27, 89, 4, 4, (4, 4, 2), (4, 8, 8)): (23124, 20480, 180224),
    ('is', 40, 52, 85, 4, 4, (4, 4, 2), (4, 8, 8)): (14239, 4096, 49152),
    ('is', 54, 68, 23, 4, 4, (4, 4, 2), (4, 8, 8)): (6939, 1288, 1632),
    ('is', 22, 116, 70, 4, 4, (4, 4, 2), (4, 8, 8)): (14137, 1680, 49152),
    ('is', 67, 69, 69, 4, 8, (2, 2, 2), (2, 2, 8)): (22156, 41984, 43008),
    ('is', 47, 18, 26, 4, 8, (2, 2, 2), (2, 2, 8)): (1956, 2048, 504),
    ('is', 21, 103, 51, 4, 8, (2, 2, 2), (2, 2, 8)): (11177, 2048, 21504),
    ('is', 102, 41, 69, 4, 8, (2, 2, 2), (2, 2, 8)): (98998, 196608, 39936),
    ('is', 114, 96, 28, 4, 8, (2, 2, 2), (2, 2, 8)): (20961, 13312, 40960),
    ('is', 74, 10, 34, 4, 8, (2, 2, 2), (2, 2, 8)): (5814, 10240, 360),
    ('is', 75, 54, 26, 8, 4, (1, 1, 2), (8, 4, 8)): (9464, 29184, 36352),
    ('is', 96, 77, 11, 8, 4, (1, 1, 2), (8, 4, 8)): (7947, 3584, 30720),
    ('is', 105, 75, 46, 8, 4, (1, 1, 2), (8, 4, 8)): (44084, 72192, 174592),
    ('is', 90, 118, 19, 8, 4, (1, 1, 2), (8, 4, 8)): (17070, 8704, 67072),
    ('is', 97, 116, 41, 8, 4, (1, 1, 2), (8, 4, 8)): (51416, 79360, 203264),
    ('is', 74, 54, 29, 8, 4, (1, 1, 2), (8, 4, 8)): (9215, 8704, 35840),
    ('is', 53, 106, 36, 8, 8, (2, 2, 1), (1, 8, 2)): (14937, 2048, 30720),
    ('is', 76, 77, 107, 8, 8, (2, 2, 1), (1, 8, 2)): (699570, 697344, 123904),
    ('is', 72, 50, 89, 8, 8, (2, 2, 1), (1, 8, 2)): (48045, 45056, 58368),
    ('is', 36, 86, 111, 8, 8, (2, 2, 1), (1, 8, 2)): (121180, 119808, 66560),
    ('is', 108, 105, 117, 8, 8, (2, 2, 1), (1, 8, 2)): (219944, 214016, 318464),
    ('is', 32, 111, 38, 8, 8, (2, 2, 1), (1, 8, 2)): (9745, 2048, 17408),
}


def _scalesim_user_rows():
    """(case, ours total, SCALE-Sim total incl. prefetch, DRAM-time ratio theirs/ours)."""
    sys.path.insert(0, str(HERE.parent / "bench"))
    from bench_memory import ours

    table = dict(SCALESIM_USER_EXTRA)
    for r in json.loads((DATA / "scalesim_user.json").read_text())["records"]:
        case = (r["dataflow"], r["m"], r["n"], r["k"], r["rows"], r["cols"],
                tuple(r["sram_kb"]), tuple(r["bandwidth_words"]))
        table[case] = (r["total_cycles_incl_prefetch"], r["dram_ifmap_reads"],
                       r["dram_filter_reads"])
    rows = []
    for case, (theirs, dram_i, dram_f) in table.items():
        o = ours(*case)
        bw = case[7]
        t_theirs = max(dram_i / bw[0], dram_f / bw[1])
        t_ours = max(o["dram_ifmap_read_bytes"] / bw[0], o["dram_filter_read_bytes"] / bw[1])
        rows.append((case, o["total_cycles"], theirs, t_theirs / t_ours))
    return rows


def test_scalesim_user_mode_within_10pct_on_15_gemms_of_every_dataflow():
    rows = _scalesim_user_rows()
    assert len(rows) >= 110
    close = [case for case, o, t, _ in rows if abs(o / t - 1) <= 0.10]
    assert len(close) >= 15
    assert {case[0] for case in close} == {"os", "ws", "is"}
    assert sum(case[0] == "ws" for case in close) >= 4


def test_scalesim_differences_are_its_extra_traffic():
    rows = _scalesim_user_rows()
    # SCALE-Sim's quirks only add work: we are never more than 2% slower than it
    assert all(o <= 1.02 * t for _, o, t, _ in rows)
    # where both move the same input data (DRAM time within 15%), cycles mostly agree
    same = [(o / t - 1) for _, o, t, ratio in rows if abs(ratio - 1) <= 0.15]
    assert len(same) >= 20
    assert sum(abs(e) <= 0.10 for e in same) >= 0.7 * len(same)
    assert float(np.median(np.abs(same))) <= 0.07
    # every case more than 25% off is one where SCALE-Sim re-reads inputs (quirk Q1) or
    # writes every partial sum (Q4): its input DRAM time exceeds ours by > 30%, or ws/is
    for case, o, t, ratio in rows:
        if o < 0.75 * t:
            assert ratio > 1.3 or case[0] != "os", case


DEIT_S_GEMMS = [("QKV", 197, 1152, 384, 1), ("QKT", 197, 197, 64, 6), ("SV", 197, 64, 197, 6),
                ("PROJ", 197, 384, 384, 1), ("FC1", 197, 1536, 384, 1),
                ("FC2", 197, 384, 1536, 1)]
#: SCALE-Sim 3.0.0 USER, DeiT-S layer, 32x32, 256/256/128 kB, 32 words/cycle: Total Cycles
#: (docs/references.md#scale-sim-deit-measurements), used where the golden file lacks a dataflow.
SCALESIM_DEIT_S_USER = {"os": 542_680, "ws": 558_678, "is": 904_132}


def _deit_s_layer(df, words_per_cycle):
    arch = make_arch(df, 32, 32, kib=(256, 256, 128), bw=(words_per_cycle,) * 3, latency=1)
    m, n, k, cnt = (np.array([g[i] for g in DEIT_S_GEMMS]) for i in range(1, 5))
    r = memory_for_gemms(arch, m, n, k)
    comp = compute_cycles(df, m, n, k, 32, 32)
    tot = comp + r["stall_cycles"] + r["fill_cycles"] + r["drain_cycles"]
    return {"total": int((tot * cnt).sum()), "stall": int((r["stall_cycles"] * cnt).sum()),
            "dram": int(((r["dram_ifmap_read_bytes"] + r["dram_filter_read_bytes"]) * cnt).sum()),
            "peak": r["dram_peak_bytes_per_cycle"]}


def test_deit_s_layer_dataflow_ranking_against_scalesim():
    golden = json.loads((DATA / "scalesim_deit_s_layer.json").read_text())["layer_totals"]
    theirs = {df: golden.get(f"USER_{df}", {}).get("total_cycles", SCALESIM_DEIT_S_USER[df])
              for df in ("os", "ws", "is")}
    assert sorted(theirs, key=theirs.get) == ["os", "ws", "is"]
    at32 = {df: _deit_s_layer(df, 32) for df in theirs}
    # same winner; IS moves by far the most input data (B re-read once per column fold)
    assert min(at32, key=lambda d: at32[d]["total"]) == "os"
    assert at32["is"]["dram"] > 2 * max(at32["os"]["dram"], at32["ws"]["dram"])
    # at 32 words/cycle IS just keeps up (it needs ~30 B/cycle of filter); SCALE-Sim's IS
    # stalls come from re-reading B twice per column fold (quirk Q1, docs/memory.md)
    assert at32["is"]["stall"] == 0 and max(at32["is"]["peak"]) < 40
    # below that need, our model gives SCALE-Sim's ranking, IS losing > 30% to stalls
    at16 = {df: _deit_s_layer(df, 16) for df in theirs}
    assert sorted(at16, key=lambda d: at16[d]["total"]) == ["os", "ws", "is"]
    assert at16["is"]["stall"] > 0.3 * at16["is"]["total"]
