"""The map and its Jacobian on grids of inputs, and the plane geometry shared by the `--plot` pictures and the area
check: every number comes from the result's vectorised evaluators (whole grids in one call)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from jacmagic.symbolic import SymbolicJacobian


@dataclass(frozen=True, eq=False)
class Plane:
    """A grid over two inputs, every other argument held at the point: arguments for the evaluators."""

    u: np.ndarray
    v: np.ndarray
    arguments: list[Any]


def plane(result: SymbolicJacobian, point: Mapping[str, float], domain: Mapping[str, tuple[float, float]],
          count: int, axes: tuple[int, int] = (0, 1)) -> Plane:
    names = [s.name for s in result.inputs]
    first, second = names[axes[0]], names[axes[1]]
    u, v = np.meshgrid(np.linspace(*domain[first], count), np.linspace(*domain[second], count))
    return Plane(u, v, arguments(result, point, {first: u, second: v}))


def arguments(result: SymbolicJacobian, point: Mapping[str, float], varying: Mapping[str, Any]) -> list[Any]:
    """The evaluators' arguments: the `varying` inputs' arrays, every other argument held at the point."""
    return [varying.get(s.name, point[s.name]) for s in result.arguments]


def image(result: SymbolicJacobian, values: list[Any]) -> np.ndarray:
    """The map at the points, (..., m)."""
    return result.map_function()(*[np.asarray(a, dtype=float) for a in values])


def jacobians(result: SymbolicJacobian, values: list[Any]) -> np.ndarray:
    """J at the points, (..., m, n)."""
    return result.at(**dict(zip((s.name for s in result.arguments), np.broadcast_arrays(*values))))


def det(matrices: np.ndarray) -> np.ndarray:
    """det J at the points (square Jacobians); nan where J is undefined."""
    with np.errstate(all="ignore"):
        return np.linalg.det(np.nan_to_num(matrices, nan=np.nan))


def polygon_area(x: np.ndarray, y: np.ndarray) -> float:
    """The shoelace formula: the area inside a closed polyline (taken in either orientation)."""
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def rectangle(lo: tuple[float, float], hi: tuple[float, float], per_side: int) -> tuple[np.ndarray, np.ndarray]:
    """The boundary of a rectangle, walked once around."""
    t = np.linspace(0, 1, per_side, endpoint=False)
    u = np.concatenate([lo[0] + t * (hi[0] - lo[0]), np.full_like(t, hi[0]), hi[0] - t * (hi[0] - lo[0]),
                        np.full_like(t, lo[0])])
    v = np.concatenate([np.full_like(t, lo[1]), lo[1] + t * (hi[1] - lo[1]), np.full_like(t, hi[1]),
                        hi[1] - t * (hi[1] - lo[1])])
    return u, v
