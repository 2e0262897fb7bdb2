"""The memory hierarchy of a design, as plain numbers: SRAM halves, DRAM channels.

Three double-buffered SRAMs (ifmap, filter, ofmap) each split in two halves; DRAM with
one interface per SRAM or one channel shared by all three.  The engine's memory walk
(:mod:`sim.engine.memory`) simulates what these parameters imply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["MemoryHierarchy", "memory_hierarchy", "half_words"]


def half_words(kib: float, word_bytes: int) -> int:
    """Words in one half of a double-buffered SRAM of ``kib`` KiB."""
    return int(math.floor(kib * 1024.0 / word_bytes)) // 2


@dataclass(frozen=True)
class MemoryHierarchy:
    """Memory parameters of one design.

    Attributes
    ----------
    half_words : tuple of int
        Words in one half of the ifmap, filter and ofmap SRAMs.
    bytes_per_cycle : tuple of float
        DRAM bandwidth of the ifmap, filter and ofmap interfaces, bytes per array cycle
        (``inf`` = unlimited).
    shared : bool
        True when the three interfaces share one channel (``dram.bandwidth_gbps``).
    latency_cycles : int
        DRAM latency added once per transfer, array cycles.
    word_bytes : int
        Bytes per operand word.
    """

    half_words: tuple
    bytes_per_cycle: tuple
    shared: bool
    latency_cycles: int
    word_bytes: int


def memory_hierarchy(arch) -> MemoryHierarchy:
    """The :class:`MemoryHierarchy` of an :class:`~sim.config.ArchConfig`."""
    mem = arch.memory
    bw_i, bw_f, bw_o, shared = arch.dram.bytes_per_cycle(arch.clock_mhz)
    halves = tuple(half_words(getattr(mem, f"{x}_kib"), mem.word_bytes)
                   for x in ("ifmap", "filter", "ofmap"))
    return MemoryHierarchy(halves, (bw_i, bw_f, bw_o), bool(shared),
                           int(arch.dram.latency_cycles), int(mem.word_bytes))
