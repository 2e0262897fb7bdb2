"""Index tables of the kernels' parameter vectors (numba-free, for the Python layer).

``params`` of :mod:`sim.engine._kernels.memory` (float64) and ``geom`` of
:mod:`sim.engine._kernels.trace` (int64); their module docstrings say what each holds.
"""

#: Index of the ``params`` entries (kept in one table, see module docstring).
P_ROWS, P_COLS, P_DIMS, P_OVERLAP = 0, 1, 2, 6
P_BW_I, P_BW_F, P_BW_O, P_SHARED, P_LAT = 7, 8, 9, 10, 11
P_HALF_I, P_HALF_F, P_HALF_O, P_WORD = 12, 13, 14, 15
N_PARAMS = 16

#: Index of the ``geom`` entries of the trace kernels.
G_R, G_C, G_M, G_N, G_K, G_PER_FOLD, G_OFF_I, G_OFF_F, G_OFF_O, G_NFR, G_DIMS = range(11)
G_SIZE = G_DIMS + 4
