"""--check's own verdicts, each branch reached on purpose: passed, FAILED, nothing to compare; and the area check."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from jacmagic.check import (
    AreaCheck,
    finite_difference_check,
    high_precision_jacobian,
    high_precision_map,
)

x, y = sp.symbols("x y", real=True)
MAP = [x * y, sp.sin(x) * sp.exp(y)]


def right(point: np.ndarray) -> np.ndarray:
    a, b = point
    return np.array([[b, a], [math.cos(a) * math.exp(b), math.sin(a) * math.exp(b)]])


def map_at(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack([a * b, np.sin(a) * np.exp(b)], axis=-1)


def test_a_right_jacobian_passes_and_a_wrong_one_fails() -> None:
    passed = finite_difference_check(right, high_precision_map(MAP, (x, y)), (x, y), 2)
    assert passed.startswith("check passed: matches central finite differences at 3 points")

    def wrong(point: np.ndarray) -> np.ndarray:
        return right(point) * np.array([[1, 1], [1, 1.01]])  # one entry off by 1%

    assert finite_difference_check(wrong, high_precision_map(MAP, (x, y)), (x, y), 2).startswith("check FAILED")


def test_the_given_point_is_checked_first() -> None:
    seen: list[np.ndarray] = []

    def recording(point: np.ndarray) -> np.ndarray:
        seen.append(point)
        return right(point)

    finite_difference_check(recording, high_precision_map(MAP, (x, y)), (x, y), 2, first=np.array([0.25, -3.0]))
    assert seen[0].tolist() == [0.25, -3.0] and len(seen) == 3


def test_nowhere_defined_says_nothing_was_compared() -> None:
    nowhere = high_precision_map([sp.log(-x**2 - 1)], (x,))
    undefined = finite_difference_check(lambda p: np.full((1, 1), np.nan), nowhere, (x,), 1)
    assert undefined == "check: no point was found where the map is defined, so nothing was compared"


def test_high_precision_differences_resolve_a_steep_map() -> None:
    """(x + 100)**4 near 0: float differences lose digits a 50-digit difference keeps."""
    function = high_precision_map([(x + 100) ** 4, sp.tanh(y)], (x, y))
    got = high_precision_jacobian(function, [0.5, 0.2], 2)
    assert np.allclose(got, [[4 * 100.5**3, 0], [0, 1 / math.cosh(0.2) ** 2]], rtol=1e-12)
    assert np.isnan(high_precision_jacobian(high_precision_map([sp.sqrt(x)], (x,)), [-1.0], 1)).all()


def test_area_check_reads_relative_difference() -> None:
    check = AreaCheck(integral=2.0, image_area=2.02)
    assert check.relative_difference == pytest.approx(0.02 / 2.02)
    assert "relative difference 9.9e-03" in str(check)


def test_the_reference_map_uses_the_activations_own_definitions() -> None:
    from jacmagic.functions import relu, sigmoid, softplus

    function = high_precision_map([sigmoid(x), relu(x), softplus(x)], (x,))
    with mpmath.workdps(30):
        values = function(mpmath.mpf("0.5"))
    assert [float(v) for v in values] == pytest.approx([1 / (1 + math.exp(-0.5)), 0.5, math.log1p(math.exp(0.5))])
