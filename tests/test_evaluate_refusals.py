"""The batched evaluator refuses exactly the runs simulate() refuses, never wraps int64.

simulate() raises SimulationError when a run's counts could pass 2^63 - 1 and, in cycle
mode, when a GEMM has more folds than the memory walk takes.  sim.search.evaluate must
give those points ``feasible=False`` with the same text, and every other row must equal
simulate().summary.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import same_value

import sim
from sim.engine.memory import MAX_WALK_FOLDS, fold_refusals, memory_for_points, memory_params
from sim.engine.simulate import bound_terms, int64_refusals
from sim.errors import SimulationError, VitsimError
from sim.search.evaluate import evaluate
from sim.workload import lower


def _point(pts, i):
    return {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in pts.items()}




def check_outcomes(arch, trace, pts, mode):
    """Row by row: a refusal of simulate() <-> an infeasible row with the same reason."""
    df = evaluate(arch, trace, pts, mode=mode)
    outcomes = []
    for i in range(len(df)):
        row = df.iloc[i]
        try:
            summary = sim.simulate(sim.load_arch(arch, overrides=_point(pts, i)), trace,
                                   mode=mode).summary
        except VitsimError as exc:
            assert not row["feasible"], (i, str(exc))
            assert row["reason"] == str(exc)
            assert pd.isna(row.get("cycles", np.nan))
            outcomes.append(type(exc).__name__)
            continue
        assert row["feasible"], (i, row["reason"])
        bad = [(k, v, row[k]) for k, v in summary.items() if not same_value(v, row[k])]
        assert not bad, (i, bad[:5])
        outcomes.append("ok")
    return outcomes


def _edges(*rc):
    return {"array.rows": np.array([r for r, _ in rc]), "array.cols": np.array([c for _, c in rc])}


def test_huge_batch_is_refused_in_every_row():
    trace = sim.with_batch(sim.model_trace("deit_s"), 10**10)
    pts = _edges((1, 1), (16, 16), (64, 64))
    got = check_outcomes("edge_16x16", trace, pts, "analytic")
    assert got == ["SimulationError"] * 3


def test_refusal_depends_on_the_design():
    """At batch 2e9 the bound passes 2^63 only for slow vector units: rows differ."""
    trace = sim.with_batch(sim.model_trace("deit_s"), 2 * 10**9)
    pts = {**_edges((1, 1), (64, 64), (64, 64)), "vector.lanes": np.array([1, 1, 64]),
           "vector.cost.softmax": np.array([8.0, 1.0, 1.0])}
    got = check_outcomes("edge_16x16", trace, pts, "analytic")
    assert got == ["SimulationError", "SimulationError", "ok"]


def test_cycle_mode_refuses_slow_dram_and_too_many_folds():
    trace = sim.with_batch(sim.model_trace("deit_s"), 20000)
    none = np.array([None] * 4, dtype=object)
    pts = {**_edges((1, 1), (64, 64), (64, 64), (64, 64)),
           "clock_mhz": np.array([200.0, 200.0, 10000.0, 10000.0]),
           "dram.bandwidth_gbps": np.array([10.0, 10.0, 1e-6, 1e-3], dtype=object),
           "dram.ifmap_bytes_per_cycle": none, "dram.filter_bytes_per_cycle": none,
           "dram.ofmap_bytes_per_cycle": none}
    got = check_outcomes("edge_16x16", trace, pts, "cycle")
    assert got == ["SimulationError", "ok", "SimulationError", "ok"]
    df = evaluate("edge_16x16", trace, pts, mode="cycle")
    assert "folds on the 1x1 array" in df.loc[0, "reason"]
    assert "2^63 - 1" in df.loc[2, "reason"] and "--mode analytic" in df.loc[2, "reason"]


def test_int64_refusals_match_the_engine_per_design(rng):
    """The vectorised bound refuses exactly where simulate_ops' own check raises."""
    trace = sim.with_batch(sim.model_trace("deit_s"), 2 * 10**9)
    ops = lower(trace)
    arches = []
    for _ in range(12):
        arches.append(sim.load_arch("edge_16x16", {
            "array.rows": int(rng.choice([1, 2, 64])), "array.cols": int(rng.choice([1, 64])),
            "vector.lanes": int(rng.choice([1, 2, 64])),
            "vector.cost.softmax": float(rng.uniform(0, 8))}))
    terms = [bound_terms(a, "analytic") for a in arches]
    cols = {k: (terms[0][k] if k == "dataflow" else np.array([t[k] for t in terms]))
            for k in terms[0]}
    got = int64_refusals("edge_16x16", ops, cols, "analytic")
    want = []
    for a in arches:
        try:
            sim.engine.simulate.simulate_ops(a, ops, "analytic")
            want.append("")
        except SimulationError as exc:
            want.append(str(exc))
    assert got.tolist() == want
    assert "" in want and any(want)


def test_fold_refusals_and_memory_for_points():
    a = sim.load_arch("edge_16x16", {"array.rows": 8, "array.cols": 8})
    m, n, k = np.array([64, 10**5]), np.array([64, 10**5]), np.array([64, 8])
    why = fold_refusals("os", np.array([8, 1024]), np.array([8, 1024]), m, n, k)
    assert why[0].startswith("GEMM (M, N, K) = (100000, 100000, 8) has 156,250,000 folds")
    assert why[1] == ""
    with pytest.raises(SimulationError, match=f"walks at most {MAX_WALK_FOLDS:,}"):
        memory_for_points(memory_params(a)[None, :], m, n, k)
    out = memory_for_points(np.stack([memory_params(a)] * 2), m[:1], n[:1], k[:1])
    one = sim.engine.memory.memory_for_gemms(a, m[:1], n[:1], k[:1])
    assert out.shape == (2, 1, 6)
    assert out[1, 0].tolist() == [int(one[key][0]) for key in sim.engine.memory.MEMORY_KEYS]


def test_utilization_of_a_huge_array_does_not_wrap():
    """cycles x PEs passes 2^63 here while every count fits: ratios are computed in
    floats (engine and evaluator)."""
    arch = sim.load_arch("edge_16x16", {"array.rows": 4096, "array.cols": 4096})
    g = sim.simulate_gemm(arch, 4 * 10**7, 4 * 10**7, 1, mode="analytic")
    assert int(g.compute_cycles) * 4096**2 > 2**63
    want = int(g.macs) / (int(g.compute_cycles) * 4096**2)
    assert math.isclose(g.utilization, want, rel_tol=1e-12)
    big = sim.with_batch(sim.model_trace("deit_s"), 10**8)
    df = evaluate("edge_16x16", big, {"array.rows": [4096], "array.cols": [4096]})
    report = sim.simulate(arch, big, mode="analytic").summary
    assert math.isclose(df.loc[0, "utilization"], report["utilization"], rel_tol=1e-12)
    assert 0 < report["utilization"] <= 1


def test_a_trace_too_large_to_lower_makes_rows_infeasible():
    """Batch 10**17 overflows the trace's own sizes: simulate() raises TraceError after
    the design resolves, so over-budget points keep their fit reason."""
    pts = {"array.rows": np.array([16, 128]),
           "trace.batch": np.array([10**17, 10**17], dtype=object)}
    df = evaluate("zcu102", "deit_s", pts)
    assert not df["feasible"].any()
    assert "exceeds 2^63 - 1" in df.loc[0, "reason"]
    assert "does not fit" in df.loc[1, "reason"]
    big = sim.with_batch(sim.model_trace("deit_s"), 10**17)
    got = check_outcomes("zcu102", big, {"array.rows": np.array([16, 128])}, "analytic")
    assert got == ["TraceError", "ResourceError"]


def test_scalesim_memory_model_rows_equal_simulate(rng):
    """memory.model: scalesim runs SCALE-Sim's memory system in cycle mode: evaluate uses
    the engine's own function per design, and refuses what it refuses."""
    n = 8
    none = np.array([None] * n, dtype=object)
    words = rng.integers(1, 9, n)
    pts = {"memory.model": np.array(["scalesim"] * (n - 2) + ["ideal"] * 2, dtype=object),
           "array.rows": rng.integers(4, 33, n), "array.cols": rng.integers(4, 33, n),
           "array.dataflow": np.array(rng.choice(["os", "ws", "is"], n), dtype=object),
           "array.fold_overlap": np.arange(n) == 3,  # refused by SCALE-Sim's model
           "memory.word_bytes": np.ones(n, dtype=np.int64),
           "dram.latency_cycles": np.where(np.arange(n) == 4, 3, 1),  # 3: refused
           "dram.bandwidth_gbps": none,
           "dram.ifmap_bytes_per_cycle": words.astype(float),
           "dram.filter_bytes_per_cycle": np.full(n, 4.0),
           "dram.ofmap_bytes_per_cycle": np.full(n, 2.0)}
    trace = sim.model_trace("deit_t")
    got = check_outcomes("edge_16x16", trace, pts, "cycle")
    assert got.count("ok") == 6 and got[3] == got[4] == "ConfigError"
    df = evaluate("edge_16x16", trace, pts, mode="cycle")
    ideal = evaluate("edge_16x16", trace, {**pts, "memory.model": np.array(
        ["ideal"] * n, dtype=object)}, mode="cycle")
    ok = df["feasible"].to_numpy() & ideal["feasible"].to_numpy()
    assert (df["stall_cycles"][ok] != ideal["stall_cycles"][ok]).any()  # a different model
