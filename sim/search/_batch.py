"""Vectorised closed forms of one simulate() run, over many designs at once.

Every function takes a *group* of designs that share their categorical keys (dataflow,
precision, platform, energy table, ...) as numpy arrays of length ``Q`` (``cols``, keyed
by dotted arch key) and a :class:`Plan` of the workload (unique GEMM shapes, unique vector
ops and unique layer compositions with their multiplicities), and returns summary columns
equal to ``sim.simulate(...).summary`` (same formulas as sim.engine, sim.cost and
sim.report; integers exact, floats to rounding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config.schema import ACC_BITS, PRECISION_BYTES
from sim.cost import edp_per_inference_js
from sim.cost.actions import register_bits_per_mac
from sim.cost.pricers import COMPONENTS
from sim.engine import SUM_KEYS
from sim.hw.fpga.device import RESOURCES, get_device
from sim.hw.fpga.mapping import (
    BRAM36_SHAPES,
    CONTROL_COST,
    PE_COST,
    VECTOR_LANE_COST,
)
from sim.workload.lower import VECTOR_OPS, Ops

__all__ = ["Plan", "plan_ops", "fpga_columns", "run_columns"]

_PJ_PER_J = 1e12
_BUFFERS = ("ifmap", "filter", "ofmap")


@dataclass(frozen=True)
class Plan:
    """A lowered trace reduced to what varies between designs.

    Attributes
    ----------
    m, n, k : int64 (U,)
        Unique GEMM shapes.
    gemm_count : int64 (U,)
        Instances of each shape in the whole run.
    vop_elements : dict str -> int
        Total vector elements per vector-op kind (for lane-op energy).
    vec_vop : tuple of str (V,); vec_elements : int64 (V,)
        Unique vector ops ``(kind, elements)``.
    vec_count : int64 (V,)
        Occurrences of each unique vector op.
    layer_gemm : int64 (L, U); layer_vec : int64 (L, V); layer_mult : int64 (L,)
        Unique layer compositions (GEMM instances, vector ops) and how many layers have each.
    """

    m: np.ndarray
    n: np.ndarray
    k: np.ndarray
    gemm_count: np.ndarray
    vop_elements: dict
    vec_vop: tuple
    vec_elements: np.ndarray
    vec_count: np.ndarray
    layer_gemm: np.ndarray
    layer_vec: np.ndarray
    layer_mult: np.ndarray


def plan_ops(ops: Ops) -> Plan:
    """Reduce lowered ops to a :class:`Plan` (shapes and layers deduplicated, in order of
    first appearance; plain dicts: a trace has a few hundred ops)."""
    g = ops.is_gemm
    m, n, k, count = ops.m.tolist(), ops.n.tolist(), ops.k.tolist(), ops.count.tolist()
    elements, layer_ids = ops.elements.tolist(), ops.layer.tolist()
    shapes, vkeys, layers = {}, {}, {}
    g_inv, v_inv, l_of = [], [], []
    vop_el = {v: 0 for v in VECTOR_OPS}
    for i, is_g in enumerate(g.tolist()):
        l_of.append(layers.setdefault(layer_ids[i], len(layers)))
        if is_g:
            g_inv.append(shapes.setdefault((m[i], n[i], k[i]), len(shapes)))
        else:
            v_inv.append(vkeys.setdefault((ops.vop[i], elements[i]), len(vkeys)))
            vop_el[ops.vop[i]] += elements[i]
    l_of = np.array(l_of, dtype=np.int64)
    g_inv = np.array(g_inv, dtype=np.int64)
    v_inv = np.array(v_inv, dtype=np.int64)
    counts = np.array(count, dtype=np.int64)[g]
    lg = np.zeros((len(layers), len(shapes)), dtype=np.int64)
    lv = np.zeros((len(layers), len(vkeys)), dtype=np.int64)
    np.add.at(lg, (l_of[g], g_inv), counts)
    np.add.at(lv, (l_of[~g], v_inv), 1)
    both = np.ascontiguousarray(np.concatenate([lg, lv], axis=1))
    bodies = {}
    l_inv = [bodies.setdefault(row.tobytes(), (len(bodies), j)) for j, row in enumerate(both)]
    first = [j for _, j in bodies.values()]
    mult = np.bincount([b for b, _ in l_inv], minlength=len(bodies)).astype(np.int64)
    ubody = both[first]
    uniq = np.array(list(shapes), dtype=np.int64).reshape(-1, 3)
    gemm_count = np.zeros(len(shapes), dtype=np.int64)  # int64 sums (no float weights)
    np.add.at(gemm_count, g_inv, counts)
    return Plan(
        m=uniq[:, 0].copy(), n=uniq[:, 1].copy(), k=uniq[:, 2].copy(),
        gemm_count=gemm_count,
        vop_elements=vop_el, vec_vop=tuple(v for v, _ in vkeys),
        vec_elements=np.array([e for _, e in vkeys], dtype=np.int64),
        vec_count=np.bincount(v_inv, minlength=len(vkeys)).astype(np.int64),
        layer_gemm=ubody[:, :len(shapes)].copy(), layer_vec=ubody[:, len(shapes):].copy(),
        layer_mult=mult)


def _cdiv(a, b):
    return -(-a // b)


def gemm_columns(plan: Plan, rows, cols, dataflow: str, fold_overlap: bool) -> dict:
    """Per-instance GEMM figures, int64 ``(Q, U)``: folds, compute cycles, SRAM counts."""
    r, c = rows[:, None], cols[:, None]
    m, n, k = plan.m[None, :], plan.n[None, :], plan.k[None, :]
    sr, sc, t, pre = {"os": (m, n, k, 0), "ws": (k, n, m, 1), "is": (k, m, n, 1)}[dataflow]
    folds = _cdiv(sr, r) * _cdiv(sc, c)
    per_fold = (1 + pre) * r + c + t - 2
    if fold_overlap:
        cycles = folds * np.maximum(t, pre * r) + (per_fold - t)
    else:
        cycles = folds * per_fold
    if dataflow == "os":
        counts = (m * k * _cdiv(n, c), k * n * _cdiv(m, r), m * n)
    elif dataflow == "ws":
        counts = (m * k * _cdiv(n, c), k * n, m * n * _cdiv(k, r))
    else:
        counts = (m * k, k * n * _cdiv(m, c), m * n * _cdiv(k, r))
    shape = folds.shape
    out = {"folds": folds, "compute_cycles": cycles}
    for key, v in zip(("sram_ifmap_reads", "sram_filter_reads", "sram_ofmap_writes"), counts):
        out[key] = np.broadcast_to(v, shape)
    # mapping efficiency numerator per instance, as sim.engine computes it
    pe = r * c
    out["mapping_used"] = (sr * sc / np.maximum(folds * pe, 1))
    return out


def vector_columns(plan: Plan, cols: dict):
    """Vector cycles per unique vector op, int64 ``(Q, V)``."""
    lanes = cols["vector.lanes"][:, None]
    cost = np.stack([cols[f"vector.cost.{v}"] for v in plan.vec_vop], axis=1) \
        if plan.vec_vop else np.zeros((len(lanes), 0))
    beats = _cdiv(plan.vec_elements[None, :], lanes)
    return np.ceil(beats * cost).astype(np.int64) + cols["vector.latency_cycles"][:, None]


def fpga_columns(cols: dict, precision: str, platform: str) -> dict:
    """Vectorised :func:`sim.hw.fpga.mapping.map_arch`: ``fpga_*`` summary columns plus
    ``_bram_per_word_<buf>`` and ``_ff_total`` for the FPGA pricer."""
    dev = get_device(platform)
    rows, cols_ = cols["array.rows"], cols["array.cols"]
    lanes = cols["vector.lanes"]
    pes = rows * cols_
    dsp_per_mac, lut_pe, ff_extra = PE_COST[precision]
    ff_pe = 2 * 8 * PRECISION_BYTES[precision] + ACC_BITS[precision] + ff_extra
    word_bits = 8 * cols["memory.word_bytes"]
    out = {}
    bram = np.zeros(len(rows), dtype=np.int64)
    for buf, edge in (("ifmap", rows), ("filter", cols_), ("ofmap", cols_)):
        width = edge * word_bits
        half_bits = cols[f"memory.{buf}_kib"] * 1024 * 8 / 2
        depth = np.maximum(1, _cdiv(np.round(half_bits).astype(np.int64), width))
        counts = np.stack([_cdiv(width, w) * _cdiv(depth, d) for w, d in BRAM36_SHAPES])
        best = np.argmin(counts, axis=0)
        bw = np.array([w for w, _ in BRAM36_SHAPES])[best]
        bram = bram + 2 * np.take_along_axis(counts, best[None, :], 0)[0]
        out[f"_bram_per_word_{buf}"] = _cdiv(width, bw) / edge
    used = {
        "dsp": np.ceil(pes * dsp_per_mac + lanes * VECTOR_LANE_COST["dsp"]
                       + CONTROL_COST["dsp"]).astype(np.int64),
        "bram36": bram,
        "lut": pes * lut_pe + lanes * VECTOR_LANE_COST["lut"] + CONTROL_COST["lut"],
        "ff": pes * ff_pe + lanes * VECTOR_LANE_COST["ff"] + CONTROL_COST["ff"],
    }
    out["fpga_board"], out["fpga_part"] = dev.board, dev.part
    for r in RESOURCES:
        avail = dev.available(r)
        out[f"fpga_{r}_used"] = used[r].astype(np.int64)
        out[f"fpga_{r}_available"] = avail
        out[f"fpga_{r}_utilization"] = used[r] / avail
    out["_ff_total"] = used["ff"]
    return out


def run_columns(plan: Plan, cols: dict, cat: dict, table, batch: int, mem=None,
                fpga=None) -> dict:
    """Summary columns of a group of designs (see module docstring).

    ``cat`` holds the group's categorical values (``array.dataflow``, ``precision``, ...);
    ``mem`` the memory walk ``(Q, U, 6)`` in cycle mode (None: analytic); ``fpga`` the
    :func:`fpga_columns` of the group (None on ``asic``).
    """
    rows, ncols = cols["array.rows"], cols["array.cols"]
    clock = cols["clock_mhz"]
    hz = clock * 1e6
    g = gemm_columns(plan, rows, ncols, cat["array.dataflow"], cat["array.fold_overlap"])
    w = plan.gemm_count
    per = dict(g)
    names = ("stall_cycles", "fill_cycles", "drain_cycles", "dram_ifmap_read_bytes",
             "dram_filter_read_bytes", "dram_ofmap_write_bytes")
    for i, key in enumerate(names):
        per[key] = mem[:, :, i] if mem is not None else np.zeros_like(g["folds"])
    gemm_total = (per["compute_cycles"] + per["stall_cycles"] + per["fill_cycles"]
                  + per["drain_cycles"])
    vcyc = vector_columns(plan, cols)
    out = {}
    for key in SUM_KEYS:
        if key == "macs":
            out[key] = np.full(len(rows), int((plan.m * plan.n * plan.k * w).sum()),
                               dtype=np.int64)
        elif key == "vector_cycles":
            out[key] = vcyc @ plan.vec_count
        else:
            out[key] = per[key] @ w
    arr_l = gemm_total @ plan.layer_gemm.T
    vec_l = vcyc @ plan.layer_vec.T
    lay = np.maximum(arr_l, vec_l) if cat["vector.overlap"] else arr_l + vec_l
    cycles = lay @ plan.layer_mult
    latency = cycles / hz
    pe = rows * ncols
    res = {"cycles": cycles, "latency_s": latency}
    res.update(out)
    # float products: cycles * PEs and folds * PEs may pass 2^63 (the engine uses floats
    # or Python ints there too)
    res["utilization"] = np.where(cycles > 0, out["macs"] / np.maximum(
        cycles.astype(np.float64) * pe, 1), 0.0)
    pe_folds = out["folds"].astype(np.float64) * pe
    used = (g["mapping_used"] * (per["folds"] * w) * pe[:, None]).sum(axis=1)
    res["mapping_efficiency"] = np.where(pe_folds > 0, used / np.maximum(pe_folds, 1), 0.0)
    res["throughput_ips"] = np.where(cycles > 0, batch / latency, 0.0)
    comps, extra = _price(plan, cols, cat, table, per, w, gemm_total, vcyc, latency, hz,
                          fpga)
    total_pj = sum(comps[c] for c in COMPONENTS)
    total_j = total_pj * 1e-12
    res["energy_j"] = total_j
    res.update({f"energy_{c}_j": comps[c] * 1e-12 for c in COMPONENTS})
    res["power_w"] = np.where(latency > 0, total_j / np.where(latency > 0, latency, 1), 0.0)
    res["edp_per_inference_js"] = edp_per_inference_js(total_j, latency, batch)
    res["edp_batch_js"] = total_j * latency
    res["energy_per_inference_j"] = total_j / batch
    res.update(table.provenance())
    res.update(extra)
    if cat["platform"] != "asic":
        res["platform"] = cat["platform"]
        res.update({k: v for k, v in fpga.items() if not k.startswith("_")})
    return res


def _price(plan, cols, cat, table, per, w, gemm_total, vcyc, latency, hz, fpga):
    """Energy per component (pJ, whole run) for the group's table kind."""
    prec = cat["precision"]
    t = table.entries
    word = cols["memory.word_bytes"].astype(np.float64)
    macs = float((plan.m * plan.n * plan.k * w).sum())
    reads = {"ifmap": (per["sram_ifmap_reads"] @ w).astype(np.float64),
             "filter": (per["sram_filter_reads"] @ w).astype(np.float64)}
    dram = {b: (per[f"dram_{b}_{d}_bytes"] @ w).astype(np.float64)
            for b, d in (("ifmap", "read"), ("filter", "read"), ("ofmap", "write"))}
    writes = {"ifmap": dram["ifmap"] / word, "filter": dram["filter"] / word}
    reads["ofmap"] = dram["ofmap"] / word
    writes["ofmap"] = (per["sram_ofmap_writes"] @ w).astype(np.float64)
    dram_bytes = dram["ifmap"] + dram["filter"] + dram["ofmap"]
    lane_ops = sum(float(plan.vop_elements[v]) * cols[f"vector.cost.{v}"]
                   for v in VECTOR_OPS)
    zero = np.zeros(len(latency))
    kind = table.kind
    if kind == "asic":
        wf = t["sram_write_factor"]
        out = {"mac": zero + macs * t[f"mac_{prec}_pj"],
               "register": zero + macs * register_bits_per_mac(prec) * t["register_pj_per_bit"],
               "dram": dram_bytes * 8 * table.dram_pj_per_bit(cat["energy_table.dram"]),
               "vector": lane_ops * t["vector_op_pj"], "control": zero}
        for b in _BUFFERS:
            per_word = table.sram_energy(cols[f"memory.{b}_kib"] / 2) * word
            out[f"sram_{b}"] = (reads[b] + writes[b] * wf) * per_word
        leak = {"pe": cols["array.rows"] * cols["array.cols"] * t[f"leak_pe_{prec}_uw"] * 1e-6,
                "sram": (cols["memory.ifmap_kib"] + cols["memory.filter_kib"]
                         + cols["memory.ofmap_kib"]) * t["leak_sram_uw_per_kib"] * 1e-6,
                "vector": cols["vector.lanes"] * t["leak_vector_lane_uw"] * 1e-6}
        leak_w = leak["pe"] + leak["sram"] + leak["vector"]
        out["leakage"] = latency * leak_w * _PJ_PER_J
        d = cat["energy_table.dram"]
        extra = {"power_leakage_w": leak_w,
                 "dram_technology": table.default_dram if d == "auto" else d}
        extra.update({f"power_leakage_{k}_w": v for k, v in leak.items()})
        return out, extra
    if kind == "fpga":
        a_dsp, a_log = t["dsp_toggle"], t["logic_toggle"]
        dsp_per_mac, lut_pe, ff_extra = PE_COST[prec]
        per_mac = dsp_per_mac * t["dsp_pj"] * a_dsp + (lut_pe * t["lut_pj"]
                                                       + ff_extra * t["ff_pj"]) * a_log
        v = VECTOR_LANE_COST
        per_lane_op = v["dsp"] * t["dsp_pj"] * a_dsp + (v["lut"] * t["lut_pj"]
                                                        + v["ff"] * t["ff_pj"]) * a_log
        ctl = ((CONTROL_COST["lut"] * t["lut_pj"] + CONTROL_COST["ff"] * t["ff_pj"]) * a_log
               + fpga["_ff_total"] * t["clock_pj_per_ff"])
        static_w = t["device_static_w"] + t["ps_w"]
        out = {"mac": zero + macs * per_mac,
               "register": zero + macs * register_bits_per_mac(prec) * t["ff_pj"] * a_log,
               "dram": dram_bytes * 8 * t["ddr_pj_per_bit"], "vector": lane_ops * per_lane_op,
               "control": latency * hz * ctl, "leakage": latency * static_w * _PJ_PER_J}
        for b in _BUFFERS:
            out[f"sram_{b}"] = (reads[b] + writes[b]) * (fpga[f"_bram_per_word_{b}"]
                                                         * t["bram_pj"])
        return out, {"power_static_w": static_w, "power_device_static_w": t["device_static_w"],
                     "power_ps_w": t["ps_w"]}
    # unit_power: per GEMM shape, the array time split over the SRAMs by word accesses
    n_pe = cols["array.rows"] * cols["array.cols"] / t["macs_per_pe"]
    mw = 1e-3 * _PJ_PER_J
    arr = gemm_total * w / hz[:, None] * mw
    words = {"ifmap": per["sram_ifmap_reads"] + per["dram_ifmap_read_bytes"] / word[:, None],
             "filter": per["sram_filter_reads"] + per["dram_filter_read_bytes"] / word[:, None],
             "ofmap": per["dram_ofmap_write_bytes"] / word[:, None] + per["sram_ofmap_writes"]}
    total_words = words["ifmap"] + words["filter"] + words["ofmap"]
    sram = arr * n_pe[:, None] * t["pe_sram_mw"]
    out = {c: zero for c in ("register", "dram", "control", "leakage")}
    out["mac"] = (arr * n_pe[:, None] * t["pe_mw"]).sum(axis=1)
    for b in _BUFFERS:
        share = np.divide(words[b], total_words, out=np.full_like(sram, 1 / 3),
                          where=total_words > 0)
        out[f"sram_{b}"] = (sram * share).sum(axis=1)
    lanes = cols["vector.lanes"]
    vec_s = (vcyc @ plan.vec_count) / hz
    out["vector"] = vec_s * lanes * t["softmax_unit_mw"] * mw
    extra = {"pivot_pes": n_pe, "power_array_w": n_pe * (t["pe_mw"] + t["pe_sram_mw"]) * 1e-3,
             "power_softmax_w": lanes * t["softmax_unit_mw"] * 1e-3}
    return out, extra
