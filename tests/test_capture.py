"""Op-level capture: GEMM/conv/SDPA lowering against hand counts and torch's FlopCounterMode."""

import pytest

torch = pytest.importorskip("torch")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import sim  # noqa: E402
from sim.errors import TraceError  # noqa: E402
from sim.workload.conv import conv_gemm  # noqa: E402

nn, F = torch.nn, torch.nn.functional


def _capture(model, *inputs, **kw):
    from sim.torch import capture

    return capture(model, inputs if len(inputs) > 1 else inputs[0], **kw)


def _gemms(trace):
    return [(o[1], o[3], o[4], o[5], o[6]) for o in trace.ops if o[2] != "vector"]


def _naive_conv_macs(b, c, h, w, co, fh, fw, s, p, d, g):
    """Brute force: one MAC per (output pixel, filter, in-group channel, tap) in bounds or not
    (zero padding is multiplied too, as im2col does)."""
    oh = len(range(0, h + 2 * p - d * (fh - 1), s))
    ow = len(range(0, w + 2 * p - d * (fw - 1), s))
    return b * oh * ow * co * (c // g) * fh * fw


@settings(max_examples=60, deadline=None)
@given(b=st.integers(1, 3), cg=st.integers(1, 4), g=st.integers(1, 3), h=st.integers(1, 12),
       w=st.integers(1, 12), fh=st.integers(1, 4), fw=st.integers(1, 4), s=st.integers(1, 3),
       p=st.integers(0, 2), d=st.integers(1, 2), nf=st.integers(1, 3))
def test_conv_gemm_matches_torch_and_brute_force(b, cg, g, h, w, fh, fw, s, p, d, nf):
    c, co = cg * g, nf * g
    if h + 2 * p < d * (fh - 1) + 1 or w + 2 * p < d * (fw - 1) + 1:
        with pytest.raises(TraceError, match="must fit the"):
            conv_gemm(h, w, fh, fw, c, co, s, b, g, p, d)
        return
    m, n, k, count = conv_gemm(h, w, fh, fw, c, co, s, b, g, p, d)
    out = F.conv2d(torch.zeros(b, c, h, w), torch.zeros(co, c // g, fh, fw), stride=s,
                   padding=p, dilation=d, groups=g)
    assert m == b * out.shape[2] * out.shape[3] and count == g
    assert (n, k) == (co // g, fh * fw * c // g)
    assert m * n * k * count == _naive_conv_macs(b, c, h, w, co, fh, fw, s, p, d, g)


@pytest.mark.parametrize("args, match", [
    ((8, 8, 3, 3, 6, 4, 1, 1, 4), "groups = 4; must divide"),
    ((8, 8, 3, 3, 4, 4, 0), r"stride = \(0, 0\); must be >= 1"),
    ((8, 8, 3, 3, True, 4, 1), "channels = True"),
    ((2, 2, 3, 3, 4, 4, 1), "filter = 3x3; must fit the 2x2 image"),
])
def test_conv_gemm_rejects_impossible_shapes(args, match):
    with pytest.raises(TraceError, match=match):
        conv_gemm(*args)


class _Zoo(nn.Module):
    """One of each op family the capture lowers, with hand-known shapes."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=1)
        self.c2 = nn.Conv2d(4, 8, 3, stride=1, padding=2, dilation=2, groups=2)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.fc = nn.Linear(8, 5)

    def forward(self, x, seq, q, k, v):
        y = self.c2(x)                                        # (2, 8, 6, 6)
        y = self.dw(y)
        z = self.c1(seq)                                      # (2, 6, 5)
        t = torch.einsum("bij,bjk->bik", q, k.transpose(-1, -2))  # (2, 3, 3)... see below
        u = torch.matmul(q, k.transpose(-1, -2))
        a = F.scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1))
        w = torch.baddbmm(u, q, k.transpose(-1, -2))
        h = self.fc(y.mean((2, 3)))
        return F.softmax(h, -1).sum() + z.sum() + t.sum() + a.sum() + w.sum() + F.gelu(u).sum()


def test_capture_lowers_each_family_exactly():
    x, seq = torch.randn(2, 4, 6, 6), torch.randn(2, 4, 9)
    q, k, v = torch.randn(2, 3, 4), torch.randn(2, 7, 4), torch.randn(2, 7, 4)
    tr = _capture(_Zoo(), x, seq, q, k, v)
    g = _gemms(tr)
    assert g[0] == ("aten.convolution", 2 * 6 * 6, 4, 9 * 2, 2)      # c2: groups 2
    assert g[1] == ("aten.convolution", 2 * 6 * 6, 1, 9, 8)          # depthwise
    assert g[2] == ("aten.convolution", 2 * 1 * 5, 6, 3 * 4, 1)      # conv1d, L_out 5
    assert g[3] == ("aten.bmm", 3, 7, 4, 2) and g[4] == g[3]          # einsum, matmul
    assert g[5] == ("sdpa.qk", 3, 7, 4, 2) and g[6] == ("sdpa.av", 3, 4, 7, 2)
    assert g[7] == ("aten.baddbmm", 3, 7, 4, 2)
    assert g[8] == ("aten.addmm", 2, 5, 8, 1)
    vops = {o[1]: (o[7], o[8]) for o in tr.ops if o[2] == "vector"}
    assert vops["sdpa.softmax"] == (2 * 3 * 7, "softmax")
    assert vops["aten._softmax"] == (10, "softmax") and vops["aten.gelu"] == (42, "gelu")
    assert tr.batch == 2 and tr.unmodelled == ()


class _Fused(nn.Module):
    def forward(self, bias, a, b, v):
        y = torch.ops.aten._addmm_activation(bias, a, b, use_gelu=True)
        return torch.addmv(v, a, b[:, 0]) + y.sum()


def test_fused_and_vector_gemms():
    bias, a, b, v = torch.randn(6), torch.randn(4, 5), torch.randn(5, 6), torch.randn(4)
    assert _gemms(_capture(_Fused(), bias, a, b, v)) == [("aten._addmm_activation", 4, 6, 5, 1),
                                                        ("aten.addmv", 4, 1, 5, 1)]


def test_capture_macs_equal_flop_counter_and_simulate():
    from torch.utils.flop_counter import FlopCounterMode

    model = nn.Sequential(nn.Conv2d(3, 8, 3, 2), nn.GELU(), nn.Flatten(), nn.Linear(8 * 49, 10))
    x = torch.randn(3, 3, 16, 16)
    tr = _capture(model, x)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(x)
    assert tr.macs == fc.get_total_flops() // 2 > 0
    assert sim.simulate("zcu102", tr, mode="analytic").summary["macs"] == tr.macs


class _Blocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(4, 4)
        self.blocks = nn.Sequential(*[nn.Sequential(nn.Linear(4, 4), nn.ReLU()) for _ in "abc"])
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


def test_block_index_and_module_path():
    tr = _capture(_Blocks(), torch.randn(1, 4))
    got = [(o[0], o[1], o[9]) for o in tr.ops if o[2] == "gemm"]
    assert got == [(-1, "aten.addmm", "stem"), (0, "aten.addmm", "blocks.0.0"),
                   (1, "aten.addmm", "blocks.1.0"), (2, "aten.addmm", "blocks.2.0"),
                   (3, "aten.addmm", "head")]
    assert tr.model.depth == 3


class _Transposed(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(4, 4, 2, stride=2)
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(self.up(x).mean((2, 3)))


def test_unmodelled_compute_is_listed_and_refused():
    x = torch.randn(1, 4, 8, 8)
    with pytest.raises(TraceError, match=r"unmodelled compute = 99\.\d+% of MACs "
                                         r"\(aten.convolution 99\.\d%\); must be <= 1%"):
        _capture(_Transposed(), x)
    tr = _capture(_Transposed(), x, allow_unmodelled=True)
    (u,) = tr.unmodelled
    assert u["op"] == "aten.convolution" and u["macs"] == 8 * 8 * 2 * 2 * 4 * 4  # input pixels x taps x Cout x Cin
    assert tr.macs == 16


def test_upsampling_is_a_vector_op_and_unknown_mac_ops_are_refused():
    class Up(nn.Module):
        def forward(self, x):
            return F.interpolate(x, scale_factor=2, mode="bilinear")

    tr = _capture(Up(), torch.randn(1, 2, 4, 4))
    assert [(o[2], o[8]) for o in tr.ops] == [("vector", "gather")]

    class Int(nn.Module):
        def forward(self, a, b):
            return torch._int_mm(a, b)

    a, b = torch.ones(32, 32, dtype=torch.int8), torch.ones(32, 32, dtype=torch.int8)
    with pytest.raises(TraceError, match=r"aten._int_mm = an op that looks like a GEMM"):
        _capture(Int(), a, b)


def test_model_failure_is_one_line():
    with pytest.raises(TraceError) as e:
        _capture(nn.Linear(4, 4), torch.randn(2, 5))
    msg = str(e.value)
    assert "failed on the example input: RuntimeError: mat1 and mat2 shapes" in msg
    assert "\n" not in msg
