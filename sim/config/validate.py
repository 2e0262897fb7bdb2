"""Strict YAML reading and dataclass validation shared by arch configs and traces.

* :func:`read_yaml` rejects duplicate keys (PyYAML silently keeps the second one) in YAML
  and JSON alike, and bounds what a file may expand to (size, nesting depth, alias
  expansion), so a "billion laughs" bomb or a 100 000-deep JSON list fails at once.
* :func:`short_repr` is the one way a message shows a value: a bounded repr cut to
  :data:`MAX_REPR` characters (a value's own repr can be huge, even exponential).
* :func:`build` turns a nested dict into nested frozen dataclasses, checking unknown
  keys, missing keys, types and ranges declared in each field's ``metadata``, and
  collects *every* problem before raising once.

Field metadata understood by :func:`build`:

``range=(lo, hi)``   inclusive numeric bounds (``None`` = unbounded)
``choices=(...)``    allowed values
``inf=True``         ``.inf`` is allowed (documented meaning, e.g. unlimited bandwidth);
                     NaN is never allowed and infinities only with this flag
``doc="..."``        one-line meaning with units (used in error hints and docs)
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import types
import typing
from pathlib import Path

import yaml

from sim.errors import REPR_LIMIT as MAX_REPR
from sim.errors import short_repr

__all__ = ["read_yaml", "parse_text", "build", "Problems", "short_repr", "is_int",
           "is_number", "check_tree", "MAX_REPR", "MAX_DEPTH", "MAX_NODES", "MAX_FILE_BYTES"]

#: Deepest nesting of lists/mappings a config, trace or efforts file may have.
MAX_DEPTH = 64
#: Most values a file may expand to (aliases counted at every use).
MAX_NODES = 1_000_000
#: Largest config/trace/efforts file read, bytes.
MAX_FILE_BYTES = 64 << 20

def is_int(value) -> bool:
    """An integer that is not a boolean (``True`` is not ``1`` in a config)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    """An int or float that is not a boolean."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe loader (libyaml-accelerated when available) that refuses duplicate keys and
    reads ``1e-6`` as a float, as YAML 1.2 does (YAML 1.1 wants ``1.0e-6``)."""


_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def _construct_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, f"a key must be a plain value, not a {type(key).__name__}",
                key_node.start_mark) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None,
                f"duplicate key {key!r} (first at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return yaml.constructor.SafeConstructor.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


class _TooBig(Exception):
    """A file expands beyond :data:`MAX_NODES` values or :data:`MAX_DEPTH` levels."""


def check_tree(data, what: str = "file") -> None:
    """Raise :class:`_TooBig` when ``data`` nests deeper than :data:`MAX_DEPTH` or expands
    (shared sub-trees counted at every use, as a YAML alias is) to more than
    :data:`MAX_NODES` values; a self-containing structure is refused too.

    Iterative (no recursion), and linear in the number of *distinct* containers.
    """
    sizes = {}  # id -> expanded size of a finished container
    stack = [(data, 0, False)]
    open_ids = set()
    total = 0
    while stack:
        node, depth, done = stack.pop()
        if not isinstance(node, (dict, list, tuple)):
            continue
        key = id(node)
        if done:
            open_ids.discard(key)
            children = node.values() if isinstance(node, dict) else node
            sizes[key] = 1 + len(node) + sum(sizes.get(id(c), 0) for c in children
                                             if isinstance(c, (dict, list, tuple)))
            if sizes[key] > MAX_NODES:
                raise _TooBig(f"expands to more than {MAX_NODES:,} values (YAML aliases "
                              "counted at every use); must be a plain, small " + what)
            continue
        if depth > MAX_DEPTH:
            raise _TooBig(f"nests deeper than {MAX_DEPTH} levels; must be a flat {what}")
        if key in open_ids:
            raise _TooBig(f"contains itself (a recursive YAML alias); must be a plain {what}")
        if key in sizes:
            continue
        total += 1
        if total > MAX_NODES:
            raise _TooBig(f"has more than {MAX_NODES:,} values; must be a small {what}")
        open_ids.add(key)
        stack.append((node, depth, True))
        children = node.values() if isinstance(node, dict) else node
        for c in children:
            if isinstance(c, (dict, list, tuple)):
                stack.append((c, depth + 1, False))


def _json_pairs(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {short_repr(k)}")
        out[k] = v
    return out


def _json_constant(name):
    return float(name.replace("Infinity", "inf"))  # NaN/±inf: rejected per key later


def parse_text(text: str, json_syntax: bool, error_cls, source: str):
    """Parse YAML (or JSON) ``text`` strictly and bounded (see :func:`read_yaml`)."""
    kind = "JSON" if json_syntax else "YAML"
    try:
        if json_syntax:
            data = json.loads(text, object_pairs_hook=_json_pairs,
                              parse_constant=_json_constant)
        else:
            data = yaml.load(text, Loader=_StrictLoader)
        check_tree(data)
    except _TooBig as exc:
        raise error_cls(str(exc), source=source) from None
    except RecursionError:
        raise error_cls(f"nests too deeply to parse; must be a flat {kind} file (at most "
                        f"{MAX_DEPTH} levels)", source=source) from None
    except MemoryError:
        raise error_cls(f"too large to parse; must be a small {kind} file",
                        source=source) from None
    except (json.JSONDecodeError, ValueError) as exc:
        msg = " ".join(str(exc).split())
        raise error_cls(f"not valid {kind}: {msg[:MAX_REPR * 2]}", source=source) from None
    except yaml.YAMLError as exc:
        msg = " ".join(str(exc).split())
        raise error_cls(f"not valid {kind}: {msg[:MAX_REPR * 2]}", source=source) from None
    return data


def read_yaml(path, error_cls):
    """Read a YAML or JSON file into Python objects, strictly.

    Raises ``error_cls`` naming the file for a missing or unreadable file, text that is
    not UTF-8, unparsable text, a duplicate key (YAML and JSON), more than
    :data:`MAX_FILE_BYTES` bytes, nesting deeper than :data:`MAX_DEPTH` or expansion
    beyond :data:`MAX_NODES` values.  NaN and infinities parse (``.nan``, ``NaN``) and
    are rejected per key by :func:`build`.
    """
    path = Path(path)
    if not path.is_file():
        what = "a directory, not a file" if path.is_dir() else "file not found"
        raise error_cls(f"{what} (looked at {path.resolve()})", source=str(path))
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise error_cls(f"{size:,} bytes; must be a config/trace file of at most "
                            f"{MAX_FILE_BYTES:,} bytes", source=str(path))
        raw = path.read_bytes()
    except OSError as exc:
        raise error_cls(f"cannot read ({exc.strerror or exc})", source=str(path)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error_cls(f"byte {exc.start} is not UTF-8; must be a UTF-8 text file "
                        "(YAML or JSON)", source=str(path)) from None
    return parse_text(text, path.suffix.lower() == ".json", error_cls, str(path))


class Problems(list):
    """A list of problem strings with a helper to add ``key = value; must be ...``."""

    def add(self, path: str, value, must: str):
        self.append(f"{path} = {short_repr(value)}; must be {must}")


def _type_name(tp) -> str:
    return {int: "an integer", float: "a number", bool: "true or false",
            str: "a string"}.get(tp, getattr(tp, "__name__", str(tp)))


def _check_scalar(value, tp, meta, path, problems):
    """Validate one scalar against its type and metadata; return the coerced value."""
    rng = meta.get("range")
    choices = meta.get("choices")
    ok_type = (
        (tp is bool and isinstance(value, bool))
        or (tp is int and is_int(value))
        or (tp is float and is_number(value))
        or (tp is str and isinstance(value, str))
    )
    must = _type_name(tp)
    if tp is float:
        must = "a finite number" if not meta.get("inf") else "a number (.inf allowed)"
    if rng is not None:
        lo, hi = rng
        must += f" in [{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
    if choices is not None:
        must = f"one of {list(choices)}"
    if not ok_type:
        problems.add(path, value, must)
        return value
    if tp is float:
        try:
            value = float(value)
        except OverflowError:  # an int beyond float range
            problems.add(path, value, must)
            return value
        if math.isnan(value) or (math.isinf(value) and not meta.get("inf")):
            problems.add(path, value, must)
            return value
    if choices is not None and value not in choices:
        problems.add(path, value, must)
    elif rng is not None and (
        (rng[0] is not None and value < rng[0]) or (rng[1] is not None and value > rng[1])
    ):
        problems.add(path, value, must)
    return value


def _unwrap_optional(tp):
    """``X | None`` -> (X, True); anything else -> (tp, False)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


@functools.cache
def _hints(cls):
    """Resolved field types of a dataclass (cached: resolving them is slow)."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    return typing.get_type_hints(cls), fields


def build(cls, data, path: str, problems: Problems):
    """Build dataclass ``cls`` from mapping ``data``; append problems, never raise.

    Returns an instance (possibly holding unchecked values if problems were found) or
    ``None`` when ``data`` is not a mapping.
    """
    prefix = f"{path}." if path else ""
    if not isinstance(data, dict):
        problems.add(path or "<top>", data, f"a mapping with keys {_field_names(cls)}")
        return None
    hints, fields = _hints(cls)
    for key in data:
        if key not in fields:
            problems.append(
                f"{prefix}{short_repr(key) if not isinstance(key, str) else key}: unknown key; "
                f"allowed keys are {sorted(fields)}"
            )
    kwargs = {}
    for name, field in fields.items():
        key_path = prefix + name
        if name not in data:
            required = (field.default is dataclasses.MISSING
                        and field.default_factory is dataclasses.MISSING)
            if required:
                doc = field.metadata.get("doc")
                problems.append(f"{key_path}: missing required key" + (f" ({doc})" if doc else ""))
            continue
        value = data[name]
        tp, optional = _unwrap_optional(hints[name])
        if value is None and optional:
            kwargs[name] = None
        elif dataclasses.is_dataclass(tp):
            kwargs[name] = build(tp, value, key_path, problems)
        elif typing.get_origin(tp) is dict:
            kwargs[name] = _build_dict(tp, value, field.metadata, key_path, problems)
        else:
            kwargs[name] = _check_scalar(value, tp, field.metadata, key_path, problems)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError):
        return None


def _build_dict(tp, value, meta, path, problems):
    """A ``dict[str, float]`` field: every key allowed by ``choices``, values in ``range``."""
    if not isinstance(value, dict):
        problems.add(path, value, "a mapping")
        return {}
    _, vtp = typing.get_args(tp)
    allowed = meta.get("choices")
    out = {}
    for k, v in value.items():
        if allowed is not None and k not in allowed:
            problems.append(f"{path}.{short_repr(k)}: unknown key; allowed keys are "
                            f"{sorted(allowed)}")
            continue
        sub = {"range": meta.get("range"), "inf": meta.get("inf")}
        out[k] = _check_scalar(v, vtp, sub, f"{path}.{k}", problems)
    return out


def _field_names(cls):
    return [f.name for f in dataclasses.fields(cls) if f.init]
