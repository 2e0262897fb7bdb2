"""Conv -> GEMM lowering (SCALE-Sim's im2col convention)."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.errors import TraceError
from sim.workload.conv import conv_gemm, conv_output_size


@given(h=st.integers(1, 40), f=st.integers(1, 40), s=st.integers(1, 6))
def test_output_size_roundings(h, f, s):
    got = conv_output_size(h, f, s, rounding="scalesim")
    if f > h:
        assert got < 1 and conv_output_size(h, f, s) < 1
    else:  # topology_utils.py: ofmap_h = ceil((ifmap_h - filt_h + stride_h) / stride_h)
        assert got == math.ceil((h - f + s) / s)
        assert conv_output_size(h, f, s) == len(range(0, h - f + 1, s))  # whole windows


def test_output_size_matches_torch_with_padding_and_dilation():
    torch = pytest.importorskip("torch")
    for h, f, s, p, d in [(7, 3, 2, 1, 1), (10, 3, 3, 0, 2), (5, 5, 1, 2, 1), (9, 2, 4, 3, 3)]:
        conv = torch.nn.Conv2d(1, 1, f, stride=s, padding=p, dilation=d)
        out = conv(torch.zeros(1, 1, h, h)).shape[-1]
        assert conv_output_size(h, f, s, p, d) == out


def test_conv_gemm_shapes():
    # 3x3 conv, 64 -> 128 channels, 56x56, stride 2 (does not divide 53): 27x27 outputs
    assert conv_gemm(56, 56, 3, 3, 64, 128, 2) == (27 * 27, 128, 576, 1)
    # SCALE-Sim keeps the partial last window: 28x28
    assert conv_gemm(56, 56, 3, 3, 64, 128, 2, rounding="scalesim") == (28 * 28, 128, 576, 1)
    # batch stacks rows, groups split channels and filters into `groups` GEMMs
    assert conv_gemm(8, 8, 3, 3, 32, 64, 1, batch=4, groups=4, padding=1) == (256, 16, 72, 4)
    # depthwise
    assert conv_gemm(14, 14, 3, 3, 96, 96, (1, 1), groups=96, padding=(1, 1)) == (196, 1, 9, 96)
    # rectangular stride
    assert conv_gemm(10, 12, 2, 3, 3, 5, (2, 3)) == (5 * 4, 5, 18, 1)


@pytest.mark.parametrize("kwargs, word", [
    ({"stride": 0}, "stride"), ({"groups": 3}, "groups"), ({"channels": 0}, "channels"),
    ({"filt_h": 9}, "filter"), ({"ifmap_w": 2.5}, "ifmap_w"), ({"batch": True}, "batch"),
    ({"padding": -1}, "padding"), ({"rounding": "ceil"}, "rounding"),
    ({"rounding": "scalesim", "padding": 1}, "padding"),
])
def test_conv_gemm_bad_input_names_the_value(kwargs, word):
    args = {"ifmap_h": 8, "ifmap_w": 8, "filt_h": 3, "filt_w": 3, "channels": 4,
            "num_filters": 8, "stride": 1}
    args.update(kwargs)
    with pytest.raises(TraceError, match=word) as err:
        conv_gemm(**args)
    assert "\n" not in str(err.value)
