"""--check's own verdicts, each branch reached on purpose: passed, FAILED, nothing to compare; and the area check."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from jacmagic import jacobian
from jacmagic.chain.check import (
    AreaCheck,
    finite_difference_check,
    high_precision_jacobian,
    high_precision_map,
)
from jacmagic.chain.network_walk import walk
from jacmagic.views.notes import words
from jacmagic.views.verdicts import verdict_words

from .helpers import numeric_jacobian

x, y = sp.symbols("x y", real=True)
MAP = [x * y, sp.sin(x) * sp.exp(y)]


def right(point: np.ndarray) -> np.ndarray:
    a, b = point
    return np.array([[b, a], [math.cos(a) * math.exp(b), math.sin(a) * math.exp(b)]])


def map_at(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack([a * b, np.sin(a) * np.exp(b)], axis=-1)


def test_a_right_jacobian_passes_and_a_wrong_one_fails() -> None:
    passed = words(finite_difference_check(right, high_precision_map(MAP, (x, y)), (x, y), 2))
    assert passed.startswith("check passed: matches central finite differences at 3 points")

    def wrong(point: np.ndarray) -> np.ndarray:
        return right(point) * np.array([[1, 1], [1, 1.01]])  # one entry off by 1%

    assert words(finite_difference_check(wrong, high_precision_map(MAP, (x, y)), (x, y), 2)).startswith("check FAILED")


def test_the_given_point_is_checked_first() -> None:
    seen: list[np.ndarray] = []

    def recording(point: np.ndarray) -> np.ndarray:
        seen.append(point)
        return right(point)

    finite_difference_check(recording, high_precision_map(MAP, (x, y)), (x, y), 2, first=np.array([0.25, -3.0]))
    assert seen[0].tolist() == [0.25, -3.0] and len(seen) == 3


def test_nowhere_defined_says_nothing_was_compared() -> None:
    nowhere = high_precision_map([sp.log(-x**2 - 1)], (x,))
    undefined = words(finite_difference_check(lambda p: np.full((1, 1), np.nan), nowhere, (x,), 1))
    assert undefined == "check: no point was found where the map is defined, so nothing was compared"


def test_high_precision_differences_resolve_a_steep_map() -> None:
    """(x + 100)**4 near 0: float differences lose digits a 50-digit difference keeps."""
    function = high_precision_map([(x + 100) ** 4, sp.tanh(y)], (x, y))
    got = high_precision_jacobian(function, [0.5, 0.2], 2)
    assert np.allclose(got, [[4 * 100.5**3, 0], [0, 1 / math.cosh(0.2) ** 2]], rtol=1e-12)
    assert np.isnan(high_precision_jacobian(high_precision_map([sp.sqrt(x)], (x,)), [-1.0], 1)).all()


def test_area_check_reads_relative_difference() -> None:
    check = AreaCheck(integral=2.0, image_area=2.02, signed_integral=2.0, windings=1)
    assert check.relative_difference == pytest.approx(0.02 / 2.02)
    assert "relative difference 9.9e-03" in str(check)


def test_the_reference_map_uses_the_activations_own_definitions() -> None:
    from jacmagic.chain.functions import relu, sigmoid, softplus

    function = high_precision_map([sigmoid(x), relu(x), softplus(x)], (x,))
    with mpmath.workdps(30):
        values = function(mpmath.mpf("0.5"))
    assert [float(v) for v in values] == pytest.approx([1 / (1 + math.exp(-0.5)), 0.5, math.log1p(math.exp(0.5))])


@pytest.mark.parametrize("outer", ["atan2({}, 1)", "atan2(1, {})", "hypot({}, 2)", "max({}, 1)", "min({}, 2)",
                                   "relu({})", "sigmoid({})", "softplus({})", "cbrt({})", "erf({})", "abs({})",
                                   "heaviside({} - 2)", "sign({} - 2)", "where({} > 1, x, 2*x)", "atan({})"])
def test_check_survives_the_complex_values_mpmath_gives(outer: str) -> None:
    """--check of atan2(sqrt(x), 1) at 0.5 was `AttributeError: 'mpc' object has no attribute '_mpf_'`: at its
    random points of both signs, mpmath's sqrt of a negative number is complex, which atan2 and others refuse."""
    result = jacobian(f"f(x) = {outer.format('sqrt(x)')}", check=True, at={"x": 0.5})
    assert "check passed" in str(result)


STEEP = "\n".join(["u1 = sin(50*x)*y + x"] + [f"u{k} = sin(50*u{k - 1})*u{k - 1} + u{k - 1}*y" for k in range(2, 8)])


def steep(x: mpmath.mpf, y: mpmath.mpf) -> list[mpmath.mpf]:
    u = mpmath.sin(50 * x) * y + x
    for _ in range(6):
        u = mpmath.sin(50 * u) * u + u * y
    return [u]


@pytest.mark.parametrize("point", [(0.3, 1.1), (1.3, 0.9), (0.05, 2.0)])
def test_a_steep_chain_whose_numbers_are_right_matches(point: tuple[float, float]) -> None:
    """Seven stages of sin(50 u): float differences with a 1e-6 step said "DOES NOT match" and "check FAILED" of
    right numbers (derivatives up to 1e16). Right, here, is within what rounding to doubles allows the chain's own
    numbers (the map's condition number times a double's precision) of mpmath's own differentiation."""
    at = {"x": point[0], "y": point[1]}
    result = jacobian(STEEP, chain=True, at=at, check=True)
    walked = result.walkthrough()
    assert walked.agrees and "it matches" in verdict_words(walked.check)
    assert "check passed" in str(result)
    want = numeric_jacobian(steep, point)
    assert np.allclose(walked.gradient, want, rtol=max(1e-6, _rounding(point)))


def _rounding(point: tuple[float, float]) -> float:
    """What rounding to doubles allows the chain's own numbers: the map's relative condition number (|J| |p| / |f|)
    times a double's precision, at least."""
    value = float(steep(*point)[0])
    slopes = numeric_jacobian(steep, point)
    return 10 * float(np.abs(slopes).sum() * max(map(abs, point))) / abs(value) * np.finfo(float).eps


def test_a_steep_chain_with_a_wrong_local_jacobian_is_still_caught() -> None:
    result = jacobian(STEEP, chain=True, at={"x": 0.3, "y": 1.1})
    whole = result.whole
    assert whole is not None
    function = whole.precise_map  # the map --check differences, at 50 digits
    assert words(finite_difference_check(lambda p: result.at(x=p[0], y=p[1]), function, whole.arguments,
                                         2)).startswith("check passed")
    assert words(finite_difference_check(lambda p: result.at(x=p[0], y=p[1]) * 1.001, function, whole.arguments,
                                         2)).startswith("check FAILED")
    point = result.default_point()  # the walk's own check: rounding allowed, a 0.1% error is not
    assert walk(result.compiled, point, whole.at(x=0.3, y=1.1)).agrees
    off = walk(result.compiled, point, whole.at(x=0.3, y=1.1) * 1.001)
    assert off.agrees is False and "DOES NOT match" in verdict_words(off.check)


def test_a_chain_too_large_to_compose_is_checked_by_central_differences_not_by_its_own_product() -> None:
    """Found in review: ten 3 -> 3 function stages compose into a map too large to write out; its numbers stage by
    stage are the walk's own product of local Jacobians, so checking the walk against them checked nothing. It is
    checked by central differences of the map at 50 digits (a steep chain keeps its digits there)."""
    stages = ["f1(x, y, z) = [sin(x*y) + z, cos(y*z)*x, exp(z/3)*y]"] + [
        f"f{k}(a, b, c) = [sin(a*b) + c, cos(b*c)*a, exp(c/3)*b]" for k in range(2, 11)]
    result = jacobian("\n".join(stages), chain=True, at={"x": 0.1, "y": 0.2, "z": 0.3})
    assert result.whole is not None and result.whole.eager_matrix is None
    check = result.walkthrough().check
    assert check.agrees and check.against == "central"
