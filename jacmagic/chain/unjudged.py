"""Where the map's own values confirm that a derivative does not exist: the check along directions sets a column
aside only there, never where the walk merely failed to compute one, and a vertical tangent is named only where
the values show one. Also the columns at the edge of the domain, where the walk's number is defined (one-sided)
but no central difference can confirm it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

# The most columns confirmed one by one (four forward passes each); past it, a seeded sample of this many.
CONFIRMED_COLUMNS = 32


def smooth_columns(point: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, int]], wrt: Sequence[str],
                   outputs: np.ndarray, jacobian: np.ndarray, candidates: np.ndarray,
                   evaluate: Callable[[Mapping[str, np.ndarray]], np.ndarray]) -> np.ndarray:
    """Which of the `candidates` (columns the walk left undefined where the output has a value) the map is
    differentiable along: moved a step h and h/4 both ways along that input alone, every such output has a value,
    the forward and backward quotients agree (no kink: a norm at 0, a tied max) and so do the central ones at the
    two steps (no vertical tangent: ∛x at 0 grows as the step shrinks). A smooth column's nan is the walk's
    failure, not the map's, and is judged. At most `CONFIRMED_COLUMNS` are tried (a seeded sample): the rest are
    left to the reason the walk gives."""
    columns = np.flatnonzero(candidates)
    if columns.size > CONFIRMED_COLUMNS:
        columns = np.random.default_rng(0).choice(columns, CONFIRMED_COLUMNS, replace=False)
    starts = np.cumsum([0] + [shapes[n][0] * shapes[n][1] for n in wrt])
    smooth = np.zeros(candidates.shape, dtype=bool)
    for j in columns:
        k = int(np.searchsorted(starts, j, side="right")) - 1
        name, entry = wrt[k], np.unravel_index(j - starts[k], shapes[wrt[k]])
        rows = np.isfinite(outputs) & ~np.isfinite(jacobian[:, j])
        h = 1e-6 * max(1.0, abs(float(point[name][entry])))
        moved = {}
        for step in (h, -h, h / 4, -h / 4):
            array = point[name].copy()
            array[entry] += step
            moved[step] = evaluate({**point, name: array})[rows]
        with np.errstate(all="ignore"):
            ahead, behind = (moved[h] - outputs[rows]) / h, (outputs[rows] - moved[-h]) / h
            central, finer = (moved[h] - moved[-h]) / (2 * h), (moved[h / 4] - moved[-h / 4]) / (h / 2)
            smooth[j] = bool(np.isfinite([*moved.values()]).all() and _close(ahead, behind) and
                             _close(central, finer))
    return smooth


def vertical(z: np.ndarray, value: np.ndarray, slope: np.ndarray, moved: Callable[[np.ndarray], np.ndarray]
             ) -> str | None:
    """Where an entry-by-entry operation has no derivative though its value is finite and its slope is not (√z and
    z^0.5 at 0, asin at 1: a vertical tangent): "at" the operand's value when every such entry has the same one,
    else "here"; None if nowhere. The map's own values decide, not the slope: a neighbour a hair away
    (`moved(z ± h)`) has no value (the edge of the domain), or the difference quotient there is past 10⁶. A
    slope that is wrong where the values are smooth gets no excuse, and the walk's check calls it wrong."""
    where = np.broadcast_to(np.isfinite(value) & ~np.isfinite(slope), np.shape(value))
    if where.any():
        h = 1e-12 * np.maximum(1.0, np.abs(z))
        with np.errstate(all="ignore"):
            ahead, behind = moved(z + h), moved(z - h)
            where = where & (~np.isfinite(ahead) | ~np.isfinite(behind) | (np.abs(ahead - behind) > 2e6 * h))
    if not where.any():
        return None
    at = np.unique(np.broadcast_to(z, where.shape)[where])
    return f"at {at[0]:g}" if at.size == 1 else "here"


def edge_columns(point: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, int]], wrt: Sequence[str],
                 defined: np.ndarray, candidates: np.ndarray, step: float,
                 outside: Callable[[Mapping[str, np.ndarray]], tuple[np.ndarray, str | None]]
                 ) -> tuple[np.ndarray, str | None]:
    """Which of the `candidates` columns a step of `step` along that input alone, one way or the other, leaves
    the map's domain from (`outside`: which outputs have no value at a point, a domain error, not an overflow,
    and the operation that has none; of the outputs `defined` here): x^1.5 at 0, whose derivative is one-sided.
    And why, in words. At most `CONFIRMED_COLUMNS` are tried (a seeded sample)."""
    columns = np.flatnonzero(candidates)
    if columns.size > CONFIRMED_COLUMNS:
        columns = np.random.default_rng(0).choice(columns, CONFIRMED_COLUMNS, replace=False)
    starts = np.cumsum([0] + [shapes[n][0] * shapes[n][1] for n in wrt])
    edge = np.zeros(candidates.shape, dtype=bool)
    why: str | None = None
    for j in columns:
        k = int(np.searchsorted(starts, j, side="right")) - 1
        name, entry = wrt[k], np.unravel_index(j - starts[k], shapes[wrt[k]])
        for sign in (1.0, -1.0):
            array = point[name].copy()
            array[entry] += sign * step
            lost, named = outside({**point, name: array})
            if (lost & defined).any():
                edge[j] = True
                why = why or named
                break
    return edge, why and (f"{why}: this point is at the edge of the domain, the derivative here is one-sided, "
                          "and a central difference steps outside")


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal to what a step of 1e-6 leaves in a difference quotient of a smooth map (a kink differs by its jump)."""
    return bool(np.allclose(a, b, rtol=1e-3, atol=1e-3))
