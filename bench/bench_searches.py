"""POMT L(n) curves and OPTIN cost tables: the batched path vs the per-point path.

Both searches vary the *trace* (one per token count, head count or MLP width) on one
design, so the batched evaluator (:func:`sim.search.evaluate`, which vectorises over
designs) pays its per-trace setup once per curve point or table cell.  The per-point path
is forced with an evaluator the searches do not recognise as the simulator.

Reported: CPU seconds per call (``time.process_time``), median [min, max] of
``--repeats``.

Run::

    python bench/bench_searches.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import sim
from sim.search.optin.tables import cost_tables
from sim.search.pomt.schedule import latency_curve
from sim.search.simulator import simulate_summary


def per_point(arch, trace):
    return simulate_summary(arch, trace, mode="analytic")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    arch, deit = sim.as_arch("zcu102"), sim.model_trace("deit_s")
    cases = {
        "POMT input curve, 197 n": lambda ev: latency_curve(arch, deit, evaluate=ev),
        "POMT deployed curve, layer 3": lambda ev: latency_curve(arch, deit, prune_layer=3,
                                                                 evaluate=ev),
        "OPTIN cost tables, width grid 64": lambda ev: cost_tables(arch, deit, width_grid=64,
                                                                   evaluate=ev),
    }
    for name, fn in cases.items():
        fn(None)
        res = {}
        for label, ev in (("batched", None), ("per-point", per_point)):
            times = []
            for _ in range(args.repeats):
                t0 = time.process_time()
                fn(ev)
                times.append(time.process_time() - t0)
            res[label] = (statistics.median(times), min(times), max(times))
        print(f"{name:34s} batched {res['batched'][0]:.3f} s "
              f"[{res['batched'][1]:.3f}, {res['batched'][2]:.3f}]  per-point "
              f"{res['per-point'][0]:.3f} s [{res['per-point'][1]:.3f}, "
              f"{res['per-point'][2]:.3f}]")


if __name__ == "__main__":
    main()
