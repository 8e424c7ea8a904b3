"""One finiteness check serves both ways a point is read (`finite.all_finite`): the compiled gradient's arrays as
given (`points.arrays_in_order`) and the value-by-value reading that names the value (`options.refuse_not_finite`).
Its sum of squares must say finite exactly where numpy's isfinite says every entry is, for every dtype (only
doubles are dotted: an integer's square wraps around, a float32's overflows at 1.8e19) and for huge finite entries
whose squares overflow (accepted: the exact test decides)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jacmagic import finite, points
from jacmagic.errors import OptionError
from jacmagic.options import refuse_not_finite

from .test_properties import SCALE

_FLOATS = [np.dtype(np.float64), np.dtype(">f8"), np.dtype(np.float32), np.dtype(np.float16),
           np.dtype(np.complex128)]
_OTHERS = [np.dtype(np.int64), np.dtype(np.int8), np.dtype(np.uint64), np.dtype(bool), np.dtype(object)]
_SIZES = [0, 1, 2, 7, 12, 100, 10_000, 10_001, 20_000]
_SPECIALS = [np.nan, np.inf, -np.inf]


@st.composite
def _array(draw: Any, dtypes: list[np.dtype] = _FLOATS + _OTHERS) -> np.ndarray:
    """An array of one dtype: random entries (huge ones among them: squares past the largest double), a few nans
    or infinities at random places where the dtype holds them, 1-D, 2-D or a strided view."""
    dtype = draw(st.sampled_from(dtypes))
    size = draw(st.sampled_from(_SIZES[:6] if dtype.kind == "O" else _SIZES))  # object arrays: small (slow)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    largest = float(np.finfo(dtype).max) if dtype.kind in "fc" else 1.0
    scale = draw(st.sampled_from([1.0, 1e3, largest ** 0.5 * 10, largest / 2])) if dtype.kind in "fc" else 1.0
    values: np.ndarray = rng.uniform(-1.0, 1.0, size) * scale
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size, dtype=dtype, endpoint=True)  # squares wrap around
    elif dtype.kind == "b":
        values = rng.random(size) < 0.5
    elif dtype.kind == "c":
        values = values + 1j * rng.uniform(-1.0, 1.0, size) * scale
    else:
        values = values.astype(np.float64 if dtype.kind == "O" else dtype)
    if dtype.kind in "fcO" and size:
        for _ in range(draw(st.integers(0, 2))):
            place, special = rng.integers(size), draw(st.sampled_from(_SPECIALS))
            values[place] = special if dtype.kind != "c" or draw(st.booleans()) else complex(0.0, special)
    array = np.array(values.tolist(), dtype=object) if dtype.kind == "O" else values.astype(dtype)
    form = draw(st.sampled_from(["flat", "matrix", "view"]))
    if form == "matrix" and size % 4 == 0 and size:
        return array.reshape(4, -1).T
    return array[::2] if form == "view" else array


def _numpy_says(arrays: list[np.ndarray]) -> bool | type[TypeError]:
    """Every entry finite by numpy's isfinite, array by array; TypeError where isfinite takes no such values
    (Python objects: as the value-by-value reading answered before the two checks were one, whatever else the
    point holds)."""
    try:
        return all([bool(np.isfinite(array).all()) for array in arrays])
    except TypeError:
        return TypeError


def _answer(arrays: list[np.ndarray]) -> bool | type[TypeError]:
    try:
        return finite.all_finite(arrays)
    except TypeError:
        return TypeError


@settings(max_examples=150 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_array(), min_size=1, max_size=4))
def test_every_dtype_is_finite_exactly_where_numpy_says_every_entry_is(arrays: list[np.ndarray]) -> None:
    assert _answer(arrays) is _numpy_says(arrays)


@settings(max_examples=150 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_array([np.dtype(np.float64)]), min_size=1, max_size=4))
def test_the_compiled_gradients_reading_and_the_named_refusal_agree_on_every_point_of_doubles(
        arrays: list[np.ndarray]) -> None:
    """The two former call sites: the arrays as given (None when one is not finite) and the refusal naming the
    first such value, each against numpy's isfinite."""
    values = {f"a{k}": array for k, array in enumerate(arrays)}
    taken = {name: {a.shape: a.shape if a.ndim == 2 else (a.size, 1)} for name, a in values.items()}
    finite_here = _numpy_says(arrays)
    assert (points.arrays_in_order(taken, values) is not None) is finite_here
    if finite_here:
        refuse_not_finite(values)
        return
    with pytest.raises(OptionError) as refused:
        refuse_not_finite(values)
    first = next(name for name, array in values.items() if not np.isfinite(array).all())
    assert str(refused.value) == f"{first} holds a value that is not a finite number"


@pytest.mark.parametrize("huge", [1e155, -1.4e154, 1e300, 1.7976931348623157e308])
def test_huge_doubles_whose_squares_overflow_are_finite(huge: float) -> None:
    arrays = [np.array([huge, 1.0]), np.ones((2, 3))]
    assert not np.isfinite(sum(float(np.vdot(a, a)) for a in arrays))  # the sum of squares alone cannot decide
    assert finite.all_finite(arrays)


def test_only_doubles_are_summed_by_a_dot_the_other_dtypes_entry_by_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """An int64's square wraps around (3037000500² comes out negative), a float32's overflows past 1.8e19, a
    complex dot conjugates, Python objects have no isfinite: none of them is dotted, nor doubles in the other byte
    order (rare: not worth a slower test of every array's dtype)."""
    dotted: list[np.dtype] = []
    vdot = np.vdot
    monkeypatch.setattr(finite.np, "vdot", lambda a, b: dotted.append(a.dtype) or vdot(a, b))
    others = [np.full(3, 3_037_000_500), np.full(3, 1e20, dtype=np.float32), np.ones(2, dtype=complex),
              np.ones(2, dtype=bool), np.ones(2, dtype=np.float16), np.ones(3).astype(">f8")]
    assert finite.all_finite([np.ones(4), np.ones((2, 3)).T, *others])
    assert dotted == [np.dtype(np.float64)] * 2
