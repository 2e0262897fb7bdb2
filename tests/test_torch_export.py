"""Trace export from PyTorch (sim.torch.export) and ``vitsim export``."""

import argparse
import json

import numpy as np
import pytest
from conftest import need

torch = need("torch")
timm = need("timm")

from timm.models.vision_transformer import VisionTransformer  # noqa: E402

import sim.workload as W  # noqa: E402
from sim.cli.export_cmd import add_export_parser, parse_apply  # noqa: E402
from sim.errors import TraceError, VitsimError  # noqa: E402
from sim.torch import transforms as T  # noqa: E402
from sim.torch.export import export_trace, export_traceset, model_spec  # noqa: E402
from sim.workload import (  # noqa: E402
    full_trace,
    load_trace,
    lower,
    model_trace,
    save_trace,
    tome_trace,
)

torch.set_num_threads(1)


def _same_ops(a, b):
    assert a.op == b.op and a.kind == b.kind and a.vop == b.vop
    for f in ("layer", "m", "n", "k", "count", "elements"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


def _cycles(trace):
    """Simulated cycles when ``sim.simulate`` exists, else None (lowering is compared)."""
    import sim

    simulate, load_arch = getattr(sim, "simulate", None), getattr(sim, "load_arch", None)
    if simulate is None or load_arch is None:
        return None
    return simulate(load_arch("zcu102"), trace).summary["cycles"]


@pytest.fixture(scope="module")
def deit_s():
    torch.manual_seed(0)
    return timm.create_model("deit_small_patch16_224", pretrained=False).eval()


def _tiny(**kw):
    torch.manual_seed(0)
    cfg = dict(img_size=16, patch_size=4, num_classes=5, embed_dim=32, depth=3, num_heads=2,
               mlp_ratio=2.0)
    cfg.update(kw)
    return VisionTransformer(**cfg).eval()


@pytest.mark.parametrize("batch", [1, 4])
def test_deit_s_export_equals_builtin(deit_s, batch):
    t = export_trace(deit_s, torch.randn(batch, 3, 224, 224))
    ref = model_trace("deit_s", batch=batch)
    assert t.model == ref.model and t.layers == ref.layers
    assert (t.name, t.batch) == ("deit_s", batch)
    _same_ops(lower(t), lower(ref))
    assert _cycles(t) == _cycles(ref)


def test_export_restores_training_mode_and_removes_hooks(deit_s):
    deit_s.train()
    try:
        export_trace(deit_s, torch.randn(1, 3, 224, 224))
        assert deit_s.training
        assert not any(b._forward_hooks or b._forward_pre_hooks for b in deit_s.blocks)
    finally:
        deit_s.eval()


def test_spec_of_other_vits():
    m = _tiny(reg_tokens=2)
    spec = model_spec(m)
    assert (spec.depth, spec.embed_dim, spec.num_heads, spec.head_dim, spec.mlp_hidden) \
        == (3, 32, 2, 16, 64)
    assert (spec.prefix_tokens, spec.tokens, spec.num_classes, spec.in_chans) == (3, 19, 5, 3)
    assert spec.name == "visiontransformer"
    t = export_trace(m, torch.randn(2, 3, 16, 16), name="tiny")
    assert t.name == t.model.name == "tiny"
    assert t.layers == full_trace(t.model, 2).layers
    d = timm.create_model("deit_tiny_distilled_patch16_224", pretrained=False)
    assert model_spec(d).prefix_tokens == 2
    assert model_spec(d).name == "deit_tiny_distilled_patch16_224"


def test_exported_trace_roundtrips_through_yaml(tmp_path, deit_s):
    t = export_trace(T.pomt_prune(T.skip_attention(deit_s, [5]), 3, 56),
                     torch.randn(1, 3, 224, 224))
    assert load_trace(save_trace(t, tmp_path / "t.yaml")).layers == t.layers
    assert t.layers[3].prune.tokens_out == 141 and t.layers[11].tokens == 141


def test_torch_code_is_out_of_workload():
    # (that workload/ and search/ load without torch: tests/test_layers.py)
    # the old lazy attributes are gone (no upward import); the error names the new home
    for name, new in (("export_trace", "sim.torch.export"), ("transforms", "sim.torch.transforms"),
                      ("digits", "sim.torch.digits")):
        with pytest.raises(AttributeError, match=f"moved to {new}"):
            getattr(W, name)
    import sim.search.optin_importance as old
    import sim.torch.importance as new

    assert old.__all__ == new.__all__ and all(getattr(old, n) is getattr(new, n)
                                              for n in new.__all__)


# ----------------------------------------------------------------------- trace sets
class _Router(torch.nn.Module):
    """Input-dependent path: block 1 skips its attention for bright images."""

    def __init__(self, vit):
        super().__init__()
        self.vit = T.skip_attention(vit, [1])  # block 1 becomes a VitsimBlock
        self.blocks, self.patch_embed = self.vit.blocks, self.vit.patch_embed
        self.embed_dim, self.num_classes = self.vit.embed_dim, self.vit.num_classes
        self.num_prefix_tokens = self.vit.num_prefix_tokens

    def forward(self, x):
        self.blocks[1].skip_attn = bool(x.mean() > 0)
        return self.vit(x)


def test_export_traceset_groups_paths():
    model = _Router(_tiny())
    xs = torch.randn(6, 3, 16, 16)
    xs[:2] = xs[:2].abs() + 0.5
    xs[2:] = -xs[2:].abs() - 0.5
    ts = export_traceset(model, xs, batch=8, name="router")
    assert len(ts.items) == 2 and ts.weights == pytest.approx([1 / 3, 2 / 3])
    (easy, _), (hard, _) = ts.items
    assert (easy.layers[1].attention, hard.layers[1].attention) == (False, True)
    assert easy.batch == 8 and easy.name == "router_path0"
    with pytest.raises(TraceError, match="inputs is empty"):
        export_traceset(model, torch.empty(0, 3, 16, 16))


# ----------------------------------------------------------------------- bad models
class _DropLast(torch.nn.Module):
    """A foreign block that drops the last two tokens between attention and MLP."""

    def __init__(self, blk, method=None):
        super().__init__()
        self.attn, self.mlp, self.norm1, self.norm2 = blk.attn, blk.mlp, blk.norm1, blk.norm2
        if method:
            self.vitsim_prune_method = method

    def forward(self, x):
        x = (x + self.attn(self.norm1(x)))[:, :-2]
        return x + self.mlp(self.norm2(x))


def test_foreign_pruning_block_must_name_its_method():
    m = _tiny()
    m.blocks[1] = _DropLast(m.blocks[1])
    x = torch.randn(1, 3, 16, 16)
    with pytest.raises(TraceError, match="block 1 pruned 17 -> 15 tokens.*vitsim_prune_method"):
        export_trace(m, x)
    m.blocks[1].vitsim_prune_method = "topk"
    t = export_trace(m, x)
    assert t.layers[1].prune.tokens_out == 15 and t.layers[2].tokens == 15


def test_unrepresentable_models_raise():
    with pytest.raises(TraceError, match="blocks"):
        export_trace(torch.nn.Linear(3, 3), torch.randn(1, 3))
    m = _tiny()
    m.blocks = torch.nn.Sequential(m.blocks[0], m.blocks[0], m.blocks[1])
    with pytest.raises(TraceError, match="block 0 ran 2 times"):
        export_trace(m, torch.randn(1, 3, 16, 16))


# ----------------------------------------------------------------------- CLI
def _cli(argv):
    parser = argparse.ArgumentParser(prog="vitsim")
    add_export_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_export(tmp_path, capsys):
    out = tmp_path / "t.yaml"
    assert _cli(["export", "--model", "deit_tiny_patch16_224", "--batch", "2", "--apply",
                 "skip:1,3", "--apply", "heads:0=0,2", "--apply", "mlp:2=384", "--apply",
                 "tome:8", "--out", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    t = load_trace(out)
    assert info["tokens"] == [lt.tokens for lt in t.layers] and info["name"] == "deit_t"
    ref = tome_trace(W.skip_attention(W.drop_heads(W.narrow_mlp(
        model_trace("deit_t", batch=2), {2: 384}), {0: [0, 2]}), [1, 3]), 8)
    assert t.layers == ref.layers and t.batch == 2


@pytest.mark.parametrize("spec, match", [
    ("bogus:1", "kind must be one of"), ("skip", "expected KIND:ARGS"),
    ("heads:0", "LAYER=VALUE"), ("topk:a=3", "integers"), ("pomt:3=1,2", "one value"),
])
def test_cli_bad_apply(spec, match):
    with pytest.raises(TraceError, match=match):
        parse_apply(spec)


def test_cli_main_registers_export(tmp_path, monkeypatch, capsys):
    import sim.cli

    out = tmp_path / "d.yaml"
    assert sim.cli.main(["export", "--model", "deit_tiny_patch16_224", "--apply", "pomt:3=56",
                         "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert load_trace(out).layers[4].tokens == 141
    assert sim.cli.main(["export", "--model", "deit_tiny_patch16_224", "--apply",
                         "topk:3=500", "--out", str(out)]) == 2
    assert "keep = 500; must be in [1, 196]" in capsys.readouterr().err


def test_cli_unknown_model(tmp_path):
    with pytest.raises(VitsimError, match="unknown timm model"):
        _cli(["export", "--model", "deit_nonexistent", "--out", str(tmp_path / "x.yaml")])
