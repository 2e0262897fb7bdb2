"""vitsim export of any model: v1 proven against the capture, v2 otherwise, one-line errors."""

import json

import pytest

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

import sim  # noqa: E402
from sim.errors import TraceError  # noqa: E402
from sim.workload import load_trace, model_trace, narrow_mlp  # noqa: E402

HF_TINY = {"model_type": "vit", "hidden_size": 64, "num_hidden_layers": 2,
           "num_attention_heads": 2, "intermediate_size": 128, "image_size": 32,
           "patch_size": 8}


def _export(spec, **kw):
    from sim.torch.model_export import export_model

    return export_model(spec, **kw)


def test_recognised_vit_v1_equals_builtin_model_trace():
    res = _export("deit_small_patch16_224")
    assert res.version == 1 and res.trace.name == "deit_s"
    assert res.trace.layers == model_trace("deit_s").layers
    assert res.trace.model == model_trace("deit_s").model


@pytest.mark.slow
def test_hf_vit_default_config_is_v1_and_matches_vit_b():
    res = _export("hf:vit")
    assert res.version == 1
    assert res.trace.layers == model_trace("deit_b").layers  # ViT-B/16 at 224 px


@pytest.mark.parametrize("name, size", [("beit_base_patch16_224", 64),
                                        ("vit_small_patch14_reg4_dinov2", 56),
                                        ("deit3_small_patch16_224", 64)])
def test_other_recognised_families_export_v1(name, size):
    res = _export(name, image_size=size)
    assert res.version == 1 and all(lt.attention for lt in res.trace.layers)
    assert sim.simulate("zcu102", res.trace, mode="analytic").summary["macs"] == \
        res.captured.macs


def test_eva02_exports_v2_with_correct_macs():
    """v0.1.0 exported EVA02 as attention: false and a 1024-wide plain MLP, silently."""
    from sim.torch import capture
    from sim.torch.export import export_trace
    from tests.test_capture_zoo import reference_macs

    res = _export("eva02_tiny_patch14_224", image_size=56)
    assert res.version == 2 and "gated" in res.why
    model = timm.create_model("eva02_tiny_patch14_224", img_size=56).eval()
    x = torch.randn(1, 3, 56, 56)
    assert res.trace.macs == reference_macs(model, x)
    from sim.torch.model_export import check_v1

    with pytest.raises(TraceError, match=r"block 0: v1 trace MACs = [\d,]+; must equal the "
                                         r"captured [\d,]+ within 0.1%"):
        check_v1(export_trace(model, x), capture(model, x))


def test_check_v1_names_block_and_both_numbers():
    from sim.torch.model_export import check_v1

    res = _export("vit_tiny_patch16_224", image_size=64)
    check_v1(res.trace, res.captured)
    bad = narrow_mlp(res.trace, {5: 700})
    with pytest.raises(TraceError) as e:
        check_v1(bad, res.captured)
    msg = str(e.value)
    assert "block 5: v1 trace MACs = " in msg and "must equal the captured" in msg
    from sim.torch.model_export import per_layer_macs
    from sim.workload import lower

    want = per_layer_macs(lower(bad))[5], per_layer_macs(lower(res.trace))[5]
    assert f"MACs = {want[0]:,}; must equal the captured {want[1]:,}" in msg
    assert "\n" not in msg


def test_lvvit_s_conv_stem_exports_v2():
    from sim.torch.models import lvvit_s

    m = lvvit_s()
    assert sum(p.numel() for p in m.parameters()) == pytest.approx(26e6, rel=0.02)
    assert len(m.blocks) == 16 and m.blocks[0].mlp.fc1.out_features == 1152
    res = _export("vitsim:lvvit_s", image_size=64)
    assert res.version == 2 and "4 convs" in res.why
    convs = [o for o in res.trace.ops if o[2] == "conv"]
    assert [(o[4], o[5]) for o in convs] == [(64, 147), (64, 576), (64, 576), (384, 4096)]
    assert res.trace.model.depth == 16


def test_cli_exports_hf_and_swin_and_simulates(cli, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(HF_TINY))
    out = cli("export", "--model", "hf:vit", "--hf-config", cfg, "--out", tmp_path / "v.yaml",
              "--json", check_rc=0).stdout
    info = json.loads(out)
    assert info["schema_version"] == 1 and info["tokens"] == [17, 17]
    assert load_trace(tmp_path / "v.yaml").model.embed_dim == 64
    out = cli("export", "--model", "timm:swin_tiny_patch4_window7_224", "--image-size", "112",
              "--out", tmp_path / "s.yaml", check_rc=0).stdout
    assert "v2 op trace" in out and "not a recognised ViT" in out
    run = cli("run", "--arch", "zcu102", "--trace", tmp_path / "s.yaml", "--json",
              check_rc=0).stdout
    assert json.loads(run)["macs"] == load_trace(tmp_path / "s.yaml").macs > 0


@pytest.mark.parametrize("args, expect", [
    (["--model", "google/vit-base-patch16-224"], "unknown timm model"),
    (["--model", "onnx:resnet"], "the namespace must be one of ['timm:', 'hf:', 'vitsim:']"),
    (["--model", "hf:nosuchtype"], "must be a transformers model_type"),
    (["--model", "vit_tiny_patch16_224", "--image-size", "8"], "failed on the example input"),
    (["--model", "hf:vit", "--apply", "skip:1"], "--apply needs a timm-style ViT"),
])
def test_cli_export_errors_are_one_line(cli, tmp_path, args, expect):
    proc = cli("export", *args, "--out", tmp_path / "x.yaml", check_rc=2)
    assert expect in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
