"""Energy tables: YAML data with a unit and a ``source`` for every entry.

A table is one ``<name>.yaml`` file in this folder (``horowitz45``, ``zcu102``,
``pivot_sim``).  Its ``kind`` says which pricer reads it (:mod:`sim.cost.pricers`):

``asic``        energy per action (MAC, register bit, SRAM byte, DRAM bit, vector lane-op)
                plus leakage power per component; SRAM energy grows with the bank size.
``fpga``        an FPGA power profile: static (device + PS) power and dynamic energy per
                used resource (DSP, BRAM36, LUT, FF, clock tree) per active cycle.
``unit_power``  fixed power per unit while it runs (PIVOT-Sim's constants).

The arch's ``energy_table`` section picks a table (``auto``: ``zcu102`` on the zcu102
platform, else ``horowitz45``), a DRAM technology and per-entry ``overrides``.

SRAM rule (``sram.points``): energy per byte is a piecewise power law through the points
(straight lines between them in log(size)-log(energy)), extended past the end points with
the slope of the nearest segment.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from sim.config.schema import AUTO_ENERGY_TABLE, FPGA_PLATFORMS
from sim.config.validate import read_yaml
from sim.errors import ConfigError

__all__ = ["EnergyTable", "load_table", "list_tables", "resolve_table", "table_problems",
           "TABLE_KINDS"]

_DIR = Path(__file__).resolve().parent
#: Table kinds and the platforms they may price.
TABLE_KINDS = {"asic": None, "fpga": FPGA_PLATFORMS, "unit_power": None}


@dataclass(frozen=True)
class EnergyTable:
    """One energy table (immutable; :meth:`with_overrides` returns a new one).

    Attributes
    ----------
    name, kind, label, source : str
        Identity, pricer kind, honesty label ("calibrated, not measured", ...) and the
        citation printed with every result (``energy_source`` in the summary).
    entries : dict[str, float]
        Entry values in the unit given by ``units[key]``.
    units, sources : dict[str, str]
        Unit and provenance of each entry.
    sram_kib, sram_pj_per_byte : tuple of float
        SRAM curve points (ASIC tables); empty otherwise.
    default_dram : str
        DRAM technology priced when the arch says ``auto`` (ASIC tables).
    overridden : tuple of str
        Entry keys replaced by the arch's ``energy_table.overrides``.
    """

    name: str
    kind: str
    label: str
    source: str
    entries: dict
    units: dict
    sources: dict
    sram_kib: tuple = ()
    sram_pj_per_byte: tuple = ()
    default_dram: str = ""
    overridden: tuple = ()

    def __getitem__(self, key: str) -> float:
        return self.entries[key]

    def with_overrides(self, overrides: dict) -> EnergyTable:
        """A copy with some entries replaced (keys must exist)."""
        if not overrides:
            return self
        unknown = sorted(set(overrides) - set(self.entries))
        if unknown:
            raise ConfigError(_unknown_msg(self, unknown))
        entries = dict(self.entries, **{k: float(v) for k, v in overrides.items()})
        return dataclasses.replace(self, entries=entries,
                                   overridden=tuple(sorted(set(self.overridden) | set(overrides))))

    def provenance(self) -> dict:
        """Summary keys naming the table: ``energy_table``, ``energy_label``,
        ``energy_source`` and, when the arch replaced entries, ``energy_overrides``."""
        out = {"energy_table": self.name, "energy_label": self.label,
               "energy_source": self.source}
        if self.overridden:
            out["energy_overrides"] = ", ".join(
                f"{k}={self.entries[k]:g}" for k in self.overridden)
        return out

    def sram_energy(self, size_kib):
        """SRAM access energy, pJ per byte, of a bank of ``size_kib`` KiB (scalar or array).

        Piecewise power law through ``sram.points``, times the ``sram_scale`` entry.
        """
        if not self.sram_kib:
            raise ConfigError(f"energy table {self.name!r} has no SRAM curve")
        x = np.log(np.asarray(self.sram_kib, dtype=float))
        y = np.log(np.asarray(self.sram_pj_per_byte, dtype=float))
        s = np.log(np.maximum(np.asarray(size_kib, dtype=float), 1e-9))
        out = np.interp(s, x, y)
        if len(x) > 1:
            lo = (y[1] - y[0]) / (x[1] - x[0])
            hi = (y[-1] - y[-2]) / (x[-1] - x[-2])
            out = np.where(s < x[0], y[0] + lo * (s - x[0]), out)
            out = np.where(s > x[-1], y[-1] + hi * (s - x[-1]), out)
        return np.exp(out) * self.entries.get("sram_scale", 1.0)

    def dram_pj_per_bit(self, technology: str) -> float:
        """DRAM energy of one bit moved, pJ (``auto`` = the table's default technology)."""
        tech = self.default_dram if technology == "auto" else technology
        key = f"dram_{tech}_pj_per_bit"
        if key not in self.entries:
            raise ConfigError(f"energy table {self.name!r} has no DRAM technology {tech!r}")
        return self.entries[key]


def _unknown_msg(table, unknown):
    return (f"energy_table.overrides: {', '.join(map(repr, unknown))} not an entry of table "
            f"{table.name!r}; entries are {sorted(table.entries)}")


def list_tables() -> list[str]:
    """Names of the shipped tables."""
    return sorted(p.stem for p in _DIR.glob("*.yaml"))


@lru_cache(maxsize=32)
def load_table(name_or_path) -> EnergyTable:
    """Load a shipped table by name (``"horowitz45"``) or a table YAML file by path."""
    path = Path(name_or_path)
    if not path.is_file():
        path = _DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise ConfigError(f"energy table must be one of {list_tables()} or a file, "
                              f"not {str(name_or_path)!r}")
    data = read_yaml(path, ConfigError)
    problems = []
    if not isinstance(data, dict):
        raise ConfigError("an energy table must be a mapping", source=str(path))
    for key in ("name", "kind", "label", "source", "entries"):
        if key not in data:
            problems.append(f"{key}: missing required key")
    kind = data.get("kind")
    if kind not in TABLE_KINDS:
        problems.append(f"kind = {kind!r}; must be one of {sorted(TABLE_KINDS)}")
    entries, units, sources = {}, {}, {}
    for key, entry in (data.get("entries") or {}).items():
        if not isinstance(entry, dict) or set(entry) != {"value", "unit", "source"}:
            problems.append(f"entries.{key} must be a mapping of value, unit, source")
            continue
        value = entry["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            problems.append(f"entries.{key}.value = {value!r}; must be a number >= 0")
            continue
        entries[key], units[key], sources[key] = float(value), entry["unit"], entry["source"]
    points = (data.get("sram") or {}).get("points") or []
    kib = tuple(float(p["size_kib"]) for p in points)
    pj = tuple(float(p["pj_per_byte"]) for p in points)
    if kind == "asic" and (len(kib) < 1 or any(b <= a for a, b in zip(kib, kib[1:]))):
        problems.append("sram.points: need >= 1 point with increasing size_kib")
    if problems:
        raise ConfigError(problems, source=str(path))
    return EnergyTable(
        name=data["name"], kind=kind, label=data["label"], source=" ".join(data["source"].split()),
        entries=entries, units=units, sources=sources, sram_kib=kib, sram_pj_per_byte=pj,
        default_dram=data.get("default_dram", ""))


def _table_name(arch) -> str:
    name = arch.energy_table.name
    return AUTO_ENERGY_TABLE[arch.platform] if name == "auto" else name


def resolve_table(arch) -> EnergyTable:
    """The table an architecture prices with, overrides applied."""
    return load_table(_table_name(arch)).with_overrides(arch.energy_table.overrides)


def table_problems(arch) -> list[str]:
    """Cross-field problems of ``arch.energy_table`` (for the config validator)."""
    et = arch.energy_table
    try:
        table = load_table(_table_name(arch))
    except ConfigError as exc:
        return [f"energy_table.name: {p}" for p in exc.problems]
    out = []
    allowed = TABLE_KINDS[table.kind]
    if allowed is not None and arch.platform not in allowed:
        out.append(f"energy_table.name = {table.name!r}; a {table.kind} profile needs "
                   f"platform one of {list(allowed)}, not {arch.platform!r} (set "
                   f"platform: zcu102, or pick an ASIC table such as horowitz45)")
    unknown = sorted(set(et.overrides) - set(table.entries))
    if unknown:
        out.append(_unknown_msg(table, unknown))
    if et.dram != "auto" and table.kind != "asic":
        out.append(f"energy_table.dram = {et.dram!r}; only asic tables price DRAM by "
                   f"technology, not {table.name!r} (kind {table.kind}); override its "
                   f"DDR entry instead")
    return out
