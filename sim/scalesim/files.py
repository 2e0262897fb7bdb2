"""Read SCALE-Sim 3.0.0's ``.cfg`` and topology CSVs (conv and GEMM).

The cfg is read like SCALE-Sim's ``scale_config.py`` (configparser, keys case-insensitive,
sections ``general``, ``architecture_presets``, ``layout``, ``sparsity``, ``run_presets``
mandatory).  What vitsim does not reproduce is refused with one line naming the key:
``SparsitySupport = true``, ``IfmapCustomLayout``/``FilterCustomLayout = True`` and
``UseRamulatorTrace = True``.  ``ReadRequestBuffer``, ``WriteRequestBuffer`` (Ramulator
replay only) and ``MemoryBanks`` are read and checked but change nothing, as in 3.0.0.

Topologies: one header line, then one layer per row; fields are split on ``,`` and the
last field is dropped, so every row ends with a comma (SCALE-Sim's rule; surrounding spaces
and blank lines are fine).  GEMM rows ``name, M, N, K[, N:M],``; conv rows ``name, H, W,
Fh, Fw, C, Nf, stride[, N:M],``; a conv name containing ``DP`` is depthwise and becomes
one single-channel layer per channel (``<name>Channel_<i>``), as in SCALE-Sim.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path

from sim.engine.scalesim_compute import Layer
from sim.errors import ConfigError, TraceError

__all__ = ["ScaleSimConfig", "read_config", "read_topology", "INPUT_TYPES"]

INPUT_TYPES = ("conv", "gemm")
_SECTIONS = ("general", "architecture_presets", "layout", "sparsity", "run_presets")


@dataclass(frozen=True)
class ScaleSimConfig:
    """The settings of a SCALE-Sim cfg that change its results (sizes in kB = k-words)."""

    run_name: str
    rows: int
    cols: int
    sram_kb: tuple[int, int, int]
    offsets: tuple[int, int, int]
    dataflow: str
    mode: str                            # "USER" or "CALC"
    bandwidth_words: tuple[int, int, int] | None   # USER: ifmap fill, filter fill, ofmap drain


def _get(cp, path, section, key):
    try:
        return cp.get(section, key).strip()
    except configparser.NoOptionError:
        raise ConfigError(f"[{section}] {key} is missing; SCALE-Sim 3.0.0 requires it",
                          path) from None


def _int(cp, path, section, key, low=0):
    text = _get(cp, path, section, key)
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"[{section}] {key} = {text!r}; must be an integer", path) from None
    if value < low:
        raise ConfigError(f"[{section}] {key} = {value}; must be >= {low}", path)
    return value


def _bool(cp, path, section, key, allowed=("true", "false")):
    text = _get(cp, path, section, key)
    if text.lower() not in allowed:
        raise ConfigError(f"[{section}] {key} = {text!r}; must be True or False", path)
    return text.lower() == "true"


def read_config(path) -> ScaleSimConfig:
    """Parse a SCALE-Sim 3.0.0 ``.cfg``; raises :class:`ConfigError` (one line) if bad."""
    path = str(path)
    cp = configparser.ConfigParser()
    try:
        with open(path, encoding="utf-8") as fh:
            cp.read_file(fh)
    except UnicodeDecodeError:
        raise ConfigError("not a SCALE-Sim config (not UTF-8 text)", path) from None
    except configparser.Error as exc:
        raise ConfigError(f"not a SCALE-Sim config ({' '.join(str(exc).split())})",
                          path) from None
    for section in _SECTIONS:
        if not cp.has_section(section):
            raise ConfigError(f"section [{section}] is missing; SCALE-Sim 3.0.0 requires it",
                              path)
    a = "architecture_presets"
    run_name = _get(cp, path, "general", "run_name")
    if not run_name or "/" in run_name or run_name in (".", ".."):
        raise ConfigError(f"[general] run_name = {run_name!r}; must be a plain folder name",
                          path)
    mode = _get(cp, path, "run_presets", "InterfaceBandwidth")
    if mode not in ("USER", "CALC"):
        raise ConfigError(f"[run_presets] InterfaceBandwidth = {mode!r}; must be USER or CALC",
                          path)
    if _bool(cp, path, "run_presets", "UseRamulatorTrace"):
        raise ConfigError("[run_presets] UseRamulatorTrace = True; Ramulator replay is not "
                          "reproduced by vitsim (set False)", path)
    rows, cols = _int(cp, path, a, "ArrayHeight", 1), _int(cp, path, a, "ArrayWidth", 1)
    sram = tuple(_int(cp, path, a, f"{x}SramSzkB", 1) for x in ("Ifmap", "Filter", "Ofmap"))
    offsets = tuple(_int(cp, path, a, f"{x}Offset") for x in ("Ifmap", "Filter", "Ofmap"))
    dataflow = _get(cp, path, a, "Dataflow")
    if dataflow not in ("os", "ws", "is"):
        raise ConfigError(f"[{a}] Dataflow = {dataflow!r}; must be os, ws or is", path)
    for key in ("ReadRequestBuffer", "WriteRequestBuffer"):
        _int(cp, path, a, key, 1)
    if cp.has_option(a, "MemoryBanks"):
        _int(cp, path, a, "MemoryBanks", 1)
    for x in ("Ifmap", "Filter"):
        if _bool(cp, path, "layout", f"{x}CustomLayout"):
            raise ConfigError(f"[layout] {x}CustomLayout = True; custom SRAM layouts are not "
                              "reproduced by vitsim (set False)", path)
    fill = tuple(_int(cp, path, "layout", f"{x}SRAMBankBandwidth", 1)
                 for x in ("Ifmap", "Filter"))
    for x in ("Ifmap", "Filter"):
        banks = _int(cp, path, "layout", f"{x}SRAMBankNum", 1)
        _int(cp, path, "layout", f"{x}SRAMBankPort", 1)
        bw = fill[0] if x == "Ifmap" else fill[1]
        if bw % banks:
            raise ConfigError(f"[layout] {x}SRAMBankNum = {banks}; must divide "
                              f"{x}SRAMBankBandwidth = {bw}", path)
    if _get(cp, path, "sparsity", "SparsitySupport").lower() == "true":
        raise ConfigError("[sparsity] SparsitySupport = true; sparsity is not reproduced by "
                          "vitsim (set false)", path)
    bandwidth = None
    if mode == "USER":
        text = _get(cp, path, a, "Bandwidth")
        try:
            drain = int(text.split(",")[0].strip())
        except ValueError:
            raise ConfigError(f"[{a}] Bandwidth = {text!r}; must be an integer (words/cycle)",
                              path) from None
        if drain < 1:
            raise ConfigError(f"[{a}] Bandwidth = {drain}; must be >= 1", path)
        bandwidth = (fill[0], fill[1], drain)
    return ScaleSimConfig(run_name, rows, cols, sram, offsets, dataflow, mode, bandwidth)


def _field_int(path, line_no, col, name, text, low=1):
    try:
        value = int(text.strip())
    except ValueError:
        raise TraceError(f"line {line_no}, column {col} ({name}) = {text.strip()!r}; "
                         "must be an integer", path) from None
    if value < low:
        raise TraceError(f"line {line_no}, column {col} ({name}) = {value}; "
                         f"must be >= {low}", path)
    return value


_GEMM = ("M", "N", "K")
_CONV = ("IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels",
         "Num Filter", "Strides")


def read_topology(path, input_type: str = "conv") -> list[Layer]:
    """Layers of a SCALE-Sim topology CSV (``input_type`` ``conv`` or ``gemm``)."""
    if input_type not in INPUT_TYPES:
        raise TraceError(f"input type = {input_type!r}; must be conv or gemm")
    path = str(path)
    names = _GEMM if input_type == "gemm" else _CONV
    layers: list[Layer] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise TraceError("not a SCALE-Sim topology (not UTF-8 text)", path) from None
    for line_no, raw in enumerate(lines[1:], start=2):
        row = raw.strip()
        if not row:
            continue
        fields = row.split(",")[:-1]
        if len(fields) < len(names) + 1:
            raise TraceError(f"line {line_no}: {len(fields)} fields before the trailing "
                             f"comma; must be name, {', '.join(names)}, (ending with ',')",
                             path)
        if len(fields) > len(names) + 1:
            raise TraceError(f"line {line_no}, column {len(names) + 2} = "
                             f"{fields[len(names) + 1].strip()!r}; N:M sparsity is not "
                             "reproduced by vitsim", path)
        name = fields[0].strip()
        vals = [_field_int(path, line_no, i + 2, n, fields[i + 1])
                for i, n in enumerate(names)]
        if input_type == "gemm":
            layers.append(Layer.gemm(name, *vals))
            continue
        h, w, fh, fw, c, nf, s = vals
        for col, dim, filt in ((4, h, fh), (5, w, fw)):
            if filt > dim:
                raise TraceError(f"line {line_no}, column {col} ({names[col - 2]}) = {filt}; "
                                 f"must be <= the image ({dim}), SCALE-Sim has no padding",
                                 path)
        if "DP" in name:
            layers += [Layer(f"{name}Channel_{i}", h, w, fh, fw, 1, nf, s) for i in range(c)]
        else:
            layers.append(Layer(name, h, w, fh, fw, c, nf, s))
    if not layers:
        raise TraceError("no layers (a header line, then one row per layer)", path)
    return layers
