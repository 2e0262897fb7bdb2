"""The vitsim CLI: run/gemm/check, --json purity, --set overrides, one-line errors."""

import json

import pytest


def test_run_json_is_one_object(cli):
    p = cli("run", "--arch", "zcu102", "--trace", "workloads/deit_s.yaml", "--json", check_rc=0)
    data = json.loads(p.stdout)
    assert data["model"] == "deit_s" and data["cycles"] > 0 and data["latency_s"] > 0
    assert p.stderr == ""


def test_run_table_and_outputs(cli, tmp_path):
    p = cli("run", "--arch", "scalesim_32x32", "--trace", "deit_t", "--out", tmp_path,
            "--format", "csv", "--format", "json", check_rc=0)
    assert "block11" in p.stdout and "utilization" in p.stdout
    assert {"summary.json", "ops.csv", "layers.csv", "ops.json", "layers.json"} <= {
        f.name for f in tmp_path.iterdir()}


def test_gemm_json_keys_and_set(cli):
    p = cli("gemm", "--arch", "scalesim_32x32", "--m", 197, "--n", 1152, "--k", 384,
            "--set", "array.dataflow=ws", "--json", check_rc=0)
    data = json.loads(p.stdout)
    for key in ("compute_cycles", "stall_cycles", "total_cycles", "macs", "utilization",
                "mapping_efficiency", "sram_ifmap_reads", "sram_filter_reads",
                "sram_ofmap_writes"):
        assert key in data
    assert data["compute_cycles"] - 1 == 125711 and data["dataflow"] == "ws"


def test_check(cli, repo):
    assert "ok (trace" in cli("check", "workloads/deit_s_topk3.yaml", check_rc=0).stdout
    assert "ok (arch" in cli("check", "arch_configs/zcu102.yaml", check_rc=0).stdout
    assert "zcu102" in cli("check", "--list", check_rc=0).stdout


@pytest.mark.parametrize("args, pattern", [
    (("gemm", "--arch", "zcu102", "--m", 4, "--n", 4, "--k", 4, "--set", "array.rows=0"),
     "array.rows = 0; must be an integer in [1, 4096]"),
    (("gemm", "--arch", "zcu102", "--m", 4, "--n", 4, "--k", 4, "--set", "array.dataflow=xs"),
     "array.dataflow = 'xs'"),
    (("run", "--arch", "nope", "--trace", "deit_s"), "neither an arch file nor a preset"),
    (("run", "--arch", "zcu102", "--trace", "missing.yaml"), "file not found"),
    (("gemm", "--arch", "zcu102", "--m", 0, "--n", 4, "--k", 4), "m = 0"),
    (("gemm", "--arch", "zcu102", "--m", 4), "required"),
])
def test_errors_one_line_exit_2(cli, args, pattern):
    p = cli(*args)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vitsim: error:") and pattern in lines[0]
    assert "Traceback" not in p.stderr and p.stdout == ""


def test_bad_trace_file_errors(cli, tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("schema_version: 1\nmodel: deit_s\nlayers:\n  - {index: 0, tokens: 0}\n")
    p = cli("check", bad)
    assert p.returncode == 2 and "tokens = 0" in p.stderr
    p = cli("check", bad, "--debug")
    assert "Traceback" in p.stderr
