"""Every torch entry point takes ``device=`` and keeps its tensors there.

The CPU test runs each entry point with ``device="cpu"`` given explicitly and compares it
with the default path; the CUDA test runs the same on ``cuda`` and compares with the CPU
(skipped, never passed, on a machine without CUDA).
"""

import numpy as np
import pytest
from conftest import need

torch = need("torch")
need("timm")

from sim.errors import ConfigError  # noqa: E402
from sim.torch.device import resolve_device  # noqa: E402

torch.set_num_threads(1)


def _tiny_vit(seed=0):
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(seed)
    return VisionTransformer(img_size=8, patch_size=4, in_chans=3, num_classes=5,
                             embed_dim=16, depth=2, num_heads=2, mlp_ratio=2.0).eval()


def _data(n=12, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 8, 8, generator=g), torch.randint(0, 5, (n,), generator=g)


def _run_all(device, tmp_path, amp=False):
    """Every entry point on ``device``; returns comparable CPU numbers."""
    from sim.torch.cka import cka_matrix, effort_outputs, finetune
    from sim.torch.data import accuracy
    from sim.torch.export import export_trace
    from sim.torch.importance import ImportanceOptions, trajectory_importance

    x, y = _data()
    model = _tiny_vit()
    imp = trajectory_importance(model, x, ImportanceOptions(gram_rows=16, chunk=4),
                                use_cache=False, device=device, amp=amp)
    assert next(model.parameters()).device.type == torch.device(device).type
    loader = [(x[:5], y[:5]), (x[5:], y[5:])]  # any iterable of (images, labels)
    ent, correct, logits = effort_outputs(model, loader, device=device, amp=amp)
    cka = cka_matrix(model, x, device=device)
    acc = accuracy(model, loader, device=device, amp=amp)
    trace = export_trace(model, x[:2], device=device)
    tuned = _tiny_vit()
    hist = finetune(tuned, x, y, epochs=1, batch_size=6, device=device, amp=amp)
    return dict(heads=imp.heads, neurons=imp.neurons, ent=ent, correct=correct,
                logits=logits, cka=cka["matrix"], acc=acc, trace=trace.layers, hist=hist)


def test_cpu_explicit_equals_default(tmp_path):
    explicit = _run_all("cpu", tmp_path)
    from sim.torch.cka import effort_outputs
    from sim.torch.importance import ImportanceOptions, trajectory_importance

    x, y = _data()
    model = _tiny_vit()
    imp = trajectory_importance(model, x, ImportanceOptions(gram_rows=16, chunk=4),
                                use_cache=False)
    np.testing.assert_allclose(explicit["heads"], imp.heads, rtol=1e-6)
    np.testing.assert_allclose(explicit["neurons"], imp.neurons, rtol=1e-6)
    ent, correct, _ = effort_outputs(model, x, y)  # tensors instead of a loader
    np.testing.assert_allclose(explicit["ent"], ent, rtol=1e-6)
    assert (explicit["correct"] == correct).all()
    assert explicit["acc"] == pytest.approx(correct.mean())
    assert np.isfinite(explicit["cka"]).all() and len(explicit["hist"]) == 1
    assert explicit["heads"].shape == (2, 2) and explicit["neurons"].shape == (2, 32)
    assert (explicit["heads"] > 0).all()  # masking a head moves the trajectory


def test_cpu_autocast_runs_close(tmp_path):
    full = _run_all("cpu", tmp_path)
    half = _run_all("cpu", tmp_path, amp=True)
    assert half["trace"] == full["trace"]
    # bfloat16 keeps ~3 significant digits: rankings agree on most units
    corr = np.corrcoef(full["neurons"].ravel(), half["neurons"].ravel())[0, 1]
    assert corr > 0.8


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_cuda_matches_cpu(tmp_path):
    cpu = _run_all("cpu", tmp_path)
    gpu = _run_all("cuda", tmp_path)
    np.testing.assert_allclose(gpu["heads"], cpu["heads"], rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(gpu["neurons"], cpu["neurons"], rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(gpu["logits"], cpu["logits"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gpu["cka"], cpu["cka"], rtol=1e-4)
    assert gpu["trace"] == cpu["trace"] and gpu["acc"] == cpu["acc"]
    _run_all("cuda", tmp_path, amp=True)


def test_unavailable_device_is_one_line_error():
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(ConfigError, match="must be cpu, cuda"):
        resolve_device("tpu")
    assert resolve_device("cpu").type == "cpu"


def test_digits_evaluate_takes_device():
    need("sklearn")
    from sim.torch.digits import DigitsData, evaluate

    x, y = _data(8)
    model = _tiny_vit()
    data = DigitsData(x, y, x, y, 0.0, 1.0, 0)
    z = model(x).argmax(1)
    assert evaluate(model, data, device="cpu") == pytest.approx(float((z == y).float().mean()))


def test_finetune_ema_and_frozen_tokens():
    import copy

    from sim.torch.cka import finetune

    x, y = _data(8)
    w0 = _tiny_vit()
    plain, averaged, frozen = copy.deepcopy(w0), copy.deepcopy(w0), copy.deepcopy(w0)
    finetune(plain, x, y, epochs=1, batch_size=8, device="cpu")  # one optimizer step
    finetune(averaged, x, y, epochs=1, batch_size=8, device="cpu", ema=0.5)
    for k, v in averaged.state_dict().items():
        want = 0.5 * w0.state_dict()[k] + 0.5 * plain.state_dict()[k]
        assert torch.allclose(v, want, atol=1e-6), k
    finetune(frozen, x, y, epochs=1, batch_size=8, device="cpu", freeze_tokens=True)
    assert torch.equal(frozen.cls_token, w0.cls_token)
    assert torch.equal(frozen.pos_embed, w0.pos_embed)
    assert not torch.equal(frozen.head.weight, w0.head.weight)
    assert frozen.cls_token.requires_grad  # restored afterwards
    with pytest.raises(ConfigError, match="ema"):
        finetune(frozen, x, y, epochs=1, ema=1.5)
