"""Trace edits as point columns: each row equals simulate() on the edited trace.

The edit is made the slow way with the public functions (sim.with_batch,
sim.workload.input_tokens, sim.prune_tokens); an edit those refuse gives an infeasible row
with their message.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import same_value

import sim
from sim.errors import ConfigError, VitsimError
from sim.search.evaluate import evaluate
from sim.workload import input_tokens


def _slow_trace(trace, p):
    if p.get("trace.batch") is not None:
        trace = sim.with_batch(trace, p["trace.batch"])
    if p.get("trace.input_tokens") is not None:
        trace = input_tokens(trace, p["trace.input_tokens"])
    if p.get("trace.prune_layer") is not None:
        trace = sim.prune_tokens(trace, p["trace.prune_layer"], p["trace.prune_tokens"],
                                 p.get("trace.prune_method") or "topk")
    return trace




def _check(arch, trace, pts, mode):
    df = evaluate(arch, trace, pts, mode=mode)
    size = len(next(iter(pts.values())))
    ok = 0
    for i in range(size):
        p = {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in pts.items()}
        arch_keys = {k: v for k, v in p.items() if not k.startswith("trace.")}
        row = df.iloc[i]
        try:
            t = _slow_trace(trace, p)
            want = sim.simulate(sim.load_arch(arch, overrides=arch_keys), t, mode=mode).summary
        except VitsimError as exc:
            assert not row["feasible"] and row["reason"] == str(exc), (i, str(exc))
            continue
        assert row["feasible"], (i, row["reason"])
        bad = [(k, v, row[k]) for k, v in want.items() if not same_value(v, row[k])]
        assert not bad, (i, p, bad[:4])
        ok += 1
    return ok


def _random_edits(rng, size):
    def maybe(vals, p_none):
        return np.array([None if rng.random() < p_none else v for v in vals], dtype=object)

    layer = rng.integers(0, 12, size)
    return {
        "array.rows": rng.integers(4, 129, size),
        "array.dataflow": np.array(rng.choice(["os", "ws", "is"], size), dtype=object),
        "vector.lanes": rng.integers(1, 64, size),
        "trace.batch": maybe(rng.integers(1, 9, size).tolist(), 0.5),
        "trace.input_tokens": maybe(rng.integers(2, 198, size).tolist(), 0.6),
        "trace.prune_layer": np.array([int(x) if rng.random() < 0.7 else None
                                       for x in layer], dtype=object),
        # some exceed the tokens entering the layer: the edit is refused
        "trace.prune_tokens": np.array(rng.integers(1, 230, size).tolist(), dtype=object),
        "trace.prune_method": np.array(rng.choice(["topk", "tome", "pomt"], size),
                                       dtype=object),
    }


@pytest.mark.parametrize("mode", ["analytic", "cycle"])
def test_edited_rows_equal_simulate_on_the_edited_trace(mode, rng):
    pts = _random_edits(rng, 60 if mode == "analytic" else 25)
    layer, kept = pts["trace.prune_layer"], pts["trace.prune_tokens"]
    pts["trace.prune_tokens"] = np.array([None if lay is None else k
                                          for lay, k in zip(layer, kept)], dtype=object)
    n_ok = _check("edge_16x16", sim.model_trace("deit_s"), pts, mode)
    assert n_ok >= (30 if mode == "analytic" else 10)
    df = evaluate("edge_16x16", "deit_s", pts, mode=mode)
    assert (~df["feasible"]).any() and df["reason"].str.contains("prune_tokens").any()
    ok = df["feasible"].to_numpy()
    assert df["batch"][ok].tolist() == [b or 1 for b in pts["trace.batch"][ok]]


def test_pomt_style_curve_on_a_shipped_workload():
    """Every token count at one prune layer (a deployed L(n) curve), on a pruned trace."""
    trace = sim.as_trace("deit_s_topk3")
    n = np.arange(1, 198)
    pts = {"trace.prune_layer": np.full(len(n), 5).tolist(), "trace.prune_tokens": n.tolist(),
           "trace.prune_method": ["pomt"] * len(n)}
    assert _check("zcu102", trace, pts, "analytic") >= 50


@pytest.mark.parametrize("points, match", [
    ({"trace.batch": [1, 0]}, r"trace\.batch = 0; must be an integer in \[1, inf\] \(row 1"),
    ({"trace.input_tokens": [1.5]}, r"trace\.input_tokens = 1\.5; must be an integer"),
    ({"trace.prune_layer": [1]}, r"trace\.prune_layer and trace\.prune_tokens go together"),
    ({"trace.prune_layer": [1], "trace.prune_tokens": [True]},
     r"trace\.prune_tokens = True; must be an integer"),
    ({"trace.prune_method": ["cut"]}, r"trace\.prune_method = 'cut'; must be one of"),
    ({"trace.tokens": [3]}, r"trace\.tokens: unknown key"),
])
def test_bad_edit_columns(points, match):
    with pytest.raises(ConfigError, match=match):
        evaluate("edge_16x16", "deit_s", points)
