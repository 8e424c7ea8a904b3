"""A numpy `def` traced into the array operations of a layer cell, and the choosing operations (where, max, min)
at array level: gradients against numpy backprop written here and against central differences."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jacmagic import jacobian
from jacmagic.errors import CellError
from jacmagic.read.array_trace import trace_network
from jacmagic.read.tracer import Untraceable
from jacmagic.result import JacobianResult

NUMPY_DEF = """def loss(W1, b1, W2, b2, x, y):
    h = np.maximum(W1 @ x + b1, 0)
    z = W2 @ h + b2
    e = np.exp(z - np.max(z))
    return -np.sum(y * np.log(e / e.sum()))
"""
ACTIVATIONS: dict[str, tuple[str, str, Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    # name: (layer line, numpy def line, value, derivative)
    "relu": ("relu(a)", "np.maximum(a, 0)", lambda a: np.maximum(a, 0), lambda a: (a > 0) * 1.0),
    "leaky": ("where(a > 0, a, 0.01*a)", "np.where(a > 0, a, 0.01 * a)", lambda a: np.where(a > 0, a, 0.01 * a),
              lambda a: np.where(a > 0, 1.0, 0.01)),
    "max": ("max(a, 0.1*a)", "np.maximum(a, 0.1 * a)", lambda a: np.maximum(a, 0.1 * a),
            lambda a: np.where(a > 0.1 * a, 1.0, 0.1)),
    "tanh": ("tanh(a)", "np.tanh(a)", np.tanh, lambda a: 1 - np.tanh(a) ** 2),
}


def _point(rng: np.random.Generator, n: int, hidden: int, m: int) -> dict[str, np.ndarray]:
    return {"W1": rng.normal(size=(hidden, n)) * 0.5, "b1": rng.normal(size=hidden) * 0.3,
            "W2": rng.normal(size=(m, hidden)) * 0.5, "b2": rng.normal(size=m) * 0.3,
            "x": rng.normal(size=n), "y": np.eye(m)[rng.integers(m)]}


def _backprop(p: dict[str, np.ndarray], activation: str) -> dict[str, np.ndarray]:
    """Softmax cross-entropy after one hidden layer, by hand."""
    _, _, value, slope = ACTIVATIONS[activation]
    a = p["W1"] @ p["x"] + p["b1"]
    h = value(a)
    z = p["W2"] @ h + p["b2"]
    q = np.exp(z - z.max())
    q /= q.sum()
    dz = q - p["y"]
    da = (p["W2"].T @ dz) * slope(a)
    return {"W1": np.outer(da, p["x"]), "b1": da, "W2": np.outer(dz, h), "b2": dz}


def _layer_cell(n: int, hidden: int, m: int, activation: str) -> str:
    return (f"W1: {hidden}x{n}\nb1: {hidden}\nW2: {m}x{hidden}\nb2: {m}\nx: {n}\ny: {m}\n"
            f"a = W1 @ x + b1\nh = {ACTIVATIONS[activation][0]}\nz = W2 @ h + b2\nL = -sum(y * log(softmax(z)))")


def _def_cell(activation: str) -> str:
    return ("def loss(W1, b1, W2, b2, x, y):\n    a = W1 @ x + b1\n"
            f"    h = {ACTIVATIONS[activation][1]}\n    z = W2 @ h + b2\n"
            "    e = np.exp(z - np.max(z))\n    return -np.sum(y * np.log(e / e.sum()))\n")


def _gradients(cell: str, point: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    result = jacobian(cell, at=point, chain=True, wrt=("W1", "b1", "W2", "b2"), namespace={"np": np})
    assert isinstance(result, JacobianResult)
    return result.gradient()


def test_the_numpy_def_of_a_784_128_10_classifier_is_walked_at_array_level() -> None:
    """The issue's reproducer: traced entry by entry, it did not finish in 90 s."""
    point = _point(np.random.default_rng(1), 784, 128, 10)
    result = jacobian(NUMPY_DEF, at=point, chain=True, wrt=("W1", "b1", "W2", "b2"))
    assert isinstance(result, JacobianResult)
    assert [line.name for line in result.network.lines] == ["h", "z", "loss"]  # e / e.sum() read as softmax(z)
    expected = _backprop(point, "relu")
    for name, gradient in result.gradient().items():
        np.testing.assert_allclose(gradient.reshape(expected[name].shape), expected[name], atol=1e-10)
    assert "matches" in str(result) and "DOES NOT" not in str(result)


def test_a_leaky_relu_layer_cell_stays_at_array_level() -> None:
    """The issue's reproducer: where(a > 0, a, 0.01*a) sent the cell to the entry level, which never finished."""
    point = _point(np.random.default_rng(2), 64, 32, 10)
    gradients = _gradients(_layer_cell(64, 32, 10, "leaky"), point)
    for name, expected in _backprop(point, "leaky").items():
        np.testing.assert_allclose(gradients[name].reshape(expected.shape), expected, atol=1e-10)


@settings(max_examples=10, deadline=None)
@example(1, 1, 4, "leaky", 0)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(2, 4), st.sampled_from(sorted(ACTIVATIONS)),
       st.integers(0, 2**32 - 1))
def test_a_random_network_written_as_layer_lines_and_as_a_numpy_def_gives_numpys_gradient(
        n: int, hidden: int, m: int, activation: str, seed: int) -> None:
    point = _point(np.random.default_rng(seed), n, hidden, m)
    expected = _backprop(point, activation)
    for cell in (_layer_cell(n, hidden, m, activation), _def_cell(activation)):
        gradients = _gradients(cell, point)
        for name, value in expected.items():
            np.testing.assert_allclose(gradients[name].reshape(value.shape), value, atol=1e-9, err_msg=cell)


def _central(f: Callable[[np.ndarray], float], z: np.ndarray, h: float = 1e-6) -> np.ndarray:
    steps = np.eye(z.size).reshape(z.size, *z.shape) * h
    return np.array([(f(z + s) - f(z - s)) / (2 * h) for s in steps])


@pytest.mark.parametrize(("line", "numpy"), [
    ("sum(where(z > 0.5, z**2, 3*z))", lambda z: np.sum(np.where(z > 0.5, z**2, 3 * z))),
    ("sum(where(z <= 0, -z, z))", lambda z: np.sum(np.abs(z))),
    ("sum(max(z, 0.5*z**3))", lambda z: np.sum(np.maximum(z, 0.5 * z**3))),
    ("sum(min(z, 1))", lambda z: np.sum(np.minimum(z, 1))),
    ("sum(where(z < 1, exp(z), 2.7))", lambda z: np.sum(np.where(z < 1, np.exp(z), 2.7))),
])
def test_choosing_operations_at_array_level_match_central_differences(line: str, numpy: Callable[..., float]) -> None:
    z = np.array([-1.3, 0.2, 0.9, 2.1])
    result = jacobian(f"z: 4\nL = {line}", at={"z": z}, chain=True)
    np.testing.assert_allclose(result.gradient()["z"].reshape(-1), _central(numpy, z), atol=1e-6)


def test_max_with_zero_at_its_kink_has_derivative_zero_as_relu_does() -> None:
    """The README's convention at a kink, the same for max(z, 0), relu and np.maximum in a def."""
    z = np.array([0.0, 1.0, -1.0])
    for cell in ("z: 3\nL = sum(max(z, 0))", "z: 3\nL = sum(relu(z))",
                 "def L(z):\n    return np.sum(np.maximum(z, 0))\n"):
        result = jacobian(cell, at={"z": z}, chain=True, namespace={"np": np})
        np.testing.assert_array_equal(result.gradient()["z"].reshape(-1), [0.0, 1.0, 0.0])


def test_a_def_with_python_lists_under_chain_says_what_stopped_the_walkthrough() -> None:
    """A returned list of traced numbers is a column (issue 23); one holding an array is refused."""
    with pytest.raises(CellError, match=r"line 3: --chain follows a def through its numpy operations, and cannot "
                                        r"follow this line: f returns a list holding an array"):
        jacobian("def f(x, y):\n    u = x * y\n    return [np.sum(u**2), x]\n", at={"x": [1.0, 3.0], "y": 2.0},
                 chain=True)


@pytest.mark.parametrize(("body", "reason"), [
    ("    if np.sum(z) > 0:\n        return np.sum(z)\n    return -np.sum(z)\n", "an if"),
    ("    return np.sum(z[1:])\n", "indexing other than one entry"),
    ("    return np.sum(np.sort(z))\n", "np.sort is not among the traced numpy functions"),
    ("    import math\n    return math.exp(np.sum(z))\n", "float\\(\\) or a math-module function"),
])
def test_what_the_tracer_cannot_follow_is_named_with_its_line(body: str, reason: str) -> None:
    with pytest.raises(Untraceable, match=reason) as caught:
        trace_network("def f(z):\n" + body, {}, {"z": np.ones(3)})
    assert caught.value.line is not None and caught.value.line >= 2


def test_a_def_the_tracer_cannot_follow_is_refused_naming_the_line() -> None:
    cell = "def f(z):\n    h = np.tanh(z)\n    return np.sum(np.sort(h))\n"
    with pytest.raises(CellError, match=r"line 3: --chain follows a def .* cannot follow this line: np.sort"):
        jacobian(cell, at={"z": np.ones(20000)}, chain=True)


def test_a_small_network_whose_entries_cannot_be_written_in_time_is_still_walked() -> None:
    """Found by the generated test on a busy machine: the optional entry-by-entry view of a small network ran out
    of its time budget and took the whole result with it."""
    point = _point(np.random.default_rng(3), 2, 2, 2)
    result = jacobian(_def_cell("tanh"), at=point, chain=True, wrt=("W1", "b1", "W2", "b2"), budget=1e-4,
                      namespace={"np": np})
    assert isinstance(result, JacobianResult) and result.whole is None
    assert any("within the time budget" in note for note in result.notes)
    for name, expected in _backprop(point, "tanh").items():
        np.testing.assert_allclose(result.gradient()[name].reshape(expected.shape), expected, atol=1e-10)


def test_a_small_network_too_deep_to_write_out_is_still_walked() -> None:
    """Found on a fresh machine (IPython 9): the 200-line chain's optional entry-by-entry view hit Python's
    recursion limit and took the walkthrough with it."""
    import sys

    cell = "x: 2x3\na1 = tanh(x)*2\n" + "\n".join(f"a{i} = tanh(a{i - 1})*2" for i in range(2, 41))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(250)  # deep enough for the array walk, not for sympy's 40 nested tanh
    try:
        result = jacobian(cell, chain=True)
    finally:
        sys.setrecursionlimit(limit)
    assert isinstance(result, JacobianResult) and result.whole is None
    value, slope = np.full(6, 1.0), np.ones(6)  # the default point: every entry 1
    for _ in range(40):
        slope *= 2 * (1 - np.tanh(value) ** 2)
        value = 2 * np.tanh(value)
    np.testing.assert_allclose(result.at(), np.diag(slope), rtol=1e-12)
