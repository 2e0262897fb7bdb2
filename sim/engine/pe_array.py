"""Register-level simulation of the systolic PE array -- the proof of the closed forms.

:func:`simulate_pe_array` clocks an ``rows x cols`` grid of PEs cycle by cycle on real
integer operands (kernels in :mod:`sim.engine._kernels.pe`) and returns the product and
the cycle count.  It is slow (``O(cycles * rows * cols)``) and exists to show, by
construction of the grid, that the closed forms of :mod:`sim.engine.compute` (SCALE-Sim v3's
per-fold ``R + C + T - 2`` for os and ``2R + C + T - 2`` for ws/is) are what a real
skewed systolic array does.  See ``docs/pe_array.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.engine._kernels import pe as _pe
from sim.errors import ConfigError, SimulationError, TraceError
from sim.hw.dataflow import get_dataflow

__all__ = ["PEArrayResult", "simulate_pe_array"]


@dataclass(frozen=True, eq=False)
class PEArrayResult:
    """Outcome of one register-level run.

    Attributes
    ----------
    out : numpy.ndarray of int64, shape (M, N)
        The product ``a @ b`` as the array computed it (int64, wrapping like numpy).
    cycles : int
        Cycles of the whole GEMM: global 0-based index of the last output-producing
        cycle, plus one.  Equals :func:`sim.engine.compute.compute_cycles` (no stalls, no
        fold overlap); SCALE-Sim 3.0.0 prints ``cycles - 1`` as "Total Cycles".
    folds : int
        Number of folds run (partial folds padded to the whole array).
    fold_cycles : numpy.ndarray of int64, shape (folds,)
        Length of each fold in cycles (its local last-output index + 1); they sum to
        ``cycles``.
    out_cycle : numpy.ndarray of int64, shape (M, N)
        Global 0-based cycle in which each output was produced (os: its PE's last MAC,
        written on the column bus; ws/is: its last K-fold's partial sum leaving the bottom
        edge).  For os these are the cycles of SCALE-Sim's OFMAP SRAM trace up to the
        row order within a fold (SCALE-Sim lists the bottom row first).
    dataflow : str
        ``"os"``, ``"ws"`` or ``"is"``.
    rows, cols : int
        Array size in PEs.
    """

    out: np.ndarray
    cycles: int
    folds: int
    fold_cycles: np.ndarray
    out_cycle: np.ndarray
    dataflow: str
    rows: int
    cols: int


def _check_int(name, value, problems):
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not is_int or value < 1:
        problems.append(f"{name} must be an integer >= 1, not {value!r}")


def _check_operand(name, x, problems):
    x = np.asarray(x)
    if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.integer):
        problems.append(f"{name} must be an integer array, not dtype {x.dtype}")
    if x.ndim != 2:
        problems.append(f"{name} must be 2-D, not {x.ndim}-D with shape {x.shape}")
    elif min(x.shape) < 1:
        problems.append(f"{name} must have every dimension >= 1, not shape {x.shape}")
    return x


def simulate_pe_array(a, b, rows, cols, dataflow, *, max_cycles=None) -> PEArrayResult:
    """Simulate ``a @ b`` on an ``rows x cols`` systolic array, register by register.

    Every PE holds real registers (operand pipeline registers with valid bits, an
    accumulator or a stationary operand, a partial-sum register) rewritten every cycle.
    Operands enter skewed (row ``i`` / column ``j`` delayed ``i`` / ``j`` cycles), GEMM
    dimensions are cut into folds exactly as in :mod:`sim.hw.dataflow` (column folds
    outer, row folds inner, partial folds padded with zeros to the whole array) and folds
    run back to back.  With ``T`` the streamed extent, fold-local cycles are:

    * **os** (rows <- M, cols <- N, T = K): ``a[i, t]`` and ``b[t, j]`` meet in PE
      ``(i, j)`` at cycle ``t + i + j``.  An output is *produced* in the cycle its PE
      performs its K-th MAC; the PE then drives its column's output bus (one PE per column
      per cycle -- the kernel checks it).  Last output: PE ``(R-1, C-1)`` at
      ``(T-1) + (R-1) + (C-1)``, so a fold is ``R + C + T - 2`` cycles.
    * **ws** (rows <- K, cols <- N, T = M): cycles ``0..R-1`` shift the weight tile in
      from the top; ``a[s, i]`` enters row ``i`` at ``R + s + i``; partial sums move down.
      An output is *produced* in the cycle the bottom PE ``(R-1, j)`` adds the last
      product, i.e. at the array's bottom edge: ``R + s + (R-1) + j``.  Last output
      ``s = T-1, j = C-1``: a fold is ``2R + C + T - 2`` cycles.
    * **is** (rows <- K, cols <- M, T = N): the same grid as ws with the input tile
      ``a.T`` preloaded and ``b.T`` streamed (``out.T = b.T @ a.T``): ``2R + C + T - 2``.

    What is and is not counted (SCALE-Sim 3.0.0 convention): a fold ends with its last
    output, the next starts in the following cycle, and ``cycles`` is the global index of
    the last output-producing cycle plus one, equal to ``folds * cycles_per_fold``.
    For ws/is the last output is already at the bottom edge, so nothing is left out.  For
    os the outputs leave through per-column output buses as they complete; SCALE-Sim's
    OFMAP trace writes each column's R outputs in exactly those R cycles (it lists them
    bottom row first, which only a per-PE write path could do, but the cycles and the
    last write are the same).  A shift-out of the accumulators through the bottom edge
    instead would end ``R - 1`` cycles later per fold (a cost SCALE-Sim does not count;
    pipelined arrays hide it under the next fold).  Padding PEs of a partial fold
    produce zero outputs on the same schedule, so a partial fold costs a full fold even
    when its real outputs finish earlier.

    Parameters
    ----------
    a : array_like of int, shape (M, K)
        Left operand (ifmap); cast to int64.
    b : array_like of int, shape (K, N)
        Right operand (filter); cast to int64.
    rows, cols : int
        Array size in PEs, each >= 1.
    dataflow : str
        ``"os"``, ``"ws"`` or ``"is"``.
    max_cycles : int, optional
        Runaway guard in cycles (>= 1): the run may take at most this many cycles.
        Default: ``4 * compute_cycles + 64``.

    Returns
    -------
    PEArrayResult
        ``out == a @ b`` exactly and ``cycles == compute_cycles(dataflow, M, N, K, rows,
        cols)``.

    Raises
    ------
    ConfigError
        ``rows``/``cols``/``max_cycles`` not an integer >= 1, or an unknown dataflow.
    TraceError
        Operands not 2-D integer arrays with at least one element per dimension, or
        inner dimensions that differ.
    SimulationError
        The run needed more than ``max_cycles`` cycles, or an internal invariant of the
        grid failed.
    """
    config_problems = []
    _check_int("rows", rows, config_problems)
    _check_int("cols", cols, config_problems)
    if max_cycles is not None:
        _check_int("max_cycles", max_cycles, config_problems)
    try:
        flow = get_dataflow(dataflow)
    except ConfigError as err:
        config_problems.extend(err.problems)
    if config_problems:
        raise ConfigError(config_problems)

    operand_problems = []
    a = _check_operand("a", a, operand_problems)
    b = _check_operand("b", b, operand_problems)
    if not operand_problems and a.shape[1] != b.shape[0]:
        operand_problems.append(
            f"a and b must share the inner dimension, not a {a.shape} and b {b.shape}"
        )
    if operand_problems:
        raise TraceError(operand_problems)

    rows, cols = int(rows), int(cols)
    m, k = a.shape
    n = b.shape[1]
    folds = int(flow.folds(m, n, k, rows, cols))
    if max_cycles is None:
        max_cycles = 4 * int(folds * flow.fold_cycles(m, n, k, rows, cols)) + 64
    a64 = np.ascontiguousarray(a, dtype=np.int64)
    b64 = np.ascontiguousarray(b, dtype=np.int64)
    fold_cycles = np.zeros(folds, np.int64)

    if flow.cols_dim == "m":  # is: stationary a.T (K x M), streamed b.T (N x K): out.T = b.T @ a.T
        out_t = np.zeros((n, m), np.int64)
        out_cycle_t = np.full((n, m), -1, np.int64)
        status, cycles = _pe.stationary_array(
            np.ascontiguousarray(b64.T), np.ascontiguousarray(a64.T), rows, cols,
            int(max_cycles), out_t, out_cycle_t, fold_cycles,
        )
        out, out_cycle = out_t.T.copy(), out_cycle_t.T.copy()
    else:
        out = np.zeros((m, n), np.int64)
        out_cycle = np.full((m, n), -1, np.int64)
        kernel = _pe.os_array if flow.preload_rows == 0 else _pe.stationary_array
        status, cycles = kernel(
            a64, b64, rows, cols, int(max_cycles), out, out_cycle, fold_cycles
        )

    if status == _pe.ERR_MAX_CYCLES:
        raise SimulationError(
            f"PE array ({flow.name}, {rows}x{cols}, M={m} N={n} K={k}) did not finish "
            f"within max_cycles = {max_cycles}; raise max_cycles"
        )
    if status != _pe.OK:
        raise SimulationError(
            f"PE array ({flow.name}, {rows}x{cols}, M={m} N={n} K={k}) broke an internal "
            f"invariant at cycle {cycles} (status {status}); this is a vitsim bug"
        )
    return PEArrayResult(
        out=out, cycles=int(cycles), folds=folds, fold_cycles=fold_cycles,
        out_cycle=out_cycle, dataflow=flow.name, rows=rows, cols=cols,
    )
