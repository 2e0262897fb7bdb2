"""PIVOT Phase 2 (torch-free): efforts files, cascade maths, LEC / accuracy floor, seeds."""

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

import sim
from sim.errors import ConfigError, VitsimError
from sim.search.pivot import (
    accuracy_edp_front,
    cascade_curve,
    class_mean_entropy,
    pivot_search,
)
from sim.search.pivot.efforts import load_efforts, make_effort, save_efforts

HAND = "tests/data/pivot_efforts_hand.yaml"


def toy_cost(arch, trace):
    """Delay = kept attentions + 4 (s); energy = delay * rows / 16 (J)."""
    kept = sum(lt.attention for lt in trace.layers)
    delay = (kept + 4.0) * trace.batch
    return {"energy_j": delay * arch.array.rows / 16, "latency_s": delay,
            "batch": trace.batch}


@pytest.fixture
def hand(repo):
    return load_efforts(repo / HAND)


def search(efforts, **kw):
    kw.setdefault("space", {"array.rows": [32, 16]})
    return pivot_search("pivot_zcu102", efforts, evaluate=toy_cost, **kw)


# -- entropy and cascade --------------------------------------------------------------------

def test_class_mean_entropy_is_nan_safe():
    logits = np.array([[0.0, 0.0, 0.0, 0.0], [1000.0, 0.0, -1000.0, 5.0]])
    h = class_mean_entropy(logits)
    assert h[0] == pytest.approx(math.log(4) / 4)
    assert np.isfinite(h).all() and 0 <= h[1] < 1e-3


def test_cascade_curve_by_hand(hand):
    low, full = hand
    c = cascade_curve(low.entropy, low.correct, full.correct)
    assert c["n_low"].tolist() == list(range(1, 11))
    assert c["n_correct"].tolist() == [9, 9, 9, 9, 9, 8, 8, 7, 6, 6]


# -- the search respects LEC and accuracy floor exactly ----------------------------------------

@pytest.mark.parametrize("lec, drop, n_low, rows", [
    (0.5, 0.0, 5, 16),      # floor 9/10 allows k <= 5, LEC asks k >= 5
    (0.0, 0.0, 5, 16),      # largest feasible f_low wins
    (0.3, 0.1, 7, 16),      # floor 8/10 -> k <= 7
    (0.61, 0.1, 7, 16),     # LEC 0.61 -> k >= 7 (ceil), floor -> k <= 7
    (0.6, 0.3, 10, 16),     # floor 6/10: the low effort alone
])
def test_chosen_point_by_hand(hand, lec, drop, n_low, rows):
    res = search(hand, lec=lec, acc_drop=drop)
    c = res.chosen
    assert (c["n_low"], c["array.rows"]) == (n_low, rows)
    f = n_low / 10
    d = 6 + (1 - f) * 16
    assert c["latency_s"] == pytest.approx(d) and c["energy_j"] == pytest.approx(d)
    assert c["edp_per_inference_js"] == pytest.approx(d * d)
    assert c["edp_ratio"] == pytest.approx(256 / (d * d))
    assert c["f_low"] >= lec and c["accuracy"] >= 0.9 - drop - 1e-12


def test_costs_are_per_inference(hand):
    import dataclasses

    two = [dataclasses.replace(e, trace=dataclasses.replace(e.trace, batch=2)) for e in hand]
    a, b = search(hand, lec=0.5, acc_drop=0.0), search(two, lec=0.5, acc_drop=0.0)
    assert b.chosen["edp_per_inference_js"] == pytest.approx(a.chosen["edp_per_inference_js"]) == pytest.approx(196)


def test_infeasible_gives_none(hand):
    res = search(hand, lec=0.6, acc_drop=0.0)   # k >= 6 but k <= 5
    assert res.chosen is None
    assert not res.points["feasible"].any()
    assert (res.points.loc[res.points["n_low"] >= 6, "lec_ok"]).all()


def test_every_feasible_row_obeys_constraints(hand):
    res = search(hand, lec=0.3, acc_drop=0.1)
    p = res.points
    feas = p[p["feasible"]]
    assert (feas["f_low"] >= 0.3).all() and (feas["accuracy"] >= 0.8 - 1e-12).all()
    assert feas["edp_per_inference_js"].min() == pytest.approx(res.chosen["edp_per_inference_js"])
    # full model alone on each arch point is the baseline (edp_ratio 1)
    assert res.baseline["edp_ratio"].tolist() == [1.0, 1.0]
    assert set(res.baseline["array.rows"]) == {16, 32}


def test_per_image_objective(hand):
    res = search(hand, lec=0.5, acc_drop=0.0, objective="per_image")
    # f E_l D_l + (1 - f)(E_l + E_h)(D_l + D_h) at f = 0.5, rows 16
    assert res.chosen["edp_per_inference_js"] == pytest.approx(0.5 * 36 + 0.5 * 22 * 22)


def _brute(efforts, costs, lec, drop):
    """Slow reference: every pair, every threshold, every arch point."""
    full = max(efforts, key=lambda e: e.kept)
    floor_n = math.ceil((full.accuracy - drop) * full.n_inputs - 1e-9)
    need = math.ceil(lec * full.n_inputs - 1e-9)
    best = math.inf
    for _, r in costs.drop_duplicates("point_id").iterrows():
        cost = {row.effort: (row.energy_j, row.latency_s)
                for row in costs[costs.point_id == r.point_id].itertuples()}
        for e in efforts:  # singles
            n_low = 0 if e is full else e.n_inputs
            if n_low >= need and e.correct.sum() >= floor_n:
                best = min(best, cost[e.name][0] * cost[e.name][1])
        for lo, hi in itertools.permutations(efforts, 2):
            if lo.kept >= hi.kept:
                continue
            for th in np.unique(lo.entropy):
                exit_ = lo.entropy <= th
                n_ok = int((lo.correct & exit_).sum() + (hi.correct & ~exit_).sum())
                if exit_.sum() >= need and n_ok >= floor_n:
                    f = exit_.mean()
                    el, dl = cost[lo.name]
                    eh, dh = cost[hi.name]
                    best = min(best, (el + (1 - f) * eh) * (dl + (1 - f) * dh))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force(rng, seed):
    r = np.random.default_rng(seed)
    n = 60
    base = sim.model_trace("deit_t")
    efforts = []
    for name, skip, p in [("e4", range(1, 9), 0.6), ("e8", range(1, 5), 0.75),
                          ("full", [], 0.85)]:
        ent = np.round(r.random(n), 2)  # ties on purpose
        correct = r.random(n) < p + 0.2 * (ent < 0.5)
        efforts.append(make_effort(name, sim.skip_attention(base, list(skip)), ent, correct))
    res = search(efforts, lec=0.4, acc_drop=0.05, max_thresholds=8)
    want = _brute(efforts, res.costs, 0.4, 0.05)
    if math.isinf(want):
        assert res.chosen is None
    else:
        assert res.chosen["edp_per_inference_js"] == pytest.approx(want)


def test_pareto_front():
    # rows 1 and 3 are equal: both kept (the one tie rule of sim.search.pareto)
    df = pd.DataFrame({"edp_per_inference_js": [1, 2, 3, 2, 4], "accuracy": [0.5, 0.7, 0.6, 0.7, 0.9],
                       "feasible": [True, False, True, True, True]})
    assert accuracy_edp_front(df).index.tolist() == [0, 1, 3, 4]


def test_deterministic_for_seed(hand):
    space = {"array.rows": [8, 16, 32, 48], "array.cols": [16, 32], "array.dataflow":
             ["os", "ws"]}
    a = search(hand, lec=0.5, acc_drop=0.0, space=space, n_random=5, seed=3)
    b = search(hand, lec=0.5, acc_drop=0.0, space=space, n_random=5, seed=3)
    pd.testing.assert_frame_equal(a.points, b.points)
    assert a.chosen == b.chosen
    c = search(hand, lec=0.5, acc_drop=0.0, space=space, n_random=5, seed=4)
    assert not a.costs[["array.rows", "array.cols"]].equals(
        c.costs[["array.rows", "array.cols"]])


def test_bad_arguments(hand):
    with pytest.raises(ConfigError, match="lec = 1.5.*acc_drop = -1.*objective"):
        search(hand, lec=1.5, acc_drop=-1, objective="max")
    with pytest.raises(ConfigError, match="baseline = 'nope'"):
        search(hand, lec=0.5, baseline="nope")


def test_missing_energy_fails_clearly(hand):
    def no_energy(arch, trace):
        return {"latency_s": 1.0}

    with pytest.raises(VitsimError, match="needs energy"):
        pivot_search("pivot_zcu102", hand, lec=0.5, evaluate=no_energy)


def test_real_simulator(hand):
    """With the shipped energy model."""
    res = pivot_search("pivot_zcu102", hand, lec=0.5, acc_drop=0.0, mode="analytic")
    c = res.chosen
    assert c["n_low"] == 5 and c["edp_ratio"] > 1


# -- the efforts file -------------------------------------------------------------------------

def test_load_hand(hand):
    low, full = hand
    assert (low.kept, full.kept, low.skip) == (2, 12, tuple(range(1, 11)))
    assert low.accuracy == 0.6 and full.accuracy == 0.9


def test_bad_file_lists_every_problem(repo):
    with pytest.raises(ConfigError) as err:
        load_efforts(repo / "tests/data/pivot_efforts_bad.yaml")
    msg = str(err.value)
    for part in ["colour: unknown key", "exactly one of 'trace'", "not finite",
                 "not 0/1", "missing.npz", "duplicate name(s) ['low']",
                 "missing ['correct']"]:
        assert part in msg, part


def test_skip_out_of_range(tmp_path):
    f = tmp_path / "e.yaml"
    f.write_text("schema_version: 1\nbase: deit_t\nefforts:\n"
                 "  - {name: a, skip: [12], entropy: [0.1], correct: [true]}\n")
    with pytest.raises(ConfigError, match=r"efforts\[0\].skip = \[12\]"):
        load_efforts(f)


def test_save_roundtrip(tmp_path, hand):
    for inline in (False, True):
        path = save_efforts(tmp_path / f"e{inline}.yaml", hand, inline=inline)
        back = load_efforts(path)
        assert [e.name for e in back] == ["low", "full"]
        assert all(np.array_equal(a.entropy, b.entropy) and np.array_equal(a.correct, b.correct)
                   and a.trace.layers == b.trace.layers for a, b in zip(hand, back))


def test_npz_and_length_mismatch(tmp_path):
    np.savez(tmp_path / "a.npz", entropy=np.zeros(3), correct=np.ones(3, bool))
    np.savez(tmp_path / "b.npz", entropy=np.zeros(4))
    (tmp_path / "e.yaml").write_text(
        "schema_version: 1\nbase: deit_t\nefforts:\n"
        "  - {name: a, skip: [1], data: a.npz}\n"
        "  - {name: b, skip: [], data: b.npz}\n"
        "  - {name: c, skip: [], entropy: [0.1, 0.2], correct: [1, 0]}\n")
    with pytest.raises(ConfigError, match=r"missing array\(s\) \['correct'\].*same N"):
        load_efforts(tmp_path / "e.yaml")


# -- CLI --------------------------------------------------------------------------------------

def vitsim(monkeypatch, capsys, *argv):
    """Run the CLI in this process."""
    import sim.cli as cli

    rc = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_search_pivot_json(monkeypatch, capsys, repo, tmp_path):
    rc, out, err = vitsim(monkeypatch, capsys, "search", "pivot", "--arch", "pivot_zcu102",
                          "--efforts", repo / HAND, "--lec", "0.5", "--acc-drop", "0",
                          "--grid", "array.rows=16,32", "--mode", "analytic", "--json",
                          "--plot", tmp_path / "p.png", "--out", tmp_path / "points.csv")
    assert rc == 0, err
    res = json.loads(out)
    assert res["chosen"]["n_low"] == 5 and res["settings"]["lec"] == 0.5
    assert (tmp_path / "p.png").stat().st_size > 0
    assert len(pd.read_csv(tmp_path / "points.csv")) > 10


def test_cli_text(monkeypatch, capsys, repo):
    rc, out, err = vitsim(monkeypatch, capsys, "search", "pivot", "--arch", "pivot_zcu102",
                          "--efforts", repo / HAND, "--lec", "0.6", "--acc-drop", "0",
                          "--mode", "analytic")
    assert rc == 0 and "no point meets both" in out and "Pareto front" in out


def test_cli_bad_efforts(monkeypatch, capsys, repo):
    rc, out, err = vitsim(monkeypatch, capsys, "search", "pivot", "--arch", "pivot_zcu102",
                          "--efforts", repo / "tests/data/pivot_efforts_bad.yaml",
                          "--lec", "0.5")
    assert rc == 2 and "colour: unknown key" in err and err.count("\n") == 1


# -- three-effort cascades -----------------------------------------------------------------

def _brute3(efforts, costs, lec, drop, t3):
    """Slow reference for 3-effort cascades: per input, per threshold pair, per arch point."""
    from sim.search.pivot.phase2 import _grid

    full = max(efforts, key=lambda e: e.kept)
    floor_n = math.ceil((full.accuracy - drop) * full.n_inputs - 1e-9)
    need = math.ceil(lec * full.n_inputs - 1e-9)
    best = math.inf
    for pid in costs.point_id.unique():
        cost = {row.effort: (row.energy_j, row.latency_s)
                for row in costs[costs.point_id == pid].itertuples()}
        for lo, mi, hi in itertools.permutations(efforts, 3):
            if not lo.kept < mi.kept < hi.kept:
                continue
            for t1 in _grid(lo.entropy, t3):
                for t2 in _grid(mi.entropy, t3):
                    e = d = 0.0
                    ok = n_low = n_mid = 0
                    for i in range(lo.n_inputs):
                        if lo.entropy[i] <= t1:
                            n_low += 1
                            ok += lo.correct[i]
                        elif mi.entropy[i] <= t2:
                            n_mid += 1
                            ok += mi.correct[i]
                        else:
                            ok += hi.correct[i]
                    n_high = lo.n_inputs - n_low - n_mid
                    if n_mid == 0 or n_high == 0 or n_low < need or ok < floor_n:
                        continue
                    f_l, f_h = n_low / lo.n_inputs, n_high / lo.n_inputs
                    e = cost[lo.name][0] + (1 - f_l) * cost[mi.name][0] + f_h * cost[hi.name][0]
                    d = cost[lo.name][1] + (1 - f_l) * cost[mi.name][1] + f_h * cost[hi.name][1]
                    best = min(best, e * d)
    return best


@pytest.mark.parametrize("seed", [0, 1])
def test_three_effort_cascades_match_brute_force(seed):
    r = np.random.default_rng(seed)
    n = 40
    base = sim.model_trace("deit_t")
    efforts = []
    for name, skip, p in [("e4", range(1, 9), 0.6), ("e8", range(1, 5), 0.75),
                          ("full", [], 0.85)]:
        ent = np.round(r.random(n), 2)
        correct = r.random(n) < p + 0.2 * (ent < 0.5)
        efforts.append(make_effort(name, sim.skip_attention(base, list(skip)), ent, correct))
    res = search(efforts, lec=0.3, acc_drop=0.05, max_efforts=3)
    three = res.points[res.points["mid"] != ""]
    assert len(three) and set(three["mid"]) == {"e8"}
    feas = three[three["feasible"]]
    want = _brute3(efforts, res.costs, 0.3, 0.05, 24)
    got = feas["edp_per_inference_js"].min() if len(feas) else math.inf
    assert got == pytest.approx(want)
    two = search(efforts, lec=0.3, acc_drop=0.05)
    if two.chosen is not None and res.chosen is not None:  # more cascades can only help
        assert res.chosen["edp_per_inference_js"] <= two.chosen["edp_per_inference_js"]
    with pytest.raises(ConfigError, match="max_efforts"):
        search(efforts, lec=0.3, max_efforts=4)


def test_vit_dims_trace_edits(tmp_path):
    from sim.search.pivot.dims import vit_dims

    t = sim.skip_attention(sim.model_trace("deit_s"), [1, 3])
    n = vit_dims(t, embed_dim=192, mlp_ratio=2.0, depth=10)
    assert (n.model.embed_dim, n.model.head_dim, n.model.mlp_hidden, n.model.depth) == \
        (192, 32, 384, 10)
    assert len(n.layers) == 10 and [lt.index for lt in n.layers if not lt.attention] == [1, 3]
    deeper = vit_dims(t, depth=14)
    assert len(deeper.layers) == 14 and deeper.layers[-1].attention
    assert deeper.layers[-1].mlp_hidden == 1536
    # the simulator sees the new dimensions: half the width, ~1/4 of the GEMM MACs
    arch = sim.load_arch("zcu102")
    full = sim.simulate(arch, t, mode="analytic").summary["macs"]
    half = sim.simulate(arch, vit_dims(t, embed_dim=192), mode="analytic").summary["macs"]
    assert 0.2 < half / full < 0.4
    with pytest.raises(ConfigError, match="multiple of the 6 heads"):
        vit_dims(t, embed_dim=100)
    eff = tmp_path / "e.yaml"
    eff.write_text("schema_version: 1\nbase: deit_s\nefforts:\n"
                   "  - {name: small, skip: [1], dims: {embed_dim: 192, depth: 6}, "
                   "entropy: [0.1, 0.2], correct: [1, 0]}\n"
                   "  - {name: full, skip: [], entropy: [0.1, 0.3], correct: [1, 1]}\n")
    small, full_e = load_efforts(eff)
    assert small.trace.model.embed_dim == 192 and small.trace.model.depth == 6
    assert small.kept == 5 and full_e.kept == 12
    res = search([small, full_e], lec=0.5, acc_drop=0.5)
    assert res.settings["efforts"]["small"]["embed_dim"] == 192
    eff.write_text(eff.read_text().replace("depth: 6", "width: 6"))
    with pytest.raises(ConfigError, match="dims"):
        load_efforts(eff)
