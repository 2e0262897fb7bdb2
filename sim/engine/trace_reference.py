"""Slow, obvious pure-Python reference of the address-trace kernels, per dataflow.

It builds SCALE-Sim 3.0.0's demand matrices fold by fold, one dataflow at a time, by
placing every operand element at the cycle and port where the array uses it, and lists
each fold's DRAM tile in row-major order.  :mod:`sim.engine._kernels.trace` computes the
same rows from the dataflow's dims vector and must equal this exactly
(``tests/test_address_trace.py``).
"""

from __future__ import annotations

from sim.engine.address_trace import OFFSETS_WORDS

__all__ = ["reference_sram_rows", "reference_tile"]


def _ceil_div(a, b):
    return -(-a // b)


def _addr(op, i, j, m, n, k):
    """Address of A[i, j] (op 0), B[i, j] (op 1) or C[i, j] (op 2); -1 outside."""
    shape = ((m, k), (k, n), (m, n))[op]
    if not (0 <= i < shape[0] and 0 <= j < shape[1]):
        return -1
    if op == 1:  # SCALE-Sim stores each filter column contiguously
        return OFFSETS_WORDS[1] + j * k + i
    return OFFSETS_WORDS[op] + i * shape[1] + j


def _folds(dataflow, m, n, k, rows, cols):
    sr, sc = {"os": (m, n), "ws": (k, n), "is": (k, m)}[dataflow]
    return [(fc, fr) for fc in range(_ceil_div(sc, cols)) for fr in range(_ceil_div(sr, rows))]


def reference_sram_rows(dataflow, m, n, k, rows, cols, op):
    """Every SRAM demand row of operand ``op`` (0 ifmap, 1 filter, 2 ofmap), addresses
    only (no cycle column), folds in order."""
    R, C = rows, cols
    t = {"os": k, "ws": m, "is": n}[dataflow]
    pre = 0 if dataflow == "os" else 1
    per_fold = (1 + pre) * R + C + t - 2
    ports = C if (op == 2 or (dataflow, op) in (("ws", 1), ("is", 0), ("os", 1))) else R
    out = []
    for fc, fr in _folds(dataflow, m, n, k, rows, cols):
        grid = [[-1] * ports for _ in range(per_fold)]

        def put(cycle, port, i, j, grid=grid):
            grid[cycle][port] = _addr(op, i, j, m, n, k)

        if dataflow == "os":
            for p in range(ports):
                for s in range(k):
                    if op == 0:
                        put(s + p, p, fr * R + p, s)            # A row on array row p
                    elif op == 1:
                        put(s + p, p, s, fc * C + p)            # B col on array col p
                for j in range(R):
                    if op == 2:                                  # drained bottom row first
                        put(k - 1 + j + p, p, fr * R + R - 1 - j, fc * C + p)
        elif dataflow == "ws":
            for p in range(ports):
                if op == 1:                                      # B block preloaded
                    for i in range(R):
                        put(i, p, fr * R + R - 1 - i, fc * C + p)
                for s in range(m):
                    if op == 0:
                        put(R + s + p, p, s, fr * R + p)         # A streamed after preload
                    elif op == 2:
                        put(2 * R - 1 + s + p, p, s, fc * C + p)
        else:
            for p in range(ports):
                if op == 0:                                      # A block preloaded
                    for i in range(R):
                        put(i, p, fc * C + p, fr * R + R - 1 - i)
                for s in range(n):
                    if op == 1:
                        put(R + s + p, p, fr * R + p, s)         # B streamed after preload
                    elif op == 2:
                        put(2 * R - 1 + s + p, p, fc * C + p, s)
        out.extend(grid)
    return out


def reference_tile(dataflow, m, n, k, rows, cols, op, fold):
    """Addresses of the tile of operand ``op`` that fold ``fold`` moves, row-major."""
    fc, fr = _folds(dataflow, m, n, k, rows, cols)[fold]
    rr = range(fr * rows, min((fr + 1) * rows, {"os": m, "ws": k, "is": k}[dataflow]))
    cr = range(fc * cols, min((fc + 1) * cols, {"os": n, "ws": n, "is": m}[dataflow]))
    full_m, full_n, full_k = range(m), range(n), range(k)
    first, second = {
        ("os", 0): (rr, full_k), ("os", 1): (full_k, cr), ("os", 2): (rr, cr),
        ("ws", 0): (full_m, rr), ("ws", 1): (rr, cr), ("ws", 2): (full_m, cr),
        ("is", 0): (cr, rr), ("is", 1): (rr, full_n), ("is", 2): (cr, full_n),
    }[(dataflow, op)]
    return [_addr(op, i, j, m, n, k) for i in first for j in second]
