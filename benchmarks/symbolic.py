"""Issue 27's symbolic rows ("close to the floor"): jacmagic against symengine and sympy by hand, and the costs
around them (import, the command line, the panel, R.at on a grid, the --plot panel's move).

    python benchmarks/symbolic.py [--repeats N]      (also run by run.py)

Each reference is measured in the same run; timings on a shared machine are noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import symengine as se
import sympy as sp
from IPython.display import Math
from sympy.core.cache import clear_cache

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import by_hand_end_to_end, fresh, median, mixed_map_text, shown, timed  # noqa: E402 - benchmarks/, beside this script
from sympy.printing.numpy import NumPyPrinter  # noqa: E402

from jacmagic import jacobian  # noqa: E402

Row = Callable[..., None]
CLI_CELL = "f(x, y) = [x**2*y, 5*x + sin(y)]"
# What a person writes for CLI_CELL --det with sympy: the Jacobian, its determinant simplified, printed.
HAND_SCRIPT = ("import sympy as sp\nx, y = sp.symbols('x y', real=True)\n"
               "J = sp.Matrix([x**2*y, 5*x + sp.sin(y)]).jacobian([x, y])\n"
               "sp.pprint(J)\nsp.pprint(sp.simplify(J.det()))\n")


def ours_shown(n: int, panel: bool = False) -> float:
    cell, _ = mixed_map_text(n, f"s{next(fresh)}_")
    clear_cache()
    start = time.perf_counter()
    result = jacobian(cell)
    shown(result)
    if panel:
        result.widget()  # type: ignore[union-attr]
    return time.perf_counter() - start


def symengine_by_hand(n: int) -> float:
    """symengine's symbols, Matrix.jacobian and latex, shown with display(Math(...))."""
    _, names = mixed_map_text(n, f"h{next(fresh)}_")
    start = time.perf_counter()
    xs = se.symbols(names)
    f = se.DenseMatrix([se.sin(xs[i]) * xs[(i + 1) % n] ** 2 + se.exp(xs[(i - 1) % n] / 10) + xs[i] * xs[(i + 3) % n]
                        - se.cos(xs[(i + 5) % n]) * xs[i] for i in range(n)])
    shown(Math(se.latex(f.jacobian(se.DenseMatrix(xs)))))
    return time.perf_counter() - start


# A new process as a user's machine runs it: Python caches compiled bytecode (a pip install writes it for sympy
# and the other dependencies; jacmagic's own is written by the warm-up run), which an environment setting
# PYTHONDONTWRITEBYTECODE would deny to jacmagic alone, compiling its modules from source on every start.
USER_ENVIRONMENT = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def process(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], capture_output=True, check=True, env=USER_ENVIRONMENT,
                   cwd=Path(__file__).resolve().parent.parent)
    return time.perf_counter() - start


def import_time(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                env=USER_ENVIRONMENT, cwd=Path(__file__).resolve().parent.parent).stdout)


def hand_grid_numpy(matrix: sp.MatrixBase, names: list[str]) -> Callable[..., np.ndarray]:
    """The numpy a person writes for `matrix` on arrays: every entry spelled out, the constant ones (0 here)
    as arrays of the points' shape, stacked by numpy.array into (m, n, points)."""
    printer = NumPyPrinter({"fully_qualified_modules": True})

    def entry(e: sp.Expr) -> str:
        return printer.doprint(e) if e.free_symbols else f"numpy.full({names[0]}.shape, {float(e)!r})"
    rows = ", ".join("[" + ", ".join(entry(e) for e in row) + "]" for row in matrix.tolist())
    source = f"def hand({', '.join(names)}):\n    return numpy.array([{rows}])"
    scope: dict[str, object] = {"numpy": np}
    exec(source, scope)  # noqa: S102 - our own generated benchmark reference
    return scope["hand"]  # type: ignore[return-value]


def grid_rows(row: Row, repeats: int) -> None:
    """The 10 x 10 map's Jacobian on 10^6 points: R.at against the numpy a person writes from the matrix."""
    cell, names = mixed_map_text(10, "grid_")
    result = jacobian(cell)
    hand = hand_grid_numpy(result.matrix, names)  # type: ignore[union-attr]
    points = list(np.random.default_rng(0).uniform(0.1, 2, (10, 1_000_000)))
    result.at(**{name: p[:10] for name, p in zip(names, points)})  # type: ignore[union-attr]

    def by_hand() -> np.ndarray:
        return np.moveaxis(hand(*points), (0, 1), (-2, -1))  # (10, 10, N) -> (N, 10, 10)

    row("10x10 Jacobian on a 10^6-point grid (R.at)",
        median(lambda: timed(lambda: result.at(**dict(zip(names, points))), 1), repeats),  # type: ignore[union-attr]
        median(lambda: timed(by_hand, 1), repeats), "hand numpy (NumPyPrinter entries)", "<= 1x")


def plot_move_rows(row: Row, repeats: int) -> None:
    from jacmagic.panels.widgets import JacobianPanel

    panel = JacobianPanel(jacobian("x = r*cos(theta)\ny = r*sin(theta)", plot=True).symbolic)
    variable = panel.variables["r"]
    values = itertools.cycle(np.linspace(0.6, 1.4, 9))

    def move() -> None:
        variable.value = next(values)

    move()
    times = [timed(move, 1) for _ in range(9 * repeats)]
    row("--plot panel, one move (min)", min(times), 0.020, "the 20 ms target", "<= 1 (20 ms)")
    row("--plot panel, one move (median)", float(np.median(times)), 0.020, "the 20 ms target", "<= 1 (20 ms)")
    size = len(panel.picture.value) / 1000
    row("--plot panel, PNG bytes a move", size, 60, "the 60 kB target", "<= 1 (60 kB)", unit="kB")


def symbolic_rows(row: Row, repeats: int) -> None:
    """Issue 27's symbolic rows, in the order of its table."""
    row("10x10 symbolic map, cell to displayed LaTeX", median(lambda: ours_shown(10), repeats),
        median(lambda: symengine_by_hand(10), repeats), "symengine by hand", "<= 4x")
    row("10x10 symbolic map, sympy by hand for comparison", median(lambda: by_hand_end_to_end(10), repeats),
        median(lambda: symengine_by_hand(10), repeats), "symengine by hand", "-")
    row("100x100 symbolic map, cell to displayed LaTeX", median(lambda: ours_shown(100), 3),
        median(lambda: symengine_by_hand(100), 3), "symengine by hand", "<= 3x")
    row("100x100 symbolic map with the panel", median(lambda: ours_shown(100, panel=True), 3), 0.5,
        "the 0.5 s target", "<= 1 (0.5 s)")
    grid_rows(row, 3)
    row("CLI whole process: " + CLI_CELL + " --det", median(lambda: process("-m", "jacmagic", CLI_CELL, "--det"), 3),
        median(lambda: process("-c", HAND_SCRIPT), 3), "a hand sympy script (python -c)", "<= 1x")
    row("import jacmagic", median(lambda: import_time("jacmagic"), 3), median(lambda: import_time("sympy"), 3),
        "import sympy", "<= sympy + 0.1 s")
    row("import jacmagic + first 2x2 Jacobian shown", median(lambda: process(
        "-c", f"import jacmagic; print(jacmagic.jacobian({CLI_CELL!r}))"), 3),
        median(lambda: process("-c", HAND_SCRIPT), 3), "a hand sympy script (python -c)", "-")
    plot_move_rows(row, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    def row(name: str, ours: float, reference: float, reference_name: str, target: str, unit: str = "s") -> None:
        scale = 1e3 if unit == "s" else 1.0
        unit = "ms" if unit == "s" else unit
        print(f"{name:<58} {ours * scale:>9.4g} {unit:<2} {reference * scale:>9.4g} {unit:<2} "
              f"{ours / reference:>6.2f}  {reference_name} / {target}", flush=True)

    symbolic_rows(row, args.repeats)


if __name__ == "__main__":
    main()
