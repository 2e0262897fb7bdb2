"""Lowering and the closed-form engine: MAC counts, SCALE-Sim's DeiT numbers, vector unit."""

import numpy as np
import pytest

import sim
from sim.config import load_arch
from sim.engine.compute import compute_cycles
from sim.hw.dataflow import DATAFLOWS
from sim.workload import lower

# SCALE-Sim 3.0.0, CALC mode, DeiT-S/B layer at 197 tokens
# (docs/references.md#scale-sim-deit-measurements):
# Total Cycles per GEMM (QK^T and S.V for one head).
SCALESIM_DEIT = {
    ("deit_s", 32, "os"): (112391, 6173, 3625, 37463, 149855, 134231, 492728),
    ("deit_s", 32, "ws"): (125711, 4073, 4073, 41903, 167615, 167615, 551720),
    ("deit_s", 32, "is"): (104663, 4073, 7741, 40151, 136919, 160607, 513224),
    ("deit_s", 128, "os"): (11483, 1271, 901, 3827, 15311, 10739, 54392),
    ("deit_s", 128, "ws"): (15632, 1157, 1157, 5210, 20843, 20843, 76412),
    ("deit_s", 128, "is"): (9203, 1157, 1783, 4595, 11507, 18383, 61328),
    ("deit_b", 32, "os"): (418319, 6173, 3625, 139439, 557759, 526511, 1759604),
    ("deit_b", 128, "is"): (32231, 1157, 1783, 13799, 41447, 55199, 177956),
}


@pytest.mark.parametrize("key", sorted(SCALESIM_DEIT))
def test_deit_layer_matches_scalesim(key):
    model, edge, df = key
    arch = load_arch("scalesim_32x32", {"array.rows": edge, "array.cols": edge,
                                        "array.dataflow": df})
    report = sim.simulate(arch, sim.model_trace(model), mode="analytic")
    ops = report.ops[report.ops.layer == 0].set_index("op")
    *per_gemm, layer_total = SCALESIM_DEIT[key]
    heads = sim.model_trace(model).model.num_heads
    for name, expect in zip(("qkv", "qk", "sv", "proj", "fc1", "fc2"), per_gemm):
        row = ops.loc[name]
        each = row.compute_cycles // row["count"]
        assert each - 1 == expect, name
    gemms = ops[ops.kind == "gemm"]
    n_gemm_instances = 4 + 2 * heads
    assert gemms.compute_cycles.sum() - n_gemm_instances == layer_total


def test_deit_mac_counts():
    # docs/references.md#deit-mac-counts
    for name, total in (("deit_t", 1.254e9), ("deit_s", 4.599e9), ("deit_b", 17.564e9)):
        macs = sim.simulate("scalesim_32x32", sim.model_trace(name), mode="analytic").summary["macs"]
        assert abs(macs - total) / total < 1e-3
    r = sim.simulate("scalesim_32x32", sim.model_trace("deit_s"), mode="analytic")
    assert r.layers.set_index("name").loc["block0", "macs"] == 378_391_296


def test_gemm_counts_and_identical_ops():
    ops = lower(sim.model_trace("deit_s", batch=2))
    names = list(ops.op)
    qk = names.index("qk")
    assert ops.count[qk] == 12 and ops.m[qk] == 197  # h' * b per-head GEMMs, simulated once
    assert ops.m[names.index("qkv")] == 2 * 197
    assert ops.m[0] == 2 * 196 and ops.k[0] == 768  # patch embedding


def test_skipped_attention_keeps_mlp():
    ops = lower(sim.skip_attention(sim.model_trace("deit_s"), [0]))
    block0 = [o for o, layer in zip(ops.op, ops.layer) if layer == 0]
    assert block0 == ["ln2", "fc1", "gelu", "fc2", "add2"]


def test_pruning_ops_are_costed():
    base = sim.model_trace("deit_s")
    for method, expect in (("topk", {"topk_score", "topk_select", "topk_gather"}),
                           ("pomt", {"pomt_score", "pomt_select", "pomt_gather", "pomt_merge"}),
                           ("tome", {"tome_metric", "tome_sim", "tome_match", "tome_merge"})):
        ops = lower(sim.prune_tokens(base, 3, 150, method))
        layer3 = {o for o, layer in zip(ops.op, ops.layer) if layer == 3}
        assert expect <= layer3
        i = list(ops.op).index("fc1", list(ops.layer).index(3))
        assert ops.m[i] == 150  # MLP of the pruning block runs on tokens_out


def test_vector_unit_formula():
    arch = load_arch("zcu102")
    rep = sim.simulate(arch, sim.model_trace("deit_s"), mode="analytic")
    sm = rep.ops[rep.ops.op == "softmax"].iloc[0]
    v = arch.vector
    assert sm.vector_cycles == -(-6 * 197 * 197 // v.lanes) * v.cost.softmax + v.latency_cycles


def test_pivot_preset_softmax_dominates():
    # PIVOT-Sim's single softmax unit made softmax > 50% of DeiT-S cycles
    rep = sim.simulate("pivot_zcu102", sim.model_trace("deit_s"), mode="analytic")
    softmax = rep.ops[rep.ops.op == "softmax"].vector_cycles.sum()
    assert softmax == 12 * 6 * 197 * 197
    assert softmax / rep.summary["cycles"] > 0.5


def test_vector_overlap_takes_max():
    t = sim.model_trace("deit_s")
    serial = sim.simulate(load_arch("zcu102"), t, mode="analytic")
    over = sim.simulate(load_arch("zcu102", {"vector.overlap": True}), t, mode="analytic")
    lay = serial.layers
    assert over.summary["cycles"] == int(np.maximum(lay.array_cycles, lay.vector_cycles).sum())
    assert over.summary["cycles"] < serial.summary["cycles"]


@pytest.mark.parametrize("df", sorted(DATAFLOWS))
def test_fold_overlap_formula(df):
    m, n, k, r, c = 197, 384, 1536, 32, 16
    d = DATAFLOWS[df]
    folds, per_fold = d.folds(m, n, k, r, c), d.fold_cycles(m, n, k, r, c)
    t = d.dims(m, n, k)[2]
    expect = folds * max(t, d.preload_rows * r) + per_fold - t
    assert compute_cycles(df, m, n, k, r, c, fold_overlap=True) == expect
    assert expect < folds * per_fold


def test_simulate_gemm_and_summary_keys():
    g = sim.simulate_gemm("scalesim_32x32", 197, 1152, 384)
    assert g.compute_cycles - 1 == 112391 and g.stall_cycles >= 0
    assert g.total_cycles >= g.compute_cycles and g.macs == 197 * 1152 * 384
    assert 0 < g.utilization <= g.mapping_efficiency <= 1
    assert g.sram_ifmap_reads == 197 * 384 * 36 and g.sram_filter_reads == 384 * 1152 * 7
    assert g.sram_ofmap_writes == 197 * 1152
    with pytest.raises(sim.ConfigError, match="m = 0"):
        sim.simulate_gemm("scalesim_32x32", 0, 4, 4)
    with pytest.raises(sim.ConfigError, match="mode must be one of"):
        sim.simulate("scalesim_32x32", sim.model_trace("deit_t"), mode="fast")


def test_report_tables_consistent():
    r = sim.simulate("zcu102", sim.model_trace("deit_s", batch=2))
    assert r.layers.cycles.sum() == r.summary["cycles"]
    assert r.ops.macs.sum() == r.summary["macs"]
    assert list(r.layers.name[:2]) == ["embed", "block0"] and r.layers.name.iloc[-1] == "head"
    assert r.summary["latency_s"] == pytest.approx(r.summary["cycles"] / 200e6)
