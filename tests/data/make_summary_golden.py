"""Record ``simulate(...).summary`` for every preset x shipped workload x mode.

Run on purpose only (it rewrites the golden):

    python tests/data/make_summary_golden.py

``tests/test_golden_summary.py`` re-simulates every case and requires every recorded
figure to be identical, so a refactor that changes any whole-model number fails.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import sim
from sim.config.arch import data_dir

OUT = Path(__file__).with_name("summary_golden.json")
MODES = ("analytic", "cycle")


def cases():
    """``(preset, workload file stem, mode)`` for every case."""
    works = sorted(p.stem for p in data_dir("workloads").glob("*.yaml"))
    for preset in sim.list_presets():
        for work in works:
            for mode in MODES:
                yield preset, work, mode


def record(preset, work, mode) -> dict:
    trace = sim.load_trace(data_dir("workloads") / f"{work}.yaml")
    summary = sim.simulate(preset, trace, mode=mode).to_dict()
    return {k: v for k, v in summary.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
            and not (isinstance(v, float) and math.isnan(v))}


def main():
    golden = {f"{p}|{w}|{m}": record(p, w, m) for p, w, m in cases()}
    OUT.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(golden)} cases to {OUT}")


if __name__ == "__main__":
    main()
