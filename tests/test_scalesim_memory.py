"""``memory.model: scalesim``: Numba kernel == the step-by-step reference, engine dispatch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.engine.scalesim_compute import Layer
from sim.engine.scalesim_memory import fast_layer, scalesim_memory_for_gemms
from sim.engine.scalesim_memory_reference import simulate_layer
from sim.errors import ConfigError, SimulationError

DATA = Path(__file__).parent / "data"


@st.composite
def layers(draw):
    if draw(st.booleans()):
        return Layer.gemm("g", draw(st.integers(1, 40)), draw(st.integers(1, 40)),
                          draw(st.integers(1, 40)))
    h, w = draw(st.integers(1, 10)), draw(st.integers(1, 10))
    return Layer("c", h, w, draw(st.integers(1, h)), draw(st.integers(1, w)),
                 draw(st.integers(1, 3)), draw(st.integers(1, 12)), draw(st.integers(1, 3)))


@settings(max_examples=150, deadline=None)
@given(layer=layers(), df=st.sampled_from(["os", "ws", "is"]),
       rows=st.integers(1, 9), cols=st.integers(1, 9),
       sram=st.tuples(*[st.sampled_from([0.125, 0.25, 0.5, 1, 2]) for _ in range(3)]),
       bw=st.tuples(*[st.integers(1, 9) for _ in range(3)]),
       mode=st.sampled_from(["USER", "CALC"]))
def test_kernel_equals_reference(layer, df, rows, cols, sram, bw, mode):
    args = (layer, df, rows, cols, sram, mode, bw)
    assert _outcome(fast_layer, args) == _outcome(simulate_layer, args)


def _outcome(func, args):
    try:
        return func(*args)
    except SimulationError as exc:  # Total Cycles = 0: SCALE-Sim crashes, both refuse
        return str(exc)


def _user_records():
    doc = json.loads((DATA / "scalesim_user.json").read_text())
    return doc["records"]


@pytest.mark.parametrize("rec", _user_records(), ids=lambda r: r["name"])
def test_user_goldens_exact_in_engine(rec):
    """Every USER-mode GEMM golden: stalls, DRAM traffic and total cycles equal SCALE-Sim."""
    bw = rec["bandwidth_words"]
    arch = sim.load_arch("scalesim_32x32", overrides={
        "array.rows": rec["rows"], "array.cols": rec["cols"],
        "array.dataflow": rec["dataflow"], "memory.model": "scalesim",
        "memory.ifmap_kib": rec["sram_kb"][0], "memory.filter_kib": rec["sram_kb"][1],
        "memory.ofmap_kib": rec["sram_kb"][2], "memory.word_bytes": 1,
        "dram.bandwidth_gbps": None, "dram.ifmap_bytes_per_cycle": bw[0],
        "dram.filter_bytes_per_cycle": bw[1], "dram.ofmap_bytes_per_cycle": bw[2],
        "dram.latency_cycles": 1})
    m, n, k = (np.array([rec[x]]) for x in "mnk")
    mem = scalesim_memory_for_gemms(arch, m, n, k)
    assert mem["stall_cycles"][0] == rec["stall_cycles"]
    assert mem["dram_ifmap_read_bytes"][0] == rec["dram_ifmap_reads"]
    assert mem["dram_filter_read_bytes"][0] == rec["dram_filter_reads"]
    assert mem["dram_ofmap_write_bytes"][0] == rec["dram_ofmap_writes"]
    ops_total = _engine_total(arch, rec)
    compute = rec["total_cycles"] + 1 - rec["stall_cycles"]
    assert ops_total - compute - rec["stall_cycles"] - mem["fill_cycles"][0] \
        == mem["drain_cycles"][0]
    assert ops_total == rec["total_cycles_incl_prefetch"] + 1


def _engine_total(arch, rec):
    from sim.engine.simulate import simulate_ops
    from sim.workload.lower import Ops

    one = np.ones(1, dtype=np.int64)
    ops = Ops(layer=0 * one, op=("g",), kind=("gemm",), vop=("",), m=rec["m"] * one,
              n=rec["n"] * one, k=rec["k"] * one, count=one, elements=0 * one)
    return int(simulate_ops(arch, ops).ops["total_cycles"][0])


def test_ideal_is_default_and_unchanged():
    arch = sim.load_arch("scalesim_32x32")
    assert arch.memory.model == "ideal"


@pytest.mark.parametrize("override, word", [
    ({"dram.latency_cycles": 5}, "latency_cycles"),
    ({"array.fold_overlap": True}, "fold_overlap"),
    ({"dram.ifmap_bytes_per_cycle": 2.5}, "ifmap_bytes_per_cycle"),
])
def test_unsupported_arch_is_one_line_error(override, word):
    base = {"memory.model": "scalesim", "dram.bandwidth_gbps": None,
            "dram.ifmap_bytes_per_cycle": 8, "dram.filter_bytes_per_cycle": 8,
            "dram.ofmap_bytes_per_cycle": 8, "dram.latency_cycles": 1}
    base.update(override)
    arch = sim.load_arch("scalesim_32x32", overrides=base)
    with pytest.raises(ConfigError, match=word) as err:
        scalesim_memory_for_gemms(arch, [8], [8], [8])
    assert "\n" not in str(err.value)


@settings(max_examples=20, deadline=None)
@given(layer=layers(), df=st.sampled_from(["os", "ws", "is"]), rows=st.integers(2, 6),
       cols=st.integers(2, 6), mode=st.sampled_from(["USER", "CALC"]))
def test_kernel_sram_traces_equal_reference(layer, df, rows, cols, mode):
    args = (layer, df, rows, cols, (0.25, 0.25, 0.25), mode, (2, 3, 4))
    try:
        ref = simulate_layer(*args, traces=True)
    except SimulationError:
        return
    fast = fast_layer(*args, traces=True)
    for name, (served, demand) in ref["sram_traces"].items():
        assert list(fast["sram_traces"][name][0]) == list(served)
        assert (fast["sram_traces"][name][1] == demand).all()


def _extra_user_cases():
    from test_memory import SCALESIM_USER_EXTRA  # 96 SCALE-Sim USER results (bench_memory)

    return sorted(SCALESIM_USER_EXTRA.items())


@pytest.mark.parametrize("case, theirs", _extra_user_cases(), ids=str)
def test_extra_user_results_exact(case, theirs):
    """The 96 USER-mode SCALE-Sim results kept in tests/test_memory.py, reproduced exactly."""
    df, m, n, k, rows, cols, sram, bw = case
    res = fast_layer(Layer.gemm("g", m, n, k), df, rows, cols, sram, "USER", bw)
    # (Total Cycles incl. prefetch, DRAM ifmap reads, DRAM filter reads)
    assert (res["compute"][0], res["detail"][11], res["detail"][14]) == theirs


def _deit_records():
    return json.loads((DATA / "scalesim_deit_s_layer.json").read_text())["records"]


@pytest.mark.parametrize("rec", _deit_records(),
                         ids=lambda r: f"{r['name']}-{r['dataflow']}-{r['mode']}")
def test_deit_s_layer_goldens_exact(rec):
    """DeiT-S layer GEMMs on 32x32 (CALC and USER, all dataflows): every report value."""
    res = fast_layer(Layer.gemm(rec["name"], rec["m"], rec["n"], rec["k"]), rec["dataflow"],
                     rec["rows"], rec["cols"], rec["sram_kb"], rec["mode"],
                     rec["bandwidth_words"])
    keys = ("total_cycles_incl_prefetch", "total_cycles", "stall_cycles",
            "dram_ifmap_reads", "dram_filter_reads", "dram_ofmap_writes",
            "dram_ofmap_stop_cycle", "sram_ofmap_writes")
    ours = dict(zip(keys, [res["compute"][0], res["compute"][1], res["compute"][2],
                           res["detail"][11], res["detail"][14], res["detail"][17],
                           res["detail"][16], res["detail"][8]]))
    assert ours == {key: rec[key] for key in keys}
    assert res["compute"][3] == pytest.approx(rec["overall_util_pct"], rel=1e-9)
