"""ZCU102 (XCZU9EG) platform: resource mapping, the over-budget ResourceError, FPGA power."""

from __future__ import annotations

import dataclasses

import pytest

import sim
from sim.cost import resolve_design
from sim.errors import ConfigError, ResourceError
from sim.hw.fpga import DEVICES, check_fits, map_arch, utilization
from sim.hw.fpga.mapping import bram36_for


def test_device_budget():
    d = DEVICES["zcu102"]
    assert (d.dsp, d.bram36, d.lut, d.ff, d.uram) == (2520, 912, 274_080, 548_160, 0)


def test_zcu102_mapping_by_hand():
    m = map_arch(sim.load_arch("zcu102"))
    # 64x64 int8 at 2 MACs per DSP48E2 + 64 vector lanes x 1 DSP
    assert m.total("dsp") == 64 * 64 // 2 + 64
    # ifmap: 64 lanes x 8 bit = 512 bit wide, half = 256 KiB = 2 Mibit -> 4096 deep;
    # best BRAM36 shape 9 x 4096: ceil(512/9) = 57 per half, 114 for both halves
    assert m.buffers["ifmap"].bram36 == 114 and m.buffers["filter"].bram36 == 114
    # ofmap: 512 bit x 2048 deep: 18 x 2048 -> 29 per half
    assert m.buffers["ofmap"].bram36 == 58
    assert m.total("bram36") == 286
    assert m.total("ff") == 4096 * (8 + 8 + 32) + 64 * 400 + 30_000
    assert m.total("lut") == 4096 * 10 + 64 * 300 + 20_000
    assert m.over_budget() == []


def test_bram_packing_rule():
    assert bram36_for(72, 512) == (1, 72, 512)
    assert bram36_for(1, 32768) == (1, 1, 32768)
    assert bram36_for(36, 2048)[0] == 2
    assert bram36_for(768, 5462)[0] == 121  # 11 wide (72 b) x 11 deep (512)


@pytest.mark.parametrize("precision,dsp_per_mac", [("int8", 0.5), ("int16", 1), ("fp16", 1),
                                                    ("fp32", 3)])
def test_dsp_per_precision(precision, dsp_per_mac):
    a = sim.load_arch("zcu102", {"precision": precision, "array.rows": 16, "array.cols": 16})
    assert map_arch(a).used["dsp"]["pe"] == 256 * dsp_per_mac


def test_pivot_preset_fits():
    m = check_fits(sim.load_arch("pivot_zcu102"))
    assert m.total("dsp") == 2304 + 1  # 36 PEs x 64 int16 multipliers + 1 softmax lane


def test_over_dsp_budget_names_resource_need_and_budget():
    with pytest.raises(ResourceError) as exc:
        resolve_design(sim.load_arch("zcu102", {"array.rows": 96, "array.cols": 64}))
    msg = str(exc.value)
    assert "design 'zcu102' does not fit the ZCU102 (xczu9eg-ffvb1156-2-e)" in msg
    assert "DSP48E2: needs 3,136 but the device has 2,520 (124%)" in msg
    assert "BRAM36" in msg and "LUT" in msg and "FF" in msg  # every resource listed
    assert "2 MACs per DSP48E2" in msg and "suggestion" in msg


def test_over_bram_budget():
    # ifmap/filter 2048 KiB: half = 8 Mibit at 512 bit -> 16384 deep; best 9 x 4096:
    # 57 x 4 = 228 per half, 456 per buffer; + ofmap 58 = 970
    with pytest.raises(ResourceError, match=r"BRAM36: needs 970 but the device has 912"):
        resolve_design(sim.load_arch("zcu102", {"memory.ifmap_kib": 2048,
                                                "memory.filter_kib": 2048}))


def test_every_run_checks_the_fit_however_the_design_was_built():
    a = sim.load_arch("zcu102")
    with pytest.raises(ResourceError, match="DSP48E2"):  # 4096 DSPs at 1 MAC/DSP
        sim.simulate(sim.with_overrides(a, {"precision": "int16"}), sim.model_trace("deit_t"))
    big = dataclasses.replace(a, array=dataclasses.replace(a.array, rows=128))
    with pytest.raises(ResourceError, match="DSP48E2: needs 4,160"):
        sim.simulate(big, sim.model_trace("deit_t"))
    # the same design on an ASIC platform has no budget
    asic = sim.load_arch("zcu102", {"platform": "asic", "energy_table.name": "horowitz45",
                                    "array.rows": 128})
    assert asic.array.rows == 128


def test_cli_exit_2_on_resource_error(cli):
    p = cli("gemm", "--arch", "zcu102", "--set", "array.rows=128", "--m", 4, "--n", 4, "--k",
            4, check_rc=2)
    assert "DSP48E2: needs" in p.stderr and p.stderr.count("\n") == 1


def test_unknown_platform():
    with pytest.raises(ConfigError, match=r"platform = 'zcu104'; must be one of"):
        sim.load_arch("zcu102", {"platform": "zcu104"})


def test_utilization_table_and_summary():
    df = utilization(sim.load_arch("zcu102"))
    assert list(df.resource) == ["DSP48E2", "BRAM36", "LUT", "FF"]
    assert (df.used <= df.available).all()
    s = sim.simulate("zcu102", sim.model_trace("deit_t")).summary
    assert s["fpga_dsp_used"] == 2112 and s["fpga_dsp_available"] == 2520
    assert s["fpga_bram36_utilization"] == pytest.approx(286 / 912)


def test_fpga_power_of_one_gemm_by_hand():
    arch = sim.load_arch("zcu102")
    m, n, k = 197, 384, 384
    g = sim.simulate_gemm(arch, m, n, k)
    hz = 200e6
    t = g.latency_s
    ifm = map_arch(arch).buffers
    per_word = {b: ifm[b].brams_per_row / ifm[b].words_per_row * 25.0 for b in ifm}
    expect = {
        "mac": g.macs * (0.5 * 20.0 * 0.25 + 10 * 0.5 * 0.125),
        "register": g.macs * 48 * 0.15 * 0.125,
        "sram_ifmap": (g.sram_ifmap_reads + g.dram_ifmap_read_bytes) * per_word["ifmap"],
        "sram_filter": (g.sram_filter_reads + g.dram_filter_read_bytes) * per_word["filter"],
        "sram_ofmap": (g.sram_ofmap_writes + g.dram_ofmap_write_bytes) * per_word["ofmap"],
        "dram": (g.dram_ifmap_read_bytes + g.dram_filter_read_bytes
                 + g.dram_ofmap_write_bytes) * 8 * 15.0,
        "vector": 0.0,
        "control": t * hz * ((20_000 * 0.5 + 30_000 * 0.15) * 0.125 + 252_208 * 0.015),
        "leakage": t * (1.2 + 3.8) * 1e12,
    }
    for c, v in expect.items():
        assert getattr(g, f"energy_{c}_pj") == pytest.approx(v, rel=1e-9), c
    assert g.power_w == pytest.approx(sum(expect.values()) * 1e-12 / t)
    assert 5.0 < g.power_w < 15.0


def test_board_power_rises_with_clock_and_array():
    t = sim.model_trace("deit_s")
    p200 = sim.simulate("zcu102", t, mode="analytic").summary["power_w"]
    p300 = sim.simulate(sim.load_arch("zcu102", {"clock_mhz": 300}), t,
                        mode="analytic").summary["power_w"]
    small = sim.simulate(sim.load_arch("zcu102", {"array.rows": 32}), t,
                         mode="analytic").summary["power_w"]
    assert p300 > p200 > small > 5.0  # static (device + PS) 5 W is the floor
