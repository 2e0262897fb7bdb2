"""The engine: every simulation -- closed-form compute, the memory walk, address traces
and the PE-array proof kernel.  Numba is imported only by the paths that need a kernel."""

from sim.engine.simulate import GEMM_KEYS, MODES, RATE_KEYS, SUM_KEYS, Timing, simulate_ops

__all__ = ["simulate_ops", "Timing", "MODES", "GEMM_KEYS", "SUM_KEYS", "RATE_KEYS"]
