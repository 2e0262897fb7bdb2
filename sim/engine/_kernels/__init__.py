"""Every Numba kernel of vitsim lives in this package, split by topic.

Kernels take plain contiguous numpy arrays and scalars, never objects, and are compiled
with one shared decorator, :data:`jit` (``cache=True`` so a second process starts warm).
The Python layer (``sim.engine``, ``sim.hw``) validates inputs, builds arrays, calls the
kernel and wraps the result.
"""

from numba import njit

#: The one decorator every vitsim kernel uses.
jit = njit(cache=True, nogil=True)
