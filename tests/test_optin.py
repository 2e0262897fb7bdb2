"""OPTIN: cost tables, the two solvers, the budget loop, and the torch importance.

The torch part checks the batched trajectory importance against a slow, obvious loop (one
deep-copied model per unit, weights zeroed, full forward, Gram matrices built explicitly).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import need

import sim
from sim.errors import ConfigError
from sim.search.optin import (
    Budget,
    Selection,
    apply_selection,
    cost_tables,
    optin_search,
    parse_budget,
    select_knapsack,
    select_optin,
)
from sim.workload import ModelSpec, full_trace

SPEC = ModelSpec("tiny_vit", depth=3, embed_dim=32, num_heads=2, head_dim=16, mlp_hidden=24,
                 patch_size=2, image_size=8, num_classes=10, in_chans=1)


@pytest.fixture(scope="module")
def trace():
    return full_trace(SPEC)


@pytest.fixture(scope="module")
def tables(trace):
    return {m: cost_tables("edge_16x16", trace, m) for m in ("latency_s", "macs")}


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ------------------------------------------------------------------ torch-free

def test_parse_budget():
    assert parse_budget("latency=0.7") == Budget("latency_s", 0.7)
    assert parse_budget("edp=0.5").metric == "edp_per_inference_js"
    assert parse_budget("macs=1").fraction == 1.0
    for bad in ("latency", "speed=0.5", "latency=0", "latency=1.5", "macs=abc"):
        with pytest.raises(ConfigError):
            parse_budget(bad)


def test_mac_tables_are_optins_cost_model(tables):
    n, d, dh, H = SPEC.tokens, SPEC.embed_dim, SPEC.head_dim, SPEC.num_heads
    head = 3 * n * d * dh + 2 * n * n * dh + n * dh * d
    t = tables["macs"]
    np.testing.assert_allclose(t.attn[:, 1:] , (np.arange(1, H + 1) - H) * head + 0 * t.attn[:, 1:])
    m = np.arange(1, SPEC.mlp_hidden + 1)
    np.testing.assert_allclose(t.mlp[:, 1:], (m - SPEC.mlp_hidden) * 2 * n * d + 0 * t.mlp[:, 1:])
    assert np.isinf(t.mlp[:, 0]).all()


def test_tables_predict_simulated_latency(trace, tables, rng):
    t = tables["latency_s"]
    for _ in range(10):
        h = rng.integers(0, SPEC.num_heads + 1, SPEC.depth)
        m = rng.integers(1, SPEC.mlp_hidden + 1, SPEC.depth)
        sel = Selection(tuple(tuple(range(k)) for k in h), tuple(tuple(range(k)) for k in m),
                        0.0, 0.0, "test")
        real = sim.simulate("edge_16x16", apply_selection(trace, sel), mode="analytic")
        assert t.predict(h, m) == pytest.approx(real.summary["latency_s"], rel=1e-9)


def test_latency_has_tile_steps(tables):
    """edge_16x16: fc1's output columns fold every 16 neurons, fc2 streams K linearly."""
    step = np.diff(tables["latency_s"].mlp[0, 1:])
    assert len(set(np.round(step, 15))) > 1
    assert np.argmax(step) % 16 == 15  # the largest jump crosses 16k -> 16k+1


def _brute(hi, ni, t, budget, min_heads=0, min_neurons=1):
    L, H = hi.shape
    M = ni.shape[1]
    hs = np.sort(hi, 1)[:, ::-1].cumsum(1)
    ns = np.sort(ni, 1)[:, ::-1].cumsum(1)
    best = -np.inf
    for hh in itertools.product(range(min_heads, H + 1), repeat=L):
        for mm in itertools.product(range(min_neurons, M + 1), repeat=L):
            if t.predict(np.array(hh), np.array(mm)) <= budget:
                v = sum(hs[i, k - 1] if k else 0 for i, k in enumerate(hh))
                v += sum(ns[i, k - 1] for i, k in enumerate(mm))
                best = max(best, v)
    return best


def test_knapsack_is_optimal_on_small_grid(rng):
    from sim.search.optin import CostTables

    L, H, M = 2, 2, 4
    attn = np.concatenate([rng.integers(-9, 0, (L, H)), np.zeros((L, 1))], 1)
    attn[:, :H] = np.sort(attn[:, :H], 1)
    mlp = np.concatenate([np.full((L, 1), np.inf),
                          np.sort(rng.integers(-9, 0, (L, M - 1)), 1), np.zeros((L, 1))], 1)
    t = CostTables("cycles", 100.0, attn.astype(float), mlp.astype(float), quantum=1.0)
    for _ in range(5):
        hi, ni = rng.random((L, H)), rng.random((L, M))
        budget = 100.0 - rng.integers(3, 20)
        sel = select_knapsack(hi, ni, t, budget, bins=400)
        assert sel.predicted <= budget
        assert sel.importance == pytest.approx(_brute(hi, ni, t, budget))


def test_optin_solver_matches_released_loop(tables, rng):
    """Constant MAC costs: SEARCH = the released code's loop (k from 1, stop at misfit)."""
    t = tables["macs"]
    hi, ni = rng.random((SPEC.depth, SPEC.num_heads)), rng.random((SPEC.depth, SPEC.mlp_hidden))
    head_mac, neuron_mac = -t.attn[0, 0] / SPEC.num_heads, -t.mlp[0, 1] / (SPEC.mlp_hidden - 1)
    fixed = t.base + t.attn[:, 0].sum() + t.mlp[:, 1].sum()  # min_neurons = 1 forced
    for frac in (0.3, 0.6, 0.9):
        budget = frac * t.base
        sel = select_optin(hi, ni, t, budget)
        # released loop over the units beyond the forced minimum neuron of each layer
        hv = np.sort(hi.ravel())[::-1]
        nrest = np.sort(ni, 1)[:, ::-1][:, 1:]
        nv = np.sort(nrest.ravel())[::-1]
        best = -1
        for k in range(1, hv.size + 1):
            room = budget - fixed - k * head_mac
            if room < 0:
                continue
            j = min(int(np.floor(room / neuron_mac + 1e-9)), nv.size)
            best = max(best, hv[:k].sum() + nv[:j].sum())
        assert sel.importance - np.sort(ni, 1)[:, -1].sum() == pytest.approx(best)
        assert sel.predicted <= budget


def test_knapsack_beats_or_ties_optin(trace, tables, rng):
    hi, ni = rng.random((SPEC.depth, SPEC.num_heads)), rng.random((SPEC.depth, SPEC.mlp_hidden))
    for frac in (0.5, 0.7, 0.9):
        a = optin_search(hi, ni, "edge_16x16", trace, f"latency={frac}", solver="optin",
                         tables=tables["latency_s"])
        b = optin_search(hi, ni, "edge_16x16", trace, f"latency={frac}", solver="knapsack",
                         tables=tables["latency_s"])
        for r in (a, b):
            assert r.achieved <= frac + 1e-12
            assert r.summary["latency_s"] == pytest.approx(r.selection.predicted)
        assert b.selection.importance >= a.selection.importance - 1e-3 * abs(a.selection.importance)


def test_optin_fill_variants_stay_in_budget(tables, rng):
    t = tables["latency_s"]
    hi, ni = rng.random((SPEC.depth, SPEC.num_heads)), rng.random((SPEC.depth, SPEC.mlp_hidden))
    for frac in (0.5, 0.8):
        stop = select_optin(hi, ni, t, frac * t.base)
        for kw in (dict(fill="skip"), dict(fill_slack=True)):
            sel = select_optin(hi, ni, t, frac * t.base, **kw)
            assert sel.predicted <= frac * t.base * (1 + 1e-12)
            assert sel.importance >= stop.importance - 1e-12


def test_apply_selection_and_keep_sets(trace):
    sel = Selection(((1,), (), (0, 1)), ((0, 5), tuple(range(24)), (3,)), 0.0, 0.0, "t")
    t = apply_selection(trace, sel)
    assert [lt.heads for lt in t.layers] == [(1,), (), (0, 1)]
    assert [lt.attention for lt in t.layers] == [True, False, True]
    assert [lt.mlp_hidden for lt in t.layers] == [2, 24, 1]
    assert sel.keep_sets()["neurons"][0] == [0, 5]


def test_budget_below_floor_and_bad_args(trace, tables, rng):
    hi, ni = rng.random((3, 2)), rng.random((3, 24))
    with pytest.raises(ConfigError):
        optin_search(hi, ni, "edge_16x16", trace, "latency=0.01", tables=tables["latency_s"])
    with pytest.raises(ConfigError):
        optin_search(hi, ni[:, :5], "edge_16x16", trace, "latency=0.5",
                     tables=tables["latency_s"])
    with pytest.raises(ConfigError):
        optin_search(hi, ni, "edge_16x16", trace, "latency=0.5", solver="greedy",
                     tables=tables["latency_s"])
    with pytest.raises(ConfigError):
        optin_search(hi, ni, "edge_16x16", trace, "latency=0.5", tables=tables["macs"])


def test_width_grid_snaps_to_array_edge(trace, rng):
    t = cost_tables("edge_16x16", trace, "latency_s", width_grid=16)
    hi, ni = rng.random((3, 2)), rng.random((3, 24))
    r = optin_search(hi, ni, "edge_16x16", trace, "latency=0.7", tables=t)
    assert all(w % 16 == 0 or w == 24 for w in r.selection.widths)
    with pytest.raises(ConfigError):
        select_optin(hi, ni, t, 0.7 * t.base)


def test_cli_parses_prune_optin():
    from sim.cli import build_parser

    args = build_parser().parse_args(["prune", "optin", "--model", "digits", "--arch",
                                      "zcu102", "--budget", "latency=0.7", "--json"])
    assert args.prune_method == "optin" and args.json and callable(args.func)


# ------------------------------------------------------------------ torch

@pytest.fixture(scope="module")
def tiny():
    torch = need("torch")
    need("timm")
    from timm.models.vision_transformer import VisionTransformer

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = VisionTransformer(img_size=8, patch_size=2, in_chans=1, num_classes=10,
                              embed_dim=16, depth=2, num_heads=2, mlp_ratio=1).eval()
    x = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    return model, x


def _slow_importance(model, x, opts):
    """One deep copy per unit: zero the head's proj columns / the neuron's fc1 row."""
    import copy

    import torch

    from sim.torch.importance import _rows, forward_embeddings, kd_loss, md_loss

    _, feats, logits = forward_embeddings(model, x, opts.embeddings)
    L = len(model.blocks)
    B, N = x.shape[0], feats[1].shape[1]
    idx = torch.randperm(B * N, generator=torch.Generator().manual_seed(opts.seed))
    idx = idx[:min(opts.gram_rows, B * N)]

    def score(m, layer):
        _, f, lg = forward_embeddings(m, x, opts.embeddings)
        md = sum(float(md_loss(_rows(f[z], idx), _rows(feats[z], idx), opts.aggregate))
                 for z in range(layer + 1, L + 1))
        return md, float(kd_loss(lg, logits, opts.temperature, opts.soften_logits))

    H, dh = model.blocks[0].attn.num_heads, model.blocks[0].attn.head_dim
    M = model.blocks[0].mlp.fc1.out_features
    out = {k: np.zeros((L, n)) for k, n in (("md_heads", H), ("kd_heads", H),
                                            ("md_neurons", M), ("kd_neurons", M))}
    for layer in range(L):
        for h in range(H):
            m = copy.deepcopy(model)
            m.blocks[layer].attn.proj.weight.data[:, h * dh:(h + 1) * dh] = 0
            out["md_heads"][layer, h], out["kd_heads"][layer, h] = score(m, layer)
        for j in range(M):
            m = copy.deepcopy(model)
            m.blocks[layer].mlp.fc1.weight.data[j] = 0
            m.blocks[layer].mlp.fc1.bias.data[j] = 0
            out["md_neurons"][layer, j], out["kd_neurons"][layer, j] = score(m, layer)
    return out


@pytest.mark.parametrize("kw", [dict(gram_rows=40, chunk=5),
                                dict(gram_rows=12, embeddings="residual", aggregate="sum",
                                     soften_logits=True, chunk=64)])
def test_batched_importance_matches_slow_loop(tiny, tmp_path, kw):
    from sim.torch.importance import ImportanceOptions, trajectory_importance

    model, x = tiny
    opts = ImportanceOptions(**kw)
    fast = trajectory_importance(model, x, opts, cache_dir=tmp_path)
    slow = _slow_importance(model, x, opts)
    for key, ref in slow.items():
        got = getattr(fast, key)
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-9 * np.abs(ref).max())
    assert (fast.md_heads > 0).all() and (fast.neurons >= 0).all()


def test_importance_deterministic_and_cached(tiny, tmp_path):
    from sim.torch.importance import ImportanceOptions, trajectory_importance

    model, x = tiny
    opts = ImportanceOptions(gram_rows=30, seed=3)
    a = trajectory_importance(model, x, opts, cache_dir=tmp_path)
    b = trajectory_importance(model, x, opts, use_cache=False)
    c = trajectory_importance(model, x, opts, cache_dir=tmp_path)
    assert not a.from_cache and c.from_cache
    np.testing.assert_array_equal(a.heads, b.heads)
    np.testing.assert_array_equal(a.neurons, c.neurons)
    # lambda and balance only recombine the cached raw terms
    d = trajectory_importance(model, x, ImportanceOptions(gram_rows=30, seed=3, balance=False,
                                                          lam=2.0), cache_dir=tmp_path)
    assert d.from_cache and d.kd_scale == 2.0
    np.testing.assert_allclose(d.heads, a.md_heads + 2.0 * a.kd_heads)
    e = trajectory_importance(model, x, ImportanceOptions(gram_rows=30, seed=4),
                              cache_dir=tmp_path)
    assert not e.from_cache and not np.array_equal(e.md_heads, a.md_heads)


def test_pruned_model_trace_equals_selection(tiny, tmp_path):
    import torch

    from sim.torch.export import export_trace
    from sim.torch.importance import ImportanceOptions, prune_model, trajectory_importance

    model, x = tiny
    imp = trajectory_importance(model, x, ImportanceOptions(gram_rows=40), cache_dir=tmp_path)
    trace = export_trace(model, x[:1])
    for budget, solver in (("latency=0.6", "knapsack"), ("macs=0.5", "optin")):
        res = optin_search(imp.heads, imp.neurons, "edge_16x16", trace, budget, solver=solver)
        pruned = prune_model(model, res.selection)
        assert export_trace(pruned, x[:1]).layers == res.trace.layers
        with torch.no_grad():
            assert torch.isfinite(pruned(x)).all()
    full = Selection(tuple(tuple(range(2)) for _ in range(2)),
                     tuple(tuple(range(16)) for _ in range(2)), 0.0, 0.0, "all")
    with torch.no_grad():
        torch.testing.assert_close(prune_model(model, full)(x), model(x))


def test_md_fast_equals_gram_form():
    torch = need("torch")
    from sim.torch.importance import _md_fast, md_loss

    g = torch.Generator().manual_seed(0)
    for s, d in ((50, 8), (6, 8)):
        ft = torch.nn.functional.normalize(torch.randn(s, d, generator=g), dim=-1).double()
        fs = torch.nn.functional.normalize(ft + 0.1 * torch.randn(4, s, d, generator=g).double(),
                                           dim=-1)
        tt = (ft.T @ ft).pow(2).sum()
        for agg in ("mean", "sum"):
            torch.testing.assert_close(_md_fast(fs, (ft, tt), agg), md_loss(fs, ft, agg))


def test_example_small(tmp_path, repo, capsys):
    """examples/optin_digits.py --small runs end to end (digits model, importance, both
    arches, measured accuracy, traces equal to the keep-sets)."""
    need("torch")
    need("timm")
    need("sklearn")
    import importlib.util

    spec = importlib.util.spec_from_file_location("optin_example",
                                                  repo / "examples" / "optin_digits.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main([str(tmp_path), "--small", "--arch", "edge_16x16"])
    df = __import__("pandas").read_csv(tmp_path / "optin_digits.csv")
    assert df["trace_ok"].all() and (tmp_path / "optin_digits.png").is_file()
    assert set(df["method"]) >= {"optin-macs", "knapsack-latency"}
    assert df["accuracy"].between(0, 1).all()
    assert "importance:" in capsys.readouterr().out


def test_per_unit_kd_balancing_follows_the_released_rule():
    """Hand-worked cases of the released code's rule (MD > KD: a power of ten, kept in the
    history; otherwise the history's mean, 1 when empty)."""
    need("torch")
    from sim.torch.importance import ImportanceOptions, combine, unit_scales

    md = np.array([[0.5, 100.0, 1.0, 50.0, 1e5, 5.0]])
    kd = np.array([[1.0, 1.0, 2.0, 0.0, 1.0, 1.0]])
    # 0.5<1: empty history -> 1; 100/1 -> 10^int(2-1)=10; 1<2 -> mean[10]; KD=0 -> mean[10];
    # 1e5/1 -> 10^int(5-1)=1e4; 5/1 -> 10^int(log10 5 - 1) = 10^0 = 1
    np.testing.assert_array_equal(unit_scales(md, kd, 10.0),
                                  [[1.0, 10.0, 10.0, 10.0, 1e4, 1.0]])
    h, n, mean = combine(md, kd, md * 2, kd, ImportanceOptions())
    np.testing.assert_allclose(h, md + unit_scales(md, kd, 10.0) * kd)
    np.testing.assert_allclose(n, 2 * md + unit_scales(2 * md, kd, 10.0) * kd)
    with pytest.raises(ConfigError, match="balance must be"):
        ImportanceOptions(balance="layer").validate()
