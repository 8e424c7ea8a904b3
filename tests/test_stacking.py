"""Bracketed lists in layer lines at array level: a column [a, b] or a matrix [[a, b], [c, d]] of computed numbers,
against central differences of the same map written in numpy, in reverse and forward mode, at any size."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.errors import CellError
from jacmagic.result import JacobianResult

X = np.array([0.3, -0.7, 1.1])
W = np.array([[0.5, -1.0], [2.0, 0.1]])

CASES: list[tuple[str, Callable[[np.ndarray, np.ndarray], float]]] = [
    ("L = sum(tanh(W @ [x[0]*x[1], sin(x[2])]))",
     lambda x, w: float(np.sum(np.tanh(w @ np.array([x[0] * x[1], np.sin(x[2])]))))),
    ("L = sum([[x[0], x[1]], [x[2], 1]] @ [x[1], 2] * (W @ [1, x[0]]))",
     lambda x, w: float(np.sum(np.array([[x[0], x[1]], [x[2], 1]]) @ np.array([x[1], 2]) * (w @ np.array([1, x[0]]))))),
    ("L = sum(([[x[0], W[0, 1]], [x[2]**2, 1]] @ W)**2)",
     lambda x, w: float(np.sum((np.array([[x[0], w[0, 1]], [x[2] ** 2, 1]]) @ w) ** 2))),
    ("L = dot([x[0], x[1], x[2]], x) + x[0]**2 * sum(W)",
     lambda x, w: float(x @ x + x[0] ** 2 * np.sum(w))),
]


def _central(f: Callable[[np.ndarray, np.ndarray], float], h: float = 1e-6) -> np.ndarray:
    """The gradient by x then W's entries row-major, by central differences in doubles."""
    flat = np.concatenate([X, W.ravel()])

    def at(v: np.ndarray) -> float:
        return f(v[:3], v[3:].reshape(2, 2))
    return np.array([[(at(flat + h * e) - at(flat - h * e)) / (2 * h) for e in np.eye(flat.size)]])


@pytest.mark.parametrize(("line", "numpy"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_bracketed_list_is_walked_at_array_level_and_matches_central_differences(
        line: str, numpy: Callable[[np.ndarray, np.ndarray], float], mode: str) -> None:
    cell = f"x: 3\nW: 2x2\n{line}"
    result = jacobian(cell, chain=True, wrt=("x", "W"), at={"x": X, "W": W}, mode=mode)
    assert isinstance(result, JacobianResult)
    want = _central(numpy)
    walk = result.walkthrough()
    np.testing.assert_allclose(walk.gradient, want, atol=1e-7)
    assert walk.agrees
    if mode == "forward":
        assert walk.forward_pass is not None and walk.forward_agrees


def test_a_bracketed_list_beside_a_large_array_stays_at_array_level() -> None:
    """Before, a bracketed list sent the cell to the entry level, which refuses 3,000 entries."""
    x = np.linspace(-1, 1, 3000)
    result = jacobian("x: 3000\nW: 2x2\nv = tanh(W @ [x[0]*x[1], sin(x[2])])\nL = sum(v**2) + sum(x**2)",
                      chain=True, wrt=("x", "W"), at={"x": x, "W": W})
    assert isinstance(result, JacobianResult) and result.whole is None
    gradient = result.gradient()["x"]
    v = np.tanh(W @ np.array([x[0] * x[1], np.sin(x[2])]))
    upstream = (2 * v * (1 - v ** 2)) @ W
    expected = 2 * x
    expected[:3] += upstream[0] * np.array([x[1], x[0], 0]) + upstream[1] * np.array([0, 0, np.cos(x[2])])
    np.testing.assert_allclose(gradient, expected, atol=1e-12)


@pytest.mark.parametrize("line", ["L = sum([[x[0], x[1]], [x[2]]] @ x)", "L = sum([x, x])"])
def test_a_ragged_or_nested_array_list_is_left_to_the_entry_level_reader_which_names_the_line(line: str) -> None:
    with pytest.raises(CellError, match=r"line 3"):
        jacobian(f"x: 3\nW: 2x2\n{line}", chain=True)
