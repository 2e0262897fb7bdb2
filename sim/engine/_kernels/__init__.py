"""Every Numba kernel of vitsim lives in this package, split by topic.

Kernels take plain contiguous numpy arrays and scalars, never objects, and are compiled
with one shared decorator, :data:`jit` (``cache=True`` so a second process starts warm).
The Python layer (``sim.engine``) validates inputs, builds arrays, calls the kernel and
wraps the result.  Numba is imported on first access to :data:`jit`, i.e. when a kernel
module is first imported, so ``import sim`` and analytic runs never load it; the index
tables the Python layer needs live in the numba-free :mod:`.layout`.
"""

import logging
import os
from pathlib import Path

__all__ = ["jit", "cache_is_empty"]

log = logging.getLogger("sim.engine")

#: What the first compilation costs (measured by bench/bench_cli.py: 8.5 s wall, 5.3 CPU-s
#: for a DeiT-S cycle-mode run with an empty cache on the 2-core reference machine).
COMPILE_ESTIMATE = "about 5-10 s"


def cache_is_empty() -> bool:
    """Whether Numba has no cached kernel of this package yet (first run after install
    or upgrade): no index file in ``$NUMBA_CACHE_DIR/_kernels_*`` when that is set, else
    in ``__pycache__`` here."""
    here = Path(__file__).parent
    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    dirs = list(Path(cache_dir).glob(f"{here.name}_*")) if cache_dir else [here / "__pycache__"]
    return not any(next(d.glob("*.nbi"), None) for d in dirs if d.is_dir())


def __getattr__(name):
    if name == "jit":
        if cache_is_empty():
            log.warning("compiling vitsim's Numba kernels (first cycle-mode run after "
                        "install or upgrade: %s, cached afterwards)", COMPILE_ESTIMATE)
        from numba import njit

        #: The one decorator every vitsim kernel uses.
        globals()["jit"] = njit(cache=True, nogil=True)
        return globals()["jit"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
