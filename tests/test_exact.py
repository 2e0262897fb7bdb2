"""Counts are exact integers for any legal input: a run whose counts could pass 2^63 - 1
is refused with one line, never wrapped."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.engine.memory import MAX_WALK_FOLDS
from sim.engine.simulate import SUM_KEYS, count_bound, simulate_ops
from sim.errors import SimulationError, TraceError
from sim.workload import lower


def test_largest_exact_gemm_is_exact():
    g = sim.simulate_gemm("scalesim_32x32", 2_000_000, 2_000_000, 2_000_001, mode="analytic")
    assert g.macs == 8_000_004_000_000_000_000 and isinstance(g.to_dict()["macs"], int)
    folds = 62_500**2  # 32x32 os: M/32 row folds x N/32 column folds
    assert g.compute_cycles == folds * (32 + 32 + 2_000_001 - 2)


@pytest.mark.parametrize("mnk", [(3_000_000,) * 3, (2**21,) * 3, (10**7, 10**7, 10**7)])
def test_gemm_past_int64_is_refused(mnk):
    with pytest.raises(SimulationError, match=r"2\^63 - 1"):
        sim.simulate_gemm("zcu102", *mnk, mode="analytic")


def test_huge_batch_is_refused_not_wrapped():
    t = sim.model_trace("deit_b")
    with pytest.raises(SimulationError, match=r"2\^63 - 1"):
        sim.simulate("zcu102", sim.with_batch(t, 10**10), mode="analytic")
    with pytest.raises(TraceError, match=r"exceeds 2\^63 - 1"):
        sim.simulate("zcu102", sim.with_batch(t, 10**17), mode="analytic")
    big = sim.simulate("zcu102", sim.with_batch(t, 10**6), mode="analytic").summary
    one = sim.simulate("zcu102", t, mode="analytic").summary
    assert big["macs"] == 10**6 * one["macs"]  # exact, no wrap


def test_cycle_mode_refuses_more_folds_than_it_walks():
    with pytest.raises(SimulationError, match="use --mode analytic"):
        sim.simulate_gemm("zcu102", 10**6, 10**6, 64)
    assert (10**6 // 64) ** 2 > MAX_WALK_FOLDS


def test_slow_dram_on_a_huge_gemm_is_refused_not_zero_stalls():
    arch = sim.load_arch("zcu102", {"dram.bandwidth_gbps": 1e-6})
    with pytest.raises(SimulationError, match=r"2\^63 - 1"):
        sim.simulate_gemm(arch, 1000, 1000, 10**12)


ARCH = st.sampled_from(["zcu102", "edge_16x16", "scalesim_32x32", "tpu_v1_like"])


@settings(max_examples=40, deadline=None)
@given(arch=ARCH, df=st.sampled_from(["os", "ws", "is"]), m=st.integers(1, 3000),
       n=st.integers(1, 3000), k=st.integers(1, 3000), count=st.integers(1, 50),
       bw=st.floats(0.01, 64), mode=st.sampled_from(["analytic", "cycle"]))
def test_bound_is_above_every_count(arch, df, m, n, k, count, bw, mode):
    """The refusal rule is sound: every count the engine computes is <= its bound."""
    a = sim.load_arch(arch, {"array.dataflow": df, "dram.bandwidth_gbps": bw * 0.2,
                             "dram.ifmap_bytes_per_cycle": None,
                             "dram.filter_bytes_per_cycle": None,
                             "dram.ofmap_bytes_per_cycle": None})
    one = lambda v: np.array([v], dtype=np.int64)  # noqa: E731
    ops = sim.workload.Ops(layer=one(0), op=("g",), kind=("gemm",), vop=("",), m=one(m),
                           n=one(n), k=one(k), count=one(count), elements=one(0))
    timing = simulate_ops(a, ops, mode)
    gemm, _ = count_bound(a, m, n, k, count, 0, mode)
    for key in SUM_KEYS + ("total_cycles",):
        assert timing.ops[key][0] <= gemm, key


def test_vector_bound_is_above_vector_cycles():
    a = sim.load_arch("edge_16x16")
    ops = lower(sim.model_trace("deit_s", batch=3))
    timing = simulate_ops(a, ops, "analytic")
    _, vec = count_bound(a, ops.m, ops.n, ops.k, ops.count, ops.elements, "analytic")
    assert (timing.ops["vector_cycles"] <= vec).all()
