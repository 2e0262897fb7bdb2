"""PIVOT efforts files: one trace plus per-input entropy and correctness per effort.

An *effort* is one separately fine-tuned ViT defined by the encoders whose attention it
skips (PIVOT, DAC 2024).  Fine-tuning and evaluating efforts on ImageNet needs a GPU, so it
happens on the user's side; vitsim receives, per effort, what ran (a trace) and how the
effort did on each validation input (class-mean entropy and correctness, same input order
in every effort).  Phase 2 (:mod:`sim.search.pivot`) needs nothing else.

File format (YAML or JSON, ``schema_version: 1``)::

    schema_version: 1
    base: workloads/lvvit_s.yaml     # trace file or built-in model name; needed by `skip`
    efforts:
      - name: low
        skip: [1, 3, 5, 7, 9, 11, 13, 15]  # skip set applied to `base` (0-based encoders)
        data: low.npz                      # arrays `entropy` (float, N) and `correct` (bool, N)
      - name: full
        trace: traces/full.yaml            # or a trace file of what ran
        entropy: [0.0011, 0.0002, ...]     # inline arrays are fine for small N
        correct: [1, 0, ...]
      - name: narrow
        skip: [1, 3]
        dims: {embed_dim: 192, mlp_ratio: 2, depth: 10}  # ViT dimensions as trace edits;
        data: narrow.npz                   # entropy/correctness OF THAT MODEL

Rules (all checked, every problem reported at once): exactly one of ``trace`` / ``skip``
per effort (``skip`` needs ``base``); exactly one of ``data`` / (``entropy`` + ``correct``);
names unique; entropies finite and >= 0 (class-mean entropy, ``-(1/C) sum_c p_c ln p_c``,
see docs/pivot.md); ``correct`` holds booleans or 0/1; every effort has the same number of
inputs N >= 1.  Relative paths are relative to the efforts file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from sim.config.validate import Problems, read_yaml
from sim.errors import ConfigError, VitsimError
from sim.workload.edit import skip_attention
from sim.workload.resolve import as_trace
from sim.workload.spec import MODEL_SPECS
from sim.workload.trace import Trace, load_trace, save_trace

__all__ = ["Effort", "load_efforts", "save_efforts", "make_effort", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1
_TOP_KEYS = {"schema_version", "base", "efforts", "description"}
_EFFORT_KEYS = {"name", "trace", "skip", "data", "entropy", "correct", "description", "dims"}


@dataclass(frozen=True, eq=False)
class Effort:
    """One effort of a PIVOT cascade.

    Attributes
    ----------
    name : str
        Unique label.
    trace : Trace
        What the effort runs (skipped attentions have ``attention: false``).
    entropy : numpy.ndarray
        Class-mean entropy of each validation input (float64, shape ``(N,)``).
    correct : numpy.ndarray
        Whether the effort's argmax is the label, per input (bool, shape ``(N,)``).
    skip : tuple of int or None
        The skip set when the effort was given inline.
    """

    name: str
    trace: Trace
    entropy: np.ndarray
    correct: np.ndarray
    skip: tuple | None = None

    @property
    def kept(self) -> int:
        """Number of encoders whose attention runs (PIVOT's effort label)."""
        return sum(1 for lt in self.trace.layers if lt.attention)

    @property
    def skipped(self) -> tuple:
        """0-based encoders whose attention is skipped."""
        return tuple(lt.index for lt in self.trace.layers if not lt.attention)

    @property
    def n_inputs(self) -> int:
        return int(self.entropy.shape[0])

    @property
    def accuracy(self) -> float:
        """Fraction of inputs the effort alone classifies correctly."""
        return float(self.correct.mean())


def _as_entropy(values, key, problems):
    if isinstance(values, (list, tuple)) and any(isinstance(v, bool) for v in values):
        problems.append(f"{key}: must be a list of numbers (class-mean entropies), "
                        "not true/false")
        return None
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        problems.append(f"{key}: must be a list of numbers (class-mean entropies)")
        return None
    if arr.ndim != 1 or arr.size == 0:
        problems.append(f"{key}: must be a non-empty 1-D array, not shape {arr.shape}")
        return None
    bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
    if bad.size:
        problems.append(f"{key}: {bad.size} value(s) not finite or negative (first at index "
                        f"{bad[0]}: {arr[bad[0]]!r}); entropies must be finite and >= 0")
        return None
    return arr


def _as_correct(values, key, problems):
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        problems.append(f"{key}: must be a non-empty 1-D array, not shape {arr.shape}")
        return None
    if arr.dtype == bool:
        return arr.copy()
    if arr.dtype.kind in "iuf":
        bad = np.flatnonzero((arr != 0) & (arr != 1))
        if bad.size == 0:
            return arr.astype(bool)
        problems.append(f"{key}: {bad.size} value(s) not 0/1 (first at index {bad[0]}: "
                        f"{arr[bad[0]]!r}); must be booleans or 0/1")
        return None
    problems.append(f"{key}: must hold booleans or 0/1, not {arr.dtype}")
    return None


def _read_npz(path: Path, key, problems):
    if not path.is_file():
        problems.append(f"{key} = {str(path)!r}: file not found")
        return None, None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as exc:  # noqa: BLE001 - zip, pickle, EOF...: one line, any cause
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        problems.append(f"{key} = {str(path)!r}: not a readable .npz ({msg}); must be "
                        "np.savez output with arrays 'entropy' and 'correct'")
        return None, None
    missing = [k for k in ("entropy", "correct") if k not in arrays]
    if missing:
        problems.append(f"{key} = {str(path)!r}: missing array(s) {missing}; it must hold "
                        f"'entropy' and 'correct' (has {sorted(arrays)})")
        return None, None
    return arrays["entropy"], arrays["correct"]


def _base_trace(base, root: Path, problems):
    if base is None:
        return None
    if not isinstance(base, str):
        problems.add("base", base, "a trace file or a built-in model name")
        return None
    path = root / base
    if path.is_file():
        try:
            return load_trace(path)
        except VitsimError as exc:
            problems.append(f"base: {exc}")
            return None
    try:
        return as_trace(base)  # a shipped workload or a built-in model
    except VitsimError:
        problems.add("base", base, f"an existing trace file, a shipped workload or one of "
                     f"{sorted(MODEL_SPECS)}")
        return None


def _skip_trace(base: Trace, skip, key, problems):
    depth = base.model.depth
    if not isinstance(skip, list) or any(
            not isinstance(i, int) or isinstance(i, bool) for i in skip):
        problems.add(key, skip, f"a list of encoder indices in [0, {depth})")
        return None
    bad = [i for i in skip if not 0 <= i < depth]
    if bad or len(set(skip)) != len(skip):
        problems.add(key, skip, f"distinct encoder indices in [0, {depth})")
        return None
    trace = skip_attention(base, skip)
    return dataclasses.replace(trace, name=f"{base.name}_skip{len(skip)}")


def _effort(raw, pos, base, root, problems):
    key = f"efforts[{pos}]"
    if not isinstance(raw, dict):
        problems.add(key, raw, "a mapping with name, trace|skip and data|entropy+correct")
        return None
    for k in raw:
        if k not in _EFFORT_KEYS:
            problems.append(f"{key}.{k}: unknown key; allowed keys are {sorted(_EFFORT_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        problems.add(f"{key}.name", name, "a non-empty string")
    trace = None
    has_trace, has_skip = "trace" in raw, "skip" in raw
    if has_trace == has_skip:
        problems.append(f"{key}: give exactly one of 'trace' (a trace file) or 'skip' "
                        f"(a skip set on 'base'), not {'both' if has_trace else 'neither'}")
    elif has_trace:
        t = raw["trace"]
        if not isinstance(t, str):
            problems.add(f"{key}.trace", t, "a trace file path")
        else:
            try:
                trace = load_trace(root / t)
            except VitsimError as exc:
                problems.append(f"{key}.trace: {exc}")
    elif base is None:
        problems.append(f"{key}.skip: needs a top-level 'base' (trace file or model name)")
    else:
        trace = _skip_trace(base, raw["skip"], f"{key}.skip", problems)
    if trace is not None and "dims" in raw:
        from sim.search.pivot.dims import DIM_KEYS, vit_dims

        dims = raw["dims"]
        if not isinstance(dims, dict) or set(dims) - set(DIM_KEYS):
            problems.add(f"{key}.dims", dims, f"a mapping with keys among {list(DIM_KEYS)}")
            trace = None
        else:
            try:
                trace = vit_dims(trace, **dims)
            except VitsimError as exc:
                problems.append(f"{key}.dims: {exc}")
                trace = None
    has_data = "data" in raw
    has_arrays = ("entropy" in raw, "correct" in raw)
    entropy = correct = None
    if has_data and any(has_arrays):
        problems.append(f"{key}: give either 'data' (.npz) or inline 'entropy' and "
                        "'correct', not both")
    elif has_data:
        d = raw["data"]
        if not isinstance(d, str):
            problems.add(f"{key}.data", d, "a .npz file path")
        else:
            e, c = _read_npz(root / d, f"{key}.data", problems)
            if e is not None:
                entropy = _as_entropy(e, f"{key}.data[entropy]", problems)
                correct = _as_correct(c, f"{key}.data[correct]", problems)
    elif all(has_arrays):
        entropy = _as_entropy(raw["entropy"], f"{key}.entropy", problems)
        correct = _as_correct(raw["correct"], f"{key}.correct", problems)
    else:
        missing = [k for k, h in zip(("entropy", "correct"), has_arrays) if not h]
        problems.append(f"{key}: missing {missing}; give 'data' (.npz with entropy and "
                        "correct) or both inline arrays")
    if entropy is not None and correct is not None and entropy.shape != correct.shape:
        problems.append(f"{key}: entropy has {entropy.size} inputs but correct has "
                        f"{correct.size}")
        return None
    if trace is None or entropy is None or correct is None or not isinstance(name, str):
        return None
    skip = tuple(sorted(raw["skip"])) if has_skip else None
    return Effort(name, trace, entropy, correct, skip)


def load_efforts(path) -> list:
    """Load and strictly validate an efforts file; returns a list of :class:`Effort`.

    Raises
    ------
    ConfigError
        Listing every problem (file, key path, value, what is allowed).
    """
    path = Path(path)
    data = read_yaml(path, ConfigError)
    return efforts_from_dict(data, root=path.parent, source=str(path))


def efforts_from_dict(data, root=".", source: str = "<dict>") -> list:
    """Validate a raw mapping in the efforts-file schema (paths relative to ``root``)."""
    problems, root = Problems(), Path(root)
    if not isinstance(data, dict):
        raise ConfigError(f"top level must be a mapping, not {type(data).__name__}", source)
    for k in data:
        if k not in _TOP_KEYS:
            problems.append(f"{k}: unknown key; allowed keys are {sorted(_TOP_KEYS)}")
    version = data.get("schema_version")
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        problems.add("schema_version", data.get("schema_version"), str(SCHEMA_VERSION))
    base = _base_trace(data.get("base"), root, problems)
    raw = data.get("efforts")
    if not isinstance(raw, list) or not raw:
        problems.add("efforts", raw, "a non-empty list of efforts")
        raw = []
    efforts = [_effort(r, i, base, root, problems) for i, r in enumerate(raw)]
    names = [r.get("name") for r in raw if isinstance(r, dict)]
    dup = sorted({n for n in names if isinstance(n, str) and names.count(n) > 1})
    if dup:
        problems.append(f"efforts: duplicate name(s) {dup}; names must be unique")
    sizes = {e.name: e.n_inputs for e in efforts if e is not None}
    if len(set(sizes.values())) > 1:
        problems.append(f"efforts: every effort must cover the same N inputs (same order), "
                        f"not {sizes}")
    if problems:
        raise ConfigError(problems, source=source)
    return efforts


def make_effort(name: str, trace: Trace, entropy, correct, skip=None) -> Effort:
    """Build (and validate) an :class:`Effort` in memory."""
    problems = Problems()
    e = _as_entropy(entropy, f"{name}.entropy", problems)
    c = _as_correct(correct, f"{name}.correct", problems)
    if e is not None and c is not None and e.shape != c.shape:
        problems.append(f"{name}: entropy has {e.size} inputs but correct has {c.size}")
    if problems:
        raise ConfigError(problems)
    return Effort(name, trace, e, c, None if skip is None else tuple(sorted(skip)))


def save_efforts(path, efforts, *, inline: bool = False) -> Path:
    """Write an efforts file; traces go to ``<stem>_traces/`` and arrays to ``.npz`` files
    next to it (or inline with ``inline=True``).  Returns the file path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tdir = path.parent / f"{path.stem}_traces"
    tdir.mkdir(exist_ok=True)
    entries = []
    for e in efforts:
        tpath = save_trace(e.trace, tdir / f"{e.name}.yaml")
        entry = {"name": e.name, "trace": str(tpath.relative_to(path.parent))}
        if inline:
            entry["entropy"] = [float(v) for v in e.entropy]
            entry["correct"] = [int(v) for v in e.correct]
        else:
            npz = tdir / f"{e.name}.npz"
            np.savez(npz, entropy=e.entropy, correct=e.correct)
            entry["data"] = str(npz.relative_to(path.parent))
        entries.append(entry)
    data = {"schema_version": SCHEMA_VERSION, "efforts": entries}
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=100))
    return path
