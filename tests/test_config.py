"""Architecture configs: presets load, overrides validate, bad input names file/key/value."""

import pytest

import sim
from sim.config import arch_hash, list_presets, load_arch, parse_override, with_overrides
from sim.errors import ConfigError

PRESETS = ["scalesim_32x32", "tpu_v1_like", "edge_16x16", "pivot_zcu102", "zcu102"]


def test_contract_presets_ship():
    assert set(PRESETS) <= set(list_presets())


@pytest.mark.parametrize("name", PRESETS)
def test_preset_loads(name):
    arch = load_arch(name)
    assert arch.name == name and arch.array.rows >= 1


def test_scalesim_preset_is_scalesim_default():
    a = load_arch("scalesim_32x32")
    assert (a.array.rows, a.array.cols, a.array.dataflow) == (32, 32, "os")
    assert (a.memory.ifmap_kib, a.memory.filter_kib, a.memory.ofmap_kib) == (256, 256, 128)
    assert a.memory.word_bytes == 1


def test_pivot_preset_constants():
    a = load_arch("pivot_zcu102")
    assert a.array.rows * a.array.cols == 2304
    assert abs(1e3 / a.clock_mhz - 5.5) < 1e-3  # 5.5 ns cycle
    assert a.vector.lanes == 1 and a.vector.cost.softmax == 1


def test_overrides_are_validated_and_in_memory():
    a = load_arch("zcu102", overrides={"array.rows": 32, "array.dataflow": "ws"})
    assert (a.array.rows, a.array.dataflow) == (32, "ws")
    b = with_overrides(a, {"dram.ifmap_bytes_per_cycle": 4, "dram.filter_bytes_per_cycle": 4,
                           "dram.ofmap_bytes_per_cycle": 4, "dram.bandwidth_gbps": None})
    assert b.dram.bytes_per_cycle(b.clock_mhz) == (4, 4, 4, False)
    assert arch_hash(a) != arch_hash(b)
    assert arch_hash(a) == arch_hash(load_arch("zcu102", {"array.rows": 32, "array.dataflow": "ws"}))


def test_parse_override_types():
    assert parse_override("array.rows=64") == ("array.rows", 64)
    assert parse_override("array.dataflow=ws") == ("array.dataflow", "ws")
    assert parse_override("array.fold_overlap=true") == ("array.fold_overlap", True)
    with pytest.raises(ConfigError, match="key.path=value"):
        parse_override("array.rows")


def _write(tmp_path, text, name="arch.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = """schema_version: 1
name: t
clock_mhz: 500
precision: int8
array: {rows: 8, cols: 8, dataflow: os}
memory: {ifmap_kib: 16, filter_kib: 16, ofmap_kib: 8}
dram: {bandwidth_gbps: 10}
"""


def test_minimal_file_loads(tmp_path):
    a = load_arch(_write(tmp_path, GOOD))
    assert a.vector.lanes == 64 and a.array.fold_overlap is False


@pytest.mark.parametrize("edit, pattern", [
    (("rows: 8", "rows: 0"), r"arch\.yaml: array\.rows = 0; must be an integer in \[1, 4096\]"),
    (("dataflow: os", "dataflow: xs"), r"array\.dataflow = 'xs'; must be one of \['os', 'ws', 'is'\]"),
    (("precision: int8", "precision: int8\nfoo: 1"), r"foo: unknown key; allowed keys are"),
    (("rows: 8", "rows: eight"), r"array\.rows = 'eight'; must be an integer"),
    (("dram: {bandwidth_gbps: 10}", "dram: {bandwidth_gbps: -1}"), r"dram\.bandwidth_gbps = -1"),
    (("dram: {bandwidth_gbps: 10}", "dram: {bandwidth_gbps: 10, ifmap_bytes_per_cycle: 4}"),
     r"give exactly one bandwidth form"),
    (("schema_version: 1", "schema_version: 7"), r"schema_version = 7; must be one of \[1\]"),
])
def test_bad_values_named(tmp_path, edit, pattern):
    with pytest.raises(ConfigError, match=pattern):
        load_arch(_write(tmp_path, GOOD.replace(*edit)))


def test_duplicate_key(tmp_path):
    text = GOOD.replace("precision: int8", "precision: int8\nprecision: int16")
    with pytest.raises(ConfigError, match=r"arch\.yaml: not valid YAML: .*duplicate key 'precision'"):
        load_arch(_write(tmp_path, text))


def test_all_problems_at_once(tmp_path):
    text = GOOD.replace("rows: 8", "rows: 0").replace("dataflow: os", "dataflow: xs")
    with pytest.raises(ConfigError) as info:
        load_arch(_write(tmp_path, text))
    assert len(info.value.problems) == 2


def test_missing_file_and_non_yaml(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_arch(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_arch(_write(tmp_path, "a: [1, 2\nb: {", "bad.yaml"))
    with pytest.raises(ConfigError, match="neither an arch file nor a preset"):
        load_arch("no_such_preset")


def test_missing_required_key(tmp_path):
    with pytest.raises(ConfigError, match="memory: missing required key"):
        load_arch(_write(tmp_path, GOOD.replace("memory: {ifmap_kib: 16, filter_kib: 16, ofmap_kib: 8}\n", "")))


def test_unknown_dataflow_never_falls_back():
    with pytest.raises(ConfigError, match="dataflow"):
        sim.load_arch("scalesim_32x32", overrides={"array.dataflow": "rs"})


def test_config_reference_doc_in_sync(repo):
    from sim.config.reference import config_reference

    text = (repo / "docs" / "config.md").read_text()
    assert text == config_reference(), "regenerate: python -c \"from sim.config.reference " \
        "import config_reference; open('docs/config.md','w').write(config_reference())\""
    for key in ("array.rows", "dram.bandwidth_gbps", "vector.cost.softmax", "platform"):
        assert f"`{key}`" in text
