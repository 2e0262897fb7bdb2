"""A design: an architecture resolved once per run (energy table, FPGA mapping).

:func:`resolve_design` is the one place where an :class:`~sim.config.ArchConfig` meets
the data it needs beyond its own schema: the energy table it prices with (overrides
applied, cross-checked against the platform) and, on an FPGA platform, its resource
mapping -- which is also where an over-budget design is refused, once per run.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.config.schema import ArchConfig
from sim.cost.tables import EnergyTable, resolve_table, table_problems
from sim.errors import ConfigError
from sim.hw.fpga import FpgaMapping, check_fits

__all__ = ["Design", "resolve_design"]


@dataclass(frozen=True, eq=False)
class Design:
    """An architecture with everything resolved that a run prices with.

    Attributes
    ----------
    arch : ArchConfig
    table : EnergyTable
        The energy table, the arch's ``energy_table.overrides`` applied.
    fpga : FpgaMapping or None
        Resources used on the FPGA platform (``None`` for ``asic``).
    """

    arch: ArchConfig
    table: EnergyTable
    fpga: FpgaMapping | None


def resolve_design(arch: ArchConfig) -> Design:
    """Resolve ``arch``: check its energy table against its platform, map it onto its FPGA.

    Raises
    ------
    ConfigError
        The energy table does not suit the platform, or an override names no entry.
    ResourceError
        The design does not fit its FPGA (every resource, used vs available).
    """
    problems = table_problems(arch)
    if problems:
        raise ConfigError(problems, source=arch.name)
    fpga = check_fits(arch) if arch.platform != "asic" else None
    return Design(arch, resolve_table(arch), fpga)
