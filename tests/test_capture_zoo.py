"""Zoo: captured MACs of >= 20 random-init timm/HF models equal torch's FlopCounterMode.

``FlopCounterMode`` (torch 2.14) has no formula for the CPU fused attention kernel
``aten._scaled_dot_product_flash_attention_for_cpu`` (it counts the CUDA flash/efficient/
cuDNN variants only), so the reference registers torch's own ``sdpa_flop_count`` for it;
every other count is FlopCounterMode's.  It counts no vector ops, so only MACs are compared.
"""

import pytest

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

import sim  # noqa: E402

TIMM = [  # (name, create_model kwargs, image size): small images where the model allows
    ("vit_tiny_patch16_224", {"img_size": 64}, 64),
    ("vit_small_patch16_224", {"img_size": 64}, 64),
    ("vit_base_patch16_224", {"img_size": 64}, 64),
    ("deit_tiny_distilled_patch16_224", {"img_size": 64}, 64),
    ("deit3_small_patch16_224", {"img_size": 64}, 64),
    ("eva02_tiny_patch14_224", {"img_size": 56}, 56),
    ("beit_base_patch16_224", {"img_size": 64}, 64),
    ("vit_small_patch14_reg4_dinov2", {"img_size": 56}, 56),
    ("swin_tiny_patch4_window7_224", {"img_size": 112}, 112),
    ("levit_128s", {"img_size": 128}, 128),
    ("pit_ti_224", {}, 224),
    ("cait_xxs24_224", {"img_size": 64}, 64),
    ("mobilevit_xs", {}, 64),
    ("efficientvit_m0", {}, 224),
    ("convnext_atto", {}, 64),
    ("resnet18", {}, 64),
]
SLOW = {"vit_base_patch16_224", "beit_base_patch16_224", "efficientvit_m0", "pit_ti_224"}
#: Tiny HF configs (no weights, nothing downloaded).
HF_TINY = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
           "intermediate_size": 128, "image_size": 32, "patch_size": 8}
HF = {
    "vit": HF_TINY, "deit": HF_TINY, "dinov2": HF_TINY, "beit": HF_TINY,
    "swin": {"embed_dim": 16, "depths": [2, 2], "num_heads": [2, 4], "image_size": 32,
             "patch_size": 4, "window_size": 4},
}


def reference_macs(model, x) -> int:
    """torch's own count: FlopCounterMode FLOPs / 2 (+ the CPU flash-SDPA formula)."""
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_sdpa(q, k, v, *args, out_shape=None, **kwargs):
        return sdpa_flop_count(q, k, v)

    aten = torch.ops.aten
    mapping = {aten._scaled_dot_product_flash_attention_for_cpu: cpu_sdpa}
    # grad mode on: FlopCounterMode's module tracker needs grad_fns (fails under no_grad)
    with FlopCounterMode(display=False, custom_mapping=mapping) as fc:
        model(**x) if isinstance(x, dict) else model(x)
    return fc.get_total_flops() // 2


def _check(model, x, name):
    from sim.torch import capture

    torch.manual_seed(0)
    trace = capture(model, x, name=name)
    ref = reference_macs(model, x)
    assert ref > 0
    assert abs(trace.macs - ref) <= 0.01 * ref, (name, trace.macs, ref)
    assert trace.unmodelled == ()
    report = sim.simulate("zcu102", trace, mode="analytic")
    assert report.summary["macs"] == trace.macs and report.summary["cycles"] > 0
    assert trace.model.depth >= 2  # blocks were found


@pytest.mark.parametrize("name, kwargs, size", [
    pytest.param(*case, marks=[pytest.mark.slow] if case[0] in SLOW else [], id=case[0])
    for case in TIMM])
def test_timm_zoo_macs_match_flop_counter(name, kwargs, size):
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, **kwargs).eval()
    _check(model, torch.randn(1, 3, size, size), name)


@pytest.mark.parametrize("model_type", sorted(HF))
def test_hf_zoo_macs_match_flop_counter(model_type):
    pytest.importorskip("transformers")
    from sim.torch.sources import build_model, example_input

    torch.manual_seed(0)
    model, size, name = build_model(f"hf:{model_type}", overrides=HF[model_type])
    _check(model, example_input(f"hf:{model_type}", size, batch=2), name)
