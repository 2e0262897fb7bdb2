"""Convolutions as GEMMs, SCALE-Sim's im2col convention.

A convolution of a ``batch x channels x ifmap_h x ifmap_w`` input with ``num_filters``
filters of ``filt_h x filt_w`` (``channels / groups`` deep) is, per group, the GEMM
``out[M, N] = A[M, K] @ B[K, N]`` with

* ``M = out_h * out_w * batch`` (output pixels: SCALE-Sim's ofmap rows),
* ``K = filt_h * filt_w * channels / groups`` (one im2col window),
* ``N = num_filters / groups`` (filters of the group),

and ``count = groups`` identical GEMMs.  ``out_h = floor((ifmap_h + 2 p - d (filt_h - 1)
- 1) / s) + 1`` (likewise ``out_w``).  A depthwise conv (``groups = channels``) is
``channels`` GEMMs with ``K = filt_h * filt_w`` and ``N = 1``: on a weight-stationary array
each uses one column and ``K`` rows per fold, so its mapping efficiency is about
``K / rows * 1 / cols`` -- the array runs it, badly, exactly as SCALE-Sim does.
A 1-d conv is the 2-d case with ``ifmap_h = filt_h = 1``.
"""

from __future__ import annotations

from sim.errors import TraceError

__all__ = ["conv_gemm", "conv_out_size"]


def _pair(value, name):
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in pair):
        raise TraceError(f"conv {name} = {value!r}; must be an integer or a pair of integers")
    return pair


def conv_out_size(size: int, filt: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of one spatial dimension (PyTorch / SCALE-Sim formula)."""
    return (size + 2 * padding - dilation * (filt - 1) - 1) // stride + 1


def conv_gemm(ifmap_h, ifmap_w, filt_h, filt_w, channels, num_filters, stride, batch=1,
              groups=1, padding=0, dilation=1):
    """``(m, n, k, count)`` of a convolution; ``stride``/``padding``/``dilation`` are an
    integer or an ``(h, w)`` pair.  Raises :class:`TraceError` on impossible shapes."""
    (sh, sw), (ph, pw), (dh, dw) = (_pair(stride, "stride"), _pair(padding, "padding"),
                                    _pair(dilation, "dilation"))
    named = {"ifmap_h": ifmap_h, "ifmap_w": ifmap_w, "filt_h": filt_h, "filt_w": filt_w,
             "channels": channels, "num_filters": num_filters, "batch": batch,
             "groups": groups, "stride": min(sh, sw), "dilation": min(dh, dw)}
    for key, v in named.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise TraceError(f"conv {key} = {v!r}; must be an integer >= 1")
    if min(ph, pw) < 0:
        raise TraceError(f"conv padding = {padding!r}; must be >= 0")
    if channels % groups or num_filters % groups:
        raise TraceError(f"conv groups = {groups}; must divide channels ({channels}) "
                         f"and num_filters ({num_filters})")
    out_h = conv_out_size(ifmap_h, filt_h, sh, ph, dh)
    out_w = conv_out_size(ifmap_w, filt_w, sw, pw, dw)
    if out_h < 1 or out_w < 1:
        raise TraceError(f"conv output = {out_h}x{out_w}; must be at least 1x1 (filter "
                         f"{filt_h}x{filt_w} larger than the padded {ifmap_h}x{ifmap_w} input)")
    return (out_h * out_w * batch, num_filters // groups, filt_h * filt_w * channels // groups,
            groups)
