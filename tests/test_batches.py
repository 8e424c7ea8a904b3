"""Batches, as numpy does them (issue 25): broadcasting of a column, a row or a number in + - * / and where/max/
min, reductions and softmax along an axis, and a batch of examples in the columns whose gradient is the per-example
gradients summed or averaged; in layer lines and in a numpy def. Every number is checked against numpy written here
and central differences."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.errors import CellError
from jacmagic.result import JacobianResult
from jacmagic.views.verdicts import verdict_words

from .helpers import assert_close

RNG = np.random.default_rng(25)
Point = dict[str, np.ndarray]


def _central(f: Callable[..., float], point: Mapping[str, Any], name: str, h: float = 1e-6) -> np.ndarray:
    """d f / d point[name] by central differences, in the array's shape."""
    value = np.asarray(point[name], dtype=float)
    gradient = np.zeros(value.size)
    for k in range(value.size):
        step = np.zeros(value.size)
        step[k] = h
        ends = [f(**{**point, name: (value.ravel() + sign * step).reshape(value.shape)}) for sign in (1, -1)]
        gradient[k] = (ends[0] - ends[1]) / (2 * h)
    return gradient.reshape(value.shape)


def _result(cell: str, point: Mapping[str, Any], **options: Any) -> JacobianResult:
    result = jacobian(cell, chain=True, at=dict(point), namespace={"np": np}, **options)
    assert isinstance(result, JacobianResult)
    return result


def _checked(cell: str, point: Point, by_hand: Callable[..., float], rel: float = 1e-6) -> JacobianResult:
    """The cell's gradient (each array in its own shape) against central differences of the map by hand, and the
    walkthrough's own checks (central differences, forward mode) agreeing."""
    result = _result(cell, point, mode="both")
    gradients = result.gradient()
    for name in result.wrt:
        assert_close(gradients[name].reshape(np.shape(point[name])), _central(by_hand, point, name), rel=rel)
    walked = result.walkthrough()
    assert walked.agrees and walked.forward_agrees, verdict_words(walked.check)
    return result


# -- broadcasting -------------------------------------------------------------------------------------------------

OPS: dict[str, Callable[[Any, Any], Any]] = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}
LAYOUTS = {  # the broadcast operand: its declaration and its value
    "column": ("b: 3", (3, 1)), "row": ("b: 1x4", (1, 4)), "number": ("", ()),
}


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("matrix_first", [True, False], ids=["A op b", "b op A"])
def test_a_column_row_or_number_broadcasts_over_a_matrix_in_every_arithmetic_operation(
        op: str, layout: str, matrix_first: bool) -> None:
    declaration, shape = LAYOUTS[layout]
    expression = f"A {op} b" if matrix_first else f"b {op} A"
    cell = f"A: 3x4\n{declaration}\nC = {expression}\nL = sum(sin(C) * A)".replace("\n\n", "\n")
    point = {"A": RNG.uniform(0.5, 1.5, (3, 4)), "b": RNG.uniform(0.5, 1.5, shape)}

    def by_hand(A: np.ndarray, b: np.ndarray) -> float:  # noqa: N803 - the cell's names
        combined = OPS[op](A, b) if matrix_first else OPS[op](b, A)
        return float(np.sum(np.sin(combined) * A))
    result = _checked(cell, point, by_hand)
    assert_close(result.walkthrough().values["C"], OPS[op](*((point["A"], point["b"]) if matrix_first
                                                              else (point["b"], point["A"]))))


def test_a_column_and_a_row_broadcast_against_each_other_into_a_matrix() -> None:
    point = {"u": RNG.normal(size=(3, 1)), "v": RNG.normal(size=(1, 4))}
    _checked("u: 3\nv: 1x4\nL = sum(tanh(u * v + u - v))", point,
             lambda u, v: float(np.sum(np.tanh(u * v + u - v))))


@pytest.mark.parametrize(("line", "numpy"), [
    ("where(A > b, A * b, b)", lambda a, b: np.where(a > b, a * b, b)),
    ("where(b <= A, b, A**2)", lambda a, b: np.where(b <= a, b, a**2)),
    ("max(A, b)", np.maximum),
    ("min(b, A)", lambda a, b: np.minimum(b, a)),
])
@pytest.mark.parametrize("layout", ["column", "row"])
def test_where_max_and_min_broadcast_a_column_or_row_as_numpy_does(line: str, numpy: Callable[..., Any],
                                                                    layout: str) -> None:
    declaration, shape = LAYOUTS[layout]
    point = {"A": RNG.normal(size=(3, 4)), "b": RNG.normal(size=shape)}
    _checked(f"A: 3x4\n{declaration}\nL = sum(exp({line}))", point,
             lambda A, b: float(np.sum(np.exp(numpy(A, b)))))  # noqa: N803


def test_the_local_jacobian_of_a_column_added_to_every_column_is_said_in_words() -> None:
    result = _result("W: 3x2\nX: 2x5\nb: 3\nH = W @ X + b\nL = sum(H**2)", {})
    text = " ".join(str(result).split())  # the lines continued within the text's width joined back
    assert "∂H/∂b = I₃ ⊗ 1₅ (15 x 3)" in text
    assert "the column goes with every one of the 5 columns" in text and "sums the upstream across the columns" in text
    assert "a batch: each of the 5 columns is one example; b (a column) goes with every column" in text


@pytest.mark.parametrize(("cell", "shapes"), [
    ("A: 3x4\nb: 4\nL = sum(A + b)", "3 x 4 and 4 x 1"),
    ("A: 3x4\nr: 1x3\nL = sum(r * A)", "1 x 3 and 3 x 4"),
    ("A: 3x4\nB: 4x3\nL = sum(A - B)", "3 x 4 and 4 x 3"),
    ("A: 3x4\nb: 2\nL = sum(max(A, b))", "3 x 4 and 2 x 1"),
    ("A: 3x4\nb: 2\nL = sum(where(A > 0, A, b))", "3 x 4 and 1 x 1 and 3 x 4 and 2 x 1"),
])
def test_shapes_that_cannot_broadcast_are_an_error_naming_both(cell: str, shapes: str) -> None:
    with pytest.raises(CellError, match=rf"line 3.*needs equal shapes, got {shapes}.*broadcast"):
        jacobian(cell, chain=True)


# -- along an axis --------------------------------------------------------------------------------------------------

def _stable_softmax(z: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _logsumexp(z: np.ndarray, axis: int) -> np.ndarray:
    top = z.max(axis=axis, keepdims=True)
    return top + np.log(np.exp(z - top).sum(axis=axis, keepdims=True))


REDUCTIONS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "sum": lambda z, axis: z.sum(axis=axis, keepdims=True), "mean": lambda z, axis: z.mean(axis=axis, keepdims=True),
    "max": lambda z, axis: z.max(axis=axis, keepdims=True), "min": lambda z, axis: z.min(axis=axis, keepdims=True),
    "logsumexp": _logsumexp, "norm": lambda z, axis: np.sqrt((z * z).sum(axis=axis, keepdims=True)),
    "softmax": _stable_softmax, "log_softmax": lambda z, axis: np.log(_stable_softmax(z, axis)),
}


@pytest.mark.parametrize("kind", sorted(REDUCTIONS))
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_reductions_and_softmax_along_an_axis_match_numpy_and_central_differences(kind: str, axis: int) -> None:
    point = {"Z": RNG.normal(size=(3, 4)), "C": RNG.normal(size=(3, 4))}
    by_axis = REDUCTIONS[kind]
    result = _checked(f"Z: 3x4\nC: 3x4\nR = {kind}(Z, axis={axis})\nL = sum(R * C)", point,
                      lambda Z, C: float(np.sum(by_axis(Z, axis) * C)))  # noqa: N803
    value = result.walkthrough().values["R"]
    assert_close(value.reshape(-1), by_axis(point["Z"], axis).reshape(-1), rel=1e-12)
    if kind not in ("softmax", "log_softmax"):  # numpy's shape: one per column for axis 0, one per row for axis 1
        assert value.shape == ((4,) if axis == 0 else (3,))
        assert result.walked.values["R"].shape == ((1, 4) if axis == 0 else (3, 1))  # the working layout


@pytest.mark.parametrize(("kind", "words"), [
    ("softmax", "blockdiag_j(diag(s) − s sᵀ)"), ("log_softmax", "blockdiag_j(I − 1 sᵀ)"),
    ("sum", "blockdiag_j(1ᵀ)"), ("logsumexp", "blockdiag_j(softmax(Z[:, j])ᵀ)"),
])
def test_a_local_jacobian_along_an_axis_is_block_diagonal_one_block_per_column(kind: str, words: str) -> None:
    text = str(_result(f"Z: 3x4\nR = {kind}(Z, axis=0)\nL = sum(R**2)", {}))
    assert words in text and "block-diagonal: one block per column, each column on its own" in text


@pytest.mark.parametrize("kind", ["softmax", "log_softmax"])
def test_a_softmax_of_a_matrix_without_an_axis_is_refused_asking_for_one(kind: str) -> None:
    """It normalised over all entries of the batch: a batch's loss silently wrong."""
    with pytest.raises(CellError, match=rf"line 2, column 5: {kind}\(\) of a 3 x 4 matrix needs an axis: axis=0 "
                                        "normalises each column"):
        jacobian(f"Z: 3x4\nS = {kind}(Z)\nL = sum(S**2)", chain=True)
    with pytest.raises(CellError, match=rf"line 2.*{kind} of a matrix of shape \(3, 4\) needs an axis"):
        jacobian(f"def f(Z):\n    return np.sum({kind}(Z) ** 2)", chain=True, at={"Z": np.ones((3, 4))})


def test_a_softmax_of_a_vector_needs_no_axis() -> None:
    z = RNG.normal(size=4)
    _checked("z: 4\nL = sum(softmax(z) * z)", {"z": z}, lambda z: float(np.sum(_stable_softmax(z, 0) * z)))


@pytest.mark.parametrize(("line", "match"), [
    ("sum(Z, axis=2)", r"sum\(\): axis= is 0 \(per column\) or 1 \(per row\)"),
    ("tanh(Z, axis=0)", r"tanh\(\) takes no axis= here"),
    ("sum(Z, keepdims=1)", r"sum\(\) takes no keepdims= here"),
])
def test_a_wrong_axis_is_an_error_naming_the_line(line: str, match: str) -> None:
    with pytest.raises(CellError, match=rf"line 2.*{match}"):
        jacobian(f"Z: 3x4\nL = sum({line})", chain=True)


# -- a batch of examples in the columns ----------------------------------------------------------------------------

N, HIDDEN, M, BATCH = 64, 32, 10, 32


def _batch_point(rng: np.random.Generator) -> Point:
    return {"W1": rng.normal(size=(HIDDEN, N)) * 0.3, "b1": rng.normal(size=HIDDEN) * 0.3,
            "W2": rng.normal(size=(M, HIDDEN)) * 0.3, "b2": rng.normal(size=M) * 0.3,
            "X": rng.normal(size=(N, BATCH)), "Y": np.eye(M)[:, rng.integers(M, size=BATCH)]}


def _per_example(p: Point) -> dict[str, np.ndarray]:
    """Softmax cross-entropy after one ReLU layer, one column at a time, by hand; the gradients summed."""
    total = {name: np.zeros_like(p[name]) for name in ("W1", "b1", "W2", "b2")}
    for j in range(p["X"].shape[1]):
        x, y = p["X"][:, j], p["Y"][:, j]
        a = p["W1"] @ x + p["b1"]
        h = np.maximum(a, 0)
        z = p["W2"] @ h + p["b2"]
        dz = _stable_softmax(z, 0) * y.sum() - y
        da = (p["W2"].T @ dz) * (a > 0)
        for name, part in (("W1", np.outer(da, x)), ("b1", da), ("W2", np.outer(dz, h)), ("b2", dz)):
            total[name] += part
    return total


LOSS = "-sum(Y * log_softmax(W2 @ relu(W1 @ X + b1) + b2, axis=0))"
BATCH_CELL = f"W1: {HIDDEN}x{N}\nb1: {HIDDEN}\nW2: {M}x{HIDDEN}\nb2: {M}\nX: {N}x{BATCH}\nY: {M}x{BATCH}\nL = "


SUMMED = "the loss sums the 32 per-example losses, so each gradient is the per-example gradients summed"
AVERAGED = "the loss averages the 32 per-example losses, so each gradient is the per-example gradients averaged"


@pytest.mark.parametrize(("loss", "scale", "said"), [
    (LOSS, 1.0, SUMMED), (f"{LOSS} / {BATCH}", 1 / BATCH, AVERAGED), (f"{LOSS} * {1 / BATCH}", 1 / BATCH, AVERAGED),
    ("mean(-sum(Y * log_softmax(W2 @ relu(W1 @ X + b1) + b2, axis=0), axis=0))", 1 / BATCH, AVERAGED),
    ("-mean(Y * log_softmax(W2 @ relu(W1 @ X + b1) + b2, axis=0))", 1 / (BATCH * M),
     "the loss is the mean of all 10 x 32 entries, so each gradient is the per-example gradients averaged and "
     "divided by 10"),
], ids=["sum", "divided by the batch", "times one over the batch", "mean of the per-example losses",
        "mean of every entry"])
def test_a_batch_gradient_is_the_per_example_gradients_summed_or_averaged_and_the_walkthrough_says_which(
        loss: str, scale: float, said: str) -> None:
    point = _batch_point(np.random.default_rng(3))
    result = _result(BATCH_CELL + loss, point, wrt="W1,b1,W2,b2")
    expected = _per_example(point)
    for name, gradient in result.gradient().items():
        assert_close(gradient.reshape(expected[name].shape), scale * expected[name], rel=1e-10)
    text = str(result)
    assert "a batch: each of the 32 columns is one example; b1, b2 (columns) go with every column" in text
    assert "it matches central differences" in text
    assert said in " ".join(text.split())


def test_a_batch_loss_of_another_form_says_nothing_about_summing_or_averaging() -> None:
    text = " ".join(str(_result(BATCH_CELL + f"0.5 * {LOSS}", _batch_point(np.random.default_rng(6)))).split())
    assert "a batch: each of the 32 columns is one example" in text
    assert "the loss sums" not in text and "the loss averages" not in text


BATCH_DEF = """def loss(W1, b1, W2, b2, X, Y):
    H = np.maximum(W1 @ X + b1, 0)
    Z = W2 @ H + b2
    return -np.sum(Y * log_softmax(Z, axis=0)) / X.shape[1]
"""
ROWS_DEF = """def loss(W1, b1, W2, b2, X, Y):
    H = np.maximum(X @ W1.T + b1, 0)
    Z = H @ W2.T + b2
    return -np.mean(np.sum(Y * log_softmax(Z, axis=1), axis=1))
"""


@pytest.mark.parametrize("declared", [False, True], ids=["passed as columns", "declared as columns"])
def test_the_same_batch_as_a_numpy_def_with_columns_for_the_biases_gives_the_same_gradient(declared: bool) -> None:
    point = _batch_point(np.random.default_rng(4))
    columns = {"b1": point["b1"].reshape(-1, 1), "b2": point["b2"].reshape(-1, 1)}
    cell = f"b1: {HIDDEN}x1\nb2: {M}x1\n{BATCH_DEF}" if declared else BATCH_DEF
    given = {**point, **({} if declared else columns)}
    gradients = _result(cell, given, wrt="W1,b1,W2,b2").gradient()
    for name, value in _per_example(point).items():
        assert_close(gradients[name].reshape(value.shape), value / BATCH, rel=1e-10)


def test_a_vector_bias_in_a_def_broadcasts_as_a_row_as_numpy_does() -> None:
    """numpy aligns shapes from the right: b1 of shape (32,) beside (batch, 32) goes with every ROW, so the batch is
    the rows there (X @ W1.T + b1)."""
    point = _batch_point(np.random.default_rng(5))
    given = {**point, "X": point["X"].T, "Y": point["Y"].T}
    result = _result(ROWS_DEF, given, wrt="W1,b1,W2,b2")
    for name, value in _per_example(point).items():
        assert_close(result.gradient()[name].reshape(value.shape), value / BATCH, rel=1e-10)
    assert "b₁ᵀ" in str(result)  # the row numpy uses: the column b1 transposed


@pytest.mark.parametrize(("body", "shapes"), [
    ("return np.sum(A + b)", r"\(3, 4\) and \(3,\)"),
    ("return np.sum(np.maximum(A, b))", r"\(3, 4\) and \(3,\)"),
    ("return np.sum(np.where(A > b, A, 0))", r"\(3, 4\) and \(3,\)"),
])
def test_a_def_whose_shapes_numpy_cannot_broadcast_is_an_error_naming_both(body: str, shapes: str) -> None:
    with pytest.raises(CellError, match=rf"line 2.*of shapes {shapes}: numpy cannot broadcast them"):
        jacobian(f"def f(A, b):\n    {body}", chain=True, at={"A": np.ones((3, 4)), "b": np.ones(3)})


@pytest.mark.parametrize(("call", "numpy"), [
    ("np.sum(Z, axis=0)", lambda z: z.sum(axis=0)), ("Z.max(axis=1)", lambda z: z.max(axis=1)),
    ("np.mean(Z, axis=0, keepdims=True)", lambda z: z.mean(axis=0, keepdims=True)),
    ("logsumexp(Z, axis=1)", lambda z: _logsumexp(z, 1)[:, 0]),
    ("softmax(Z, axis=0)", lambda z: _stable_softmax(z, 0)),
])
def test_axis_in_a_def_follows_numpy_including_its_one_dimensional_results(call: str, numpy: Callable[..., Any]
                                                                            ) -> None:
    """axis=0 of a (3, 4) array is a vector (4,) in numpy: multiplied by w (4,) entry by entry, not broadcast."""
    z = RNG.normal(size=(3, 4))
    point = {"Z": z, "w": RNG.normal(size=numpy(z).shape)}
    result = _result(f"def f(Z, w):\n    R = {call}\n    return np.sum(np.sin(R) * w)", point, wrt="Z")
    by_hand = lambda Z, w: float(np.sum(np.sin(numpy(Z)) * w))  # noqa: E731, N803
    assert_close(result.gradient()["Z"], _central(by_hand, point, "Z"), rel=1e-6)
