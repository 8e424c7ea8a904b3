"""A def's guards are carried by value: sympy folds a restricted call away as it computes (np.exp(np.log(x)) is x,
np.sqrt(x)**2 is x, 0*np.sqrt(x) is 0, x/x is 1, h - h is 0), but numpy's value of that output is still nan where
the call is, and only there: the output that used it is undefined, an output that never did keeps its row.
numpy, written here, is the reference: a row is undefined exactly where numpy's value of its output is not
finite, and every defined row is numpy's central differences."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import sympy as sp

from jacmagic import jacobian
from jacmagic.notes import UndefinedRow

STEP = 1e-6
# (the def's first output, numpy's own function of it): the second output is x + 1 in every case
FOLDED: list[tuple[str, Callable[[float, float], float]]] = [
    ("np.exp(np.log(x)) + y", lambda x, y: np.exp(np.log(x)) + y),
    ("np.sqrt(x)**2 + y", lambda x, y: np.sqrt(x) ** 2 + y),
    ("0*np.sqrt(x) + y", lambda x, y: 0 * np.sqrt(x) + y),
    ("np.sqrt(x) - np.sqrt(x) + y", lambda x, y: np.sqrt(x) - np.sqrt(x) + y),
    ("x/x + y", lambda x, y: x / x + y),
    ("np.log(np.exp(x)) + y", lambda x, y: np.log(np.exp(x)) + y),
    ("np.arcsin(np.sin(x)) + y", lambda x, y: np.arcsin(np.sin(x)) + y),
    ("(x - 1)**0.5 * 0 + np.exp(y)", lambda x, y: np.power(x - 1, 0.5) * 0 + np.exp(y)),
]
# away from the edges of the domains: at x = 0 numpy's exp(log(0)) is 0, where jacmagic says log(0) has no value
POINTS = [(-1.0, 2.0), (-0.3, 0.5), (0.5, -1.0), (2.0, 0.3)]


def _numpy(first: Callable[[float, float], float], x: float, y: float) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.array([first(x, y), x + 1.0])


def _central(first: Callable[[float, float], float], x: float, y: float) -> np.ndarray:
    """numpy's Jacobian by central differences, nan in the rows where numpy's value is not finite."""
    defined = np.isfinite(_numpy(first, x, y))
    columns = [(_numpy(first, x + STEP, y) - _numpy(first, x - STEP, y)) / (2 * STEP),
               (_numpy(first, x, y + STEP) - _numpy(first, x, y - STEP)) / (2 * STEP)]
    want = np.stack(columns, axis=-1)
    want[~defined] = np.nan
    return want


@pytest.mark.parametrize(("body", "first"), FOLDED, ids=[b for b, _ in FOLDED])
@pytest.mark.parametrize("point", POINTS, ids=str)
def test_a_defs_folded_restricted_call_leaves_undefined_only_the_row_numpy_has_no_value_in(
        body: str, first: Callable[[float, float], float], point: tuple[float, float]) -> None:
    x, y = point
    result = jacobian(f"import numpy as np\ndef f(x, y):\n    return [{body}, x + 1]\n", at={"x": x, "y": y})
    got, want = result.at(x=x, y=y), _central(first, x, y)
    assert np.array_equal(np.isnan(got).all(axis=1), np.isnan(want).all(axis=1)), (body, point, got, want)
    rows = ~np.isnan(want).all(axis=1)
    assert np.allclose(got[rows], want[rows], rtol=1e-5, atol=1e-6), (body, point, got, want)
    undefined = [f.row for f in result.facts if isinstance(f, UndefinedRow)]
    assert undefined == np.flatnonzero(~rows).tolist(), (body, point, undefined)


def test_the_reported_exp_of_a_log_is_undefined_in_its_own_row_only() -> None:
    """The report: J at x = -1 was [[1, 1], [1, 0]]; numpy's output 1 is exp(log(-1)) = nan."""
    cell = "import numpy as np\ndef f(x, y):\n    return [np.exp(np.log(x)) + y, x + 1]\n"
    got = jacobian(cell, at={"x": -1.0, "y": 2.0}).at(x=-1.0, y=2.0)
    assert np.isnan(got[0]).all()
    assert np.array_equal(got[1], [1.0, 0.0])


def test_a_square_of_a_root_marks_only_the_output_that_used_it() -> None:
    """Session 10's attempt tied the guard to the symbol x and marked both rows: x + 1 never took the root."""
    got = jacobian("import numpy as np\ndef f(x, y):\n    return [np.sqrt(x)**2 + y, x + 1]\n").at(x=-1.0, y=2.0)
    assert np.isnan(got[0]).all()
    assert np.array_equal(got[1], [1.0, 0.0])


def test_a_vectors_folded_root_is_undefined_in_its_own_entrys_row_only() -> None:
    """np.sqrt(v)**2 + 0*np.log(v) at v = (-1, 2, 0): numpy's entries 1 and 3 are nan, entry 2 is 2."""
    got = jacobian("v: 3\ndef f(v):\n    return np.sqrt(v)**2 + 0*np.log(v)\n").at(v=[-1.0, 2.0, 0.0])
    assert np.isnan(got[[0, 2]]).all()
    assert np.array_equal(got[1], [0.0, 1.0, 0.0])


def test_a_def_dividing_a_number_by_itself_is_undefined_at_0_in_that_row_only() -> None:
    """x/x is 1 to sympy; numpy's 0/0 is nan."""
    got = jacobian("def f(x, y):\n    return [x/x + y, x + 1]\n").at(x=0.0, y=2.0)
    assert np.isnan(got[0]).all()
    assert np.array_equal(got[1], [1.0, 0.0])


def test_a_def_testing_a_sum_of_plain_numbers_runs_as_python_does() -> None:
    """While a def runs sympy evaluates nothing, so np.sum of plain numbers is first an unevaluated sum: an if and
    an == on it still see the number."""
    cell = ("def f(x):\n    w = np.sum(np.array([1.0, 2.0]))\n    k = 2.0 if w > 2.5 else 5.0\n"
            "    return [k*x if w == 3.0 else x]\n")
    assert np.allclose(jacobian(cell).at(x=1.0), [[2.0]])


def test_an_assigned_vector_divided_by_itself_is_undefined_only_at_its_zero_entry() -> None:
    """v/v at v = (0, 2, 3): numpy's value is (nan, 1, 1). The divisor v_1 is gone from every entry (each is 1):
    the math form counted it for every entry and marked every row."""
    got = jacobian("v: 3\ny = v/v").at(v=[0.0, 2.0, 3.0])
    assert np.isnan(got[0]).all()
    assert np.array_equal(got[1:], np.zeros((2, 3)))


def test_a_folded_log_beside_a_sum_in_a_where_is_undefined_only_in_its_own_entrys_row() -> None:
    """Found by the def/math family: at v = (-2.6, -0.05, 0.2) numpy's entry 3 is sqrt(exp(log(0.14))); sympy
    folds exp(log(v_2 - 0.06)) as the math form reads it, and the guard log(v_2 - 0.06), placed by its symbol,
    went to every entry, as the sum in the other branch holds v_2 in every entry: every row was marked. The line
    is now read again as written, where the log is in its own entry, as the def keeps it."""
    cell = "v: 3\ny = sqrt(where(v + 0.15 > 0, exp(log(v - 0.06)), sum(v - 0.12)))"
    got = jacobian(cell).at(v=[-2.6, -0.05, 0.2])
    assert np.isnan(got[:2]).all() and np.isfinite(got[2]).all()


def test_a_function_lines_folded_root_is_undefined_only_in_the_entry_that_took_it() -> None:
    """sqrt([x, y])**2 + [y, x] at x = -1: numpy's value is (nan, 1). sympy folds both roots, and both entries
    hold x and y, so placing the guard sqrt(x) by its symbols marked both rows."""
    got = jacobian("f(x, y) = sqrt([x, y])**2 + [y, x]").at(x=-1.0, y=2.0)
    assert np.isnan(got[0]).all()
    assert np.array_equal(got[1], [1.0, 1.0])


def test_a_line_read_again_as_written_leaves_sympys_evaluation_on() -> None:
    """Reading a line again unevaluated switches sympy's evaluation off for a moment: every later cell needs it
    back on (an unevaluated kernel would leave x + x as it is)."""
    jacobian("v: 3\ny = v/v").at(v=[0.0, 2.0, 3.0])
    assert sp.Symbol("x") + sp.Symbol("x") == 2 * sp.Symbol("x")
