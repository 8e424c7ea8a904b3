"""np.where in a --chain def takes every condition numpy takes, with numpy's meaning: == and != compare values, a
number (traced or not) holds where it is not 0, & | ^ ~ and np.logical_* combine tests. The array walk refused all
but <, <=, >, >= ("np.where traces a comparison of traced arrays as its condition") while the plain def and the
math form accepted them. Compared with numpy (central differences of the map with its condition decided at the
point: the condition carries no gradient) and with the plain def's numbers at the same points."""

from __future__ import annotations

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.errors import CellError
from tests.helpers import assert_close
from tests.test_choices_by_entry import (
    CONDITIONS,
    OTHERWISE,
    SCALAR_POINTS,
    THEN,
    VECTORS_XY,
    _by_name,
    _central,
    _frozen,
)

# conditions the generated family leaves out: xor, numpy's named comparisons, booleans written out
MORE = ["np.logical_xor(x > 0, y)", "(x > 0) ^ (y < 0.5)", "np.equal(x, y)", "np.not_equal(x, 0)", "x == 0",
        "y != 0", "x", "np.logical_not(x * y)", "True", "(x >= y) & True", "~(x == y) | (y > 1)", "2.5", "0"]
ALL = [c[0] for c in CONDITIONS] + MORE


def _def(condition: str, shapes: str) -> str:
    return f"{shapes}def f(x, y):\n    return np.where({condition}, {THEN}, np.{OTHERWISE})\n"


@pytest.mark.parametrize("condition", ALL)
def test_a_chain_def_chooses_as_numpy_does_for_numbers(condition: str) -> None:
    chained, plain = (jacobian(_def(condition, ""), chain=chain) for chain in (True, False))
    for x, y in SCALAR_POINTS:
        want = _central(_frozen(condition)(np.array([x]), np.array([y])), np.array([x, y]))
        got = chained.at(x=x, y=y)
        assert np.allclose(got, want, rtol=1e-5, atol=1e-5), (condition, (x, y), got, want)
        assert np.allclose(got, plain.at(x=x, y=y), rtol=1e-9, atol=1e-12), (condition, (x, y))


@pytest.mark.parametrize("condition", ALL)
def test_a_chain_def_chooses_as_numpy_does_entry_by_entry(condition: str) -> None:
    cell = _def(condition, "x: 5\ny: 5\n")
    chained, plain = (jacobian(cell, chain=chain) for chain in (True, False))
    for point in VECTORS_XY:
        x, y = (np.array(point[name]) for name in "xy")
        want = _central(_frozen(condition)(x, y), np.concatenate([x, y]))
        got = _by_name(chained, chained.at(**point))
        assert np.allclose(got, want, rtol=1e-5, atol=1e-5), (condition, point, got, want)
        assert np.allclose(got, _by_name(plain, plain.at(**point)), rtol=1e-9, atol=1e-12), (condition, point)


@pytest.mark.parametrize("condition", ["v != 0", "np.not_equal(v, 0)", "v", "~(v == 0)"])
def test_a_chain_def_dividing_where_not_zero_takes_the_other_branch_at_zero(condition: str) -> None:
    """np.where(v != 0, 1/v, 0) at v = (0, 2, -0.5) with --chain was refused; numpy takes 0 in the first entry."""
    cell = f"v: 3\ndef f(v):\n    return np.where({condition}, 1/v, 0)\n"
    result = jacobian(cell, chain=True, at={"v": [0.0, 2.0, -0.5]})
    assert_close(result.at(v=[0.0, 2.0, -0.5]), np.diag([0.0, -0.25, -4.0]))
    assert result.notes == ()


def test_a_chain_def_combining_a_comparison_with_a_number_by_and_is_refused_as_numpy_refuses_it() -> None:
    """(x > 0) & y of float arrays is a TypeError in numpy; the refusal names the line and the ways that work."""
    with pytest.raises(TypeError):
        np.array([True]) & np.array([1.5])  # noqa: B018 - numpy's own refusal, for the record
    with pytest.raises(CellError, match=r"line 2.*& of a comparison and a number.*np\.logical_and") as raised:
        jacobian("def f(x, y):\n    return np.where((x > 0) & y, x, y)\n", chain=True)
    assert raised.value.line == 2
