"""Numbers quoted in README and docs tables are recomputed here (the cheap ones), so the
docs cannot drift from the code: each check parses the documented value and compares it
with a fresh run of the script or API call that produced it."""

import importlib.util
import re
from pathlib import Path

import pytest

import sim

REPO = Path(__file__).resolve().parents[1]


def _doc(path: str) -> str:
    return (REPO / path).read_text()


def _row(text: str, start: str) -> list[str]:
    """Cells of the markdown table row whose first cells start with ``start``."""
    line = next(ln for ln in text.splitlines() if ln.startswith(start))
    return [c.strip() for c in line.strip().strip("|").split("|")]


def test_energy_doc_deit_s_on_zcu102():
    text = _doc("docs/energy.md")
    s = sim.simulate("zcu102", sim.model_trace("deit_s")).summary
    assert f"**{s['latency_s'] * 1e3:.2f} ms**" in _row(text, "| latency |")[1]
    assert f"**{s['power_w']:.2f} W**" in _row(text, "| board power |")[1]
    assert f"**{s['energy_j'] * 1e3:.1f} mJ**" in _row(text, "| energy |")[1]
    edp = re.search(r"\*\*([0-9.]+e-?\d+) J·s\*\*", _row(text, "| EDP |")[1]).group(1)
    assert float(edp) == pytest.approx(s["edp_per_inference_js"], rel=6e-3)
    a = sim.simulate("zcu102", sim.model_trace("deit_s"), mode="analytic").summary
    assert _row(text, "| analytic mode (no stalls) |")[1] == (
        f"{a['latency_s'] * 1e3:.2f} ms, {a['power_w']:.2f} W, {a['energy_j'] * 1e3:.1f} mJ")


def test_energy_doc_pivot_delay_ratio():
    text = _doc("docs/energy.md")
    low = sim.skip_attention(sim.model_trace("lvvit_s"), [1, 3, 5, 7, 9, 11, 13, 15])
    full, cut = (sim.simulate("pivot_zcu102", t).summary for t in (sim.model_trace("lvvit_s"),
                                                                    low))
    cells = _row(text, "| `pivot_zcu102` + `pivot_sim`")
    assert cells[1].startswith(f"{full['latency_s'] * 1e3:.2f} ms")
    assert cells[3] == f"**{cut['latency_s'] / full['latency_s']:.3f}**"
    gain = full["edp_per_inference_js"] / cut["edp_per_inference_js"]
    assert cells[5] == f"**{gain:.2f}×**"


def test_readme_pomt_comparison_row():
    spec = importlib.util.spec_from_file_location("pomt_schedule",
                                                  REPO / "examples" / "pomt_schedule.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    _, df = example.comparison("edge_16x16", 1)
    part = df[df["budget"] == "pomt"].set_index("method")
    cells = _row(_doc("README.md"), "| edge_16x16 | 1 |")
    assert cells[2] == f"{round(part['target_tokens'].iloc[0])} tokens"
    assert cells[3:6] == [f"{part.loc[m, 'speedup']:.3f}×" for m in ("pomt", "topk", "tome")]
