"""A vector output is undefined entry by entry, as numpy computes it: `v: 3` then `f = sqrt(v)` at v = (-1, 2, 3)
has no value in its first entry only, so only the first row of its Jacobian is undefined (the guards of every
entry counted for every row: the whole map was said undefined). numpy is the reference: a row is undefined where
numpy's value of its entry is not finite, and every other row is numpy's central differences; every cell form
agrees, and the notes name the undefined rows only."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.notes import UndefinedRow

STEP = 1e-6

# a formula in a vector v -> the same map in numpy (the body of the def form)
VECTOR_MAPS: dict[str, str] = {
    "sqrt(v)": "np.sqrt(v)",
    "log(v)": "np.log(v)",
    "v**0.5": "v**0.5",
    "v**-1.5": "v**-1.5",
    "1/v": "1/v",
    "acos(v/2)": "np.arccos(v/2)",
    "asin(v/2) * v": "np.arcsin(v/2) * v",
    "log(1 + v) + 2*v": "np.log(1 + v) + 2*v",
    "sqrt(v) * sum(v)": "np.sqrt(v) * np.sum(v)",  # mixes the entries, but only finite ones: rows stay apart
    "sum(sqrt(v)) * v": "np.sum(np.sqrt(v)) * v",  # every entry holds every sqrt: one bad entry spoils all rows
    "exp(v) / (v - 1)": "np.exp(v) / (v - 1)",
}
# points with some entries outside the domain, none on its edge (sqrt at 0, where numpy's difference reaches
# outside it and the derivative is infinite), and one where a divisor is 0
POINTS = [[-1.0, 1.5, 0.5], [0.6, -0.4, -3.0], [1.2, -2.5, 3.0]]
ZEROS = [0.0, 1.0, 1.7]
EDGE_AT_ZERO = {"sqrt(v)", "v**0.5", "sqrt(v) * sum(v)", "sum(sqrt(v)) * v"}


def _numpy(body: str) -> Callable[[np.ndarray], np.ndarray]:
    return lambda v: eval(body, {"np": np, "v": v})  # noqa: S307 - the test's own text


def _expected(body: str, point: list[float]) -> np.ndarray:
    """numpy's Jacobian at `point`: a row is undefined (all nan) where numpy's value of its entry is not finite,
    the other rows central differences."""
    function, v = _numpy(body), np.array(point)
    with np.errstate(all="ignore"):
        rows = ~np.isfinite(function(v))
        columns = []
        for j in range(v.size):
            step = np.zeros_like(v)
            step[j] = STEP
            columns.append((function(v + step) - function(v - step)) / (2 * STEP))
    want = np.stack(columns, axis=-1)
    want[rows] = np.nan
    return want


def _cells(formula: str, body: str) -> dict[str, tuple[str, str]]:
    """Each cell form of the map (cell, the name of its input: "v", or "abc" for a function of three numbers)."""
    entries = formula.replace("v", "[a, b, c]")
    return {"assignment": (f"v: 3\nf = {formula}", "v"),
            "two lines": (f"v: 3\nw = {formula}\nf = 3 * w", "v"),
            "math form": (f"f(a, b, c) = {entries}", "abc"),
            "math form composed": (f"g(a, b, c) = {entries}\nh(p, q, r) = [p, q - r, 2 * r]", "abc"),
            "def": (f"v: 3\ndef f(v):\n    return {body}\n", "v")}


def _point(names: str, values: list[float]) -> dict[str, object]:
    return {"v": values} if names == "v" else dict(zip(names, values))


# the Jacobian of the line after the map, which the form's Jacobian is multiplied by (h = (p, q - r, 2r) mixes rows
# 2 and 3, so one of them undefined spoils both)
AFTER = {"two lines": 3 * np.eye(3), "math form composed": np.array([[1.0, 0, 0], [0, 1, -1], [0, 0, 2]])}


def _composed(form: str, want: np.ndarray) -> np.ndarray:
    if form not in AFTER:
        return want
    undefined = np.isnan(want).any(axis=1)
    got = AFTER[form] @ np.where(undefined[:, None], 0.0, want)
    got[(AFTER[form] != 0) @ undefined] = np.nan  # a row made from an undefined row
    return got


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    return bool(np.array_equal(np.isnan(got), np.isnan(want))
                and np.allclose(got[~np.isnan(want)], want[~np.isnan(want)], rtol=1e-5, atol=1e-5))


FORMS = ["assignment", "two lines", "math form", "math form composed", "def"]
# a plain def's rows were not checked against its domain: the row of an undefined entry kept its exact 0s (and
# sum(sqrt(v)) * v its finite off-diagonal numbers), where numpy's value is nan
CASES = [(formula, form, chain) for formula in VECTOR_MAPS for form in FORMS for chain in (False, True)
         if not (form == "math form composed" and not chain)]  # composing functions in order is --chain's


@pytest.mark.parametrize(("formula", "form", "chain"), CASES)
def test_each_row_of_a_vector_output_is_undefined_only_where_its_own_entry_is(formula: str, form: str,
                                                                              chain: bool) -> None:
    body = VECTOR_MAPS[formula]
    cell, names = _cells(formula, body)[form]
    result = jacobian(cell, chain=chain)
    for values in POINTS + ([] if formula in EDGE_AT_ZERO else [ZEROS]):
        want = _composed(form, _expected(body, values))
        got = result.at(**_point(names, values))
        assert _same(got, want), (cell, chain, values, got, want)


@pytest.mark.parametrize("formula", ["sqrt(v)", "log(v)", "1/v", "acos(v/2)"])
@pytest.mark.parametrize("form", ["assignment", "math form", "def"])
def test_the_notes_name_only_the_undefined_rows(formula: str, form: str) -> None:
    """sqrt(v) at v = (-1, 2, 3) said "row k is undefined ... sqrt(v_1)" for rows 1, 2 and 3."""
    cell, names = _cells(formula, VECTOR_MAPS[formula])[form]
    for values in ([-3.0, 1.5, 0.5], [0.0, 1.0, 1.7], [0.6, 2.5, -3.0]):
        want = np.nonzero(np.isnan(_expected(VECTOR_MAPS[formula], values)).all(axis=1))[0].tolist()
        facts = jacobian(cell, at=_point(names, values)).facts
        assert [f.row for f in facts if isinstance(f, UndefinedRow)] == want, (cell, values, facts)


def test_sqrt_of_a_vector_at_one_negative_entry_is_undefined_in_that_row_only() -> None:
    """The reported case: `v: 3`, `f = sqrt(v)` at v = (-1, 2, 3) was nan in all three rows."""
    for chain in (False, True):
        got = jacobian("v: 3\nf = sqrt(v)", chain=chain).at(v=[-1.0, 2.0, 3.0])
        assert np.isnan(got[0]).all()
        assert np.allclose(got[1:], [[0, 0.5 / np.sqrt(2), 0], [0, 0, 0.5 / np.sqrt(3)]])


@pytest.mark.parametrize("chain", [False, True])
def test_a_declared_matrix_is_undefined_entry_by_entry(chain: bool) -> None:
    """W: 2x2, f = log(W) * 2 + W[0, 0]: row k (entry k of f, row-major) is undefined only where W's entry k is
    not > 0 (W[0, 0] is in every entry, but finite)."""
    want = _expected("np.log(v) * 2 + v[0]", [-1.0, 2.0, 0.5, -0.3])  # v: W's entries, row-major
    got = jacobian("W: 2x2\nf = log(W) * 2 + W[0, 0]", chain=chain).at(W=[[-1.0, 2.0], [0.5, -0.3]])
    assert _same(got, want), (got, want)


def test_a_guard_simplified_away_in_a_long_vector_is_placed_by_one_walk_of_the_entries() -> None:
    """sqrt(v)**2 is v to sympy: each guard sqrt(v_k) was placed by walking every entry for its symbols, guards x
    entries walks (2,000 entries: 10.6 s; 4,000 refused by the reading budget). Now 4,000 entries take 2.8 s
    under load; the bound is 20x that. The placement is checked on a small vector: the negative entry's row."""
    import time

    start = time.perf_counter()
    jacobian("v: 4000\nf = sqrt(v)**2")
    assert time.perf_counter() - start < 60
    values = np.asarray(jacobian("v: 3\nf = sqrt(v)**2").at(v=[-1.0, 2.0, 3.0]), dtype=float)
    assert np.isnan(values[0]).all() and np.array_equal(values[1:], [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
