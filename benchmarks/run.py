"""Benchmarks: jacmagic against the same work written by hand, measured side by side in one run.

    python benchmarks/run.py [--repeats N] [--json PATH]

Each row: jacmagic's median, the reference's median measured in the same run, and their ratio (lower is better).
Timings on a shared 2-core machine are noisy: read ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import sympy as sp
from IPython.core.formatters import DisplayFormatter
from IPython.display import Math
from sympy.core.cache import clear_cache

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jacmagic import jacobian  # noqa: E402

_fresh = itertools.count()
FORMATTER = DisplayFormatter()


def mixed_map_text(n: int, prefix: str) -> tuple[str, list[str]]:
    """The issue's map: f_i = sin(x_i)*x_(i+1)**2 + exp(x_(i-1)/10) + x_i*x_(i+3) - cos(x_(i+5))*x_i, cyclic."""
    names = [f"{prefix}{i}" for i in range(n)]

    def v(i: int) -> str:
        return names[i % n]

    rows = [f"sin({v(i)})*{v(i + 1)}**2 + exp({v(i - 1)}/10) + {v(i)}*{v(i + 3)} - cos({v(i + 5)})*{v(i)}"
            for i in range(n)]
    return f"f({', '.join(names)}) = [" + ", ".join(rows) + "]", names


def jacmagic_end_to_end(n: int) -> float:
    cell, _ = mixed_map_text(n, f"a{next(_fresh)}_")
    clear_cache()
    start = time.perf_counter()
    FORMATTER.format(jacobian(cell, simplify="auto"))
    return time.perf_counter() - start


def by_hand_end_to_end(n: int) -> float:
    """What a user writes without jacmagic: symbols, the map, Matrix.jacobian, latex, display(Math(...))."""
    _, names = mixed_map_text(n, f"b{next(_fresh)}_")
    clear_cache()
    start = time.perf_counter()
    xs = sp.symbols(names, real=True)
    f = sp.Matrix([sp.sin(xs[i]) * xs[(i + 1) % n] ** 2 + sp.exp(xs[(i - 1) % n] / 10) + xs[i] * xs[(i + 3) % n]
                   - sp.cos(xs[(i + 5) % n]) * xs[i] for i in range(n)])
    FORMATTER.format(Math(sp.latex(f.jacobian(xs))))
    return time.perf_counter() - start


def dense_det_jacmagic(n: int) -> float:
    names = [f"d{next(_fresh)}_{i}" for i in range(n)]
    rows = [" + ".join(f"sin({names[j]})*{names[(i + j) % n]}" for j in range(n)) for i in range(n)]
    cell = f"f({', '.join(names)}) = [" + ", ".join(rows) + "]"
    clear_cache()
    start = time.perf_counter()
    jacobian(cell, det=True, simplify="none").latex()
    return time.perf_counter() - start


def dense_det_by_hand(n: int) -> float:
    xs = sp.symbols([f"e{next(_fresh)}_{i}" for i in range(n)], real=True)
    clear_cache()
    start = time.perf_counter()
    f = sp.Matrix([sum(sp.sin(xs[j]) * xs[(i + j) % n] for j in range(n)) for i in range(n)])
    sp.latex(f.jacobian(xs).det(method="berkowitz"))
    return time.perf_counter() - start


def import_time(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def median(measure: Callable[[], float], repeats: int) -> float:
    measure()  # warm-up: imports and first-call setup are not what we compare
    return statistics.median(measure() for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "latest.json")
    args = parser.parse_args()
    rows: list[dict[str, object]] = []

    def row(name: str, ours: float, reference: float, reference_name: str, target: str) -> None:
        rows.append({"benchmark": name, "jacmagic_ms": ours * 1e3, "reference_ms": reference * 1e3,
                     "reference": reference_name, "ratio": ours / reference, "target": target})

    for n in (2, 5, 10, 20):
        row(f"end to end {n}x{n} (parse+jacobian+latex+display)",
            median(lambda n=n: jacmagic_end_to_end(n), args.repeats),
            median(lambda n=n: by_hand_end_to_end(n), args.repeats), "Matrix.jacobian+latex+display(Math)",
            "<= 1.0 (aim 0.5) at 10x10")
    for n in (4, 6):
        row(f"dense symbolic det {n}x{n}", median(lambda n=n: dense_det_jacmagic(n), 3),
            median(lambda n=n: dense_det_by_hand(n), 3), "sympy berkowitz det + latex", "faster than by hand")
    sympy_import = statistics.median(import_time("sympy") for _ in range(3))
    ours_import = statistics.median(import_time("jacmagic") for _ in range(3))
    row("import", ours_import, sympy_import, "import sympy", "<= sympy + 0.5 s")

    width = max(len(str(r["benchmark"])) for r in rows)
    print(f"{'benchmark':<{width}}  {'jacmagic ms':>12}  {'reference ms':>12}  {'ratio':>6}  reference / target")
    for r in rows:
        print(f"{r['benchmark']:<{width}}  {r['jacmagic_ms']:>12.2f}  {r['reference_ms']:>12.2f}  "
              f"{r['ratio']:>6.2f}  {r['reference']} / {r['target']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": sys.version.split()[0], "platform": platform.platform(), "processor": platform.machine()}
    args.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
