"""The package's shape: imports point down the layer order, and ``import sim`` is light."""

import ast
import subprocess
import sys
from pathlib import Path

SIM = Path(__file__).resolve().parents[1] / "sim"
#: Layers, lowest first; names on one rung are peers and may not import each other.
ORDER = [("errors",), ("config",), ("workload",), ("hw",), ("engine",), ("cost",),
         ("report",), ("api",), ("scalesim", "torch"), ("search",), ("plot",), ("cli",)]
RANK = {name: i for i, rung in enumerate(ORDER) for name in rung}
RANK["sim"] = RANK["api"]  # the package root re-exports the API
HEAVY = ("torch", "timm", "transformers", "matplotlib", "dask", "distributed")
#: Modules that may import the heavy dependencies at import time.
TORCH_SIDE = ("sim.torch.", "sim.search.optin_importance")  # the latter: a 0.1 path shim


def _layer(path: Path) -> str | None:
    rel = path.relative_to(SIM)
    if len(rel.parts) == 1:
        return None if rel.stem in ("__init__", "__main__") else rel.stem
    return None if rel.parts[0] == "_data" else rel.parts[0]


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"line {node.lineno}: relative import"
            yield node.lineno, node.module


def upward_imports():
    """``file:line (layer) imports module`` for every import that points up or sideways."""
    bad = []
    for path in sorted(SIM.rglob("*.py")):
        here = _layer(path)
        if here is None:
            continue
        assert here in RANK, f"{path}: layer {here!r} is not in the layer order"
        for line, module in _imports(ast.parse(path.read_text())):
            parts = module.split(".")
            if parts[0] != "sim":
                continue
            there = parts[1] if len(parts) > 1 else "sim"
            if there == "_data" or there == here:
                continue
            if RANK[there] >= RANK[here]:
                bad.append(f"{path.relative_to(SIM.parent)}:{line} ({here}) imports {module}")
    return bad


def test_every_import_points_down_the_layer_order():
    assert upward_imports() == []


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
    fake = tmp_path / "sim"
    (fake / "config").mkdir(parents=True)
    (fake / "config" / "x.py").write_text("def f():\n    from sim.cost import price\n")
    monkeypatch.setattr(sys.modules[__name__], "SIM", fake)
    assert upward_imports() == ["sim/config/x.py:2 (config) imports sim.cost"]


def test_import_sim_is_light():
    """``import sim`` and every module outside ``sim.torch`` -- search, plot and the CLI
    parser included -- import none of the heavy optional dependencies (they load them in
    the functions that need them)."""
    code = ("import sys, importlib, pkgutil, sim, sim.cli\n"
            "sim.cli.build_parser()\n"
            "for m in pkgutil.walk_packages(sim.__path__, 'sim.'):\n"
            f"    if not m.name.startswith({TORCH_SIDE!r}) and m.name != 'sim.__main__':\n"
            "        importlib.import_module(m.name)\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_analytic_run_never_loads_numba():
    code = ("import sys, sim\n"
            "sim.simulate('zcu102', 'deit_s', mode='analytic')\n"
            "print('numba' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_platform_and_table_names_agree_with_their_data():
    from sim.config.schema import AUTO_ENERGY_TABLE, ENERGY_TABLES, FPGA_PLATFORMS, PLATFORMS
    from sim.cost import list_tables
    from sim.hw.fpga import DEVICES

    assert set(FPGA_PLATFORMS) == set(DEVICES)
    assert set(ENERGY_TABLES) - {"auto"} == set(list_tables())
    assert set(AUTO_ENERGY_TABLE) == set(PLATFORMS)
    assert set(AUTO_ENERGY_TABLE.values()) <= set(list_tables())


def test_dataflow_codes_are_the_schema_order():
    from sim.config.schema import DATAFLOW_NAMES
    from sim.hw.dataflow import DATAFLOWS

    assert [(name, d.code) for name, d in DATAFLOWS.items()] == [
        (name, i) for i, name in enumerate(DATAFLOW_NAMES)]


def test_one_version():
    import re

    import sim

    text = (SIM.parent / "pyproject.toml").read_text()
    assert re.search(r'^version = "([^"]+)"$', text, re.M).group(1) == sim.__version__
