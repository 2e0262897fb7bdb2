"""Lower a 2-D convolution to GEMMs with SCALE-Sim 3.0.0's im2col convention.

A conv with ``C`` input channels, ``Nf`` filters of ``Fh x Fw``, stride ``s``, ``groups``
``g``, zero padding ``p`` and dilation ``d`` on an ``H x W`` image becomes ``g`` identical
GEMMs ``out[M, N] = A[M, K] @ B[K, N]`` with

* ``M = batch * Ho * Wo`` output pixels (SCALE-Sim's "ofmap pixels"; it has no batch, a
  batch only stacks more rows),
* ``K = Fh * Fw * C / g`` (SCALE-Sim's "window size"),
* ``N = Nf / g`` (filters),
* ``count = g``.

Output size (``rounding``): SCALE-Sim computes ``Ho = ceil((H - Fh + s) / s)``
(topology_utils.py) = ``ceil((H - Fh) / s) + 1``: a stride that does not divide ``H - Fh``
*adds* a last, partial window (``rounding="scalesim"``).  PyTorch (and the hardware) drop
it: ``floor((H + 2p - d(Fh-1) - 1) / s) + 1`` (``rounding="floor"``, the default, used for
torch convs).  E.g. H=8, Fh=3, s=2: SCALE-Sim 4 rows, PyTorch 3.  Padding and dilation are
not in SCALE-Sim; with ``rounding="scalesim"`` they must stay 0 and 1.

A depthwise conv (``groups = channels``) is ``channels`` GEMMs with ``K = Fh * Fw`` and
``N = 1``: on a weight-stationary array each uses one column and ``K`` rows per fold, so
its mapping efficiency is about ``K / rows * 1 / cols`` -- the array runs it, badly,
exactly as SCALE-Sim does.  A 1-d conv is the 2-d case with ``H = Fh = 1``.
Pure Python, no torch: the torch capture calls :func:`conv_gemm` for every conv it sees.
"""

from __future__ import annotations

from sim.errors import TraceError

__all__ = ["conv_gemm", "conv_output_size"]


def _pair(name: str, value) -> tuple[int, int]:
    """``value`` as an (h, w) pair of ints; a scalar applies to both."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise TraceError(f"conv: {name} = {value!r}; must be an int or an (h, w) pair")
        return _int(name, value[0]), _int(name, value[1])
    v = _int(name, value)
    return v, v


def _int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TraceError(f"conv: {name} = {value!r}; must be an integer")
    return value


ROUNDINGS = ("floor", "scalesim")


def conv_output_size(size: int, filt: int, stride: int, padding: int = 0,
                     dilation: int = 1, rounding: str = "floor") -> int:
    """Output length along one axis (pixels); < 1 when the filter does not fit.

    ``"floor"``: ``floor((size + 2p - d(f-1) - 1) / s) + 1`` (PyTorch).
    ``"scalesim"``: ``ceil((size - f + s) / s)`` (SCALE-Sim 3.0.0; p = 0, d = 1).
    """
    span = dilation * (filt - 1) + 1
    extent = size + 2 * padding - span
    if rounding == "scalesim":
        return -(-extent // stride) + 1 if extent >= 0 else 0
    return extent // stride + 1


def conv_gemm(ifmap_h, ifmap_w, filt_h, filt_w, channels, num_filters, stride, batch=1,
              groups=1, padding=0, dilation=1,
              rounding="floor") -> tuple[int, int, int, int]:
    """GEMM ``(m, n, k, count)`` of a conv layer (SCALE-Sim's im2col; see module doc).

    ``stride``, ``padding``, ``dilation`` are ints or (h, w) pairs; sizes are in pixels;
    ``rounding`` is ``"floor"`` (PyTorch, default) or ``"scalesim"`` (see module doc).
    Raises :class:`TraceError` (one line naming the value) for non-positive sizes, groups
    that do not divide the channels and filters, or a filter larger than the padded image.
    """
    for name, value in (("ifmap_h", ifmap_h), ("ifmap_w", ifmap_w), ("filt_h", filt_h),
                        ("filt_w", filt_w), ("channels", channels),
                        ("num_filters", num_filters), ("batch", batch), ("groups", groups)):
        if _int(name, value) < 1:
            raise TraceError(f"conv: {name} = {value}; must be >= 1")
    sh, sw = _pair("stride", stride)
    ph, pw = _pair("padding", padding)
    dh, dw = _pair("dilation", dilation)
    for name, pair, low in (("stride", (sh, sw), 1), ("padding", (ph, pw), 0),
                            ("dilation", (dh, dw), 1)):
        if min(pair) < low:
            raise TraceError(f"conv: {name} = {pair}; must be >= {low}")
    if channels % groups or num_filters % groups:
        raise TraceError(f"conv: groups = {groups}; must divide channels ({channels}) "
                         f"and num_filters ({num_filters})")
    if rounding not in ROUNDINGS:
        raise TraceError(f"conv: rounding = {rounding!r}; must be one of {ROUNDINGS}")
    if rounding == "scalesim" and (ph, pw, dh, dw) != (0, 0, 1, 1):
        raise TraceError(f"conv: padding = {(ph, pw)}, dilation = {(dh, dw)}; "
                         "SCALE-Sim rounding needs padding 0 and dilation 1")
    ho = conv_output_size(ifmap_h, filt_h, sh, ph, dh, rounding)
    wo = conv_output_size(ifmap_w, filt_w, sw, pw, dw, rounding)
    if ho < 1 or wo < 1:
        raise TraceError(f"conv: filter = {filt_h}x{filt_w}; must fit the "
                         f"{ifmap_h}x{ifmap_w} image (padding {ph}x{pw}, "
                         f"dilation {dh}x{dw})")
    return batch * ho * wo, num_filters // groups, filt_h * filt_w * channels // groups, groups
