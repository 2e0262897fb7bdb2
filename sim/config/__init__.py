"""Architecture configs: schema (frozen dataclasses), strict loader, presets."""

from sim.config.arch import (
    arch_from_dict,
    arch_hash,
    arch_to_dict,
    as_arch,
    check_override,
    list_presets,
    load_arch,
    parse_override,
    with_overrides,
)
from sim.config.schema import (
    ArchConfig,
    ArrayConfig,
    DramConfig,
    MemoryConfig,
    VectorConfig,
    VectorCost,
)

__all__ = [
    "ArchConfig", "ArrayConfig", "DramConfig", "MemoryConfig", "VectorConfig", "VectorCost",
    "as_arch", "load_arch", "arch_from_dict", "arch_to_dict", "with_overrides", "arch_hash",
    "list_presets", "parse_override", "check_override",
]
