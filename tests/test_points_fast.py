"""Reading a point given to `R.gradient`, `R.at` and `R.walkthrough`: arrays of doubles in a shape their names take
are read directly (`points.arrays_as_given`; `points.arrays_in_order` when a gradient is given every input, issue
27's speed); every other value goes the way it always did. Both ways must give the same numbers in the same shapes,
and the same refusal with the same words."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic import points as points_module
from jacmagic.errors import JacmagicError
from jacmagic.options import shaped_array, shapes_taken
from jacmagic.result import JacobianResult

from .helpers import assert_close

RNG = np.random.default_rng(27)

CLASSIFIER = """W1: 3x4
b1: 3
W2: 2x3
b2: 2
x: 4
y: 2
h = tanh(W1 @ x + b1)
z = W2 @ h + b2
L = -sum(y * log(softmax(z)))"""

IMAGES = """X: 2x4x4
K: 3x3
W: 2x4
b: 2
Y: 2x2
H = relu(conv2d(X, K))
Z = W @ flatten(H) + b
L = -sum(Y * log_softmax(Z, axis=0))"""

WIDE = "W: 101x100\nx: 100\nL = sum(tanh(W @ x))"  # W holds over 10,000 numbers: checked finite on its own
NUMBER = "x: 3\nL = sum(c * tanh(x))"  # c: a number of the cell, undeclared


def _point(cell: str) -> dict[str, np.ndarray]:
    if cell == CLASSIFIER:
        return {"W1": RNG.standard_normal((3, 4)), "b1": RNG.standard_normal(3), "W2": RNG.standard_normal((2, 3)),
                "b2": RNG.standard_normal(2), "x": RNG.standard_normal(4), "y": np.array([0.0, 1.0])}
    if cell == IMAGES:
        return {"X": RNG.standard_normal((2, 4, 4)), "K": RNG.standard_normal((3, 3)),
                "W": RNG.standard_normal((2, 4)), "b": RNG.standard_normal(2), "Y": np.eye(2)}
    if cell == NUMBER:
        return {"x": RNG.standard_normal(3), "c": np.array(1.5)}
    return {"W": RNG.standard_normal((101, 100)) * 0.1, "x": RNG.standard_normal(100)}


def _result(cell: str) -> JacobianResult:
    result = jacobian(cell, chain=True, at=_point(cell))
    assert isinstance(result, JacobianResult)
    return result


def _with(array: np.ndarray, index: tuple[int, ...], value: float) -> np.ndarray:
    changed = array.copy()
    changed[index] = value
    return changed


class _Subclass(np.ndarray):
    """An array subclass (np.matrix is one, whose * is @): read as numbers, never taken as it is."""


def _strided(array: np.ndarray) -> np.ndarray:
    """The same numbers in memory that is not contiguous."""
    wide = np.zeros((*array.shape[:-1], 2 * array.shape[-1]))
    wide[..., ::2] = array
    return wide[..., ::2]


# (cell, the name changed, how, whether the direct reading takes it)
VARIANTS: list[tuple[str, str, Callable[[np.ndarray], Any], bool]] = [
    (CLASSIFIER, "x", lambda v: v, True),
    (CLASSIFIER, "x", lambda v: v.reshape(4, 1), True),  # a vector as a column
    (CLASSIFIER, "W1", _strided, True),
    (CLASSIFIER, "W1", lambda v: _with(v, (1, 2), np.nan), False),
    (CLASSIFIER, "b2", lambda v: _with(v, (0,), np.inf), False),
    (CLASSIFIER, "x", lambda v: _with(v, (3,), -np.inf), False),
    (CLASSIFIER, "W1", lambda v: v.T.copy(), False),  # 4 x 3 for 3 x 4: refused, never read row by row
    (CLASSIFIER, "x", lambda v: v.reshape(1, 4), False),  # a row for a declared vector
    (CLASSIFIER, "x", lambda v: v[:3].copy(), False),
    (CLASSIFIER, "x", lambda v: v.tolist(), False),  # a list instead of an array
    (CLASSIFIER, "W1", lambda v: v.tolist(), False),
    (CLASSIFIER, "x", lambda v: np.arange(4), False),  # an int array
    (CLASSIFIER, "x", lambda v: v.astype(np.float32), False),
    (CLASSIFIER, "x", lambda v: v.astype(">f8"), False),  # doubles, the other byte order
    (CLASSIFIER, "W1", lambda v: v.view(_Subclass), False),
    (CLASSIFIER, "x", lambda v: v + 1j, False),
    (CLASSIFIER, "x", lambda v: np.array(["a"] * 4), False),
    (IMAGES, "X", lambda v: v, True),  # a batch of images in numpy's three axes
    (IMAGES, "X", lambda v: v.reshape(8, 4), False),  # the batch stacked along the rows: refused
    (IMAGES, "X", lambda v: v.reshape(2, 16), False),
    (IMAGES, "X", lambda v: _with(v, (1, 2, 3), np.nan), False),
    (IMAGES, "X", lambda v: v.tolist(), False),
    (NUMBER, "c", lambda v: v, True),  # a number as a 0-d array
    (NUMBER, "c", lambda v: v.reshape(1), True),
    (NUMBER, "c", lambda v: v.reshape(1, 1), True),
    (NUMBER, "c", lambda v: float(v), False),
    (NUMBER, "c", lambda v: np.float64(v), False),  # a numpy scalar, not an array
    (NUMBER, "c", lambda v: np.array(np.nan), False),
    (NUMBER, "c", lambda v: np.ones(2), False),
    (WIDE, "W", lambda v: v, True),
    (WIDE, "W", lambda v: _with(v, (100, 99), np.nan), False),
    (WIDE, "x", lambda v: _with(v, (0,), np.inf), False),
]


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """What a call gives: its arrays by name, or the refusal's type and words."""
    try:
        found = call()
    except JacmagicError as error:
        return type(error).__name__, str(error)
    if isinstance(found, np.ndarray):
        return "array", found
    if isinstance(found, dict):
        return "arrays", found
    return "walk", {**{f"point {k}": v for k, v in found.point.items()},
                    **{f"gradient {k}": v for k, v in found.gradients.items()}}


def _same(direct: tuple[str, Any], slow: tuple[str, Any]) -> None:
    assert direct[0] == slow[0], (direct, slow)
    if direct[0] == "array":
        assert direct[1].shape == slow[1].shape and direct[1].dtype == slow[1].dtype
        np.testing.assert_array_equal(direct[1], slow[1])
    elif direct[0] in ("arrays", "walk"):
        assert direct[1].keys() == slow[1].keys()
        for name, array in direct[1].items():
            assert array.shape == slow[1][name].shape and array.dtype == slow[1][name].dtype, name
            np.testing.assert_array_equal(array, slow[1][name], err_msg=name)
    else:
        assert direct[1] == slow[1]


@pytest.fixture
def read_directly(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bool], list[bool]]]:
    """Switch the direct reading on or off; the list records whether each reading was taken directly."""
    taken: list[bool] = []
    readers = {name: getattr(points_module, name) for name in ("arrays_as_given", "arrays_in_order")}

    def choose(on: bool) -> list[bool]:
        for name, direct in readers.items():
            def spy(*args: Any, direct: Callable[..., Any] = direct) -> Any:
                found = direct(*args) if on else None
                taken.append(found is not None)
                return found
            monkeypatch.setattr(points_module, name, spy)  # read when called
        taken.clear()
        return taken
    yield choose


@pytest.mark.parametrize(("cell", "name", "change", "direct"), VARIANTS,
                         ids=[f"{cell.split(':')[0]}-{name}-{k}" for k, (cell, name, _, _) in enumerate(VARIANTS)])
@pytest.mark.parametrize("method", ["gradient", "at", "walkthrough"])
def test_arrays_read_directly_give_the_same_numbers_shapes_and_refusals_as_value_by_value(
        read_directly: Callable[[bool], list[bool]], cell: str, name: str, change: Callable[[np.ndarray], Any],
        direct: bool, method: str) -> None:
    result = _result(cell)
    point = _point(cell)
    values = {**point, name: change(point[name])}
    call = getattr(result, method)
    taken = read_directly(True)
    fast = _outcome(lambda: call(**values))
    # The gradient does not dot the inputs the fused loss's checked value proves finite: their arrays are taken
    # directly, the flat function raises, and the point is read and refused by name (`_same` below).
    direct = direct or (method == "gradient" and result.compiled.network.inputs.index(name) in result.compiled.proven)
    assert taken[:1] == [direct], "the direct reading was taken" if not direct else "the direct reading was not taken"
    read_directly(False)
    _same(fast, _outcome(lambda: call(**values)))
    one = _outcome(lambda: call(**{name: values[name]}))  # the others keep their --at values
    read_directly(True)
    _same(_outcome(lambda: call(**{name: values[name]})), one)


def test_the_direct_reading_of_a_classifier_gives_central_differences() -> None:
    result = _result(CLASSIFIER)
    point = _point(CLASSIFIER)

    def loss(p: dict[str, np.ndarray]) -> float:
        z = p["W2"] @ np.tanh(p["W1"] @ p["x"] + p["b1"]) + p["b2"]
        return float(-(p["y"] * (z - z.max() - np.log(np.exp(z - z.max()).sum()))).sum())

    gradients = result.gradient(**point)
    for name in ("W1", "b1", "W2", "b2", "x", "y"):
        want = np.zeros(point[name].size)
        for k in range(want.size):
            ends = []
            for sign in (1, -1):
                moved = point[name].astype(float).ravel()
                moved[k] += sign * 1e-6
                ends.append(loss({**point, name: moved.reshape(point[name].shape)}))
            want[k] = (ends[0] - ends[1]) / 2e-6
        assert gradients[name].shape == point[name].shape
        assert_close(gradients[name], want.reshape(point[name].shape), rel=1e-6)


def test_a_walkthrough_keeps_a_copy_of_arrays_read_directly_and_a_gradient_does_not_copy_them() -> None:
    result = _result(CLASSIFIER)
    point = _point(CLASSIFIER)
    walked = result.walkthrough(**point)
    kept = walked.point["W1"].copy()
    point["W1"][0, 0] += 1.0
    np.testing.assert_array_equal(walked.point["W1"], kept)
    assert walked.agrees
    before = result.gradient(**point)["b1"].copy()
    result.gradient(**point)["b1"][0] = 99.0  # a gradient handed out is the caller's: the next one is unchanged
    np.testing.assert_array_equal(result.gradient(**point)["b1"], before)


@pytest.mark.parametrize(("shape", "stack"), [((3, 4), 1), ((4, 1), 1), ((1, 4), 1), ((1, 1), 1), ((8, 4), 2),
                                              ((6, 1), 3)])
def test_the_shapes_a_name_takes_directly_are_exactly_those_shaped_array_reads(shape: tuple[int, int],
                                                                                stack: int) -> None:
    taken = shapes_taken(shape, stack)
    rows, cols = shape
    candidates = {(), (rows * cols,), (cols * rows, 1), (1, rows * cols), shape, (cols, rows),
                  (stack, rows // stack, cols), (rows // stack, stack, cols), (rows, cols, 1)}
    for given in candidates:
        value = np.arange(float(np.prod(given, dtype=int))).reshape(given)
        try:
            read = shaped_array("v", value, shape, stack)
        except JacmagicError:
            assert given not in taken, given
            continue
        assert taken.get(given) == shape == read.shape, given
        np.testing.assert_array_equal(value.reshape(shape), read)
