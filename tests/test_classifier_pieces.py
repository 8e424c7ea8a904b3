"""leaky_relu, gelu, cross_entropy and mse at both levels, against central differences of numpy written here."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from jacmagic import JacobianResult, jacobian
from jacmagic.errors import CellError
from jacmagic.model import Options
from jacmagic.pipeline import compute_entries
from jacmagic.views.mathml import formula

from .helpers import assert_close

RNG = np.random.default_rng(25)
_erf = np.vectorize(math.erf)


def gelu(z: np.ndarray) -> np.ndarray:
    return 0.5 * z * (1 + _erf(z / math.sqrt(2)))


def leaky(z: np.ndarray, a: float = 0.01) -> np.ndarray:
    return np.where(z > 0, z, a * z)


def cross_entropy(z: np.ndarray, y: np.ndarray) -> float:
    shifted = z - z.max()
    return float(-(y * (shifted - np.log(np.exp(shifted).sum()))).sum())


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a - b) ** 2))


# (cell, the map by hand in numpy from the arrays in declaration order)
PIECES: list[tuple[str, Callable[..., object]]] = [
    ("z: 4\ny: 4\nL = cross_entropy(z, y)", cross_entropy),
    ("a: 4\nb: 4\nL = mse(a, b)", mse),
    ("x: 4\nh = gelu(x)", gelu),
    ("x: 4\nh = leaky_relu(x)", leaky),
    ("x: 4\nh = leaky_relu(x, 0.2)", lambda x: leaky(x, 0.2)),
    ("W: 3x4\nx: 4\ny: 3\nh = leaky_relu(W @ x, 0.1)\nL = cross_entropy(gelu(h), y) + mse(h, y)",
     lambda w, x, y: cross_entropy(gelu(leaky(w @ x, 0.1)), y) + mse(leaky(w @ x, 0.1), y)),
]


def _central(by_hand: Callable[..., object], point: dict[str, np.ndarray]) -> np.ndarray:
    """d map / d (every entry, in order) by central differences."""
    names = list(point)
    columns = []
    for name in names:
        for k in range(point[name].size):
            ends = []
            for sign in (1, -1):
                moved = {n: v.copy() for n, v in point.items()}
                moved[name].reshape(-1)[k] += sign * 1e-6
                ends.append(np.ravel(by_hand(*(moved[n] for n in names))))
            columns.append((ends[0] - ends[1]) / 2e-6)
    return np.stack(columns, axis=1)


def _point(result: JacobianResult) -> dict[str, np.ndarray]:
    """Away from leaky_relu's kink, so central differences are exact there."""
    values = {}
    for name in result.names:
        value = RNG.uniform(0.2, 1.5, result.dims[name]) * RNG.choice([-1.0, 1.0], result.dims[name])
        values[name] = value
    return values


@pytest.mark.parametrize("cell,by_hand", PIECES, ids=[c.split("\n")[-1] for c, _ in PIECES])
def test_each_classifier_piece_matches_central_differences_at_both_levels(cell: str,
                                                                          by_hand: Callable[..., object]) -> None:
    result = jacobian(cell, chain=True)
    assert isinstance(result, JacobianResult)  # the array level covers it
    entries = compute_entries(cell, Options())
    for _ in range(3):
        point = _point(result)
        want = _central(by_hand, point)
        assert_close(result.at(**point), want, rel=1e-6)
        assert_close(entries.at(**point), want, rel=1e-6)
        assert result.walkthrough(**point).agrees


def test_leaky_relu_takes_the_left_slope_at_its_kink_as_relu_does() -> None:
    for level in (lambda c: jacobian(c, chain=True), lambda c: compute_entries(c, Options())):
        slopes = np.diag(level("x: 3\nh = leaky_relu(x, 0.2)").at(x=[0.0, 1.0, -1.0]))
        relu = np.diag(level("x: 3\nh = relu(x)").at(x=[0.0, 1.0, -1.0]))
        assert_close(slopes, [0.2, 1.0, 0.2])
        assert relu[0] == 0.0  # the same side: H(0) = 0


@pytest.mark.parametrize("level", ["array", "entry"])
def test_cross_entropy_of_large_logits_is_finite_and_its_gradient_is_softmax_minus_y(level: str) -> None:
    cell = "z: 3\ny: 3\nL = cross_entropy(z, y)"
    result = jacobian(cell, chain=True) if level == "array" else compute_entries(cell, Options())
    z, y = np.array([1000.0, 0.0, -1000.0]), np.array([0.0, 1.0, 0.0])
    got = result.at(z=z, y=y)[0]
    assert np.isfinite(got).all()
    assert_close(got[:3], np.array([1.0, 0.0, 0.0]) - y)  # softmax(z) - y
    assert_close(got[3:], -(z - 1000.0))  # -log_softmax(z)
    assert_close(result.gradient(z=z, y=y)["y"], -(z - 1000.0))


def test_mismatched_shapes_name_the_line_and_both_shapes() -> None:
    with pytest.raises(CellError, match=r"line 3.*cross_entropy\(z, y\) needs two arrays of one shape, got 3 x 1 "
                                         r"and 2 x 1"):
        jacobian("z: 3\ny: 2\nL = cross_entropy(z, y)", chain=True)
    with pytest.raises(CellError, match=r"mse\(a, b\) needs two arrays of one shape"):
        jacobian("a: 3\nb: 2\nL = mse(a, b)", chain=True)


def test_a_traced_def_uses_the_pieces_as_a_layer_cell_does() -> None:
    source = ("W: 3x4\nx: 4\ny: 3\ndef loss(W, x, y):\n    h = leaky_relu(W @ x, 0.1)\n"
              "    return cross_entropy(gelu(h), y) + mse(h, y)")
    result = jacobian(source, chain=True, wrt="W,x,y")
    assert isinstance(result, JacobianResult)
    point = _point(result)
    want = _central(PIECES[-1][1], point)
    assert_close(result.at(**point), want, rel=1e-6)


def test_each_piece_is_shown_as_textbooks_write_it() -> None:
    result = jacobian(PIECES[-1][0], chain=True)
    text = str(result)
    for shown in ("leaky_ReLU(Wx, 0.1)", "H(Wx) + 0.1(1 − H(Wx))", "GELU(h)", "Φ(h) + (h)·φ(h)",
                  "cross_entropy(GELU(h), y)", "−log_softmax(GELU(h))ᵀ", "mse(h, y)", "(2/3)(h − y)ᵀ"):
        assert shown in text, shown
    formula(result.latex().replace("$", ""))  # the LaTeX typesets
    entries = compute_entries("x: 2\nh = gelu(x) * leaky_relu(x, 0.2)", Options())  # both stay in J
    assert "GELU" in str(entries) and "leaky_ReLU" in entries.latex().replace("\\_", "_")


@pytest.mark.parametrize("cell", [c for c, _ in PIECES[:5]], ids=[c.split("\n")[-1] for c, _ in PIECES[:5]])
def test_the_high_precision_check_evaluates_each_piece_by_its_own_definition(cell: str) -> None:
    assert "check passed" in str(jacobian(cell, check=True))
