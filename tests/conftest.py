"""Shared fixtures: a seeded rng, the Agg backend, repo paths, a CLI runner."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]


def need(module: str):
    """Import an optional dependency for a test.  Without it the test is skipped on a
    developer's machine, but under CI (``CI`` set, as ``.ci/run`` does, which installs every
    extra) a missing dependency is a failure: a skip must never hide a broken install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{module} is not installed (pip install -e '.[dev,torch,dask]')")


def same_value(expected, got) -> bool:
    """A batched-evaluator cell equals simulate()'s value: strings, booleans and None
    equal, integers exact (``pd.NA`` never), floats to 1e-12 relative."""
    import math

    import pandas as pd

    if isinstance(expected, (str, bool)) or expected is None:
        return got == expected
    if isinstance(expected, int):
        return got is not pd.NA and int(got) == expected
    return math.isclose(float(got), expected, rel_tol=1e-12)


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
