"""ruff and mypy, as configured in pyproject.toml, on the package."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_ruff() -> None:
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "jacmagic", "tests", "benchmarks"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy() -> None:
    out = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def _imports(path: Path) -> set[str]:
    """The package modules `path` imports, type-only ones included; the results' display methods, which import
    their views inside the method, are the one exemption."""
    tree = ast.parse(path.read_text())
    exempt = set()
    if path.stem in ("result", "network_result"):
        exempt = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) for n in ast.walk(f)}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and id(node) not in exempt:
            found.update([node.module] if node.module else [a.name for a in node.names])
    return found


def test_no_import_circle_among_the_modules() -> None:
    graph = {p.stem: _imports(p) for p in (ROOT / "jacmagic").glob("*.py")}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        assert module not in visiting, "import circle: " + " -> ".join([*visiting[visiting.index(module):], module])
        if module in done:
            return
        visiting.append(module)
        for imported in graph.get(module, ()):
            visit(imported)
        visiting.pop()
        done.add(module)

    for module in graph:
        visit(module)


def test_the_result_loads_no_view_until_one_is_asked_for() -> None:
    out = subprocess.run([sys.executable, "-c", "import sys, jacmagic.result; print(sorted(sys.modules))"],
                         capture_output=True, text=True, check=True)
    loaded = {m for m in out.stdout.strip()[1:-1].replace("'", "").split(", ") if m.startswith("jacmagic.")}
    assert loaded.isdisjoint({"jacmagic.render", "jacmagic.widgets", "jacmagic.plot", "jacmagic.graph"}), loaded
