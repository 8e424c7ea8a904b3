"""A plain numpy def is undefined where numpy's value is: generated maps of a vector `v` or a number `x` built from
np.sqrt, np.log, 1/(.), np.arcsin, (.)**0.5, np.sum and np.where, at points with some entries outside the domain.
numpy is the reference (a row is undefined exactly where numpy's value of its entry is not finite, every other
row is numpy's central differences), and the math form of the same map gives the same rows and notes. A def's
stage had no guards: np.sqrt(v) at v = (-1, 2, 3) gave row 1 = [nan, 0, 0], np.sum(np.sqrt(v)) * v finite rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jacmagic import jacobian
from jacmagic.errors import CellError
from jacmagic.notes import UndefinedRow

from .test_properties import SCALE

# (numpy, math form) of each operation
UNARY = [("np.sqrt({})", "sqrt({})"), ("np.log({})", "log({})"), ("1/({})", "1/({})"),
         ("np.arcsin({})", "asin({})"), ("({})**0.5", "({})**0.5"), ("np.tanh({})", "tanh({})")]
BINARY = [("({}) + ({})", "({}) + ({})"), ("({}) * ({})", "({}) * ({})")]
# a restricted call sympy folds away as it computes (exp(log(a)) is a, sqrt(a)**2 is a, 0*sqrt(a) is 0, a - a is 0,
# a/a is 1): numpy's value is still nan where the call is
FOLD = [("np.exp(np.log({0}))", "exp(log({0}))"), ("np.sqrt({0})**2", "sqrt({0})**2"),
        ("0*np.sqrt({0}) + {1}", "0*sqrt({0}) + {1}"), ("np.log({0}) - np.log({0}) + {1}", "log({0}) - log({0}) + {1}"),
        ("({0})/({0}) * ({1})", "({0})/({0}) * ({1})")]
CHOICE = ("np.where({} > 0, {}, {})", "where({} > 0, {}, {})")
SUM = ("np.sum({})", "sum({})")
VALUES = [-2.6, -1.3, -0.45, -0.05, 0.2, 0.7, 1.15, 2.4]
STEP = 1e-6


@dataclass(frozen=True)
class Map:
    numpy: str
    math: str
    vector: bool = False


def _map(draw: st.DrawFn, name: str, depth: int, leaves: list[int]) -> Map:
    """A random map; each leaf `(c*name + d)` has its own shift, so that no two parts are alike and sympy cancels
    nothing as it traces (sqrt(v) * sqrt(v) would become v)."""
    kinds = ["leaf"] + (["unary", "binary", "choice", "fold"] + (["sum"] if name == "v" else []) if depth else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "leaf":
        leaves.append(len(leaves))
        scale = draw(st.sampled_from(["1", "-1", "2", "0.5"]))
        text = f"{scale}*{name} + {0.03 * (len(leaves) + 1) * (-1) ** len(leaves):.2f}"
        return Map(text, text, name == "v")
    parts = [_map(draw, name, depth - 1, leaves) for _ in range({"binary": 2, "choice": 2, "fold": 2}.get(kind, 1))]
    if kind == "choice":  # a condition of a leaf: numpy reads nan > 0 as False, where jacmagic has no condition
        parts.insert(0, _map(draw, name, 0, leaves))
    if kind == "sum" and not parts[0].vector:  # jacmagic refuses np.sum of a number
        return parts[0]
    numpy, math = {"unary": draw(st.sampled_from(UNARY)), "binary": draw(st.sampled_from(BINARY)),
                   "choice": CHOICE, "sum": SUM, "fold": draw(st.sampled_from(FOLD))}[kind]
    return Map(numpy.format(*(p.numpy for p in parts)), math.format(*(p.math for p in parts)),
               kind != "sum" and any(p.vector for p in parts))


@st.composite
def _cases(draw: st.DrawFn) -> tuple[str, Map, list[float]]:
    name = draw(st.sampled_from(["v", "x"]))
    inner = _map(draw, name, 2, [])
    numpy, math = draw(st.sampled_from(UNARY[:5]))  # a restricted call at the top: some rows undefined
    mapped = Map(numpy.format(inner.numpy), math.format(inner.math))
    size = 3 if name == "v" else 1
    return name, mapped, draw(st.lists(st.sampled_from(VALUES), min_size=size, max_size=size))


def _numpy(name: str, body: str, point: np.ndarray) -> np.ndarray:
    value = point if name == "v" else point[0]
    with np.errstate(all="ignore"):
        return np.atleast_1d(eval(body, {"np": np, name: value})).astype(float)  # noqa: S307 - the test's own text


def _expected(name: str, body: str, point: np.ndarray) -> np.ndarray | None:
    """numpy's Jacobian (nan rows where its value is not finite), or None where central differences cannot
    judge: a row whose value changes finiteness a step away (an edge of the domain or a jump of where), or whose
    differences at two step sizes disagree."""
    defined = np.isfinite(_numpy(name, body, point))
    columns = {}
    for step in (STEP, 10 * STEP):
        got = []
        for j in range(point.size):
            ahead, behind = point.copy(), point.copy()
            ahead[j] += step
            behind[j] -= step
            high, low = _numpy(name, body, ahead), _numpy(name, body, behind)
            if not (np.array_equal(np.isfinite(high), defined) and np.array_equal(np.isfinite(low), defined)):
                return None
            with np.errstate(all="ignore"):
                got.append((high - low) / (2 * step))
        columns[step] = np.stack(got, axis=-1)
    near, far = columns[STEP][defined], columns[10 * STEP][defined]
    if not np.allclose(near, far, rtol=1e-3, atol=1e-5):
        return None
    want = columns[STEP]
    want[~defined] = np.nan
    return want


def _cells(name: str, mapped: Map) -> tuple[str, str]:
    """The def and the math form of the map."""
    if name == "v":
        return f"v: 3\ndef f(v):\n    return {mapped.numpy}\n", f"v: 3\nf = {mapped.math}"
    return f"def f(x):\n    return {mapped.numpy}\n", f"f(x) = {mapped.math}"


def _undefined_rows(cell: str, point: dict[str, object]) -> list[int]:
    return [f.row for f in jacobian(cell, at=point).facts if isinstance(f, UndefinedRow)]


@settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases())
def test_a_plain_defs_rows_are_undefined_exactly_where_numpys_value_is(case: tuple[str, Map, list[float]]) -> None:
    name, mapped, values = case
    point = np.array(values)
    given_point: dict[str, object] = {"v": values} if name == "v" else {"x": values[0]}
    defined_cell, math_cell = _cells(name, mapped)
    try:
        math = jacobian(math_cell).at(**given_point)
    except CellError:  # the leaves cancel to a constant with no real value (sqrt(-0.09)): both forms refuse it
        with pytest.raises(CellError):
            jacobian(defined_cell)
        return
    got = jacobian(defined_cell).at(**given_point)
    assert np.array_equal(np.isnan(got), np.isnan(math)), (defined_cell, math_cell, values, got, math)
    assert np.allclose(got, math, rtol=1e-8, atol=1e-10, equal_nan=True), (defined_cell, values, got, math)
    assert _undefined_rows(defined_cell, given_point) == _undefined_rows(math_cell, given_point)
    want = _expected(name, mapped.numpy, point)
    assume(want is not None)
    assert want is not None
    assert np.array_equal(np.isnan(got).all(axis=1), np.isnan(want).all(axis=1)), (defined_cell, values, got, want)
    rows = ~np.isnan(want).all(axis=1)
    assert np.allclose(got[rows], want[rows], rtol=1e-4, atol=1e-5), (defined_cell, values, got, want)


def test_a_def_of_the_sqrt_of_a_vector_is_undefined_in_the_negative_entrys_row_only() -> None:
    """The reported case: np.sqrt(v) at v = (-1, 2, 3) gave row 1 = [nan, 0, 0] (numpy's value there is nan)."""
    got = jacobian("v: 3\ndef f(v):\n    return np.sqrt(v)\n").at(v=[-1.0, 2.0, 3.0])
    assert np.isnan(got[0]).all()
    assert np.allclose(got[1:], [[0, 0.5 / np.sqrt(2), 0], [0, 0, 0.5 / np.sqrt(3)]])


def test_a_def_summing_square_roots_is_undefined_in_every_row_where_one_root_is() -> None:
    """np.sum(np.sqrt(v)) * v at v = (-1, 2, 3): numpy's value is nan in every entry; rows 2 and 3 were finite."""
    got = jacobian("v: 3\ndef f(v):\n    return np.sum(np.sqrt(v)) * v\n").at(v=[-1.0, 2.0, 3.0])
    assert np.isnan(got).all()


def test_a_branch_of_a_defs_where_not_taken_leaves_its_row_defined() -> None:
    """np.where(v > 0, np.sqrt(v), 0) is 0 at a negative entry, as numpy gives: the sqrt there is not the map's."""
    got = jacobian("v: 2\ndef f(v):\n    return np.where(v > 0, np.sqrt(v), 0)\n").at(v=[-1.0, 4.0])
    assert np.allclose(got, [[0, 0], [0, 0.25]])


def test_a_sqrt_of_a_where_with_a_sum_in_a_branch_is_undefined_only_where_numpys_value_is() -> None:
    """Found by the family above in CI: at v = (-2.6, -2.6, -0.05) numpy's entry 3 is sqrt(0.04) (its where takes
    v + 0.09) and the def gives its row; the math form marked every row undefined: sqrt(where(...)) becomes a
    where of square roots, and the guard, taken for its first branch's root, counted for every entry holding
    that root's symbols (the sum in it holds them all). The guard is that entry's own where of roots."""
    body = "where(1*v + -0.12 > 0, sum(1*v + -0.06), 1*v + 0.09)"
    math = jacobian(f"v: 3\nf = sqrt({body})").at(v=[-2.6, -2.6, -0.05])
    assert np.array_equal(np.isnan(math), [[True] * 3, [True] * 3, [False] * 3])
