"""Pricers: action counts x an energy table -> energy per component per op (pJ).

One interface, a registry keyed by the table's ``kind``::

    pricer(design, acts) -> (components, summary_extras)

``components`` maps every name of :data:`COMPONENTS` to a per-op float array in pJ;
``summary_extras`` holds model-specific summary keys (power split, FPGA utilisation).
"""

from __future__ import annotations

import numpy as np

from sim.config.schema import ArchConfig
from sim.cost.design import Design
from sim.cost.tables import EnergyTable
from sim.errors import ConfigError
from sim.hw.fpga.mapping import CONTROL_COST, PE_COST, VECTOR_LANE_COST

__all__ = ["COMPONENTS", "PRICERS", "get_pricer", "price_asic", "price_fpga",
           "price_unit_power"]

#: Energy components, in report order (``energy_<c>_pj`` op columns, ``energy_<c>_j``).
COMPONENTS = ("mac", "register", "sram_ifmap", "sram_filter", "sram_ofmap", "dram",
              "vector", "control", "leakage")
_BUFFERS = ("ifmap", "filter", "ofmap")
_PJ_PER_J = 1e12


def _zero(acts):
    return np.zeros_like(acts["macs"])


def _dram_bytes(acts):
    return acts["dram_ifmap_read"] + acts["dram_filter_read"] + acts["dram_ofmap_write"]


def asic_leakage_w(arch: ArchConfig, table: EnergyTable) -> dict:
    """Leakage power per component, W: ``{"pe", "sram", "vector"}``."""
    t = table.entries
    m = arch.memory
    return {
        "pe": arch.array.rows * arch.array.cols * t[f"leak_pe_{arch.precision}_uw"] * 1e-6,
        "sram": (m.ifmap_kib + m.filter_kib + m.ofmap_kib) * t["leak_sram_uw_per_kib"] * 1e-6,
        "vector": arch.vector.lanes * t["leak_vector_lane_uw"] * 1e-6,
    }


def price_asic(design: Design, acts: dict):
    """Per-action energies of an ASIC table (counts x pJ) plus leakage x time.

    SRAM: ``(reads + writes * sram_write_factor) * word_bytes * E(bank KiB)`` with
    ``E`` the table's SRAM curve and the bank half the buffer (double buffering).
    """
    arch, table = design.arch, design.table
    t = table.entries
    word = arch.memory.word_bytes
    wf = t["sram_write_factor"]
    out = {
        "mac": acts["macs"] * t[f"mac_{arch.precision}_pj"],
        "register": acts["register_bits"] * t["register_pj_per_bit"],
        "dram": _dram_bytes(acts) * 8 * table.dram_pj_per_bit(arch.energy_table.dram),
        "vector": acts["vector_lane_ops"] * t["vector_op_pj"],
        "control": _zero(acts),
    }
    for buf in _BUFFERS:
        kib = getattr(arch.memory, f"{buf}_kib") / 2
        per_word = float(table.sram_energy(kib)) * word
        out[f"sram_{buf}"] = (acts[f"sram_{buf}_read"] + acts[f"sram_{buf}_write"] * wf) * per_word
    leak = asic_leakage_w(arch, table)
    leak_w = sum(leak.values())
    out["leakage"] = acts["time_s"] * leak_w * _PJ_PER_J
    tech = table.default_dram if arch.energy_table.dram == "auto" else arch.energy_table.dram
    extra = {"power_leakage_w": leak_w, "dram_technology": tech}
    extra.update({f"power_leakage_{k}_w": v for k, v in leak.items()})
    return out, extra


def price_fpga(design: Design, acts: dict):
    """FPGA power profile: static (device + PS) x time + dynamic energy per used resource.

    Per op: DSP and PE logic per MAC, PE registers per bit, BRAM36 per port access
    (``words x brams_per_row / words_per_row``), vector-lane resources per lane-op,
    control logic + clock tree on every cycle, DDR per bit, static power x time.
    """
    arch, mapping = design.arch, design.fpga
    t = design.table.entries
    a_dsp, a_log = t["dsp_toggle"], t["logic_toggle"]
    dsp_per_mac, lut_pe, ff_extra = PE_COST[arch.precision]
    per_mac = dsp_per_mac * t["dsp_pj"] * a_dsp + (lut_pe * t["lut_pj"]
                                                   + ff_extra * t["ff_pj"]) * a_log
    v = VECTOR_LANE_COST
    per_lane_op = v["dsp"] * t["dsp_pj"] * a_dsp + (v["lut"] * t["lut_pj"]
                                                    + v["ff"] * t["ff_pj"]) * a_log
    ff_total = mapping.total("ff")
    per_cycle_ctl = ((CONTROL_COST["lut"] * t["lut_pj"] + CONTROL_COST["ff"] * t["ff_pj"])
                     * a_log + ff_total * t["clock_pj_per_ff"])
    hz = arch.clock_hz
    static_w = t["device_static_w"] + t["ps_w"]
    out = {
        "mac": acts["macs"] * per_mac,
        "register": acts["register_bits"] * t["ff_pj"] * a_log,
        "dram": _dram_bytes(acts) * 8 * t["ddr_pj_per_bit"],
        "vector": acts["vector_lane_ops"] * per_lane_op,
        "control": acts["time_s"] * hz * per_cycle_ctl,
        "leakage": acts["time_s"] * static_w * _PJ_PER_J,
    }
    for buf in _BUFFERS:
        per_word = mapping.buffers[buf].bram_accesses_per_word * t["bram_pj"]
        out[f"sram_{buf}"] = (acts[f"sram_{buf}_read"] + acts[f"sram_{buf}_write"]) * per_word
    return out, {"power_static_w": static_w, "power_device_static_w": t["device_static_w"],
                 "power_ps_w": t["ps_w"]}


def price_unit_power(design: Design, acts: dict):
    """Fixed power per unit while it runs (PIVOT-Sim's constants).

    ``n_pe = rows*cols / macs_per_pe``; the array draws ``n_pe * pe_mw`` (component mac)
    plus ``n_pe * pe_sram_mw`` (split over the three SRAMs in proportion to each op's word
    accesses) during its GEMM time; the vector unit draws ``lanes * softmax_unit_mw``
    during vector time.  No DRAM, register, control or static term.
    """
    arch, t = design.arch, design.table.entries
    n_pe = arch.array.rows * arch.array.cols / t["macs_per_pe"]
    mw_to_pj_per_s = 1e-3 * _PJ_PER_J
    arr = acts["array_s"] * mw_to_pj_per_s
    words = {b: acts[f"sram_{b}_read"] + acts[f"sram_{b}_write"] for b in _BUFFERS}
    total_words = sum(words.values())
    sram = arr * n_pe * t["pe_sram_mw"]
    out = {c: _zero(acts) for c in ("register", "dram", "control", "leakage")}
    out["mac"] = arr * n_pe * t["pe_mw"]
    for b in _BUFFERS:
        share = np.divide(words[b], total_words, out=np.full_like(sram, 1 / 3),
                          where=total_words > 0)
        out[f"sram_{b}"] = sram * share
    out["vector"] = acts["vector_s"] * arch.vector.lanes * t["softmax_unit_mw"] * mw_to_pj_per_s
    extra = {"pivot_pes": n_pe,
             "power_array_w": n_pe * (t["pe_mw"] + t["pe_sram_mw"]) * 1e-3,
             "power_softmax_w": arch.vector.lanes * t["softmax_unit_mw"] * 1e-3}
    return out, extra


#: table kind -> pricer.
PRICERS = {"asic": price_asic, "fpga": price_fpga, "unit_power": price_unit_power}


def get_pricer(kind: str):
    """The pricer of a table kind; unknown kinds raise :class:`ConfigError`."""
    try:
        return PRICERS[kind]
    except KeyError:
        raise ConfigError(f"energy table kind must be one of {sorted(PRICERS)}, "
                          f"not {kind!r}") from None
