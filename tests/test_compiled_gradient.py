"""The compiled gradient (issue 27): the array walk resolved once per cell into one flat function of numpy calls.
Its gradients are checked against numpy backprop written here, its fallback to the exact walk where something is
not finite against the exact walk itself, and the pasted-array reader against numpy arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.chain.array_code import Undefined
from jacmagic.chain.network_walk import exact_reverse, reverse
from jacmagic.errors import CellError, OptionError
from jacmagic.magic import JacobianMagic, parse_line
from jacmagic.options import parse_point
from jacmagic.result import JacobianResult
from jacmagic.views.verdicts import verdict_words

from .helpers import assert_close

RNG = np.random.default_rng(27)


def _classifier(inputs: int, hidden: int, classes: int) -> tuple[str, dict[str, np.ndarray]]:
    cell = (f"W1: {hidden}x{inputs}\nb1: {hidden}\nW2: {classes}x{hidden}\nb2: {classes}\nx: {inputs}\n"
            f"y: {classes}\nh = relu(W1 @ x + b1)\nz = W2 @ h + b2\nL = -sum(y * log(softmax(z)))")
    point = {"W1": RNG.standard_normal((hidden, inputs)) * 0.1, "b1": RNG.standard_normal(hidden) * 0.1,
             "W2": RNG.standard_normal((classes, hidden)) * 0.1, "b2": RNG.standard_normal(classes) * 0.1,
             "x": RNG.random(inputs), "y": np.eye(classes)[classes // 2]}
    return cell, point


def _backprop(p: dict[str, np.ndarray], mean: bool = False) -> dict[str, np.ndarray]:
    """Softmax cross-entropy backprop written by hand (one example, or a batch in the columns)."""
    x, y = (p["x"], p["y"]) if "x" in p else (p["X"], p["Y"])
    batch = x.ndim == 2
    b1, b2 = (p["b1"].reshape(-1, 1), p["b2"].reshape(-1, 1)) if batch else (p["b1"], p["b2"])
    a = p["W1"] @ x + b1
    h = np.maximum(a, 0)
    z = p["W2"] @ h + b2
    s = np.exp(z - z.max(axis=0))
    dz = (s / s.sum(axis=0) - y) / (y.size if mean else 1)  # mean(...) of the whole 10 x 32 matrix
    da = (p["W2"].T @ dz) * (a > 0)
    if not batch:
        return {"W1": np.outer(da, x), "b1": da, "W2": np.outer(dz, h), "b2": dz}
    return {"W1": da @ x.T, "b1": da.sum(axis=1, keepdims=True), "W2": dz @ h.T, "b2": dz.sum(axis=1, keepdims=True)}


def _result(cell: str, point: dict[str, Any], **options: Any) -> JacobianResult:
    result = jacobian(cell, chain=True, at=point, **options)
    assert isinstance(result, JacobianResult)
    return result


def _working(result: JacobianResult, point: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: np.asarray(value, dtype=float).reshape(result.network.shape_of(name))
            for name, value in point.items()}


@pytest.mark.parametrize("sizes", [(784, 128, 10), (64, 32, 10)])
def test_the_compiled_gradient_of_a_classifier_equals_numpy_backprop(sizes: tuple[int, int, int]) -> None:
    cell, point = _classifier(*sizes)
    result = _result(cell, point, wrt="W1,b1,W2,b2")
    compiled = result.compiled.gradients(_working(result, point))  # the compiled path itself, no fallback
    for name, want in _backprop(point).items():
        assert_close(result.gradient(**point)[name], want, rel=1e-10)
        assert_close(compiled[name].reshape(want.shape), want, rel=1e-10)


@pytest.mark.parametrize("loss", ["sum", "mean"])
def test_a_batch_of_32_gradient_equals_numpy_backprop_on_the_batch(loss: str) -> None:
    cell = ("W1: 32x64\nb1: 32x1\nW2: 10x32\nb2: 10x1\nX: 64x32\nY: 10x32\nH = relu(W1 @ X + b1)\n"
            f"Z = W2 @ H + b2\nL = -{loss}(Y * log(softmax(Z, axis=0)))")
    point = {"W1": RNG.standard_normal((32, 64)) * 0.1, "b1": RNG.standard_normal((32, 1)) * 0.1,
             "W2": RNG.standard_normal((10, 32)) * 0.1, "b2": RNG.standard_normal((10, 1)) * 0.1,
             "X": RNG.random((64, 32)), "Y": np.eye(10)[:, RNG.integers(0, 10, 32)]}
    result = _result(cell, point, wrt="W1,b1,W2,b2")
    gradients = result.gradient(**point)
    for name, want in _backprop(point, mean=loss == "mean").items():
        assert_close(gradients[name], want, rel=1e-10)
    assert result.walkthrough(**point).agrees


def test_a_hidden_width_of_4096_is_accepted_within_the_memory_estimate_and_its_gradient_equals_numpy() -> None:
    cell, point = _classifier(784, 4096, 10)
    result = _result(cell, point, wrt="W1,b1,W2,b2")  # 3.2 million entries in W1, under --memory's 1 GB
    gradients = result.gradient(**point)
    for name, want in _backprop(point).items():
        assert_close(gradients[name], want, rel=1e-10)


def test_a_wide_layer_past_the_memory_estimate_is_still_refused_before_allocation() -> None:
    with pytest.raises(OptionError, match="--memory"):
        jacobian("W: 3000x3000\nx: 3000\nz = tanh(W @ x)", chain=True)  # 3,000 outputs, one row each


@pytest.mark.parametrize(("cell", "point", "why"), [
    ("W: 2x2\nx: 2\nL = sum(log(W @ x))", {"W": [[1.0, 0.0], [0.0, 1.0]], "x": [1.0, -1.0]}, "no finite real value"),
    ("W: 2x2\nx: 2\nL = sum(exp(-exp(W @ x)))", {"W": [[1.0, 0.0], [0.0, 1.0]], "x": [1000.0, 1.0]}, "overflow"),
    ("a: 2\nb: 2\nL = sum(a / b)", {"a": [1.0, 2.0], "b": [1.0, 0.0]}, "division by zero"),
])
def test_where_a_value_is_not_finite_the_exact_walk_gives_the_gradient_and_says_why(
        cell: str, point: dict[str, Any], why: str) -> None:
    """exp(-exp(1000)) is 0 to the compiled floating point, but exp(1000) has no value: undefined, as the exact walk
    (an isfinite at every operation) says."""
    result = _result(cell, point)
    working = _working(result, point)
    exact = exact_reverse(result.network, working, result.wrt)[3]
    gradients = result.gradient(**point)
    for name in result.wrt:
        np.testing.assert_allclose(gradients[name], exact[name][0].reshape(gradients[name].shape), rtol=1e-12)
        assert np.isnan(gradients[name]).any()
    assert why in verdict_words(result.walkthrough(**point).check)


def test_the_walkthrough_records_of_the_compiled_walk_match_the_exact_walk_line_by_line() -> None:
    cell, point = _classifier(6, 5, 3)
    result = _result(cell, point)
    working = _working(result, point)
    (known, _, steps, gradients), compiled = reverse(result.compiled, working)
    want_known, _, want_steps, want_gradients = exact_reverse(result.network, working, result.wrt)
    assert compiled
    for name, value in want_known.items():
        assert_close(known[name], value, rel=1e-12)
    for step, want in zip(steps, want_steps, strict=True):
        assert step.line is want.line
        assert_close(step.upstream, want.upstream, rel=1e-12)
        assert step.products.keys() == want.products.keys()
        for name, product in want.products.items():
            assert_close(step.products[name], product, rel=1e-12)
            assert_close(np.asarray(step.before[name]), np.asarray(want.before[name]), rel=1e-12)
    for name, gradient in want_gradients.items():
        assert_close(gradients[name], gradient, rel=1e-12)


def test_two_inputs_reached_by_one_array_get_gradients_of_their_own() -> None:
    result = _result("a: 3\nb: 3\nL = sum(a + b)", {"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]})
    gradients = result.gradient()
    gradients["a"][0] = 7.0
    assert_close(gradients["b"], np.ones(3))
    assert_close(result.gradient()["a"], np.ones(3))


def test_a_non_finite_value_given_to_gradient_is_refused_naming_it() -> None:
    cell, point = _classifier(4, 3, 2)
    result = _result(cell, point)
    with pytest.raises(OptionError, match="W1 holds a value that is not a finite number"):
        result.gradient(W1=np.full((3, 4), np.inf))


# -- pasted arrays --------------------------------------------------------------------------------------------------

def _pasted(matrix: np.ndarray) -> str:
    return "[" + ", ".join("[" + ", ".join(map(repr, row)) + "]" for row in matrix.tolist()) + "]"


@pytest.mark.parametrize("matrix", [RNG.standard_normal((7, 5)), np.array([[1.0, -2.5e-3, 3e7], [0.0, 1e-300, -4.0]]),
                                    RNG.standard_normal((1, 9))])
def test_a_pasted_matrix_of_plain_numbers_is_read_as_the_numpy_array(matrix: np.ndarray) -> None:
    (name, value), = parse_point(f"W={_pasted(matrix)}")
    assert name == "W"
    assert np.array_equal(np.asarray(value, dtype=float), matrix)


def test_a_pasted_vector_with_a_formula_is_read_number_by_number() -> None:
    (_, value), = parse_point("x=[1, pi/4, -2e-1, sqrt(2)]")
    assert_close(np.asarray(value, dtype=float), np.array([1, np.pi / 4, -0.2, np.sqrt(2)]), rel=1e-15)


@pytest.mark.parametrize(("text", "match"), [("W=[[1, 2], [3]]", None), ("W=[[1, 2], [3, x]]", "name x"),
                                             ("W=[1e999, 1]", "too large"), ("W=[[1, 2]", "unclosed")])
def test_a_pasted_array_that_is_not_plain_numbers_is_read_or_refused_as_before(text: str, match: str | None) -> None:
    if match is None:  # a ragged matrix is refused when its shape is checked
        (_, value), = parse_point(text)
        assert value == ((1.0, 2.0), (3.0,))
        return
    with pytest.raises(CellError, match=match):
        parse_point(text)


def test_a_pasted_array_past_ten_million_numbers_is_refused_before_it_is_read() -> None:
    with pytest.raises(CellError, match="about 10,000,001 numbers pasted"):
        parse_point("x=[" + "1," * 10_000_000 + "1]")


def test_a_pasted_matrix_reaches_the_magic_whole_with_its_spaces_and_negative_numbers() -> None:
    matrix = RNG.standard_normal((4, 3))
    args = parse_line(JacobianMagic.jacobian, f"--chain --at W={_pasted(matrix)} x=[1, -2] --wrt W")
    point = parse_point(",".join(v for group in args.at for v in group))
    assert np.array_equal(dict(point)["W"], matrix)
    assert dict(point)["x"].tolist() == [1.0, -2.0]
    assert args.wrt == [["W"]]


def test_a_walkthroughs_check_runs_at_its_own_point_even_when_the_array_given_changes_after() -> None:
    """The check runs when the verdict is first read: the walk keeps a copy of the point it was given."""
    cell, point = _classifier(6, 5, 3)
    result = _result(cell, point)
    walked = result.walkthrough(**point)
    point["W1"] += 1.0
    assert walked.agrees, verdict_words(walked.check)
    assert "matches central differences" in verdict_words(walked.check)


def test_a_numpy_matrix_given_to_gradient_is_read_as_a_plain_array() -> None:
    """np.matrix's * is the matrix product: the point is taken as a plain array, as numpy.asarray does."""
    result = _result("a: 2x2\nb: 2x2\nL = sum(a * b)", {"a": np.ones((2, 2)), "b": np.ones((2, 2))})
    b = np.array([[1.0, 2.0], [3.0, 4.0]])
    with pytest.warns(PendingDeprecationWarning):
        matrix = np.matrix(b)
    assert_close(result.gradient(a=np.ones((2, 2)), b=matrix)["a"], b)


# -- the fused softmax cross-entropy ------------------------------------------------------------------------------

def _labels(kind: str, shape: tuple[int, int]) -> np.ndarray:
    """One-hot labels (one per column), or general ones that do not sum to 1 (the gradient is s·sum(y) − y)."""
    if kind == "one-hot":
        return np.eye(shape[0])[:, RNG.integers(0, shape[0], shape[1])]
    return RNG.random(shape) * 2.0


def _softmax_backprop(z: np.ndarray, y: np.ndarray, axis: int | None, scale: float) -> dict[str, np.ndarray]:
    """∂L/∂z and ∂L/∂y of L = -scale·sum(y ⊙ log_softmax(z)), written here: s·sum(y) − y per softmax's part."""
    shifted = z - z.max(axis=axis, keepdims=True)
    logs = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return {"z": scale * (np.exp(logs) * y.sum(axis=axis, keepdims=True) - y), "y": -scale * logs}


@pytest.mark.parametrize("labels", ["one-hot", "general"])
@pytest.mark.parametrize(("loss", "axis", "scale"), [
    ("-sum(y * log(softmax(z)))", None, 1.0), ("-sum(y * log_softmax(z))", None, 1.0),
    ("cross_entropy(z, y)", None, 1.0), ("-sum(log(softmax(z)) * y) / 4", None, 0.25),
    ("-sum(y * log(softmax(z, axis=0)))", 0, 1.0), ("-mean(y * log_softmax(z, axis=0))", 0, 1 / 40),
    ("-sum(y * log_softmax(z, axis=0)) / 8", 0, 1 / 8), ("-mean(y * log(softmax(z, axis=1)))", 1, 1 / 40),
])
def test_the_fused_softmax_cross_entropy_gradient_equals_numpy_backprop(loss: str, axis: int | None, scale: float,
                                                                         labels: str) -> None:
    shape = (5, 1) if axis is None else (5, 8)
    point = {"z": RNG.standard_normal(shape) * 3, "y": _labels(labels, shape)}
    result = _result(f"z: {shape[0]}x{shape[1]}\ny: {shape[0]}x{shape[1]}\nL = {loss}", point, wrt="z,y")
    assert result.compiled.fused, "the loss is recognised"
    compiled = result.compiled.gradients(point)  # the compiled path itself, no fallback
    for name, want in _softmax_backprop(point["z"], point["y"], axis, scale).items():
        assert_close(compiled[name][0], want, rel=1e-10)
        assert_close(result.gradient(**point)[name], want, rel=1e-10)


@pytest.mark.parametrize("loss", ["sum", "mean"])
def test_a_batch_classifier_with_general_labels_gets_the_fused_gradient_of_numpy_backprop(loss: str) -> None:
    """Labels that do not sum to 1 in a column: ∂L/∂Z = S ⊙ sum(Y, axis=0) − Y, not S − Y."""
    cell = ("W1: 8x6\nb1: 8x1\nW2: 4x8\nb2: 4x1\nX: 6x5\nY: 4x5\nH = relu(W1 @ X + b1)\n"
            f"Z = W2 @ H + b2\nL = -{loss}(Y * log(softmax(Z, axis=0)))")
    point = {"W1": RNG.standard_normal((8, 6)), "b1": RNG.standard_normal((8, 1)), "W2": RNG.standard_normal((4, 8)),
             "b2": RNG.standard_normal((4, 1)), "X": RNG.random((6, 5)), "Y": RNG.random((4, 5)) * 3}
    result = _result(cell, point, wrt="W1,b1,W2,b2")
    assert result.compiled.fused
    a = point["W1"] @ point["X"] + point["b1"]
    h = np.maximum(a, 0)
    dz = _softmax_backprop(point["W2"] @ h + point["b2"], point["Y"], 0, 1 / 20 if loss == "mean" else 1.0)["z"]
    da = (point["W2"].T @ dz) * (a > 0)
    want = {"W1": da @ point["X"].T, "b1": da.sum(axis=1, keepdims=True), "W2": dz @ h.T,
            "b2": dz.sum(axis=1, keepdims=True)}
    gradients = result.gradient(**point)
    for name, value in want.items():
        assert_close(gradients[name], value, rel=1e-10)
    assert result.walkthrough(**point).agrees


def test_a_softmax_named_on_a_line_of_its_own_and_used_twice_is_pulled_back_as_written() -> None:
    """p = softmax(z) feeding the loss and p ⊙ p: p's gradient adds from both, so nothing is fused."""
    point = {"z": RNG.standard_normal((4, 1)), "y": np.eye(4)[:, [1]]}
    result = _result("z: 4\ny: 4\np = softmax(z)\nL = -sum(y * log(p)) + sum(p * p)", point, wrt="z")
    assert not result.compiled.fused
    s = np.exp(point["z"]) / np.exp(point["z"]).sum()
    want = _softmax_backprop(point["z"], point["y"], None, 1.0)["z"] + s * (2 * s - (2 * s * s).sum())
    assert_close(result.gradient(**point)["z"], want, rel=1e-9)


@pytest.mark.parametrize(("loss", "point", "why"), [
    ("-sum(y * log(softmax(z)))", {"z": [0.0, 1000.0, 1.0], "y": [0.0, 1.0, 0.0]}, "no finite real value"),
    ("cross_entropy(exp(z), y)", {"z": [0.0, 1000.0, 1.0], "y": [0.0, 1.0, 0.0]}, "overflow"),
])
def test_a_fused_loss_that_is_undefined_falls_back_to_the_exact_walk_which_says_why(
        loss: str, point: dict[str, Any], why: str) -> None:
    """softmax(z) underflows to 0 at z = 1000, so log(softmax(z)) as written is log 0: undefined, as the exact walk
    says (log_softmax is not); exp(1000) has no value."""
    result = _result(f"z: 3\ny: 3\nL = {loss}", point, wrt="z")
    assert result.compiled.fused
    working = _working(result, point)
    with pytest.raises(Undefined):
        result.compiled.gradients(working)
    exact = exact_reverse(result.network, working, result.wrt)[3]
    np.testing.assert_allclose(result.gradient(**point)["z"], exact["z"][0].reshape(3), rtol=1e-12)
    assert why in verdict_words(result.walkthrough(**point).check)
