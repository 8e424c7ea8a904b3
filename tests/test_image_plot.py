"""`R.plot()` of a network that reads an image (issue 25, demo 06): the gradient in the image's shape as a matplotlib
Figure, at any point, its pictures holding the numbers central differences give (numpy written in the tests)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from jacmagic import jacobian
from jacmagic.errors import OptionError
from jacmagic.network_result import NetworkResult

from .test_images import _central, _conv, _pool

RNG = np.random.default_rng(606)
LAYERS = "h = relu(conv2d(x, K))\nq = maxpool2d(h, 2)\nz = W @ flatten(q) + b\n"
LOSS = "x: 6x6\nK: 3x3\nW: 3x4\nb: 3\ny: 3\n" + LAYERS + "L = cross_entropy(z, y)"
PROBABILITIES = "x: 6x6\nK: 3x3\nW: 3x4\nb: 3\n" + LAYERS + "p = softmax(z)"
POINT = {"x": RNG.random((6, 6)), "K": RNG.standard_normal((3, 3)), "W": RNG.standard_normal((3, 4)),
         "b": RNG.standard_normal(3), "y": np.eye(3)[1]}


def _logits(x: np.ndarray) -> np.ndarray:
    q = _pool(np.maximum(_conv(x, POINT["K"]), 0), 2)[0]
    return POINT["W"] @ q.ravel() + POINT["b"]


def _probabilities(x: np.ndarray) -> np.ndarray:
    e = np.exp(_logits(x) - _logits(x).max())
    return e / e.sum()


def _drawn(fig: Figure, gid: str) -> list[np.ndarray]:
    return [np.asarray(image.get_array()) for axes in fig.axes for image in axes.get_images() if image.get_gid() == gid]


def _result(cell: str, wrt: str = "x") -> NetworkResult:
    names = ("x", "K", "W", "b", "y") if "y: 3" in cell else ("x", "K", "W", "b")
    result = jacobian(cell, chain=True, wrt=(wrt,), at={name: POINT[name] for name in names})
    assert isinstance(result, NetworkResult)
    return result


def test_plot_of_a_loss_by_an_image_draws_the_image_and_its_gradient_at_the_point_given() -> None:
    result = _result(LOSS)
    other = RNG.random((6, 6))
    fig = result.plot(x=other)
    assert isinstance(fig, Figure)
    [image] = _drawn(fig, "jacmagic-image")
    np.testing.assert_array_equal(image, other)
    [gradient] = _drawn(fig, "jacmagic-image-gradient")
    loss = lambda v: np.array([np.log(np.exp(_logits(v)).sum()) - _logits(v)[1]])  # noqa: E731
    np.testing.assert_allclose(gradient, _central(loss, other).reshape(6, 6), atol=1e-7)
    np.testing.assert_array_equal(_drawn(result.plot({"x": other}), "jacmagic-image-gradient")[0], gradient)


def test_plot_of_class_probabilities_by_an_image_draws_one_gradient_per_class() -> None:
    fig = _result(PROBABILITIES).plot()  # at the --at point
    drawn = _drawn(fig, "jacmagic-image-gradient")
    want = _central(_probabilities, POINT["x"])
    assert len(drawn) == 3
    for k, picture in enumerate(drawn):
        np.testing.assert_allclose(picture, want[k].reshape(6, 6), atol=1e-7)


def test_plot_of_an_image_network_refuses_a_domain() -> None:
    with pytest.raises(OptionError, match="domain"):
        _result(LOSS).plot(domain={"x": (0.0, 1.0)})


def test_plot_of_an_image_network_not_differentiated_by_the_image_says_why() -> None:
    with pytest.raises(OptionError, match="too large to write out"):
        _result(LOSS, wrt="K").plot()
