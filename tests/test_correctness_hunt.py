"""The correctness hunt: maps written every way a user may write them, their Jacobians, gradients, Hessians and
walkthroughs compared with central differences computed here (mpmath, or numpy written in the test), never with the
program's own output. Each bug found has a named test; the generated families are below them."""

from __future__ import annotations

import numpy as np
import pytest

from jacmagic import jacobian
from tests.helpers import assert_close

STEP = 1e-6


def _central(function, point: dict[str, float], names: list[str]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """m x n by central differences of `function` (a dict of numbers -> list of outputs), written in numpy."""
    columns = []
    for name in names:
        up = np.asarray(function({**point, name: point[name] + STEP}), dtype=float)
        down = np.asarray(function({**point, name: point[name] - STEP}), dtype=float)
        columns.append((up - down) / (2 * STEP))
    return np.stack(columns, axis=-1)


# -- named: one bug each --------------------------------------------------------------------------------------------

GUARDED_CHOICES = {
    "where(x > 0, sqrt(x), 0)": lambda p: [np.sqrt(p["x"]) if p["x"] > 0 else 0.0],
    "where(x > 0, log(x), x)": lambda p: [np.log(p["x"]) if p["x"] > 0 else p["x"]],
    "sqrt(x) if x > 0 else x**2": lambda p: [np.sqrt(p["x"]) if p["x"] > 0 else p["x"] ** 2],
    "where(x > 0, 1/x, 3*x)": lambda p: [1 / p["x"] if p["x"] > 0 else 3 * p["x"]],
    "where(x < 0, x*y, log(x)/y)": lambda p: [p["x"] * p["y"] if p["x"] < 0 else np.log(p["x"]) / p["y"]],
}


@pytest.mark.parametrize("formula", GUARDED_CHOICES)
@pytest.mark.parametrize("x", [-1.5, 2.0])
def test_a_branch_of_where_not_taken_does_not_make_the_map_undefined(formula: str, x: float) -> None:
    """`where(x > 0, sqrt(x), 0)` at x = -1 was nan ("sqrt(x) has no finite real value here"), though its value
    is 0 there, as np.where's and the def form's: the guards of a branch held even where it is not taken."""
    point = {"x": x, "y": 0.7}
    want = _central(GUARDED_CHOICES[formula], point, ["x", "y"])
    result = jacobian(f"f(x, y) = [{formula}]")
    assert_close(result.at(**point), want, rel=1e-6)
    assert jacobian(f"f(x, y) = [{formula}]", at=point).notes == ()


@pytest.mark.parametrize("code, function", [
    ("x * np.maximum(np.maximum(0.5, 1e8), z)", lambda p: [p["x"] * max(0.5, 1e8, p["z"])]),
    ("x * np.minimum(3, 1) + np.maximum(2, 7) * z", lambda p: [p["x"] * 1 + 7 * p["z"]]),
    ("np.max(np.array([2.0, 7.0])) * x - z", lambda p: [7 * p["x"] - p["z"]]),
])
def test_numpys_max_and_min_of_numbers_alone_give_the_extreme_one_in_a_def(code: str, function) -> None:  # type: ignore[no-untyped-def]
    """np.maximum(2, 7) traced to 2: sympy's Max of numbers, subclassed, kept the first number (its comparison of
    two numbers names sympy's own Max, not the subclass), so x * np.maximum(0.5, 1e8) had the slope 0.5."""
    point = {"x": 0.3, "z": -0.8}
    result = jacobian(f"def f(x, z):\n    return [{code}]\n")
    assert_close(result.at(**point), _central(function, point, ["x", "z"]), rel=1e-6)


def _nested_choice(p: dict[str, float]) -> list[float]:
    x, y = p["x"], p["y"]
    inner = x if y > x else 1.5
    other = x if x > (7 if np.pi > y else y) else y
    return [x if inner > other else y, x * y]


@pytest.mark.parametrize("point", [{"x": 1.218, "y": 1.97}, {"x": 3.0, "y": 0.0}, {"x": -0.4, "y": 5.0}])
def test_a_where_inside_a_where_condition_has_numbers_and_leaves_the_other_rows_alone(point: dict[str, float]) -> None:
    """The condition where(...) > where(...) became sympy's ITE, compiled to np.select of floats (its nan default),
    which np.select refuses: every entry of the Jacobian, of every row, was nan."""
    cell = "f(x, y) = [where(where(y > x, x, 1.5) > where(x > where(pi > y, 7, y), x, y), x, y), x*y]"
    want = _central(_nested_choice, point, ["x", "y"])
    assert_close(jacobian(cell).at(**point), want, rel=1e-6)
    code = ("def f(x, y):\n    return [np.where(np.where(y > x, x, 1.5) > np.where(x > np.where(np.pi > y, 7, y), "
            "x, y), x, y), x*y]\n")
    assert_close(jacobian(code).at(**point), want, rel=1e-6)


@pytest.mark.parametrize("point", [{"x": 2.0, "y": 30.0}, {"x": 2.0, "y": 0.25}, {"x": 0.5, "y": 3.0}])
def test_a_where_in_a_condition_holding_a_max_of_a_quotient_has_numbers(point: dict[str, float]) -> None:
    """R.at raised sympy's ValueError "The argument 'zoo' is not comparable": compiling the piecewise ran sympy's
    simplify_logic on its condition, which puts 0 for y in max(1/y, 0.5)."""
    def function(p: dict[str, float]) -> list[float]:
        x, y = p["x"], p["y"]
        return [x * y if (max(1 / y, 0.5) if x > 1 else x) > 1 else y]

    want = _central(function, point, ["x", "y"])
    assert_close(jacobian("f(x, y) = where(where(x > 1, max(1/y, 0.5), x) > 1, x*y, y)").at(**point), want, rel=1e-6)


@pytest.mark.parametrize("point", [{"x": 0.9, "y": 0.2}, {"x": -0.3, "y": 1.4}])
def test_the_determinant_of_a_map_with_max_of_a_trigonometric_constant_is_given_not_a_traceback(
        point: dict[str, float]) -> None:
    """--det raised sympy's ValueError (a rewritten -tan(E) "is not comparable"): simplifying the determinant
    rewrote max(y, x, -tan(E)) with exponentials of i, which Max refuses."""
    def function(p: dict[str, float]) -> list[float]:
        return [np.hypot(max(p["y"], p["x"], -np.tan(np.e)), p["x"]), p["y"]]

    result = jacobian("f(x, y) = [hypot(max(y, x, -tan(E)), x), y]", det=True)
    symbols = {str(s): s for s in result.inputs}
    determinant = float(result.det.subs({symbols[k]: v for k, v in point.items()}))
    assert abs(determinant - np.linalg.det(_central(function, point, ["x", "y"]))) < 1e-6
