"""`R.gradient` given every input as an array of doubles (issue 27's speed): read straight into the compiled
gradient (`points.arrays_in_order`, `CompiledNetwork.given_gradient`), its finiteness decided by the sum of the
squares (`finite.all_finite`). Both ways must give the same numbers and the same refusals: a value that is not
finite refused by name in each of the six arrays of a batch classifier, huge entries whose squares overflow still
accepted, against numpy backprop written here."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from jacmagic import finite, jacobian, points
from jacmagic.errors import OptionError
from jacmagic.result import JacobianResult

from .helpers import assert_close

RNG = np.random.default_rng(2027)

BATCH = ("W1: 6x5\nb1: 6x1\nW2: 3x6\nb2: 3x1\nX: 5x4\nY: 3x4\nH = relu(W1 @ X + b1)\nZ = W2 @ H + b2\n"
         "L = -sum(Y * log(softmax(Z, axis=0)))")


def _point() -> dict[str, np.ndarray]:
    return {"W1": RNG.standard_normal((6, 5)), "b1": RNG.standard_normal((6, 1)), "W2": RNG.standard_normal((3, 6)),
            "b2": RNG.standard_normal((3, 1)), "X": RNG.random((5, 4)), "Y": RNG.random((3, 4))}  # labels not one-hot


def _backprop(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The batch's gradient by hand: labels that need not sum to 1 give s·sum(y) − y."""
    a = p["W1"] @ p["X"] + p["b1"]
    h = np.maximum(a, 0)
    z = p["W2"] @ h + p["b2"]
    e = np.exp(z - z.max(axis=0))
    dz = e / e.sum(axis=0) * p["Y"].sum(axis=0) - p["Y"]
    da = (p["W2"].T @ dz) * (a > 0)
    return {"W1": da @ p["X"].T, "b1": da.sum(axis=1, keepdims=True), "W2": dz @ h.T,
            "b2": dz.sum(axis=1, keepdims=True), "X": p["W1"].T @ da, "Y": -np.log(e / e.sum(axis=0))}


def _result(point: dict[str, np.ndarray]) -> JacobianResult:
    result = jacobian(BATCH, chain=True, at=point)
    assert isinstance(result, JacobianResult)
    return result


def _refusal(call: Any) -> str:
    with pytest.raises(OptionError) as refused:
        call()
    return str(refused.value)


def test_a_batch_gradient_given_every_array_is_read_directly_and_equals_numpy_backprop() -> None:
    point = _point()
    result = _result(point)
    assert result.compiled.given_gradient(point) is not None  # the direct way was taken
    found = result.gradient(**point)
    for name, want in _backprop(point).items():
        assert found[name].shape == point[name].shape
        assert_close(found[name], want, rel=1e-10)
    slow = result.compiled.gradients(result.point_arrays(point), {n: v.shape for n, v in point.items()})
    for name in point:
        np.testing.assert_array_equal(found[name], slow[name])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", ["W1", "b1", "W2", "b2", "X", "Y"])
def test_a_value_not_finite_in_any_of_the_six_arrays_is_refused_by_name_the_same_both_ways(
        name: str, bad: float) -> None:
    point = _point()
    result = _result(point)
    point[name][-1, 0] = bad
    assert points.arrays_in_order(result.compiled.taken, point) is None
    assert result.compiled.given_gradient(point) is None
    message = _refusal(lambda: result.gradient(**point))
    assert message.startswith(name) and "not a finite number" in message
    assert message == _refusal(lambda: result.point_arrays(point))  # the value-by-value reading's words


@pytest.mark.parametrize(("name", "huge"), [("Y", 1e160), ("b1", -1e160), ("W1", -3e155), ("b1", -1e300)])
def test_huge_entries_whose_squares_overflow_are_still_accepted_with_the_gradient_of_numpy(
        name: str, huge: float) -> None:
    point = _point()
    result = _result(point)
    point[name][0, 0] = huge  # a hidden unit far below 0 (relu gives 0 there), or a label: the loss stays defined
    assert not np.isfinite(sum(float(np.vdot(v, v)) for v in point.values()))  # the one-sum test cannot decide
    assert finite.all_finite(list(point.values()))  # every entry is tested instead
    found = result.gradient(**point)
    for wrt, want in _backprop(point).items():
        assert_close(found[wrt], want, rel=1e-9)


@pytest.mark.parametrize("array", [
    np.array(1.5), np.ones(3), np.array([1e154, -1e154]), np.array([1.4e154, 1.4e154]), np.array([np.nan, 1.0]),
    np.array([[np.inf]]), np.array([-np.inf, 0.0]), np.array([5e-324, 1e-310]), np.full(20_000, 1e300),
    np.arange(12.0).reshape(3, 4).T, np.arange(20.0)[::3], np.where(np.eye(4) > 0, np.nan, 1.0)[::2, 1:],
    np.full((2, 3), 1.7e308), np.where(np.arange(20_001) == 20_000, np.nan, 1.0),
])
def test_the_sum_of_squares_says_finite_exactly_where_every_entry_is(array: np.ndarray) -> None:
    assert finite.all_finite([array, np.ones(2)]) is bool(np.isfinite(array).all())
    assert finite.all_finite([array]) is bool(np.isfinite(array).all())


def test_arrays_over_ten_thousand_numbers_are_tested_entry_by_entry_not_by_a_dot(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A dot that long is shared among BLAS threads, whose waking cost milliseconds on a loaded machine."""
    dotted: list[int] = []
    vdot = np.vdot
    monkeypatch.setattr(finite.np, "vdot", lambda a, b: dotted.append(a.size) or vdot(a, b))
    assert finite.all_finite([np.ones(10_001), np.ones(10_000), np.ones((100, 101))])
    assert dotted == [10_000]


def test_gradients_handed_out_by_the_direct_way_are_not_overwritten_by_the_next_call() -> None:
    point = _point()
    result = _result(point)
    first = result.gradient(**point)
    kept = {name: value.copy() for name, value in first.items()}
    second = result.gradient(**point)
    for name, value in second.items():
        assert not np.shares_memory(value, first[name]), name
        value[...] = 99.0
    for name, value in first.items():
        np.testing.assert_array_equal(value, kept[name], err_msg=name)
    np.testing.assert_array_equal(result.gradient(**point)["W1"], kept["W1"])


def test_a_batch_gradient_where_the_loss_is_undefined_falls_back_to_the_exact_walk() -> None:
    point = _point()
    result = _result(point)
    point["b2"][0, 0] = 2000.0  # softmax of the other classes underflows to 0: log(0) as written
    assert result.compiled.given_gradient(point) is None
    found = result.gradient(**point)
    assert not np.isfinite(found["W2"]).all()
