"""`result.area(domain)`: the change-of-variables formula checked over a rectangle of inputs, and the ranges a
domain may give (the pictures' `--domain` and `domain=` too)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from jacmagic.chain.check import AreaCheck
from jacmagic.errors import OptionError
from jacmagic.options import refuse_undrawable
from jacmagic.views import grids

if TYPE_CHECKING:
    from jacmagic.symbolic import SymbolicJacobian

_BOUNDARY = 400  # points per side when a boundary is mapped
_PROBE_EVERY = 20  # every 20th midpoint of the 400 x 400 grid (20 x 20 points) is tested for being covered twice


def domain_ranges(result: SymbolicJacobian, given: Mapping[str, Any], what: str) -> dict[str, tuple[float, float]]:
    """A domain as ranges by input, each checked, so that a mistake is said rather than ignored or a nan: a name of
    an input (a constant is held at the point: it has no range), a pair of numbers low < high a grid can be laid
    on."""
    result.check_names(given, what)
    inputs = [s.name for s in result.inputs]
    ranges = {}
    for name, pair in given.items():
        if name not in inputs:
            raise OptionError(f"{what}{name} is held fixed (a constant), not an input; the ranges are over "
                              f"{', '.join(inputs)}")
        try:
            lo, hi = (float(end) for end in pair)
        except (TypeError, ValueError):
            raise OptionError(f"{what}{name} needs a range (low, high), not {pair!r}") from None
        refuse_undrawable(name, lo, hi, what)
        ranges[name] = (lo, hi)
    return ranges


def area(result: SymbolicJacobian, domain: Mapping[str, Any], point: Mapping[str, float] | None = None,
         count: int = 400) -> AreaCheck:
    """`result.area(...)`: the integral of |det J| (and of det J with its sign) by the midpoint rule, the area inside
    the mapped boundary by the shoelace formula, and how many times that boundary winds around the images of
    interior points, for a map of the plane."""
    if result.shape != (2, 2):
        raise OptionError("the area check is for maps of the plane (2 inputs, 2 outputs)")
    first, second = (s.name for s in result.inputs)
    ranges = domain_ranges(result, domain, "area: ")
    missing = [name for name in (first, second) if name not in ranges]
    if missing:
        raise OptionError(f"area: no range for {missing[0]}; the region is a rectangle over {first} and {second}")
    point = {**result.default_point(), **(point or {})}
    (a, b), (c, d) = ranges[first], ranges[second]
    du, dv = (b - a) / count, (d - c) / count
    centres = grids.plane(result, point, {first: (a + du / 2, b - du / 2), second: (c + dv / 2, d - dv / 2)}, count)
    dets = grids.det(grids.jacobians(result, centres.arguments))
    u, v = grids.rectangle((a, c), (b, d), _BOUNDARY)
    boundary = grids.image(result, grids.arguments(result, point, {first: u, second: v}))
    every = slice(_PROBE_EVERY // 2, None, _PROBE_EVERY)
    probes = grids.image(result, grids.arguments(result, point, {first: centres.u[every, every],
                                                                 second: centres.v[every, every]}))
    return AreaCheck(float(np.nansum(np.abs(dets))) * du * dv, grids.polygon_area(boundary[:, 0], boundary[:, 1]),
                     float(np.nansum(dets)) * du * dv, _most_windings(boundary, probes.reshape(-1, 2)))


def _most_windings(polygon: np.ndarray, points: np.ndarray) -> int:
    """The most times the closed polygon (N, 2) winds around any of the points (K, 2): more than once, the map
    covers those points more than once. 1 (no evidence) where the polygon or the points are undefined."""
    with np.errstate(all="ignore"):
        angles = np.arctan2(polygon[None, :, 1] - points[:, None, 1], polygon[None, :, 0] - points[:, None, 0])
        turns = np.angle(np.exp(1j * (np.roll(angles, -1, axis=1) - angles))).sum(axis=1) / (2 * np.pi)
    turns = turns[np.isfinite(turns)]
    return int(np.max(np.abs(np.rint(turns)), initial=1))
