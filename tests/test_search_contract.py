"""Every optimizer honours an injected ``evaluate(arch, trace) -> summary`` (no monkeypatching).

The fake evaluator prices a trace with a made-up closed form whose numbers the simulator
would never produce (latency in the thousands of seconds), so finding them in a result
proves the optimizer used the injected callable and nothing else.
"""

import dataclasses

import numpy as np
import pytest

import sim
from sim.search import sweep
from sim.search.optin import cost_tables, optin_search
from sim.search.pivot import make_effort, pivot_search
from sim.search.pomt import choose, latency_curve
from sim.search.pomt.compare import compare
from sim.workload import ModelSpec, full_trace, model_trace

TINY = ModelSpec("tiny_vit", depth=3, embed_dim=32, num_heads=2, head_dim=16, mlp_hidden=24,
                 patch_size=2, image_size=8, num_classes=10, in_chans=1)


class Fake:
    """``latency_s = offset + sum over blocks of (tokens + 10 heads + width / 8)`` (s);
    energy ``= 3 * latency * rows / 16`` (J); records every call."""

    def __init__(self, offset: float = 1000.0):
        self.offset, self.calls = offset, []

    def latency(self, trace) -> float:
        total = 0.0
        for lt in trace.layers:
            heads = len(lt.heads) if lt.attention else 0
            total += lt.tokens + 10 * heads + lt.mlp_hidden / 8
        return self.offset + total * trace.batch

    def __call__(self, arch, trace):
        self.calls.append((arch.name, trace.name))
        lat = self.latency(trace)
        energy = 3.0 * lat * arch.array.rows / 16
        return {"cycles": int(lat * 1000), "latency_s": lat, "energy_j": energy,
                "edp_per_inference_js": energy * lat, "macs": int(lat), "batch": trace.batch,
                "arch": arch.name}


@pytest.fixture(scope="module")
def arch():
    return sim.load_arch("edge_16x16")


def test_sweep_uses_the_injected_evaluator(arch):
    fake = Fake()
    trace = full_trace(TINY)
    df = sweep(arch, [trace], {"array.rows": [8, 16]}, executor="inline", evaluate=fake)
    assert len(fake.calls) == 2
    assert df["latency_s"].tolist() == [fake.latency(trace)] * 2
    assert df["energy_j"].tolist() == [3 * fake.latency(trace) * r / 16 for r in (8, 16)]


def test_pomt_curve_choice_and_compare_use_the_injected_evaluator(arch):
    fake = Fake()
    trace = model_trace("deit_s")
    curve = latency_curve(arch, trace, tokens=[60, 120], evaluate=fake)
    for n, lat in zip(curve["tokens"], curve["latency_s"]):
        assert lat == fake.latency(sim.workload.input_tokens(trace, int(n)))
    before = len(fake.calls)
    sched = choose(curve, alpha=1.0, evaluate=fake)   # alpha 1: cost only -> fewest tokens
    assert len(fake.calls) == before + 1               # the deployed schedule, re-evaluated
    assert sched.tokens_keep == 60
    from sim.search.pomt import deployed_trace

    assert sched.pruned_latency_s == fake.latency(deployed_trace(trace, 3, 60))
    df = compare(arch, trace, tokens_keep=120, evaluate=fake)
    none = df[df["method"] == "none"]
    assert (none["latency_s"] == fake.latency(trace)).all()
    assert df["overhead_cycles"].isna().all()   # the fake reports no pruning-op cycles


def test_pivot_uses_the_injected_evaluator():
    fake = Fake()
    full = full_trace(TINY)
    low = sim.skip_attention(full, [1, 2])
    rng = np.random.default_rng(0)
    efforts = [make_effort("low", low, rng.random(20) * 0.1, rng.random(20) < 0.7, [1, 2]),
               make_effort("full", full, rng.random(20) * 0.1, np.ones(20, bool))]
    res = pivot_search("pivot_zcu102", efforts, lec=0.0, acc_drop=1.0,
                       space={"array.rows": [16, 32]}, evaluate=fake)
    costs = res.costs.set_index(["effort", "array.rows"])
    for name, t in (("low", low), ("full", full)):
        for rows in (16, 32):
            assert costs.loc[(name, rows), "latency_s"] == fake.latency(t) / t.batch
            assert costs.loc[(name, rows), "energy_j"] == \
                3 * fake.latency(t) * rows / 16 / t.batch


def test_optin_tables_and_verification_use_the_injected_evaluator(arch):
    fake = Fake(offset=0.0)   # no fixed cost: pruning can reach the budget
    trace = full_trace(TINY)
    tables = cost_tables(arch, trace, "latency_s", evaluate=fake)
    assert tables.base == fake.latency(trace)
    assert tables.attn[0, 0] == fake.latency(sim.skip_attention(trace, [0])) - tables.base
    rng = np.random.default_rng(1)
    hi, ni = rng.random((TINY.depth, TINY.num_heads)), rng.random((TINY.depth, TINY.mlp_hidden))
    res = optin_search(hi, ni, arch, trace, "latency=0.8", solver="knapsack", evaluate=fake)
    assert res.summary["latency_s"] == fake.latency(res.trace)
    assert res.achieved == pytest.approx(fake.latency(res.trace) / fake.latency(trace))
    assert res.achieved <= 0.8
    # the optin solver's options are explicit parameters, not a keyword bag
    res2 = optin_search(hi, ni, arch, dataclasses.replace(trace), "latency=0.8",
                        solver="optin", fill="skip", fill_slack=True, evaluate=fake)
    assert res2.summary["latency_s"] == fake.latency(res2.trace) and res2.achieved <= 0.8


def test_old_module_paths_re_export_the_moved_names():
    import importlib

    moved = {"sim.search.space": "sim.search.sweep.space",
             "sim.search.store": "sim.search.sweep.store",
             "sim.search.executors": "sim.search.sweep.executors",
             "sim.search.efforts": "sim.search.pivot.efforts",
             "sim.search.pomt_accuracy": "sim.search.pomt.accuracy",
             "sim.search.pomt_compare": "sim.search.pomt.compare"}
    for old, new in moved.items():
        o, n = importlib.import_module(old), importlib.import_module(new)
        assert o.__all__ == n.__all__ and o.__all__
        assert all(getattr(o, name) is getattr(n, name) for name in n.__all__), old
    import sim.search.pivot_cka as old_cka
    from sim.search.pivot import phase1
    from sim.torch import cka

    assert old_cka.best_paths is phase1.best_paths and old_cka.cka_matrix is cka.cka_matrix
    assert sorted(old_cka.__all__) == sorted(
        [n for n in cka.__all__ if n != "class_mean_entropy"] + phase1.__all__)
