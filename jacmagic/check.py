"""`--check`: compares the symbolic Jacobian with central finite differences of the map itself.

The finite differences use only the map's own expressions, compiled separately, so a wrong derivative cannot agree
with itself. Points: the `--at` point if given, then random points (seeded, so a cell shows the same check every
time) where the map and its Jacobian are defined.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .result import JacobianResult

POINTS = 3
_TOLERANCE = 1e-5


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


def finite_difference_check(result: JacobianResult) -> str:
    """One sentence: at how many points the Jacobian matched finite differences, and the largest deviation."""
    function = result.map_function()
    candidates = list(sample_points(40, len(result.arguments)))
    if result.options.at:
        candidates.insert(0, np.array(result.point_values(dict(result.options.at)), dtype=float))
    worst, checked, failures = 0.0, 0, []
    for point in candidates:
        exact = result.at(**dict(zip((s.name for s in result.arguments), point)))
        approx = central_differences(function, point, len(result.inputs))
        if not (np.isfinite(exact).all() and np.isfinite(approx).all()):
            continue
        error = float(np.max(np.abs(exact - approx) / np.maximum(1.0, np.abs(exact))))
        worst = max(worst, error)
        checked += 1
        if error > _TOLERANCE:
            failures.append(point)
        if checked == POINTS:
            break
    if checked == 0:
        return "check: no point was found where the map is defined, so nothing was compared"
    if failures:
        return (f"check FAILED: the Jacobian differs from central finite differences by {worst:.2g} "
                f"(relative) at {len(failures)} of {checked} points")
    return f"check passed: matches central finite differences at {checked} points (largest deviation {worst:.1g})"
