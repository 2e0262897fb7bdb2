"""POMT schedule optimizer: curves, steps from the fold closed forms, the utility's choice,
accuracy sources, the Top-K/ToMe comparison, the figure, the CLI and the example."""

from __future__ import annotations

import importlib.util
import json
import time

import numpy as np
import pandas as pd
import pytest
from conftest import need

import sim
from sim.errors import ConfigError, TraceError
from sim.hw.dataflow import get_dataflow
from sim.search.pomt import choose, choose_joint, deployed_trace, find_steps, latency_curve
from sim.search.pomt.accuracy import default_accuracy_path, load_accuracy, resolve_accuracy
from sim.search.pomt.compare import compare, match_tome, match_topk, mean_tokens, topk_trace
from sim.workload import input_tokens, lower


@pytest.fixture(scope="module")
def arch32():
    return sim.load_arch("scalesim_32x32")


@pytest.fixture(scope="module")
def deit_s():
    return sim.model_trace("deit_s", batch=1)


@pytest.fixture(scope="module")
def curve32(arch32, deit_s):
    return latency_curve(arch32, deit_s)


def _fold_changes(arch, make_trace, tokens):
    """n where the lowered GEMMs' total folds differ between n and n+1 (closed forms)."""
    df = get_dataflow(arch.array.dataflow)

    def folds(n):
        ops = lower(make_trace(n))
        g = ops.is_gemm
        return int((df.folds(ops.m[g], ops.n[g], ops.k[g], arch.array.rows, arch.array.cols)
                    * ops.count[g]).sum())

    f = {n: folds(n) for n in tokens}
    return [n for n in tokens[:-1] if f[n + 1] != f[n]]


# --- curves -----------------------------------------------------------------------------

def test_curve_columns_and_speed(arch32, deit_s, curve32):
    assert list(curve32["tokens"]) == list(range(2, 198))
    assert (curve32["R"] == 197 - curve32["tokens"]).all()
    assert (curve32["prune_layer"] == -1).all()
    assert curve32.attrs["metric"] == "latency_s" and curve32.attrs["curve"] == "input"
    base = sim.simulate(arch32, deit_s, mode="analytic").summary["latency_s"]
    assert curve32["latency_s"].iloc[-1] == pytest.approx(base)  # n = 197: unpruned
    t0 = time.perf_counter()
    latency_curve(arch32, deit_s)
    assert time.perf_counter() - t0 < 3.0  # ~0.3 s on an idle core; generous when shared


def test_deployed_curve_includes_prune_op(arch32, deit_s):
    c = latency_curve(arch32, deit_s, prune_layer=3, tokens=[141, 196, 197])
    assert c.attrs["curve"] == "deployed" and list(c["R"]) == [56, 1, 0]
    rep = sim.simulate(arch32, deployed_trace(deit_s, 3, 141), mode="analytic")
    assert c["latency_s"].iloc[0] == pytest.approx(rep.summary["latency_s"])
    assert "pomt_merge" in rep.ops["op"].tolist()
    # pruning one token crosses no fold boundary: the op's cost makes it slower
    assert c["latency_s"].iloc[1] > c["latency_s"].iloc[2]


def test_curve_bad_inputs(arch32, deit_s):
    with pytest.raises(ConfigError, match="metric must be one of"):
        latency_curve(arch32, deit_s, metric="flops")
    with pytest.raises(TraceError, match="prune_layer"):
        latency_curve(arch32, deit_s, prune_layer=12)
    with pytest.raises(TraceError, match="tokens must be integers"):
        latency_curve(arch32, deit_s, tokens=[0, 5])


def test_missing_metric_is_a_clear_error(arch32, deit_s):
    def no_energy(arch, trace):  # an evaluator without an energy model
        s = sim.simulate(arch, trace, mode="analytic").summary
        return {k: v for k, v in s.items() if k not in ("energy_j", "edp_per_inference_js")}

    with pytest.raises(ConfigError, match="'edp_per_inference_js' is not in the simulator's report"):
        latency_curve(arch32, deit_s, tokens=[100], metric="edp_per_inference_js", evaluate=no_energy)


def test_energy_metrics_when_present(arch32, deit_s):
    rep = sim.simulate(arch32, deit_s, mode="analytic")
    if "edp_per_inference_js" not in rep.summary:
        pytest.skip("energy model not in this build")
    c = latency_curve(arch32, deit_s, tokens=range(120, 198), metric="edp_per_inference_js")
    assert np.allclose(c["edp_per_inference_js"], c["energy_j"] * c["latency_s"])
    s = choose(c, {n: 80.0 for n in range(1, 198)})
    assert s.pruned_edp_js < s.baseline_edp_js


# --- steps --------------------------------------------------------------------------------

def test_steps_are_fold_changes_input_curve(arch32, deit_s, curve32):
    expected = _fold_changes(arch32, lambda n: input_tokens(deit_s, n), list(range(2, 197)))
    assert expected == [32, 64, 96, 128, 160, 192]
    assert find_steps(curve32) == expected


def test_steps_are_fold_changes_deployed_curve(arch32, deit_s):
    c = latency_curve(arch32, deit_s, prune_layer=3)
    expected = _fold_changes(arch32, lambda n: deployed_trace(deit_s, 3, n),
                             list(range(2, 197)))
    assert find_steps(c) == expected


def test_steps_move_with_batch(arch32):
    c = latency_curve(arch32, "deit_s", batch=8, tokens=range(150, 198))
    steps = find_steps(c)
    assert steps and all(n % 4 == 0 for n in steps)  # ceil(8n/32): a fold every 4 tokens


def test_step_threshold_k(curve32):
    assert find_steps(curve32, k=1e9) == []
    assert len(find_steps(curve32, k=0.5)) > len(find_steps(curve32))


# --- the choice -----------------------------------------------------------------------

def test_choice_sits_on_a_step(curve32):
    s = choose(curve32)  # the shipped illustrative table
    assert 0 < s.R < 195
    assert s.tokens_keep in s.steps and s.on_step
    assert s.steps_exploited and all(s.tokens_keep <= n < 197 for n in s.steps_exploited)
    # largest n on its step: one token more costs a whole fold
    lat = curve32.set_index("tokens")["latency_s"]
    assert lat[s.tokens_keep + 1] - lat[s.tokens_keep] > 10 * (
        lat[s.tokens_keep] - lat[s.tokens_keep - 1])
    # a linear accuracy also lands on a step
    s2 = choose(curve32, lambda n: 40 + 0.2 * n)
    assert s2.tokens_keep in s2.steps


def test_choice_reports_deployed_latency(arch32, deit_s, curve32):
    s = choose(curve32, deploy_layer=3)
    dep = sim.simulate(arch32, deployed_trace(deit_s, 3, s.tokens_keep), mode="analytic")
    assert s.pruned_latency_s == pytest.approx(dep.summary["latency_s"])
    assert s.proxy_latency_s == pytest.approx(
        curve32.set_index("tokens")["latency_s"][s.tokens_keep])
    assert s.pruned_latency_s > s.proxy_latency_s  # blocks 0-3 still run at 197
    assert s.speedup == pytest.approx(s.baseline_latency_s / s.pruned_latency_s)
    assert s.prune_layer == 3 and s.R == 197 - s.tokens_keep


def test_constant_accuracy_picks_deepest_cut(curve32):
    s = choose(curve32, lambda n: 79.8)
    assert s.tokens_keep == curve32["tokens"].min() and s.R == 195


def test_steep_accuracy_picks_no_pruning(curve32):
    s = choose(curve32, lambda n: 79.8 * (n / 197) ** 40)
    assert s.R == 0 and s.tokens_keep == 197
    assert s.speedup == pytest.approx(1.0)
    assert s.steps_exploited == ()


def test_alpha_extremes(curve32):
    assert choose(curve32, alpha=0.0).R == 0  # accuracy only
    assert choose(curve32, alpha=1.0).tokens_keep == 2  # latency only
    with pytest.raises(ConfigError, match="alpha"):
        choose(curve32, alpha=1.5)


def test_schedule_json_fields(curve32):
    d = choose(curve32).to_dict()
    for key in ("tokens_keep", "R", "prune_layer", "baseline_latency_s", "pruned_latency_s",
                "speedup", "steps"):
        assert key in d
    json.dumps(d)


def test_joint_choice(arch32, deit_s):
    s = choose_joint(arch32, deit_s, layers=[1, 3, 6, 11], tokens=range(60, 198, 4))
    t = s.table
    assert set(t["prune_layer"]) == {1, 3, 6, 11}
    assert s.utility == pytest.approx(t["utility"].max())
    assert s.curve == "joint" and s.prune_layer in (1, 3, 6, 11)
    assert s.tokens_keep == t.iloc[int(t["utility"].to_numpy().argmax())]["tokens"]


def test_joint_needs_per_layer_accuracy(arch32, deit_s):
    with pytest.raises(ConfigError, match="accuracy per prune layer"):
        choose_joint(arch32, deit_s, {n: 70.0 for n in range(1, 198)}, layers=[3])
    s = choose_joint(arch32, deit_s, lambda n, layer: 60 + 0.1 * n + layer, layers=[2, 5],
                     tokens=[100, 150, 197])
    assert s.prune_layer in (2, 5)


# --- accuracy sources -----------------------------------------------------------------

def test_shipped_table_is_labelled_illustrative():
    path = default_accuracy_path()
    head = "".join(line for line in path.read_text().splitlines()[:5])
    assert "ILLUSTRATIVE" in head and "SYNTHETIC" in head
    src = resolve_accuracy(None)
    assert src.illustrative and src.per_layer
    a = src.values(np.arange(2, 198), -1)
    assert np.all(np.diff(a) >= 0) and a[-1] == pytest.approx(79.8)
    assert src.values([141], 3)[0] > src.values([141], -1)[0]  # later pruning hurts less


def test_csv_table_interpolates_and_validates(tmp_path):
    p = tmp_path / "acc.csv"
    p.write_text("# measured\ntokens,top1\n100,60\n197,80\n")
    src = load_accuracy(p)
    assert not src.per_layer and not src.illustrative
    assert src.values([100, 197, 148], 3).tolist() == pytest.approx([60, 80, 69.896907])
    with pytest.raises(ConfigError, match="covers tokens 100..197"):
        src.values([50])
    bad = tmp_path / "bad.csv"
    bad.write_text("tokens,top1,foo\n1,x,2\n1,3,4\n")
    with pytest.raises(ConfigError) as err:
        load_accuracy(bad)
    assert "unknown column" in str(err.value) and "top1 must be numbers" in str(err.value)
    layered = tmp_path / "layered.csv"
    layered.write_text("prune_layer,tokens,top1\n3,2,1\n3,197,80\n")
    with pytest.raises(ConfigError, match="no rows for prune_layer = 5"):
        load_accuracy(layered).values([100], 5)


def test_accuracy_source_types():
    assert resolve_accuracy({2: 1.0, 197: 80.0}).values([2])[0] == 1.0
    assert resolve_accuracy(pd.DataFrame({"tokens": [1, 9], "top1": [0, 8]})).values([5])[0] == 4
    one = resolve_accuracy(lambda n: n / 2)
    two = resolve_accuracy(lambda n, layer: layer)
    assert not one.per_layer and two.per_layer and two.values([3], 7)[0] == 7
    with pytest.raises(ConfigError, match="accuracy must be"):
        resolve_accuracy(3.5)
    with pytest.raises(ConfigError, match=">= 0"):
        resolve_accuracy(lambda n: -1).values([4])


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad:UserWarning")
def test_digits_accuracy_source(arch32, deit_s, tmp_path):
    need("torch")
    need("timm")
    need("sklearn")
    if importlib.util.find_spec("sim.torch.digits") is None or \
            importlib.util.find_spec("sim.torch.transforms") is None:
        pytest.skip("sim.torch.digits / transforms not in this build")
    from sim.search.pomt.accuracy import DigitsAccuracy
    from sim.torch.digits import cache_dir, load_digits_vit

    if list(cache_dir().glob("digits_vit_*seed0_ep20.pt")):
        model, data = load_digits_vit(seed=0)  # the cached, fully trained model
    else:  # train a 1-epoch model (real but weak) rather than 20 epochs in a test
        model, data = load_digits_vit(seed=0, epochs=1, cache=tmp_path)
    src = DigitsAccuracy(model=model, data=data)
    assert src.accuracy(197, 3) == pytest.approx(src.accuracy(194, 3))  # R maps to 0 of 16
    c = latency_curve(arch32, deit_s, tokens=[120, 160])
    s = choose(c, src)
    assert s.tokens_keep in (120, 160, 197) and 0 <= s.accuracy_pruned <= 100
    assert s.accuracy_source.startswith("digits")
    j = choose_joint(arch32, deit_s, src, layers=[3, 9], tokens=[120])
    assert j.prune_layer in (3, 9)


# --- comparison ---------------------------------------------------------------------

def test_budget_matching(deit_s):
    assert mean_tokens(deit_s) == 197
    target = mean_tokens(deployed_trace(deit_s, 3, 141))
    rate, r = match_topk(deit_s, target), match_tome(deit_s, target)
    assert abs(mean_tokens(topk_trace(deit_s, rate)) - target) < 1.0
    assert abs(mean_tokens(sim.tome_trace(deit_s, r)) - target) < 3.5  # integer r
    t = topk_trace(deit_s, 0.7)
    assert [lt.tokens_after for lt in t.layers][3:10:3] == [139, 98, 69]  # EViT 0.7


def test_compare_costs_bookkeeping_and_shows_slowdown():
    # a weak-vector / WS big array: ToMe's per-block similarity GEMM and matching cost more
    # than a light token budget saves -> slower than no pruning (the paper's effect)
    arch = sim.load_arch("tpu_v1_like")
    trace = sim.model_trace("deit_s", batch=1)
    df = compare(arch, trace, budgets={"light": mean_tokens(sim.tome_trace(trace, 1))})
    by = df.set_index("method")
    assert by.loc["none", "speedup"] == 1.0 and by.loc["none", "overhead_cycles"] == 0
    assert (by.loc[["pomt", "topk", "tome"], "overhead_cycles"] > 0).all()
    assert by.loc["tome", "slower"] and by.loc["tome", "speedup"] < 1.0
    assert by.loc["pomt", "speedup"] > 1.0 and by.loc["topk", "speedup"] > 1.0


def test_compare_pomt_budget(arch32, deit_s):
    df = compare(arch32, deit_s, tokens_keep=128)
    assert list(df["method"]) == ["none", "pomt", "topk", "tome"]
    assert df.loc[df["method"] == "pomt", "setting"].iloc[0] == "R=69 @ block 3"
    assert (df["mean_tokens"].iloc[1:] - df["target_tokens"].iloc[1:]).abs().max() < 3.5


# --- figure, CLI, example -----------------------------------------------------------

def test_plot(curve32, arch32, deit_s, tmp_path):
    import matplotlib.figure

    from sim.plot.pomt import curve

    s = choose(curve32)
    fig = curve(curve32, s)
    assert isinstance(fig, matplotlib.figure.Figure)
    fig.savefig(tmp_path / "c.png")
    j = choose_joint(arch32, deit_s, layers=[0, 3], tokens=range(100, 198, 8))
    assert isinstance(curve(j.table, j), matplotlib.figure.Figure)
    with pytest.raises(ConfigError, match="one prune layer"):
        curve(j.table)


def _cli(monkeypatch, capsys, *argv):
    import sim.cli as cli

    rc = cli.main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_json_and_plot(monkeypatch, capsys, tmp_path):
    png = tmp_path / "curve.png"
    rc, out, err = _cli(monkeypatch, capsys, "schedule", "--arch", "scalesim_32x32",
                        "--model", "deit_s", "--json", "--plot", str(png), "--compare",
                        "--illustrative")
    assert rc == 0, err
    d = json.loads(out)
    assert d["tokens_keep"] in d["steps"] and d["R"] == 197 - d["tokens_keep"]
    assert d["prune_layer"] == 3 and d["speedup"] > 1
    assert d["baseline_latency_s"] / d["pruned_latency_s"] == pytest.approx(d["speedup"])
    assert [r["method"] for r in d["comparison"]] == ["none", "pomt", "topk", "tome"]
    assert png.stat().st_size > 10_000
    assert d["accuracy_source"] == "illustrative"
    assert "ILLUSTRATIVE" in d["accuracy_source_name"]
    assert {r["tokens"] for r in d["accuracy_table"]} == set(range(2, 198))


def test_cli_text_joint_and_errors(monkeypatch, capsys, tmp_path):
    rc, out, _ = _cli(monkeypatch, capsys, "schedule", "--arch", "edge_16x16", "--model",
                      "deit_s", "--joint", "--layers", "2,3", "--illustrative")
    assert rc == 0 and "POMT schedule" in out and "steps of latency_s(n)" in out
    rc, _, err = _cli(monkeypatch, capsys, "schedule", "--arch", "edge_16x16", "--model",
                      "deit_s", "--alpha", "2", "--illustrative")
    assert rc == 2 and "alpha must be" in err and err.count("\n") == 1
    rc, _, err = _cli(monkeypatch, capsys, "schedule", "--arch", "edge_16x16", "--model",
                      "deit_b", "--illustrative")
    assert rc == 2 and "must not be used for deit_b" in err
    rc, _, err = _cli(monkeypatch, capsys, "schedule", "--arch", "edge_16x16", "--model",
                      "deit_s")  # the synthetic table is never a silent default
    assert rc == 2 and "must be --measure" in err
    acc = tmp_path / "a.csv"
    acc.write_text("tokens,top1\n2,1\n197,80\n")
    rc, out, err = _cli(monkeypatch, capsys, "schedule", "--arch", "edge_16x16", "--model",
                        "deit_b", "--accuracy", str(acc), "--curve", "deployed", "--json")
    assert rc == 0, err
    assert json.loads(out)["curve"] == "deployed"


def test_example_small(tmp_path, repo, capsys):
    spec = importlib.util.spec_from_file_location("pomt_example",
                                                  repo / "examples" / "pomt_schedule.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main([str(tmp_path), "--small", "--table"]) == 0
    assert (tmp_path / "pomt_scalesim_32x32_b1.png").is_file()
    out = capsys.readouterr().out
    assert "| scalesim_32x32 | 1 |" in out
