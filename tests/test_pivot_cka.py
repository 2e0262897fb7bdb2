"""PIVOT Phase 1 (torch): CKA, Path-Score, path selection, efforts from a torch model."""

import json
import math

import numpy as np
import pytest
from conftest import need

torch = need("torch")
need("timm")


from sim.errors import ConfigError  # noqa: E402
from sim.search.pivot import phase1 as ph1  # noqa: E402
from sim.torch import cka as pc  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def vit():
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    m = VisionTransformer(img_size=8, patch_size=2, in_chans=1, num_classes=10, embed_dim=32,
                          depth=5, num_heads=2, mlp_ratio=2.0)
    return m.eval()


@pytest.fixture(scope="module")
def calib():
    g = torch.Generator().manual_seed(1)
    return torch.randn(96, 1, 8, 8, generator=g), torch.randint(0, 10, (96,), generator=g)


def test_linear_cka_formula(rng):
    x, y = rng.normal(size=(40, 6)), rng.normal(size=(40, 9))
    xc, yc = x - x.mean(0), y - y.mean(0)
    want = np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))
    assert pc.linear_cka(x, y) == pytest.approx(want, rel=1e-10)
    q = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    assert pc.linear_cka(x, 3.0 * x @ q + 5.0) == pytest.approx(1.0)  # rotation, scale, shift
    assert pc.unbiased_cka(x, x) == pytest.approx(1.0)
    assert pc.unbiased_cka(x, 2.0 * x @ q, batch_size=10) == pytest.approx(1.0)


@pytest.mark.parametrize("variant", pc.VARIANTS)
@pytest.mark.parametrize("features", pc.FEATURES)
def test_cka_matrix(vit, calib, variant, features):
    c = pc.cka_matrix(vit, calib[0], variant=variant, features=features, batch_size=32)
    m = c["matrix"]
    assert m.shape == (5, 5) and np.isfinite(m).all() and c["embed"].shape == (5,)
    if variant == "linear":
        assert (m > 0).all() and (m <= 1 + 1e-9).all()
        # matches the standalone function on the same features
        feats = {}
        for f in pc._collect(vit, calib[0], features, 96):
            feats = f
        want = pc.linear_cka(feats[("mlp", 1)].numpy(), feats[("attn", 2)].numpy())
        assert m[1, 2] == pytest.approx(want, rel=1e-9)
    r = ph1.redundancy(c)
    assert math.isnan(r[0]) and np.allclose(r[1:], np.diagonal(m, 1))
    # the CLS token entering block 0 is the same for every image: CKA undefined (NaN)
    assert ph1.redundancy(c, encoder0="embed")[0] == pytest.approx(c["embed"][0], nan_ok=True)
    assert math.isnan(c["embed"][0]) == (features == "cls")


def test_bad_options(vit, calib):
    with pytest.raises(ConfigError, match="variant"):
        pc.cka_matrix(vit, calib[0], variant="rbf")
    with pytest.raises(ConfigError, match="features"):
        pc.cka_matrix(vit, calib[0], features="mean")
    with pytest.raises(ConfigError, match=">= 4"):
        pc.cka_matrix(vit, calib[0][:3])


def test_paths():
    r = np.array([np.nan, 0.2, 0.9, 0.5, 0.9, 0.1])
    assert ph1.best_paths(r, [6, 4, 2, 1]) == {6: (), 4: (2, 4), 2: (1, 2, 3, 4),
                                              1: (1, 2, 3, 4, 5)}
    assert ph1.path_score(r, (2, 4)) == pytest.approx(1.8)
    assert ph1.path_score(r, (2, 4), "mean") == pytest.approx(0.9)
    with pytest.raises(ConfigError, match="encoder"):
        ph1.path_score(r, (0,))
    with pytest.raises(ConfigError, match=r"kept = 0"):
        ph1.best_paths(r, [0])
    a = ph1.random_paths(r, 3, 50, seed=1)
    assert len(a) == math.comb(5, 3) == len(set(a)) and a == ph1.random_paths(r, 3, 50, seed=1)
    assert all(0 not in p and len(p) == 3 for p in a)
    # the best path has the best score among all paths of its effort
    best = ph1.best_paths(r, [3])[3]
    assert ph1.path_score(r, best) == max(ph1.path_score(r, p) for p in a)


def test_effort_from_model(vit, calib):
    """skip_attention -> finetune -> outputs -> trace: the parts a user runs per effort."""
    from sim.search.pivot.efforts import make_effort
    from sim.torch.export import export_trace
    from sim.torch.transforms import skip_attention

    x, y = calib
    low = skip_attention(vit, [1, 3])
    hist = pc.finetune(low, x, y, epochs=4, lr=3e-3, batch_size=32, teacher=vit, seed=0)
    assert len(hist) == 4 and hist[-1] < hist[0]
    ent, correct, logits = pc.effort_outputs(low, x, y)
    assert ent.shape == correct.shape == (96,) and logits.shape == (96, 10)
    assert (ent >= 0).all() and (ent <= math.log(10) / 10 + 1e-12).all()
    trace = export_trace(low, x[:1])
    e = make_effort("low", trace, ent, correct, skip=(1, 3))
    assert e.skipped == (1, 3) and e.kept == 3


def test_digits_example_small(tmp_path, repo):
    """The whole pipeline on the digits ViT, small settings."""
    need("sklearn")
    try:
        import sim.torch.digits  # noqa: F401
    except ImportError:
        pytest.skip("sim.torch.digits not available")
    import importlib.util

    spec = importlib.util.spec_from_file_location("pivot_digits",
                                                  repo / "examples/pivot_digits.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--small", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    d = summary["digits"]
    assert -1 <= d["spearman_K"] <= 1 and d["n_paths"] == 10
    for p2 in d["phase2"]:
        if p2["chosen"] is not None:
            assert p2["chosen"]["f_low"] >= 0.5 and p2["report"]["edp_gain"] > 0
    c = d["phase2"][0]["chosen"]
    if c is not None:
        assert c["accuracy"] >= d["settings"]["accuracy_floor"] - 1e-12
    for name in ("pivot_cka.png", "pivot_path_scores.png", "pivot_pareto.png",
                 "efforts.yaml", "summary.json"):
        assert (tmp_path / name).exists(), name
