"""Model transforms (sim.torch.transforms): each is a runnable model whose exported trace
is exactly the trace-side edit (sim.workload.edit) of the same change."""

import pytest
from conftest import need

torch = need("torch")
timm = need("timm")

from timm.models.vision_transformer import VisionTransformer  # noqa: E402

from sim.errors import TraceError  # noqa: E402
from sim.torch import transforms as T  # noqa: E402
from sim.torch.export import export_trace, model_spec  # noqa: E402
from sim.workload import (  # noqa: E402
    drop_heads,
    full_trace,
    lower,
    narrow_mlp,
    prune_tokens,
    tome_trace,
)
from sim.workload import skip_attention as skip_trace  # noqa: E402

torch.set_num_threads(1)
N_TOKENS = 65  # 8x8 patches + CLS


def _tiny(**kw):
    torch.manual_seed(0)
    cfg = dict(img_size=32, patch_size=4, num_classes=10, embed_dim=64, depth=6, num_heads=4,
               mlp_ratio=2.0)
    cfg.update(kw)
    return VisionTransformer(**cfg).eval()


@pytest.fixture(scope="module")
def tiny():
    return _tiny()


@pytest.fixture(scope="module")
def x():
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def full(tiny):
    return full_trace(model_spec(tiny), batch=2)


def _run(model, x):
    with torch.no_grad():
        return model(x)


def _snapshot(model):
    return ({k: v.clone() for k, v in model.state_dict().items()},
            [type(b) for b in model.blocks])


def _unchanged(model, snap):
    sd, kinds = snap
    now = model.state_dict()
    return (set(now) == set(sd) and all(torch.equal(now[k], sd[k]) for k in sd)
            and [type(b) for b in model.blocks] == kinds)


def _params(model):
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------- structural
def test_prune_nothing_leaves_outputs_unchanged(tiny, x):
    y = _run(tiny, x)
    heads = T.prune_heads(tiny, {i: 4 for i in range(6)})
    mlp = T.prune_mlp(tiny, {i: 128 for i in range(6)})
    assert torch.allclose(_run(heads, x), y, atol=1e-5)
    assert torch.allclose(_run(mlp, x), y, atol=1e-5)
    assert torch.allclose(_run(T.skip_attention(tiny, []), x), y, atol=1e-5)
    assert torch.allclose(_run(T.tome(tiny, 0), x), y, atol=1e-5)


def test_prune_heads_is_structural_and_exported(tiny, x, full):
    snap = _snapshot(tiny)
    new = T.prune_heads(tiny, {0: [1, 3], 2: 1, 5: [0, 1, 2]})
    assert _unchanged(tiny, snap)
    a0 = new.blocks[0].attn
    assert (a0.num_heads, a0.qkv.out_features, a0.proj.in_features) == (2, 96, 32)
    assert _params(new) < _params(tiny)
    assert _run(new, x).shape == (2, 10)
    t = export_trace(new, x)
    assert t.layers == drop_heads(full, {0: [1, 3], 2: [0], 5: [0, 1, 2]}).layers
    assert t.model == full.model  # spec keeps the original head count


def test_prune_heads_again_uses_original_indices(tiny, x, full):
    once = T.prune_heads(tiny, {1: [0, 2, 3]})
    twice = T.prune_heads(once, {1: [3, 2]})
    assert export_trace(twice, x).layers[1].heads == (2, 3)
    with pytest.raises(TraceError, match=r"heads\[1\].*\[0, 2, 3\]"):
        T.prune_heads(once, {1: [1]})


def test_masked_heads_equal_pruned_heads(tiny, x):
    keep = {0: [0, 2], 3: [3]}
    masked, pruned = T.mask_heads(tiny, keep), T.prune_heads(tiny, keep)
    assert torch.allclose(_run(masked, x), _run(pruned, x), atol=1e-5)
    assert export_trace(masked, x).layers == export_trace(pruned, x).layers
    assert _params(masked) == _params(tiny)


@pytest.mark.parametrize("fused", [True, False])
def test_prune_heads_with_qk_norm(x, fused):
    model = _tiny(qk_norm=True, qkv_bias=True)
    for b in model.blocks:
        b.attn.fused_attn = fused
    y = _run(model, x)
    assert torch.allclose(_run(T.prune_heads(model, {0: 4, 4: 4}), x), y, atol=1e-5)
    assert _run(T.prune_heads(model, {0: [2]}), x).shape == (2, 10)


def test_prune_mlp(tiny, x, full):
    new = T.prune_mlp(tiny, {0: 16, 3: list(range(0, 128, 2))})
    assert (new.blocks[0].mlp.fc1.out_features, new.blocks[0].mlp.fc2.in_features) == (16, 16)
    assert _params(new) < _params(tiny)
    t = export_trace(new, x)
    assert t.layers == narrow_mlp(full, {0: 16, 3: 64}).layers
    assert t.model.mlp_hidden == 128


# ----------------------------------------------------------------------- skip / tokens
def test_skip_attention(tiny, x, full):
    snap = _snapshot(tiny)
    new = T.skip_attention(tiny, [1, 3])
    assert _unchanged(tiny, snap)
    assert set(new.state_dict()) == set(tiny.state_dict())
    assert export_trace(new, x).layers == skip_trace(full, [1, 3]).layers
    # a skipped attention is a real bypass: block 1 equals its MLP half alone
    b = tiny.blocks[1]
    h = torch.randn(2, N_TOKENS, 64)
    with torch.no_grad():
        ref = h + b.ls2(b.mlp(b.norm2(h)))
        assert torch.allclose(new.blocks[1](h), ref, atol=1e-6)


def test_explicit_attention_matches_timm(x):
    model = _tiny(qk_norm=True)
    attn = model.blocks[0].attn
    h = torch.randn(2, N_TOKENS, 64)
    with torch.no_grad():
        ref = attn(h)
        for probs in (True, False):
            out, info = T.attention_explicit(attn, h, need_probs=probs)
            assert torch.allclose(out, ref, atol=1e-5)
        ones = torch.ones(2, N_TOKENS, 1)
        assert torch.allclose(T.attention_explicit(attn, h, ones, True)[0], ref, atol=1e-5)
    assert info["k"].shape == (2, 4, N_TOKENS, 16)


def test_topk_prune(tiny, x, full):
    new = T.topk_prune(tiny, 2, 40)
    assert _run(new, x).shape == (2, 10)
    t = export_trace(new, x)
    assert t.layers == prune_tokens(full, 2, 40, "topk").layers
    assert [lt.tokens for lt in t.layers] == [65, 65, 65, 40, 40, 40]


def test_topk_keeps_the_most_attended_tokens():
    x = torch.arange(6.0).view(1, 6, 1).expand(1, 6, 3).clone()
    probs = torch.zeros(1, 2, 6, 6)
    probs[0, :, 0] = torch.tensor([0.0, 0.1, 0.5, 0.05, 0.3, 0.05])
    out, size = T.TopKPrune(3, 1)(x, {"probs": probs}, None)
    assert out[0, :, 0].tolist() == [0.0, 2.0, 4.0] and size is None


def test_pomt_prune(tiny, x, full):
    new = T.pomt_prune(tiny, 1, 20)
    assert _run(new, x).shape == (2, 10)
    t = export_trace(new, x)
    assert t.layers == prune_tokens(full, 1, 45, "pomt").layers
    assert T.pomt_prune(tiny, 1, 0).blocks[1].__class__ is type(tiny.blocks[1])


def test_pomt_merges_the_dropped_tokens_into_their_mean():
    torch.manual_seed(0)
    B, H, n, P, R = 2, 3, 10, 1, 4
    x = torch.randn(B, n, 5)
    probs = torch.rand(B, H, n, n).softmax(-1)
    info = {"probs": probs, "v": torch.randn(B, H, n, 4)}
    out, _ = T.POMTMerge(R, P)(x, info, None)
    assert out.shape == (B, n - R, 5)                       # N - R tokens
    assert torch.equal(out[:, 0], x[:, 0])                  # CLS first
    for b in range(B):
        kept = {tuple(r.tolist()) for r in out[b, 1:-1]}
        assert len(kept) == n - R - 2                       # top N - R - 2 kept
        dropped = [r for r in x[b, 1:] if tuple(r.tolist()) not in kept]
        assert len(dropped) == R + 1
        assert torch.allclose(out[b, -1], torch.stack(dropped).mean(0), atol=1e-6)
    # the score is s_attn + s_v (docs/references.md#pomt-prune-and-merge): recompute and
    # compare the kept set
    A, V = probs[:, :, P:, P:], info["v"][:, :, P:]
    s = A.amax(1).sum(1) / A.amax(1).sum(1).max() + V.amax(1).sum(-1).softmax(-1)
    top = s.argsort(1, descending=True)[:, : n - R - 2].sort(1).values + P
    assert torch.equal(out[:, 1:-1], x.gather(1, top[..., None].expand(-1, -1, 5)))


@pytest.mark.parametrize("r", [8, 40])
def test_tome_token_counts(tiny, x, full, r):
    new = T.tome(tiny, r)
    assert _run(new, x).shape == (2, 10)
    t = export_trace(new, x)
    assert t.layers == tome_trace(full, r).layers
    if r == 8:
        assert [lt.tokens for lt in t.layers] == [65, 57, 49, 41, 33, 25]


def test_tome_skips_blocks_without_attention(tiny, x, full):
    new = T.tome(T.skip_attention(tiny, [0, 2]), 5)
    assert export_trace(new, x).layers == tome_trace(skip_trace(full, [0, 2]), 5).layers


def test_tome_weighted_average_conserves_mass():
    torch.manual_seed(0)
    n, P, r = 11, 1, 4
    x = torch.randn(2, n, 6)
    size = torch.randint(1, 4, (2, n, 1)).float()
    info = {"k": torch.randn(2, 3, n, 8)}
    out, s2 = T.ToMeMerge(r, P)(x, info, size)
    assert out.shape == (2, n - r, 6) and s2.shape == (2, n - r, 1)
    assert torch.allclose((out * s2).sum(1), (x * size).sum(1), atol=1e-5)
    assert torch.equal(s2.sum(1), size.sum(1)) and torch.equal(out[:, 0], x[:, 0])


def test_tome_on_deit_s_matches_tome_trace():
    m = timm.create_model("deit_small_patch16_224", pretrained=False).eval()
    t = export_trace(T.tome(m, 8), torch.randn(1, 3, 224, 224))
    ref = tome_trace(full_trace(model_spec(m)), 8)
    assert t.layers == ref.layers
    assert [lt.tokens for lt in t.layers] == [197 - 8 * i for i in range(12)]
    assert len(lower(t)) == len(lower(ref))


def test_transforms_compose(tiny, x, full):
    new = T.pomt_prune(T.prune_mlp(T.prune_heads(T.skip_attention(tiny, [4]),
                                                 {1: [0, 1]}), {2: 32}), 3, 10)
    ref = prune_tokens(narrow_mlp(drop_heads(skip_trace(full, [4]), {1: [0, 1]}), {2: 32}),
                       3, 55, "pomt")
    assert export_trace(new, x).layers == ref.layers
    assert _run(new, x).shape == (2, 10)


# ----------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, match", [
    (lambda m: T.skip_attention(m, [6]), r"layers \[6\] out of range \[0, 6\)"),
    (lambda m: T.prune_heads(m, {-1: [0]}), r"out of range \[0, 6\)"),
    (lambda m: T.prune_heads(m, {0: 5}), r"heads\[0\] = 5; must keep between 1 and 4"),
    (lambda m: T.prune_heads(m, {0: [0, 7]}), r"heads\[0\] = \[0, 7\].*\[0, 1, 2, 3\]"),
    (lambda m: T.prune_heads(m, {0: []}), r"skip_attention"),
    (lambda m: T.prune_mlp(m, {0: 129}), r"between 1 and 128"),
    (lambda m: T.prune_mlp(m, {0: [0, 200]}), r"\[0, 128\)"),
    (lambda m: T.topk_prune(m, 0, 65), r"keep = 65; must be in \[1, 64\].*65 tokens"),
    (lambda m: T.topk_prune(m, 0, 500), r"keep = 500"),
    (lambda m: T.topk_prune(m, 9, 10), r"layer \[9\] out of range"),
    (lambda m: T.pomt_prune(m, 0, 64), r"R = 64; must be in \[1, 63\]"),
    (lambda m: T.pomt_prune(m, 0, -1), r"R must be an integer >= 0"),
    (lambda m: T.tome(m, -2), r"r must be an integer >= 0"),
    (lambda m: T.topk_prune(T.skip_attention(m, [2]), 2, 10), r"skips its attention"),
    (lambda m: T.skip_attention(T.topk_prune(m, 2, 10), [2]), r"prune tokens"),
    (lambda m: T.topk_prune(T.topk_prune(m, 2, 10), 2, 5), r"already prunes"),
    (lambda m: T.topk_prune(T.topk_prune(m, 3, 30), 1, 20), r"block 3.*keep = 30.*20 tok"),
])
def test_bad_arguments_raise_and_leave_the_model_alone(tiny, call, match):
    snap = _snapshot(tiny)
    with pytest.raises(TraceError, match=match):
        call(tiny)
    assert _unchanged(tiny, snap)


def test_model_without_blocks():
    with pytest.raises(TraceError, match="blocks"):
        T.skip_attention(torch.nn.Linear(2, 2), [0])
    with pytest.raises(TraceError, match="blocks"):
        T.prune_heads(torch.nn.Sequential(), {0: [0]})
