"""Hostile inputs (issue 17): bad, huge and malicious files and flags across every command.

Each case asserts either a clean refusal -- exit 2, exactly one stderr line starting with
``vitsim: error:``, no traceback -- or an exact answer.  The CLI runs in-process
(``sim.cli.main``) to stay fast; the kill test uses a real subprocess.  The corpus is built inline (``RAW``, ``BYTES``, ``TRACE_BAD``,
``FLAG_CASES``, ...), so every hostile input is readable next to its assertion.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.cli import main
from sim.config import arch_from_dict, arch_to_dict, load_arch
from sim.errors import ConfigError, TraceError
from sim.workload import model_trace, trace_from_dict, trace_to_dict

REPO = Path(__file__).resolve().parents[1]
BASE_ARCH = arch_to_dict(load_arch("zcu102"))
BASE_TRACE = trace_to_dict(model_trace("deit_t"))


def cli(*argv):
    """``vitsim ARGV`` in-process: ``(exit code, stdout, stderr)``."""
    import logging

    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    for handler in root.handlers[:]:  # so main()'s basicConfig logs to *this* stderr
        root.removeHandler(handler)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 2
    return rc, out.getvalue(), err.getvalue()


def refused(argv, *needles, max_s: float = 30.0):
    """Run ``argv``; assert a clean one-line refusal containing every needle."""
    t0 = time.perf_counter()
    rc, out, err = cli(*argv)
    elapsed = time.perf_counter() - t0
    assert rc == 2, f"exit {rc}, stdout {out[:300]!r}, stderr {err[:300]!r}"
    assert err.startswith("vitsim: error: ") and err.count("\n") == 1, err[:2000]
    assert "Traceback" not in err and len(err) < 4000, err[:2000]
    for needle in needles:
        assert needle in err, err
    assert elapsed < max_s, f"{elapsed:.1f} s"
    return err


def _dump(tmp_path, data, suffix=".yaml", name="f"):
    path = tmp_path / f"{name}{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(data, allow_nan=True))
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _set(data, dotted, value):
    data = json.loads(json.dumps(data))
    node = data
    *head, last = dotted.split(".")
    for k in head:
        node = node[k] if not k.isdigit() else node[int(k)]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return data


# -- 1. arch files: every numeric key x every bad value, in YAML and JSON ------------------

ARCH_KEYS = ["clock_mhz", "array.rows", "array.cols", "memory.ifmap_kib", "memory.word_bytes",
             "dram.latency_cycles", "vector.lanes", "vector.cost.softmax"]
BAD_VALUES = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "true": True,
              "false": False, "str": "abc", "list": [1], "map": {"a": 1}, "neg": -1,
              "huge": 10**30}


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
@pytest.mark.parametrize("label", list(BAD_VALUES))
@pytest.mark.parametrize("key", ARCH_KEYS)
def test_arch_bad_value(tmp_path, key, label, suffix):
    path = _dump(tmp_path, _set(BASE_ARCH, key, BAD_VALUES[label]), suffix)
    err = refused(["check", path], f"{path}: ", f"{key} = ", "; must be ")
    assert len(err) < 700  # the value's repr is cut


@pytest.mark.parametrize("key", ["dram.bandwidth_gbps"])
@pytest.mark.parametrize("label", ["nan", "-inf", "true", "str", "neg"])
def test_arch_bad_bandwidth(tmp_path, key, label):
    path = _dump(tmp_path, _set(BASE_ARCH, key, BAD_VALUES[label]))
    refused(["check", path], f"{key} = ", "; must be ")


def test_inf_bandwidth_is_documented_and_exact(tmp_path):
    """``.inf`` bandwidth = unlimited: accepted, and the run has exactly 0 stall cycles."""
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(BASE_ARCH).replace("bandwidth_gbps: 7.3",
                                                      "bandwidth_gbps: .inf"))
    assert ".inf" in path.read_text()
    rc, out, err = cli("check", path)
    assert rc == 0 and "ok" in out, err
    rc, out, err = cli("run", "--arch", path, "--trace", "deit_t", "--json")
    assert rc == 0, err
    assert json.loads(out)["stall_cycles"] == 0


def test_energy_override_inf_refused(tmp_path):
    data = _set(BASE_ARCH, "energy_table.overrides", {"dsp_mac_pj": float("inf")})
    refused(["check", _dump(tmp_path, data)], "energy_table.overrides")


# -- 2. raw files: bombs, depth, encodings, sizes -------------------------------------------

def _bomb(levels=10, fan=9):
    lines = [f'a0: &a0 [{",".join(["lol"] * fan)}]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * fan)}]")
    return "\n".join(lines) + f"\nschema_version: 1\narray: *a{levels - 1}\n"


RAW = {
    "bomb.yaml": _bomb(),
    "bomb_keys.yaml": _bomb(9, 12).replace("array:", "layers:"),
    "recursive.yaml": "schema_version: 1\narray: &x [*x]\n",
    "recursive_map.yaml": "schema_version: 1\narray: &x {a: *x}\n",
    "deep.json": "[" * 100_000 + "]" * 100_000,
    "deep_obj.json": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "deep_flow.yaml": "[" * 100_000 + "]" * 100_000,
    "deep_block.yaml": "".join("  " * i + "a:\n" for i in range(2000)),
    "deep_ok_parse.json": "[" * 200 + "]" * 200,
    "dup.yaml": "schema_version: 1\nschema_version: 1\n",
    "dup.json": '{"schema_version": 1, "schema_version": 1}',
    "dup_nested.json": '{"array": {"rows": 8, "rows": 16}}',
    "nan_top.json": "NaN",
    "list_top.yaml": "- 1\n- 2\n",
    "str_top.yaml": "hello\n",
    "int_top.json": "42",
    "empty.yaml": "",
    "empty.json": "",
    "comment.yaml": "# nothing\n",
    "null.yaml": "null\n",
    "tabs.yaml": "a:\n\tb: 1\n",
    "bad.json": '{"a": 1,}',
    "trailing.json": '{"a": 1} {"b": 2}',
    "bigint.yaml": "clock_mhz: " + "9" * 5000 + "\n",
    "python_tag.yaml": "!!python/object/apply:os.system ['echo hi']\n",
    "unhashable.yaml": "? [a, b]\n: 1\n",
    "long_key.yaml": "x" * 100_000 + ": 1\n",
    "long_value.yaml": "schema_version: 1\nname: " + "y" * 100_000 + "\n",
    "neither.yaml": "schema_version: 1\nfoo: 1\n",
}
BYTES = {
    "latin1.yaml": b"name: caf\xe9\n",
    "binary.yaml": bytes(range(256)) * 4,
    "utf16.json": '{"a": 1}'.encode("utf-16"),
    "nul.yaml": b"schema_version: 1\x00\n",
}


def _raw_file(tmp_path, name):
    path = tmp_path / name
    if name in BYTES:
        path.write_bytes(BYTES[name])
    else:
        path.write_text(RAW[name])
    return path


@pytest.mark.parametrize("name", sorted(RAW) + sorted(BYTES))
def test_raw_file_check(tmp_path, name):
    path = _raw_file(tmp_path, name)
    err = refused(["check", path], f"{path}", max_s=5.0)
    assert len(err) < 1200


@pytest.mark.parametrize("name", ["bomb.yaml", "recursive.yaml", "deep.json", "dup.json",
                                  "latin1.yaml", "bigint.yaml", "python_tag.yaml"])
@pytest.mark.parametrize("role", ["arch", "trace"])
def test_raw_file_as_run_input(tmp_path, name, role):
    path = _raw_file(tmp_path, name)
    argv = (["run", "--arch", path, "--trace", "deit_t"] if role == "arch"
            else ["run", "--arch", "zcu102", "--trace", path])
    refused(argv, max_s=5.0)


def test_bomb_fails_fast(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb())
    assert len(path.read_bytes()) < 2048
    t0 = time.perf_counter()
    refused(["check", path], "expands to more than")
    assert time.perf_counter() - t0 < 1.0


def test_huge_sparse_file(tmp_path):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as f:
        f.truncate(65 << 20)
    refused(["check", path], "bytes; must be")


@pytest.mark.parametrize("argv", [
    ["check", "/nonexistent/x.yaml"],
    ["check", "."],
    ["run", "--arch", "/nonexistent.yaml", "--trace", "deit_t"],
    ["run", "--arch", "nopreset", "--trace", "deit_t"],
    ["run", "--arch", "zcu102", "--trace", "nomodel"],
    ["run", "--arch", "zcu102", "--trace", "/nonexistent.yaml"],
])
def test_missing_inputs(argv):
    refused(argv)


def test_duplicate_key_message_names_line(tmp_path):
    path = _raw_file(tmp_path, "dup.yaml")
    refused(["check", path], "duplicate key")


# -- 3. traces: every field x bad values ----------------------------------------------------

TRACE_BAD = [
    ("batch", 0), ("batch", -1), ("batch", True), ("batch", 1.5), ("batch", "2"),
    ("batch", float("nan")), ("schema_version", 2), ("schema_version", True),
    ("model", "nomodel"), ("model", 7), ("model", None), ("layers", "all"), ("layers", []),
    ("layers.0.tokens", True), ("layers.0.tokens", 0), ("layers.0.tokens", 10**6),
    ("layers.0.tokens", float("nan")), ("layers.0.tokens", "x"), ("layers.0.tokens", 1.0),
    ("layers.0.mlp_hidden", 10**9), ("layers.0.mlp_hidden", True), ("layers.0.mlp_hidden", 0),
    ("layers.0.mlp_hidden", float("inf")), ("layers.0.heads", [True]),
    ("layers.0.heads", [99]), ("layers.0.heads", [0, 0]), ("layers.0.heads", "all"),
    ("layers.0.heads", [-1]), ("layers.0.index", True), ("layers.0.index", 5),
    ("layers.0.attention", "yes"), ("layers.0.attention", 1),
    ("layers.0.prune", {"method": "topk", "tokens_out": 0}),
    ("layers.0.prune", {"method": "topk", "tokens_out": True}),
    ("layers.0.prune", {"method": "topk", "tokens_out": 10**9}),
    ("layers.0.prune", {"method": "nope", "tokens_out": 10}),
    ("layers.0.prune", {"method": "topk"}), ("layers.0.prune", "topk"),
    ("layers.0.colour", 1), ("layers.0", 5), ("extra", 1),
    ("model.depth", True), ("model.embed_dim", float("nan")), ("model.num_heads", 0),
    ("model.image_size", 10**9), ("model.patch_size", "p"), ("model.mlp_hidden", -3),
]


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
@pytest.mark.parametrize(("key", "value"), TRACE_BAD, ids=[f"{k}={v!r}"[:40] for k, v in TRACE_BAD])
def test_trace_bad_value(tmp_path, key, value, suffix):
    data = BASE_TRACE
    if key.startswith("model."):
        data = _set(data, "model", dict(BASE_TRACE["model"]))
    path = _dump(tmp_path, _set(data, key, value), suffix)
    refused(["run", "--arch", "zcu102", "--trace", path, "--mode", "analytic"], f"{path}")


# -- 4. flags: --set, --grid, --range, numeric options, repeats, figures ------------------------

RUN = ["run", "--arch", "zcu102", "--trace", "deit_t", "--mode", "analytic"]
SWEEP = ["sweep", "--arch", "zcu102", "--trace", "deit_t", "--mode", "analytic",
         "--workers", "1"]

FLAG_CASES = {
    "set-nan": RUN + ["--set", "clock_mhz=.nan"],
    "set-nan-word": RUN + ["--set", "clock_mhz=nan"],
    "set-inf": RUN + ["--set", "clock_mhz=.inf"],
    "set-bool": RUN + ["--set", "array.rows=true"],
    "set-str": RUN + ["--set", "array.rows=abc"],
    "set-unknown": RUN + ["--set", "array.foo=1"],
    "set-no-eq": RUN + ["--set", "array.rows"],
    "set-empty-key": RUN + ["--set", "=3"],
    "set-deep": RUN + ["--set", "clock_mhz.x.y=1"],
    "set-huge": RUN + ["--set", "array.rows=" + "9" * 50],
    "set-list": RUN + ["--set", "array.rows=[1,2]"],
    "set-section-bad": RUN + ["--set", "array={rows: x}"],
    "set-dataflow": RUN + ["--set", "array.dataflow=rs"],
    "set-bw-neg": RUN + ["--set", "dram.bandwidth_gbps=-1"],
    "grid-unknown": SWEEP + ["--grid", "array.foo=1,2"],
    "grid-abc": SWEEP + ["--grid", "array.rows=abc"],
    "grid-nan": SWEEP + ["--grid", "clock_mhz=nan,500"],
    "grid-inf": SWEEP + ["--grid", "clock_mhz=inf,500"],
    "grid-bool": SWEEP + ["--grid", "array.rows=true,8"],
    "grid-zero": SWEEP + ["--grid", "array.rows=0,8"],
    "grid-repeat": SWEEP + ["--grid", "array.rows=8", "--grid", "array.rows=16"],
    "grid-repeat-tied": SWEEP + ["--grid", "array.rows,array.cols=8", "--grid", "array.rows=16"],
    "grid-empty": SWEEP + ["--grid", "array.rows="],
    "grid-noeq": SWEEP + ["--grid", "array.rows"],
    "grid-none": SWEEP,
    "grid-range": SWEEP + ["--grid", "clock_mhz=100:200"],
    "grid-section": SWEEP + ["--grid", "array=8"],
    "range-nan": SWEEP + ["--range", "clock_mhz=nan:300", "--random", "2"],
    "range-rev": SWEEP + ["--range", "clock_mhz=300:100", "--random", "2"],
    "range-log0": SWEEP + ["--range", "clock_mhz=0:100:log", "--random", "2"],
    "range-out": SWEEP + ["--range", "clock_mhz=100:1e9", "--random", "2"],
    "range-int-key": SWEEP + ["--range", "array.rows=4:8", "--random", "2"],
    "range-no-random": SWEEP + ["--range", "clock_mhz=100:300"],
    "range-flag": SWEEP + ["--range", "clock_mhz=100:300:cubic", "--random", "2"],
    "range-and-grid": SWEEP + ["--grid", "clock_mhz=100", "--range", "clock_mhz=1:2",
                               "--random", "1"],
    "random-0": SWEEP + ["--grid", "array.rows=8", "--random", "0"],
    "random-neg": SWEEP + ["--grid", "array.rows=8", "--random", "-1"],
    "random-huge": SWEEP + ["--grid", "array.rows=8", "--random", "100000000"],
    "workers-0": SWEEP[:-1] + ["0", "--grid", "array.rows=8"],
    "workers-huge": SWEEP[:-1] + ["1000000", "--grid", "array.rows=8"],
    "seed-neg": SWEEP + ["--grid", "array.rows=8", "--random", "1", "--seed", "-1"],
    "batch-size-neg": SWEEP + ["--grid", "array.rows=8", "--batch-size", "-1"],
    "batch-size-0": SWEEP + ["--grid", "array.rows=8", "--batch-size", "0"],
    "objective-str": SWEEP + ["--grid", "array.rows=8", "--objective", "model"],
    "objective-missing": SWEEP + ["--grid", "array.rows=8", "--objective", "nope"],
    "sweep-out-ext": SWEEP + ["--grid", "array.rows=8", "--out", "x.txt"],
    "sweep-trace-missing": SWEEP + ["--trace", "nope.yaml", "--grid", "array.rows=8"],
    "top-neg": SWEEP + ["--grid", "array.rows=8", "--top", "-1"],
    "repeat-arch": ["run", "--arch", "zcu102", "--arch", "zcu102", "--trace", "deit_t"],
    "repeat-trace": ["run", "--arch", "zcu102", "--trace", "deit_t", "--trace", "deit_s"],
    "repeat-mode": RUN + ["--mode", "cycle"],
    "repeat-m": ["gemm", "--arch", "zcu102", "--m", "4", "--m", "8", "--n", "4", "--k", "4"],
    "repeat-out": SWEEP + ["--grid", "array.rows=8", "--out", "a.csv", "--out", "b.csv"],
    "gemm-huge": ["gemm", "--arch", "zcu102", "--m", "10000000000000000000", "--n", "4",
                  "--k", "4"],
    "gemm-pow": ["gemm", "--arch", "zcu102", "--m", "10**19", "--n", "4", "--k", "4"],
    "gemm-zero": ["gemm", "--arch", "zcu102", "--m", "0", "--n", "4", "--k", "4"],
    "gemm-neg": ["gemm", "--arch", "zcu102", "--m", "-5", "--n", "4", "--k", "4"],
    "gemm-float": ["gemm", "--arch", "zcu102", "--m", "1e3", "--n", "4", "--k", "4"],
    "gemm-missing": ["gemm", "--arch", "zcu102", "--m", "4", "--n", "4"],
    "mode-bogus": ["run", "--arch", "zcu102", "--trace", "deit_t", "--mode", "fast"],
    "batch-neg-model": RUN + ["--batch", "-4"],
    "batch-abc": RUN + ["--batch", "abc"],
    "batch-huge": RUN + ["--batch", "99999999999999999999"],
    "format-bad": RUN + ["--format", "xml"],
    "unknown-command": ["frobnicate"],
    "no-command": [],
    "unknown-flag": RUN + ["--frob"],
    "schedule-alpha-nan": ["schedule", "--arch", "zcu102", "--model", "deit_s", "--alpha",
                           "nan"],
    "schedule-alpha-inf": ["schedule", "--arch", "zcu102", "--model", "deit_s", "--alpha",
                           "inf"],
    "schedule-k-nan": ["schedule", "--arch", "zcu102", "--model", "deit_s", "--k", "nan"],
    "schedule-plot-ext": ["schedule", "--arch", "zcu102", "--model", "deit_s", "--plot",
                          "x.gif"],
    "schedule-layers-no-joint": ["schedule", "--arch", "zcu102", "--model", "deit_s",
                                 "--layers", "1,2"],
    "schedule-no-model": ["schedule", "--arch", "zcu102"],
    "schedule-acc-missing": ["schedule", "--arch", "zcu102", "--model", "deit_s",
                             "--accuracy", "/nonexistent.csv"],
    "schedule-acc-other-model": ["schedule", "--arch", "zcu102", "--model", "deit_t"],
    "pivot-lec-nan": ["search", "pivot", "--arch", "zcu102", "--efforts",
                      "tests/data/pivot_efforts_hand.yaml", "--lec", "nan"],
    "pivot-plot-ext": ["search", "pivot", "--arch", "zcu102", "--efforts",
                       "tests/data/pivot_efforts_hand.yaml", "--lec", "0.1", "--plot", "x.bmp"],
    "pivot-out-ext": ["search", "pivot", "--arch", "zcu102", "--efforts",
                      "tests/data/pivot_efforts_hand.yaml", "--lec", "0.1", "--out", "x.json"],
    "pivot-grid-repeat": ["search", "pivot", "--arch", "zcu102", "--efforts",
                          "tests/data/pivot_efforts_hand.yaml", "--lec", "0.1", "--grid",
                          "array.rows=8", "--grid", "array.rows=16"],
    "pivot-efforts-missing": ["search", "pivot", "--arch", "zcu102", "--efforts",
                              "/nonexistent.yaml", "--lec", "0.1"],
    "pivot-efforts-bad": ["search", "pivot", "--arch", "zcu102", "--efforts",
                          "tests/data/pivot_efforts_bad.yaml", "--lec", "0.1"],
    "plot-breakdown-ext": ["plot", "breakdown", "--arch", "zcu102", "--trace", "deit_t",
                           "--out", "x.jpg2"],
    "plot-sweep-missing": ["plot", "sweep", "/nonexistent.csv", "--pareto", "a,b", "--out",
                           "x.png"],
}


@pytest.mark.parametrize("case", sorted(FLAG_CASES))
def test_flag(case, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    argv = [a.replace("x.", str(tmp_path / "x.")) if a.startswith("x.") else a
            for a in FLAG_CASES[case]]
    refused(argv)
    assert not list(tmp_path.iterdir())  # refused before writing anything


def test_version():
    rc, out, err = cli("--version")
    assert (rc, out, err) == (0, f"vitsim {sim.__version__}\n", "")


def test_gemm_exact_macs():
    rc, out, err = cli("gemm", "--arch", "zcu102", "--m", "1000", "--n", "999", "--k", "997",
                       "--mode", "analytic", "--json")
    assert rc == 0, err
    assert json.loads(out)["macs"] == 1000 * 999 * 997


# -- 5. exact integers, batch and fold-count limits of the engine -----------------------------

@pytest.mark.parametrize("m", [3_000_000, 1 << 21])
def test_gemm_macs_beyond_int64_exact_or_refused(m):
    rc, out, err = cli("gemm", "--arch", "zcu102", "--m", m, "--n", m, "--k", m,
                       "--mode", "analytic", "--json")
    if rc == 2:
        assert err.count("\n") == 1 and "2^63" in err
    else:
        assert rc == 0 and json.loads(out)["macs"] == m ** 3


def test_trace_huge_batch_exact_macs():
    rc, out, err = cli(*RUN, "--batch", "10000000000", "--json")
    one = json.loads(cli(*RUN, "--json")[1])["macs"]
    if rc == 2:
        assert err.count("\n") == 1
    else:
        assert rc == 0 and json.loads(out)["macs"] == one * 10**10


def test_batch_zero_refused():
    refused(RUN + ["--batch", "0"], "batch")


def test_batch_negative_on_trace_file_refused():
    refused(["run", "--arch", "zcu102", "--trace", "deit_s.yaml", "--mode", "analytic",
             "--batch", "-4"], "batch")


def test_cycle_mode_huge_fold_count_bounded():
    """gemm 1e6 x 1e6 x 64 in cycle mode: a clean "too large for cycle mode" refusal, or
    an answer within 10 s and 1 GB (today: ~17 s and 2 GB peak RSS, growing per fold)."""
    import resource

    env = dict(os.environ, PYTHONPATH=str(REPO))
    try:
        proc = subprocess.run([sys.executable, "-m", "sim", "gemm", "--arch", "zcu102", "--m",
                               "1000000", "--n", "1000000", "--k", "64", "--mode", "cycle"],
                              capture_output=True, text=True, timeout=10, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("cycle-mode walk over ~2.4e8 folds took > 10 s")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode == 2:
        assert proc.stderr.count("\n") == 1 and "cycle mode" in proc.stderr
    else:
        assert proc.returncode == 0 and peak_kib < 1 << 20


# -- 6. accuracy CSVs, efforts files and .npz ----------------------------------------------

ACCURACY = {
    "empty": "",
    "header-only": "tokens,top1\n",
    "ragged": "tokens,top1\n197,79.8\n100,70,5,6\n",
    "latin1": None,
    "no-columns": "a,b\n1,2\n",
    "nan-top1": "tokens,top1\n197,nan\n",
    "inf-top1": "tokens,top1\n197,inf\n",
    "neg-top1": "tokens,top1\n197,-1\n",
    "str-tokens": "tokens,top1\nabc,79\n",
    "float-tokens": "tokens,top1\n1.5,79\n",
    "huge-tokens": "tokens,top1\n1e30,79\n",
    "zero-tokens": "tokens,top1\n0,79\n",
    "dup-rows": "tokens,top1\n197,79\n197,78\n",
    "extra-col": "tokens,top1,x\n197,79,1\n",
    "binary": None,
    "quote": 'tokens,top1\n"197,79\n',
}


@pytest.mark.parametrize("case", sorted(ACCURACY))
def test_accuracy_csv(tmp_path, case):
    path = tmp_path / "acc.csv"
    if case == "latin1":
        path.write_bytes(b"tokens,top1\n197,79\xe9\n")
    elif case == "binary":
        path.write_bytes(bytes(range(256)))
    else:
        path.write_text(ACCURACY[case])
    refused(["schedule", "--arch", "zcu102", "--model", "deit_s", "--accuracy", path], "acc.csv")


def test_accuracy_csv_is_a_directory(tmp_path):
    refused(["schedule", "--arch", "zcu102", "--model", "deit_s", "--accuracy", tmp_path])


def _efforts(tmp_path, efforts, base="deit_t", extra=""):
    path = tmp_path / "efforts.yaml"
    path.write_text(f"schema_version: 1\nbase: {base}\n{extra}efforts:\n"
                    + textwrap.indent(yaml.safe_dump(efforts, sort_keys=False), "  "))
    return path


GOOD_EFFORT = {"name": "full", "skip": [], "entropy": [0.1, 0.2], "correct": [1, 0]}
EFFORTS_BAD = {
    "nan-entropy": [dict(GOOD_EFFORT, entropy=[float("nan"), 0.1])],
    "inf-entropy": [dict(GOOD_EFFORT, entropy=[float("inf"), 0.1])],
    "bool-entropy": [dict(GOOD_EFFORT, entropy=[True, False])],
    "neg-entropy": [dict(GOOD_EFFORT, entropy=[-1.0, 0.1])],
    "str-entropy": [dict(GOOD_EFFORT, entropy="high")],
    "correct-2": [dict(GOOD_EFFORT, correct=[2, 0])],
    "length-mismatch": [dict(GOOD_EFFORT, correct=[1])],
    "empty": [dict(GOOD_EFFORT, entropy=[], correct=[])],
    "skip-out-of-range": [dict(GOOD_EFFORT, skip=[99])],
    "skip-bool": [dict(GOOD_EFFORT, skip=[True])],
    "no-name": [{k: v for k, v in GOOD_EFFORT.items() if k != "name"}],
    "dup-name": [GOOD_EFFORT, GOOD_EFFORT],
    "unknown-key": [dict(GOOD_EFFORT, colour=1)],
    "npz-missing": [{"name": "x", "skip": [], "data": "nope.npz"}],
    "npz-garbage": [{"name": "x", "skip": [], "data": "garbage.npz"}],
    "npz-empty": [{"name": "x", "skip": [], "data": "empty.npz"}],
    "npz-no-arrays": [{"name": "x", "skip": [], "data": "other.npz"}],
    "npz-pickled": [{"name": "x", "skip": [], "data": "pickled.npz"}],
    "not-a-list": "full",
}


@pytest.mark.parametrize("case", sorted(EFFORTS_BAD))
def test_efforts_file(tmp_path, case):
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 not really a zip" * 10)
    (tmp_path / "empty.npz").write_bytes(b"")
    np.savez(tmp_path / "other.npz", a=np.arange(3))
    np.savez(tmp_path / "pickled.npz", entropy=np.array([{"a": 1}], dtype=object),
             correct=np.array([1]))
    path = _efforts(tmp_path, EFFORTS_BAD[case])
    refused(["search", "pivot", "--arch", "zcu102", "--efforts", path, "--lec", "0.1",
             "--mode", "analytic"], "efforts.yaml")


@pytest.mark.parametrize(("top", "needle"), [("schema_version: true\n", "schema_version"),
                                              ("schema_version: 2\n", "schema_version"),
                                              ("base: nomodel\n", "base")])
def test_efforts_header(tmp_path, top, needle):
    path = tmp_path / "e.yaml"
    path.write_text(top + ("schema_version: 1\n" if "schema" not in top else "")
                    + ("base: deit_t\n" if "base" not in top else "")
                    + "efforts:\n" + textwrap.indent(yaml.safe_dump([GOOD_EFFORT]), "  "))
    refused(["search", "pivot", "--arch", "zcu102", "--efforts", path, "--lec", "0.1"], needle)


# -- 7. sweep outputs: foreign, corrupt, locked, resumed -------------------------------------

SMALL = ["sweep", "--arch", "zcu102", "--trace", "deit_t", "--grid", "array.rows=8,16",
         "--mode", "analytic", "--workers", "1"]


def _sweep_csv(tmp_path, name="r.csv"):
    out = tmp_path / name
    rc, _, err = cli(*SMALL, "--out", out)
    assert rc == 0, err
    return out


@pytest.mark.parametrize("content", [
    "a,b\n1,2\n3,4", "name,score\nalice,3\n", b"\xff\xfe\x00garbage\n", "key\n1\n"])
def test_foreign_csv_refused_and_untouched(tmp_path, content):
    out = tmp_path / "r.csv"
    (out.write_bytes if isinstance(content, bytes) else out.write_text)(content)
    before = out.read_bytes()
    refused([*SMALL, "--out", out], "not a vitsim sweep result", "not modified")
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]


def test_foreign_directory_refused_and_untouched(tmp_path):
    d = tmp_path / "r.parquet"
    d.mkdir()
    (d / "notes.txt").write_text("mine")
    refused([*SMALL, "--out", d], "not a vitsim sweep result")
    assert [p.name for p in d.iterdir()] == ["notes.txt"]


def test_second_writer_refused(tmp_path):
    from sim.search.sweep.store import open_store

    out = tmp_path / "r.csv"
    store = open_store(out)  # holds the lock, as a running sweep does
    try:
        refused([*SMALL, "--out", out], "another sweep", "is writing it now")
    finally:
        store.close()
    rc, _, err = cli(*SMALL, "--out", out)  # released: runs
    assert rc == 0, err


def _rows(path):
    from sim.search.sweep.store import load_results

    return load_results(path)


def test_truncated_row_recomputed(tmp_path):
    out = _sweep_csv(tmp_path)
    ref = _rows(out).set_index("key")["cycles"].to_dict()
    lines = out.read_text().splitlines()
    lines[1] = lines[1][: len(lines[1]) // 2]  # a torn row that still ends in a newline
    out.write_text("\n".join(lines) + "\n")
    rc, stdout, err = cli(*SMALL, "--out", out, "--json")
    assert rc == 0, err
    info = json.loads(stdout)
    assert (info["evaluated"], info["resumed"]) == (1, 1)
    assert _rows(out).set_index("key")["cycles"].to_dict() == ref


def test_nan_latency_row_recomputed(tmp_path):
    import pandas as pd

    out = _sweep_csv(tmp_path)
    df = pd.read_csv(out, dtype={"key": str})
    df.loc[0, "latency_s"] = float("nan")
    df.to_csv(out, index=False)
    info = json.loads(cli(*SMALL, "--out", out, "--json")[1])
    assert (info["evaluated"], info["resumed"]) == (1, 1)
    assert _rows(out)["latency_s"].notna().all()


def test_keys_stay_strings(tmp_path):
    """An all-digit key (possible for a hex hash) is not parsed as an int on resume."""
    from sim.search.sweep.store import CsvStore

    out = tmp_path / "r.csv"
    store = CsvStore(out)
    store.columns = ["key", "trace", "feasible", "status", "cycles", "latency_s"]
    row = {"key": "0123456789012345", "trace": "t", "feasible": True, "status": "ok",
           "cycles": 5, "latency_s": 1e-6}
    store._rewrite([row])
    store.close()
    rows = CsvStore(out, writable=False).read_rows()
    assert rows[0]["key"] == "0123456789012345"


def test_corrupt_parquet_part_recomputed(tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "r.parquet"
    rc, _, err = cli(*SMALL[:6], "array.rows=8", *SMALL[7:], "--out", out)
    assert rc == 0, err
    (out / "part-00000099-deadbeef.parquet").write_bytes(b"PAR1 garbage")
    rc, stdout, err = cli(*SMALL, "--out", out, "--json")
    assert rc == 0, err
    assert json.loads(stdout)["evaluated"] == 1
    assert len(_rows(out)) == 2 and len(list(out.glob("part-*.parquet"))) == 1


@pytest.mark.parametrize("content", [b"", b"PAR1", b"not parquet at all", b"\x00" * 100])
def test_plot_sweep_corrupt_parquet_file(tmp_path, content):
    path = tmp_path / "r.parquet"
    path.write_bytes(content)
    refused(["plot", "sweep", path, "--pareto", "latency_s,energy_j", "--out",
             tmp_path / "f.png"], "r.parquet")


@pytest.mark.parametrize("args", [["--z", "model", "--x", "array.rows", "--y", "trace"],
                                  ["--z", "cycles", "--x", "nope", "--y", "trace"],
                                  ["--pareto", "latency_s,trace"], ["--pareto", "latency_s"],
                                  ["--pareto", "latency_s,feasible"], ["--x", "array.rows"],
                                  ["--pareto", "a,b", "--dpi", "0"],
                                  ["--pareto", "a,b", "--dpi", "100000"],
                                  ["--pareto", "latency_s,energy_j", "--trace", "nope"]])
def test_plot_sweep_bad_columns(tmp_path, args):
    out = _sweep_csv(tmp_path)
    refused(["plot", "sweep", out, *args, "--out", tmp_path / "f.png"])
    assert not (tmp_path / "f.png").exists()


@pytest.mark.parametrize("ext", ["gif", "txt", "", "png/"])
def test_plot_sweep_bad_extension(tmp_path, ext):
    out = _sweep_csv(tmp_path)
    refused(["plot", "sweep", out, "--pareto", "latency_s,energy_j", "--out",
             f"{tmp_path}/f.{ext}"])


# -- 8. workers die with their parent ------------------------------------------------------

_PARENT = r"""
import sys, threading, time
sys.path.insert(0, sys.argv[2])
from sim.search.sweep.executors import ProcessExecutor
from hostile_slow import slow
if sys.argv[1] == "threaded":  # forces the forkserver start method
    threading.Thread(target=time.sleep, args=(100,), daemon=True).start()
ex = ProcessExecutor(2)
it = ex.imap(slow, None, [[1], [2], [3]])
time.sleep(0.5)
print(" ".join(str(p) for p in ex._pool._processes), flush=True)
next(it)
"""


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
@pytest.mark.parametrize("start", ["fork", "threaded"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_exit_when_parent_dies(tmp_path, start, sig):
    (tmp_path / "hostile_slow.py").write_text(
        "import time\ndef slow(ctx, batch):\n    time.sleep(60)\n    return batch\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", _PARENT, start, str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env)
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert len(workers) == 2 and all(_state(p) not in (None, "Z") for p in workers)
        os.kill(proc.pid, sig)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            alive = [p for p in workers if _state(p) not in (None, "Z")]
            if not alive:
                break
            time.sleep(0.05)
        assert not alive, f"workers {alive} outlived their parent by 5 s"
    finally:
        proc.kill()
        proc.wait()
        for p in workers if "workers" in locals() else []:
            if _state(p) not in (None, "Z"):
                os.kill(p, signal.SIGKILL)


# -- 9. Hypothesis: arbitrary values anywhere in arch and trace files ----------------------

_SCALARS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True,
                                                                 allow_infinity=True),
    st.booleans(), st.none(), st.text(max_size=300), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
_ARCH_PATHS = ["clock_mhz", "precision", "name", "array.rows", "array.cols", "array.dataflow",
               "array.fold_overlap", "memory.ifmap_kib", "memory.filter_kib",
               "memory.word_bytes", "dram.bandwidth_gbps", "dram.latency_cycles",
               "vector.lanes", "vector.overlap", "vector.cost.gelu", "platform",
               "energy_table.name", "schema_version"]


def _bad_number(v) -> bool:
    return isinstance(v, bool) or (isinstance(v, float) and not np.isfinite(v))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.sampled_from(_ARCH_PATHS), _SCALARS), min_size=1,
                      max_size=4))
def test_hypothesis_arch(edits):
    data = BASE_ARCH
    for key, value in edits:
        data = _set(data, key, value)
    try:
        arch = arch_from_dict(data, source="h.yaml")
    except ConfigError as exc:
        msg = str(exc)
        assert msg.startswith("h.yaml: ") and "\n" not in msg
        for problem in exc.problems:  # each value repr is cut to 200 characters
            assert len(problem) < 200 + 600, problem
        return
    except sim.errors.VitsimError:
        return  # ResourceError: a legal design that does not fit the board
    flat = [arch.clock_mhz, arch.array.rows, arch.array.cols, arch.memory.ifmap_kib,
            arch.memory.word_bytes, arch.dram.latency_cycles, arch.vector.lanes,
            arch.vector.cost.gelu]
    assert not any(_bad_number(v) for v in flat)
    bw = arch.dram.bandwidth_gbps
    assert bw is None or (not isinstance(bw, bool) and bw == bw and bw > 0)


_TRACE_PATHS = ["batch", "layers.0.tokens", "layers.0.mlp_hidden", "layers.0.index",
                "layers.0.attention", "layers.0.heads", "layers.3.tokens", "layers.11.heads",
                "schema_version", "name"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.sampled_from(_TRACE_PATHS), _SCALARS), min_size=1,
                      max_size=3))
def test_hypothesis_trace(edits):
    data = BASE_TRACE
    for key, value in edits:
        data = _set(data, key, value)
    try:
        trace = trace_from_dict(data, source="t.yaml")
    except TraceError as exc:
        assert str(exc).startswith("t.yaml: ") and "\n" not in str(exc)
        return
    assert isinstance(trace.batch, int) and not isinstance(trace.batch, bool)
    for lt in trace.layers:
        for v in (lt.tokens, lt.mlp_hidden, lt.index, *lt.heads):
            assert isinstance(v, int) and not isinstance(v, bool)
        assert 1 <= lt.mlp_hidden <= trace.model.mlp_hidden


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=400))
def test_hypothesis_any_text_is_an_arch_error_or_arch(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("h") / "a.yaml"
    path.write_text(text, encoding="utf-8")
    rc, out, err = cli("check", path)
    assert rc in (0, 2)
    if rc == 2:
        assert err.count("\n") == 1 and "Traceback" not in err


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=True),
                                 st.sampled_from(["abc", "true", "nan", "inf", "", "1e400"])),
                       min_size=1, max_size=4))
def test_hypothesis_grid_values(values):
    """A --grid value list is either all valid array.rows or refused before any work."""
    from sim.search.sweep.space import Space, parse_axis

    text = "array.rows=" + ",".join(str(v) for v in values)
    try:
        keys, vals = parse_axis(text)
        space = Space.grid({keys: vals}, source="--grid")
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    for p in space.points():
        v = p["array.rows"]
        assert isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096


def test_many_problems_are_counted_not_listed(tmp_path):
    data = trace_to_dict(model_trace("dinov2_g"))  # 40 blocks
    for layer in data["layers"]:
        layer.update(colour=1)
    err = refused(["check", _dump(tmp_path, data)], "... and 20 more problem(s) like these")
    assert err.count("unknown key") == 20


def test_long_layers_list_refused_fast(tmp_path):
    data = dict(BASE_TRACE, layers=BASE_TRACE["layers"] * 5_000)
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    t0 = time.perf_counter()
    refused(["check", path], "60000 entries; must be one per block")
    assert time.perf_counter() - t0 < 5.0


# -- 6. the second hostile pass (a fresh-eyes probe of 0.2.0) --------------------------------

SECOND_PASS = {
    "gemm-underscore-int": (["gemm", "--arch", "zcu102", "--m", "4_0", "--n", "4", "--k", "4"],
                            "must be an integer"),
    "gemm-non-ascii-digit": (["gemm", "--arch", "zcu102", "--m", "\u0664", "--n", "4", "--k",
                              "4"], "must be an integer"),
    "trace-dir-is-a-file": (RUN + ["--trace-dir", str(REPO / "pyproject.toml")],
                            "must be a folder"),
    "export-out-is-a-dir": (["export", "--model", "deit_tiny_patch16_224", "--out",
                             str(REPO / "docs")], "Is a directory"),
}


@pytest.mark.parametrize("case", sorted(SECOND_PASS))
def test_second_pass_refusals(case):
    argv, needle = SECOND_PASS[case]
    refused(argv, needle)


def test_exponent_floats_are_floats_in_set_and_files():
    rc, out, err = cli("gemm", "--arch", "zcu102", "--set", "dram.bandwidth_gbps=1e-6", "--m",
                       "4", "--n", "4", "--k", "4", "--json")
    assert rc == 0, err
    from sim.config.validate import parse_text

    assert parse_text("a: 1e2\nb: 1e-6\n", False, ValueError, "x") == {"a": 100.0, "b": 1e-6}


def test_scalesim_binary_cfg_and_huge_layer(tmp_path):
    cfg = tmp_path / "bin.cfg"
    cfg.write_bytes(bytes(range(256)) * 16)
    refused(["scalesim", "-c", cfg, "-t", REPO / "examples/data/deit_t_layer.csv", "-i", "gemm",
             "-p", tmp_path / "out"], "not UTF-8")
    topo = tmp_path / "huge.csv"
    topo.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                    "Channels, Num Filter, Strides,\nhuge, 100000, 100000, 3, 3, 512, 512, 1,\n")
    refused(["scalesim", "-c", REPO / "examples/data/scale.cfg", "-l",
             REPO / "examples/data/layout.csv", "-t", topo, "-p", tmp_path / "out"],
            "demand rows", max_s=5)


def test_plot_sweep_same_x_and_y(tmp_path):
    csv = tmp_path / "s.csv"
    rc, _, err = cli("sweep", "--arch", "zcu102", "--trace", "deit_t", "--mode", "analytic",
                     "--workers", "1", "--grid", "array.rows=8,16", "--out", csv)
    assert rc == 0, err
    refused(["plot", "sweep", csv, "--x", "array.rows", "--y", "array.rows", "--z",
             "latency_s", "--out", tmp_path / "p.png"], "two different columns")


def test_a_trace_given_twice_is_refused(tmp_path):
    refused(["sweep", "--arch", "zcu102", "--trace", "deit_t", "--trace", "deit_t", "--mode",
             "analytic", "--workers", "1", "--grid", "array.rows=8", "--out",
             tmp_path / "t.csv"], "given twice")


def test_per_point_sweeps_are_bounded_in_memory(tmp_path):
    refused(["sweep", "--arch", "zcu102", "--trace", "deit_t", "--mode", "analytic",
             "--random", "200000", "--range", "clock_mhz=100:300", "--out",
             tmp_path / "big.csv"], "write Parquet", max_s=10)
