"""ViT traces: what ran in each encoder block (tokens, attention, heads, MLP width, pruning).

A trace is a :class:`ModelSpec` plus one :class:`LayerTrace` per block.  Token pruning or
merging at block ``i`` (``prune:``) happens *inside* that block, after the attention
residual and before the MLP, as EViT, ToMe and POMT do: block ``i``'s MLP and every later
block run on ``tokens_out`` tokens.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import yaml

from sim.config.validate import Problems, build, is_int, read_yaml
from sim.errors import TraceError
from sim.workload.spec import MODEL_SPECS, ModelSpec

__all__ = [
    "PruneEvent", "LayerTrace", "Trace", "TraceSet", "PRUNE_METHODS",
    "load_trace", "trace_from_dict", "trace_to_dict", "save_trace", "validate_trace",
]

SCHEMA_VERSION = 1
#: topk: EViT-style keep by CLS attention; tome: bipartite token merging;
#: pomt: prune-and-merge (keep top N-R-2, average the rest into one token).
PRUNE_METHODS = ("topk", "tome", "pomt")


@dataclass(frozen=True)
class PruneEvent:
    """Tokens removed inside a block (after attention, before the MLP)."""

    method: str
    tokens_out: int


@dataclass(frozen=True)
class LayerTrace:
    """What ran in one encoder block.

    Attributes
    ----------
    index : int
        Block index, 0-based.
    tokens : int
        Tokens entering the block (prefix tokens included), per image.
    attention : bool
        False when the whole attention sub-block was skipped (PIVOT).
    heads : tuple of int
        Active head indices (empty when attention is skipped).
    mlp_hidden : int
        Active MLP hidden width (neurons).
    prune : PruneEvent or None
        Token pruning/merging inside this block.
    """

    index: int
    tokens: int
    attention: bool
    heads: tuple
    mlp_hidden: int
    prune: PruneEvent | None = None

    @property
    def tokens_after(self) -> int:
        """Tokens leaving the block."""
        return self.prune.tokens_out if self.prune else self.tokens


@dataclass(frozen=True)
class Trace:
    """A ViT workload: model dimensions, batch and one :class:`LayerTrace` per block."""

    model: ModelSpec
    batch: int
    layers: tuple
    name: str = ""

    def replace_layers(self, layers, name=None) -> Trace:
        """A validated copy with new layers."""
        new = dataclasses.replace(self, layers=tuple(layers),
                                  name=self.name if name is None else name)
        validate_trace(new)
        return new


@dataclass(frozen=True)
class TraceSet:
    """Traces with weights (fractions of inputs), for input-dependent paths."""

    items: tuple  # of (Trace, weight)

    def __post_init__(self):
        total = sum(w for _, w in self.items)
        if not self.items or any(w < 0 for _, w in self.items) or total <= 0:
            raise TraceError("a TraceSet needs at least one trace and non-negative weights "
                             f"with a positive sum, not {[w for _, w in self.items]}")

    @property
    def weights(self):
        """Weights normalised to sum to 1."""
        total = sum(w for _, w in self.items)
        return [w / total for _, w in self.items]


def _problems_of(trace: Trace) -> list:
    spec, p = trace.model, Problems()
    if not is_int(trace.batch) or trace.batch < 1:
        p.add("batch", trace.batch, "an integer >= 1")
    if len(trace.layers) != spec.depth:
        p.append(f"layers: {len(trace.layers)} entries; must be one per block, "
                 f"{spec.depth} for {spec.name}")
    prev = None
    for pos, lt in enumerate(trace.layers):
        key = f"layers[{pos}]"
        if not is_int(lt.index) or lt.index != pos:
            p.add(f"{key}.index", lt.index, f"{pos} (blocks listed in order)")
        if not is_int(lt.tokens) or lt.tokens < 1:
            p.add(f"{key}.tokens", lt.tokens, "an integer >= 1")
        elif pos == 0 and lt.tokens > spec.tokens:
            p.add(f"{key}.tokens", lt.tokens, f"<= {spec.tokens} (patches + prefix tokens)")
        elif prev is not None and prev.tokens_after != lt.tokens:
            why = (f"block {pos - 1} prunes to {prev.prune.tokens_out}" if prev.prune
                   else f"block {pos - 1} has {prev.tokens} and no prune event")
            p.add(f"{key}.tokens", lt.tokens, f"{prev.tokens_after} because {why}")
        heads = list(lt.heads)
        bad = [h for h in heads if not is_int(h) or not 0 <= h < spec.num_heads]
        if bad:
            p.add(f"{key}.heads", heads, f"head indices in [0, {spec.num_heads})")
        elif len(set(heads)) != len(heads):
            p.add(f"{key}.heads", heads, "without repeats")
        elif lt.attention and not heads:
            p.add(f"{key}.heads", heads, "non-empty when attention is true "
                  "(set attention: false to skip the block's attention)")
        if not is_int(lt.mlp_hidden) or not 1 <= lt.mlp_hidden <= spec.mlp_hidden:
            p.add(f"{key}.mlp_hidden", lt.mlp_hidden,
                  f"an integer in [1, {spec.mlp_hidden}] (the model's MLP width)")
        if lt.prune is not None:
            pr = lt.prune
            if pr.method not in PRUNE_METHODS:
                p.add(f"{key}.prune.method", pr.method, f"one of {list(PRUNE_METHODS)}")
            if not is_int(pr.tokens_out) or not is_int(lt.tokens) \
                    or not 1 <= pr.tokens_out <= lt.tokens:
                p.add(f"{key}.prune.tokens_out", pr.tokens_out,
                      f"an integer in [1, {lt.tokens}] (tokens entering the block)")
            if not lt.attention:
                p.append(f"{key}.prune: {pr.method} pruning needs the block's attention "
                         "(scores/keys), but attention is false")
        prev = lt
    return p


def validate_trace(trace: Trace, source: str | None = None) -> Trace:
    """Raise one :class:`TraceError` listing every problem of ``trace``; return it."""
    problems = _problems_of(trace)
    if problems:
        raise TraceError(problems, source=source or trace.name or None)
    return trace


def _layer_from_dict(raw, pos, spec, problems):
    key = f"layers[{pos}]"
    if not isinstance(raw, dict):
        problems.add(key, raw, "a mapping with index, tokens, attention, heads, mlp_hidden")
        return None
    allowed = {"index", "tokens", "attention", "heads", "mlp_hidden", "prune"}
    for k in raw:
        if k not in allowed:
            problems.append(f"{key}.{k}: unknown key; allowed keys are {sorted(allowed)}")
    attention = raw.get("attention", True)
    if not isinstance(attention, bool):
        problems.add(f"{key}.attention", attention, "true or false")
        attention = True
    heads = raw.get("heads", list(range(spec.num_heads)) if attention else [])
    if not isinstance(heads, (list, tuple)):
        problems.add(f"{key}.heads", heads, f"a list of head indices in [0, {spec.num_heads})")
        heads = []
    prune = raw.get("prune")
    if prune is not None:
        prune = build(PruneEvent, prune, f"{key}.prune", problems)
    for req in ("index", "tokens"):
        if req not in raw:
            problems.append(f"{key}.{req}: missing required key")
    return LayerTrace(index=raw.get("index", pos), tokens=raw.get("tokens", 1),
                      attention=attention, heads=tuple(heads),
                      mlp_hidden=raw.get("mlp_hidden", spec.mlp_hidden), prune=prune)


def trace_from_dict(data, source: str = "<dict>") -> Trace:
    """Validate a raw mapping (the YAML/JSON schema of docs/traces.md) into a Trace."""
    problems = Problems()
    if not isinstance(data, dict):
        raise TraceError(f"top level must be a mapping, not {type(data).__name__}", source)
    allowed = {"schema_version", "model", "batch", "layers", "name"}
    for k in data:
        if k not in allowed:
            problems.append(f"{k}: unknown key; allowed keys are {sorted(allowed)}")
    if not is_int(data.get("schema_version")) or data["schema_version"] != SCHEMA_VERSION:
        problems.add("schema_version", data.get("schema_version"), f"{SCHEMA_VERSION}")
    model = data.get("model")
    if isinstance(model, str):
        spec = MODEL_SPECS.get(model)
        if spec is None:
            problems.add("model", model, f"a mapping or one of {sorted(MODEL_SPECS)}")
    else:
        spec = build(ModelSpec, model, "model", problems)
    if spec is None or problems:
        raise TraceError(problems, source=source)
    layers = data.get("layers")
    if not isinstance(layers, list):
        problems.add("layers", layers, "a list with one entry per block")
        layers = []
    elif len(layers) > 4 * spec.depth:  # far too many: say so before checking each one
        problems.append(f"layers: {len(layers)} entries; must be one per block, "
                        f"{spec.depth} for {spec.name}")
        raise TraceError(problems, source=source)
    lts = [_layer_from_dict(raw, i, spec, problems) for i, raw in enumerate(layers)]
    if problems:
        raise TraceError(problems, source=source)
    trace = Trace(model=spec, batch=data.get("batch", 1), layers=tuple(lts),
                  name=str(data.get("name", Path(source).stem if source != "<dict>" else "")))
    return validate_trace(trace, source)


def load_trace(path) -> Trace:
    """Load and validate a trace file (YAML or JSON); ``schema_version: 2`` files give an
    :class:`~sim.workload.ops_trace.OpsTrace` (op list, see ``docs/traces.md``)."""
    data = read_yaml(path, TraceError)
    if isinstance(data, dict) and data.get("schema_version") == 2:
        from sim.workload.ops_trace import ops_trace_from_dict

        return ops_trace_from_dict(data, source=str(path))
    return trace_from_dict(data, source=str(path))


def trace_to_dict(trace: Trace) -> dict:
    """Plain dict in the file schema (inverse of :func:`trace_from_dict`); v2 op lists too."""
    if not isinstance(trace, Trace):
        from sim.workload.ops_trace import ops_trace_to_dict

        return ops_trace_to_dict(trace)
    layers = []
    for lt in trace.layers:
        d = {"index": lt.index, "tokens": lt.tokens, "attention": lt.attention,
             "heads": list(lt.heads), "mlp_hidden": lt.mlp_hidden}
        if lt.prune is not None:
            d["prune"] = {"method": lt.prune.method, "tokens_out": lt.prune.tokens_out}
        layers.append(d)
    out = {"schema_version": SCHEMA_VERSION}
    if trace.name:
        out["name"] = trace.name
    out.update(model=dataclasses.asdict(trace.model), batch=trace.batch, layers=layers)
    return out


class _FlowDumper(yaml.SafeDumper):
    """Dump each layer on one line, like the shipped traces."""


def _represent_dict(dumper, data):
    flow = "index" in data or "method" in data
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


_FlowDumper.add_representer(dict, _represent_dict)


def save_trace(trace: Trace, path) -> Path:
    """Write ``trace`` as YAML (or JSON when ``path`` ends in ``.json``)."""
    import json

    path = Path(path)
    data = trace_to_dict(trace)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(data, indent=1))
    else:
        path.write_text(yaml.dump(data, Dumper=_FlowDumper, sort_keys=False, width=100))
    return path
