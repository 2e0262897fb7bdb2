"""Strict YAML reading and dataclass validation shared by arch configs and traces.

* :func:`read_yaml` rejects duplicate keys (PyYAML silently keeps the second one).
* :func:`build` turns a nested dict into nested frozen dataclasses, checking unknown
  keys, missing keys, types and ranges declared in each field's ``metadata``, and
  collects *every* problem before raising once.

Field metadata understood by :func:`build`:

``range=(lo, hi)``   inclusive numeric bounds (``None`` = unbounded)
``choices=(...)``    allowed values
``doc="..."``        one-line meaning with units (used in error hints and docs)
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from pathlib import Path

import yaml

__all__ = ["read_yaml", "build", "Problems"]


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe loader (libyaml-accelerated when available) that refuses duplicate keys."""


def _construct_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
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


def read_yaml(path, error_cls):
    """Read a YAML or JSON file into Python objects, strictly.

    Raises ``error_cls`` naming the file for a missing file, unparsable text or a
    duplicate key.
    """
    path = Path(path)
    if not path.is_file():
        raise error_cls(f"file not found (looked at {path.resolve()})", source=str(path))
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.load(text, Loader=_StrictLoader)
    except json.JSONDecodeError as exc:
        raise error_cls(f"not valid JSON: {exc}", source=str(path)) from None
    except yaml.YAMLError as exc:
        msg = " ".join(str(exc).split())
        raise error_cls(f"not valid YAML: {msg}", source=str(path)) from None


class Problems(list):
    """A list of problem strings with a helper to add ``key = value; must be ...``."""

    def add(self, path: str, value, must: str):
        self.append(f"{path} = {value!r}; must be {must}")


def _type_name(tp) -> str:
    return {int: "an integer", float: "a number", bool: "true or false",
            str: "a string"}.get(tp, getattr(tp, "__name__", str(tp)))


def _check_scalar(value, tp, meta, path, problems):
    """Validate one scalar against its type and metadata; return the coerced value."""
    rng = meta.get("range")
    choices = meta.get("choices")
    ok_type = (
        (tp is bool and isinstance(value, bool))
        or (tp is int and isinstance(value, int) and not isinstance(value, bool))
        or (tp is float and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (tp is str and isinstance(value, str))
    )
    must = _type_name(tp)
    if rng is not None:
        lo, hi = rng
        must += f" in [{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
    if choices is not None:
        must = f"one of {list(choices)}"
    if not ok_type:
        problems.add(path, value, must)
        return value
    if tp is float:
        value = float(value)
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
                f"{prefix}{key}: unknown key; allowed keys are {sorted(fields)}"
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
            problems.append(f"{path}.{k}: unknown key; allowed keys are {sorted(allowed)}")
            continue
        out[k] = _check_scalar(v, vtp, {"range": meta.get("range")}, f"{path}.{k}", problems)
    return out


def _field_names(cls):
    return [f.name for f in dataclasses.fields(cls) if f.init]
