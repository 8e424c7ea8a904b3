"""`R.at` of a --chain cell at arrays of points, as a plain cell takes them: numbers (undeclared 1 x 1 names) given
as numpy arrays that broadcast together give (..., m, n), one Jacobian per point. Declared arrays given beside them
keep their meaning: one point.

The Jacobian written out entry by entry evaluates every point at once (vectorised); a network too large to write
out is walked point by point, after an estimate of the work refuses a loop that would take minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import sympy as sp

from jacmagic.errors import OptionError
from jacmagic.lazy import np
from jacmagic.options import points_shape

if TYPE_CHECKING:
    from jacmagic.chain.network_walk import Cost
    from jacmagic.symbolic import SymbolicJacobian


class _Chained(Protocol):
    """What of a --chain cell's `result.JacobianResult` this reads (that module imports this one)."""

    @property
    def whole(self) -> SymbolicJacobian | None: ...
    @property
    def names(self) -> tuple[str, ...]: ...
    @property
    def inputs(self) -> tuple[sp.Symbol, ...]: ...
    @property
    def shape(self) -> tuple[int, int]: ...
    @property
    def cost(self) -> Cost: ...
    def _is_number(self, name: str) -> bool: ...
    def _located(self, values: Mapping[str, Any], copy: bool = True
                 ) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, ...]]]: ...
    def at(self, /, **values: Any) -> np.ndarray: ...


# The walk point by point does at most this many multiply-adds in all: about a second of numpy.
MAX_LOOPED_WORK = 1_000_000_000
# What one point costs beyond its multiply-adds (reading the point, Python per line), in multiply-adds: a walk of a
# two-line cell took 90 us a point (measured, 1,000 points), some 100,000 multiply-adds of numpy's time.
POINT_OVERHEAD = 100_000


def points_given(result: _Chained, values: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The numbers given as numpy arrays of several points, by name (empty: one point, read as always). A declared
    array's value is one point, whatever its size."""
    return {name: value for name, value in values.items() if isinstance(value, np.ndarray) and value.size > 1
            and name in result.names and result._is_number(name)}


def whole_columns(result: _Chained) -> list[int]:
    """Which column of the Jacobian written out entry by entry is each of the network's columns (`inputs`)."""
    assert result.whole is not None
    order = {s.name: j for j, s in enumerate(result.whole.inputs)}
    return [order[s.name] for s in result.inputs]


def jacobian_at_points(result: _Chained, values: Mapping[str, Any], many: dict[str, np.ndarray]
                       ) -> np.ndarray:
    """J at every point of the arrays `many` broadcast together, (..., m, n); the other names at their one value
    (given here, else --at's)."""
    shape = points_shape(many)
    one = {**values, **{name: a.flat[0] for name, a in many.items()}}
    point = result._located(one, copy=False)[0]  # the rest of the point, and a refusal for a name not given
    if result.whole is not None:
        rest = {n: float(v[0, 0]) if result._is_number(n) else v for n, v in point.items() if n not in many}
        return result.whole.at(**rest, **many)[..., whole_columns(result)]
    return _walked_point_by_point(result, values, many, shape)


def _walked_point_by_point(result: _Chained, values: Mapping[str, Any], many: dict[str, np.ndarray],
                           shape: tuple[int, ...]) -> np.ndarray:
    """Each point walked as one point is (the same reading and checks), after the estimate of the work."""
    count = int(np.prod(shape))
    work = count * (result.cost.reverse + POINT_OVERHEAD)
    if work > MAX_LOOPED_WORK:
        raise OptionError(f"at: {count:,} points of this network, too large to write out, are walked one by one, "
                          f"about {work:,} multiply-adds (at most {MAX_LOOPED_WORK:,}); give fewer points at a "
                          "time (a slice of the arrays) and join the results")
    spread = {name: np.broadcast_to(a, shape) for name, a in many.items()}
    found = [result.at(**{**values, **{n: a[index] for n, a in spread.items()}}) for index in np.ndindex(shape)]
    return np.stack(found).reshape(*shape, *result.shape)
