"""Trace format v2: op lists load, validate, lower and simulate like v1."""

import json
import math

import pytest

import sim
from sim.errors import TraceError
from sim.workload import load_trace, lower, model_trace, save_trace
from sim.workload.ops_trace import (
    OpsTrace,
    load_ops_trace,
    ops_trace_from_dict,
    ops_trace_from_ops,
    ops_trace_to_dict,
    save_ops_trace,
)


def _v2_of(name, batch=1):
    t = model_trace(name, batch=batch)
    return ops_trace_from_ops(lower(t), model=t.model.name, depth=t.model.depth,
                              batch=batch, name=f"{name}_v2")


def _small():
    return {"schema_version": 2, "name": "tiny", "model": "tiny", "batch": 1, "depth": 1,
            "ops": [{"layer": -1, "op": "aten.convolution", "kind": "conv", "m": 64, "n": 8,
                     "k": 27, "count": 1, "module": "stem"},
                    {"layer": 0, "op": "aten.gelu", "kind": "vector", "elements": 512,
                     "vector_op": "gelu", "module": "blocks.0"},
                    {"layer": 1, "op": "aten.addmm", "kind": "gemm", "m": 1, "n": 10,
                     "k": 8, "count": 2, "module": "head"}]}


@pytest.mark.parametrize("name, batch", [("deit_t", 1), ("deit_s", 2), ("lvvit_s", 1)])
def test_v2_of_v1_lowering_simulates_identically(name, batch):
    v1 = model_trace(name, batch=batch)
    v2 = _v2_of(name, batch)
    a, b = sim.simulate("zcu102", v1), sim.simulate("zcu102", v2)
    assert b.summary["model"] == a.summary["model"]
    for key in ("cycles", "macs", "vector_cycles", "stall_cycles", "energy_j"):
        assert b.summary[key] == a.summary[key], key
    assert list(b.layers["name"]) == list(a.layers["name"])
    assert v2.macs == int(a.summary["macs"])


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_v2_file_round_trip(tmp_path, suffix):
    t = _v2_of("deit_t")
    path = save_ops_trace(t, tmp_path / f"x{suffix}")
    back = load_trace(path)  # sim.load_trace dispatches on schema_version
    assert isinstance(back, OpsTrace) and back.ops == t.ops
    assert sim.simulate("zcu102", path).summary["cycles"] == \
        sim.simulate("zcu102", t).summary["cycles"]
    assert save_trace(back, tmp_path / "y.json").exists()  # save_trace writes v2 too
    assert ops_trace_to_dict(load_trace(tmp_path / "y.json")) == ops_trace_to_dict(t)


def test_small_v2_conv_runs_on_array():
    t = ops_trace_from_dict(_small())
    r = sim.simulate("zcu102", t, mode="analytic")
    assert r.summary["macs"] == 64 * 8 * 27 + 2 * 10 * 8 == t.macs
    assert list(r.layers["name"]) == ["embed", "block0", "head"]
    assert list(r.ops["kind"]) == ["conv", "vector", "gemm"]


def _bad(mutate):
    d = _small()
    mutate(d)
    with pytest.raises(TraceError) as e:
        ops_trace_from_dict(d, source="bad.yaml")
    return str(e.value)


@pytest.mark.parametrize("mutate, expect", [
    (lambda d: d["ops"][0].update(kind="fft"), "bad.yaml: ops[0].kind = 'fft'; must be one of"),
    (lambda d: d["ops"][0].update(m=-3), "ops[0].m = -3; must be an integer in [1, "),
    (lambda d: d["ops"][2].update(count=0), "ops[2].count = 0; must be an integer in [1, "),
    (lambda d: d["ops"][0].pop("k"), "ops[0].k: missing required key"),
    (lambda d: d["ops"][0].update(n=True), "ops[0].n = True; must be an integer"),
    (lambda d: d["ops"][0].update(m=math.nan), "ops[0].m = 'nan'; must be an integer"),
    (lambda d: d["ops"][0].update(m=2.0), "ops[0].m = 2.0; must be an integer"),
    (lambda d: d["ops"][1].update(vector_op="fft"), "ops[1].vector_op = 'fft'; must be one"),
    (lambda d: d["ops"][1].update(elements=0), "ops[1].elements = 0; must be an integer in [1"),
    (lambda d: d["ops"][1].pop("elements"), "ops[1]: a vector op needs elements"),
    (lambda d: d["ops"][2].update(layer=5), "ops[2].layer = 5; must be an integer in [-1, 1]"),
    (lambda d: d["ops"][2].update(colour=1), "ops[2].colour: unknown key"),
    (lambda d: d["ops"][2].pop("kind"), "ops[2].kind: missing required key"),
    (lambda d: d.update(depth=-1), "depth = -1; must be an integer in [0, "),
    (lambda d: d.update(batch=True), "batch = True; must be an integer"),
    (lambda d: d.update(ops=[]), "ops = []; must be a non-empty list"),
    (lambda d: d.pop("model"), "model: missing required key"),
    (lambda d: d.update(schema_version=3), "schema_version = 3; must be 2"),
])
def test_bad_v2_is_one_line_naming_op_field_value_range(mutate, expect):
    msg = _bad(mutate)
    assert expect in msg, msg
    assert "\n" not in msg.strip()


def test_cli_check_and_run_accept_v2(cli, tmp_path):
    path = save_ops_trace(_v2_of("deit_t"), tmp_path / "deit_t_v2.yaml")
    out = cli("check", path, check_rc=0).stdout
    assert "ok (trace v2: deit_t" in out
    res = cli("run", "--arch", "zcu102", "--trace", path, "--mode", "analytic", "--json",
              check_rc=0)
    want = sim.simulate("zcu102", model_trace("deit_t"), mode="analytic").summary["cycles"]
    assert json.loads(res.stdout)["cycles"] == want
    err = cli("run", "--arch", "zcu102", "--trace", path, "--batch", "4", check_rc=2).stderr
    assert "must be 1 for a v2 trace" in err and len(err.strip().splitlines()) == 1
    d = ops_trace_to_dict(load_ops_trace(path))
    d["ops"][3]["m"] = -1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d))
    err = cli("check", bad, check_rc=2).stderr
    assert "ops[3].m = -1; must be an integer in [1" in err


def test_sweep_accepts_v2(tmp_path):
    from sim.search.sweep import resolve_traces, sweep, trace_hash

    t = _v2_of("deit_t")
    assert resolve_traces([t]) == [t]
    assert trace_hash(t) != trace_hash(_v2_of("deit_s"))
    path = save_ops_trace(t, tmp_path / "deit_t_v2.yaml")
    df = sweep("zcu102", [path, "deit_t"], {"array.rows": [16, 32]}, executor="inline",
               mode="analytic")
    by = df.set_index(["trace", "array.rows"])["latency_s"]
    for rows in (16, 32):  # the v2 of deit_t's lowering simulates exactly like deit_t
        assert by[("deit_t_v2", rows)] == by[("deit_t", rows)]
