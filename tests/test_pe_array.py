"""The register-level PE array proves the closed forms of sim.engine.compute.

For every dataflow, on random shapes and array sizes: the grid computes ``a @ b`` exactly
and its last output-producing cycle (+1) equals ``compute_cycles``; on real SCALE-Sim 3.0.0
output (tests/data goldens) its cycles equal SCALE-Sim's "Total Cycles" + 1 and, for os,
its output-write cycles are those of SCALE-Sim's OFMAP SRAM trace.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.compute import compute_cycles
from sim.engine.pe_array import PEArrayResult, simulate_pe_array
from sim.errors import ConfigError, SimulationError, TraceError, VitsimError
from sim.hw.dataflow import get_dataflow

DATA = Path(__file__).parent / "data"
DATAFLOWS = ("os", "ws", "is")


def _operands(seed, m, n, k, low=-1000, high=1000):
    rng = np.random.default_rng(seed)
    return rng.integers(low, high, (m, k)), rng.integers(low, high, (k, n))


def _check(a, b, rows, cols, dataflow) -> PEArrayResult:
    """Run the grid and check product, cycles and per-fold cycles against the closed form."""
    (m, k), n = a.shape, b.shape[1]
    res = simulate_pe_array(a, b, rows, cols, dataflow)
    flow = get_dataflow(dataflow)
    np.testing.assert_array_equal(res.out, a @ b)
    assert res.out.dtype == np.int64
    assert res.cycles == compute_cycles(dataflow, m, n, k, rows, cols)
    assert res.folds == flow.folds(m, n, k, rows, cols) == len(res.fold_cycles)
    assert (res.fold_cycles == flow.fold_cycles(m, n, k, rows, cols)).all()
    assert int(res.fold_cycles.sum()) == res.cycles
    # every real output was produced, none after the last cycle counted (padding PEs of a
    # partial last fold may finish after the last real output)
    assert 0 <= int(res.out_cycle.min()) <= int(res.out_cycle.max()) <= res.cycles - 1
    flow_sr, flow_sc, _ = flow.dims(m, n, k)
    if flow_sr % rows == 0 and flow_sc % cols == 0:  # no padding: the last output is real
        assert int(res.out_cycle.max()) == res.cycles - 1
    assert (res.dataflow, res.rows, res.cols) == (dataflow, rows, cols)
    return res


# -- property tests --------------------------------------------------------------------

dims = st.integers(1, 16)
edges = st.integers(1, 9)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(m=dims, n=dims, k=dims, rows=edges, cols=edges,
       dataflow=st.sampled_from(DATAFLOWS), seed=st.integers(0, 2**32 - 1))
def test_grid_matches_matmul_and_closed_form(m, n, k, rows, cols, dataflow, seed):
    a, b = _operands(seed, m, n, k)
    _check(a, b, rows, cols, dataflow)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(m=dims, n=dims, k=dims, rows=edges, cols=edges, seed=st.integers(0, 2**32 - 1))
def test_all_dataflows_agree(m, n, k, rows, cols, seed):
    """The three dataflows compute the same product, each in its own closed-form time."""
    a, b = _operands(seed, m, n, k, low=-(2**20), high=2**20)
    outs = [_check(a, b, rows, cols, df).out for df in DATAFLOWS]
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


# -- explicit shapes -------------------------------------------------------------------

EXPLICIT = [
    # (m, n, k, rows, cols)
    (1, 1, 1, 1, 1),      # 1x1 array, 1x1x1 GEMM
    (5, 7, 3, 1, 1),      # 1x1 array, many folds
    (6, 9, 4, 1, 4),      # 1 x C
    (6, 9, 4, 4, 1),      # R x 1
    (2, 3, 2, 8, 8),      # GEMM smaller than the array in every dimension
    (1, 1, 9, 4, 4),      # long stream, a single PE used
    (9, 10, 11, 4, 4),    # partial folds in both mapped dimensions
    (8, 8, 8, 4, 4),      # exact folds
    (7, 13, 5, 3, 5),     # non-square array
    (13, 7, 6, 5, 3),     # non-square, the other way
    (20, 16, 24, 8, 8),   # SCALE-Sim's traced OS example
]


@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize(("m", "n", "k", "rows", "cols"), EXPLICIT)
def test_explicit_shapes(m, n, k, rows, cols, dataflow):
    a, b = _operands(m * 10_000 + n * 100 + k, m, n, k)
    _check(a, b, rows, cols, dataflow)


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_partial_fold_costs_a_full_fold(dataflow):
    """One output on a 4x4 array still takes a whole (padded) fold."""
    res = _check(np.array([[3]]), np.array([[4]]), 4, 4, dataflow)
    assert res.out[0, 0] == 12
    per_fold = {"os": 4 + 4 + 1 - 2, "ws": 8 + 4 + 1 - 2, "is": 8 + 4 + 1 - 2}[dataflow]
    assert res.cycles == per_fold
    # the real output is ready before the padded wavefront ends
    real_cycle = {"os": 0, "ws": 4 + 3, "is": 4 + 3}[dataflow]
    assert res.out_cycle[0, 0] == real_cycle


def test_os_output_cycles_are_the_skewed_wavefront():
    """os: output (i, j) of a full fold is produced at cycle (K-1) + i + j."""
    a, b = _operands(1, 4, 5, 6)
    res = _check(a, b, 4, 5, "os")
    i, j = np.indices((4, 5))
    np.testing.assert_array_equal(res.out_cycle, 5 + i + j)


@pytest.mark.parametrize("dataflow", ("ws", "is"))
def test_stationary_output_cycles_leave_the_bottom_edge(dataflow):
    """ws/is: stream index s of column j leaves PE (R-1, j) at cycle 2R - 1 + s + j."""
    rows, cols, t = 3, 4, 5
    if dataflow == "ws":  # rows <- K, cols <- N, stream M
        a, b = _operands(2, t, cols, rows)
        res = _check(a, b, rows, cols, dataflow)
        s, j = np.indices((t, cols))
    else:  # rows <- K, cols <- M, stream N
        a, b = _operands(2, cols, t, rows)
        res = _check(a, b, rows, cols, dataflow)
        j, s = np.indices((cols, t))
    np.testing.assert_array_equal(res.out_cycle, 2 * rows - 1 + s + j)


def test_large_values_wrap_like_numpy():
    """int64 arithmetic wraps exactly as numpy's integer matmul does."""
    rng = np.random.default_rng(7)
    a = rng.integers(-(2**62), 2**62, (5, 6))
    b = rng.integers(-(2**62), 2**62, (6, 4))
    with np.errstate(over="ignore"):
        expected = a @ b
    for df in DATAFLOWS:
        np.testing.assert_array_equal(simulate_pe_array(a, b, 3, 2, df).out, expected)


def test_accepts_other_integer_dtypes_and_lists():
    a = np.arange(6, dtype=np.int8).reshape(2, 3)
    b = [[1, 2], [3, 4], [5, 6]]
    res = simulate_pe_array(a, b, 2, 2, "ws")
    np.testing.assert_array_equal(res.out, a.astype(np.int64) @ np.array(b))


# -- SCALE-Sim 3.0.0 goldens -----------------------------------------------------------

def _records(name):
    return json.loads((DATA / name).read_text())["records"]


@pytest.mark.parametrize("rec", _records("scalesim_calc.json"), ids=lambda r: (
    f"{r['dataflow']}-{r['name']}-{r['rows']}x{r['cols']}"))
def test_scalesim_total_cycles(rec):
    """SCALE-Sim prints the 0-based index of the last cycle: Total Cycles = cycles - 1."""
    a, b = _operands(0, rec["m"], rec["n"], rec["k"], -8, 8)
    res = simulate_pe_array(a, b, rec["rows"], rec["cols"], rec["dataflow"])
    assert rec["stall_cycles"] == 0
    assert res.cycles - 1 == rec["total_cycles"]
    np.testing.assert_array_equal(res.out, a @ b)


# DeiT-S one-head attention GEMMs on 128x128 (docs/references.md#scale-sim-deit-measurements,
# measured with SCALE-Sim 3.0.0, CALC mode): QK^T is (197, 197, 64), S.V is (197, 64, 197).
DEIT_128 = [
    ((197, 197, 64), {"os": 1271, "ws": 1157, "is": 1157}),
    ((197, 64, 197), {"os": 901, "ws": 1157, "is": 1783}),
]


@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize(("mnk", "total"), DEIT_128, ids=["qkt", "sv"])
def test_scalesim_deit_head_128x128(mnk, total, dataflow):
    m, n, k = mnk
    res = _check(*_operands(9, m, n, k, -128, 128), 128, 128, dataflow)
    assert res.cycles - 1 == total[dataflow]


def test_scalesim_os_ofmap_trace():
    """os: per full fold and column, the grid writes outputs in the same cycles as
    SCALE-Sim's OFMAP SRAM trace (which lists the rows bottom-first), and every fold's last
    write is the same cycle."""
    (rec,) = [r for r in _records("scalesim_trace_os.json") if r["name"] == "small"]
    m, n, k, rows, cols = rec["m"], rec["n"], rec["k"], rec["rows"], rec["cols"]
    offset = json.loads((DATA / "scalesim_trace_os.json").read_text())["meta"][
        "offsets_words"]["ofmap"]
    scalesim_cycle = np.full((m, n), -1)
    for cycle, *addrs in rec["traces"]["OFMAP_SRAM_TRACE"]:
        for addr in addrs:
            if addr >= 0:
                r, c = divmod(addr - offset, n)
                scalesim_cycle[r, c] = cycle
    assert (scalesim_cycle >= 0).all()

    a, b = _operands(3, m, n, k)
    res = _check(a, b, rows, cols, "os")
    assert res.cycles == len(rec["traces"]["OFMAP_SRAM_TRACE"]) == rec["total_cycles"] + 1
    fold_end = np.cumsum(res.fold_cycles) - 1
    row_folds = -(-m // rows)
    for f in range(res.folds):
        r0, c0 = (f % row_folds) * rows, (f // row_folds) * cols
        tile = (slice(r0, min(r0 + rows, m)), slice(c0, min(c0 + cols, n)))
        # the fold's last OFMAP write (SCALE-Sim's flipped tile ends on tile row 0)
        assert scalesim_cycle[tile].max() == fold_end[f]
        if r0 + rows <= m and c0 + cols <= n:  # full fold: same write cycles per column
            np.testing.assert_array_equal(
                np.sort(scalesim_cycle[tile], axis=0), np.sort(res.out_cycle[tile], axis=0))
            # and SCALE-Sim's order is ours with the tile rows flipped
            np.testing.assert_array_equal(scalesim_cycle[tile], res.out_cycle[tile][::-1])


def test_scalesim_os_read_traces_are_the_feeder_schedule():
    """os: SCALE-Sim reads a[r0+i, t] on port i and b[t, c0+j] on port j at fold start
    + t + i (+ t + j): the grid's skewed feeders, with the read traces stamped one cycle
    later than the OFMAP trace (reads at 1..cycles, writes at 0..cycles-1)."""
    (rec,) = [r for r in _records("scalesim_trace_os.json") if r["name"] == "small"]
    m, n, k, rows, cols = rec["m"], rec["n"], rec["k"], rec["rows"], rec["cols"]
    offsets = json.loads((DATA / "scalesim_trace_os.json").read_text())["meta"][
        "offsets_words"]
    res = simulate_pe_array(*_operands(4, m, n, k), rows, cols, "os")
    fold_start = np.concatenate(([0], np.cumsum(res.fold_cycles)))
    row_folds = -(-m // rows)
    seen = 0
    for name, base in (("IFMAP", offsets["ifmap"]), ("FILTER", offsets["filter"])):
        for stamp, *addrs in rec["traces"][f"{name}_SRAM_TRACE"]:
            cycle = stamp - 1
            f = int(np.searchsorted(fold_start, cycle, side="right")) - 1
            r0, c0 = (f % row_folds) * rows, (f // row_folds) * cols
            for port, addr in enumerate(addrs):
                if addr < 0:
                    continue
                seen += 1
                if name == "IFMAP":  # a stored row-major (M x K)
                    r, t = divmod(addr - base, k)
                    assert (r, cycle) == (r0 + port, fold_start[f] + t + port)
                else:  # b stored column-major (N x K)
                    c, t = divmod(addr - base, k)
                    assert (c, cycle) == (c0 + port, fold_start[f] + t + port)
    assert seen == rec["sram_ifmap_reads"] + rec["sram_filter_reads"]


# -- guards and bad input --------------------------------------------------------------

@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_max_cycles_guard(dataflow):
    a, b = _operands(5, 6, 5, 4)
    need = compute_cycles(dataflow, 6, 5, 4, 3, 2)
    assert simulate_pe_array(a, b, 3, 2, dataflow, max_cycles=need).cycles == need
    with pytest.raises(SimulationError, match="max_cycles"):
        simulate_pe_array(a, b, 3, 2, dataflow, max_cycles=need - 1)
    with pytest.raises(SimulationError):
        simulate_pe_array(a, b, 3, 2, dataflow, max_cycles=1)


@pytest.mark.parametrize(("kwargs", "error", "text"), [
    ({"rows": 0}, ConfigError, "rows must be an integer >= 1, not 0"),
    ({"cols": -2}, ConfigError, "cols must be an integer >= 1, not -2"),
    ({"rows": 2.0}, ConfigError, "rows must be an integer"),
    ({"rows": True}, ConfigError, "rows must be an integer"),
    ({"dataflow": "xs"}, ConfigError, "dataflow must be one of"),
    ({"dataflow": None}, ConfigError, "dataflow must be one of"),
    ({"max_cycles": 0}, ConfigError, "max_cycles must be an integer >= 1"),
    ({"b": np.ones((4, 2), int)}, TraceError, "inner dimension"),
    ({"a": np.ones((3, 3))}, TraceError, "a must be an integer array"),
    ({"b": np.ones((3, 2), bool)}, TraceError, "b must be an integer array"),
    ({"a": np.ones(3, int)}, TraceError, "a must be 2-D"),
    ({"a": np.ones((0, 3), int)}, TraceError, "every dimension >= 1"),
])
def test_bad_input(kwargs, error, text):
    args = {"a": np.ones((2, 3), int), "b": np.ones((3, 2), int), "rows": 2, "cols": 2,
            "dataflow": "os"}
    args.update(kwargs)
    max_cycles = args.pop("max_cycles", None)
    with pytest.raises(error, match=text) as info:
        simulate_pe_array(**args, max_cycles=max_cycles)
    assert isinstance(info.value, VitsimError)


def test_all_config_problems_reported_at_once():
    with pytest.raises(ConfigError) as info:
        simulate_pe_array(np.ones((2, 2), int), np.ones((2, 2), int), 0, 0, "xs")
    assert len(info.value.problems) == 3
