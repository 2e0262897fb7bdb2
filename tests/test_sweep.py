"""Sweeps: spaces, rows, infeasible points, resume after Ctrl-C / kill / worker crash,
Parquet and CSV stores, the Dask executor, Pareto fronts, figures, CLI, the example."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import need

import sim
from sim.errors import ConfigError, ResourceError, SimulationError
from sim.search.pareto import pareto_front
from sim.search.sweep import simulate_summary, sweep
from sim.search.sweep.space import Space, Uniform, parse_axis
from sim.search.sweep.store import load_results

REPO = Path(__file__).resolve().parents[1]
AXES = {("array.rows", "array.cols"): [8, 16, 32], "array.dataflow": ["os", "ws", "is"]}
TRACES = ["deit_t", "deit_s"]


def _env():
    return dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


@functools.cache
def _reference():
    """The full sweep, in process, no output file."""
    return sweep("zcu102", TRACES, Space.grid(AXES), executor="inline", mode="analytic")


def _same_rows(df, ref=None):
    """``df`` has exactly the reference rows: same keys, none duplicated, equal values."""
    ref = _reference() if ref is None else ref
    assert df["key"].is_unique
    assert sorted(df["key"]) == sorted(ref["key"])
    a = df.set_index("key").sort_index()
    b = ref.set_index("key").sort_index()
    cols = [c for c in b.columns if c in a.columns]
    assert set(b.columns) <= set(a.columns)
    pd.testing.assert_frame_equal(a[cols], b[cols], check_dtype=False)


# -- spaces ------------------------------------------------------------------------------

def test_grid_order_and_tied_axes():
    pts = Space.grid(AXES).points()
    assert len(pts) == 9
    assert pts[0] == {"array.rows": 8, "array.cols": 8, "array.dataflow": "os"}
    assert pts[-1] == {"array.rows": 32, "array.cols": 32, "array.dataflow": "is"}
    assert Space.grid(AXES).keys == ["array.rows", "array.cols", "array.dataflow"]


def test_random_space_is_seeded_and_distinct():
    axes = {"array.rows": [8, 16, 32, 64], "array.dataflow": ["os", "ws", "is"]}
    a = Space.random(axes, n=5, seed=3).points()
    assert a == Space.random(axes, n=5, seed=3).points()
    assert a != Space.random(axes, n=5, seed=4).points()
    assert len({tuple(p.items()) for p in a}) == 5  # without replacement
    assert len(Space.random(axes, n=100, seed=0).points()) == 12  # capped at the grid
    cont = Space.random({"clock_mhz": Uniform(100, 400), "array.rows": Uniform(4, 64, log=True,
                                                                               integer=True)},
                        n=50, seed=1).points()
    assert all(100 <= p["clock_mhz"] <= 400 and 4 <= p["array.rows"] <= 64 for p in cont)
    assert all(isinstance(p["array.rows"], int) for p in cont)


def test_parse_axis_and_bad_spaces():
    assert parse_axis("array.rows,array.cols=8,16") == (("array.rows", "array.cols"), [8, 16])
    assert parse_axis("array.dataflow=os,ws")[1] == ["os", "ws"]
    assert parse_axis("clock_mhz=100:300:log")[1] == Uniform(100.0, 300.0, log=True)
    assert parse_axis("array.fold_overlap=true,false")[1] == [True, False]
    for bad in ("array.rows", "=1,2", "clock_mhz=1:2:cube"):
        with pytest.raises(ConfigError):
            parse_axis(bad)
    with pytest.raises(ConfigError):
        Space.grid({"clock_mhz": Uniform(1, 2)})
    with pytest.raises(ConfigError):
        Space({"array.rows": [1], ("array.rows", "array.cols"): [2]})


# -- rows ---------------------------------------------------------------------------------

def test_rows_columns_and_objective():
    df = _reference()
    assert len(df) == 9 * 2 and df["feasible"].all() and (df["status"] == "ok").all()
    for col in ("key", "trace", "arch_hash", "trace_hash", "feasible", "reason", "array.rows",
                "array.dataflow", "cycles", "latency_s", "utilization", "macs",
                "stall_cycles"):
        assert col in df, col
    one = df[(df["array.rows"] == 16) & (df["array.dataflow"] == "ws")
             & (df["trace"] == "deit_s")].iloc[0]
    arch = sim.load_arch("zcu102", overrides={"array.rows": 16, "array.cols": 16,
                                              "array.dataflow": "ws"})
    direct = sim.simulate(arch, sim.model_trace("deit_s"), mode="analytic").summary
    assert one["cycles"] == direct["cycles"]
    assert one["arch_hash"] == sim.config.arch_hash(arch)
    best = sweep("zcu102", ["deit_t"], AXES, executor="inline", mode="analytic",
                 objective="latency_s")
    assert best["objective"].is_monotonic_increasing
    with pytest.raises(ConfigError, match="objective"):
        sweep("zcu102", ["deit_t"], AXES, executor="inline", mode="analytic",
              objective="no_such_column")


def _picky(arch, trace):
    """ResourceError for big arrays, a bug (ValueError) for the IS dataflow."""
    if arch.array.rows >= 32:
        raise ResourceError(f"DSP48E2: {arch.array.rows ** 2 // 2} used > 2520 available")
    if arch.array.dataflow == "is":
        raise ValueError("boom")
    return simulate_summary(arch, trace, mode="analytic")


def test_infeasible_points_are_rows_not_crashes(tmp_path):
    axes = dict(AXES)
    axes[("array.rows", "array.cols")] = [8, 16, 32, 0]  # 0 rows: refused before any work
    with pytest.raises(ConfigError, match=r"array.rows = 0; must be an integer in \[1, 4096\]"):
        sweep("zcu102", ["deit_t"], axes, executor="inline", evaluate=_picky)
    axes[("array.rows", "array.cols")] = [8, 16, 32, 64]  # 64x64: over the DSP budget
    out = tmp_path / "r.parquet"
    df = sweep("zcu102", ["deit_t"], axes, executor="inline", out=out, evaluate=_picky)
    assert len(df) == 12
    res = df[df["array.rows"] == 32]
    assert (~res["feasible"]).all() and (res["status"] == "infeasible").all()
    assert res["reason"].str.contains("DSP48E2").all()
    big = df[df["array.rows"] == 64]
    assert (big["status"] == "infeasible").all() and big["reason"].str.contains("DSP").all()
    err = df[(df["array.dataflow"] == "is") & (df["array.rows"] < 32) & (df["array.rows"] > 0)]
    assert (err["status"] == "error").all() and err["reason"].str.contains("boom").all()
    ok = df[df["status"] == "ok"]
    assert len(ok) == 4 and ok["feasible"].all() and ok["cycles"].notna().all()
    # a rerun retries only the error rows (a fixed bug), keeping infeasible ones
    calls = []
    again = sweep("zcu102", ["deit_t"], axes, executor="inline", out=out,
                  evaluate=functools.partial(_counting, calls))
    assert len(calls) == len(err)
    assert again.attrs["sweep"]["evaluated"] == len(err)
    assert len(load_results(out)) == 12
    assert (again.set_index("key").loc[err["key"], "status"] == "ok").all()


def _counting(calls, arch, trace):
    calls.append(1)
    return simulate_summary(arch, trace, mode="analytic")


def test_duplicate_trace_names_rejected():
    import dataclasses

    t = sim.model_trace("deit_t")
    t2 = dataclasses.replace(sim.skip_attention(t, [3]), name=t.name)
    with pytest.raises(ConfigError, match="both named"):
        sweep("zcu102", [t, t2], AXES, executor="inline", mode="analytic")


# -- resume -------------------------------------------------------------------------------

class _Stop:
    """A progress callback that raises KeyboardInterrupt (Ctrl-C) after some batches."""

    def __init__(self, after):
        self.after, self.calls = after, 0

    def __call__(self, done, total):
        self.calls += 1
        if self.calls >= self.after:
            raise KeyboardInterrupt


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_ctrl_c_then_resume(tmp_path, suffix):
    out = tmp_path / f"r{suffix}"
    with pytest.raises(KeyboardInterrupt):
        sweep("zcu102", TRACES, Space.grid(AXES), executor="inline", mode="analytic",
              out=out, batch_size=4, progress=_Stop(2))
    partial = load_results(out)
    assert len(partial) == 8  # two batches of 4 saved, nothing else
    df = sweep("zcu102", TRACES, Space.grid(AXES), executor="inline", mode="analytic",
               out=out, batch_size=4)
    assert df.attrs["sweep"]["resumed"] == 8 and df.attrs["sweep"]["evaluated"] == 10
    _same_rows(df)
    _same_rows(load_results(out))
    again = sweep("zcu102", TRACES, Space.grid(AXES), executor="inline", mode="analytic",
                  out=out)
    assert again.attrs["sweep"]["evaluated"] == 0
    _same_rows(again)


def test_csv_torn_last_line(tmp_path):
    out = tmp_path / "r.csv"
    with pytest.raises(KeyboardInterrupt):
        sweep("zcu102", TRACES, Space.grid(AXES), executor="inline", mode="analytic",
              out=out, batch_size=5, progress=_Stop(2))
    with open(out, "a") as f:
        f.write("deadbeefdeadbeef,deit_t,Tr")  # killed mid-write
    assert len(load_results(out)) == 10
    df = sweep("zcu102", TRACES, Space.grid(AXES), executor="inline", mode="analytic", out=out)
    _same_rows(df)
    _same_rows(load_results(out))


_KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from sim.search.sweep.space import Space
    from sim.search.sweep import simulate_summary, sweep

    def slow(arch, trace):
        time.sleep(0.02)
        return simulate_summary(arch, trace, mode="analytic")

    if __name__ == "__main__":
        axes = {("array.rows", "array.cols"): [8, 16, 32], "array.dataflow": ["os", "ws", "is"]}
        sweep("zcu102", ["deit_t", "deit_s"], Space.grid(axes), out=sys.argv[1],
              mode="analytic", executor="process", workers=2, batch_size=2, evaluate=slow)
""")


def test_kill_mid_sweep_then_resume(tmp_path):
    script = tmp_path / "run_sweep.py"
    script.write_text(_KILL_SCRIPT)
    out = tmp_path / "r.parquet"
    proc = subprocess.Popen([sys.executable, str(script), str(out)], env=_env(),
                            start_new_session=True, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and len(list(out.glob("part-*.parquet"))) >= 2:
            break
        time.sleep(0.005)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers, mid-way
    proc.wait(timeout=30)
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert killed, f"the sweep finished before it could be killed: {stderr}"
    n_partial = len(load_results(out))
    assert 0 < n_partial < 18
    rerun = subprocess.run([sys.executable, str(script), str(out)], env=_env(),
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    _same_rows(load_results(out))
    assert len(list(out.glob("part-*.parquet"))) == 1  # compacted
    _same_rows(pd.read_parquet(out))  # a finished directory reads with plain pandas


def _crash_on_is(arch, trace):
    if arch.array.dataflow == "is" and arch.array.rows == 16:
        os._exit(3)  # a segfault-like death of the worker process
    return simulate_summary(arch, trace, mode="analytic")


def test_worker_death_then_resume(tmp_path):
    out = tmp_path / "r.parquet"
    with pytest.raises(SimulationError, match="rerun"):
        sweep("zcu102", TRACES, Space.grid(AXES), executor="process", workers=2,
              out=out, mode="analytic", batch_size=2, evaluate=_crash_on_is)
    assert len(load_results(out)) < 18
    df = sweep("zcu102", TRACES, Space.grid(AXES), executor="process", workers=2,
               out=out, mode="analytic", batch_size=2)
    _same_rows(df)
    _same_rows(load_results(out))


def test_process_executor_matches_inline():
    df = sweep("zcu102", TRACES, Space.grid(AXES), workers=2, mode="analytic")
    _same_rows(df)
    assert list(df["key"]) == list(_reference()["key"])  # space order, not finish order


# -- Dask ---------------------------------------------------------------------------------

def test_dask_local_cluster_matches_local(tmp_path):
    distributed = need("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        df = sweep("zcu102", TRACES, Space.grid(AXES), executor=client, mode="analytic",
                   out=tmp_path / "d.parquet", batch_size=3)
        _same_rows(df)
        _same_rows(load_results(tmp_path / "d.parquet"))
        again = sweep("zcu102", TRACES, Space.grid(AXES), executor=client,
                      mode="analytic", out=tmp_path / "d.parquet")
        assert again.attrs["sweep"]["evaluated"] == 0
        # a scheduler address (what --scheduler tcp://host:port passes) works the same
        by_address = sweep("zcu102", TRACES, Space.grid(AXES), mode="analytic",
                           executor=cluster.scheduler_address)
        _same_rows(by_address)


# -- Pareto -------------------------------------------------------------------------------

def _brute_front(pts):
    n = len(pts)
    return np.array([not any(np.all(pts[j] <= pts[i]) and np.any(pts[j] < pts[i])
                             for j in range(n) if j != i) for i in range(n)])


def test_pareto_front_matches_brute_force(rng):
    for _ in range(20):
        n, d = int(rng.integers(1, 40)), int(rng.integers(1, 4))
        pts = rng.integers(0, 6, (n, d)).astype(float)  # many ties
        df = pd.DataFrame(pts, columns=[f"c{i}" for i in range(d)])
        assert (pareto_front(df, list(df.columns)) == _brute_front(pts)).all()
    df = pd.DataFrame({"lat": [1.0, 2.0, np.nan, 0.5], "u": [0.5, 0.9, 1.0, 0.1],
                       "feasible": [True, True, True, False]})
    assert pareto_front(df, ["lat", "u"], maximize=["u"]).tolist() == [True, True, False,
                                                                         False]
    with pytest.raises(ConfigError):
        pareto_front(df, ["lat", "nope"])


# -- figures, CLI, example -----------------------------------------------------------------

def test_figures(tmp_path):
    need("matplotlib")
    from sim.plot.sweep import heatmap, pareto

    df = _reference()
    fig = heatmap(df, "array.rows", "array.dataflow", "latency_s")
    fig.savefig(tmp_path / "h.png")
    fig2 = pareto(df[df["trace"] == "deit_s"], "latency_s", "utilization")
    fig2.savefig(tmp_path / "p.png")
    assert (tmp_path / "h.png").stat().st_size > 5000
    assert (tmp_path / "p.png").stat().st_size > 5000
    import matplotlib.pyplot as plt

    plt.close("all")
    with pytest.raises(ConfigError):
        heatmap(df, "array.rows", "array.cols", "no_such")


@pytest.fixture
def cli_main(monkeypatch):
    """``sim.cli.main``, run in this process."""
    import sim.cli as cli

    return cli.main


def test_cli_sweep_resume_and_plot(tmp_path, cli_main, capsys):
    out = tmp_path / "r.parquet"
    args = ["sweep", "--arch", "zcu102", "--trace", "deit_t", "--trace", "deit_s",
            "--grid", "array.rows,array.cols=8,16,32", "--grid", "array.dataflow=os,ws,is",
            "--mode", "analytic", "--out", str(out), "--workers", "1", "--json"]
    assert cli_main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["rows"] == 18 and first["evaluated"] == 18 and first["feasible"] == 18
    assert first["best"][0]["latency_s"] == min(_reference()["latency_s"])
    assert cli_main(args) == 0
    assert json.loads(capsys.readouterr().out)["resumed"] == 18
    _same_rows(load_results(out))
    fig = tmp_path / "h.png"
    assert cli_main(["plot", "sweep", str(out), "--x", "array.rows", "--y", "array.dataflow",
                     "--z", "latency_s", "--out", str(fig)]) == 0
    assert fig.stat().st_size > 5000
    assert capsys.readouterr().out.strip() == f"wrote {fig}"
    assert cli_main(["plot", "sweep", str(out), "--pareto", "latency_s,utilization",
                     "--trace", "deit_s", "--out", str(tmp_path / "p.png"), "--json"]) == 0
    front = json.loads(capsys.readouterr().out)["front"]
    assert front and all(r["trace"] == "deit_s" for r in front)
    assert (tmp_path / "p.png").stat().st_size > 5000


def test_cli_random_and_errors(tmp_path, cli_main, capsys):
    out = tmp_path / "r.csv"
    assert cli_main(["sweep", "--arch", "zcu102", "--trace", "deit_t", "--grid",
                     "array.rows=8,16,32,64", "--range", "clock_mhz=100:300", "--random", "5",
                     "--seed", "2", "--mode", "analytic", "--out", str(out), "--workers", "1",
                     "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["rows"] == 5
    df = load_results(out)
    assert df["clock_mhz"].between(100, 300).all()
    assert cli_main(["sweep", "--arch", "zcu102", "--trace", "deit_t", "--grid",
                     "array.rows"]) == 2
    assert "array.rows" in capsys.readouterr().err
    assert cli_main(["sweep", "--arch", "zcu102", "--trace", "deit_t", "--range",
                     "clock_mhz=1:2"]) == 2
    assert "--random" in capsys.readouterr().err
    assert cli_main(["plot", "sweep", str(out), "--x", "array.rows", "--out",
                     str(tmp_path / "x.png")]) == 2
    assert "--y" in capsys.readouterr().err


def test_example_small(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "examples" / "sweep_array_sizes.py"),
                           "--small", "--out", str(tmp_path)], env=dict(_env(),
                                                                        MPLBACKEND="Agg"),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name in ("sweep_heatmap.png", "sweep_pareto.png"):
        assert (tmp_path / name).stat().st_size > 5000, name
    assert len(load_results(tmp_path / "sweep_array_sizes.parquet")) > 0
