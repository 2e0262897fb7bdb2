"""One way to name an arch or a trace: as_arch, as_trace, with_batch (API and CLI)."""

import pytest

import sim
from sim.errors import ConfigError, TraceError


def test_as_arch_takes_a_preset_a_path_or_an_arch(repo):
    a = sim.as_arch("zcu102")
    assert sim.as_arch("zcu102.yaml") == a == sim.as_arch(repo / "arch_configs/zcu102.yaml")
    b = sim.as_arch(a, overrides={"array.rows": 32})
    assert b.array.rows == 32 and a.array.rows == 64
    assert sim.load_arch is sim.as_arch


def test_as_arch_names_what_exists():
    with pytest.raises(ConfigError, match=r"neither an arch file nor a preset; presets are "
                                          r"\[.*'zcu102'\]"):
        sim.as_arch("zcu103")
    with pytest.raises(ConfigError, match="file not found"):
        sim.as_arch("no/such/arch.yaml")


def test_as_trace_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shipped = sim.as_trace("deit_s_topk3")
    assert shipped.layers[3].prune.method == "topk"
    assert sim.as_trace("deit_s_topk3.yaml") == shipped
    assert sim.as_trace("lvvit_s_pivot_low").model.name == "lvvit_s"
    assert sim.as_trace("deit_t") == sim.model_trace("deit_t")  # built-in, not shipped
    assert sim.as_trace(shipped) is shipped
    assert sim.as_trace("deit_t", batch=4).batch == 4


def test_shipped_workload_of_a_model_name_is_that_model():
    assert sim.as_trace("deit_s").layers == sim.model_trace("deit_s").layers


def test_as_trace_names_what_exists():
    with pytest.raises(TraceError, match=r"workloads are \[.*'deit_s_topk3'.*models are "
                                         r"\[.*'deit_t'"):
        sim.as_trace("deit_xl")
    with pytest.raises(TraceError, match="file not found"):
        sim.as_trace("missing.yaml")


@pytest.mark.parametrize("batch", [0, -4, True, 1.5, "2"])
def test_with_batch_refuses_what_is_not_a_positive_integer(batch):
    with pytest.raises(TraceError, match="batch = .*; must be an integer >= 1"):
        sim.with_batch(sim.model_trace("deit_t"), batch)


def test_simulate_by_names():
    a = sim.simulate("zcu102", "deit_s", mode="analytic").summary
    b = sim.simulate(sim.as_arch("zcu102"), sim.model_trace("deit_s"), mode="analytic").summary
    assert a["cycles"] == b["cycles"] and a["energy_j"] == b["energy_j"]


@pytest.mark.parametrize("batch", ["0", "-4"])
def test_cli_batch_below_one_is_one_line(cli, batch):
    p = cli("run", "--arch", "zcu102", "--trace", "deit_s", "--batch", batch, "--json")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "must be an integer >= 1" in p.stderr


def test_cli_shipped_workload_by_name_from_another_folder(cli, tmp_path):
    p = cli("run", "--arch", "zcu102", "--trace", "lvvit_s_pivot_low", "--mode", "analytic",
            "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert '"model": "lvvit_s"' in p.stdout
