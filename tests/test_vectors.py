"""Vectors and matrices as values in formulas: the functions of whole vectors (softmax, log_softmax, logsumexp,
norm, dot, max, sum, mean), element-wise functions of vectors, `.T`, indexing and bracketed vectors, in every
cell form, each against an independent derivative (mpmath) or its textbook formula; and the mistakes."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.errors import CellError

from .helpers import assert_close, numeric_jacobian

Z = [0.3, -1.2, 2.0]


def _softmax(z: list) -> list:
    total = sum(mpmath.exp(v) for v in z)
    return [mpmath.exp(v) / total for v in z]


# (cell, point, the same map written with mpmath over the point's values in order)
CASES = [
    ("z: 3\ns = softmax(z)", {"z": Z}, lambda *z: _softmax(list(z))),
    ("z: 3\ns = log_softmax(z)", {"z": Z}, lambda *z: [mpmath.log(p) for p in _softmax(list(z))]),
    ("z: 3\nL = logsumexp(z)", {"z": Z}, lambda *z: [mpmath.log(sum(mpmath.exp(v) for v in z))]),
    ("x: 3\nL = norm(x)", {"x": Z}, lambda *x: [mpmath.sqrt(sum(v * v for v in x))]),
    ("x: 3\ny: 3\nL = dot(x, y)", {"x": Z, "y": [1.0, 2.0, -0.5]},
     lambda *v: [sum(a * b for a, b in zip(v[:3], v[3:]))]),
    ("x: 3\nL = max(x)", {"x": Z}, lambda *x: [max(x)]),
    ("x: 3\nL = min(exp(x))", {"x": Z}, lambda *x: [min(mpmath.exp(v) for v in x)]),
    ("x: 3\nL = mean(log(x + 3))", {"x": Z}, lambda *x: [sum(mpmath.log(v + 3) for v in x) / 3]),
    ("x: 3\ny = sqrt(x**2 + 1) * tanh(x)", {"x": Z},
     lambda *x: [mpmath.sqrt(v**2 + 1) * mpmath.tanh(v) for v in x]),
    ("x: 3\nL = x[0] * x[-1] + x[1]**2", {"x": Z}, lambda *x: [x[0] * x[2] + x[1] ** 2]),
    ("W: 2x3\nx: 2\nz = W.T @ x", {"W": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], "x": [0.5, -1.0]},
     lambda *v: [v[j] * v[6] + v[3 + j] * v[7] for j in range(3)]),
    ("W: 2x2\nL = W[0, 1] * W[1, 0] - W[1, 1]", {"W": [[1.0, 2.0], [3.0, 4.0]]}, lambda *w: [w[1] * w[2] - w[3]]),
    ("x: 2\nL = atan2(x, [1, 2])[1]", {"x": [0.5, -0.7]}, lambda *x: [mpmath.atan2(x[1], 2)]),
    ("f(x, y, z) = softmax([x, y, z])", {"x": Z[0], "y": Z[1], "z": Z[2]}, lambda *z: _softmax(list(z))),
    ("f(x, y) = norm([x, y]) + dot([x, y], [y, 1])", {"x": 0.6, "y": -0.8},
     lambda x, y: [mpmath.sqrt(x * x + y * y) + x * y + y]),
    ("f(x, y) = [[x, y], [y, 2]] @ [x, 1]", {"x": 0.6, "y": -0.8}, lambda x, y: [x * x + y, y * x + 2]),
    ("x: 3\nL = sum(where(x > 0, x**2, -x) + (x if x < 1 else 2 * x))", {"x": Z},
     lambda *x: [sum((v * v if v > 0 else -v) + (v if v < 1 else 2 * v) for v in x)]),
    ("x: 2\ny: 2\nL = sum(where((x > y) & (x > 0), x * y, y))", {"x": [0.5, -1.0], "y": [0.2, -2.0]},
     lambda *v: [sum(a * b if (a > b and a > 0) else b for a, b in zip(v[:2], v[2:]))]),
    ("def f(z):\n    return np.max(np.exp(z)) + z.T @ z\nz: 3", {"z": Z},
     lambda *z: [max(mpmath.exp(v) for v in z) + sum(v * v for v in z)]),
]


def _flat(point: dict) -> list[float]:
    return [float(v) for value in point.values() for v in np.ravel(value)]


@pytest.mark.parametrize(("cell", "point", "independent"), CASES, ids=[c[0].split("\n")[-1] for c in CASES])
def test_vector_functions_differentiate_like_an_independent_derivative(cell: str, point: dict,
                                                                       independent: object) -> None:
    result = jacobian(cell)
    assert_close(result.at(**point), numeric_jacobian(independent, _flat(point)))  # type: ignore[arg-type]


@pytest.mark.parametrize(("cell", "point"), [(c[0], c[1]) for c in CASES if ": " in c[0] and "def" not in c[0]],
                         ids=[c[0].split("\n")[-1] for c in CASES if ": " in c[0] and "def" not in c[0]])
def test_and_as_a_stage_of_a_chain(cell: str, point: dict) -> None:
    """The same lines after a stage that doubles their first input: the chain's walkthrough gives the Jacobian
    of the cell, with the doubled input's columns doubled (the chain rule by hand)."""
    lines = cell.split("\n")
    name, shape = lines[0].split(": ")
    chained = "\n".join([f"{name}0: {shape}", *lines[1:-1], f"{name} = 2 * {name}0", lines[-1]])
    halved = {(f"{name}0" if n == name else n): (np.array(v) / 2 if n == name else v) for n, v in point.items()}
    result = jacobian(chained, chain=True, at=halved)
    gradient = dict(zip((s.name for s in result.inputs), result.walkthrough().gradient.T))
    plain = jacobian(cell)
    for column, symbol in zip(plain.at(**point).T, plain.inputs):
        renamed = symbol.name.replace(name, f"{name}0", 1) if symbol.name.startswith(name) else symbol.name
        factor = 2.0 if renamed != symbol.name else 1.0
        assert_close(gradient[renamed], factor * column)


def test_softmax_jacobian_is_diag_s_minus_s_s_transposed() -> None:
    s = np.exp(Z) / np.exp(Z).sum()
    assert_close(jacobian("z: 3\ns = softmax(z)").at(z=Z), np.diag(s) - np.outer(s, s), rel=1e-12)
    assert_close(jacobian("z: 3\ns = log_softmax(z)").at(z=Z), np.eye(3) - np.outer(np.ones(3), s), rel=1e-12)


def test_cross_entropy_of_softmax_has_gradient_p_minus_y() -> None:
    y = [0.0, 1.0, 0.0]
    result = jacobian("z: 3\ny: 3\nL = -sum(y * log(softmax(z)))", wrt="z")
    p = np.exp(Z) / np.exp(Z).sum()
    assert_close(result.at(z=Z, y=y)[0], p - y, rel=1e-12)


def test_max_at_a_tie_gives_the_first_tied_the_slope_as_np_argmax() -> None:
    result = jacobian("x: 3\nL = max(x)")
    assert_close(result.at(x=[1.0, 3.0, 2.0]), [[0, 1, 0]])
    assert_close(result.at(x=[3.0, 3.0, 2.0]), [[1, 0, 0]])


@pytest.mark.parametrize(("cell", "match"), [
    ("x: 3\nL = x[3]", r"line 2, column 5: index 3 is out of range for 3 x 1: indices count from 0 to 2"),
    ("x: 3\nL = x[-4]", r"index -4 is out of range"),
    ("x: 3\nL = x[0.5]", r"an index must be a whole number written out"),
    ("x: 3\nL = sum(x[0:2])", r"an index must be a whole number written out, e\.g\. x\[0\] or x\[-1\] \(no slices\)"),
    ("W: 2x2\nL = W[0]", r"a 2 x 2 matrix takes two indices, W\[i, j\], counted from 0"),
    ("x: 3\nL = x[0, 1]", r"index 1 is out of range for 3 x 1"),  # x[i, 0] is also read: W: 3x1 is 2-D
    ("x: 3\nL = x[0, 0, 0]", r"a 3 x 1 vector takes one index, x\[i\], or two indices"),
    ("f(x) = x[0]", r"indexing needs a vector or matrix"),
    ("x: 3\ny: 2\nL = dot(x, y)", r"line 3.*dot\(\) takes two vectors of the same length, got 3 x 1 and 2 x 1"),
    ("W: 2x2\nL = dot(W, W)", r"dot\(\) takes two vectors.*use @ for matrices"),
    ("x: 3\nL = sum(x.shape)", r"attribute access \(x\.shape\) is not allowed"),
    ("f(x, y) = [[x, y], [y]] @ [x, y]", r"the rows of a matrix need the same number of entries"),
    ("x: 3\ny: 2\nL = sum(atan2(x, y))", r"atan2\(\) needs equal shapes, got 3 x 1 and 2 x 1"),
    ("f(x) = softmax()", r"softmax\(\) takes 1 argument, got 0"),
    ("x: 3\ny: 2\nL = sum(where(x > y, x, 0))", r"line 3, column 15: a comparison needs equal shapes, got 3 x 1 and "
                                                 r"2 x 1"),
    ("f(x) = max()", r"max\(\) takes one or more arguments, got 0"),
])
def test_vector_mistakes_name_the_line(cell: str, match: str) -> None:
    with pytest.raises(CellError, match=match):
        jacobian(cell)
