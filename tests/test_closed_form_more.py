"""The closed forms of where/max/min, entries, reductions and softmax along an axis, leaky ReLU, GELU, |z|, mse,
cross_entropy on logits and bracketed lists (issue 26): each formula evaluated at random points equals central
differences of the cell written here in numpy and the walkthrough's gradient; the generated code computes the same;
the rule that fired is named; the batch classifier's ∂L/∂W₁ comes out with P − Y."""

# ruff: noqa: N803 - the loss functions take the cells' array names (W, X, Y)

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.chain.closed_form import compose, holds
from jacmagic.errors import OptionError
from jacmagic.result import JacobianResult

from .helpers import assert_close
from .test_closed_form import Point, _central, _run, _values

RNG = np.random.default_rng(2626)


def _gelu(z: np.ndarray) -> np.ndarray:
    from math import erf

    return 0.5 * z * (1 + np.vectorize(erf)(z / np.sqrt(2)))


def _log_softmax(z: np.ndarray, axis: int | None = None) -> np.ndarray:
    top = z.max(axis=axis, keepdims=True)
    return z - top - np.log(np.exp(z - top).sum(axis=axis, keepdims=True))


# cell, the loss in numpy (named as the cell's arrays), the rule that must fire
CASES: dict[str, tuple[str, Callable[..., float], str]] = {
    "where": ("W: 3x3\nx: 3\nu = where(W @ x > 0, W @ x, 0.1 * W @ x)\nL = sum(u * u)",
              lambda W, x: float(np.sum(np.where(W @ x > 0, W @ x, 0.1 * W @ x) ** 2)), "where(a > b, p, q)"),
    "max": ("W: 3x3\nx: 3\nu = max(W @ x, x[1])\nL = sum(u**2)",
            lambda W, x: float(np.sum(np.maximum(W @ x, x[1, 0]) ** 2)), "𝟙[a ≤ b] ⊙ g to q"),
    "min": ("W: 3x3\nx: 3\nv: 3\nu = min(W @ x, v)\nL = sum(tanh(u))",
            lambda W, x, v: float(np.sum(np.tanh(np.minimum(W @ x, v)))), "where(a > b, p, q)"),
    "entry": ("W: 3x3\nx: 3\nu = W @ x * x[0]\nL = sum(tanh(u)) + W[1, 2]**2",
              lambda W, x: float(np.sum(np.tanh(W @ x * x[0, 0])) + W[1, 2] ** 2), "one entry: e_k g"),
    "sum axis 0": ("X: 3x4\nW: 2x3\nL = sum(sum(tanh(W @ X), axis=0)**2)",
                   lambda X, W: float(np.sum(np.sum(np.tanh(W @ X), axis=0) ** 2)), "sum along axis 0"),
    "mean axis 1": ("X: 3x4\nW: 2x3\nL = sum(mean(sin(W @ X), axis=1)**2)",
                    lambda X, W: float(np.sum(np.mean(np.sin(W @ X), axis=1) ** 2)), "mean along axis 1"),
    "batch bias": ("W1: 4x3\nX: 3x5\nb1: 4\nL = sum(tanh(W1 @ X + b1))",
                   lambda W1, X, b1: float(np.sum(np.tanh(W1 @ X + b1))), "broadcast: the gradient sums"),
    "leaky_relu": ("W: 3x4\nx: 4\nL = sum(leaky_relu(W @ x, 0.2)**2)",
                   lambda W, x: float(np.sum(np.where(W @ x > 0, W @ x, 0.2 * W @ x) ** 2)),
                   "leaky_ReLU′(z, a) = where(z > 0, 1, a)"),
    "gelu": ("W: 3x4\nx: 4\nL = sum(gelu(W @ x)**2)", lambda W, x: float(np.sum(_gelu(W @ x) ** 2)),
             "GELU′(z) = Φ(z) + z φ(z)"),
    "abs": ("W: 3x4\nx: 4\nL = sum(abs(W @ x))", lambda W, x: float(np.sum(np.abs(W @ x))), "|z|′ = sign(z)"),
    "mse": ("W: 3x4\nx: 4\ny: 3\nL = mse(tanh(W @ x), y)",
            lambda W, x, y: float(np.mean((np.tanh(W @ x) - y) ** 2)), "∂mse(a, b)/∂a = 2(a − b)/n"),
    "cross_entropy": ("W: 3x4\nx: 4\ny: 3\nL = cross_entropy(W @ x, y)",
                      lambda W, x, y: float(-np.sum(y * _log_softmax(W @ x))), "cross_entropy on logits"),
    "softmax axis 0": ("W: 3x4\nX: 4x5\nY: 3x5\nP = softmax(W @ X, axis=0)\nL = -sum(Y * log(P)) / 5",
                       lambda W, X, Y: float(-np.sum(Y * _log_softmax(W @ X, 0)) / 5),
                       "softmax + cross-entropy per column"),
    "softmax axis 1": ("W: 5x4\nX: 4x3\nL = sum(softmax(W @ X, axis=1) * W[0, 0])",
                       lambda W, X: float(np.sum(np.exp(_log_softmax(W @ X, 1)) * W[0, 0])),
                       "∂softmax/∂z = diag(s) − s sᵀ per row"),
    "log_softmax axis 0": ("X: 4x5\nW: 3x4\nL = sum(log_softmax(W @ X, axis=0)**2)",
                           lambda X, W: float(np.sum(_log_softmax(W @ X, 0) ** 2)), "∂log_softmax/∂z = I − 1 sᵀ"),
    "stacked list": ("a: 1\nb: 1\nu = [a * b, sin(a)]\nL = sum(u**2)",
                     lambda a, b: float((a[0, 0] * b[0, 0]) ** 2 + np.sin(a[0, 0]) ** 2), "a bracketed list"),
}

BATCH = """W1: 6x4
b1: 6
W2: 3x6
b2: 3
X: 4x32
Y: 3x32
L = -sum(Y * log_softmax(W2 @ relu(W1 @ X + b1) + b2, axis=0)) / 32"""


def _batch_loss(W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, X: np.ndarray,
                Y: np.ndarray) -> float:
    return float(-np.sum(Y * _log_softmax(W2 @ np.maximum(W1 @ X + b1, 0) + b2, 0)) / 32)


def _result(cell: str) -> JacobianResult:
    result = jacobian(cell, chain=True)
    assert isinstance(result, JacobianResult)
    return result


def _random(result: JacobianResult, one_hot: bool) -> Point:
    """A random point; each label column (y, Y) one-hot when `one_hot`."""
    point = {name: RNG.uniform(-1, 1, result.network.shape_of(name)) for name in result.names}
    for name in ("y", "Y"):
        if one_hot and name in point:
            rows, cols = point[name].shape
            point[name] = np.eye(rows)[:, RNG.integers(rows, size=cols)]
    return point


def _check(result: JacobianResult, by_hand: Callable[..., float], general: bool = False) -> None:
    """Each formula against central differences and the walkthrough, and the generated code against both."""
    for _ in range(2):
        point = _random(result, one_hot=not general)
        want, values = result.gradient(**point), _values(result, point)
        ran = _run(result.code(), point)
        for name in result.wrt:
            got = result.formula(name, general=general).evaluate(values)
            assert_close(got, _central(by_hand, point, name), rel=1e-6)
            assert_close(got, want[name], rel=1e-8)
            assert_close(ran[name], want[name], rel=1e-8)


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_new_operation_has_a_closed_form_equal_to_central_differences_and_the_code(case: str) -> None:
    cell, by_hand, rule = CASES[case]
    result = _result(cell)
    _check(result, by_hand)
    assert any(rule in step for name in result.wrt for step in result.formula(name).steps), rule
    assert "in closed form" in str(result)


@pytest.mark.parametrize("case", ["cross_entropy", "softmax axis 0"])
def test_the_general_cross_entropy_form_holds_for_labels_that_do_not_sum_to_1(case: str) -> None:
    cell, by_hand, _ = CASES[case]
    _check(_result(cell), by_hand, general=True)


def test_the_batch_classifier_gets_p_minus_y_per_column_in_closed_form() -> None:
    result = _result(BATCH)
    _check(result, _batch_loss)
    w1 = result.formula("W1")
    assert any(step.startswith("softmax + cross-entropy per column:") and step.endswith(
        "(each column of Y sums to 1)") for step in w1.steps)
    assert w1.assumptions == ("each column of Y sums to 1",)
    assert "− Y" in w1.text and "H(W₁X + b₁)" in w1.text and w1.text.endswith("Xᵀ")
    assert "(1/32)" in result.formula("b2").text and result.formula("b2").text.endswith("𝟏")


def test_the_batch_classifier_with_named_stages_reads_as_the_textbook() -> None:
    stages = "H = relu(W1 @ X + b1)\nZ = W2 @ H + b2\nP = softmax(Z, axis=0)\nL = -sum(Y * log(P)) / 32"
    result = _result(BATCH.rsplit("\n", 1)[0] + "\n" + stages)
    _check(result, _batch_loss)
    assert result.formula("W2").text == "∂L/∂W₂ = (1/32)(P − Y)Hᵀ"
    assert result.formula("W1").text == "∂L/∂W₁ = (1/32)(W₂ᵀ(P − Y) ⊙ H(W₁X + b₁))Xᵀ"


def test_the_batch_walkthrough_takes_p_minus_y_only_where_each_column_sums_to_1() -> None:
    result = _result(BATCH)
    found = compose(result.network, ("W1",))
    one_hot = _random(result, one_hot=True)
    assert holds(found, _values(result, one_hot))
    spread = {**one_hot, "Y": one_hot["Y"] * 0.5}
    assert not holds(found, _values(result, spread))


def test_a_leaky_relu_slope_is_the_cells_own_not_the_default() -> None:
    """leaky_relu(z, 0.2) was shown with slope 0.01 (the default) and its code called an unknown function."""
    result = _result(CASES["leaky_relu"][0])
    assert "where(Wx > 0, 1, 0.2)" in result.formula("x").text


def test_a_tie_in_a_choice_sends_the_gradient_to_the_second_branch_as_the_walkthrough() -> None:
    result = _result("x: 3\nv: 3\nL = sum(max(x, v)**2)")
    point = {"x": np.array([[1.0], [0.5], [-1.0]]), "v": np.array([[1.0], [0.0], [0.0]])}
    values, want = _values(result, point), result.gradient(**point)
    for name in ("x", "v"):
        assert_close(result.formula(name).evaluate(values), want[name], rel=1e-12)


def test_an_operation_still_without_a_rule_is_a_clear_error() -> None:
    result = _result("W: 3x3\nx: 3\nL = sum(sign(W @ x) * x)")
    with pytest.raises(OptionError, match=r"line 3 \(L = .*no closed-form rule yet"):
        result.formula("W")
    assert "in closed form" not in str(result)
