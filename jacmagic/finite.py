"""Is every number of a point finite? One check for both ways a point is read: the compiled gradient's arrays as
given (`points.arrays_in_order`) and the value-by-value reading, which names the value (`options.refuse_not_finite`).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from functools import cache

from jacmagic.lazy import np

# OpenBLAS computes a dot of up to this many numbers on one thread; numpy checks arrays up to this size together in
# one call (a call costs more than their numbers).
_ONE_THREAD = 10_000


def all_finite(arrays: Collection[np.ndarray]) -> bool:
    """Does every array hold finite numbers only? An array of doubles up to 10,000 numbers is checked by the sum of
    its squares (one BLAS dot, half the time of testing every entry): finite exactly when every entry is, unless
    the squares are too large to add up (entries over about 1e154), so a total that is not finite sends every
    array to the exact test. The rest is tested entry by entry: other types as numpy's isfinite answers for them
    (an integer's square may wrap around), and larger arrays because BLAS shares a longer dot among threads,
    whose waking costs milliseconds on a loaded machine."""
    total, rest, double = 0.0, [], _double()
    for array in arrays:
        if array.size <= _ONE_THREAD and array.dtype is double:  # the native dtype: `_double`
            total += float(np.vdot(array, array))  # Python floats: overflow to inf, no warning
        else:
            rest.append(array)
    if not math.isfinite(total):
        return entries_finite(arrays)
    return not rest or entries_finite(rest)


@cache
def _double() -> np.dtype:
    """numpy's dtype of doubles, one object (compared by identity: the cheapest test), made on first use (numpy is
    imported lazily)."""
    return np.dtype(np.float64)


def entries_finite(arrays: Collection[np.ndarray]) -> bool:
    """`all_finite` by testing every entry: the small arrays together (one numpy call), each larger one alone."""
    small = [array for array in arrays if array.size <= _ONE_THREAD]
    return (not small or finite_array(np.concatenate(small, axis=None))) and all(
        finite_array(array) for array in arrays if array.size > _ONE_THREAD)


def finite_array(array: np.ndarray) -> bool:
    """Is every entry of one array finite?"""
    return bool(np.logical_and.reduce(np.isfinite(array), axis=None))
