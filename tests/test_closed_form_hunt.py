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
from jacmagic.chain.functions import FUNCTIONS
from jacmagic.result import JacobianResult

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
