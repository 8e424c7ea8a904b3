"""Benchmarks: jacmagic against the same work written by hand, measured side by side in one run.

    python benchmarks/run.py [--repeats N] [--json PATH] [--only GROUP,...] [--table PAGE]

Each row: jacmagic's median, the reference's median measured in the same run, and their ratio (lower is better).
Timings on a shared 2-core machine are noisy: read ratios, not absolute numbers. The promises that CI only checks
with ten times an idle run's headroom (Ctrl-C answered within 2 s, a budget's fallback) are rows here
(interrupts.py).
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

import numpy as np
import sympy as sp
from IPython.display import Math
from sympy.core.cache import clear_cache
from sympy.printing.numpy import NumPyPrinter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arrays import array_rows, classifier, hand_backprop  # noqa: E402 - benchmarks/, beside this script
from common import (  # noqa: E402
    SHELL,
    by_hand_end_to_end,
    fresh,
    median,
    mixed_map_text,
    shown,
    timed,
)
from interrupts import budget_rows, interrupt_rows  # noqa: E402
from table import markdown, rewrite  # noqa: E402

from jacmagic import jacobian  # noqa: E402
from jacmagic.chain.evaluate import Evaluator  # noqa: E402


def jacmagic_end_to_end(n: int) -> float:
    cell, _ = mixed_map_text(n, f"a{next(fresh)}_")
    clear_cache()
    start = time.perf_counter()
    shown(jacobian(cell, simplify="auto"))
    return time.perf_counter() - start


def jacmagic_end_to_end_with_panel(n: int) -> float:
    cell, _ = mixed_map_text(n, f"p{next(fresh)}_")
    clear_cache()
    start = time.perf_counter()
    result = jacobian(cell, simplify="auto")
    shown(result)
    result.widget()
    return time.perf_counter() - start



def dense_det_jacmagic(n: int) -> float:
    names = [f"d{next(fresh)}_{i}" for i in range(n)]
    rows = [" + ".join(f"sin({names[j]})*{names[(i + j) % n]}" for j in range(n)) for i in range(n)]
    cell = f"f({', '.join(names)}) = [" + ", ".join(rows) + "]"
    clear_cache()
    start = time.perf_counter()
    jacobian(cell, det=True, simplify="none").latex()
    return time.perf_counter() - start


def dense_det_by_hand(n: int) -> float:
    xs = sp.symbols([f"e{next(fresh)}_{i}" for i in range(n)], real=True)
    clear_cache()
    start = time.perf_counter()
    f = sp.Matrix([sum(sp.sin(xs[j]) * xs[(i + j) % n] for j in range(n)) for i in range(n)])
    sp.latex(f.jacobian(xs).det(method="berkowitz"))
    return time.perf_counter() - start


def hand_numpy(matrix: sp.MatrixBase, names: list[str]) -> Callable[..., np.ndarray]:
    """The numpy function a person would write for `matrix`: every entry spelled out, no common subexpressions."""
    printer = NumPyPrinter({"fully_qualified_modules": True})
    rows = ", ".join("[" + ", ".join(printer.doprint(e) for e in row) + "]" for row in matrix.tolist())
    source = f"def hand({', '.join(names)}):\n    return numpy.array([{rows}])"
    scope: dict[str, object] = {"numpy": np}
    exec(source, scope)  # noqa: S102 - our own generated benchmark reference
    return scope["hand"]  # type: ignore[return-value]



def widget_rows(row: Callable[..., None], repeats: int) -> None:
    import ipywidgets as widgets

    polar = jacobian("x = r*cos(theta)\ny = r*sin(theta)").symbolic  # the evaluator is the entry-level view's
    polar_hand = hand_numpy(polar.matrix, ["r", "theta"])
    cell, names = mixed_map_text(10, "m_")
    big = jacobian(cell).symbolic
    big_hand = hand_numpy(big.matrix, names)
    point = [0.1 * (k + 1) for k in range(10)]
    polar.evaluator(1.0, 0.5)
    big.evaluator(*point)
    row("evaluate 2x2 at one point", median(lambda: timed(lambda: polar.evaluator.point(1.3, 0.4), 2000), repeats),
        median(lambda: timed(lambda: polar_hand(1.3, 0.4), 2000), repeats), "hand numpy function", "<= 2x")
    row("evaluate 10x10 at one point", median(lambda: timed(lambda: big.evaluator.point(*point), 1000), repeats),
        median(lambda: timed(lambda: big_hand(*point), 1000), repeats), "hand numpy function", "<= 1x")
    grid_r, grid_t = np.random.default_rng(0).uniform(0.1, 2, (2, 1_000_000))

    def hand_grid() -> np.ndarray:
        c, s = np.cos(grid_t), np.sin(grid_t)
        return np.stack([np.stack([c, -grid_r * s], -1), np.stack([s, grid_r * c], -1)], -2)

    row("2x2 on a 10^6-point grid", median(lambda: timed(lambda: polar.evaluator(grid_r, grid_t), 1), repeats),
        median(lambda: timed(hand_grid, 1), repeats), "hand numpy on arrays", "<= 2x")
    panel = big.widget()
    variable = panel.variables[names[0]]
    values = iter(np.linspace(0.1, 0.9, 10**6))
    output = widgets.HTML()
    slider = widgets.FloatSlider(min=0, max=1)

    def hand_update(change: object) -> None:
        rows = big_hand(slider.value, *point[1:]).tolist()
        output.value = "<table>" + "".join("<tr>" + "".join(f"<td>{v:.4g}</td>" for v in r) + "</tr>"
                                           for r in rows) + "</table>"

    slider.observe(hand_update, names="value")

    def ours() -> None:
        variable.box.value = next(values)

    def theirs() -> None:
        slider.value = next(values)

    row("panel update 10x10 (evaluate+format+set)", median(lambda: timed(ours, 300), repeats),
        median(lambda: timed(theirs, 300), repeats), "slider observer + hand numpy + HTML", "<= 2x, <= 0.2 ms")
    build = median(lambda: timed(lambda: Evaluator(big.matrix, big.symbolic.arguments), 1), repeats)
    row("build the evaluator of a 10x10 map", build, 0.020, "the 20 ms target", "<= 1 (20 ms)")


def chain_cell(stages: int) -> str:
    """A chain of 3 -> 3 maps, each mixing trig, tanh and exp, as --chain function stages."""
    lines = [f"f{k}(a{k}, b{k}, c{k}) = [sin(a{k})*b{k} + c{k}, tanh(b{k} + c{k}), a{k}*c{k} - exp(b{k}/10)]"
             for k in range(stages)]
    return "\n".join(lines)


def chain_rows(row: Callable[..., None], repeats: int) -> None:
    cell = chain_cell(10)

    def static() -> float:
        clear_cache()
        start = time.perf_counter()
        shown(jacobian(cell, chain=True))
        return time.perf_counter() - start

    def with_panel() -> float:
        clear_cache()
        start = time.perf_counter()
        result = jacobian(cell, chain=True)
        shown(result)
        result.widget()
        return time.perf_counter() - start

    row("10-stage 3->3 chain, static render", median(static, 3), 2.0, "the 2 s target", "<= 1 (2 s)")
    row("10-stage 3->3 chain, with the walkthrough panel", median(with_panel, 3), 2.0, "the 2 s target",
        "<= 1 (2 s)")
    panel = jacobian(cell, chain=True).widget()
    positions = itertools.cycle(range(panel.position.min, panel.position.max + 1))
    values = itertools.cycle(np.linspace(0.1, 0.9, 7))
    variable = next(iter(panel.controls.values()))

    def step() -> None:
        panel.position.value = next(positions)

    def move() -> None:
        variable.value = next(values)

    row("walkthrough panel: one step", median(lambda: timed(step, 20), repeats), 0.050, "the 50 ms target",
        "<= 1 (50 ms)")
    row("walkthrough panel: move a point control", median(lambda: timed(move, 20), repeats), 0.050,
        "the 50 ms target", "<= 1 (50 ms)")
    staged = jacobian("x: 784\nh = tanh(x)\nf = h*h + x")  # too large written out: numbered stage by stage
    point = np.random.default_rng(0).random(784) + 0.5

    def by_hand() -> np.ndarray:
        return np.diag(2 * np.tanh(point) / np.cosh(point) ** 2 + 1)

    row("x: 784, two element-wise stages, R.at", median(lambda: timed(lambda: staged.at(x=point), 3), repeats),
        median(lambda: timed(by_hand, 3), repeats), "hand-written numpy diagonal", "reported (was 0.7 s a call)")


def big_rows(row: Callable[..., None]) -> None:
    """Big inputs: jacmagic cuts before printing; by hand, sympy prints everything."""
    def layer_ours() -> float:
        clear_cache()
        start = time.perf_counter()
        shown(jacobian("W: 16x16\nx: 16\nz = tanh(W @ x)", wrt="W"))
        return time.perf_counter() - start

    def layer_by_hand() -> float:
        k = next(fresh)
        weights = sp.Matrix(16, 16, lambda i, j: sp.Symbol(f"h{k}_{i}_{j}", real=True))
        x = sp.Matrix(16, 1, lambda i, j: sp.Symbol(f"g{k}_{i}", real=True))
        clear_cache()
        start = time.perf_counter()
        shown(Math(sp.latex((weights * x).applyfunc(sp.tanh).jacobian(list(weights)))))
        return time.perf_counter() - start

    def laplacian() -> float:
        n = 100
        names = [f"q{next(fresh)}_{i}" for i in range(n)]
        rows = [f"{names[i - 1]} - 2*{names[i]} + {names[(i + 1) % n]} + {names[i]}**3" for i in range(n)]
        clear_cache()
        start = time.perf_counter()
        shown(jacobian(f"f({', '.join(names)}) = [" + ", ".join(rows) + "]"))
        return time.perf_counter() - start

    row("16x256 Jacobian of a tanh layer, shown", median(layer_ours, 3), median(layer_by_hand, 1),
        "sympy jacobian+latex+display(Math) of all of it", "cut before printing")
    row("100x100 sparse map (Laplacian + cubic), shown", median(laplacian, 3), 2.0, "the 2 s target",
        "<= 1 (2 s)")


def displayed_bytes(shown_items: list[object]) -> int:
    return sum(len(v) for item in shown_items if isinstance(item, dict) for v in item.values())


def classifier_rows(row: Callable[..., None], repeats: int) -> None:
    """The real-networks issue's budgets: the walkthrough of a softmax classifier at two sizes."""
    classifier_size_rows(row, repeats, (64, 32, 10), 1.0, 100)
    classifier_size_rows(row, repeats, (784, 128, 10), 5.0, 200)


def classifier_size_rows(row: Callable[..., None], repeats: int, sizes: tuple[int, int, int], static_target: float,
                         size_target: int) -> None:
    cell, point = classifier(*sizes)
    label = "->".join(map(str, sizes))

    def made() -> object:
        return jacobian(cell, chain=True, wrt="W1,b1,W2,b2", at=point)

    def static() -> float:
        start = time.perf_counter()
        shown(made())
        return time.perf_counter() - start

    row(f"{label} classifier walkthrough, static", median(static, 3), static_target, f"the {static_target:g} s target",
        f"<= 1 ({static_target:g} s)")
    result = made()
    size = displayed_bytes(result.displays) / 1000  # type: ignore[attr-defined]
    row(f"{label} classifier: all displayed output", size, size_target, f"the {size_target} kB target",
        f"<= 1 ({size_target} kB)", unit="kB")
    row(f"{label} classifier gradient at a point",
        median(lambda: timed(lambda: result.gradient(**point), 5), repeats),  # type: ignore[attr-defined]
        median(lambda: timed(lambda: hand_backprop(point), 5), repeats), "hand-written numpy backprop",
        "<= 1 ms (small nets: Python bookkeeping), <= 10x at MNIST size")
    if sizes[0] != 64:
        return

    def with_panel() -> float:
        start = time.perf_counter()
        fresh = made()
        shown(fresh)
        fresh.widget()  # type: ignore[attr-defined]
        return time.perf_counter() - start

    row(f"{label} classifier walkthrough, with the panel", median(with_panel, 3), 2.0, "the 2 s target",
        "<= 1 (2 s)")
    panel = result.widget()  # type: ignore[attr-defined]
    positions = itertools.cycle(range(panel.position.min, panel.position.max + 1))

    def step() -> None:
        panel.position.value = next(positions)

    row(f"{label} classifier panel: one step", median(lambda: timed(step, 10), repeats), 0.050, "the 50 ms target",
        "<= 1 (50 ms)")


POLAR_CELL = "x = r*cos(theta)\ny = r*sin(theta)"


def plot_rows(row: Callable[..., None]) -> None:
    from jacmagic.views.plot import png

    polar = jacobian("x = r*cos(theta)\ny = r*sin(theta)", at={"r": 1.0, "theta": 0.7})
    png(polar.plot())  # warm-up: matplotlib's first figure loads fonts

    def picture() -> float:
        start = time.perf_counter()
        png(polar.plot(domain={"r": (0.2, 2.0), "theta": (0.0, 6.283)}))
        return time.perf_counter() - start

    row("--plot: 200x200 change-of-variables picture to PNG", median(picture, 3), 1.0, "the 1 s target",
        "<= 1 (1 s)")
    from jacmagic.panels.widgets import JacobianPanel

    for cell, name, label in ((POLAR_CELL, "r", "change of variables"), ("f(x, y) = x**2 - y**2", "x", "contours")):
        panel = JacobianPanel(jacobian(cell, plot=True).symbolic)
        variable = panel.variables[name]
        values = itertools.cycle(np.linspace(0.6, 1.4, 9))

        def move(variable: object = variable, values: object = values) -> None:
            variable.value = next(values)  # type: ignore[attr-defined, call-overload]

        row(f"--plot panel ({label}): move a control, picture and numbers", median(lambda: timed(move, 9), 3),
            0.050, "the 50 ms target", "<= 1 (50 ms)")


def import_time(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)



def end_to_end_rows(row: Callable[..., None], repeats: int) -> None:
    for n in (2, 5, 10, 20, 50):
        row(f"end to end {n}x{n} (parse+jacobian+latex+display)",
            median(lambda n=n: jacmagic_end_to_end(n), repeats),
            median(lambda n=n: by_hand_end_to_end(n), repeats), "Matrix.jacobian+latex+display(Math)",
            "<= 1.0 (aim 0.5) at 10x10")
    row("end to end 10x10 with the panel attached", median(lambda: jacmagic_end_to_end_with_panel(10), repeats),
        median(lambda: by_hand_end_to_end(10), repeats), "Matrix.jacobian+latex+display(Math)", "<= 2x")


def det_rows(row: Callable[..., None]) -> None:
    for n in (4, 6):
        row(f"dense symbolic det {n}x{n}", median(lambda n=n: dense_det_jacmagic(n), 3),
            median(lambda n=n: dense_det_by_hand(n), 3), "sympy berkowitz det + latex", "faster than by hand")


def symbolic_rows(row: Callable[..., None], repeats: int) -> None:
    """Issue 27's symbolic rows (benchmarks/symbolic.py reads this module's helpers, so it is imported here)."""
    from symbolic import symbolic_rows as rows

    rows(row, repeats)


def import_rows(row: Callable[..., None]) -> None:
    sympy_import = statistics.median(import_time("sympy") for _ in range(3))
    ours_import = statistics.median(import_time("jacmagic") for _ in range(3))
    row("import", ours_import, sympy_import, "import sympy", "<= sympy + 0.5 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "latest.json")
    parser.add_argument("--only", help="comma-separated groups to run (all by default), e.g. --only arrays,classifier")
    parser.add_argument("--table", type=Path, help="also write the rows as a table into this page's speed-table "
                        "section, e.g. benchmarks/README.md")
    args = parser.parse_args()
    rows: list[dict[str, object]] = []

    def row(name: str, ours: float, reference: float, reference_name: str, target: str, unit: str = "s") -> None:
        scale = 1e3 if unit == "s" else 1.0  # times in ms; sizes as they are
        rows.append({"benchmark": name, "jacmagic_ms": ours * scale, "reference_ms": reference * scale,
                     "unit": "ms" if unit == "s" else unit, "reference": reference_name, "ratio": ours / reference,
                     "target": target})

    groups: dict[str, Callable[[], None]] = {
        "end-to-end": lambda: end_to_end_rows(row, args.repeats),
        "big": lambda: big_rows(row),
        "det": lambda: det_rows(row),
        "widgets": lambda: widget_rows(row, args.repeats),
        "chain": lambda: chain_rows(row, args.repeats),
        "classifier": lambda: classifier_rows(row, args.repeats),
        "arrays": lambda: array_rows(row, args.repeats, SHELL),
        "plot": lambda: plot_rows(row),
        "interrupts": lambda: interrupt_rows(row, args.repeats),
        "budget": lambda: budget_rows(row, args.repeats),
        "import": lambda: import_rows(row),
        "symbolic": lambda: symbolic_rows(row, args.repeats),
    }
    chosen = args.only.split(",") if args.only else list(groups)
    unknown = [name for name in chosen if name not in groups]
    if unknown:
        parser.error(f"--only: no group {', '.join(unknown)}; the groups are {', '.join(groups)}")
    for name in chosen:
        groups[name]()

    width = max(len(str(r["benchmark"])) for r in rows)
    print(f"{'benchmark':<{width}}  {'jacmagic':>12}  {'reference':>12}  {'ratio':>6}  reference / target")
    for r in rows:
        print(f"{r['benchmark']:<{width}}  {r['jacmagic_ms']:>9.4g} {r['unit']:<2}  {r['reference_ms']:>9.4g} "
              f"{r['unit']:<2}  {r['ratio']:>6.2f}  {r['reference']} / {r['target']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": sys.version.split()[0], "platform": platform.platform(), "processor": platform.machine()}
    args.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
    print(f"\nwritten to {args.json}")
    if args.table:
        rewrite(args.table, markdown(rows, machine, time.strftime("%Y-%m-%d")))
        print(f"table written into {args.table}")


if __name__ == "__main__":
    main()
