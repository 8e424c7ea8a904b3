"""Issue 27's faster paths give the same answers: symengine's results rebuilt in one walk, the grid evaluator's
entry-major writes, the panel's palette PNG, and what `import jacmagic` and the first compile load."""

from __future__ import annotations

import io
import random
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from jacmagic import jacobian as compute
from jacmagic.budget import Budget
from jacmagic.chain.calculus import determinant, jacobian, symengine_determinant, symengine_safe, sympy_agrees
from jacmagic.chain.canonical import KEPT_AT_A_SYMBOL
from jacmagic.chain.functions import TABLE
from jacmagic.read.matrix_values import applier

from .helpers import assert_close

x, y = sp.symbols("x y", real=True)
_SAFE_MAPS = [
    [sp.csc(x) * y, sp.sec(y) ** x],  # csc's derivative brings cot, which the cell never wrote
    [sp.acos(x / 3) + sp.erf(x * y), sp.log(x**2 + 1) * sp.atanh(y / 7)],
    [sp.Rational(1, 3) * sp.pi * x + sp.Float(2.5) * y, sp.exp(x) * sp.tanh(y) - sp.asinh(x * y)],
    [sp.sin(x) ** 2 * sp.cos(y) + sp.tan(x * y), sp.sqrt(x**2 + y**2) + sp.E ** (x / 10)],
]


@pytest.mark.parametrize("outputs", _SAFE_MAPS)
def test_symengine_results_come_back_exactly_as_sympy_differentiates_on_the_cells_real_symbols(
        outputs: list[sp.Expr]) -> None:
    got = jacobian(outputs, [x, y], use_symengine=True)
    assert got == sp.Matrix(outputs).jacobian([x, y])
    assert got.free_symbols <= {x, y}  # the cell's real symbols, not symengine's assumption-free ones


def test_a_grid_jacobian_is_each_points_jacobian_and_matches_central_differences() -> None:
    result = compute("f(x, y, z) = [x**2*sin(y), 0*z + 3, exp(z/4)*y - log(x)]")
    rng = np.random.default_rng(1)
    xs, ys, zs = rng.uniform(0.5, 2, (3, 7, 5))
    grid = result.at(x=xs, y=ys, z=zs)
    assert grid.shape == (7, 5, 3, 3)
    h = 1e-6

    def f(p: np.ndarray) -> np.ndarray:
        return np.array([p[0] ** 2 * np.sin(p[1]), 3.0, np.exp(p[2] / 4) * p[1] - np.log(p[0])])
    for i, j in [(0, 0), (3, 4), (6, 2)]:
        p = np.array([xs[i, j], ys[i, j], zs[i, j]])
        numeric = np.column_stack([(f(p + h * e) - f(p - h * e)) / (2 * h) for e in np.eye(3)])
        assert_close(grid[i, j], numeric, rel=1e-6)
        assert_close(grid[i, j], result.at(x=p[0], y=p[1], z=p[2]))


def test_the_plot_panels_picture_a_move_is_a_small_palette_png_that_looks_like_the_drawing() -> None:
    from PIL import Image

    from jacmagic.views.plot import MovingPicture, default_domain

    result = compute("x = r*cos(theta)\ny = r*sin(theta)", plot=True).symbolic
    point = result.default_point()
    moving = MovingPicture(result, default_domain(result, point))
    moving.png(point)
    sent = moving.png({**point, "r": 1.3})
    drawn = np.asarray(moving._canvas.buffer_rgba())[..., :3].astype(float)
    picture = Image.open(io.BytesIO(sent))
    assert picture.mode == "P" and len(sent) < 60_000  # was 393 kB of RGB
    assert np.abs(np.asarray(picture.convert("RGB"), dtype=float) - drawn).mean() < 3  # of 255


def runs_in_a_new_process(code: str) -> None:
    """`code` passes its own assertions in a fresh interpreter: what a module loads is only seen from the start."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_import_jacmagic_loads_no_engine_and_the_first_compile_no_lazy_numpy_module() -> None:
    code = ("import sys, jacmagic; assert 'sympy' not in sys.modules, 'engine loaded at import'; "
            "r = jacmagic.jacobian('f(x, y) = [x*y, sin(x)]'); r.at(x=1.0, y=2.0); "
            "assert isinstance(r, jacmagic.JacobianResult); assert 'numpy.f2py' not in sys.modules, 'f2py'")
    runs_in_a_new_process(code)


def test_a_plain_cells_whole_computation_loads_no_array_level_reader() -> None:
    """The command line's process pays only for what a plain cell uses (issue 27): the layer and def readers,
    the operations they build and the walk over them (which the one result type had loaded for every cell, 30 ms)
    load for --chain or a def cell alone."""
    code = ("import sys, jacmagic; r = jacmagic.jacobian('f(x, y) = [x**2*y, 5*x + sin(y)]', det=True); str(r); "
            "loaded = [m for m in ('jacmagic.read.network', 'jacmagic.read.array_trace', 'jacmagic.read.trace', "
            "'jacmagic.chain.network', 'jacmagic.chain.network_walk', 'jacmagic.chain.compiled_walk', "
            "'jacmagic.points') if m in sys.modules]; assert not loaded, loaded")
    runs_in_a_new_process(code)


def test_the_command_lines_text_run_loads_no_array_operation_and_builds_no_compiled_function() -> None:
    """`python -m jacmagic CELL --det` (issue 27): the function table no longer loads the array operations
    (jacmagic.chain.operations, 8 ms to compile in a process that writes no bytecode) for its `Shown`, and the
    determinant's tidying proves simplify's form without compiling the map for sample points (11 ms)."""
    code = ("import sys, io, contextlib; from jacmagic.__main__ import main; from jacmagic.chain import evaluate\n"
            "evaluate.Evaluator.__init__ = lambda *a: sys.exit('compiled')\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert main(['f(x, y) = [x**2*y, 5*x + sin(y)]', '--det']) == 0\n"
            "assert 'jacmagic.chain.operations' not in sys.modules")
    runs_in_a_new_process(code)


def test_a_small_maps_text_imports_neither_numpy_nor_symengine() -> None:
    """The command line's text run and `str(jacobian(cell))` of a small map (issue 27): sympy differentiates it and
    writes its 2 x 2 determinant, and numpy stands behind a lazy stand-in, so neither library is imported (46 ms
    of a 350 ms process)."""
    code = ("import sys, io, contextlib; from jacmagic.__main__ import main; import jacmagic\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert main(['f(x, y) = [x**2*y, 5*x + sin(y)]', '--det']) == 0\n"
            "str(jacmagic.jacobian('f(r, t) = [r*cos(t), r*sin(t), r**2/2]'))\n"
            "loaded = [m for m in ('numpy', 'symengine') if m in sys.modules]; assert not loaded, loaded")
    runs_in_a_new_process(code)


def _random_map(rng: random.Random) -> list[sp.Expr]:
    """Sums and products of functions of monomials (the maps sympy differentiates) and of anything else."""
    leaves = [x, y, sp.Integer(2), sp.Integer(-3), sp.Rational(-5, 3), sp.pi, x**2, y**-1]
    functions = [sp.sin, sp.cos, sp.tan, sp.sec, sp.csc, sp.asin, sp.acos, sp.atan, sp.sinh, sp.cosh, sp.tanh,
                 sp.asinh, sp.atanh, sp.exp, sp.log, sp.erf]

    def monomial() -> sp.Expr:
        return sp.Mul(*(rng.choice(leaves) for _ in range(rng.randint(1, 3))))

    def grown(depth: int) -> sp.Expr:
        pick = rng.random()
        if depth == 0 or pick < 0.2:
            return monomial()
        if pick < 0.5:
            return rng.choice(functions)(monomial() if rng.random() < 0.8 else grown(depth - 1))
        return grown(depth - 1) + grown(depth - 1) if pick < 0.75 else grown(depth - 1) * grown(depth - 1)
    return [grown(3), grown(3)]


def _table_maps() -> list[list[sp.Expr]]:
    """Every entry-level function of the table on monomials and on other arguments (abs, sign, heaviside, where,
    max, min, atan2, log with a base, powers and roots among them)."""
    arguments = [x, 2 * x * y, -(x**2) / 3, x + y, sp.sin(x) * y, sp.pi / y]
    maps = []
    for name, record in TABLE.items():
        if record.whole:
            continue
        for a, b in zip(arguments, arguments[1:] + arguments[:1]):
            count = (record.arities or (2,))[0]
            value = record.formula(x > y, a, b) if name == "where" else record.formula(*(a, b)[:count])
            maps.append([value * y + x**2, 5 * x + value])
    return [*maps, [x**2 * y, 5 * x + sp.sin(y)], [x**y, sp.sqrt(x * y)], [sp.exp(x) * sp.exp(y), 2**x * 2**y]]


def test_a_small_maps_sympy_jacobian_hessians_and_determinant_are_symengines_exactly() -> None:
    """Where a small map is differentiated by sympy instead of symengine (`sympy_agrees`), its Jacobian, the
    Hessians built from it and its 2 x 2 determinant equal symengine's round trip as sympy objects (== and
    srepr): every printed form stays as it was. On ~200 table cells and ~300 generated maps."""
    rng = random.Random(0)
    maps = _table_maps() + [_random_map(rng) for _ in range(300)]
    variables = [x, y]
    taken = 0

    def same(got: sp.Basic, want: sp.Basic) -> None:
        assert got == want and sp.srepr(got) == sp.srepr(want)
    for outputs in maps:
        if not symengine_safe(outputs):
            continue
        taken += sympy_agrees(outputs)
        found = jacobian(outputs, variables)
        same(found, jacobian(outputs, variables, use_symengine=True))
        if symengine_safe(found):
            same(determinant(found, Budget(60)), symengine_determinant(found))
        for i in range(found.rows):
            gradient = list(found.row(i))
            if symengine_safe(gradient):
                same(jacobian(gradient, variables), jacobian(gradient, variables, use_symengine=True))
    assert taken > 100  # the family exercises the sympy path, not only symengine's


@pytest.mark.parametrize("names", [("numpy", "x0"), ("x0", "x1"), ("math", "self")])
@pytest.mark.parametrize("shared", [True, False])
def test_arguments_named_like_modules_or_cse_temporaries_evaluate_right_with_and_without_sharing(
        names: tuple[str, str], shared: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The printer renames the arguments _0, _1 (no expression is rebuilt): a name such as numpy or x0 cannot
    shadow a module or one of lambdify's common-subexpression lines, whether or not they are shared."""
    from jacmagic.chain import evaluate

    monkeypatch.setattr(evaluate, "_worth_sharing", lambda expressions: shared)
    a, b = sp.symbols(names, real=True)
    common = sp.sin(a * b) + 1
    evaluator = evaluate.Evaluator(sp.Matrix([[common**2, a / common], [sp.exp(b) * common, 0]]), (a, b))
    p, q = 0.7, -1.3
    c = np.sin(p * q) + 1
    assert_close(evaluator(p, q), np.array([[c**2, p / c], [np.exp(q) * c, 0.0]]))
    assert_close(evaluator(np.array([p, q]), np.array([q, p]))[1], evaluator(q, p))


def test_common_subexpressions_are_eliminated_where_entries_repeat_their_parts_and_not_where_they_do_not() -> None:
    from jacmagic.chain.evaluate import _worth_sharing

    layered = sp.tanh(x * y + 1)
    for _ in range(6):
        layered = sp.tanh(layered**2 + layered)
    assert _worth_sharing(sp.Matrix([layered]).jacobian([x, y]))
    separate = [sp.sin(s) * t**2 + sp.exp(u / 10) for s, t, u in zip(*(sp.symbols(f"{c}:9", real=True)
                                                                        for c in "abc"))]
    assert not _worth_sharing(separate)


def test_a_deep_composition_compiled_with_shared_parts_matches_central_differences() -> None:
    result = compute("h1 = tanh(x*y + 1)\nh2 = tanh(h1**2 + h1)\nh3 = tanh(h2**2 + h2)\nu = h3*x\nv = h3 + y")

    def f(p: np.ndarray) -> np.ndarray:
        h = np.tanh(p[0] * p[1] + 1)
        for _ in range(2):
            h = np.tanh(h**2 + h)
        return np.array([h * p[0], h + p[1]])
    p, e = np.array([0.3, -0.8]), 1e-6
    numeric = np.column_stack([(f(p + e * d) - f(p - e * d)) / (2 * e) for d in np.eye(2)])
    assert_close(result.at(x=p[0], y=p[1]), numeric, rel=1e-6)


def test_remembered_printing_tells_equal_looking_numbers_apart() -> None:
    """Printing is remembered per expression: sympy's equality is structural, so 2 and 2.0 (and a float at two
    precisions) stay apart, and a Python number is printed as itself."""
    from jacmagic.notation import inline, latex

    assert latex(sp.Integer(2) * x) == "2 x" and latex(sp.Float(2.0) * x) == "2.0 x"
    assert inline(sp.Integer(2)) == "2" and inline(sp.Float(2.0)) == "2.00000000000000"
    assert latex(sp.Float(1.0, 30)) == sp.latex(sp.Float(1.0, 30))


def test_the_plot_panels_moves_compile_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each move of the --plot panel once compiled the map afresh (result.map_function), 7 ms a move."""
    from jacmagic import symbolic as result_module
    from jacmagic.views.plot import MovingPicture, default_domain

    result = compute("x = r*cos(theta)\ny = r*sin(theta)", plot=True).symbolic
    point = result.default_point()
    moving = MovingPicture(result, default_domain(result, point))
    moving.png(point)
    built: list[object] = []
    original = result_module.Evaluator.__init__
    monkeypatch.setattr(result_module.Evaluator, "__init__", lambda self, *a: built.append(a) or original(self, *a))
    for r in (1.1, 1.2, 0.9):
        moving.png({**point, "r": r})
    assert built == []
    assert_close(result.map_function()(np.array(2.0), np.array(0.5)), [2 * np.cos(0.5), 2 * np.sin(0.5)])


@pytest.mark.parametrize("assumptions", [{"real": True}, {"positive": True}, {"negative": True},
                                         {"real": True, "nonzero": True}, {"integer": True}, {"zero": True}])
@pytest.mark.parametrize("function", sorted(KEPT_AT_A_SYMBOL, key=lambda f: f.__name__))
def test_a_function_of_a_lone_symbol_is_built_as_sympys_evaluation_builds_it(
        function: type[sp.Function], assumptions: dict[str, bool]) -> None:
    """sin(x) is read without asking sympy's rules (issue 27): what they would give, exactly, at every kind of
    real symbol (exp(x) of a symbol known to be 0 is 1: evaluated)."""
    x = sp.Symbol("x", **assumptions)
    for argument in (x, x / 10, -2 * x, sp.Rational(3, 7) * x, 2.5 * x, x * sp.Symbol("y")):
        assert sp.srepr(applier(function)(argument)) == sp.srepr(function(argument))
