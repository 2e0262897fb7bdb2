"""Every Numba kernel of vitsim lives in this package, split by topic.

Kernels take plain contiguous numpy arrays and scalars, never objects, and are compiled
with one shared decorator, :data:`jit` (``cache=True`` so a second process starts warm).
The Python layer (``sim.engine``) validates inputs, builds arrays, calls the kernel and
wraps the result.  Numba is imported on first access to :data:`jit`, i.e. when a kernel
module is first imported, so ``import sim`` and analytic runs never load it; the index
tables the Python layer needs live in the numba-free :mod:`.layout`.
"""

__all__ = ["jit"]


def __getattr__(name):
    if name == "jit":
        from numba import njit

        #: The one decorator every vitsim kernel uses.
        globals()["jit"] = njit(cache=True, nogil=True)
        return globals()["jit"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
