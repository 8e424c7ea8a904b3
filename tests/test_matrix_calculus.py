"""Matrix calculus in closed form (issue 26): the matrix functions tr, det, logdet, inv (and norm, sum, mean of
matrices) as array operations, the seven examples MatrixCalculus documents with their textbook closed forms, and
the Hessians that are matrices. Every formula, every generated function and every walkthrough is checked at random
points against central differences of the map written here in numpy."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jacmagic import jacobian
from jacmagic.errors import CellError, OptionError
from jacmagic.result import JacobianResult
from jacmagic.views.verdicts import verdict_words

from .helpers import assert_close

RNG = np.random.default_rng(2026)
SCALE = int(os.environ.get("JACMAGIC_FUZZ", "1"))
Point = dict[str, np.ndarray]
# N803: the tests name their arrays as the cells do (A, X, W).


def _central(f: Callable[..., Any], point: Mapping[str, np.ndarray], name: str, h: float = 1e-6) -> np.ndarray:
    """∂f/∂point[name] by central differences in numerator layout: (output entries, input entries) for a vector
    f, the input's shape for a number."""
    value = point[name]
    columns = []
    for k in range(value.size):
        step = np.zeros(value.size)
        step[k] = h
        ends = [np.ravel(f(**{**point, name: value + sign * step.reshape(value.shape)})) for sign in (1, -1)]
        columns.append((ends[0] - ends[1]) / (2 * h))
    jacobian_ = np.array(columns).T
    return jacobian_.reshape(value.shape) if jacobian_.shape[0] == 1 else jacobian_


def _hessian(f: Callable[..., Any], point: Mapping[str, np.ndarray], name: str, h: float = 1e-4) -> np.ndarray:
    """∂²f/∂x∂xᵀ by second central differences of f alone."""
    value = point[name]
    n = value.size
    hessian = np.zeros((n, n))

    def at(i: int, j: int, si: int, sj: int) -> float:
        moved = value.reshape(-1).copy()
        moved[i] += si * h
        moved[j] += sj * h
        return float(np.ravel(f(**{**point, name: moved.reshape(value.shape)}))[0])
    for i in range(n):
        for j in range(n):
            hessian[i, j] = (at(i, j, 1, 1) - at(i, j, 1, -1) - at(i, j, -1, 1) + at(i, j, -1, -1)) / (4 * h * h)
    return hessian


def _result(cell: str, wrt: str, **options: Any) -> JacobianResult:
    result = jacobian(cell, chain=True, wrt=[wrt], **options)
    assert isinstance(result, JacobianResult)
    return result


def _run(source: str, function: str, point: Point) -> dict[str, np.ndarray]:
    scope: dict[str, Any] = {"np": np}
    exec(source, scope)  # noqa: S102 - the test runs the code the result wrote
    return scope[function](**point)  # type: ignore[no-any-return]


def _invertible(n: int) -> np.ndarray:
    """A random matrix with a positive determinant, well away from singular."""
    m = RNG.normal(size=(n, n))
    return m @ m.T + n * np.eye(n) + 0.3 * RNG.normal(size=(n, n))


# -- the seven examples MatrixCalculus documents -------------------------------------------------------------------

def _logistic(X: np.ndarray, w: np.ndarray, y: np.ndarray) -> np.ndarray:  # noqa: N803
    return np.sum(np.log(np.exp(-y * (X @ w)) + 1))


# name: (cell, differentiated by, the map in numpy, the textbook's closed form, a point's special arrays)
EXAMPLES: dict[str, tuple[str, str, Callable[..., Any], str, Callable[[], Point]]] = {
    "0.5*x'*A*x": ("x: 3\nA: 3x3\nf = 0.5 * x.T @ A @ x", "x", lambda x, A: 0.5 * x.T @ A @ x,  # noqa: N803
                   "∂f/∂x = (1/2)(A + Aᵀ)x", dict),
    "A*exp(x)": ("x: 3\nA: 4x3\nf = A @ exp(x)", "x", lambda x, A: A @ np.exp(x),  # noqa: N803
                 "∂f/∂x = A diag(exp(x))", dict),
    "(y.*v)'*x": ("x: 3\ny: 3\nv: 3\nf = (y * v).T @ x", "x", lambda x, y, v: (y * v).T @ x, "∂f/∂x = y ⊙ v", dict),
    "norm2(A*x-y)^2": ("x: 3\nA: 4x3\ny: 4\nf = norm(A @ x - y)**2", "x",
                       lambda x, A, y: np.linalg.norm(A @ x - y) ** 2, "∂f/∂x = 2Aᵀ(Ax − y)", dict),  # noqa: N803
    "sum(log(exp(-y.*(X*w)) + vector(1)))": (
        "X: 5x3\nw: 3\ny: 5\nf = sum(log(exp(-y * (X @ w)) + 1))", "w", _logistic, "∂f/∂w = −Xᵀ(y ⊙ σ(−y ⊙ Xw))",
        lambda: {"y": RNG.choice([-1.0, 1.0], size=(5, 1))}),
    "tr(A*X'*B*X*C)": ("X: 3x3\nA: 3x3\nB: 3x3\nC: 3x3\nf = tr(A @ X.T @ B @ X @ C)", "X",
                       lambda X, A, B, C: np.trace(A @ X.T @ B @ X @ C), "∂f/∂X = BᵀXAᵀCᵀ + BXCA", dict),  # noqa: N803
    "log(det(inv(X)))": ("X: 3x3\nf = log(det(inv(X)))", "X", lambda X: np.log(np.linalg.det(np.linalg.inv(X))),  # noqa: N803
                         "∂f/∂X = −X⁻ᵀ", lambda: {"X": _invertible(3)}),
}


def _example_point(result: JacobianResult, special: Callable[[], Point]) -> Point:
    point = {name: RNG.uniform(-1, 1, result.network.shape_of(name)) for name in result.names}
    return {**point, **special()}


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_each_documented_example_gives_its_textbook_closed_form(example: str) -> None:
    cell, wrt, _, textbook, _ = EXAMPLES[example]
    assert _result(cell, wrt).formula(wrt).text == textbook


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_each_documented_example_agrees_with_central_differences_and_the_array_walk(example: str) -> None:
    cell, wrt, by_hand, _, special = EXAMPLES[example]
    result = _result(cell, wrt)
    vector = result.shape[0] > 1
    for _ in range(3):
        point = _example_point(result, special)
        got = result.formula(wrt).evaluate(result.network.forward(point)[0])
        assert_close(got, _central(by_hand, point, wrt), rel=1e-6)
        walked = result.at(**point) if vector else result.gradient(**point)[wrt]
        assert_close(got, walked, rel=1e-9)


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_each_documented_examples_generated_code_runs_and_agrees(example: str) -> None:
    cell, wrt, by_hand, _, special = EXAMPLES[example]
    result = _result(cell, wrt)
    function = "jacobian" if result.shape[0] > 1 else "gradient"
    source = result.code()
    assert source.count(f"def {function}(") == 1
    point = _example_point(result, special)
    assert_close(_run(source, function, point)[wrt], _central(by_hand, point, wrt), rel=1e-6)


def test_the_identities_are_named_as_they_fire() -> None:
    steps = set(_result(*EXAMPLES["tr(A*X'*B*X*C)"][:2]).formula("X").steps)
    assert {"∂tr(X)/∂X = I", "transposes pushed inward: (AB)ᵀ = BᵀAᵀ"} <= steps
    steps = set(_result(*EXAMPLES["log(det(inv(X)))"][:2]).formula("X").steps)
    assert {"X⁻¹X = I", "(X⁻¹)⁻ᵀ = Xᵀ"} <= steps and any(s.startswith("∂log det X/∂X = X⁻ᵀ") for s in steps)
    assert "‖u‖ · u/‖u‖ = u: ∂‖u‖²/∂u = 2u" in _result(*EXAMPLES["norm2(A*x-y)^2"][:2]).formula("x").steps
    assert "eᶻ/(eᶻ + 1) = σ(z)" in _result(*EXAMPLES["sum(log(exp(-y.*(X*w)) + vector(1)))"][:2]).formula("w").steps


def test_the_walkthrough_lists_the_rules_stage_by_stage_under_the_closed_form() -> None:
    shown = " ".join(str(_result(*EXAMPLES["tr(A*X'*B*X*C)"][:2])).split())  # its continued lines joined
    assert "∂f/∂X = BᵀXAᵀCᵀ + BXCA" in shown and "line by line, the last line first: at f: ∂tr(X)/∂X = I" in shown
    two = _result("X: 3x3\nA: 3x3\nM = inv(X) @ A\nf = logdet(M)", "X")
    assert "at f: ∂log det X/∂X = X⁻ᵀ — at M: ∂(AB)/∂A: g Bᵀ; ∂(X⁻¹)" in " ".join(str(two).split())
    assert dict(two.formula("X").stages)["f"] == ("∂log det X/∂X = X⁻ᵀ",)


def test_a_vector_outputs_walkthrough_shows_its_jacobian_in_matrix_form() -> None:
    assert "∂f/∂x = A diag(exp(x))" in str(_result(*EXAMPLES["A*exp(x)"][:2]))


# -- Hessians in matrix form ---------------------------------------------------------------------------------------

HESSIANS = {  # (example, the textbook's Hessian)
    "quadratic": ("0.5*x'*A*x", "∂²f/∂x∂xᵀ = (1/2)(A + Aᵀ)"),
    "least squares": ("norm2(A*x-y)^2", "∂²f/∂x∂xᵀ = 2AᵀA"),
    "logistic": ("sum(log(exp(-y.*(X*w)) + vector(1)))", None),
}


@pytest.mark.parametrize("case", sorted(HESSIANS))
def test_a_hessian_that_is_a_matrix_has_its_closed_form(case: str) -> None:
    example, textbook = HESSIANS[case]
    cell, wrt, by_hand, _, special = EXAMPLES[example]
    result = _result(cell, wrt)
    hessian = result.hessian_formula(wrt)
    if textbook is not None:
        assert hessian.text == textbook
    for _ in range(2):
        point = _example_point(result, special)
        got = hessian.evaluate(result.network.forward(point)[0])
        assert_close(got, _hessian(by_hand, point, wrt), rel=1e-5)


LEAST_SQUARES: dict[str, tuple[str, Callable[..., float], str | None]] = {
    "sum of squares": ("sum((X @ w - y)**2)", lambda X, w, y: np.sum((X @ w - y) ** 2),  # noqa: N803
                       "∂²L/∂w∂wᵀ = 2XᵀX"),
    "mean of squares": ("mean((X @ w - y)**2)", lambda X, w, y: np.mean((X @ w - y) ** 2),  # noqa: N803
                        "∂²L/∂w∂wᵀ = (2/5)XᵀX"),
    "norm": ("norm(X @ w - y)", lambda X, w, y: np.linalg.norm(X @ w - y), None),  # noqa: N803
}


@pytest.mark.parametrize("case", sorted(LEAST_SQUARES))
def test_a_least_squares_hessian_is_x_transposed_x(case: str) -> None:
    loss, by_hand, textbook = LEAST_SQUARES[case]
    result = _result(f"X: 5x3\nw: 3\ny: 5\nL = {loss}", "w")
    hessian = result.hessian_formula("w")
    if textbook is not None:
        assert hessian.text == textbook
    point = {"X": RNG.normal(size=(5, 3)), "w": RNG.normal(size=(3, 1)), "y": RNG.normal(size=(5, 1))}
    assert_close(hessian.evaluate(result.network.forward(point)[0]), _hessian(by_hand, point, "w"), rel=1e-5)


def test_a_hessian_through_a_hidden_tanh_layer_equals_second_differences() -> None:
    def by_hand(W: np.ndarray, x: np.ndarray) -> float:  # noqa: N803
        return float(np.sum(np.tanh(W @ x) ** 2))
    result = _result("W: 3x3\nx: 3\nh = tanh(W @ x)\nf = sum(h**2)", "x")
    point = {"W": RNG.normal(size=(3, 3)), "x": RNG.normal(size=(3, 1))}
    got = result.hessian_formula("x").evaluate(result.network.forward(point)[0])
    assert_close(got, _hessian(by_hand, point, "x"), rel=1e-5)


@pytest.mark.parametrize(("cell", "wrt", "why"), [
    ("X: 3x3\nf = logdet(X)", "X", "by a matrix it is an array of more than two indices"),
    ("x: 3\nA: 4x3\nf = A @ exp(x)", "x", "of one number"),
    ("W: 3x3\nx: 3\nf = sum(relu(W @ x))", "x", "second derivative"),
])
def test_a_hessian_with_no_matrix_form_is_refused_with_the_reason(cell: str, wrt: str, why: str) -> None:
    with pytest.raises(OptionError, match=why):
        _result(cell, wrt).hessian_formula(wrt)


def test_a_jacobian_by_a_matrix_is_refused_not_invented() -> None:
    with pytest.raises(OptionError, match="no matrix form"):
        _result("x: 3\nA: 4x3\nf = A @ exp(x)", "A").formula("A")


# -- the matrix functions as array operations -------------------------------------------------------------------

MATRIX_CELLS: dict[str, tuple[str, Callable[..., float]]] = {  # X, A: 3 x 3, x: 3
    "tr(AX)": ("tr(A @ X)", lambda X, A: np.trace(A @ X)),  # noqa: N803
    "det": ("det(X) * tr(A)", lambda X, A: np.linalg.det(X) * np.trace(A)),  # noqa: N803
    "det(AX)": ("det(A @ X) + sum(X)", lambda X, A: np.linalg.det(A @ X) + X.sum()),  # noqa: N803
    "logdet": ("logdet(X) / tr(A @ A.T)", lambda X, A: np.linalg.slogdet(X)[1] / np.trace(A @ A.T)),  # noqa: N803
    "log det": ("log(det(X)) + tr(A)", lambda X, A: np.log(np.linalg.det(X)) + np.trace(A)),  # noqa: N803
    "inv": ("sum(inv(X) * A)", lambda X, A: np.sum(np.linalg.inv(X) * A)),  # noqa: N803
    "tr(inv)": ("tr(inv(X) @ A)", lambda X, A: np.trace(np.linalg.inv(X) @ A)),  # noqa: N803
    "frobenius": ("norm(X @ A)", lambda X, A: np.linalg.norm(X @ A)),  # noqa: N803
    "frobenius²": ("norm(X - A)**2", lambda X, A: np.linalg.norm(X - A) ** 2),  # noqa: N803
    "mean": ("mean(X * A) + sum(X @ A)", lambda X, A: np.mean(X * A) + np.sum(X @ A)),  # noqa: N803
    "logdet(XᵀX)": ("logdet(X.T @ X + A @ A.T)", lambda X, A: np.linalg.slogdet(X.T @ X + A @ A.T)[1]),  # noqa: N803
}


@pytest.mark.parametrize("case", sorted(MATRIX_CELLS))
def test_matrix_functions_formula_walk_forward_mode_and_code_equal_central_differences(case: str) -> None:
    line, by_hand = MATRIX_CELLS[case]
    cell = f"X: 3x3\nA: 3x3\nf = {line}"
    result = _result(cell, "X", mode="both")
    point = {"X": _invertible(3), "A": RNG.normal(size=(3, 3))}
    want = _central(by_hand, point, "X")
    walked = result.walkthrough(**point)
    assert walked.agrees and walked.forward_agrees, verdict_words(walked.check)
    assert_close(result.gradient(**point)["X"], want, rel=1e-6)
    assert_close(result.formula("X").evaluate(result.network.forward(point)[0]), want, rel=1e-6)
    assert_close(_run(result.code(), "gradient", point)["X"], want, rel=1e-6)


def test_the_determinants_gradient_at_a_singular_matrix_is_its_cofactor_matrix() -> None:
    singular = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 5.0]])
    result = _result("X: 3x3\nf = det(X)", "X")
    assert_close(result.gradient(X=singular)["X"], _central(lambda X: np.linalg.det(X), {"X": singular}, "X"),  # noqa: N803
                 rel=1e-6)


@pytest.mark.parametrize(("line", "words"), [
    ("logdet(X)", "logdet(X) has no real value here: the determinant is -1, not above 0"),
    ("sum(inv(X))", "X is singular here (its determinant is 0): it has no inverse"),
])
def test_a_matrix_function_outside_its_domain_says_why_rather_than_giving_numbers(line: str, words: str) -> None:
    at = np.diag([1.0, 1.0, -1.0]) if "logdet" in line else np.ones((3, 3))
    result = _result(f"X: 3x3\nf = {line}", "X", at={"X": at})
    walked = result.walkthrough()
    assert words in verdict_words(walked.check)
    assert np.isnan(result.gradient()["X"]).all()


@pytest.mark.parametrize("line", ["tr(W)", "det(W)", "logdet(W)", "inv(W)"])
def test_a_matrix_function_of_a_matrix_that_is_not_square_is_a_clear_error(line: str) -> None:
    for chain in (True, False):
        with pytest.raises(CellError, match="needs a square matrix, got 2 x 3"):
            jacobian(f"W: 2x3\nf = sum({line})", chain=chain)


def test_without_chain_the_entry_level_writes_the_determinant_out() -> None:
    result = jacobian("X: 2x2\nf = det(X) + tr(X) + logdet(X)")
    point = np.array([[2.0, 0.5], [0.3, 1.5]])
    want = _central(lambda X: np.linalg.det(X) + np.trace(X) + np.log(np.linalg.det(X)), {"X": point}, "X")  # noqa: N803
    assert_close(result.at(X=point).reshape(2, 2), want, rel=1e-6)


# -- a numpy def traced --------------------------------------------------------------------------------------------

def test_a_def_with_numpys_matrix_functions_is_traced_to_the_same_closed_forms() -> None:
    cell = ("X: 3x3\nA: 3x3\nx: 3\n"
            "def f(X, A, x):\n"
            "    return np.trace(A @ X) + np.log(np.linalg.det(np.linalg.inv(X))) + np.linalg.norm(X.T @ x)\n")
    result = _result(cell, "X")
    point = {"X": _invertible(3), "A": RNG.normal(size=(3, 3)), "x": RNG.normal(size=(3, 1))}

    def by_hand(X: np.ndarray, A: np.ndarray, x: np.ndarray) -> float:  # noqa: N803
        return float(np.trace(A @ X) - np.log(np.linalg.det(X)) + np.linalg.norm(X.T @ x))
    want = _central(by_hand, point, "X")
    assert_close(result.gradient(**point)["X"], want, rel=1e-6)
    assert_close(result.formula("X").evaluate(result.network.forward(point)[0]), want, rel=1e-6)
    assert "Aᵀ − X⁻ᵀ" in result.formula("X").text


def test_a_defs_quadratic_form_of_a_1d_vector_gives_a_plus_a_transposed_times_x() -> None:
    result = _result("x: 3\nA: 3x3\ndef f(x, A):\n    return x @ A @ x\n", "x")
    assert result.formula("x").text == "∂f/∂x = (A + Aᵀ)x"
    assert result.hessian_formula("x").text == "∂²f/∂x∂xᵀ = A + Aᵀ"


def test_a_vector_output_through_softmax_says_it_has_no_jacobian_rule_yet() -> None:
    with pytest.raises(OptionError, match="has no rule here yet"):
        _result("x: 3\nA: 3x3\nf = softmax(A @ x)", "x").formula("x")


# -- random compositions ------------------------------------------------------------------------------------------

def _matrix(draw: Any, depth: int) -> tuple[str, Callable[..., np.ndarray]]:
    """A random 3 x 3 matrix expression of X and A, as cell text and as numpy."""
    kinds = ["X", "A", "invX"] + (["@", "+", ".T", "2*"] if depth < 3 else [])
    kind = draw(st.sampled_from(kinds))
    if kind in ("X", "A"):
        return kind, lambda X, A, k=kind: X if k == "X" else A  # noqa: N803
    if kind == "invX":
        return "inv(X)", lambda X, A: np.linalg.inv(X)  # noqa: N803
    a, fa = _matrix(draw, depth + 1)
    if kind == ".T":
        return f"({a}).T", lambda X, A: fa(X, A).T  # noqa: N803
    if kind == "2*":
        return f"2 * ({a})", lambda X, A: 2 * fa(X, A)  # noqa: N803
    b, fb = _matrix(draw, depth + 1)
    if kind == "@":
        return f"({a}) @ ({b})", lambda X, A: fa(X, A) @ fb(X, A)  # noqa: N803
    return f"({a}) + ({b})", lambda X, A: fa(X, A) + fb(X, A)  # noqa: N803


SCALARS: dict[str, tuple[str, Callable[[np.ndarray], float]]] = {
    "tr": ("tr({})", np.trace), "sum": ("sum({})", np.sum), "norm²": ("norm({})**2", lambda m: np.sum(m * m)),
    "det": ("det({})", np.linalg.det), "mean": ("mean({})", np.mean),
}


@settings(max_examples=20 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(sorted(SCALARS)), st.integers(0, 2**32 - 1))
def test_random_matrix_expressions_closed_forms_equal_central_differences(data: Any, scalar: str, seed: int) -> None:
    text, by_hand = _matrix(data.draw, 0)
    template, reduce = SCALARS[scalar]
    result = _result(f"X: 3x3\nA: 3x3\nf = {template.format(text)} + 0 * sum(A) + 0 * sum(X)", "X")
    rng = np.random.default_rng(seed)
    point = {"X": 2 * np.eye(3) + 0.3 * rng.normal(size=(3, 3)), "A": rng.normal(size=(3, 3))}
    want = _central(lambda X, A: reduce(by_hand(X, A)), point, "X")  # noqa: N803
    got = result.formula("X").evaluate(result.network.forward(point)[0])
    assert_close(got, want, rel=1e-5)
    assert_close(result.gradient(**point)["X"], want, rel=1e-5)
