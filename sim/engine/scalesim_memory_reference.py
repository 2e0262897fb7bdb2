"""SCALE-Sim 3.0.0's memory system, restated step by step in slow, plain Python.

This is the reference the fast path is checked against and what ``vitsim scalesim`` runs.
It walks the demand matrices of :mod:`sim.engine.scalesim_compute` one row (cycle) at a
time, as ``memory/double_buffered_scratchpad_mem.py: service_memory_requests`` does:

* row ``i`` is issued at ``cycle = i + stalls``; each of the three buffers returns the
  cycle it served the row; ``stalls += max(ifmap - cycle - 1, filter - cycle - 1,
  ofmap - cycle)`` (1 = SRAM hit latency; the write port has latency 0);
* ``Total Cycles`` is the last ofmap service cycle, ``Total Cycles (incl. prefetch)`` the
  last DRAM ofmap write minus the first DRAM ifmap/filter read.

Read buffers, USER mode (:class:`UserReadBuffer`, ``memory/read_buffer.py``): the operand's
prefetch order is cut into fetch rows of ``bw`` words and into *lines* of
``ceil(words/100)`` addresses; the active half is a cyclic window of lines.  A demanded
address outside the window slides the window forward by the prefetch half and fetches
``ceil(half/bw)`` rows right after the previous fetch; the row waits for the fetch, and the
wait is added to its offset twice (quirk Q2; when negative it is still added once).
Read buffers, CALC mode (:class:`EstimateReadBuffer`, ``read_buffer_estimate_bw.py``):
no stalls; unique demanded addresses are grouped in sets of ``floor(words/100)``; each
time 50 sets fill, the previous window is "prefetched" at the bandwidth that just fits.
Write buffer (:class:`WriteBuffer`, ``write_buffer.py``): ofmap words are packed in lines
of ``bw``; once more than the drain half is outstanding and no drain is running, the
outstanding lines (up to ``ceil(half/bw)``) drain one line per cycle; a full buffer
stalls until the drain ends.  Partial lines are flushed into the drain queue and only the
last line of a drain has its empty slots discounted (so DRAM writes can exceed SRAM writes).
"""

from __future__ import annotations

import math

import numpy as np

from sim.engine.scalesim_compute import Layer, layer_matrices
from sim.errors import SimulationError

__all__ = ["UserReadBuffer", "EstimateReadBuffer", "WriteBuffer", "simulate_layer"]

HIT_LATENCY = 1      # SRAM hit latency (cycles)
READ_LATENCY = 1     # DRAM read port latency (cycles)


class UserReadBuffer:
    """USER-mode double-buffered read SRAM (restates ``read_buffer.py``)."""

    def __init__(self, size_words: int, bw: int, prefetch: np.ndarray):
        self.bw = bw
        self.active = math.ceil(size_words * 0.5)
        self.prefetch_size = size_words - self.active
        flat = prefetch.ravel()
        self.fetch_rows = math.ceil(flat.size / bw)
        per_line = math.ceil(size_words / 100)
        # lines of `per_line` valid entries (duplicates counted) in prefetch order
        self.lines_of: dict[int, list[int]] = {}
        line, count = 0, 0
        for addr in flat.tolist():
            if addr == -1:
                continue
            self.lines_of.setdefault(addr, []).append(line)
            count += 1
            if count >= per_line:
                line, count = line + 1, 0
        self.num_lines = line + 1
        self.n_active = min(self.num_lines, math.ceil(self.active / per_line))
        self.n_prefetch = min(self.num_lines - self.n_active,
                              math.ceil(self.prefetch_size / per_line))
        self.window = (0, self.n_active)
        self.started = False
        self.last_fetch = -1
        self.next_row = 0
        self.accesses = 0
        self.dram_first = self.dram_last = None

    def _hit(self, addr) -> bool:
        start, end = self.window
        for line in self.lines_of.get(addr, ()):
            if (start <= line < end) if start < end else (line >= start or line < end):
                return True
        return False

    def _fill(self, start_cycle: int) -> None:
        rows = min(math.ceil(self.active / self.bw), self.fetch_rows)
        self.accesses += rows * self.bw
        # fetch rows answered at start - rows .. start - 1
        self.dram_first, self.dram_last = start_cycle - rows, start_cycle - 1
        self.last_fetch = start_cycle - 1
        self.next_row = (rows if rows * self.bw > self.active else rows + 1) % self.fetch_rows
        self.started = True

    def _slide(self) -> None:
        start = (self.window[0] + self.n_prefetch) % self.num_lines
        self.window = (start, (start + self.n_active) % self.num_lines)
        rows = math.ceil(self.prefetch_size / self.bw)
        self.accesses += rows * self.bw
        self.last_fetch = self.last_fetch + rows + READ_LATENCY
        self.dram_last = max(self.dram_last, self.last_fetch)
        self.dram_first = min(self.dram_first, self.last_fetch - rows + 1)
        # quirk Q3: the next fetch restarts from the same rows (trace addresses only)
        self.next_row = (rows if rows * self.bw > self.active else rows + 1) % self.fetch_rows

    def serve(self, row, cycle: int) -> int:
        """Cycle the demand ``row`` issued at ``cycle`` is served."""
        if not self.started:
            self._fill(cycle)
        offset = HIT_LATENCY
        for addr in row:
            if addr == -1:
                continue
            while not self._hit(addr):
                self._slide()
                late = self.last_fetch - (cycle + offset)
                offset += late
                if late > 0:
                    offset += late
        return cycle + offset


class EstimateReadBuffer:
    """CALC-mode read buffer (restates ``read_buffer_estimate_bw.py``); never stalls."""

    def __init__(self, size_words: int, bw: int):
        self.bw = bw
        self.per_set = size_words // 100
        self.sets_of: dict[int, list[int]] = {}
        self.current: set = set()
        self.set_id = 0
        self.set_sizes: list[int] = []
        self.read_start, self.read_end = 0, 49
        self.pf_start = self.pf_end = -1
        self.last_start, self.last_end = -2, -1
        self.first_cycle = 0
        self.seen = False
        self.done = False
        self.accesses = 0
        self.rows: list[int] = []     # DRAM response cycle of every fetch row

    def _hit(self, addr) -> bool:
        end = min(self.set_id, self.read_end + 1)
        return any(self.read_start <= s < end for s in self.sets_of.get(addr, ()))

    def _prefetch(self, first: int, last: int) -> None:
        self.accesses += sum(self.set_sizes[first:last + 1])
        n = self.last_end - self.last_start + 1
        self.rows.extend(range(self.last_start + READ_LATENCY,
                               self.last_start + READ_LATENCY + n))

    def serve(self, row, cycle: int) -> int:
        if not self.seen and max(row) > -1:
            self.first_cycle, self.seen = cycle, True
        for addr in row:
            if addr != -1:
                self._manage(cycle, addr)
        return cycle + HIT_LATENCY

    def _manage(self, cycle: int, addr) -> None:
        if self._hit(addr) or addr in self.current:
            return
        self.current.add(addr)
        if len(self.current) != self.per_set:
            return
        for a in self.current:
            self.sets_of.setdefault(a, []).append(self.set_id)
        self.set_sizes.append(len(self.current))
        self.current = set()
        self.set_id += 1
        if self.set_id != self.read_end + 1:
            return
        if not self.done:
            self.last_end = self.first_cycle - 1 - READ_LATENCY
            self.last_start = self.last_end - math.ceil(50 * self.per_set / self.bw) + 1
            self._prefetch(0, 49)
            self.pf_start, self.pf_end = self.read_end + 1, self.read_end + 50
            self.done = True
        else:
            self._prefetch(self.pf_start, self.pf_end)
            self.pf_start += 50
            self.pf_end += 50
        self.read_start += 50
        self.read_end += 50
        self.last_start, self.last_end = self.last_end + 1, cycle

    def finish(self) -> None:
        """``complete_all_prefetches``: fetch what is left after the last demand."""
        if self.current:
            self.set_sizes.append(len(self.current))
        else:
            self.set_id -= 1
        if not self.done:
            self.last_end = -1 - READ_LATENCY
            n_sets = self.set_id + 1
            self.last_start = self.last_end - math.ceil(n_sets * self.per_set / self.bw) + 1
            self._prefetch(0, n_sets - 1)
            self.done = True
        else:
            self._prefetch(self.pf_start, self.set_id)

    @property
    def dram_first(self):
        return self.rows[0]

    @property
    def dram_last(self):
        return self.rows[-1]


class WriteBuffer:
    """Double-buffered ofmap SRAM draining to DRAM (restates ``write_buffer.py``)."""

    def __init__(self, size_words: int, bw: int):
        self.bw = bw
        self.total = size_words
        self.active = math.ceil(size_words * 0.5)
        self.drain_size = size_words - self.active
        self.free = size_words
        self.line_fill = 0
        self.lines: list[int] = []    # valid words of every line queued for DRAM
        self.next_line = 0
        self.drain_end = 0
        self.accesses = 0
        self.cycles: list[int] = []   # DRAM write cycle of every drained line

    def _store(self) -> None:
        self.line_fill += 1
        self.free -= 1
        if self.line_fill == self.bw:
            self.lines.append(self.bw)
            self.line_fill = 0

    def _flush(self) -> None:
        if self.line_fill:
            self.lines.append(self.line_fill)
            self.line_fill = 0

    def _drain(self, start: int) -> int:
        stop = min(self.next_line + math.ceil(self.drain_size / self.bw), len(self.lines))
        n = stop - self.next_line
        # only the last line's empty slots are discounted (SCALE-Sim's count)
        words = (n - 1) * self.bw + self.lines[stop - 1]
        self.accesses += words
        self.cycles.extend(range(start, start + n))
        self.free += words
        self.next_line = stop
        return start + n - 1

    def serve(self, row, cycle: int) -> int:
        now = cycle
        for addr in row:
            if addr == -1:
                continue
            self._store()
            if now < self.drain_end:
                if self.free <= 0:
                    now = self.drain_end
            elif self.free < self.active:
                self._flush()
                self.drain_end = self._drain(now)
        return now

    def finish(self, cycle: int) -> None:
        """``empty_all_buffers``: drain everything left, back to back from ``cycle``."""
        self._flush()
        while self.next_line < len(self.lines):
            self.drain_end = self._drain(cycle)
            cycle = self.drain_end + 1


def _first_last(demand: np.ndarray, served: list):
    busy = np.flatnonzero((demand != -1).any(axis=1))
    return float(served[busy[0]]), float(served[busy[-1]])


def simulate_layer(layer: Layer, dataflow: str, rows: int, cols: int, sram_kb, mode: str,
                   bandwidth_words=None, offsets=(0, 10_000_000, 20_000_000),
                   traces=False) -> dict:
    """One layer through SCALE-Sim's compute + memory model; returns its report items.

    ``sram_kb`` = (ifmap, filter, ofmap) in kB of 1-byte words; ``mode`` ``"USER"`` uses
    ``bandwidth_words`` = (ifmap fill, filter fill, ofmap drain) words/cycle, ``"CALC"``
    fills at 10 and drains at ``cols`` words/cycle without read stalls.  Keys: ``compute``
    (6 values of COMPUTE_REPORT), ``bandwidth`` (6), ``detail`` (18), in report order;
    with ``traces`` also ``sram_traces``: name -> (service cycle per row, demand matrix).
    """
    mats = layer_matrices(layer, dataflow, rows, cols, offsets)
    words = [math.floor(kb * 1024) for kb in sram_kb]
    if mode == "USER":
        bw_i, bw_f, bw_o = bandwidth_words
        ibuf = UserReadBuffer(words[0], bw_i, mats.ifmap_prefetch)
        fbuf = UserReadBuffer(words[1], bw_f, mats.filter_prefetch)
    else:
        bw_o = cols
        ibuf, fbuf = EstimateReadBuffer(words[0], 10), EstimateReadBuffer(words[1], 10)
    obuf = WriteBuffer(words[2], bw_o)
    stalls = 0
    served_i, served_f, served_o = [], [], []
    i_rows = mats.ifmap_demand.tolist()
    f_rows = mats.filter_demand.tolist()
    o_rows = mats.ofmap_demand.tolist()
    for i in range(len(o_rows)):
        cycle = i + stalls
        ti, tf, to = ibuf.serve(i_rows[i], cycle), fbuf.serve(f_rows[i], cycle), \
            obuf.serve(o_rows[i], cycle)
        served_i.append(ti)
        served_f.append(tf)
        served_o.append(to)
        stalls += max(ti - cycle - HIT_LATENCY, tf - cycle - HIT_LATENCY, to - cycle)
    if mode != "USER":
        ibuf.finish()
        fbuf.finish()
    obuf.finish(served_o[-1])
    total = int(max(served_o))
    if total == 0:
        raise SimulationError(f"layer {layer.name}: Total Cycles = 0 (one demand row); "
                              "SCALE-Sim divides by it and crashes")
    dram = [(float(ibuf.dram_first), float(ibuf.dram_last), ibuf.accesses),
            (float(fbuf.dram_first), float(fbuf.dram_last), fbuf.accesses),
            (float(min(obuf.cycles)), float(max(obuf.cycles)), obuf.accesses)]
    sram = [(*_first_last(mats.ifmap_demand, served_i), mats.ifmap_reads),
            (*_first_last(mats.filter_demand, served_f), mats.filter_reads),
            (*_first_last(mats.ofmap_demand, served_o), mats.ofmap_writes)]
    overall = int(dram[2][1] - min(dram[0][0], dram[1][0]))
    compute = [overall, total, int(stalls),
               (layer.macs * 100) / (total * rows * cols),
               sum(mats.mapping_eff) / len(mats.mapping_eff) * 100,
               sum(mats.compute_util) / len(mats.compute_util) * 100]
    bandwidth = [s[2] / total for s in sram] + [d[2] / (d[1] - d[0] + 1) for d in dram]
    detail = [x for trio in sram + dram for x in trio]
    out = {"compute": compute, "bandwidth": bandwidth, "detail": detail}
    if traces:
        out["sram_traces"] = {"IFMAP": (served_i, mats.ifmap_demand),
                              "FILTER": (served_f, mats.filter_demand),
                              "OFMAP": (served_o, mats.ofmap_demand)}
    return out
