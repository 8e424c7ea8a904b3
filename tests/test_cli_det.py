"""The command line's determinant (issue 27): what `python -m jacmagic CELL --det` prints is the determinant of
the map, checked against central differences of the map written in numpy and against sympy's simplify of the
determinant at random points; and the proof that spares its tidying a compiled numeric check."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import sympy as sp

from jacmagic import jacobian
from jacmagic.__main__ import cell_lines, main
from jacmagic.chain import calculus, evaluate

from .helpers import assert_close

# (cell, extra options, variables, the outputs as sympy reads them, the map in numpy)
CASES: list[tuple[str, tuple[str, ...], str, str, Callable[..., list[float]]]] = [
    ("f(x, y) = [x**2*y, 5*x + sin(y)]", (), "x y", "x**2*y, 5*x + sin(y)",
     lambda x, y: [x**2 * y, 5 * x + np.sin(y)]),
    ("x = r*cos(theta); y = r*sin(theta)", (), "r theta", "r*cos(theta), r*sin(theta)",
     lambda r, t: [r * np.cos(t), r * np.sin(t)]),
    ("x = r*sin(t)*cos(p); y = r*sin(t)*sin(p); z = r*cos(t)", (), "r t p",
     "r*sin(t)*cos(p), r*sin(t)*sin(p), r*cos(t)",
     lambda r, t, p: [r * np.sin(t) * np.cos(p), r * np.sin(t) * np.sin(p), r * np.cos(t)]),
    ("f(x, y, z) = [x*y*z, x + y + z, x**2 - y**2]", (), "x y z", "x*y*z, x + y + z, x**2 - y**2",
     lambda x, y, z: [x * y * z, x + y + z, x**2 - y**2]),
    ("f(x, y) = [1.3*x - 0.7*y, 0.4*x + 2.1*y]", ("--wrt", "x,y"), "x y", "1.3*x - 0.7*y, 0.4*x + 2.1*y",
     lambda x, y: [1.3 * x - 0.7 * y, 0.4 * x + 2.1 * y]),
    ("f(x, y) = [exp(x)*cos(y), exp(x)*sin(y)]", (), "x y", "exp(x)*cos(y), exp(x)*sin(y)",
     lambda x, y: [np.exp(x) * np.cos(y), np.exp(x) * np.sin(y)]),
    ("f(x, y) = [log(x*y), sqrt(x**2 + y**2)]", (), "x y", "log(x*y), sqrt(x**2 + y**2)",
     lambda x, y: [np.log(x * y), np.sqrt(x**2 + y**2)]),
    ("f(x, y) = [sin(x)*cos(y), cos(x)*sin(y)]", (), "x y", "sin(x)*cos(y), cos(x)*sin(y)",
     lambda x, y: [np.sin(x) * np.cos(y), np.cos(x) * np.sin(y)]),
    ("f(x, y) = [(x + y)**2, x/y]", (), "x y", "(x + y)**2, x/y", lambda x, y: [(x + y) ** 2, x / y]),
]


def _central_det(function: Callable[..., list[float]], point: np.ndarray, h: float = 1e-6) -> float:
    columns = [(np.array(function(*(point + h * e))) - np.array(function(*(point - h * e)))) / (2 * h)
               for e in np.eye(len(point))]
    return float(np.linalg.det(np.column_stack(columns)))


@pytest.mark.parametrize(("cell", "extra", "names", "outputs", "numeric"), CASES, ids=[c[0][:40] for c in CASES])
def test_the_printed_determinant_is_the_maps_and_sympys_simplified_one_at_random_points(
        cell: str, extra: tuple[str, ...], names: str, outputs: str, numeric: Callable[..., list[float]],
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main([cell, "--det", *extra]) == 0
    printed = capsys.readouterr().out
    shown = jacobian(cell_lines(cell), det=True, wrt=extra[1] if extra else ())
    assert printed == f"{shown}\n" and "det J = " in printed  # the command line prints this result
    result = shown.det
    assert isinstance(result, sp.Expr)
    variables = sp.symbols(names, real=True)
    scope = {s.name: s for s in variables}
    hand = sp.Matrix(sp.sympify(f"[{outputs}]", locals=scope)).jacobian(variables)
    simplified = sp.simplify(hand.det())
    rng = np.random.default_rng(7)
    for point in rng.uniform(0.3, 2.0, (5, len(variables))):
        at = dict(zip(variables, point))
        got = float(result.subs({sp.Symbol(s.name, real=True): v for s, v in at.items()}))
        assert_close(got, _central_det(numeric, point), rel=1e-5)
        assert_close(got, float(simplified.subs(at)), rel=1e-9)


def test_a_determinant_simplify_rewrites_as_the_same_polynomial_is_kept_without_a_compiled_check(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """x**2*y, 5*x + sin(y): det = 2*x*y*cos(y) - 5*x**2, which simplify writes x*(2*y*cos(y) - 5*x); that is
    proved equal by expanding, so no Evaluator (lambdify, numpy, 11 ms of the command line's run) is built."""
    built: list[object] = []
    monkeypatch.setattr(calculus, "Evaluator", lambda *args: built.append(args) or evaluate.Evaluator(*args))
    x, y = sp.symbols("x y", real=True)
    det = jacobian("f(x, y) = [x**2*y, 5*x + sin(y)]", det=True).det
    assert det == x * (2 * y * sp.cos(y) - 5 * x)
    assert built == []


x, y, z = sp.symbols("x y z", real=True)
PROVED = [
    ((x + y) ** 2, x**2 + 2 * x * y + y**2),
    (x * (2 * y * sp.cos(y) - 5 * x), 2 * x * y * sp.cos(y) - 5 * x**2),
    (sp.sin(x) ** 2 * (sp.exp(y) + 1), sp.sin(x) ** 2 * sp.exp(y) + sp.sin(x) ** 2),
    ((x + 1) / y, x / y + 1 / y),  # 1/y is one part of both
    (sp.Float(2.5) * x * y, x * (sp.Float(2.5) * y)),
]
NOT_PROVED = [  # (left, right, equal on both signs: what the sample points then decide)
    (x * (1 / x + 1), 1 + x, True),  # undefined at x = 0 on one side only (no sample point is 0): two parts
    (sp.sqrt(x**2), x, False),  # |x|: a part that is not x
    (sp.sin(x) ** 2 + sp.cos(x) ** 2, sp.Integer(1), True),  # true, but not as a polynomial in the same parts
    (sp.exp(x) * sp.exp(y), sp.exp(x + y), True),
    (x**2 - y**2, (x - y) * (x + z), False),  # different parts
    (x * y + 1, x * y + 2, False),
]


@pytest.mark.parametrize(("left", "right"), PROVED)
def test_the_same_polynomial_in_the_same_parts_is_proved_equal(left: sp.Expr, right: sp.Expr) -> None:
    assert calculus.same_polynomial(left, right)
    assert calculus.same_numbers(left, right)


@pytest.mark.parametrize(("left", "right", "equal"), NOT_PROVED)
def test_what_is_not_the_same_polynomial_in_the_same_parts_is_left_to_the_sample_points(
        left: sp.Expr, right: sp.Expr, equal: bool) -> None:
    assert not calculus.same_polynomial(left, right)
    assert calculus.same_numbers(left, right) == equal


def test_help_describes_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` listed --partials, --simplify, --check and --chain with no word on what they do; every option of
    the command line now says it, on its own line or the next."""
    with pytest.raises(SystemExit):
        main(["--help"])
    lines = capsys.readouterr().out.split("options:")[1].splitlines()
    for i, line in enumerate(lines):
        if line.startswith("  -"):
            flag, _, said = line.strip().partition("  ")
            following = lines[i + 1] if i + 1 < len(lines) else ""
            assert said.strip() or following.startswith(" " * 20), f"{flag} has no description"
