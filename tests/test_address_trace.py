"""The address-trace kernels equal their slow per-dataflow reference, every dataflow."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.config import load_arch
from sim.engine._kernels import trace as _kt
from sim.engine.address_trace import ports, trace_geometry
from sim.engine.trace_reference import reference_sram_rows, reference_tile
from sim.hw.dataflow import get_dataflow

DIMS = st.integers(1, 12)


def _arch(df, rows, cols):
    return load_arch("scalesim_32x32", overrides={"array.dataflow": df, "array.rows": rows,
                                                   "array.cols": cols})


@settings(max_examples=60, deadline=None)
@given(df=st.sampled_from(["os", "ws", "is"]), m=DIMS, n=DIMS, k=DIMS,
       rows=st.integers(1, 5), cols=st.integers(1, 5), op=st.integers(0, 2))
def test_sram_rows_equal_reference(df, m, n, k, rows, cols, op):
    geom = trace_geometry(_arch(df, rows, cols), m, n, k)
    want = reference_sram_rows(df, m, n, k, rows, cols, op)
    buf = np.empty((len(want), ports(df, rows, cols)[op] + 1), dtype=np.int64)
    _kt.sram_rows(geom, np.int64(op), np.int64(0), buf)
    assert buf[:, 1:].tolist() == want


@settings(max_examples=60, deadline=None)
@given(df=st.sampled_from(["os", "ws", "is"]), m=DIMS, n=DIMS, k=DIMS,
       rows=st.integers(1, 5), cols=st.integers(1, 5), op=st.integers(0, 2), data=st.data())
def test_tile_addresses_equal_reference(df, m, n, k, rows, cols, op, data):
    geom = trace_geometry(_arch(df, rows, cols), m, n, k)
    fold = data.draw(st.integers(0, int(get_dataflow(df).folds(m, n, k, rows, cols)) - 1))
    want = reference_tile(df, m, n, k, rows, cols, op, fold)
    got = [int(_kt.tile_addr(geom, np.int64(op), np.int64(fold), np.int64(w)))
           for w in range(len(want))]
    assert got == want


@settings(max_examples=50, deadline=None)
@given(rows=st.lists(st.lists(st.integers(-1, 2**62), min_size=3, max_size=3), min_size=1,
                     max_size=20))
def test_csv_formatter_writes_what_savetxt_writes(rows):
    import io

    arr = np.array(rows, dtype=np.int64)
    want = io.BytesIO()
    np.savetxt(want, arr, fmt="%d", delimiter=",")
    text = np.empty(21 * arr.size, dtype=np.uint8)
    used = _kt.format_rows(arr, text)
    assert text[:used].tobytes() == want.getvalue()
