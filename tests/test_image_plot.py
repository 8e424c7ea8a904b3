"""`R.plot()` of a network that reads an image (issue 25, demo 06): the gradient in the image's shape as a matplotlib
Figure, at any point, its pictures holding the numbers central differences give (numpy written in the tests)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from jacmagic import jacobian
from jacmagic.errors import OptionError
from jacmagic.result import JacobianResult

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


def _result(cell: str, wrt: str = "x") -> JacobianResult:
    names = ("x", "K", "W", "b", "y") if "y: 3" in cell else ("x", "K", "W", "b")
    result = jacobian(cell, chain=True, wrt=(wrt,), at={name: POINT[name] for name in names})
    assert isinstance(result, JacobianResult)
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


def _titles(fig: Figure, gid: str = "jacmagic-image-gradient") -> list[str]:
    return [axes.get_title() for axes in fig.axes if any(image.get_gid() == gid for image in axes.get_images())]


def test_the_class_pictures_mark_the_predicted_class_and_the_true_one() -> None:
    """Predicted: numpy's argmax of the probabilities computed here; true: the label given."""
    predicted = int(np.argmax(_probabilities(POINT["x"])))
    true = (predicted + 1) % 3
    titles = _titles(_result(PROBABILITIES).plot(true_class=true))
    for k, title in enumerate(titles):
        assert f"class {k}" in title
        assert ("predicted" in title) == (k == predicted) and ("true" in title) == (k == true)
    assert "predicted, true" in _titles(_result(PROBABILITIES).plot(true_class=predicted))[predicted]


def test_a_loss_picture_says_the_one_hot_label_and_the_predicted_class() -> None:
    other = RNG.random((6, 6))
    [title] = _titles(_result(LOSS).plot(x=other))
    assert f"true class 1, predicted class {int(np.argmax(_logits(other)))}" in title  # y = e₁ in POINT


def test_the_static_pictures_say_which_classes_are_marked() -> None:
    from jacmagic.views.network_pictures import pictures

    result = _result(PROBABILITIES)
    [shown] = pictures(result, result.walked)
    predicted = int(np.argmax(_probabilities(POINT["x"])))
    assert f"class {predicted} predicted (framed orange)" in shown["text/plain"]


def test_the_panel_picks_a_class_and_draws_its_gradient_beside_the_image() -> None:
    from jacmagic.panels.pictures import ImagePictures
    from jacmagic.views.network_pictures import image_figure

    panel = _result(PROBABILITIES).widget()
    pictures = panel.pictures
    assert isinstance(pictures, ImagePictures) and pictures in panel.children
    assert pictures.picker is not None and pictures.picker.value == int(np.argmax(_probabilities(POINT["x"])))
    drawn = {}
    for k in range(3):
        pictures.picker.value = k
        drawn[k] = bytes(pictures.image.value)
        assert drawn[k].startswith(b"\x89PNG")
    assert len(set(drawn.values())) == 3
    figure = image_figure(pictures.result, pictures.walk, "x", picked=2)
    [image] = _drawn(figure, "jacmagic-image")
    [gradient] = _drawn(figure, "jacmagic-image-gradient")
    np.testing.assert_array_equal(image, POINT["x"])
    np.testing.assert_allclose(gradient, _central(_probabilities, POINT["x"])[2].reshape(6, 6), atol=1e-7)


def test_the_panel_pictures_follow_a_point_typed_in_the_panel() -> None:
    panel = _result(LOSS).widget()
    pictures = panel.pictures
    assert pictures is not None and pictures.picker is None  # a loss: one gradient, no classes to pick
    before = bytes(pictures.image.value)
    control = panel.controls["x"]
    control.picks[0].value, control.picks[1].value = 2, 3
    control.box.value = "5.0"
    assert pictures.walk is panel.walk and bytes(pictures.image.value) != before
    moved = POINT["x"].copy()
    moved[2, 3] = 5.0
    assert f"predicted class {int(np.argmax(_logits(moved)))}" in pictures.caption.value


def test_a_panel_without_an_image_has_no_pictures() -> None:
    assert _result(LOSS, wrt="K").widget().pictures is None


# -- plot() of every network ----------------------------------------------------------------------------------------

def _bars(fig: Figure) -> list[np.ndarray]:
    return [np.array([bar.get_height() for bar in axes.patches]) for axes in fig.axes if axes.patches]


def test_plot_of_an_image_network_not_differentiated_by_the_image_draws_the_kernel_gradient() -> None:
    fig = _result(LOSS, wrt="K").plot()
    [gradient] = _drawn(fig, "jacmagic-gradient")
    loss = lambda K: np.array([_cross_entropy(POINT["x"], K)])  # noqa: E731, N803
    np.testing.assert_allclose(gradient, _central(loss, POINT["K"]).reshape(3, 3), atol=1e-7)


def _cross_entropy(x: np.ndarray, K: np.ndarray) -> float:  # noqa: N803
    q = _pool(np.maximum(_conv(x, K), 0), 2)[0]
    z = POINT["W"] @ q.ravel() + POINT["b"]
    return float(np.log(np.exp(z).sum()) - z[1])


BATCH = "W: 4x6\nb: 4\nX: 6x5\nL = sum(tanh(W @ X + b) ** 2)"


def test_plot_of_a_large_network_draws_each_gradient_as_a_heat_map_or_bars() -> None:
    point = {"W": RNG.standard_normal((4, 6)), "b": RNG.standard_normal(4), "X": RNG.standard_normal((6, 5))}
    result = jacobian(BATCH, chain=True, wrt=("W", "b"), at=point)
    assert isinstance(result, JacobianResult) and result.whole is None

    def loss(W: np.ndarray, b: np.ndarray) -> np.ndarray:  # noqa: N803
        return np.array([np.sum(np.tanh(W @ point["X"] + b[:, None]) ** 2)])
    moved = RNG.standard_normal((4, 6))
    fig = result.plot(W=moved)
    [by_w] = _drawn(fig, "jacmagic-gradient")
    np.testing.assert_allclose(by_w, _central(lambda w: loss(w, point["b"]), moved).reshape(4, 6), atol=1e-6)
    [by_b] = _bars(fig)
    np.testing.assert_allclose(by_b, _central(lambda b: loss(moved, b), point["b"]).ravel(), atol=1e-6)


def test_plot_of_several_outputs_draws_each_jacobian_block_a_row_per_output() -> None:
    point = {"W": RNG.standard_normal((4, 6)), "b": RNG.standard_normal(4), "X": RNG.standard_normal((6, 5))}
    result = jacobian("W: 4x6\nb: 4\nX: 6x5\nH = tanh(W @ X + b)", chain=True, wrt=("b",), at=point)
    assert isinstance(result, JacobianResult) and result.whole is None
    [block] = _drawn(result.plot(), "jacmagic-gradient")
    by_hand = lambda b: np.tanh(point["W"] @ point["X"] + b[:, None]).ravel()  # noqa: E731
    np.testing.assert_allclose(block, _central(by_hand, point["b"]), atol=1e-7)  # 20 x 4


def test_plot_of_a_small_network_draws_the_map_written_out() -> None:
    result = jacobian("W: 2x2\nx: 2\nz = tanh(W @ x)", chain=True)
    assert isinstance(result, JacobianResult) and result.whole is not None
    assert isinstance(result.plot(), Figure)


def test_plot_of_a_large_network_refuses_a_domain() -> None:
    with pytest.raises(OptionError, match="domain is for the picture of a small map"):
        jacobian(BATCH, chain=True).plot(domain={"b": (0.0, 1.0)})


def test_an_image_flattened_into_a_dense_layer_gets_one_picture_per_class_too() -> None:
    """Any input with an image shape is drawn as pictures, not only one a convolution reads: x: 6x6 through
    flatten and a dense layer (the classic MLP on images)."""
    w = RNG.standard_normal((3, 36))

    def probabilities(x: np.ndarray) -> np.ndarray:
        z = w @ x.ravel()
        e = np.exp(z - z.max())
        return e / e.sum()

    result = jacobian("x: 6x6\nW: 3x36\np = softmax(W @ flatten(x))", chain=True, wrt=("x",),
                      at={"x": POINT["x"], "W": w})
    drawn = _drawn(result.plot(), "jacmagic-image-gradient")
    want = _central(probabilities, POINT["x"])
    assert len(drawn) == 3
    for k, picture in enumerate(drawn):
        np.testing.assert_allclose(picture, want[k].reshape(6, 6), atol=1e-7)
    assert any("image/png" in bundle for bundle in result.displays)
