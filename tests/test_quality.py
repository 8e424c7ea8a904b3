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


PACKAGE = ROOT / "jacmagic"


def _name(path: Path) -> str:
    """jacmagic/chain/operations.py -> jacmagic.chain.operations."""
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    """The package modules `path` imports, type-only ones included; the one exemption: a result's methods (its
    display methods) import their views and panels when called."""
    tree = ast.parse(path.read_text())
    in_methods = set()
    if path.stem in ("result", "symbolic"):
        in_methods = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) for n in ast.walk(f)}
    modules = {_name(p) for p in PACKAGE.rglob("*.py")}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            named = {f"{node.module}.{a.name}" for a in node.names}
            imported = (named & modules) or ({node.module} & modules)
            if id(node) in in_methods:
                imported = {m for m in imported if not m.startswith(("jacmagic.views", "jacmagic.panels"))}
            found.update(imported)
    found.discard("jacmagic")
    return found


def _graph() -> dict[str, set[str]]:
    return {_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_the_import_reader_sees_the_package() -> None:
    """Guards the two tests below against passing vacuously (as they did when imports changed form)."""
    graph = _graph()
    assert "jacmagic.views.render" in graph["jacmagic.panels.widgets"]
    assert "jacmagic.chain.operations" in graph["jacmagic.read.network"]


def test_no_engine_module_imports_a_view() -> None:
    engine = {m: i for m, i in _graph().items() if m.startswith(("jacmagic.read", "jacmagic.chain"))}
    offenders = {m: sorted(i) for m, i in engine.items()
                 if any(j.startswith(("jacmagic.views", "jacmagic.panels")) for j in i)}
    assert not offenders, offenders


def test_no_import_circle_among_the_modules() -> None:
    graph = _graph()
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
    views = {m for m in loaded if m.startswith(("jacmagic.views", "jacmagic.panels"))}
    assert not views, views


MAX_MODULE_LINES = 450


def test_no_module_is_over_450_lines() -> None:
    """A module past this length holds more than one responsibility: split it along its seams (docs/layout.md)."""
    lengths = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    offenders = {path: n for path, n in sorted(lengths.items()) if n > MAX_MODULE_LINES}
    assert not offenders, offenders
