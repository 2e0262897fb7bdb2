"""The repository stands alone: nothing in it points to a file outside it.

Outside facts are restated in ``docs/references.md`` with their public sources; code and docs
point there.  Relative markdown links and ``docs/<page>.md#anchor`` pointers must resolve to a
file (and heading) in the repository.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Where pointers may hide: prose, code, configs and workloads.
SCANNED = ("README.md", "CHANGELOG.md", "pyproject.toml", "docs", "sim", "tests", "bench",
           "examples", "arch_configs", "workloads", ".ci")
TEXT_SUFFIXES = {".md", ".py", ".yaml", ".yml", ".toml", ".json", ".txt", ".cfg", ".csv", ""}

#: Forms an outside pointer took: the shared folder, the design/style notes, the reference
#: pages (``reference/pivot.md``, ``energy_fpga.md``), and ``<page>.md §N`` section numbers
#: (our own pages are cited by ``#anchor``).  Bare ``scalesim.md``/``pivot.md`` are left
#: alone: ``docs/pivot.md`` and ``docs/scalesim.md`` are ours.
OUTSIDE = re.compile(
    r"\.\./shared|shared/(?:reference|seeds|DESIGN|STYLE)|\breference/\w+\.md"
    r"|\bDESIGN(?:\.md)?\b|\bSTYLE\.md|\bHELPERS\.md"
    r"|\b(?:energy_fpga|pomt_optin)\.md|\.md`?\s*(?:§|section\s+\d)"
    r"|\bshared reference\b|\breference page\b")

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
DOC_POINTER = re.compile(r"\b(docs/[\w./-]+\.md)#([\w-]+)")


def _files():
    for name in SCANNED:
        root = REPO / name
        paths = [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []
        for p in paths:
            if p.is_file() and p.suffix in TEXT_SUFFIXES and "__pycache__" not in p.parts \
                    and p != Path(__file__).resolve():
                yield p


def _texts():
    """``(path, text)`` of every scanned file that is UTF-8 text."""
    for p in _files():
        try:
            yield p, p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue


def outside_pointers(text: str) -> list[str]:
    """Every outside-pointer match in ``text``."""
    return [m.group(0) for m in OUTSIDE.finditer(text)]


def slug(heading: str) -> str:
    """GitHub's anchor for a markdown heading: lower case, punctuation dropped, spaces -> '-'."""
    s = unicodedata.normalize("NFKC", heading.strip()).lower()
    s = "".join(c for c in s if c.isalnum() or c in " -_")
    return s.replace(" ", "-")


def anchors(md: Path) -> set[str]:
    """The anchors GitHub gives the headings of ``md`` (duplicates get ``-1``, ``-2``...)."""
    seen: dict[str, int] = {}
    out = set()
    in_code = False
    for line in md.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = None if in_code else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(re.sub(r"`", "", m.group(1)))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def _check_target(src: Path, target: Path, anchor: str | None) -> str | None:
    target = target.resolve()
    if not target.is_relative_to(REPO):
        return f"{src.relative_to(REPO)}: {target} is outside the repository"
    if not target.exists():
        return f"{src.relative_to(REPO)}: {target.relative_to(REPO)} does not exist"
    if anchor and target.suffix == ".md" and anchor not in anchors(target):
        return f"{src.relative_to(REPO)}: no heading #{anchor} in {target.relative_to(REPO)}"
    return None


def test_no_pointer_leaves_the_repository():
    bad = []
    for p, text in _texts():
        for i, line in enumerate(text.splitlines(), 1):
            bad += [f"{p.relative_to(REPO)}:{i}: {hit}" for hit in outside_pointers(line)]
    assert not bad, "pointers outside the repository (cite docs/references.md instead):\n" \
        + "\n".join(bad)


def test_markdown_links_resolve_in_the_repository():
    pages = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
    bad = []
    for md in pages:
        for m in LINK.finditer(md.read_text(encoding="utf-8")):
            url = m.group(1)
            if re.match(r"[a-z][a-z0-9+.-]*:", url):  # http:, https:, mailto:
                continue
            path, _, anchor = url.partition("#")
            target = md.parent / path if path else md
            bad.append(_check_target(md, target, anchor or None))
    bad = [b for b in bad if b]
    assert not bad, "\n".join(bad)


def test_docs_anchor_pointers_resolve():
    """``docs/<page>.md#anchor`` in code, tests and docs names an existing heading."""
    bad = []
    for p, text in _texts():
        for m in DOC_POINTER.finditer(text):
            bad.append(_check_target(p, REPO / m.group(1), m.group(2)))
    bad = [b for b in bad if b]
    assert not bad, "\n".join(bad)


def test_code_paths_named_in_docs_exist():
    """A ``sim/...py``, ``tests/...py``, ``bench/...py`` or ``examples/...py`` named in README or
    docs exists (code moves must take their doc pointers along)."""
    code_path = re.compile(r"\b(?:sim|tests|bench|examples)/[\w/.-]*\.py\b")
    bad = []
    for md in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for i, line in enumerate(md.read_text(encoding="utf-8").splitlines(), 1):
            bad += [f"{md.relative_to(REPO)}:{i}: {m.group(0)} does not exist"
                    for m in code_path.finditer(line) if not (REPO / m.group(0)).is_file()]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("text", [
    "see `../shared/reference/energy_fpga.md`",
    "(shared/reference/scalesim.md §10)",
    "is in `reference/pivot.md`. Its §9",
    "format is described in DESIGN.md §3.7",
    "pipelines its folds (DESIGN §3.1)",
    "the fragment (pivot.md §7)",
    "(reference/scalesim.md section 10)",
    "See reference energy_fpga.md §3.",
    "Read /work/shared/STYLE.md first",
    "(see ``docs`` / shared reference)",
])
def test_outside_pointer_forms_are_caught(text):
    assert outside_pointers(text)


@pytest.mark.parametrize("text", [
    "see [references](references.md#pivot-assumptions)",
    "docs/references.md#scale-sim-deit-measurements",
    "one DRAM channel shared by all three interfaces",
    "a pure-Python reference for the address-trace kernels",
    "`sim.config.reference.config_reference()` from the metadata",
    "_STYLE = {'optin-macs': ('tab:gray', 'o', '--')}",
    "The trace format is described in `docs/traces.md`.",
    "quirks included, docs/scalesim.md; see [PIVOT](pivot.md)",
    "(§2 of this page)",
])
def test_inside_pointers_and_plain_words_pass(text):
    assert not outside_pointers(text)


@pytest.mark.parametrize("heading, anchor", [
    ("SCALE-Sim 3.0.0", "scale-sim-300"),
    ("PIVOT (DAC 2024)", "pivot-dac-2024"),
    ("POMT prune-and-merge", "pomt-prune-and-merge"),
    ("Horowitz 45 nm energies", "horowitz-45-nm-energies"),
    ("From PyTorch (`pip install -e \".[torch]\"`)", "from-pytorch-pip-install--e-torch"),
])
def test_slug_matches_github(heading, anchor):
    assert slug(heading.replace("`", "")) == anchor
