"""Tiny timing helpers shared by the benchmarks (median of repeated runs)."""

from __future__ import annotations

import statistics
import time


def median_time(fn, repeats: int = 7, number: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` rounds of ``number`` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def fmt_s(seconds: float) -> str:
    """Seconds with a readable unit."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"
