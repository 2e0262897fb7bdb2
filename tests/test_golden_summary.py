"""Every whole-model number is unchanged by refactors: each preset x shipped workload x
mode re-simulated and compared with the summary recorded before the v0.2 restructure
(``tests/data/make_summary_golden.py``).  Floats must be identical, not close."""

import json
from pathlib import Path

import pytest

import sim
from sim.config.arch import data_dir

GOLDEN = json.loads((Path(__file__).parent / "data" / "summary_golden.json").read_text())
#: Keys renamed since the golden was recorded (old -> new).
RENAMED = {"edp_js": "edp_per_inference_js"}


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_summary_unchanged(case):
    preset, work, mode = case.split("|")
    trace = sim.load_trace(data_dir("workloads") / f"{work}.yaml")
    summary = sim.simulate(preset, trace, mode=mode).to_dict()
    expected = {RENAMED.get(k, k): v for k, v in GOLDEN[case].items()}
    got = {k: summary.get(k) for k in expected}
    assert got == expected


def test_golden_covers_every_preset_workload_and_mode():
    works = {p.stem for p in data_dir("workloads").glob("*.yaml")}
    cases = {tuple(c.split("|")) for c in GOLDEN}
    assert {(p, w, m) for p in sim.list_presets() for w in works
            for m in ("analytic", "cycle")} <= cases
