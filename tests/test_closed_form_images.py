"""The closed forms of conv2d, maxpool2d and flatten (issue 26): a small conv net's formulas for K, W, b and x,
evaluated at random points, equal central differences of the net written here in numpy (loops, not the program's
helpers) and the walkthrough's gradient; the generated code computes the same; each rule is named as it fires; a
batch of images stays without a rule, a clear error."""

# ruff: noqa: N803 - the loss takes the cell's array names (K, W)

from __future__ import annotations

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.errors import OptionError
from jacmagic.result import JacobianResult

from .helpers import assert_close
from .test_closed_form import _central, _run, _values

RNG = np.random.default_rng(2627)
CONV_NET = """x: 6x6
K: 3x3
W: 3x4
b: 3
y: 3
h = relu(conv2d(x, K))
q = maxpool2d(h, 2)
z = W @ flatten(q) + b
L = -sum(y * log(softmax(z)))"""


def _conv(x: np.ndarray, K: np.ndarray) -> np.ndarray:
    k, w = K.shape
    rows, cols = x.shape[0] - k + 1, x.shape[1] - w + 1
    return np.array([[np.sum(x[i:i + k, j:j + w] * K) for j in range(cols)] for i in range(rows)])


def _pool(h: np.ndarray, s: int) -> np.ndarray:
    rows, cols = h.shape[0] // s, h.shape[1] // s
    return np.array([[h[i * s:(i + 1) * s, j * s:(j + 1) * s].max() for j in range(cols)] for i in range(rows)])


def _loss(x: np.ndarray, K: np.ndarray, W: np.ndarray, b: np.ndarray, y: np.ndarray) -> float:
    z = W @ _pool(np.maximum(_conv(x, K), 0), 2).reshape(-1, 1) + b
    top = z.max()
    return float(-np.sum(y * (z - top - np.log(np.sum(np.exp(z - top))))))


def _result() -> JacobianResult:
    result = jacobian(CONV_NET, chain=True, wrt="K,W,b,x")
    assert isinstance(result, JacobianResult)
    return result


def _point(result: JacobianResult) -> dict[str, np.ndarray]:
    point = {name: RNG.uniform(-1, 1, result.network.shape_of(name)) for name in result.names}
    point["y"] = np.eye(3)[:, [RNG.integers(3)]]
    return point


def test_the_conv_net_formulas_equal_central_differences_and_the_walkthrough() -> None:
    result = _result()
    for _ in range(3):
        point = _point(result)
        gradients = result.gradient(**point)
        for name in ("K", "W", "b", "x"):
            got = result.formula(name).evaluate(_values(result, point))
            assert_close(got, _central(_loss, point, name), rel=1e-6)
            assert_close(got, gradients[name], rel=1e-9)


def test_the_conv_net_generated_code_computes_the_gradient() -> None:
    result = _result()
    source = result.code()
    for helper in ("def conv2d(", "def conv2d_full(", "def maxpool2d(", "def unpool("):
        assert source.count(helper) == 1, helper
    for _ in range(3):
        point = _point(result)
        found, want = _run(source, point), result.gradient(**point)
        for name in ("K", "W", "b", "x"):
            assert_close(found[name], want[name], rel=1e-9)


def test_the_image_rules_are_named_as_they_fire_and_read_as_a_textbook_writes_them() -> None:
    result = _result()
    steps = result.formula("x").steps
    for words in ("∂conv2d(x, K)/∂x: G ⋆ rot180(K)", "∂maxpool2d(x, s)/∂x: G put at each 2 x 2 window's largest",
                  "∂flatten(q)/∂q: G reshaped to q's shape"):
        assert any(step.startswith(words) for step in steps), words
    assert any(step.startswith("∂conv2d(x, K)/∂K: x ⋆ G") for step in result.formula("K").steps)
    assert "conv2d_full(" in result.formula("x").text and "rot180(K)" in result.formula("x").text
    assert result.formula("K").text.startswith("∂L/∂K = conv2d(x, unpool(reshape(")
    assert r"\operatorname{conv2d\_full}" in result.formula("x").latex


def test_a_tie_in_a_pooling_window_routes_the_gradient_to_the_first_largest_entry() -> None:
    """Every window all equal: its gradient goes to its first entry (numpy's argmax), as the walkthrough's."""
    result = jacobian("x: 4x4\nw: 4\nL = sum(tanh(w * flatten(maxpool2d(x, 2))))", chain=True, wrt="x")
    assert isinstance(result, JacobianResult)
    point = {"x": np.ones((4, 4)), "w": RNG.uniform(-1, 1, (4, 1))}
    got = result.formula("x").evaluate(_values(result, point))
    assert_close(got, result.gradient(**point)["x"], rel=1e-9)
    assert_close(got[::2, ::2].reshape(-1, 1), point["w"] * (1 - np.tanh(point["w"]) ** 2), rel=1e-12)
    assert np.count_nonzero(got) == 4


def test_a_batch_of_images_has_no_closed_form_rule_yet() -> None:
    cell = CONV_NET.replace("x: 6x6", "x: 2x6x6").replace("y: 3", "y: 3x2").replace("softmax(z)", "softmax(z, axis=0)")
    result = jacobian(cell, chain=True, wrt="K")
    assert isinstance(result, JacobianResult)
    with pytest.raises(OptionError, match="no closed-form rule yet"):
        result.formula("K")
