"""Cells a student, a teacher or an ML engineer would write, through a real IPython shell: every Jacobian shown is
compared with central differences written here, and every mistake must be IPython's own UsageError naming the line,
with the namespace untouched and the shell usable afterwards."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import sympy as sp
from IPython.core.error import UsageError

from jacmagic import jacobian
from jacmagic.errors import CellError
from tests.conftest import Shell


def central(function: Callable[..., Any], point: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d function / d point by central differences, one column per entry of the point."""
    columns = []
    for j in range(point.size):
        up, down = point.copy(), point.copy()
        up[j] += h
        down[j] -= h
        columns.append((np.atleast_1d(function(*up)) - np.atleast_1d(function(*down))) / (2 * h))
    return np.array(columns, dtype=float).T


def refused(shell: Shell, options: str, cell: str) -> str:
    """The message of a cell that must be refused: IPython's UsageError itself (a subclass would print a
    traceback), the namespace unchanged, and the shell still computing afterwards."""
    before = {k for k in shell.ip.user_ns if not k.startswith("_")}
    ran = shell.run(f"%%jacobian --no-widgets {options}\n{cell}")
    assert type(ran.error) is UsageError, repr(ran.error)
    assert "Traceback" not in ran.stdout
    assert {k for k in shell.ip.user_ns if not k.startswith("_")} == before
    assert shell.ok("%%jacobian --no-widgets\nf(x) = x**2").result.at(x=3.0)[0, 0] == pytest.approx(6.0)
    return str(ran.error)


# -- step functions: refused by name, saying why, naming the line --------------------------------------------------

_STEPS = [
    ("", "f(x) = floor(x)", 1, "floor"),
    ("", "f(x) = ceil(x) + 1", 1, "ceil"),
    ("", "u = x*y\nv = round(x)", 2, "round"),
    ("", "u = x*y\nv = trunc(u)", 2, "trunc"),
    ("", "f(x) = x % 2", 1, "%"),
    ("--chain", "u = x*y\nv = u // 2", 2, "//"),
    ("", "def f(x):\n    return np.floor(x)", 2, "np.floor"),
    ("", "def f(x):\n    return math.ceil(x)", 2, "math.ceil"),
    ("", "def f(x):\n    y = x + 1\n    return y // 2", 3, "//"),
    ("", "def f(x, y):\n    z = x*y\n    return [x, z % 3]", 3, "%"),
    ("", "def f(x):\n    y = x*2\n    return round(y)", 3, "round"),
    ("", "def f(x):\n    return int(x)", 2, "int"),
    ("--chain", "def f(x):\n    y = x + 1\n    return y // 2", 3, "//"),
    ("--chain", "def f(x):\n    return np.mod(x, 2)", 2, "np."),
    ("--chain", "def f(x):\n    return np.round(x*2)", 2, "np.round"),
    ("--chain", "def f(x):\n    return round(x*2)", 2, "round"),
    ("", "def f(x):\n    y = -x\n    return y // 2", 3, "//"),  # sympy writes floor(-x/2) as -ceiling(x/2)
    ("", "def f(x, y):\n    return [x, (x*y) % 1]", 2, "%"),
]


def test_floor_is_refused_as_a_step_function_naming_the_line(shell: Shell) -> None:
    message = refused(shell, "", "u = x*y\nv = floor(u)")
    assert message.startswith("line 2") and "floor is a step function" in message


_SYMPY_STEPS = [(sp.floor, "floor"), (sp.ceiling, "ceil"), (lambda u: sp.Mod(u, 2), "mod"), (sp.frac, "frac")]


@pytest.mark.parametrize(("step", "name"), _SYMPY_STEPS, ids=[name for _, name in _SYMPY_STEPS])
def test_a_step_function_in_a_sympy_map_is_refused_by_its_name_not_by_sympys_unevaluated_derivative(
        step: Callable[[sp.Expr], sp.Expr], name: str) -> None:
    """A map given as sympy objects reaches the differentiation itself: sympy leaves the derivative unevaluated
    (y*Subs(Derivative(floor(_xi_1), _xi_1), _xi_1, x*y)), and the refusal names the step function instead."""
    x, y = sp.symbols("x y", real=True)
    with pytest.raises(CellError) as refusal:
        jacobian(sp.Matrix([x + y, step(x * y)]))
    message = str(refusal.value)
    assert message.startswith(f"{name}") and "step function" in message and "_xi" not in message, message


@pytest.mark.parametrize(("options", "cell", "line", "name"), _STEPS)
def test_every_step_function_is_refused_by_name_in_every_form(shell: Shell, options: str, cell: str, line: int,
                                                              name: str) -> None:
    message = refused(shell, options, cell)
    assert message.startswith(f"line {line}"), message
    assert "step function" in message and name in message, message
    assert "_xi" not in message and "Derivative(" not in message and "TypeError" not in message


def test_defaulted_step_arithmetic_on_a_constant_still_works(shell: Shell) -> None:
    """`n % 3` on a parameter's default value is plain arithmetic, not a step of the map."""
    for options in ("", "--chain"):
        result = shell.ok(f"%%jacobian --no-widgets {options}\ndef f(x, n=7):\n    return np.sin(x) * (n % 3) + n // 2"
                          ).result
        assert [str(s) for s in result.inputs] == ["x"]
        assert float(np.asarray(result.at(x=0.4)).ravel()[0]) == pytest.approx(math.cos(0.4))


@pytest.mark.parametrize("module", ["np", "math", "np.linalg"])
def test_an_unknown_twin_suggests_only_functions_its_module_has(shell: Shell, module: str) -> None:
    message = refused(shell, "", f"def f(x):\n    return {module}.frobnicate(x)")
    suggested = message.split("such as ", 1)[1].split(", ")
    assert suggested and all(s.startswith(f"{module}.") for s in suggested)
    assert "math.where" not in message


# -- --chain on a def with a defaulted parameter ---------------------------------------------------------------------

def test_a_defaulted_parameter_keeps_its_value_under_chain(shell: Shell) -> None:
    rng = np.random.default_rng(7)
    result = shell.ok("%%jacobian --no-widgets --chain\ndef f(x, y, n=3):\n    u = x**n\n    return np.sin(u)*y").result
    assert [str(s) for s in result.inputs] == ["x", "y"]
    for point in rng.uniform(-1, 1, (3, 2)):
        want = central(lambda x, y: np.sin(x**3) * y, point)
        assert np.allclose(result.at(x=point[0], y=point[1]), want, atol=1e-6)
        walk = result.walkthrough(x=point[0], y=point[1])
        got = [float(np.asarray(walk.gradients[n]).ravel()[0]) for n in ("x", "y")]
        assert np.allclose(got, want[0], atol=1e-6) and walk.check.agrees


# -- what is not a formula: said in words, with the line -------------------------------------------------------------

@pytest.mark.parametrize("cell", ["x: -3\nL = norm(x)", "x: 2.5\nL = x"])
@pytest.mark.parametrize("options", ["", "--chain"])
def test_a_shape_line_that_is_not_a_shape_says_so(shell: Shell, options: str, cell: str) -> None:
    message = refused(shell, options, cell)
    assert message.startswith("line 1") and "is not a shape" in message and "annassign" not in message.lower()


@pytest.mark.parametrize(("cell", "line", "words"), [
    ("u = x\nu += 1", 2, "updating assignment"),
    ("for i in range(3):\n    u = x", 1, "for loop"),
    ("if x > 0:\n    u = x", 1, "if statement"),
    ("u = x\nassert u", 2, "assert"),
    ("u = x\nreturn u", 2, "return"),
    ("u = x\ndel u", 2, "del"),
    ("u = x\nwhile u:\n    pass", 2, "while loop"),
])
def test_a_statement_is_refused_by_its_everyday_name(shell: Shell, cell: str, line: int, words: str) -> None:
    for options in ("", "--chain"):
        message = refused(shell, options, cell)
        assert message.startswith(f"line {line}") and words in message, message


@pytest.mark.parametrize("cell", ["u = 1e400*x", "u = x*y\nL = u - 2e999"])
@pytest.mark.parametrize("options", ["", "--chain"])
def test_a_literal_too_large_for_a_float_is_refused_as_too_large(shell: Shell, options: str, cell: str) -> None:
    message = refused(shell, options, cell)
    assert "too large for a floating-point number" in message and "undefined" not in message


@pytest.mark.parametrize(("cell", "line"), [("def f(x):\n    return x +", 2), ("import os\nu = x", 1)])
def test_a_def_cell_mistake_under_chain_is_worded_as_without_it(shell: Shell, cell: str, line: int) -> None:
    plain, chained = refused(shell, "", cell), refused(shell, "--chain", cell)
    assert chained == plain and chained.startswith(f"line {line}")


# -- breadth: what a user writes, against central differences --------------------------------------------------------

def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


_MAPS: list[tuple[str, Callable[..., Any], tuple[str, ...], tuple[float, float]]] = [
    ("f(x, y) = [asinh(x*y), atan2(y, x)]", lambda x, y: [math.asinh(x * y), math.atan2(y, x)], ("x", "y"),
     (0.2, 2)),
    ("f(x, y) = [log(x, 2), log(y, x)]", lambda x, y: [math.log2(x), math.log(y) / math.log(x)], ("x", "y"), (1.2, 3)),
    ("f(x, y) = [abs(x - y), max(x, y), min(x, y)]", lambda x, y: [abs(x - y), max(x, y), min(x, y)], ("x", "y"),
     (-2, 2)),
    ("f(x, y) = where(x > y, x**2, y**3)", lambda x, y: [x**2 if x > y else y**3], ("x", "y"), (-2, 2)),
    ("f(x, y) = x if x > y else y", lambda x, y: [x if x > y else y], ("x", "y"), (-2, 2)),
    ("f(x, y) = [hypot(x, y), cbrt(x), erf(y), sec(x)]",
     lambda x, y: [math.hypot(x, y), np.cbrt(x), math.erf(y), 1 / math.cos(x)], ("x", "y"), (0.2, 1.2)),
    ("f(x) = pi*x + E**x", lambda x: [math.pi * x + math.e**x], ("x",), (-2, 2)),
    ("f(theta_1, x_10) = [theta_1*x_10, sin(theta_1)]", lambda a, b: [a * b, math.sin(a)], ("theta_1", "x_10"),
     (-2, 2)),
    ("u = x*y\nv = u + x\nw = v*u\nz = sin(w)", lambda x, y: [math.sin((x * y + x) * x * y)], ("x", "y"), (-1, 1)),
    ("p, q = x*y, x - y\nr = p*q", lambda x, y: [x * y * (x - y)], ("x", "y"), (-1, 1)),
    ("z = w*x + b\na = sigmoid(z)\nL = (a - t)**2", lambda w, x, b, t: [(_sigmoid(w * x + b) - t) ** 2],
     ("w", "x", "b", "t"), (-1, 1)),
    ("p = hypot(x, y)\nq = asinh(p) + acosh(p + 1) + atanh(p/10)\nL = cbrt(q)",
     lambda x, y: [np.cbrt(math.asinh(math.hypot(x, y)) + math.acosh(math.hypot(x, y) + 1)
                           + math.atanh(math.hypot(x, y) / 10))], ("x", "y"), (0.2, 1)),
    ("def f(x, y):\n    s = 0\n    for k in range(3):\n        s = s + x**k * y\n    return s",
     lambda x, y: [y * (1 + x + x * x)], ("x", "y"), (0.5, 2)),
    ("def f(x, y):\n    return math.atan2(y, x), math.hypot(x, y)", lambda x, y: [math.atan2(y, x), math.hypot(x, y)],
     ("x", "y"), (0.5, 2)),
    ("def f(x):\n    return np.abs(x) + np.maximum(x, 0) + np.minimum(x, 1)",
     lambda x: [abs(x) + max(x, 0) + min(x, 1)], ("x",), (-2, 2)),
    ("def f(x):\n    return np.log(x) / np.log(2) + math.log(x, 2) + np.log2(x)", lambda x: [3 * math.log2(x)],
     ("x",), (0.5, 2)),
    ("def g(t):\n    return t**2\ndef f(x, y):\n    return [g(x), g(y)*x]", lambda x, y: [x * x, y * y * x], ("x", "y"),
     (-2, 2)),
    ("u = x*y\r\nv = x + y\r\n", lambda x, y: [x * y, x + y], ("x", "y"), (-1, 1)),
    ("# a comment\n\n   \nu = x*y  # product\t\n", lambda x, y: [x * y], ("x", "y"), (-1, 1)),
    ("def f(x, y):\r\n\treturn x*y   \r\n\r\n", lambda x, y: [x * y], ("x", "y"), (-1, 1)),
]


@pytest.mark.parametrize(("cell", "function", "names", "box"), _MAPS, ids=[m[0][:40] for m in _MAPS])
def test_every_jacobian_shown_matches_central_differences(shell: Shell, cell: str, function: Callable[..., Any],
                                                         names: tuple[str, ...], box: tuple[float, float]) -> None:
    rng = np.random.default_rng(abs(hash(cell)) % 2**32)
    result = shell.ok(f"%%jacobian --no-widgets\n{cell}").result
    assert [str(s) for s in result.inputs] == list(names)
    for point in rng.uniform(*box, (3, len(names))):
        want = central(function, point)
        values = dict(zip(names, point))
        assert np.allclose(result.at(**values), want, rtol=1e-5, atol=1e-6)
        if want.shape[0] == 1:
            gradient = result.gradient(**values)
            assert np.allclose([float(gradient[n]) for n in names], want[0], rtol=1e-5, atol=1e-6)
    text = str(result)
    assert "\n\n" not in text and not text.startswith("\n") and not text.endswith("\n")


_CHAINED = [m for m in _MAPS if "\n" in m[0].strip() and "math." not in m[0]]


@pytest.mark.parametrize(("cell", "function", "names", "box"), _CHAINED, ids=[m[0][:40] for m in _CHAINED])
def test_every_chain_walk_matches_central_differences(shell: Shell, cell: str, function: Callable[..., Any],
                                                      names: tuple[str, ...], box: tuple[float, float]) -> None:
    rng = np.random.default_rng(abs(hash(cell)) % 2**32)
    result = shell.ok(f"%%jacobian --no-widgets --chain\n{cell}").result
    for point in rng.uniform(*box, (3, len(names))):
        want = central(function, point)
        values = dict(zip(names, point))
        assert np.allclose(result.at(**values), want, rtol=1e-5, atol=1e-6)
        walk = result.walkthrough(**values)
        assert walk.check.agrees
        if want.shape[0] == 1:
            got = [float(np.asarray(walk.gradients[n]).ravel()[0]) for n in names]
            assert np.allclose(got, want[0], rtol=1e-5, atol=1e-6)
