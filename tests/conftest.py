"""Shared fixtures: a seeded rng, the Agg backend, repo paths, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def run_cli(*args, cwd=REPO, check_rc=None):
    """Run ``python -m sim ARGS`` in a subprocess; return CompletedProcess (text)."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "sim", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr + proc.stdout
    return proc


@pytest.fixture
def cli():
    return run_cli
