"""POMT's L(n) curves, OPTIN's cost tables and PIVOT Phase 2 go through the batched
evaluator when they use the simulator, and give what the per-point path gives.

The per-point path is forced by injecting an evaluator that is the simulator but not
recognised as it (a lambda); a counter checks the batched path really ran.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import sim
from sim.search.optin.tables import cost_tables
from sim.search.pivot.efforts import make_effort
from sim.search.pivot.phase2 import effort_costs
from sim.search.pomt.schedule import latency_curve
from sim.search.simulator import simulate_summary


@pytest.fixture
def batched_calls(monkeypatch):
    calls = []
    # the module (sim.search.evaluate the attribute is the function of the same name)
    batched_module = importlib.import_module("sim.search.evaluate")
    real = batched_module.evaluate
    counted = lambda *a, **k: calls.append(1) or real(*a, **k)  # noqa: E731
    monkeypatch.setattr(batched_module, "evaluate", counted)
    monkeypatch.setattr(importlib.import_module("sim.search.sweep.batched"), "evaluate",
                        counted)  # the sweep's batched path imported the function
    return calls


def _slow(mode):
    return lambda arch, trace: simulate_summary(arch, trace, mode=mode)


def _frames_equal(a, b):
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        if a[col].dtype.kind == "f":
            np.testing.assert_allclose(a[col], b[col], rtol=1e-12, atol=0, err_msg=col)
        else:
            assert a[col].tolist() == b[col].tolist(), col


@pytest.mark.parametrize("mode", ["analytic", "cycle"])
@pytest.mark.parametrize("prune_layer", [None, 3])
def test_pomt_curve_batched_equals_per_point(mode, prune_layer, batched_calls):
    tokens = list(range(2, 198, 13 if mode == "cycle" else 1))
    fast = latency_curve("zcu102", "deit_s", tokens=tokens, prune_layer=prune_layer,
                         mode=mode, batch=2)
    assert batched_calls
    slow = latency_curve("zcu102", "deit_s", tokens=tokens, prune_layer=prune_layer,
                         mode=mode, batch=2, evaluate=_slow(mode))
    _frames_equal(fast, slow)
    assert len(fast) == len(set(tokens) | {197})


def test_pomt_deployed_curve_on_a_pruned_trace(batched_calls):
    """Layer 5 of deit_s_topk3 enters already pruned: tokens rescale as prune_tokens does."""
    fast = latency_curve("edge_16x16", "deit_s_topk3", prune_layer=5, method="tome")
    slow = latency_curve("edge_16x16", "deit_s_topk3", prune_layer=5, method="tome",
                         evaluate=_slow("analytic"))
    assert batched_calls
    _frames_equal(fast, slow)


@pytest.mark.parametrize("metric", ["latency_s", "edp_per_inference_js", "macs"])
def test_optin_tables_batched_equal_per_point(metric, batched_calls):
    trace = sim.model_trace("deit_s")
    fast = cost_tables("zcu102", trace, metric, width_grid=128)
    assert batched_calls
    slow = cost_tables("zcu102", trace, metric, width_grid=128, evaluate=_slow("analytic"))
    assert fast.base == slow.base
    np.testing.assert_array_equal(np.isinf(fast.mlp), np.isinf(slow.mlp))
    scale = abs(slow.base) * 1e-12
    np.testing.assert_allclose(fast.attn, slow.attn, rtol=0, atol=scale)
    fin = ~np.isinf(slow.mlp)
    np.testing.assert_allclose(fast.mlp[fin], slow.mlp[fin], rtol=0, atol=scale)


def test_pivot_phase2_batched_equals_per_point(batched_calls):
    base = sim.model_trace("deit_s")
    rng = np.random.default_rng(1)
    efforts = [make_effort(name, sim.skip_attention(base, skip), rng.random(50),
                           rng.random(50) < 0.8)
               for name, skip in (("low", [0, 1, 2, 3]), ("high", []))]
    space = {"array.rows": [16, 32, 64, 128], "clock_mhz": [150.0, 300.0]}
    fast = effort_costs("zcu102", efforts, space, mode="analytic")
    assert batched_calls
    slow = effort_costs("zcu102", efforts, space, mode="analytic", evaluate=_slow("analytic"))
    _frames_equal(fast, slow)
    assert fast.attrs["dropped"] == slow.attrs["dropped"] and fast.attrs["dropped"]
