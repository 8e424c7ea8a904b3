"""The math and assignment forms: what a cell means, and the errors for what it cannot mean."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import sympy as sp

from jacmagic import jacobian
from jacmagic.errors import CellError
from jacmagic.options import parse_names, parse_number, parse_point
from jacmagic.read.parse import parse_cell

r, theta, phi, x, y, z, a, b, c = sp.symbols("r theta phi x y z a b c", real=True)


@pytest.mark.parametrize(("cell", "inputs", "expressions"), [
    ("f(x, y) = [x**2*y, 5*x + sin(y)]", "x y", [x**2 * y, 5 * x + sp.sin(y)]),
    ("f(x, y) = x*y", "x y", [x * y]),
    ("f(y, x) = (x, y)", "y x", [x, y]),
    ("f(a, b, c) = b^2 + c", "a b c", [b**2 + c]),
    ("f(a, b, c) = [a^b^c]", "a b c", [a ** (b**c)]),
    ("f(x) = [\n  x,   # one\n\n  x^2,\n]", "x", [x, x**2]),
    ("f(x) = a*x + E + pi", "x", [a * x + sp.E + sp.pi]),
    ("x = r*cos(theta)\ny = r*sin(theta)", "r theta", [r * sp.cos(theta), r * sp.sin(theta)]),
    ("x = r*sin(theta)*cos(phi)\ny = r*sin(theta)*sin(phi)\nz = r*cos(theta)", "r theta phi",
     [r * sp.sin(theta) * sp.cos(phi), r * sp.sin(theta) * sp.sin(phi), r * sp.cos(theta)]),
    ("u = x + y\nv = u**2", "x y", [(x + y) ** 2]),
    ("x, y = r*cos(theta), r*sin(theta)", "r theta", [r * sp.cos(theta), r * sp.sin(theta)]),
    ("g(t) = t^2\nf(x, y) = [g(x), g(y) + 1]", "x y", [x**2, y**2 + 1]),
    ("g(s, t) = [s*t, s + t]\nf(x, y) = g(y, x)", "x y", [y * x, y + x]),
    ("f(x) = where(x > 0, x, 0)", "x", [sp.Piecewise((x, x > 0), (0, True))]),
    ("f(x) = x if x > 0 and x < 1 else 0", "x", [sp.Piecewise((x, (x > 0) & (x < 1)), (0, True))]),
    ("f(x) = -(-x) + +x", "x", [2 * x]),
    ("f(x) = log(x, 2) + ln(x)", "x", [sp.log(x, 2) + sp.log(x)]),
])
def test_cells_mean_what_they_say(cell: str, inputs: str, expressions: list[sp.Expr]) -> None:
    model = parse_cell(cell)
    assert [s.name for s in model.inputs] == inputs.split()
    assert all(s.is_real for s in model.inputs)
    assert [sp.simplify(g - w) for g, w in zip(model.expressions, expressions)] == [0] * len(expressions)


def test_assignment_outputs_are_the_unused_names_in_order() -> None:
    model = parse_cell("u = a*b\nx = u + c\ny = u - c")
    assert [s.name for s in model.outputs] == ["x", "y"]
    assert [s.name for s in model.inputs] == ["a", "b", "c"]


def test_function_outputs_are_named_after_the_function() -> None:
    assert [s.name for s in parse_cell("F(a, b) = [a, b, a*b]").outputs] == ["F_1", "F_2", "F_3"]
    assert [s.name for s in parse_cell("g(a, b) = a*b").outputs] == ["g"]


def test_long_sums_do_not_recurse() -> None:
    terms = " + ".join(f"x**{k}" for k in range(5000))
    model = parse_cell(f"f(x) = {terms}")
    assert len(model.expressions[0].args) == 5000


def test_chain_keeps_function_stages() -> None:
    model = parse_cell("g(x1, x2) = [x1*x2, x1 + x2]\nh(u, v) = [sin(u)*v]", chain=True)
    assert [s.name for s in model.stages] == ["g", "h"]
    x1, x2 = sp.symbols("x1 x2", real=True)
    assert model.expressions == (sp.sin(x1 * x2) * (x1 + x2),)


@pytest.mark.parametrize(("cell", "line", "match"), [
    ("f(x, y) = [x**2*y, 5*x + ]", 1, "invalid syntax"),
    ("f(x, y) = [x,\n  (y]", 2, "unbalanced"),
    ("f(x, y) = [x,\n  y", 1, "never closed"),
    ("x = r*cos(theta)\ny = r*sinn(theta)", 2, "unknown function sinn.*did you mean sin"),
    ("f(x) = __import__('os').system('touch X')", 1, "quotes"),
    ("f(x) = __import__(x)", 1, "__import__"),
    ("f(x) = x.real", 1, "attribute access"),
    ("f(x) = (lambda t: t)(x)", 1, "only the known functions"),
    ("import os", 1, "import"),
    ("f(x) = 2x", 1, r"write products with \*"),
    ("f(x) = x @ x", 1, "@ multiplies matrices"),
    ("f(x) = [x, [x]]", 1, "a number is needed here, but this is a 1 x 1 matrix"),
    ("f(x) = 1j*x", 1, "complex"),
    ("f(x) = sin(x, x)", 1, r"sin\(\) takes 1 argument"),
    ("f(x) = x\ny = 2", 2, "defines functions"),
    ("f(x) = x\nf(y) = y", 2, "already defined"),
    ("g(x) = x\nf(y) = y", 1, "never used.*--chain"),
    ("sin(x) = x", 1, "built-in function"),
    ("f(x, x) = x", 1, "appears twice"),
    ("f() = 1", 1, "no parameters"),
    ("f(x+1) = x", 1, "not a plain name"),
    ("y = x\ny = 2*x", 2, "assigned again"),
    ("y = x*z\nz = 2", 1, "used before it is assigned"),
    ("x = [r, theta]", 1, "assigns a list"),
    ("x**2 + y", 1, "needs a name"),
    ("y = 3", None, "nothing to differentiate"),
    ("f(x) = x > 0", 1, "comparison"),
    ("f(x) = exp", 1, "exp is a function"),
    ("f(x) = 2**10**100 * x", 1, "too large"),
    ("   \n# only a comment\n", None, "empty"),
])
def test_mistakes_name_the_line(cell: str, line: int | None, match: str) -> None:
    with pytest.raises(CellError, match=match) as caught:
        parse_cell(cell)
    assert caught.value.line == line
    if line is not None:
        assert str(caught.value).startswith(f"line {line}")


def test_function_chain_arity_mismatch_names_both_lines() -> None:
    with pytest.raises(CellError, match=r"g \(line 1\) has 2 outputs but h \(line 2\) takes 1"):
        parse_cell("g(x) = [x, x]\nh(u) = u", chain=True)


def test_caret_columns_point_at_the_users_text() -> None:
    with pytest.raises(CellError) as caught:
        parse_cell("f(x) = x^2 + x^3 + sinn(x)")
    assert caught.value.column == "f(x) = x^2 + x^3 + sinn(x)".index("sinn") + 1


@pytest.mark.parametrize(("text", "value"), [("1.5", 1.5), ("-2", -2.0), ("pi/4", 0.7853981633974483),
                                             ("sqrt(2)/2", 0.7071067811865476), ("2^-3", 0.125), ("1e-3", 1e-3)])
def test_numbers(text: str, value: float) -> None:
    assert parse_number(text, "--at x") == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("text", ["foo", "x + 1", "sqrt(-1)", "", "1/0", "__import__"])
def test_not_numbers(text: str) -> None:
    with pytest.raises(CellError):
        parse_number(text, "--at x")


def test_points_and_names() -> None:
    assert parse_point("r=1, theta=atan2(1, 1)") == (("r", 1), ("theta", sp.pi / 4))  # exact, as typed
    assert parse_names("z, x") == ("z", "x")
    with pytest.raises(CellError, match="twice"):
        parse_point("r=1,r=2")
    with pytest.raises(CellError, match="name=value"):
        parse_point("r")


def _central(function: Callable[..., float], point: list[float]) -> np.ndarray:
    """d function / d point by central differences in numpy, apart from jacmagic."""
    h = 1e-6
    rows = []
    for j in range(len(point)):
        up, down = list(point), list(point)
        up[j] += h
        down[j] -= h
        rows.append((function(*up) - function(*down)) / (2 * h))
    return np.array(rows, dtype=float).T


@pytest.mark.parametrize(("line", "value", "undefined_at"), [
    ("z = x/x", lambda x: 1.0, 0.0),  # the issue's: NameError: name 'x' is not defined
    ("z = log(x) - log(x)", lambda x: 0.0, -1.0),
    ("z = sqrt(x)**2/x", lambda x: 1.0, -1.0),
    ("z = x - x + 2", lambda x: 2.0, None),
    ("z = (x + 1)/(x + 1)", lambda x: 1.0, -1.0),
])
def test_a_line_that_cancels_to_a_constant_keeps_its_domain(line: str, value: Callable[[float], float],
                                                            undefined_at: float | None) -> None:
    result = jacobian(f"{line}\nL = z*y", chain=True, at={"x": 0.7, "y": 2.0}, check=True)
    assert "check passed" in str(result.whole) and result.walkthrough().agrees
    assert np.allclose(result.at(x=0.7, y=2.0), _central(lambda x, y: value(x) * y, [0.7, 2.0]), atol=1e-8)
    if undefined_at is not None:  # the constant stage says where it is defined
        assert np.isnan(result.at(x=undefined_at, y=2.0)).all()


@pytest.mark.parametrize(("line", "numpy"), [
    ("h = q * tanh(x)", lambda v: (v @ v) * np.tanh(v)),  # the issue's: refused in small cells
    ("h = tanh(x) / q", lambda v: np.tanh(v) / (v @ v)),
    ("h = x - q", lambda v: v - v @ v),
    ("h = x ** q", lambda v: v ** (v @ v)),
    ("h = where(x > q, x, q)", lambda v: np.where(v > v @ v, v, v @ v)),
    ("h = q * x * q", lambda v: (v @ v) ** 2 * v),
])
@pytest.mark.parametrize("chain", [False, True])
def test_a_1x1_value_broadcasts_as_numpy_does(line: str, numpy: Callable[[np.ndarray], np.ndarray],
                                             chain: bool) -> None:
    result = jacobian(f"x: 3\nq = x.T @ x\n{line}", chain=chain)
    point = [0.3, 0.6, 0.9]
    got = result.at(x=point)
    want = _central(lambda *v: numpy(np.array(v)), point)
    assert np.allclose(got, want, rtol=1e-6, atol=1e-8)
