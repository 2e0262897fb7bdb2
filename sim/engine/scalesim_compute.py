"""SCALE-Sim 3.0.0's operand, prefetch and demand matrices of one layer (restated).

A layer is a conv ``H x W`` image, ``C`` channels, ``Nf`` filters of ``Fh x Fw``, stride
``s`` (a GEMM ``M, N, K`` is the conv ``H=M, W=K, Fh=1, Fw=K, C=1, Nf=N, s=1``).  Its
operand matrices hold word addresses (``-1`` = no element):

* ifmap ``A[p, j]`` (output pixel ``p``, window index ``j``): image pixel
  ``((oy*s + fy) * W + ox*s + fx) * C + c`` with ``j = (fy*Fw + fx)*C + c``; ``-1`` where a
  window overhangs the image (SCALE-Sim's ceil rounding of the output size);
* filter ``B[j, f] = f*Fh*Fw*C + j``;  ofmap ``O[p, f] = p*Nf + f``; plus the offsets.

Per dataflow the array maps (rows, cols, streamed T) = os: (pixels, filters, window),
ws: (window, filters, pixels), is: (window, pixels, filters); folds run column fold outer,
row fold inner.  The *demand* matrices list, per cycle, the address each array port
touches (one row per cycle, skewed); the *prefetch* matrices give the order in which the
USER-mode read buffers fetch an operand (the folds stacked, then read along
anti-diagonals for the skewed operands).  Counts and utilisations follow
``compute/systolic_compute_{os,ws,is}.py`` exactly, including the OS ofmap count artefact
``+ R + C`` per fold.  Plain numpy; small layers only (this is the reference path).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Layer", "LayerMatrices", "layer_matrices", "operand_matrices", "skew",
           "antidiagonal_order", "prefetch_matrices", "fold_stats"]


@dataclass(frozen=True)
class Layer:
    """One topology row in SCALE-Sim's conv form (GEMMs use ``Layer.gemm``)."""

    name: str
    ifmap_h: int
    ifmap_w: int
    filt_h: int
    filt_w: int
    channels: int
    num_filters: int
    stride: int

    @classmethod
    def gemm(cls, name: str, m: int, n: int, k: int) -> Layer:
        """``out[M, N] = A[M, K] @ B[K, N]`` as SCALE-Sim's 1 x K conv."""
        return cls(name, m, k, 1, k, 1, n, 1)

    @property
    def ofmap_hw(self) -> tuple[int, int]:
        """Output rows, cols: ``ceil((size - f + s) / s)`` (SCALE-Sim's rounding)."""
        s = self.stride
        return (-(-(self.ifmap_h - self.filt_h + s) // s),
                -(-(self.ifmap_w - self.filt_w + s) // s))

    @property
    def pixels(self) -> int:
        """Output pixels per filter (GEMM ``M``)."""
        ho, wo = self.ofmap_hw
        return ho * wo

    @property
    def window(self) -> int:
        """Filter window size ``Fh*Fw*C`` (GEMM ``K``)."""
        return self.filt_h * self.filt_w * self.channels

    @property
    def macs(self) -> int:
        """Multiply-accumulates (SCALE-Sim's ``num_compute``)."""
        return self.pixels * self.num_filters * self.window


def operand_matrices(layer: Layer, offsets=(0, 10_000_000, 20_000_000)):
    """(ifmap ``pixels x window``, filter ``window x Nf``, ofmap ``pixels x Nf``) addresses."""
    ho, wo = layer.ofmap_hw
    c, fw, w = layer.channels, layer.filt_w, layer.ifmap_w
    p = np.arange(layer.pixels)[:, None]
    j = np.arange(layer.window)[None, :]
    oy, ox = np.divmod(p, wo)
    iy, ix = oy * layer.stride, ox * layer.stride
    fy, rest = np.divmod(j, fw * c)
    fx, ch = np.divmod(rest, c)
    valid = (fy + iy < layer.ifmap_h) & (fx + ix < w)
    addr = ((iy + fy) * w + ix + fx) * c + ch + offsets[0]
    ifmap = np.where(valid, addr, -1)
    filt = (np.arange(layer.num_filters)[None, :] * layer.window
            + np.arange(layer.window)[:, None] + offsets[1])
    ofmap = (np.arange(layer.pixels)[:, None] * layer.num_filters
             + np.arange(layer.num_filters)[None, :] + offsets[2])
    return ifmap, filt, ofmap


def skew(mat: np.ndarray) -> np.ndarray:
    """Delay column ``c`` by ``c`` rows (``rows + cols - 1`` rows, ``-1`` fill)."""
    rows, cols = mat.shape
    out = np.full((rows + cols - 1, cols), -1, dtype=np.int64)
    for col in range(cols):
        out[col:col + rows, col] = mat[:, col]
    return out


def antidiagonal_order(mat: np.ndarray) -> np.ndarray:
    """Elements along anti-diagonals ``d = r + c``, bottom row first within a diagonal."""
    rows, cols = mat.shape
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    order = np.lexsort((-r.ravel(), (r + c).ravel()))
    return mat.ravel()[order]


def _pad(mat: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``mat`` padded with ``-1`` at the bottom/right to ``rows x cols``."""
    out = np.full((rows, cols), -1, dtype=np.int64)
    out[:mat.shape[0], :mat.shape[1]] = mat
    return out


def _gap(rows: int, cols: int) -> np.ndarray:
    return np.full((rows, cols), -1, dtype=np.int64)


@dataclass
class LayerMatrices:
    """Everything the memory system and the compute report need for one layer."""

    ifmap_demand: np.ndarray
    filter_demand: np.ndarray
    ofmap_demand: np.ndarray
    ifmap_prefetch: np.ndarray    # fetch order (2-D; flattened row-major by the buffer)
    filter_prefetch: np.ndarray
    ifmap_reads: int
    filter_reads: int
    ofmap_writes: int
    mapping_eff: list
    compute_util: list


def layer_matrices(layer: Layer, dataflow: str, rows: int, cols: int,
                   offsets=(0, 10_000_000, 20_000_000)) -> LayerMatrices:
    """Demand/prefetch matrices, SRAM counts and per-fold utilisations of one layer."""
    ifm, flt, ofm = operand_matrices(layer, offsets)
    build = {"os": _os, "ws": _ws, "is": _is}[dataflow]
    mats = build(ifm, flt, ofm, rows, cols)
    mats.ifmap_prefetch, mats.filter_prefetch = prefetch_matrices(ifm, flt, dataflow, rows,
                                                                  cols)
    return mats


def prefetch_matrices(ifm, flt, dataflow: str, R: int, C: int, order=None):
    """(ifmap, filter) fetch order of the USER-mode read buffers (flattened row-major).

    ``order`` reads a matrix along anti-diagonals (default :func:`antidiagonal_order`).
    """
    antidiagonal_order = order or globals()["antidiagonal_order"]
    if dataflow == "os":
        sr, sc, t = ifm.shape[0], flt.shape[1], ifm.shape[1]
        pre_i = np.vstack([_pad(ifm.T[:, r * R:(r + 1) * R], t, R)
                           for r in range(math.ceil(sr / R))])
        pre_f = np.vstack([_pad(flt[:, c * C:(c + 1) * C], t, C)
                           for c in range(math.ceil(sc / C))])
        return antidiagonal_order(pre_i)[None, :], antidiagonal_order(pre_f)[None, :]
    if dataflow == "ws":
        sr, sc, t = ifm.shape[1], flt.shape[1], ifm.shape[0]
        pre_i = np.vstack([_pad(ifm[:, r * R:(r + 1) * R], t, R)
                           for r in range(math.ceil(sr / R))])
        pre_f = np.vstack([_pad(flt[:, c * C:(c + 1) * C], flt.shape[0], C)
                           for c in range(math.ceil(sc / C))])
        return antidiagonal_order(pre_i)[None, :], pre_f
    sr, sc, t = ifm.shape[1], ifm.shape[0], flt.shape[1]
    pre_i = np.vstack([_pad(ifm.T[:, c * C:(c + 1) * C], sr, C)
                       for c in range(math.ceil(sc / C))])
    pre_f = np.vstack([_pad(flt[r * R:(r + 1) * R, :].T, t, R)
                       for r in range(math.ceil(sr / R))])
    return pre_i, antidiagonal_order(pre_f)[None, :]


def fold_stats(layer: Layer, dataflow: str, R: int, C: int):
    """SRAM counts and per-fold utilisations without building the matrices.

    Returns ``(ifmap_reads, filter_reads, ofmap_writes, mapping_eff, compute_util)`` equal
    to :func:`layer_matrices`' (same float operations in the same order).
    """
    px, win, nf = layer.pixels, layer.window, layer.num_filters
    sr, sc, t = {"os": (px, nf, win), "ws": (win, nf, px), "is": (win, px, nf)}[dataflow]
    fr_n, fc_n = math.ceil(sr / R), math.ceil(sc / C)
    fold_rows = t - 1 + R if dataflow == "os" else 2 * R + C + t - 2
    eff, util = [], []
    for fc in range(fc_n):
        cc = min(C, sc - fc * C)
        for fr in range(fr_n):
            rr = min(R, sr - fr * R)
            e, u = _fold_util(rr * cc, t, R, C, fold_rows, C)
            eff.append(e)
            util.append(u)
    if dataflow == "os":
        counts = (fc_n * t * sr, fr_n * t * sc, sr * sc + fr_n * fc_n * (R + C))
    elif dataflow == "ws":
        counts = (fc_n * t * sr, sr * sc, fr_n * t * sc)
    else:
        counts = (sr * sc, fc_n * t * sr, fr_n * t * sc)
    return (*counts, eff, util)


def _fold_util(used: int, t: int, rows: int, cols: int, fold_rows: int, fold_cols: int):
    cycles = fold_rows + fold_cols - 1
    return used / (rows * cols), used * t / (rows * cols * cycles)


def _os(ifm, flt, ofm, R, C) -> LayerMatrices:
    sr, sc, t = ifm.shape[0], flt.shape[1], ifm.shape[1]
    fr_n, fc_n = math.ceil(sr / R), math.ceil(sc / C)
    ifm_t = ifm.T
    di, df_, do, eff, util = [], [], [], [], []
    reads_i = reads_f = writes = 0
    for fc in range(fc_n):
        for fr in range(fr_n):
            a = ifm_t[:, fr * R:(fr + 1) * R]
            reads_i += a.size
            di.append(skew(np.vstack([_pad(a, t, R), _gap(C - 1, R)])))
            b = flt[:, fc * C:(fc + 1) * C]
            reads_f += b.size
            df_.append(skew(np.vstack([_pad(b, t, C), _gap(R - 1, C)])))
            o = ofm[fr * R:(fr + 1) * R, fc * C:(fc + 1) * C]
            writes += o.size + R + C
            fold = np.vstack([_gap(t - 1, C), _pad(o, R, C)[::-1]])
            e, u = _fold_util(o.size, t, R, C, fold.shape[0], C)
            eff.append(e)
            util.append(u)
            do.append(skew(fold))
    return LayerMatrices(np.vstack(di), np.vstack(df_), np.vstack(do), None, None,
                         reads_i, reads_f, writes, eff, util)


def _ws(ifm, flt, ofm, R, C) -> LayerMatrices:
    sr, sc, t = ifm.shape[1], flt.shape[1], ifm.shape[0]
    fr_n, fc_n = math.ceil(sr / R), math.ceil(sc / C)
    di, df_, do, eff, util = [], [], [], [], []
    reads_i = reads_f = writes = 0
    for fc in range(fc_n):
        for fr in range(fr_n):
            a = ifm[:, fr * R:(fr + 1) * R]
            reads_i += a.size
            di.append(skew(np.vstack([_gap(R, R), _pad(a, t, R), _gap(C - 1, R)])))
            b = flt[fr * R:(fr + 1) * R, fc * C:(fc + 1) * C]
            reads_f += b.size
            fold = np.vstack([_pad(b, R, C)[::-1], _gap(R + C + t - 2, C)])
            e, u = _fold_util(b.size, t, R, C, fold.shape[0], C)
            eff.append(e)
            util.append(u)
            df_.append(fold)
            o = ofm[:, fc * C:(fc + 1) * C]
            writes += o.size
            do.append(skew(np.vstack([_gap(2 * R - 1, C), _pad(o, t, C)])))
    return LayerMatrices(np.vstack(di), np.vstack(df_), np.vstack(do), None, None,
                         reads_i, reads_f, writes, eff, util)


def _is(ifm, flt, ofm, R, C) -> LayerMatrices:
    sr, sc, t = ifm.shape[1], ifm.shape[0], flt.shape[1]
    fr_n, fc_n = math.ceil(sr / R), math.ceil(sc / C)
    ifm_t = ifm.T
    di, df_, do, eff, util = [], [], [], [], []
    reads_i = reads_f = writes = 0
    for fc in range(fc_n):
        for fr in range(fr_n):
            a = ifm_t[fr * R:(fr + 1) * R, fc * C:(fc + 1) * C]
            reads_i += a.size
            fold = np.vstack([_pad(a, R, C)[::-1], _gap(R + C + t - 2, C)])
            e, u = _fold_util(a.size, t, R, C, fold.shape[0], C)
            eff.append(e)
            util.append(u)
            di.append(fold)
            b = flt[fr * R:(fr + 1) * R, :].T
            reads_f += b.size
            df_.append(skew(np.vstack([_gap(R, R), _pad(b, t, R), _gap(C - 1, R)])))
            o = ofm[fc * C:(fc + 1) * C, :].T
            writes += o.size
            do.append(skew(np.vstack([_gap(2 * R - 1, C), _pad(o, t, C)])))
    return LayerMatrices(np.vstack(di), np.vstack(df_), np.vstack(do), None, None,
                         reads_i, reads_f, writes, eff, util)
