"""The streamed sweep path: the same rows as the per-point path, resumable by point,
Dask-partitioned, and never materialising a large space."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from sim.errors import ConfigError
from sim.search.simulator import simulate_summary
from sim.search.sweep import Space, Uniform, load_results, sweep

AXES = {"array.rows": [8, 16, 64, 128], "array.dataflow": ["os", "ws"],
        "clock_mhz": Uniform(100, 300), "memory.ifmap_kib": Uniform(16, 512, log=True)}
TRACES = ["deit_s", "workloads/deit_s_topk3.yaml"]


@pytest.fixture
def always_stream(monkeypatch):
    # (sim.search.sweep the attribute is the function: import the module by name)
    stream = importlib.import_module("sim.search.sweep.stream")
    monkeypatch.setattr(stream, "STREAM_MIN_ROWS", 0)


def _slow(arch, trace):
    return simulate_summary(arch, trace, mode="analytic")


def _by_point(df, keys):
    return df.sort_values([*keys, "trace"], kind="stable").reset_index(drop=True)


def test_streamed_rows_equal_the_per_point_path(always_stream, tmp_path):
    space = Space.random(AXES, n=60, seed=3)
    fast = sweep("zcu102", TRACES, space, executor="inline", mode="analytic",
                 out=tmp_path / "s.parquet", batch_size=16)
    assert fast.attrs["sweep"]["streamed"]
    full = _by_point(load_results(tmp_path / "s.parquet"), space.keys)
    slow = _by_point(sweep("zcu102", TRACES, space, executor="inline", mode="analytic",
                           evaluate=_slow), space.keys)
    assert len(full) == len(slow) == 120 and (~slow["feasible"]).sum() > 0
    assert full["status"].tolist() == slow["status"].tolist()
    assert full["reason"].fillna("").tolist() == slow["reason"].fillna("").tolist()
    summary = [c for c in slow.columns if c not in ("key", "arch_hash", "reason")]
    for col in summary:
        a, b = full[col], slow[col]
        if b.dtype.kind == "f" or a.dtype.kind == "f":
            np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-12,
                                       err_msg=col)
        else:
            assert a.tolist() == b.tolist(), col
    # the returned frame is the slim view of the same rows
    assert set(fast["key"]) == set(full["key"]) and "latency_s" in fast


def test_resume_is_keyed_by_the_point(always_stream, tmp_path):
    out = tmp_path / "r.parquet"
    first = sweep("edge_16x16", ["deit_s"], Space.random(AXES, n=300, seed=1),
                  executor="inline", mode="analytic", out=out, batch_size=64)
    assert first.attrs["sweep"]["evaluated"] == 300
    # the first 300 points of n=700 are the same points: only 400 are new
    more = sweep("edge_16x16", ["deit_s"], Space.random(AXES, n=700, seed=1),
                 executor="inline", mode="analytic", out=out, batch_size=64)
    assert more.attrs["sweep"]["evaluated"] == 400 and len(more) == 700
    again = sweep("edge_16x16", ["deit_s"], Space.random(AXES, n=700, seed=1),
                  executor="inline", mode="analytic", out=out)
    assert again.attrs["sweep"]["evaluated"] == 0 and len(again) == 700
    rows = load_results(out)
    assert len(rows) == 700 and rows["key"].is_unique


def test_batches_do_not_depend_on_batch_size():
    space = Space.random(AXES, n=200_000, seed=7)
    whole = space.columns(70_000, 70_010)
    for key in space.keys:
        got = np.concatenate([space.columns(lo, hi)[key]
                              for lo, hi in ((70_000, 70_003), (70_003, 70_010))])
        assert got.tolist() == whole[key].tolist()
    assert space.points()[:0] == [] and len(space) == 200_000


def test_a_huge_space_is_never_materialised():
    axes = {"array.rows": list(range(1, 4097)), "array.cols": list(range(1, 4097)),
            "clock_mhz": [float(c) for c in range(100, 1100)], "vector.lanes": [1, 2, 4]}
    space = Space.random(axes, n=5, seed=0)
    assert space.grid_size == 4096 * 4096 * 1000 * 3 and len(space) == 5
    assert len(space.points()) == 5
    grid = Space.grid(axes)
    assert len(grid) == 4096 * 4096 * 3000
    assert grid.columns(10**9, 10**9 + 2)["array.rows"].tolist() == [82, 82]
    with pytest.raises(ConfigError, match="more than the 100,000 the per-point path"):
        sweep("edge_16x16", ["deit_s"], grid, executor="inline", mode="analytic",
              evaluate=_slow)


def test_dask_cluster_rows_equal_local(always_stream, tmp_path):
    distributed = pytest.importorskip("distributed")
    space = Space.random(AXES, n=80, seed=5)
    sweep("zcu102", TRACES, space, executor="inline", mode="analytic",
          out=tmp_path / "l.parquet")
    local = load_results(tmp_path / "l.parquet")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = sweep("zcu102", TRACES, space, executor=cluster.scheduler_address,
                       mode="analytic", out=tmp_path / "d.parquet", batch_size=10)
    assert remote.attrs["sweep"]["streamed"]
    full = load_results(tmp_path / "d.parquet")
    a, b = _by_point(full, space.keys), _by_point(local, space.keys)
    assert len(a) == 160 and (~a["feasible"]).any()
    pd.testing.assert_frame_equal(a[b.columns], b)


def test_streamed_sweep_takes_the_store_lock_and_skips_bad_rows(always_stream, tmp_path):
    """The streamed path holds the same write lock as the per-point store, and a stored
    row that is not whole (an ok row without finite latency) is recomputed."""
    import pyarrow.parquet as pq

    from sim.search.sweep.store import ParquetStore

    out = tmp_path / "k.parquet"
    space = Space.random(AXES, n=50, seed=2)
    sweep("edge_16x16", ["deit_s"], space, executor="inline", mode="analytic", out=out)
    held = ParquetStore(out)  # another writer
    try:
        with pytest.raises(ConfigError, match="another sweep"):
            sweep("edge_16x16", ["deit_s"], space, executor="inline", mode="analytic",
                  out=out)
    finally:
        held.close()
    part = next(out.glob("part-*.parquet"))
    table = pq.read_table(part).to_pandas()
    table.loc[0, "latency_s"] = float("nan")
    part.unlink()
    table.to_parquet(part)
    again = sweep("edge_16x16", ["deit_s"], space, executor="inline", mode="analytic",
                  out=out)
    assert again.attrs["sweep"]["evaluated"] == 1 and len(again) == 50
    assert again["key"].is_unique and np.isfinite(again["latency_s"]).all()
    rows = load_results(out)
    assert len(rows) == 50 and np.isfinite(rows["latency_s"]).all()
