"""Register-level kernels of the systolic PE array (the proof of the closed forms).

These kernels clock an ``rows x cols`` grid of processing elements (PEs) one cycle at a
time on real int64 operand values.  Every PE owns real registers that are rewritten every
cycle; nothing here computes a dot product directly.  The Python wrapper is
:func:`sim.engine.pe_array.simulate_pe_array`, which validates inputs, builds the arrays,
calls a kernel and turns its status code into an exception.

Register-transfer conventions (shared by both kernels)
------------------------------------------------------
* Cycles are numbered from 0 (global, across folds) and from 0 within a fold (local).
* A PE's operand inputs are *wires*: from the array edge (the feeder) for the first
  row/column, otherwise the output register of its left/upper neighbour as latched at the
  end of the previous cycle.  In the cycle an operand arrives the PE uses it (multiply,
  add) and latches it into its own output register for its right/lower neighbour.  One
  hop therefore costs exactly one cycle.
* Every moving register carries a *valid* bit next to its value (what real arrays do with
  handshake/valid signals); bubbles (valid = 0) are fed during the skew.  A PE computes only
  on valid operands, and misaligned operands (one valid, the other not) are reported as
  :data:`ERR_PROTOCOL` -- an internal invariant of the schedule.
* Registers are updated in place by visiting PEs in *decreasing* row and column order, so a
  PE reads its neighbours' registers before they are rewritten in the same cycle: this is
  exactly the semantics of edge-triggered flip-flops.
* Partial folds are padded to the whole array with zero operands that are valid (the
  controller runs the same schedule for every fold, as SCALE-Sim does); the outputs of
  padding PEs/columns are discarded at write-back.
* Folds run back to back: a fold starts in the cycle after the last output of the previous
  fold ("the array drains before the next fold", SCALE-Sim's no-overlap mode).

Status codes returned by the kernels: :data:`OK`, :data:`ERR_MAX_CYCLES` (the run needed
more than ``max_cycles`` cycles), :data:`ERR_PROTOCOL` (an internal invariant failed).
"""

from __future__ import annotations

import numpy as np

from sim.engine._kernels import jit

__all__ = ["ERR_MAX_CYCLES", "ERR_PROTOCOL", "OK", "os_array", "stationary_array"]

#: The run finished; outputs and cycle counts are valid.
OK = 0
#: The run needed more than ``max_cycles`` cycles (runaway guard).
ERR_MAX_CYCLES = 1
#: An internal invariant failed (misaligned operands, output-bus conflict, operand
#: arriving while the stationary tile is still loading).  Never expected.
ERR_PROTOCOL = 2


@jit
def os_array(a, b, rows, cols, max_cycles, out, out_cycle, fold_cycles):
    """Output-stationary array: ``out = a @ b`` with outputs held in the PEs.

    Rows of the array map rows of ``a`` (M), columns map columns of ``b`` (N), the inner
    dimension K is streamed.  Row ``i`` of the ``a`` tile enters from the left, delayed
    ``i`` cycles; column ``j`` of the ``b`` tile enters from the top, delayed ``j``
    cycles.  So ``a[i, t]`` and ``b[t, j]`` meet in PE ``(i, j)`` at local cycle
    ``t + i + j``.  Each PE keeps an accumulator and a MAC counter; when the counter
    reaches K the output is complete and the PE drives its column's output bus in that
    cycle (one write per column per cycle; a second driver is :data:`ERR_PROTOCOL`).

    Parameters
    ----------
    a : int64[M, K] (C-contiguous)
    b : int64[K, N] (C-contiguous)
    rows, cols : int
        Array size (PEs).
    max_cycles : int
        Runaway guard: the run may take at most this many cycles.
    out : int64[M, N], zero-filled
        Written with ``a @ b``.
    out_cycle : int64[M, N]
        Written with the global cycle in which each output was produced (bus write).
    fold_cycles : int64[folds]
        Written with each fold's length in cycles (local index of its last output + 1).

    Returns
    -------
    status : int
        :data:`OK`, :data:`ERR_MAX_CYCLES` or :data:`ERR_PROTOCOL`.
    cycles : int
        Global index of the last output-producing cycle + 1 (cycles run so far on error).
    """
    m = a.shape[0]
    k = a.shape[1]
    n = b.shape[1]
    row_folds = (m + rows - 1) // rows
    n_folds = row_folds * ((n + cols - 1) // cols)

    h_val = np.zeros((rows, cols), np.int64)  # operand moving right (from a)
    h_ok = np.zeros((rows, cols), np.bool_)
    v_val = np.zeros((rows, cols), np.int64)  # operand moving down (from b)
    v_ok = np.zeros((rows, cols), np.bool_)
    acc = np.zeros((rows, cols), np.int64)  # stationary accumulator
    macs = np.zeros((rows, cols), np.int64)  # MACs done into acc
    bus_busy = np.zeros(cols, np.bool_)  # column output bus driven this cycle

    cycle = 0
    last_out = -1
    fold = 0
    local = 0
    produced = 0
    while fold < n_folds:
        if cycle >= max_cycles:
            return ERR_MAX_CYCLES, cycle
        r0 = (fold % row_folds) * rows  # SCALE-Sim order: column folds outer
        c0 = (fold // row_folds) * cols
        bus_busy[:] = False
        for i in range(rows - 1, -1, -1):
            for j in range(cols - 1, -1, -1):
                if j == 0:  # left feeder: row i skewed by i cycles
                    t = local - i
                    a_ok = 0 <= t < k
                    a_in = a[r0 + i, t] if (a_ok and r0 + i < m) else 0
                else:
                    a_ok = h_ok[i, j - 1]
                    a_in = h_val[i, j - 1]
                if i == 0:  # top feeder: column j skewed by j cycles
                    t = local - j
                    b_ok = 0 <= t < k
                    b_in = b[t, c0 + j] if (b_ok and c0 + j < n) else 0
                else:
                    b_ok = v_ok[i - 1, j]
                    b_in = v_val[i - 1, j]
                if a_ok != b_ok:
                    return ERR_PROTOCOL, cycle
                if a_ok:
                    acc[i, j] += a_in * b_in
                    macs[i, j] += 1
                    if macs[i, j] == k:  # output complete: drive the column bus
                        if bus_busy[j]:
                            return ERR_PROTOCOL, cycle
                        bus_busy[j] = True
                        if r0 + i < m and c0 + j < n:
                            out[r0 + i, c0 + j] = acc[i, j]
                            out_cycle[r0 + i, c0 + j] = cycle
                        acc[i, j] = 0
                        macs[i, j] = 0
                        produced += 1
                        last_out = cycle
                h_val[i, j] = a_in
                h_ok[i, j] = a_ok
                v_val[i, j] = b_in
                v_ok[i, j] = b_ok
        cycle += 1
        local += 1
        if produced == rows * cols:  # controller: fold done, start the next one
            fold_cycles[fold] = local
            fold += 1
            local = 0
            produced = 0
    return OK, last_out + 1


@jit
def stationary_array(stream, stat, rows, cols, max_cycles, out, out_cycle, fold_cycles):
    """Weight/input-stationary array: ``out += stream @ stat``, partial sums move down.

    Rows of the array map the inner dimension K, columns map columns of ``stat`` (X); the
    rows of ``stream`` (T) are streamed.  WS is ``stream = A`` (M x K), ``stat = B``;
    IS is ``stream = B.T`` (N x K), ``stat = A.T`` (so ``out`` is ``(A @ B).T``).

    Per fold, local cycles ``0 .. rows-1`` shift the ``rows x cols`` stationary tile in
    from the top (one tile row per cycle; the row fed at local cycle ``c`` is tile row
    ``rows-1-c``, so after ``rows`` cycles PE ``(i, j)`` holds ``stat[k0+i, x0+j]``).
    Then ``stream[s, k0+i]`` enters row ``i`` from the left at local cycle
    ``rows + s + i`` and moves right.  PE ``(0, j)`` starts a partial sum, PE ``(i, j)``
    adds its product to the sum latched by PE ``(i-1, j)`` the cycle before; the sum for
    ``out[s, x0+j]`` is complete in the bottom PE ``(rows-1, j)`` at local cycle
    ``2*rows - 1 + s + j`` and leaves the array there (one per column per cycle, in
    stream order: a per-column counter gives its row ``s``).  It is added to ``out``
    (one partial sum per K-fold, as SCALE-Sim counts ofmap writes).

    Parameters
    ----------
    stream : int64[T, K] (C-contiguous)
    stat : int64[K, X] (C-contiguous)
    rows, cols : int
        Array size (PEs).
    max_cycles : int
        Runaway guard: the run may take at most this many cycles.
    out : int64[T, X], zero-filled
        Accumulated with ``stream @ stat``.
    out_cycle : int64[T, X]
        Written with the global cycle in which each output's last partial sum (that of
        its last K-fold) left the bottom edge.
    fold_cycles : int64[folds]
        Written with each fold's length in cycles (local index of its last output + 1).

    Returns
    -------
    status : int
        :data:`OK`, :data:`ERR_MAX_CYCLES` or :data:`ERR_PROTOCOL`.
    cycles : int
        Global index of the last output-producing cycle + 1 (cycles run so far on error).
    """
    t_len = stream.shape[0]
    k = stream.shape[1]
    x = stat.shape[1]
    row_folds = (k + rows - 1) // rows
    n_folds = row_folds * ((x + cols - 1) // cols)

    w = np.zeros((rows, cols), np.int64)  # stationary register (shift chain while loading)
    h_val = np.zeros((rows, cols), np.int64)  # streamed operand moving right
    h_ok = np.zeros((rows, cols), np.bool_)
    p_val = np.zeros((rows, cols), np.int64)  # partial sum moving down
    p_ok = np.zeros((rows, cols), np.bool_)
    out_row = np.zeros(cols, np.int64)  # per-column output address counter

    cycle = 0
    last_out = -1
    fold = 0
    local = 0
    produced = 0
    while fold < n_folds:
        if cycle >= max_cycles:
            return ERR_MAX_CYCLES, cycle
        k0 = (fold % row_folds) * rows  # SCALE-Sim order: column folds outer
        x0 = (fold // row_folds) * cols
        if local == 0:
            out_row[:] = 0
        loading = local < rows
        for i in range(rows - 1, -1, -1):
            for j in range(cols - 1, -1, -1):
                if j == 0:  # left feeder: row i skewed by i cycles after the load
                    s = local - rows - i
                    a_ok = 0 <= s < t_len
                    a_in = stream[s, k0 + i] if (a_ok and k0 + i < k) else 0
                else:
                    a_ok = h_ok[i, j - 1]
                    a_in = h_val[i, j - 1]
                if a_ok and loading:
                    return ERR_PROTOCOL, cycle
                if i == 0:
                    p_in = 0
                    pin_ok = a_ok  # the top edge supplies a zero partial sum
                else:
                    p_in = p_val[i - 1, j]
                    pin_ok = p_ok[i - 1, j]
                if a_ok != pin_ok:
                    return ERR_PROTOCOL, cycle
                p_new = p_in + a_in * w[i, j] if a_ok else 0
                if a_ok and i == rows - 1:  # sum complete at the bottom edge
                    s_out = out_row[j]
                    out_row[j] += 1
                    if s_out < t_len and x0 + j < x:
                        out[s_out, x0 + j] += p_new
                        out_cycle[s_out, x0 + j] = cycle
                    produced += 1
                    last_out = cycle
                if loading:  # shift the stationary tile down by one row
                    if i == 0:
                        src = k0 + rows - 1 - local
                        w[i, j] = stat[src, x0 + j] if (src < k and x0 + j < x) else 0
                    else:
                        w[i, j] = w[i - 1, j]
                h_val[i, j] = a_in
                h_ok[i, j] = a_ok
                p_val[i, j] = p_new
                p_ok[i, j] = a_ok
        cycle += 1
        local += 1
        if produced == t_len * cols:  # controller: fold done, start the next one
            fold_cycles[fold] = local
            fold += 1
            local = 0
            produced = 0
    return OK, last_out + 1
