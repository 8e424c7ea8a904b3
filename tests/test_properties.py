"""Property tests: random formulas, written as cell text, differentiate like an independent numeric derivative;
random text only ever gives a clear CellError, and quickly (each example has a deadline).

CI runs a bounded fuzz; `JACMAGIC_FUZZ=20 python -m pytest tests/test_properties.py` runs twenty times as many."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jacmagic import jacobian
from jacmagic.errors import CellError, JacmagicError
from jacmagic.parse import parse_cell

from .helpers import numeric_jacobian

VARIABLES = ["x", "y", "z"]
SCALE = int(os.environ.get("JACMAGIC_FUZZ", "1"))


@dataclass(frozen=True)
class Formula:
    """A formula as the user types it, and as an mpmath function built without sympy."""

    text: str
    value: Callable[[dict[str, mpmath.mpf]], mpmath.mpf]


def _sigmoid(t: mpmath.mpf) -> mpmath.mpf:
    return 1 / (1 + mpmath.exp(-t))


UNARY: dict[str, Callable[[mpmath.mpf], mpmath.mpf]] = {
    "sin": mpmath.sin, "cos": mpmath.cos, "tanh": mpmath.tanh, "exp": mpmath.exp, "atan": mpmath.atan,
    "sinh": mpmath.sinh, "sigmoid": _sigmoid, "softplus": lambda t: mpmath.log(1 + mpmath.exp(t)),
    "sqrt": lambda t: mpmath.sqrt(1 + t * t),  # written below as sqrt(1 + (a)^2): defined everywhere
}


def leaf() -> st.SearchStrategy[Formula]:
    names = st.sampled_from(VARIABLES).map(lambda n: Formula(n, lambda v, n=n: v[n]))
    numbers = st.sampled_from(["2", "0.5", "3", "pi"]).map(
        lambda k: Formula(k, lambda v, k=k: mpmath.pi if k == "pi" else mpmath.mpf(k)))
    return st.one_of(names, numbers)


def combine(children: st.SearchStrategy[Formula]) -> st.SearchStrategy[Formula]:
    def unary(name: str, a: Formula) -> Formula:
        text = f"sqrt(1 + ({a.text})^2)" if name == "sqrt" else f"{name}({a.text})"
        return Formula(text, lambda v: UNARY[name](a.value(v)))

    def binary(op: str, a: Formula, b: Formula) -> Formula:
        ops = {"+": lambda p, q: p + q, "-": lambda p, q: p - q, "*": lambda p, q: p * q}
        return Formula(f"({a.text}) {op} ({b.text})", lambda v: ops[op](a.value(v), b.value(v)))

    def power(a: Formula, k: int) -> Formula:
        caret = "^" if k % 2 else "**"
        return Formula(f"({a.text}){caret}{k}", lambda v: a.value(v) ** k)

    return st.one_of(
        st.builds(unary, st.sampled_from(sorted(UNARY)), children),
        st.builds(binary, st.sampled_from(["+", "-", "*"]), children, children),
        st.builds(power, children, st.integers(2, 3)),
    )


formulas = st.recursive(leaf(), combine, max_leaves=6)
points = st.lists(st.floats(-1.5, 1.5, allow_nan=False).map(lambda t: round(t, 3)), min_size=3, max_size=3)


@settings(max_examples=40 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(formulas, min_size=1, max_size=3), points)
def test_jacobian_equals_numeric_derivative(outputs: list[Formula], point: list[float]) -> None:
    cell = "f(x, y, z) = [" + ", ".join(o.text for o in outputs) + "]"
    result = jacobian(cell, simplify="none")

    def function(*values: mpmath.mpf) -> list[mpmath.mpf]:
        env = dict(zip(VARIABLES, values))
        return [o.value(env) for o in outputs]

    want = numeric_jacobian(function, point)
    assume(np.all(np.abs(want) < 1e8))
    got = result.at(**dict(zip(VARIABLES, point)))
    assert np.allclose(got, want, rtol=1e-7, atol=1e-7), (cell, point, got, want)


@settings(max_examples=200 * SCALE, deadline=2000)
@given(st.text(max_size=80))
def test_random_text_gives_only_cell_errors(text: str) -> None:
    try:
        parse_cell(text)
    except CellError as err:
        assert str(err)


TOKENS = ["f(x, y)", "=", "x", "y", "(", ")", "[", "]", ",", "+", "*", "**", "^", "-", "/", "sin", "exp", "2",
          "1.5", "\n", "#", "lambda", ".", "__class__", "import", ":", "'", "pi", "E", "relu", "where", ">", "if"]


@settings(max_examples=300 * SCALE, deadline=2000)
@given(st.lists(st.sampled_from(TOKENS), max_size=25))
def test_token_soup_gives_only_cell_errors(tokens: list[str]) -> None:
    try:
        model = parse_cell(" ".join(tokens))
    except CellError as err:
        assert str(err)
    else:
        assert model.expressions


@settings(max_examples=150 * SCALE, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS + [": 3", "W", "@", "sum", "x: 2", "\n"]), max_size=30))
def test_token_soup_through_the_whole_pipeline(tokens: list[str]) -> None:
    """Whatever parses must also differentiate and render; whatever does not is a JacmagicError."""
    try:
        result = jacobian(" ".join(tokens), chain="--chain" in tokens, budget=0.5)
        result.latex()
        str(result)
    except JacmagicError as err:
        assert str(err)


def test_a_known_value_against_math() -> None:
    result = jacobian("f(x, y) = [x**2*y, 5*x + sin(y)]")
    assert np.allclose(result.at(x=1.3, y=-0.4), [[2 * 1.3 * -0.4, 1.3**2], [5, math.cos(-0.4)]])
