"""The batched evaluator equals sim.simulate(...).summary row by row, and rejects bad input.

Each random point is also run the slow way: ``load_arch(preset, overrides=point)`` then
``sim.simulate`` (the public contract).  Integers must be equal, floats within 1e-12
relative; a point the evaluator marks infeasible must make the loader raise.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import sim
from sim.config import list_presets, load_arch
from sim.errors import ConfigError, ResourceError
from sim.search.evaluate import POINT_KEYS, evaluate
from sim.workload import load_trace

WORKLOADS = ("deit_s", "deit_s_topk3", "lvvit_s_pivot_low", "deit_s_heads4")
_META = ("point", "feasible", "reason")


def _traces(names):
    return [load_trace(f"workloads/{n}.yaml") for n in names]


def random_points(rng, size, *, max_edge=256, cycle=False):
    """Random points over most point keys (dict of object arrays, None = key not given)."""
    def pick(seq):
        return np.array([seq[i] for i in rng.integers(0, len(seq), size)], dtype=object)

    lo = 8 if cycle else 1
    pts = {
        "array.rows": rng.integers(lo, max_edge + 1, size),
        "array.cols": rng.integers(lo, max_edge + 1, size),
        "array.dataflow": pick(["os", "ws", "is"]),
        "array.fold_overlap": rng.random(size) < 0.5,
        "clock_mhz": rng.uniform(50, 1000, size),
        "precision": pick(["int8", "int16", "fp16", "fp32"]),
        "memory.ifmap_kib": np.exp(rng.uniform(np.log(4), np.log(4096), size)),
        "memory.filter_kib": np.exp(rng.uniform(np.log(4), np.log(4096), size)),
        "memory.ofmap_kib": np.exp(rng.uniform(np.log(2), np.log(2048), size)),
        "memory.word_bytes": rng.integers(1, 5, size),
        "dram.latency_cycles": rng.integers(0, 200, size),
        "vector.lanes": rng.integers(1, 300, size),
        "vector.latency_cycles": rng.integers(0, 20, size),
        "vector.overlap": rng.random(size) < 0.5,
        "vector.cost.softmax": rng.uniform(0, 8, size),
        "vector.cost.gelu": rng.choice([0.0, 1.0, 2.5], size),
        "platform": pick(["asic", "asic", "zcu102"]),
        "energy_table.name": pick(["auto", "auto", "horowitz45", "zcu102", "pivot_sim"]),
        "energy_table.dram": pick(["auto", "auto", "lpddr4", "hbm2"]),
    }
    shared = rng.random(size) < 0.5
    gbps = rng.uniform(1, 100, size)
    pts["dram.bandwidth_gbps"] = np.array([g if s else None for g, s in zip(gbps, shared)],
                                          dtype=object)
    for buf in ("ifmap", "filter", "ofmap"):
        bw = np.where(rng.random(size) < 0.2, np.inf, rng.uniform(0.5, 64, size))
        pts[f"dram.{buf}_bytes_per_cycle"] = np.array(
            [None if s else b for b, s in zip(bw, shared)], dtype=object)
    return pts


def _row_point(pts, i):
    return {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in pts.items()}


def _same(expected, got):
    if isinstance(expected, (str, bool)) or expected is None:
        return got == expected
    if isinstance(expected, int):
        return got is not pd.NA and int(got) == expected and float(got) == expected
    return math.isclose(float(got), expected, rel_tol=1e-12, abs_tol=0.0)


def check_rows(arch, traces, pts, df, mode):
    """Every row equals simulate().summary; infeasible rows are rejected by the loader."""
    size = len(next(iter(pts.values())))
    assert len(df) == size * len(traces)
    n_feasible = 0
    for t_i, trace in enumerate(traces):
        for i in range(size):
            row = df.iloc[t_i * size + i]
            assert row["point"] == i
            point = _row_point(pts, i)
            if not row["feasible"]:
                with pytest.raises((ConfigError, ResourceError)):
                    sim.simulate(load_arch(arch, overrides=point), trace, mode=mode)
                assert row["reason"]
                continue
            n_feasible += 1
            summary = sim.simulate(load_arch(arch, overrides=point), trace, mode=mode).summary
            bad = [(k, v, row[k]) for k, v in summary.items() if not _same(v, row[k])]
            assert not bad, (i, trace.name, bad[:5])
            extra = [k for k in df.columns if k not in summary and k not in pts
                     and k not in _META and not pd.isna(row[k])]
            assert not extra, (i, extra)
    return n_feasible


def _arches():
    out = list(list_presets())
    out.append(load_arch("edge_16x16",
                         overrides={"energy_table.overrides": {"mac_int8_pj": 0.3}}))
    return out


@pytest.mark.parametrize("arch", _arches(), ids=lambda a: a if isinstance(a, str) else "ovr")
def test_analytic_rows_equal_simulate(arch, rng):
    traces = _traces(WORKLOADS[:2] if isinstance(arch, str) and arch != "zcu102"
                     else WORKLOADS)
    pts = random_points(rng, 200)
    df = evaluate(arch, traces, pts, mode="analytic")
    n = check_rows(arch, traces, pts, df, "analytic")
    assert n >= 80 * len(traces)  # most points are feasible: the test checks real rows
    assert (~df["feasible"]).any()  # and some are not, so the reasons are checked too


@pytest.mark.parametrize("arch", list_presets())
def test_cycle_rows_equal_simulate(arch, rng):
    traces = _traces(WORKLOADS[:1] if arch != "edge_16x16" else WORKLOADS[1:3])
    pts = random_points(rng, 40, max_edge=128, cycle=True)
    df = evaluate(arch, traces, pts, mode="cycle")
    assert check_rows(arch, traces, pts, df, "cycle") >= 15 * len(traces)
    assert (df["stall_cycles"].dropna() > 0).any()


def test_base_arch_only_varies_given_keys():
    trace = _traces(["deit_s"])[0]
    df = evaluate("zcu102", trace, pd.DataFrame({"array.rows": [64, 32]}))
    base = sim.simulate("zcu102", trace, mode="analytic").summary
    assert df.loc[0, "cycles"] == base["cycles"]
    assert df.loc[1, "cycles"] != base["cycles"]
    assert df["cycles"].dtype == np.int64


def test_fit_reason_names_the_resource():
    df = evaluate("zcu102", "workloads/deit_s.yaml", {"array.rows": [64, 128]})
    assert df["feasible"].tolist() == [True, False]
    assert "DSP48E2: needs" in df.loc[1, "reason"] and "ZCU102" in df.loc[1, "reason"]
    assert pd.isna(df.loc[1, "cycles"]) and df.loc[0, "cycles"] > 0
    with pytest.raises(ResourceError, match="DSP48E2: needs"):
        sim.simulate(load_arch("zcu102", overrides={"array.rows": 128}), "deit_s")


@pytest.mark.parametrize("points, match", [
    ({"array.rowz": [1]}, r"^points: array\.rowz: unknown key; allowed keys are \["),
    ({"array.rows": [4, 0, -1]},
     r"^points: array\.rows = 0; must be an integer in \[1, 4096\] \(row 1, 2 bad row"),
    ({"array.rows": [4.0, 8.0]},
     r"^points: array\.rows = 4\.0; must be an integer in \[1, 4096\], not dtype float64"),
    ({"clock_mhz": [100.0, float("nan")]},
     r"^points: clock_mhz = nan; must be a number in \[1\.0, 10000\.0\], not NaN \(row 1,"),
    ({"clock_mhz": [100.0, 1e9]}, r"^points: clock_mhz = 1000000000\.0; must be a number in"),
    ({"array.dataflow": ["os", "xs"]},
     r"^points: array\.dataflow = 'xs'; must be one of \['os', 'ws', 'is'\] \(row 1,"),
    ({"array.dataflow": np.array(["os", 3, None], dtype=object)},
     r"^points: array\.dataflow = 3; must be one of \['os', 'ws', 'is'\] \(row 1, 2 bad"),
    ({"array.fold_overlap": [1, 0]}, r"^points: array\.fold_overlap = 1; must be true or"),
    ({"vector.lanes": np.array([8, True], dtype=object)},
     r"^points: vector\.lanes = True; must be an integer in \[1, 1048576\] \(row 1,"),
    ({"dram.bandwidth_gbps": np.array([None, "fast"], dtype=object)},
     r"^points: dram\.bandwidth_gbps = 'fast'; must be a number"),
    ({"dram.bandwidth_gbps": [1.0, float("nan")]}, r"not NaN \(row 1"),
    ({"array.rows": [4, 8], "array.cols": [4]}, r"same length"),
    ({}, r"at least one column"),
])
def test_bad_points(points, match):
    with pytest.raises(ConfigError, match=match):
        evaluate("edge_16x16", "workloads/deit_s.yaml", points)


def test_public_name():
    import sim.search

    df = sim.search.evaluate("edge_16x16", "deit_s", {"vector.lanes": [16]})
    assert df.loc[0, "cycles"] == sim.simulate("edge_16x16", "deit_s",
                                               mode="analytic").summary["cycles"]


def test_empty_points_give_an_empty_frame():
    df = evaluate("edge_16x16", "deit_s", {"array.rows": np.zeros(0, dtype=np.int64)})
    assert len(df) == 0 and "feasible" in df


def test_bad_mode_and_keys_cover_schema():
    with pytest.raises(ConfigError, match="mode must be one of"):
        evaluate("edge_16x16", "workloads/deit_s.yaml", {"array.rows": [4]}, mode="fast")
    assert {"array.rows", "dram.bandwidth_gbps", "vector.cost.merge", "precision",
            "energy_table.dram"} <= set(POINT_KEYS)
    assert "name" not in POINT_KEYS


@pytest.mark.parametrize("mode", ["analytic", "cycle"])
def test_batched_trace_and_trace_list(mode, rng):
    traces = [sim.model_trace("deit_s", batch=3), *_traces(["deit_s_topk3"])]
    pts = random_points(rng, 30, max_edge=96, cycle=True)
    df = evaluate("tpu_v1_like", traces, pd.DataFrame(pts), mode=mode)
    assert df["trace"].tolist()[::30] == [t.name for t in traces]
    assert check_rows("tpu_v1_like", traces, pts, df, mode) >= 20


def _slow_summary(arch, trace, mode):
    return sim.simulate(arch, trace, mode=mode).summary


@pytest.mark.parametrize("mode", ["analytic", "cycle"])
def test_sweep_batched_path_equals_per_point_path(mode, monkeypatch):
    import functools

    import sim.search.simulator
    from sim.search.sweep import Space, sweep

    space = Space.grid({"array.rows": [16, 64, 128], "array.dataflow": ["os", "ws"],
                        "clock_mhz": [150, 200.5], "memory.ifmap_kib": [64, 700.5]})
    traces = ["deit_s", "workloads/deit_s_topk3.yaml"]
    calls = []
    real = sim.search.simulator.simulate  # count the per-point simulator calls
    monkeypatch.setattr(sim.search.simulator, "simulate",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    fast = sweep("zcu102", traces, space, executor="inline", mode=mode)
    # every feasible row came from the batched evaluator; only the infeasible points took
    # the per-point path (their simulate() raised)
    assert len(calls) == (~fast["feasible"]).sum() == 16
    slow = sweep("zcu102", traces, space, executor="inline", mode=mode,
                 evaluate=functools.partial(_slow_summary, mode=mode))
    assert list(fast.columns) == list(slow.columns)
    assert fast["feasible"].sum() == 32 and (~fast["feasible"]).sum() == 16
    for col in fast.columns:
        a, b = fast[col].tolist(), slow[col].tolist()
        if fast[col].dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, err_msg=col)
        else:
            assert a == b, col


def test_sweep_batch_with_a_key_the_evaluator_lacks_takes_the_per_point_path():
    from sim.search.sweep import Space, sweep

    assert "description" not in POINT_KEYS
    df = sweep("edge_16x16", ["deit_s"],
               Space.grid({"array.rows": [8, 16], "description": ["per-point"]}),
               executor="inline", mode="analytic", batch_size=2)
    assert df["status"].tolist() == ["ok", "ok"]
    assert df.loc[1, "cycles"] == sim.simulate("edge_16x16", "workloads/deit_s.yaml",
                                               mode="analytic").summary["cycles"]
