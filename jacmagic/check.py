"""`--check`: compares the symbolic Jacobian with central finite differences of the map itself.

The finite differences use only the map's own expressions, compiled separately, so a wrong derivative cannot agree
with itself. Points: the `--at` point if given, then random points (seeded, so a cell shows the same check every
time) where the map and its Jacobian are defined.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .evaluate import anonymous

POINTS = 3
# Finite differences at 30 digits with this relative step are accurate to far below the float64 result they check.
_DIGITS, _STEP = 30, 1e-12
_RELATIVE, _ABSOLUTE = 1e-6, 1e-9


def _real_cbrt(z: mpmath.mpf) -> mpmath.mpf:
    return mpmath.sign(z) * mpmath.cbrt(abs(z))


# The activations and the real cube root, for mpmath: the map is evaluated with its own definitions.
_MPMATH_FUNCTIONS = {
    "sigmoid": lambda z: 1 / (1 + mpmath.exp(-z)), "relu": lambda z: max(0, z),
    "softplus": lambda z: mpmath.log1p(mpmath.exp(z)), "cbrt": _real_cbrt, "sign": mpmath.sign,
}


def high_precision_map(expressions: Sequence[sp.Expr], arguments: Sequence[sp.Symbol]) -> Callable[..., list[Any]]:
    """The map itself at mpmath precision, compiled apart from any derivative."""
    renamed, names = anonymous(expressions, arguments)
    function = sp.lambdify(names, renamed, modules=[_MPMATH_FUNCTIONS, "mpmath"])
    return function  # type: ignore[no-any-return]


def high_precision_jacobian(function: Callable[..., list[Any]], point: Sequence[float],
                            columns: int) -> np.ndarray:
    """d function / d (first `columns` arguments) at `point` by central differences at 30 digits: nan where
    the map has no real value near the point."""
    with mpmath.workdps(_DIGITS):
        base = [mpmath.mpf(float(v)) for v in point]
        rows: list[list[float]] = []
        for j in range(columns):
            step = mpmath.mpf(_STEP) * max(1, abs(base[j]))
            up, down = list(base), list(base)
            up[j] += step
            down[j] -= step
            try:
                pairs = zip(function(*up), function(*down))
                rows.append([_real_float((a - b) / (2 * step)) for a, b in pairs])
            except (ArithmeticError, ValueError, TypeError, AttributeError):  # mpmath's atan2 of a complex
                return np.full((len(rows[0]) if rows else 1, columns), np.nan)
    return np.array(rows, dtype=float).T


def central_differences(function: Callable[..., np.ndarray], point: np.ndarray, columns: int) -> np.ndarray:
    """d f / d (first `columns` arguments) at `point`, by central differences with a relative step; `function`
    takes one array per argument and returns the outputs along the last axis."""
    steps = 1e-6 * np.maximum(1.0, np.abs(point[:columns]))
    shifted = np.repeat(point[None, :], 2 * columns, axis=0)
    for j in range(columns):
        shifted[2 * j, j] += steps[j]
        shifted[2 * j + 1, j] -= steps[j]
    values = function(*shifted.T)  # (2n, m)
    with np.errstate(all="ignore"):
        return ((values[0::2] - values[1::2]) / (2 * steps[:, None])).T


def sample_points(count: int, dimension: int, seed: int = 0) -> np.ndarray:
    """Points away from the usual trouble spots (0, 1, the axes), both signs."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.2, 1.6, size=(count, dimension)) * rng.choice([1.0, 1.0, -1.0], size=(count, dimension))


def _real_float(value: Any) -> float:
    if isinstance(value, mpmath.mpc):
        return float(value.real) if value.imag == 0 else math.nan
    return float(value)


def finite_difference_check(jacobian_at: Callable[[np.ndarray], np.ndarray], map_at: Callable[..., np.ndarray],
                            expressions: Sequence[sp.Expr] | None, arguments: Sequence[sp.Symbol], columns: int,
                            first: np.ndarray | None = None) -> str:
    """One sentence: at how many points the Jacobian (`jacobian_at`, of a point: a value per argument) matched
    finite differences of the map, and the largest deviation.

    Given its `expressions`, the map is differentiated numerically at 30 digits; else (a chain too large to
    compose) `map_at` is, in floats with a looser tolerance. So a correct Jacobian of a steep or large function
    is not called wrong. Points: `first` if given, then seeded random points where both are defined."""
    precise = expressions is not None
    function = high_precision_map(expressions, arguments) if expressions is not None else None
    candidates = list(sample_points(40, len(arguments)))
    if first is not None:
        candidates.insert(0, first)
    worst, checked, failures = 0.0, 0, []
    for point in candidates:
        exact = jacobian_at(point)
        approx = (high_precision_jacobian(function, point, columns) if function is not None
                  else central_differences(map_at, point, columns))
        if not (np.isfinite(exact).all() and np.isfinite(approx).all()):
            continue
        scale = max(1.0, float(np.max(np.abs(exact))))
        error = float(np.max(np.abs(exact - approx) / np.maximum(np.abs(exact), scale * _ABSOLUTE / _RELATIVE)))
        worst = max(worst, error)
        checked += 1
        if error > (_RELATIVE if precise else 1e-4):
            failures.append(point)
        if checked == POINTS:
            break
    if checked == 0:
        return "check: no point was found where the map is defined, so nothing was compared"
    if failures:
        return (f"check FAILED: the Jacobian differs from central finite differences by {worst:.2g} "
                f"(relative) at {len(failures)} of {checked} points")
    return f"check passed: matches central finite differences at {checked} points (largest deviation {worst:.1g})"


@dataclass(frozen=True)
class AreaCheck:
    """The change-of-variables formula checked numerically: the integral of |det J| over the input rectangle
    against the area of its image, measured as a polygon from the mapped boundary (valid for a one-to-one map)."""

    integral: float
    image_area: float

    @property
    def relative_difference(self) -> float:
        return abs(self.integral - self.image_area) / max(abs(self.image_area), 1e-300)

    def __str__(self) -> str:
        return (f"integral of |det J| over the region = {self.integral:.6g}; area of the image = "
                f"{self.image_area:.6g} (relative difference {self.relative_difference:.1e})")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))
