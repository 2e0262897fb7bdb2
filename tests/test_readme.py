"""The README runs as written: every ```python block is executed, and every ```bash block
runs command by command (``vitsim ...`` through ``sim.cli.main``) in a scratch folder --
except blocks whose previous line says ``<!-- readme: not run (<reason>) -->``, which may
hold only setup commands that CI itself runs (the venv, ``bash .ci/run``).  Figures and
layouts are ```text blocks."""

import io
import re
import shlex
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from sim.cli import main

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)
SKIP = re.compile(r"<!-- readme: not run \((?P<why>[^)]+)\) -->")
#: Repository folders a README command may name by relative path.
SHARED = ("workloads", "arch_configs", "examples")


def _blocks(lang, run=True):
    """Blocks in ``lang`` that are run (``run=True``) or marked not run (``False``)."""
    for m in BLOCK.finditer("\n" + README):
        if m.group("lang") == lang and bool(SKIP.search(m.group("before"))) != run:
            line = README[:m.start("body") - 1].count("\n") + 1
            yield pytest.param(m.group("body"), id=f"line{line}")


def _commands(body: str):
    """Logical command lines of a shell block (continuations joined, comments dropped)."""
    text = body.replace("\\\n", " ")
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            yield words


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    for name in SHARED:
        (tmp_path / name).symlink_to(REPO / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_only_setup_blocks_are_not_run():
    """A block marked not run holds no vitsim command of its own (only setup that CI
    runs); every other code block is ```python or ```bash, so it is run below."""
    for p in _blocks("bash", run=False):
        (body,) = p.values
        assert all(w[0] != "vitsim" for w in _commands(body)), p.id
    langs = {m.group("lang") for m in BLOCK.finditer("\n" + README)}
    assert langs <= {"python", "bash", "text"}, langs
    assert list(_blocks("python")) and list(_blocks("bash"))


@pytest.mark.parametrize("body", list(_blocks("python")))
def test_python_block_runs(body, scratch):
    exec(compile(body, "README.md", "exec"), {"__name__": "readme"})


@pytest.mark.parametrize("body", list(_blocks("bash")))
def test_shell_block_runs(body, scratch):
    for words in _commands(body):
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            rc = main(words[1:])
        assert rc == 0, f"{' '.join(words)}\n{err.getvalue()}"


def test_main_job_command_runs(scratch):
    """The vitsim part of the README's one-command main job (the venv part is CI's)."""
    (body,) = next(_blocks("bash", run=False)).values
    words = next(_commands(body.split("&&")[-1].replace(".venv/bin/vitsim", "vitsim")))
    assert words[:2] == ["vitsim", "run"]
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(words[1:]) == 0
    assert "deit_s" in out.getvalue() and "cycles" in out.getvalue()
