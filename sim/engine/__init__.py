"""The engine: closed-form compute, the memory walk and the PE-array proof kernel."""

from sim.engine.simulate import GEMM_KEYS, MODES, simulate_ops

__all__ = ["simulate_ops", "MODES", "GEMM_KEYS"]
