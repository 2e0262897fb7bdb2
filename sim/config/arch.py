"""Load, override and fingerprint architecture configs."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from pathlib import Path

from sim.config.schema import ArchConfig
from sim.config.validate import (
    Problems,
    _build_dict,
    _check_scalar,
    _hints,
    _unwrap_optional,
    build,
    parse_text,
    read_yaml,
)
from sim.errors import ConfigError, short_repr

__all__ = [
    "as_arch", "load_arch", "arch_from_dict", "arch_to_dict", "with_overrides", "arch_hash",
    "list_presets", "parse_override", "data_dir", "check_override",
]


def data_dir(name: str) -> Path:
    """Folder of shipped data (``arch_configs`` or ``workloads``).

    In a source checkout ``sim/_data/<name>`` links to the repository folder; in a wheel
    it is a copy.
    """
    return Path(__file__).resolve().parents[1] / "_data" / name


def list_presets() -> list[str]:
    """Names of the shipped architectures (``arch_configs/*.yaml``)."""
    return sorted(p.stem for p in data_dir("arch_configs").glob("*.yaml"))


def _set_dotted(data: dict, key_path: str, value) -> None:
    node = data
    parts = key_path.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def parse_override(text: str, source: str = "--set") -> tuple[str, object]:
    """Parse ``key.path=value`` (value read as YAML: ``64`` -> int, ``ws`` -> str) and
    check the value against the key's schema entry (see :func:`check_override`)."""
    if "=" not in text:
        raise ConfigError(f"{source} {text[:200]!r}: expected key.path=value, "
                          "e.g. array.rows=64")
    key, _, raw = text.partition("=")
    key = key.strip()
    value = raw
    if raw.strip():
        try:
            value = parse_text(raw, False, ConfigError, source)
        except ConfigError:
            value = raw
    check_override(key, value, source)
    return key, value


def check_override(key: str, value, source: str = "--set") -> type:
    """Check one dotted ``key`` and ``value`` against the schema alone (type, range,
    choices, NaN/inf, booleans; no cross-field rules); return the key's scalar type.

    Raises :class:`ConfigError` ``source: key = value; must be ...`` or an unknown key.
    """
    parts = key.split(".") if isinstance(key, str) else []
    if not parts or not all(parts):
        raise ConfigError(f"{key!r}: must be a dotted key path such as array.rows",
                          source=source)
    cls, problems = ArchConfig, Problems()
    for i, part in enumerate(parts):
        hints, fields = _hints(cls)
        here = ".".join(parts[:i + 1])
        if part not in fields:
            raise ConfigError(f"{here}: unknown key; allowed keys are {sorted(fields)}",
                              source=source)
        tp, optional = _unwrap_optional(hints[part])
        meta = fields[part].metadata
        last = i == len(parts) - 1
        if value is None and optional and last:
            return type(None)
        if dataclasses.is_dataclass(tp):
            if last:
                build(tp, value, here, problems)
                break
            cls = tp
            continue
        if getattr(tp, "__origin__", None) is dict:
            sub = value if last else {".".join(parts[i + 1:]): value}
            _build_dict(tp, sub, meta, here, problems)
            tp = tp.__args__[1]
            break
        if not last:
            raise ConfigError(f"{here}: is a value, not a section; {key!r} must stop at "
                              f"{here}", source=source)
        _check_scalar(value, tp, meta, here, problems)
        break
    if problems:
        raise ConfigError(problems, source=source)
    return tp


def arch_from_dict(data, source: str = "<dict>", overrides: dict | None = None) -> ArchConfig:
    """Validate a raw mapping (plus dotted ``overrides``) into an :class:`ArchConfig`."""
    data = copy.deepcopy(data) if isinstance(data, dict) else data
    if overrides:
        if not isinstance(data, dict):
            data = {}
        for key, value in overrides.items():
            _set_dotted(data, key, value)
    problems = Problems()
    arch = build(ArchConfig, data, "", problems)
    if arch is not None and not problems:
        problems.extend(arch.dram.problems())
    if problems or arch is None:
        raise ConfigError(problems or ["empty config"], source=source)
    return arch


def as_arch(x, overrides: dict | None = None) -> ArchConfig:
    """Resolve ``x`` to a validated architecture, with dotted-key ``overrides`` applied.

    Parameters
    ----------
    x : ArchConfig or str or Path
        An :class:`ArchConfig`, an existing YAML/JSON file, or a preset name from
        :func:`list_presets` (``"zcu102"``, with or without ``.yaml``).
    overrides : dict, optional
        Dotted key paths to values, e.g. ``{"array.rows": 64, "array.dataflow": "ws"}``,
        validated exactly like the file.
    """
    if isinstance(x, ArchConfig):
        return with_overrides(x, overrides or {})
    path = Path(x)
    if not path.is_file() and path.parent == Path("."):
        preset = data_dir("arch_configs") / (path.name if path.suffix else f"{path.name}.yaml")
        if preset.is_file():
            path = preset
        elif not path.suffix:
            raise ConfigError(
                f"{short_repr(str(x))} is neither an arch file nor a preset; "
                f"presets are {list_presets()}"
            )
    data = read_yaml(path, ConfigError)
    return arch_from_dict(data, source=str(x), overrides=overrides)


#: The same as :func:`as_arch` (the v0.1 name).
load_arch = as_arch


def arch_to_dict(arch: ArchConfig) -> dict:
    """Plain nested dict of an architecture (YAML/JSON ready)."""
    return dataclasses.asdict(arch)


def with_overrides(arch: ArchConfig, overrides: dict) -> ArchConfig:
    """A new, validated architecture with dotted-key ``overrides`` applied."""
    if not overrides:
        return arch
    return arch_from_dict(arch_to_dict(arch), source=f"{arch.name} (overridden)",
                          overrides=overrides)


def arch_hash(arch: ArchConfig) -> str:
    """Stable 16-hex-digit fingerprint of an architecture (independent of ``name``)."""
    data = arch_to_dict(arch)
    data.pop("name", None)
    data.pop("description", None)
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
