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
import sympy as sp

from jacmagic.budget import Budget
from jacmagic.chain.evaluate import anonymous, lambdified, refuse_too_deep
from jacmagic.lazy import np
from jacmagic.model import Step, symbols_in
from jacmagic.notes import CheckResult

POINTS = 3
# Finite differences at 50 digits with this relative step are accurate to far below the float64 result they check,
# even for a steep map: the step's error grows with the third derivative times 1e-40, rounding's as 1e-50 / 1e-20
# (30 digits and 1e-12 call sin(50 u), seven times over, wrong).
_DIGITS, _STEP = 50, 1e-20
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
    refuse_too_deep(expressions)
    renamed, names = anonymous(expressions, arguments)
    return lambdified(names, renamed, modules=[_MPMATH_FUNCTIONS, "mpmath"])  # type: ignore[no-any-return]


def high_precision_chain(steps: Sequence[Step], arguments: Sequence[sp.Symbol],
                         outputs: Sequence[sp.Symbol]) -> Callable[..., list[Any]]:
    """The map of a chain too large to compose, at mpmath precision: its stages, each compiled apart from any
    derivative, evaluated in turn (as the forward pass does in floats)."""
    compiled = []
    for step in steps:
        names = tuple(step.inputs) + tuple(sorted(symbols_in(step.expressions) - set(step.inputs),
                                                  key=lambda s: s.name))
        compiled.append((step, names, high_precision_map(step.expressions, names)))

    def function(*values: Any) -> list[Any]:
        known: dict[sp.Symbol, Any] = dict(zip(arguments, values))
        for step, names, stage in compiled:
            fed = {**known, **{p: known[source] for p, source in zip(step.inputs, step.sources)}}
            known.update(zip(step.outputs, stage(*(fed[n] for n in names))))
        return [known[o] for o in outputs]
    return function


def high_precision_jacobian(function: Callable[..., list[Any]], point: Sequence[float],
                            columns: int) -> np.ndarray:
    """d function / d (first `columns` arguments) at `point` by central differences at 50 digits: nan where
    the map has no real value near the point."""
    return _differences(function, point, columns, sided=False)[0]


def _differences(function: Callable[..., list[Any]], point: Sequence[float], columns: int,
                 sided: bool = True) -> tuple[np.ndarray, bool]:
    """`high_precision_jacobian`, and (`sided`) whether the map breaks at the point along some input: its
    one-sided quotients differ (a kink, ReLU at 0; a step, where(x > 0, 1, 0) at 0), so the central one is no
    derivative and the point cannot judge the Jacobian."""
    broken = False
    with mpmath.workdps(_DIGITS):
        base = [mpmath.mpf(float(v)) for v in point]
        rows: list[list[float]] = []
        try:
            here = function(*base) if sided else []
            for j in range(columns):
                step = mpmath.mpf(_STEP) * max(1, abs(base[j]))
                up, down = list(base), list(base)
                up[j] += step
                down[j] -= step
                ahead, behind = function(*up), function(*down)
                rows.append([_real_float((a - b) / (2 * step)) for a, b in zip(ahead, behind)])
                for a, b, h in zip(ahead, behind, here):
                    sides = _real_float((a - h) / step), _real_float((h - b) / step)
                    broken |= not math.isclose(*sides, rel_tol=_RELATIVE, abs_tol=_ABSOLUTE)
        except (ArithmeticError, ValueError, TypeError, AttributeError):  # mpmath's atan2 of a complex
            return np.full((len(rows[0]) if rows else 1, columns), np.nan), broken
    return np.array(rows, dtype=float).T, broken


def sample_points(count: int, dimension: int, seed: int = 0) -> np.ndarray:
    """Points away from the usual trouble spots (0, 1, the axes), both signs."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.2, 1.6, size=(count, dimension)) * rng.choice([1.0, 1.0, -1.0], size=(count, dimension))


def _real_float(value: Any) -> float:
    if isinstance(value, mpmath.mpc):
        return float(value.real) if value.imag == 0 else math.nan
    return float(value)


def rounding(jacobian: np.ndarray, point: np.ndarray, values: np.ndarray) -> float:
    """The relative error that rounding to doubles alone may leave in a float Jacobian: a double's precision
    times the map's condition number (how much a relative change of the point is magnified in its values). A
    steep chain (sin(50 u) seven times over) has 1e14 and keeps only a few digits, right as they are."""
    with np.errstate(all="ignore"):
        condition = (float(np.max(np.abs(jacobian), initial=0.0)) * float(np.max(np.abs(point), initial=0.0))
                     / max(float(np.max(np.abs(values), initial=0.0)), np.finfo(float).tiny))
    return float(np.finfo(float).eps * condition) if math.isfinite(condition) else math.inf


def finite_difference_check(jacobian_at: Callable[[np.ndarray], np.ndarray], function: Callable[..., list[Any]],
                            arguments: Sequence[sp.Symbol], columns: int, first: np.ndarray | None = None,
                            budget: float = 2.0) -> CheckResult:
    """At how many points the Jacobian (`jacobian_at`, of a point: a value per argument) matched
    central differences, at 50 digits, of the map (`function`, in mpmath: `high_precision_map` or
    `high_precision_chain`), and the largest deviation. Allowed: 1e-6 relative, or what rounding to doubles
    leaves in the Jacobian where that is more, so that right numbers of a steep map are never called wrong.
    Points: `first` if given, then seeded random points where both are defined and the map does not break (a
    kink or a step at `first`: its one-sided differences differ, and neither is a derivative); all within
    `budget` seconds (mpmath never overflows: exp(exp(...)) nested deeply takes it ever more digits)."""
    candidates = list(sample_points(40, len(arguments)))
    if first is not None:
        candidates.insert(0, first)
    worst, checked, failed = 0.0, 0, 0
    clock = Budget(budget)
    for point in candidates:
        exact = jacobian_at(point)
        if not np.isfinite(exact).all():
            continue
        found = clock.run(lambda: _differences(function, point, columns), None)  # noqa: B023
        if found is None:
            return CheckResult(checked, failed, worst, POINTS, stopped_at=budget)
        approx, broken = found
        if broken or not np.isfinite(approx).all():  # a kink or a step here: no difference can judge it
            continue
        scale = max(1.0, float(np.max(np.abs(exact))))
        error = float(np.max(np.abs(exact - approx) / np.maximum(np.abs(exact), scale * _ABSOLUTE / _RELATIVE)))
        allowed = max(_RELATIVE, rounding(exact, point[:columns], _values(function, point)))
        worst = max(worst, error)
        checked += 1
        if error > allowed:
            failed += 1
        if checked == POINTS:
            break
    return CheckResult(checked, failed, worst, POINTS)


def _values(function: Callable[..., list[Any]], point: np.ndarray) -> np.ndarray:
    """The map at `point`, in floats; nan where mpmath finds no real value."""
    with mpmath.workdps(_DIGITS):
        try:
            return np.array([_real_float(v) for v in function(*(mpmath.mpf(float(p)) for p in point))])
        except (ArithmeticError, ValueError, TypeError, AttributeError):
            return np.array([math.nan])


@dataclass(frozen=True)
class AreaCheck:
    """The change-of-variables formula checked numerically: the integral of |det J| over the input rectangle
    against the area of its image, measured as a polygon from the mapped boundary. The polygon measures area
    counted with the boundary's winding (Green's theorem: the integral of det J with its sign), which is the image's
    area only for a one-to-one map; where det J takes both signs (a fold) or the boundary winds around a point more
    than once (an overlap) the map is not one-to-one, and the text says so."""

    integral: float
    image_area: float
    signed_integral: float  # the integral of det J with its sign: what the boundary's polygon measures
    windings: int  # the most times the mapped boundary winds around the image of an interior point

    @property
    def relative_difference(self) -> float:
        return abs(self.integral - self.image_area) / max(abs(self.image_area), 1e-300)

    @property
    def folds(self) -> bool:
        """det J takes both signs in the region (each sign more than rounding's share of the integral)."""
        flipped = (self.integral - self.signed_integral) / 2
        return min(flipped, self.integral - flipped) > 1e-9 * self.integral

    @property
    def one_to_one(self) -> bool:
        """No sign that the map is not one-to-one on the region: the formula compares the same two numbers."""
        return not self.folds and self.windings <= 1

    def __str__(self) -> str:
        said = (f"integral of |det J| over the region = {self.integral:.6g}; area of the image = "
                f"{self.image_area:.6g} (relative difference {self.relative_difference:.1e})")
        if self.folds:
            return (f"{said}; but det J takes both signs in this region, so the map folds and is not one-to-one "
                    "there: the boundary's polygon measures the integral of det J with its sign "
                    f"({self.signed_integral:.6g}, the parts of opposite orientation cancelling), and the "
                    "change-of-variables formula, which needs a one-to-one map, does not apply")
        if self.windings > 1:
            return (f"{said}; but the image's boundary winds {self.windings} times around some of its points: the "
                    f"map covers them {self.windings} times (not one-to-one), and both numbers count that area "
                    f"{self.windings} times")
        return said

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))
