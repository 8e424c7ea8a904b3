"""The closed forms of logsumexp, norm, max and min along an axis (a batch X: n x b, one example per column) and of
max and min of all entries: each formula and the generated code at random points equal central differences of the
cell written here in numpy and the walk's gradient; at a tie for the largest entry and at a zero column of a norm
the closed form is undefined exactly where the walk is (nan, never a number), and says so in its rule."""

# ruff: noqa: N803 - the loss functions take the cells' array names (W, X, Z)

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.result import JacobianResult

from .helpers import assert_close
from .test_closed_form import Point, _central, _run, _values

RNG = np.random.default_rng(4242)


def _lse(z: np.ndarray, axis: int | None) -> np.ndarray:
    top = z.max(axis=axis, keepdims=True)
    return top + np.log(np.exp(z - top).sum(axis=axis, keepdims=True))


def _norm(z: np.ndarray, axis: int) -> np.ndarray:
    return np.sqrt(np.sum(z * z, axis=axis, keepdims=True))


BATCH = "W: 3x4\nX: 4x5\n"
# cell, its loss in numpy (named as the cell's arrays), a piece of the rule that must fire
CASES: dict[str, tuple[str, Callable[..., float], str]] = {
    "logsumexp axis 0": ("L = sum(logsumexp(W @ X, axis=0))", lambda W, X: float(np.sum(_lse(W @ X, 0))),
                         "softmax(z)ᵀ per column: 𝟏g ⊙ softmax(Z, axis=0)"),
    "logsumexp axis 1": ("L = sum(tanh(logsumexp(W @ X, axis=1)))",
                         lambda W, X: float(np.sum(np.tanh(_lse(W @ X, 1)))), "softmax(z)ᵀ per row"),
    "logsumexp named": ("Z = W @ X\nl = logsumexp(Z, axis=0)\nL = sum(l**2) / 5",
                        lambda W, X: float(np.sum(_lse(W @ X, 0) ** 2) / 5), "softmax(z)ᵀ per column"),
    "both axes": ("L = sum(logsumexp(W @ X, axis=0)) - sum(logsumexp(W @ X, axis=1))",
                  lambda W, X: float(np.sum(_lse(W @ X, 0)) - np.sum(_lse(W @ X, 1))), "per row"),
    "norm axis 0": ("L = sum(norm(W @ X, axis=0))", lambda W, X: float(np.sum(_norm(W @ X, 0))),
                    "zᵀ/‖z‖ per column: 𝟏g ⊙ Z/norm(Z, axis=0) (undefined at a zero column)"),
    "norm axis 1 named": ("n = norm(W @ X, axis=1)\nL = sum(sin(n))",
                          lambda W, X: float(np.sum(np.sin(_norm(W @ X, 1)))), "(undefined at a zero row)"),
    "squared norm": ("L = sum(norm(W @ X, axis=0)**2)", lambda W, X: float(np.sum(_norm(W @ X, 0) ** 2)),
                     "‖z‖ · z/‖z‖ = z per column"),
    "max axis 1": ("L = sum(max(W @ X, axis=1))", lambda W, X: float(np.sum(np.max(W @ X, axis=1))),
                   "e_argmaxᵀ per row: g𝟏ᵀ ⊙ 𝟙[Z = max(Z, axis=1)] (the first of tied largest entries takes it)"),
    "max axis 0 named": ("m = max(tanh(W @ X), axis=0)\nL = sum(m**2)",
                         lambda W, X: float(np.sum(np.max(np.tanh(W @ X), axis=0) ** 2)), "e_argmaxᵀ per column"),
    "min axis 1": ("L = sum(min(W @ X, axis=1)**2)", lambda W, X: float(np.sum(np.min(W @ X, axis=1) ** 2)),
                   "e_argminᵀ per row"),
    "max of all": ("L = max(W @ X)", lambda W, X: float(np.max(W @ X)), "e_argmaxᵀ of all entries: g·𝟙[X = max(X)]"),
    "min of all": ("L = min(W @ X) + sum(W)", lambda W, X: float(np.min(W @ X) + np.sum(W)), "e_argminᵀ of all"),
    "max of logsumexp": ("L = max(logsumexp(W @ X, axis=0))", lambda W, X: float(np.max(_lse(W @ X, 0))),
                         "e_argmaxᵀ of all entries"),
    "max of a transpose": ("L = sum(max((W @ X).T, axis=0))", lambda W, X: float(np.sum(np.max((W @ X).T, axis=0))),
                           "e_argmaxᵀ per column"),
}


def _result(cell: str) -> JacobianResult:
    result = jacobian(cell, chain=True)
    assert isinstance(result, JacobianResult)
    return result


def _random(result: JacobianResult) -> Point:
    return {name: RNG.normal(size=result.network.shape_of(name)) for name in result.names}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_axis_reduction_has_a_closed_form_equal_to_central_differences_the_walk_and_the_code(case: str) -> None:
    line, by_hand, rule = CASES[case]
    result = _result(BATCH + line)
    for _ in range(3):
        point = _random(result)
        want, values, ran = result.gradient(**point), _values(result, point), _run(result.code(), point)
        for name in result.wrt:
            got = result.formula(name).evaluate(values)
            assert_close(got, _central(by_hand, point, name), rel=1e-6)
            assert_close(got, want[name], rel=1e-9)
            assert_close(ran[name], want[name], rel=1e-9)
    assert any(rule in step for name in result.wrt for step in result.formula(name).steps), rule
    assert "in closed form" in str(result)


@pytest.mark.parametrize(("cell", "textbook"), [
    ("W: 3x4\nX: 4x5\nL = sum(logsumexp(W @ X, axis=0))", "∂L/∂W = softmax(WX, axis=0)Xᵀ"),
    ("X: 3x4\nL = sum(norm(X, axis=0))", "∂L/∂X = X/norm(X, axis=0)"),
    ("X: 3x4\nL = sum(norm(X, axis=1)**2)", "∂L/∂X = 2X"),
    ("X: 3x4\nL = max(X)", "∂L/∂X = 𝟙[X = max(X)]"),
    ("X: 3x4\nL = sum(max(X, axis=1))", "∂L/∂X = 𝟙[X = max(X, axis=1)]"),
    ("X: 3x4\nv: 1x4\nL = sum(max(X, axis=0) * v)", "∂L/∂X = 𝟏v ⊙ 𝟙[X = max(X, axis=0)]"),
    ("X: 3x4\nL = sum(logsumexp(X, axis=0)) - sum(logsumexp(X, axis=1))",
     "∂L/∂X = softmax(X, axis=0) − softmax(X, axis=1)"),
])
def test_the_axis_rules_read_as_a_textbook_writes_them(cell: str, textbook: str) -> None:
    assert _result(cell).formula("X" if "∂L/∂X" in textbook else "W").text == textbook


def test_the_argmax_indicator_is_typeset() -> None:
    latex = _result("X: 3x4\nL = sum(max(X, axis=0))").formula("X").latex
    assert r"\mathbb{1}\left[X = \max\left(X,\ \text{axis}=0\right)\right]" in latex


def test_the_walkthrough_names_a_norm_along_an_axis_with_its_axis() -> None:
    """It showed ‖WX‖, as if of all entries."""
    shown = str(_result("W: 3x4\nX: 4x5\nL = sum(norm(W @ X, axis=0))"))
    assert "norm(WX, axis=0)" in shown and "‖WX‖" not in shown


# -- where there is no derivative ----------------------------------------------------------------------------------

def _same(got: np.ndarray, want: np.ndarray) -> None:
    """Undefined (nan) at the same entries, the rest equal."""
    assert (np.isnan(got) == np.isnan(want)).all(), (got, want)
    assert_close(np.nan_to_num(got), np.nan_to_num(want), rel=1e-12)


def _everywhere(result: JacobianResult, point: Point) -> dict[str, tuple[np.ndarray, ...]]:
    """Each gradient from the walk, the formula and the generated code."""
    want, values, ran = result.gradient(**point), _values(result, point), _run(result.code(), point)
    return {name: (want[name], result.formula(name).evaluate(values), ran[name]) for name in result.wrt}


@pytest.mark.parametrize(("line", "tied"), [
    ("L = sum(max(X, axis=0))", [(0, 1), (2, 1)]),
    ("L = sum(min(X, axis=0))", [(1, 3), (2, 3)]),
    ("L = max(X)", [(0, 0), (1, 2)]),
])
def test_a_tie_for_the_largest_entry_goes_to_the_first_tied_in_the_closed_form_as_in_the_walk(
        line: str, tied: list[tuple[int, int]]) -> None:
    """At a tie the first of the tied entries (np.argmax's, row-major for the whole) takes the whole slope: the
    walk, the formula and the code alike, each a valid one-sided derivative."""
    result = _result(f"X: 3x4\n{line}")
    x = RNG.uniform(-1, 1, (3, 4))
    extreme = 5.0 if "max" in line else -5.0
    for place in tied:
        x[place] = extreme
    walk, formula, code = _everywhere(result, {"X": x})["X"]
    assert walk[tied[0]] == 1.0 and walk[tied[1]] == 0.0 and not np.isnan(walk).any()
    _same(formula, walk)
    _same(code, walk)
    assert any("first of tied" in step for step in result.formula("X").steps)


def test_a_tie_where_nothing_flows_stays_0_as_in_the_walk() -> None:
    """The walk keeps a 0 flowing a 0 beside an undefined slope (0·nan would be nan); the closed form does too."""
    result = _result("X: 3x4\nv: 1x4\nL = sum(max(X, axis=0) * v)")
    x = RNG.uniform(-1, 1, (3, 4))
    x[0, 1] = x[2, 1] = 5.0
    v = np.array([[1.0, 0.0, 2.0, -1.0]])
    walk, formula, code = _everywhere(result, {"X": x, "v": v})["X"]
    assert not np.isnan(walk).any() and walk[:, 1].tolist() == [0.0, 0.0, 0.0]
    _same(formula, walk)
    _same(code, walk)


def test_a_tie_through_a_layer_goes_to_the_first_tied_as_numpy_argmax() -> None:
    result = _result("W: 3x4\nX: 4x5\nL = sum(max(W @ X, axis=1))")
    w, x = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 5))
    x[:, 3] = x[:, 1]  # every row of WX ties columns 1 and 3
    a = w @ x
    first = np.eye(5)[np.argmax(a, axis=1)]  # the upstream 1 at each row's first largest entry
    by_hand = {"W": first @ x.T, "X": w.T @ first}
    for name, (walk, formula, code) in _everywhere(result, {"W": w, "X": x}).items():
        assert_close(walk, by_hand[name], rel=1e-12)
        _same(formula, walk)
        _same(code, walk)


def test_a_norm_at_a_zero_column_is_undefined_there_not_a_number() -> None:
    result = _result("X: 3x4\nL = sum(norm(X, axis=0))")
    x = RNG.normal(size=(3, 4))
    x[:, 2] = 0.0
    with np.errstate(invalid="ignore"):  # the printed code divides 0 by 0 there, as numpy warns
        walk, formula, code = _everywhere(result, {"X": x})["X"]
    assert np.isnan(walk[:, 2]).all() and not np.isnan(np.delete(walk, 2, axis=1)).any()
    _same(formula, walk)
    _same(code, walk)
    rest = np.delete(x, 2, axis=1)
    assert_close(np.delete(formula, 2, axis=1), rest / np.linalg.norm(rest, axis=0), rel=1e-12)
    assert any("(undefined at a zero column)" in step for step in result.formula("X").steps)


def test_a_squared_norm_at_a_zero_column_is_2z_there_as_the_walk_and_differences_say() -> None:
    """‖z‖ · z/‖z‖ = z cancels the 0/0: the gradient of ‖z‖² is 2z, 0 at a zero column, where it exists."""
    result = _result("X: 3x4\nL = sum(norm(X, axis=0)**2)")
    x = RNG.normal(size=(3, 4))
    x[:, 0] = 0.0
    walk, formula, code = _everywhere(result, {"X": x})["X"]
    want = _central(lambda X: float(np.sum(X * X)), {"X": x}, "X")
    for got in (walk, formula, code):
        assert_close(got, want, rel=1e-6)


# -- Hessians in matrix form, against central differences of the walk's gradient ----------------------------------

HESSIANS = [  # (cell, by) — quadratic forms, least squares, logistic regression, element-wise layers
    ("x: 3\nA: 3x3\nb: 3\nf = x.T @ A @ x + b.T @ x", "x"),
    ("x: 3\nA: 3x3\nf = 0.5 * x.T @ A.T @ A @ x", "x"),
    ("x: 3\nA: 4x3\ny: 4\nf = 0.5 * norm(A @ x - y)**2", "x"),
    ("x: 3\nA: 4x3\ny: 4\nf = sum((A @ x - y)**2) / 4", "x"),
    ("w: 3\nX: 5x3\ny: 5\nL = sum(log(1 + exp(-y * (X @ w)))) + 0.5 * w.T @ w", "w"),
    ("w: 3\nX: 5x3\ny: 5\nL = -sum(y * log(sigmoid(X @ w)) + (1 - y) * log(1 - sigmoid(X @ w)))", "w"),
    ("w: 3\nX: 5x3\ny: 5\nL = sum(softplus(-y * (X @ w)))", "w"),
    ("x: 3\nf = norm(x)", "x"),
    ("x: 3\nf = sum(sin(x)) + sum(cos(x))", "x"),
    ("x: 3\nA: 3x3\nh = tanh(A @ x)\nf = sum(h**2)", "x"),
    ("x: 3\nA: 3x3\nf = sum(tanh(A @ x))", "x"),
    ("x: 3\nA: 3x3\nf = sum(sigmoid(A @ x))", "x"),
    ("x: 3\nf = sqrt(sum(x**2) + 1)", "x"),
    ("x: 3\nf = sum(x) * sum(x**2)", "x"),
]


def _hessian_of_gradient(result: JacobianResult, point: Point, name: str, h: float = 1e-6) -> np.ndarray:
    """∂(the walk's gradient)/∂x by central differences: column k from x ± h e_k."""
    value, columns = point[name], []
    for k in range(value.size):
        step = np.zeros(value.shape)
        step.flat[k] = h
        ends = [result.gradient(**{**point, name: value + sign * step})[name] for sign in (1, -1)]
        columns.append(np.ravel(ends[0] - ends[1]) / (2 * h))
    return np.array(columns).T


@pytest.mark.parametrize(("cell", "by"), HESSIANS)
def test_each_hessian_formula_equals_central_differences_of_the_walks_gradient(cell: str, by: str) -> None:
    result = _result(cell)
    hessian = result.hessian_formula(by)
    for _ in range(3):
        point = _random(result)
        if "log(1 - sigmoid" in cell:
            point["y"] = RNG.integers(0, 2, size=(5, 1)).astype(float)
        assert_close(hessian.evaluate(_values(result, point)), _hessian_of_gradient(result, point, by), rel=1e-5)


@pytest.mark.parametrize(("cell", "textbook"), [
    ("w: 3\nX: 5x3\ny: 5\nL = sum(softplus(-y * (X @ w)))",
     "∂²L/∂w∂wᵀ = Xᵀ diag(y ⊙ σ(−y ⊙ Xw)(1 − σ(−y ⊙ Xw)) ⊙ y)X"),
    ("x: 3\nA: 3x3\nf = sum(sigmoid(A @ x))", "∂²f/∂x∂xᵀ = Aᵀ diag(σ(Ax)(1 − σ(Ax)) ⊙ (1 − 2σ(Ax)))A"),
    ("x: 3\nf = sum(sin(x))", "∂²f/∂x∂xᵀ = diag(−sin(x))"),
])
def test_a_hessian_through_sigmoid_softplus_tanh_sin_has_its_second_derivative(cell: str, textbook: str) -> None:
    """σ″, softplus″, tanh″, sin″, cos″ and sqrt″ had no rule: the Hessian of the logistic loss written with
    softplus or with sigmoid was refused."""
    assert _result(cell).hessian_formula("w" if "w: 3" in cell else "x").text == textbook


@pytest.mark.parametrize("cell", ["x: 3\nf = (x.T @ x)**2", "x: 3\nf = logsumexp(x)"])
def test_a_hessian_with_no_rule_yet_is_still_refused_with_the_reason(cell: str) -> None:
    from jacmagic.errors import OptionError

    with pytest.raises(OptionError, match="the Hessian by x in matrix form: .* depends on x"):
        _result(cell).hessian_formula("x")
