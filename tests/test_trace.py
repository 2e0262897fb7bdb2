"""Traces: built-in specs, shipped files, edits, and bad input."""

import dataclasses

import pytest

import sim
from sim.errors import TraceError
from sim.workload import MODEL_SPECS, load_trace, save_trace, trace_from_dict, trace_to_dict

SHIPPED = ["deit_s", "deit_b", "lvvit_s", "deit_s_topk3", "lvvit_s_pivot_low", "deit_s_heads4"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_traces_load(repo, name):
    t = load_trace(repo / "workloads" / f"{name}.yaml")
    assert t.name == name and t.batch == 1


def test_shipped_trace_contents(repo):
    w = repo / "workloads"
    assert load_trace(w / "deit_s.yaml").layers == sim.model_trace("deit_s").layers
    low = load_trace(w / "lvvit_s_pivot_low.yaml")
    assert [lt.index for lt in low.layers if not lt.attention] == [1, 3, 5, 7, 9, 11, 13, 15]
    assert all(len(lt.heads) == 4 for lt in load_trace(w / "deit_s_heads4.yaml").layers)
    topk = load_trace(w / "deit_s_topk3.yaml")
    assert topk.layers[3].prune.tokens_out == topk.layers[4].tokens < 197


@pytest.mark.parametrize("name, dims", [
    ("deit_t", (12, 192, 3, 768)), ("deit_s", (12, 384, 6, 1536)),
    ("deit_b", (12, 768, 12, 3072)), ("lvvit_s", (16, 384, 6, 1152)),
    ("vit_l", (24, 1024, 16, 4096)), ("dinov2_g", (40, 1536, 24, 4096)),
])
def test_builtin_specs(name, dims):
    s = MODEL_SPECS[name]
    assert (s.depth, s.embed_dim, s.num_heads, s.mlp_hidden) == dims
    assert s.num_heads * s.head_dim == s.embed_dim


def test_round_trip(tmp_path):
    t = sim.prune_tokens(sim.skip_attention(sim.model_trace("deit_s", batch=4), [2]), 5, 100, "pomt")
    for suffix in ("yaml", "json"):
        assert load_trace(save_trace(t, tmp_path / f"t.{suffix}")).layers == t.layers
    assert trace_from_dict(trace_to_dict(t)) == t


def test_edits():
    t = sim.model_trace("deit_s")
    assert sim.drop_heads(t, {0: [1, 2]}).layers[0].heads == (1, 2)
    assert sim.narrow_mlp(t, 1000).layers[7].mlp_hidden == 1000
    p = sim.prune_tokens(t, 3, 141)
    assert [lt.tokens for lt in p.layers[3:5]] == [197, 141]
    # re-pruning earlier keeps later events' removals
    pp = sim.prune_tokens(sim.prune_tokens(t, 6, 100), 3, 150)
    assert pp.layers[7].tokens == 150 - 97
    assert [lt.tokens for lt in sim.tome_trace(t, 8).layers[:3]] == [197, 189, 181]


def test_tome_clips_to_half():
    t = sim.tome_trace(sim.model_trace("deit_t"), 60)
    counts = [lt.tokens for lt in t.layers]
    assert counts[:3] == [197, 137, 77] and counts[3] == 77 - 38


def _raw(i, key, value):
    d = trace_to_dict(sim.model_trace("deit_s"))
    d["layers"][i][key] = value
    return d


@pytest.mark.parametrize("raw, pattern", [
    (_raw(0, "heads", [0, 6]), r"layers\[0\]\.heads = \[0, 6\]; must be head indices in \[0, 6\)"),
    (_raw(0, "heads", [1, 1]), r"without repeats"),
    (_raw(0, "tokens", 0), r"layers\[0\]\.tokens = 0; must be an integer >= 1"),
    (_raw(0, "tokens", 300), r"<= 197"),
    (_raw(3, "prune", {"method": "topk", "tokens_out": 250}), r"prune\.tokens_out = 250; must be an integer in \[1, 197\]"),
    (_raw(3, "prune", {"method": "magic", "tokens_out": 100}), r"prune\.method = 'magic'"),
    (_raw(4, "tokens", 150), r"layers\[4\]\.tokens = 150; must be 197 because block 3 has 197 and no prune event"),
    (_raw(0, "mlp_hidden", 0), r"mlp_hidden = 0"),
    (_raw(0, "colour", 1), r"layers\[0\]\.colour: unknown key"),
])
def test_bad_traces(raw, pattern):
    with pytest.raises(TraceError, match=pattern):
        trace_from_dict(raw, source="t.yaml")


def test_prune_event_that_grows_tokens(tmp_path):
    d = _raw(3, "prune", {"method": "topk", "tokens_out": 198})
    with pytest.raises(TraceError, match=r"t\.yaml: layers\[3\]\.prune\.tokens_out = 198"):
        trace_from_dict(d, source="t.yaml")


def test_bad_trace_files(tmp_path):
    with pytest.raises(TraceError, match="file not found"):
        load_trace(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("layers: [\n")
    with pytest.raises(TraceError, match="bad.yaml: not valid YAML"):
        load_trace(bad)
    with pytest.raises(TraceError, match="unknown spec field"):
        sim.model_trace("deit_s", colour=1)
    with pytest.raises(TraceError, match=r"model must be one of"):
        sim.model_trace("resnet50")


def test_edit_errors():
    t = sim.model_trace("deit_s")
    with pytest.raises(TraceError, match=r"layer\(s\) \[12\] out of range \[0, 12\)"):
        sim.skip_attention(t, [12])
    with pytest.raises(TraceError, match="tokens_out = 300"):
        sim.prune_tokens(t, 0, 300)
    with pytest.raises(TraceError, match="heads"):
        sim.drop_heads(t, {0: [7]})
    with pytest.raises(TraceError, match="batch"):
        sim.workload.validate_trace(dataclasses.replace(t, batch=0))
