"""The CLI starts light and says when it compiles Numba kernels (once, on an empty cache)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = ["-m", "sim", "run", "--arch", "zcu102", "--trace", "deit_s"]


def _run(args, **env):
    full = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    p = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=full,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    return p


def test_analytic_cli_run_imports_neither_pandas_nor_numba():
    code = ("import sys\n"
            f"sys.argv = ['vitsim', *{RUN[2:]!r}, '--mode', 'analytic']\n"
            "from sim.cli import main\n"
            "main()\n"
            "print(sorted(m for m in ('pandas', 'numba', 'scipy') if m in sys.modules),"
            " file=sys.stderr)")
    p = _run(["-c", code])
    assert p.stderr.strip().splitlines()[-1] == "[]"
    assert "latency" in p.stdout


def test_first_cycle_run_says_it_compiles_then_never_again(tmp_path):
    cache = str(tmp_path / "numba-cache")
    first = _run([*RUN, "--mode", "cycle"], NUMBA_CACHE_DIR=cache)
    assert "compiling vitsim's Numba kernels" in first.stderr
    assert "about 5-10 s" in first.stderr and first.stderr.count("compiling") == 1
    second = _run([*RUN, "--mode", "cycle"], NUMBA_CACHE_DIR=cache)
    assert "compiling" not in second.stderr
    assert second.stdout == first.stdout
