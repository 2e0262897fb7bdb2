"""``vitsim scalesim`` against reports of the real SCALE-Sim 3.0.0, cell by cell.

tests/data/scalesim_reports/<case>/ holds a cfg, a topology and SCALE-Sim's three reports
(made by tests/data/make_scalesim_goldens.py --only reports).  Every cell must be equal:
integers exactly, floats to 1e-6 relative; the files are also compared byte for byte.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pytest

from sim.cli import main
from sim.errors import ConfigError, TraceError
from sim.scalesim import load, read_config, read_topology, run

DATA = Path(__file__).parent / "data" / "scalesim_reports"
CASES = sorted(p.name for p in DATA.iterdir() if (p / "COMPUTE_REPORT.csv").exists())
REPORTS = ("COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv", "DETAILED_ACCESS_REPORT.csv")


def test_enough_goldens():
    layers = sum(len(read_topology(DATA / c / "topology.csv", c.split("_")[1]))
                 for c in CASES)
    assert len(CASES) >= 30 and layers >= 100
    kinds = {tuple(c.split("_")[1:4]) for c in CASES}
    assert len(kinds) == 12  # conv/gemm x calc/user x os/ws/is


def _cells(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], [[f.strip() for f in row] for row in rows[1:]]


def _equal(ours: str, theirs: str) -> bool:
    if re.fullmatch(r"-?\d+", theirs):
        return ours == theirs
    if theirs == "":
        return ours == ""
    return math.isclose(float(ours), float(theirs), rel_tol=1e-6, abs_tol=0.0)


@pytest.mark.parametrize("case", CASES)
def test_reports_equal_scalesim(case, tmp_path):
    src = DATA / case
    run(src / "scalesim.cfg", src / "topology.csv", case.split("_")[1], tmp_path / "out")
    out = tmp_path / "out" / case
    for name in REPORTS:
        head_o, rows_o = _cells(out / name)
        head_t, rows_t = _cells(src / name)
        assert head_o == head_t, name
        assert len(rows_o) == len(rows_t), name
        for i, (ro, rt) in enumerate(zip(rows_o, rows_t)):
            assert len(ro) == len(rt), (name, i)
            bad = [(j, head_t[j], a, b) for j, (a, b) in enumerate(zip(ro, rt))
                   if not _equal(a, b)]
            assert not bad, (name, f"layer {i}", bad)
        assert (out / name).read_bytes() == (src / name).read_bytes(), name


def test_cli_drop_in(tmp_path, capsys):
    case = CASES[0]
    src = DATA / case
    code = main(["scalesim", "-c", str(src / "scalesim.cfg"), "-t", str(src / "topology.csv"),
                 "-p", str(tmp_path / "res"), "-i", case.split("_")[1], "-s", "N"])
    assert code == 0
    for name in REPORTS:
        assert (tmp_path / "res" / case / name).read_bytes() == (src / name).read_bytes()


def test_cli_sram_traces(tmp_path):
    src = DATA / "c03_gemm_user_os_16x8"
    assert main(["scalesim", "-c", str(src / "scalesim.cfg"), "-t", str(src / "topology.csv"),
                 "-p", str(tmp_path / "r"), "-i", "gemm"]) == 0
    trace = tmp_path / "r" / src.name / "layer0" / "OFMAP_SRAM_TRACE.csv"
    rows = [list(map(int, line.split(","))) for line in trace.read_text().splitlines()]
    compute = (tmp_path / "r" / src.name / "COMPUTE_REPORT.csv").read_text().splitlines()[1]
    total = int(compute.split(",")[2])
    assert max(r[0] for r in rows) == total       # Total Cycles = last ofmap write
    assert len(rows[0]) == 1 + 8                   # cycle + one port per column


@pytest.mark.parametrize("case", [c for c in CASES if "_gemm_" in c or "_calc_" in c])
def test_load_then_engine_equals_total_cycles(case):
    """``load`` + the engine reproduce every layer's Total Cycles (+1) and stalls.

    Not for USER-mode conv layers: the engine sees the lowered GEMM, whose ifmap is
    ``M x K`` distinct words, while SCALE-Sim streams the image (overlapping windows share
    words), so their memory traffic differs (docs/scalesim.md)."""
    from sim.engine.simulate import simulate_ops

    src = DATA / case
    arch, ops = load(src / "scalesim.cfg", src / "topology.csv", case.split("_")[1])
    assert arch.memory.model == ("scalesim" if "_user_" in case else "ideal")
    cols = simulate_ops(arch, ops).ops
    _, rows = _cells(src / "COMPUTE_REPORT.csv")
    for i, row in enumerate(rows):
        total, stalls = int(row[2]), int(row[3])
        assert cols["stall_cycles"][i] == stalls
        assert cols["compute_cycles"][i] + cols["stall_cycles"][i] == total + 1
        if "_user_" in case:
            assert cols["total_cycles"][i] >= int(row[1]) + 1


def test_load_gives_arch_and_ops():
    src = DATA / "c12_conv_calc_os_16x16"
    arch, ops = load(src / "scalesim.cfg", src / "topology.csv", "conv")
    layers = read_topology(src / "topology.csv", "conv")
    assert arch.memory.model == "ideal" and arch.array.rows == 16
    assert list(ops.m) == [lay.pixels for lay in layers]
    assert list(ops.k) == [lay.window for lay in layers]
    assert list(ops.n) == [lay.num_filters for lay in layers]


def _cfg(tmp_path, **changes):
    text = (DATA / "c03_gemm_user_os_16x8" / "scalesim.cfg").read_text()
    for key, value in changes.items():
        text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}" if value is not None else "",
                      text)
    path = tmp_path / "x.cfg"
    path.write_text(text)
    return path


@pytest.mark.parametrize("changes, words", [
    ({"Dataflow": "rs"}, "Dataflow = 'rs'"),
    ({"IfmapSramSzkB": "big"}, "IfmapSramSzkB = 'big'"),
    ({"InterfaceBandwidth": "AUTO"}, "InterfaceBandwidth"),
    ({"SparsitySupport": "true"}, "SparsitySupport"),
    ({"IfmapCustomLayout": "True"}, "IfmapCustomLayout"),
    ({"UseRamulatorTrace": "True"}, "UseRamulatorTrace"),
    ({"ArrayHeight": None}, "ArrayHeight is missing"),
    ({"Bandwidth": "0"}, "Bandwidth = 0"),
])
def test_bad_cfg_one_line(tmp_path, changes, words):
    with pytest.raises(ConfigError, match=re.escape(words)) as err:
        read_config(_cfg(tmp_path, **changes))
    assert "\n" not in str(err.value) and "x.cfg" in str(err.value)


def test_missing_section(tmp_path):
    path = tmp_path / "y.cfg"
    path.write_text(re.sub(r"\[sparsity\][^\[]*", "", _cfg(tmp_path).read_text()))
    with pytest.raises(ConfigError, match=r"\[sparsity\] is missing"):
        read_config(path)


@pytest.mark.parametrize("row, kind, words", [
    ("g0, 4, 5,\n", "gemm", "line 2: 3 fields"),
    ("g0, 4, x, 6,\n", "gemm", "line 2, column 3 (N) = 'x'"),
    ("c, 8, 8, 3, 3, 2, 4, 0,\n", "conv", "line 2, column 8 (Strides) = 0"),
    ("c, 4, 8, 5, 3, 2, 4, 1,\n", "conv", "column 4 (Filter Height) = 5"),
    ("g0, 4, 5, 6, 2:4,\n", "gemm", "N:M sparsity"),
])
def test_bad_topology_one_line(tmp_path, row, kind, words):
    path = tmp_path / "t.csv"
    path.write_text("header,\n" + row)
    with pytest.raises(TraceError, match=re.escape(words)) as err:
        read_topology(path, kind)
    assert "\n" not in str(err.value) and "t.csv" in str(err.value)


def test_topology_tolerance(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("Layer, M, N, K,\n\n  a ,3 , 4,5 ,  \nb,1,2,3,\n\n")
    assert [(x.name, x.pixels, x.num_filters, x.window)
            for x in read_topology(path, "gemm")] == [("a", 3, 4, 5), ("b", 1, 2, 3)]


def test_cli_bad_input_exit_2(tmp_path, capsys):
    code = main(["scalesim", "-c", str(_cfg(tmp_path, Dataflow="xx")), "-t", "nope.csv"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Dataflow" in err


def test_sram_traces_equal_scalesims(tmp_path):
    """The three SRAM traces of a small OS GEMM equal SCALE-Sim's CLI traces row for row."""
    import json

    rec = json.loads((DATA.parent / "scalesim_trace_os.json").read_text())["records"][0]
    cfg_text = (DATA / "c00_gemm_calc_os_4x4" / "scalesim.cfg").read_text()
    cfg_text = re.sub(r"(?m)^ArrayHeight = .*$", f"ArrayHeight = {rec['rows']}", cfg_text)
    cfg_text = re.sub(r"(?m)^ArrayWidth = .*$", f"ArrayWidth = {rec['cols']}", cfg_text)
    for key, kb in zip(("Ifmap", "Filter", "Ofmap"), rec["sram_kb"]):
        cfg_text = re.sub(rf"(?m)^{key}SramSzkB = .*$", f"{key}SramSzkB = {kb}", cfg_text)
    (tmp_path / "s.cfg").write_text(cfg_text)
    (tmp_path / "t.csv").write_text(f"Layer, M, N, K,\ng, {rec['m']}, {rec['n']}, {rec['k']},\n")
    assert main(["scalesim", "-c", str(tmp_path / "s.cfg"), "-t", str(tmp_path / "t.csv"),
                 "-p", str(tmp_path / "r"), "-i", "gemm", "-s", "Y"]) == 0
    layer = tmp_path / "r" / "c00_gemm_calc_os_4x4" / "layer0"
    for name, rows in rec["traces"].items():
        ours = [list(map(int, line.split(",")))
                for line in (layer / f"{name}.csv").read_text().splitlines()]
        assert ours == rows, name
