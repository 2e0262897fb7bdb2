"""Trace format v2 (``schema_version: 2``): an op list captured from any model.

A v2 trace is what :func:`sim.torch.capture` records from torch's dispatcher: every
compute op that ran, in execution order, already lowered to what the hardware executes.
Each op is one mapping:

============  =====================================================================
field         meaning
============  =====================================================================
layer         block index the op ran in (``-1`` = before the first block, ``depth``
              = after the last one: classifier head, final norm)
op            name, e.g. ``"aten.mm"``, ``"sdpa.qk"``, ``"aten.convolution"``
kind          ``gemm`` (array), ``conv`` (a convolution lowered to a GEMM with
              SCALE-Sim's im2col convention, runs on the array) or ``vector``
m, n, k       GEMM ``out[m, n] = A[m, k] @ B[k, n]`` (integers >= 1); 0 for vector ops
count         identical GEMM instances (batch/heads/groups), integer >= 1; 1 for vector
elements      vector-unit elements (integer >= 1); 0 for GEMMs
vector_op     vector cost class (one of :data:`sim.workload.lower.VECTOR_OPS`); ``""``
              for GEMMs
module        dotted module path the op ran in (``"blocks.3.attn.qkv"``), may be ``""``
============  =====================================================================

Top level: ``schema_version: 2``, ``name``, ``model`` (a name), ``batch`` (informational:
the batch the ops were captured at; a v2 trace cannot be re-batched), ``depth`` (number of
blocks, so ``layer`` is in ``[-1, depth]``), ``ops``, and optionally ``unmodelled`` (ops with
MACs the simulator does not model, ``{op, macs, share}``, kept for the record).

A v2 trace has no ViT edits (skip attention, heads, MLP width, pruning): those need the
layer-level v1 format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.config.validate import Problems, read_yaml
from sim.errors import TraceError
from sim.workload.lower import VECTOR_OPS, Ops

__all__ = ["OpsTrace", "OpsModel", "OPS_SCHEMA_VERSION", "OP_KINDS", "ops_trace_from_dict",
           "ops_trace_to_dict", "load_ops_trace", "save_ops_trace", "lower_ops_trace",
           "ops_trace_from_ops"]

OPS_SCHEMA_VERSION = 2
OP_KINDS = ("gemm", "conv", "vector")
_OP_FIELDS = ("layer", "op", "kind", "m", "n", "k", "count", "elements", "vector_op", "module")
_TOP_FIELDS = ("schema_version", "name", "model", "batch", "depth", "ops", "unmodelled")
#: Largest accepted dimension (2**40): anything bigger is a corrupt file, not a model.
_MAX_DIM = 1 << 40


@dataclass(frozen=True)
class OpsModel:
    """What a report needs to know of a v2 trace's model: its ``name`` and block ``depth``."""

    name: str
    depth: int


@dataclass(frozen=True)
class OpsTrace:
    """A validated v2 trace; ``ops`` is a tuple of per-op tuples in :data:`_OP_FIELDS` order."""

    model: OpsModel
    batch: int
    ops: tuple
    name: str = ""
    unmodelled: tuple = field(default=(), compare=False)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of all GEMM/conv ops (count included)."""
        return sum(o[3] * o[4] * o[5] * o[6] for o in self.ops if o[2] != "vector")


def _int_field(raw, name, lo, path, problems, hi=_MAX_DIM):
    v = raw.get(name)
    ok = isinstance(v, (int, np.integer)) and not isinstance(v, bool) and lo <= v <= hi
    if not ok:
        if isinstance(v, float) and not math.isfinite(v):
            v = str(v)
        problems.add(f"{path}.{name}", v, f"an integer in [{lo}, {hi}]")
        return None
    return int(v)


def _op_from_dict(raw, i, depth, problems):
    path = f"ops[{i}]"
    if not isinstance(raw, dict):
        problems.add(path, raw, f"a mapping with keys {list(_OP_FIELDS)}")
        return None
    before = len(problems)
    for key in raw:
        if key not in _OP_FIELDS:
            problems.append(f"{path}.{key}: unknown key; allowed keys are {list(_OP_FIELDS)}")
    for key in ("layer", "op", "kind"):
        if key not in raw:
            problems.append(f"{path}.{key}: missing required key")
    if len(problems) > before:
        return None
    kind = raw["kind"]
    if kind not in OP_KINDS:
        problems.add(f"{path}.kind", kind, f"one of {list(OP_KINDS)}")
        return None
    for key in ("op", "module"):
        if not isinstance(raw.get(key, ""), str):
            problems.add(f"{path}.{key}", raw[key], "a string")
    layer = _int_field(raw, "layer", -1, path, problems, hi=depth)
    if kind == "vector":
        for key in ("m", "n", "k"):
            raw.setdefault(key, 0)
        raw.setdefault("count", 1)
        if "elements" not in raw or "vector_op" not in raw:
            problems.append(f"{path}: a vector op needs elements and vector_op")
            return None
        dims = [_int_field(raw, key, 0, path, problems, hi=0) for key in ("m", "n", "k")]
        count = _int_field(raw, "count", 1, path, problems, hi=1)
        elements = _int_field(raw, "elements", 1, path, problems)
        vop = raw["vector_op"]
        if vop not in VECTOR_OPS:
            problems.add(f"{path}.vector_op", vop, f"one of {list(VECTOR_OPS)}")
    else:
        missing = [key for key in ("m", "n", "k") if key not in raw]
        if missing:
            problems.append(f"{path}.{missing[0]}: missing required key")
            return None
        raw.setdefault("count", 1)
        dims = [_int_field(raw, key, 1, path, problems) for key in ("m", "n", "k")]
        count = _int_field(raw, "count", 1, path, problems)
        elements = _int_field(raw, "elements", 0, path, problems, hi=0) if "elements" in raw \
            else 0
        vop = raw.get("vector_op", "")
        if vop != "":
            problems.add(f"{path}.vector_op", vop, f"'' for a {kind} op")
    if len(problems) > before:
        return None
    return (layer, raw["op"], kind, *dims, count, elements, vop, raw.get("module", ""))


def ops_trace_from_dict(data, source: str = "<dict>") -> OpsTrace:
    """Validate a raw v2 mapping into an :class:`OpsTrace` (one TraceError lists every
    problem, each ``ops[i].field = value; must be ...``)."""
    if not isinstance(data, dict):
        raise TraceError(f"top level must be a mapping, not {type(data).__name__}", source)
    problems = Problems()
    for key in data:
        if key not in _TOP_FIELDS:
            problems.append(f"{key}: unknown key; allowed keys are {list(_TOP_FIELDS)}")
    if data.get("schema_version") != OPS_SCHEMA_VERSION or isinstance(
            data.get("schema_version"), bool):
        problems.add("schema_version", data.get("schema_version"), str(OPS_SCHEMA_VERSION))
    for key in ("model", "depth", "ops"):
        if key not in data:
            problems.append(f"{key}: missing required key")
    if problems:
        raise TraceError(problems, source=source)
    depth = _int_field(data, "depth", 0, "", problems, hi=1 << 20)
    batch = _int_field(dict(data, batch=data.get("batch", 1)), "batch", 1, "", problems)
    if not isinstance(data["model"], str) or not data["model"]:
        problems.add("model", data["model"], "a non-empty string (the model's name)")
    raw_ops = data["ops"]
    if not isinstance(raw_ops, list) or not raw_ops:
        problems.add("ops", raw_ops if not isinstance(raw_ops, list) else [],
                     "a non-empty list of op mappings")
    if problems:  # depth/batch/model fixed first so per-op ranges are meaningful
        raise TraceError([p.lstrip(".") for p in problems], source=source)
    ops = tuple(_op_from_dict(dict(r) if isinstance(r, dict) else r, i, depth, problems)
                for i, r in enumerate(raw_ops))
    if problems:
        raise TraceError(problems, source=source)
    name = data.get("name", Path(source).stem if source != "<dict>" else "")
    return OpsTrace(model=OpsModel(str(data["model"]), depth), batch=batch, ops=ops,
                    name=str(name), unmodelled=tuple(data.get("unmodelled") or ()))


def ops_trace_to_dict(trace: OpsTrace) -> dict:
    """Plain dict in the v2 file schema (inverse of :func:`ops_trace_from_dict`)."""
    out = {"schema_version": OPS_SCHEMA_VERSION, "name": trace.name,
           "model": trace.model.name, "batch": trace.batch, "depth": trace.model.depth,
           "ops": [dict(zip(_OP_FIELDS, o)) for o in trace.ops]}
    if trace.unmodelled:
        out["unmodelled"] = [dict(u) for u in trace.unmodelled]
    return out


def load_ops_trace(path) -> OpsTrace:
    """Load and validate a v2 trace file (YAML or JSON)."""
    return ops_trace_from_dict(read_yaml(path, TraceError), source=str(path))


def save_ops_trace(trace: OpsTrace, path) -> Path:
    """Write ``trace`` as YAML (one op per line) or JSON when ``path`` ends in ``.json``."""
    import json

    import yaml

    path = Path(path)
    data = ops_trace_to_dict(trace)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(data, indent=1))
        return path
    head = {k: v for k, v in data.items() if k not in ("ops", "unmodelled")}
    lines = [yaml.safe_dump(head, sort_keys=False).rstrip(), "ops:"]
    lines += ["- " + json.dumps(o) for o in data["ops"]]  # JSON flow maps are valid YAML
    if "unmodelled" in data:
        lines += ["unmodelled:"] + ["- " + json.dumps(u) for u in data["unmodelled"]]
    path.write_text("\n".join(lines) + "\n")
    return path


def lower_ops_trace(trace: OpsTrace) -> Ops:
    """The simulator's :class:`Ops` of a v2 trace (conv ops run on the array as GEMMs)."""
    cols = list(zip(*trace.ops))
    as_int = lambda c: np.asarray(c, dtype=np.int64)  # noqa: E731
    return Ops(layer=as_int(cols[0]), op=tuple(cols[1]), kind=tuple(cols[2]),
               vop=tuple(cols[8]), m=as_int(cols[3]), n=as_int(cols[4]), k=as_int(cols[5]),
               count=as_int(cols[6]), elements=as_int(cols[7]))


def ops_trace_from_ops(ops: Ops, model: str, depth: int, batch: int = 1, name: str = "",
                       module=None) -> OpsTrace:
    """An :class:`OpsTrace` of already lowered ``ops`` (e.g. a v1 trace's lowering), validated
    through the file schema so it obeys the same rules as a loaded v2 file."""
    module = module or [""] * len(ops)
    rows = [{"layer": int(ops.layer[i]), "op": ops.op[i],
             "kind": "gemm" if ops.m[i] > 0 else "vector", "m": int(ops.m[i]),
             "n": int(ops.n[i]), "k": int(ops.k[i]), "count": int(ops.count[i]),
             "elements": int(ops.elements[i]), "vector_op": ops.vop[i], "module": module[i]}
            for i in range(len(ops))]
    return ops_trace_from_dict({"schema_version": OPS_SCHEMA_VERSION, "name": name,
                                "model": model, "batch": batch, "depth": depth, "ops": rows})
