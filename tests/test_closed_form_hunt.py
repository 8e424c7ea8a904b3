"""A correctness hunt of the closed forms: `R.formula(name)` of inputs and lines, and the code `R.code()` prints, at
random points against central differences of the same loss written in numpy here (`closed_form_cells`), for named
reproducers of what was found wrong and for random cells over the array grammar; each LaTeX form balanced, each
product shown conformable, each formula in its variable's shape."""

# ruff: noqa: N803 - the loss functions take the cells' array names (A, W, X)

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.chain import closed_form_tree as t
from jacmagic.chain.closed_form import closed_forms, gradient_source
from jacmagic.chain.functions import FUNCTIONS
from jacmagic.errors import JacmagicError
from jacmagic.read.network import read_network
from jacmagic.result import JacobianResult

from .closed_form_cells import Cell, random_cell, random_point
from .helpers import assert_close

Point = dict[str, np.ndarray]


def central(loss: Callable[[Point], float], point: Point, name: str, h: float = 1e-6) -> np.ndarray:
    """∂loss/∂point[name] by central differences, in the array's shape."""
    value = point[name]
    found = np.zeros(value.size)
    for k in range(value.size):
        step = np.zeros(value.size)
        step[k] = h
        ends = [loss({**point, name: value + sign * step.reshape(value.shape)}) for sign in (1, -1)]
        found[k] = (ends[0] - ends[1]) / (2 * h)
    return found.reshape(value.shape)


def run_code(result: JacobianResult, point: Point) -> dict[str, np.ndarray]:
    scope: dict[str, Any] = {}
    exec(result.code(), scope)  # noqa: S102 - the test runs the code the result wrote
    return scope["gradient"](**point)  # type: ignore[no-any-return]


def _result(cell: str) -> JacobianResult:
    result = jacobian(cell, chain=True)
    assert isinstance(result, JacobianResult)
    return result


def _code_agrees(cell: str, loss: Callable[..., float], seed: int = 0) -> None:
    """The printed code's gradients, and each formula's, equal central differences of `loss` at a random point."""
    result = _result(cell)
    rng = np.random.default_rng(seed)
    point = {name: rng.uniform(0.2, 0.9, result.network.shape_of(name)) for name in result.wrt}
    found = run_code(result, point)
    values = {**point, **result.network.forward(point)[0]}
    for name in result.wrt:
        want = central(lambda p: loss(**p), point, name)
        assert_close(found[name], want, rel=1e-6)
        assert_close(result.formula(name).evaluate(values), want, rel=1e-6)


def _erf(z: np.ndarray) -> np.ndarray:
    from math import erf

    return np.vectorize(erf)(z)


# Each element-wise function in numpy, written here (acosh of z + 1: real from 1 on).
ELEMENTWISE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tan": np.tan, "sec": lambda z: 1 / np.cos(z), "csc": lambda z: 1 / np.sin(z), "cot": lambda z: 1 / np.tan(z),
    "asin": np.arcsin, "arcsin": np.arcsin, "acos": np.arccos, "arccos": np.arccos, "atanh": np.arctanh,
    "arctanh": np.arctanh, "asinh": np.arcsinh, "arcsinh": np.arcsinh, "acosh": lambda z: np.arccosh(z + 1),
    "arccosh": lambda z: np.arccosh(z + 1), "cbrt": np.cbrt, "erf": _erf, "log2": np.log2, "log10": np.log10,
    "log": np.log, "ln": np.log, "exp": np.exp, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
    "sinh": np.sinh, "cosh": np.cosh, "atan": np.arctan, "arctan": np.arctan, "abs": np.abs, "Abs": np.abs,
    "relu": lambda z: np.maximum(z, 0), "softplus": lambda z: np.log1p(np.exp(z)),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "gelu": lambda z: 0.5 * z * (1 + _erf(z / np.sqrt(2)))}


# -- named reproducers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(set(FUNCTIONS) - {"sign", "heaviside", "step"}))
def test_the_printed_code_knows_every_elementwise_function(name: str) -> None:
    """tan, asin, erf, cbrt, log2, ... had a formula but no numpy source: R.code() raised KeyError."""
    numpy = ELEMENTWISE[name]
    shifted = " + 1" if name in ("acosh", "arccosh") else ""  # acosh is real from 1 on
    _code_agrees(f"W: 2x3\nx: 3\nL = sum({name}(W @ x / 4{shifted}) * (W @ x))",
                 lambda W, x: float(np.sum(numpy(W @ x / 4) * (W @ x))))


def test_the_printed_code_of_a_reduction_along_an_axis_of_an_array_named_a() -> None:
    """sum(A, axis=0) was printed np.sum(0, axis=0, ...): the axis replaced every letter A of the operand."""
    _code_agrees("A: 3x4\nL = sum(sum(A, axis=0)**2) + sum(max(A * 2, axis=1))",
                 lambda A: float(np.sum(A.sum(axis=0) ** 2) + np.sum((A * 2).max(axis=1))))


@pytest.mark.parametrize(("number", "by_hand"), [
    ("sum(x)", lambda x: np.sum(x)), ("mean(x)", lambda x: np.mean(x)), ("norm(x)", lambda x: np.linalg.norm(x)),
    ("logsumexp(x)", lambda x: np.log(np.sum(np.exp(x)))), ("x[1]", lambda x: x[1, 0]),
    ("max(x)", lambda x: np.max(x))], ids=["sum", "mean", "norm", "logsumexp", "entry", "max"])
def test_the_printed_code_keeps_a_number_a_1x1_array_for_a_product(number: str, by_hand: Callable[..., Any]) -> None:
    """A number (1 x 1) times a row, c @ bᵀ: numpy's 0-d np.sum(...) in the printed code made `@` raise."""
    _code_agrees(f"x: 3\nb: 3\nc = {number}\nL = sum((c @ b.T) ** 2)",
                 lambda x, b: float(np.sum((by_hand(x) * b.T) ** 2)))


def test_the_printed_code_keeps_a_matrix_functions_number_a_1x1_array() -> None:
    """tr(A) and det(A) as numbers of the printed code: 1 x 1, so that tr(A) @ bᵀ runs."""
    _code_agrees("A: 2x2\nb: 3\nc = tr(A) * det(A)\nL = sum((c @ b.T) ** 2)",
                 lambda A, b: float(np.sum((np.trace(A) * np.linalg.det(A) * b.T) ** 2)))


def test_the_printed_code_multiplies_by_a_number_written_in_a_matrix_product() -> None:
    """x @ 0.5 and 2 @ xᵀ: a number in a product was printed `x @ 0.5`, which numpy refuses for a float."""
    _code_agrees("x: 3\nu = x @ 0.5\nL = sum((2 @ u.T) ** 2)", lambda x: float(np.sum((2 * 0.5 * x) ** 2)))


def test_a_variable_only_in_a_condition_has_a_zero_gradient_in_its_own_shape() -> None:
    """b only chooses (where(b > 0, ...)): ∂L/∂b was the number 0, 1 x 1, for a 3-vector b, and the printed code
    raised reshaping it; its Hessian 0 was 1 x 1 too, not 3 x 3."""
    result = _result("x: 3\nb: 3\nL = sum(where(b > 0, x, 2 * x) * x)")
    point = {"x": np.array([[0.5], [1.0], [-0.3]]), "b": np.array([[1.0], [-1.0], [2.0]])}
    values = {**point, **result.network.forward(point)[0]}
    loss = lambda p: float(np.sum(np.where(p["b"] > 0, p["x"], 2 * p["x"]) * p["x"]))  # noqa: E731
    for name in ("x", "b"):
        want = central(loss, point, name)
        assert_close(result.formula(name).evaluate(values), want)
        assert_close(run_code(result, point)[name], want)
    assert result.formula("b").text == "∂L/∂b = 𝟎"
    hessian = result.hessian_formula("b").tree
    assert_close(hessian.evaluate(values), np.zeros((3, 3)))



def test_an_entry_of_a_named_line_is_no_double_subscript() -> None:
    """h₁[1] was h_{1}_{[1]} in LaTeX, a double subscript LaTeX refuses."""
    result = _result("W1: 2x3\nx1: 3\nh1 = W1 @ x1\nL = h1[1] * W1[0, 2] + sum(h1)")
    for name in ("W1", "x1", "h1"):
        latex = result.formula(name).latex
        assert _balanced(latex) and not _double_script(latex), latex
    assert _double_script("h_{1}_{[1]}") and _double_script("x^{T}^{2}") and not _double_script("x_{1}^{T}")


# -- random cells over the array grammar ----------------------------------------------------------------------------

def _balanced(latex: str) -> bool:
    """Braces and \\left/\\right paired."""
    depth = 0
    for char in latex.replace(r"\{", "").replace(r"\}", ""):
        depth += (char == "{") - (char == "}")
        if depth < 0:
            return False
    return depth == 0 and latex.count(r"\left") == latex.count(r"\right")


def _double_script(latex: str) -> bool:
    """A subscript straight after a subscript (h_{1}_{[1]}), or a superscript after one: LaTeX refuses both."""
    text, k = latex.replace(r"\{", "").replace(r"\}", ""), 0
    while k < len(text):
        if text[k] not in "_^":
            k += 1
            continue
        script, k, depth = text[k], k + 1, 0
        while k < len(text):  # past the script: one character or a braced group
            depth += (text[k] == "{") - (text[k] == "}")
            k += 1
            if depth == 0:
                break
        if text[k:k + 1] == script:
            return True
    return False


def _products_conform(expr: t.Expr) -> bool:
    if isinstance(expr, t.MatProduct) and expr.left.shape[1] != expr.right.shape[0]:
        return False
    return all(_products_conform(child) for child in t.children(expr))


def _smooth(loss: Callable[[Point], float], point: Point, name: str, h: float = 1e-5) -> bool:
    """Do the one-sided differences agree at `point`? Not at a kink or a tie (max of equal entries, ‖0‖), where
    there is no derivative for central differences to approach."""
    at, value = loss(point), point[name]
    for k in range(value.size):
        step = np.zeros(value.size)
        step[k] = h
        ahead, behind = (loss({**point, name: value + sign * step.reshape(value.shape)}) for sign in (1, -1))
        if not np.isclose((ahead - at) / h, (at - behind) / h, rtol=1e-3, atol=1e-3):
            return False
    return True


def _cell_agrees(cell: Cell, seed: int) -> None:
    """Each input's and line's formula, and the printed code, at a random point against central differences of the
    cell's loss in numpy; each formula in its variable's shape, balanced LaTeX and conformable products. The cell is
    read as R.formula and R.code read it (the network, without the entry-level Jacobian: seconds of sympy)."""
    try:
        network = read_network(cell.text)
    except JacmagicError:
        return  # a shape the grammar refuses (a kernel larger than its image): no cell
    point = random_point(cell, np.random.default_rng(seed))
    lines = [name for name, *_ in cell.lines]
    values = cell.values(point)
    scope: dict[str, Any] = {}
    exec(gradient_source(network, network.inputs), scope)  # noqa: S102 - the test runs the code printed
    printed = scope["gradient"](**point)
    for name in [*network.inputs, *lines[:-1]]:
        start = lines.index(name) + 1 if name in values else 0
        at = {**point, **{n: values[n] for n in lines[:start]}}
        loss = lambda p, start=start: cell.loss(p, start)  # noqa: E731
        formula = closed_forms(network, (name,), assume=False)[name]
        assert _balanced(formula.latex) and not _double_script(formula.latex), formula.latex
        assert _products_conform(formula.tree), formula.text
        assert formula.tree.shape == network.shape_of(name), formula.text
        with np.errstate(all="ignore"):
            got = formula.evaluate({**point, **values})
        if np.isnan(got).any() or not _smooth(loss, at, name):
            continue  # undefined at a tie or a kink (test_closed_form_axes: exactly where the walk is)
        want = central(loss, at, name)
        assert_close(got, want, rel=1e-4)
        if name in printed and not np.isnan(printed[name]).any():  # nan: a tie upstream, 0 flowing there or not
            assert_close(printed[name], want, rel=1e-4)


@pytest.mark.parametrize("seed", range(120))
def test_random_cells_formulas_and_code_equal_central_differences(seed: int) -> None:
    _cell_agrees(random_cell(seed, lines=2 + seed % 2, depth=1 + seed % 3), seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1000, 1600))  # 600 cells, about 50 s: the fast 120 widened
def test_many_random_cells_formulas_and_code_equal_central_differences(seed: int) -> None:
    _cell_agrees(random_cell(seed, lines=2 + seed % 2, depth=1 + seed % 3), seed)


@pytest.mark.parametrize("name", sorted(set(FUNCTIONS) - {"sign", "heaviside", "step", "leaky_relu"}))
def test_a_compound_derivative_under_a_transpose_is_bracketed(name: str) -> None:
    """erf′(u)ᵀ was 2/√π e^{−u²}^{T}: the transpose a second superscript on the exponential, and tan′, asin′, log2′,
    ... unbracketed, as if only their last factor were transposed."""
    shifted = " + 1" if name in ("acosh", "arccosh") else ""
    result = _result(f"x: 3\nb: 1x3\nL = sum({name}(x.T / 4{shifted}) * b)")
    latex = result.formula("x").latex
    assert _balanced(latex) and not _double_script(latex), latex
