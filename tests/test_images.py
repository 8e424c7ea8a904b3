"""Images (issue 25): conv2d, maxpool2d and flatten as array operations, in layer lines and in a numpy def. Values
against numpy loops written here, Jacobians against central differences and an explicit Toeplitz matrix built
here, a small conv net's gradient against backprop written here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.errors import CellError, OptionError
from jacmagic.result import JacobianResult
from jacmagic.views.verdicts import verdict_words

RNG = np.random.default_rng(25)


def _result(cell: str, point: Mapping[str, Any], **options: Any) -> JacobianResult:
    result = jacobian(cell, chain=True, at=dict(point), namespace={"np": np}, **options)
    assert isinstance(result, JacobianResult)
    return result


def _conv(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Valid correlation, one output entry at a time."""
    k, w = kernel.shape
    out = np.zeros((x.shape[0] - k + 1, x.shape[1] - w + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(x[i:i + k, j:j + w] * kernel)
    return out


def _pool(x: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Each s x s window's largest entry, and a mask of where it is (the first of equals, row-major)."""
    out = np.zeros((x.shape[0] // s, x.shape[1] // s))
    where = np.zeros_like(x)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            window = x[i * s:(i + 1) * s, j * s:(j + 1) * s]
            out[i, j] = window.max()
            a, b = divmod(int(np.argmax(window)), s)
            where[i * s + a, j * s + b] = 1.0
    return out, where


def _toeplitz(kernel: np.ndarray, image: tuple[int, int]) -> np.ndarray:
    """The matrix of valid correlation with `kernel` on row-major images: row (i, j) holds K at (i + a, j + b)."""
    (rows, cols), (k, w) = image, kernel.shape
    out_rows, out_cols = rows - k + 1, cols - w + 1
    matrix = np.zeros((out_rows * out_cols, rows * cols))
    for i in range(out_rows):
        for j in range(out_cols):
            for a in range(k):
                for b in range(w):
                    matrix[i * out_cols + j, (i + a) * cols + j + b] = kernel[a, b]
    return matrix


def _central(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d f / d x (f's entries by x's entries, row-major) by central differences."""
    columns = []
    for k in range(x.size):
        step = np.zeros(x.size)
        step[k] = h
        ends = [f((x.ravel() + sign * step).reshape(x.shape)).ravel() for sign in (1, -1)]
        columns.append((ends[0] - ends[1]) / (2 * h))
    return np.stack(columns, axis=1)


SHAPES = [((5, 6), (2, 3)), ((4, 4), (3, 3)), ((3, 5), (3, 5)), ((6, 4), (1, 1)), ((5, 3), (2, 1)), ((7, 1), (3, 1))]


@pytest.mark.parametrize(("image", "kernel"), SHAPES)
def test_conv2d_values_are_the_valid_correlation(image: tuple[int, int], kernel: tuple[int, int]) -> None:
    point = {"x": RNG.standard_normal(image), "K": RNG.standard_normal(kernel)}
    result = _result(f"x: {image[0]}x{image[1]}\nK: {kernel[0]}x{kernel[1]}\nh = conv2d(x, K)", point)
    np.testing.assert_allclose(result.walkthrough().values["h"], _conv(point["x"], point["K"]), rtol=1e-12)


@pytest.mark.parametrize(("image", "kernel"), SHAPES)
def test_conv2d_jacobian_is_the_toeplitz_matrix_and_central_differences(image: tuple[int, int],
                                                                       kernel: tuple[int, int]) -> None:
    x, kernel_value = RNG.standard_normal(image), RNG.standard_normal(kernel)
    result = _result(f"x: {image[0]}x{image[1]}\nK: {kernel[0]}x{kernel[1]}\nh = conv2d(x, K)",
                     {"x": x, "K": kernel_value}, mode="both")
    jacobian_ = result.at(x=x, K=kernel_value)
    by_x, by_kernel = jacobian_[:, :x.size], jacobian_[:, x.size:]
    np.testing.assert_allclose(by_x, _toeplitz(kernel_value, image), atol=1e-13)
    np.testing.assert_allclose(by_x, _central(lambda v: _conv(v, kernel_value), x), atol=1e-8)
    np.testing.assert_allclose(by_kernel, _central(lambda v: _conv(x, v), kernel_value), atol=1e-8)
    walked = result.walkthrough()
    assert walked.agrees and walked.forward_agrees, verdict_words(walked.check)


@pytest.mark.parametrize(("image", "size"), [((4, 4), 2), ((6, 9), 3), ((2, 6), 2), ((5, 5), 1), ((4, 4), 4)])
def test_maxpool2d_values_and_jacobian(image: tuple[int, int], size: int) -> None:
    x = RNG.standard_normal(image)  # no ties
    result = _result(f"x: {image[0]}x{image[1]}\nq = maxpool2d(x, {size})", {"x": x}, mode="both")
    want, _ = _pool(x, size)
    np.testing.assert_allclose(result.walkthrough().values["q"], want, rtol=1e-15)
    np.testing.assert_allclose(result.at(x=x), _central(lambda v: _pool(v, size)[0], x), atol=1e-8)
    walked = result.walkthrough()
    assert walked.agrees and walked.forward_agrees, verdict_words(walked.check)


def test_maxpool2d_tie_sends_the_gradient_to_the_first_largest_entry() -> None:
    x = np.array([[1.0, 3.0, 0.0, 0.0], [3.0, 2.0, 0.0, 0.0]])  # 3 twice in the first window, 0 four times after
    gradient = _result("x: 2x4\nL = sum(maxpool2d(x, 2))", {"x": x}).gradient()["x"]
    np.testing.assert_array_equal(gradient, [[0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])


def test_flatten_is_row_major_with_jacobian_identity() -> None:
    q = RNG.standard_normal((2, 3))
    result = _result("q: 2x3\nf = flatten(q)", {"q": q})
    np.testing.assert_array_equal(result.walkthrough().values["f"], q.reshape(-1))  # numpy's flatten: a vector
    np.testing.assert_array_equal(result.at(q=q), np.eye(6))


@pytest.mark.parametrize(("line", "words"), [
    ("h = conv2d(x, K)", "the 5 x 5 kernel is larger than the 4 x 6 image"),
    ("h = maxpool2d(x, 4)", "the 4 x 6 image does not split into 4 x 4 windows"),
    ("h = maxpool2d(x, 1.5)", "a whole window size"),
    ("h = maxpool2d(x, K)", "a whole window size"),
    ("h = conv2d(x)", "conv2d(x, K) takes an image x and a kernel K, got 1 argument"),
    ("h = flatten(x, K)", "flatten(q) takes one array"),
])
def test_image_mistakes_are_cell_errors_naming_the_line(line: str, words: str) -> None:
    with pytest.raises(CellError, match="line 3") as caught:
        jacobian(f"x: 4x6\nK: 5x5\n{line}", chain=True)
    assert words in caught.value.message


def test_a_def_with_a_kernel_larger_than_the_image_is_a_cell_error() -> None:
    with pytest.raises(CellError, match="kernel is larger"):
        jacobian("def f(x, K):\n    return np.sum(conv2d(x, K))", chain=True,
                 at={"x": np.ones((2, 2)), "K": np.ones((3, 3))}, namespace={"np": np})


def test_conv2d_local_jacobians_say_their_structure() -> None:
    text = " ".join(str(_result("x: 16x16\nK: 3x3\nL = sum(maxpool2d(conv2d(x, K), 2))",
                                {"x": RNG.standard_normal((16, 16))})).split())  # its continued lines joined
    assert "T(K)" in text and "the banded, weight-shared (Toeplitz) matrix of K: its product is a correlation with " \
                               "the flipped kernel" in text
    assert "a selection of each 2 x 2 window's largest entry (at a tie the first, numpy's argmax)" in text


def test_a_large_image_is_computed_with_numpy_not_entry_by_entry() -> None:
    x, kernel = RNG.standard_normal((128, 128)), RNG.standard_normal((5, 5))
    result = _result("x: 128x128\nK: 5x5\nL = sum(conv2d(x, K) ** 2)", {"x": x, "K": kernel})
    gradient = result.gradient()
    c = _conv(x, kernel)
    np.testing.assert_allclose(gradient["K"], 2 * _conv(x, c), rtol=1e-10)  # dL/dK: x correlated with 2c
    padded = np.pad(2 * c, 4)
    np.testing.assert_allclose(gradient["x"], _conv(padded, kernel[::-1, ::-1]), rtol=1e-10, atol=1e-10)


# -- a small conv net ---------------------------------------------------------------------------------------------

NET = """x: 8x8
K: 3x3
W: 10x9
b: 10
y: 10
h = relu(conv2d(x, K))
q = maxpool2d(h, 2)
z = W @ flatten(q) + b
L = -sum(y * log(softmax(z)))
"""
NET_DEF = """x: 8x8
K: 3x3
W: 10x9
def loss(x, K, W, b, y):
    h = relu(conv2d(x, K))
    q = maxpool2d(h, 2)
    z = W @ flatten(q) + b
    return -np.sum(y * np.log(softmax(z)))
"""


def _net_point() -> dict[str, np.ndarray]:
    return {"x": RNG.standard_normal((8, 8)), "K": RNG.standard_normal((3, 3)), "W": RNG.standard_normal((10, 9)),
            "b": RNG.standard_normal(10), "y": np.eye(10)[3]}


def _backprop(x: np.ndarray, K: np.ndarray, W: np.ndarray, b: np.ndarray, y: np.ndarray  # noqa: N803
              ) -> dict[str, np.ndarray]:
    """The conv net's gradient by hand: softmax cross-entropy, the dense layer, pooling, ReLU, the correlation."""
    c = _conv(x, K)
    q, where = _pool(np.maximum(c, 0), 2)
    f = q.ravel()
    z = W @ f + b
    s = np.exp(z - z.max())
    s /= s.sum()
    dz = s * y.sum() - y
    dq = (W.T @ dz).reshape(q.shape)
    dc = np.kron(dq, np.ones((2, 2))) * where * (c > 0)
    dK = np.array([[np.sum(dc * x[a:a + 6, b_:b_ + 6]) for b_ in range(3)] for a in range(3)])  # noqa: N806
    dx = np.zeros_like(x)
    for a in range(3):
        for b_ in range(3):
            dx[a:a + 6, b_:b_ + 6] += K[a, b_] * dc
    return {"K": dK, "W": np.outer(dz, f), "b": dz, "x": dx}


@pytest.mark.parametrize("cell", [NET, NET_DEF], ids=["layer lines", "numpy def"])
def test_conv_net_gradient_is_numpy_backprop(cell: str) -> None:
    point = _net_point()
    result = _result(cell, point, mode="both")
    gradients = result.gradient()
    for name, want in _backprop(**point).items():
        if name in gradients:
            np.testing.assert_allclose(gradients[name].reshape(want.shape), want, rtol=0, atol=1e-10)
    walked = result.walkthrough()
    assert walked.agrees and walked.forward_agrees, verdict_words(walked.check)


# -- a batch of images ---------------------------------------------------------------------------------------------

BATCH = 32
BATCH_NET = f"""X: {BATCH}x8x8
K: 3x3
W: 10x9
b: 10
Y: 10x{BATCH}
H = relu(conv2d(X, K))
Q = maxpool2d(H, 2)
Z = W @ flatten(Q) + b
L = -sum(Y * log_softmax(Z, axis=0))
"""


def _batch_point(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"X": rng.standard_normal((BATCH, 8, 8)), "K": rng.standard_normal((3, 3)),
            "W": rng.standard_normal((10, 9)), "b": rng.standard_normal(10),
            "Y": np.eye(10)[:, rng.integers(10, size=BATCH)]}


@pytest.mark.parametrize(("divided", "scale"), [("", 1.0), (f" / {BATCH}", 1 / BATCH)], ids=["sum", "mean"])
def test_a_batch_of_images_through_the_conv_net_gives_the_per_example_gradients_summed_or_averaged(
        divided: str, scale: float) -> None:
    """32 digits in numpy's (32, 8, 8): every gradient the per-example numpy backprop summed (or averaged), 1e-10."""
    point = _batch_point(np.random.default_rng(32))
    result = _result(BATCH_NET.replace("axis=0))\n", f"axis=0)){divided}\n"), point)
    gradients = result.gradient()
    each = [_backprop(point["X"][j], point["K"], point["W"], point["b"], point["Y"][:, j]) for j in range(BATCH)]
    for name, part in (("K", "K"), ("W", "W"), ("b", "b")):
        want = scale * sum(e[part] for e in each)
        np.testing.assert_allclose(gradients[name].reshape(want.shape), want, rtol=0, atol=1e-10)
    assert gradients["X"].shape == (BATCH, 8, 8)  # in the shape given
    np.testing.assert_allclose(gradients["X"], scale * np.stack([e["x"] for e in each]), rtol=0, atol=1e-10)
    values = result.walkthrough().values
    np.testing.assert_allclose(values["Q"].reshape(BATCH, 3, 3),
                               [_pool(np.maximum(_conv(x, point["K"]), 0), 2)[0] for x in point["X"]], rtol=1e-13)
    text = " ".join(str(result).split())
    assert "(Toeplitz) matrix of K for each of the 32 images (block-diagonal, one block per image)" in text
    assert "a reordering: image j's entries, row-major, become column j" in text
    assert f"the per-example gradients {'summed' if scale == 1 else 'averaged'}" in text


def test_a_batch_walkthrough_checks_itself_in_both_modes() -> None:
    point = {**_batch_point(np.random.default_rng(33)), "X": np.random.default_rng(33).standard_normal((4, 8, 8)),
             "Y": np.eye(10)[:, :4]}
    result = _result(BATCH_NET.replace("32", "4"), point, mode="both", wrt="X,K,b")
    walked = result.walkthrough()
    assert walked.agrees and walked.forward_agrees, verdict_words(walked.check)


BATCH_DEF = """def loss(X, K, W, b, Y):
    H = relu(conv2d(X, K))
    Q = maxpool2d(H, 2)
    Z = W @ flatten(Q) + b
    return LOSS
"""


@pytest.mark.parametrize(("loss", "scale"), [("-np.sum(Y * log_softmax(Z, axis=0))", 1.0),
                                             (f"-np.sum(Y * log_softmax(Z, axis=0)) / {BATCH}", 1 / BATCH),
                                             ("-np.mean(np.sum(Y * log_softmax(Z, axis=0), axis=0))", 1 / BATCH)],
                         ids=["sum", "divided", "mean"])
def test_a_numpy_def_takes_a_batch_of_images_given_with_three_axes(loss: str, scale: float) -> None:
    """X of shape (32, 8, 8) in --at, as `X: 32x8x8` in a layer cell: per image, gradients in the given shapes."""
    point = {**_batch_point(np.random.default_rng(34)), "b": np.random.default_rng(35).standard_normal((10, 1))}
    result = _result(BATCH_DEF.replace("LOSS", loss), point)
    gradients = result.gradient()
    each = [_backprop(point["X"][j], point["K"], point["W"], point["b"][:, 0], point["Y"][:, j]) for j in range(BATCH)]
    for name in ("X", "K", "W", "b"):
        want = scale * (np.stack([e["x"] for e in each]) if name == "X" else sum(e[name] for e in each))
        assert gradients[name].shape == point[name].shape, name
        np.testing.assert_allclose(gradients[name], want.reshape(point[name].shape), rtol=0, atol=1e-10)
    values = result.walkthrough().values
    pooled = [_pool(np.maximum(_conv(x, point["K"]), 0), 2)[0] for x in point["X"]]
    assert values["H"].shape == (BATCH, 6, 6) and values["Q"].shape == (BATCH, 3, 3)
    np.testing.assert_allclose(values["Q"], pooled, rtol=1e-13)


@pytest.mark.parametrize(("line", "words"), [("Z = X.T", "transposing a batch of images of shape (2, 4, 4)"),
                                             ("Z = X @ K", "@ of a batch of images of shape (2, 4, 4)"),
                                             ("Z = X + K", "broadcasting a batch of images of shape (2, 4, 4)"),
                                             ("Z = np.sum(X, axis=0)", "sum along axis=0 of a batch")])
def test_a_def_mixing_the_images_of_a_batch_is_refused_naming_the_line(line: str, words: str) -> None:
    with pytest.raises(CellError, match="line 2") as caught:
        jacobian(f"def f(X, K):\n    {line}\n    return np.sum(Z)", chain=True,
                 at={"X": np.ones((2, 4, 4)), "K": np.ones((4, 4))}, namespace={"np": np})
    assert words in caught.value.message


def test_a_def_given_a_batch_of_one_image_says_how_to_give_it() -> None:
    with pytest.raises(CellError, match=r"X has shape \(1, 4, 4\): a batch of one image; give it as \(4, 4\)"):
        jacobian("def f(X):\n    return np.sum(X ** 2)", chain=True, at={"X": np.ones((1, 4, 4))},
                 namespace={"np": np})


@pytest.mark.parametrize(("stack", "image", "kernel"), [(3, (5, 6), (2, 3)), (2, (4, 4), (3, 3)), (4, (3, 3), (1, 1))])
def test_the_batch_conv2d_jacobian_is_one_toeplitz_block_per_image(stack: int, image: tuple[int, int],
                                                                    kernel: tuple[int, int]) -> None:
    x, kernel_value = RNG.standard_normal((stack, *image)), RNG.standard_normal(kernel)
    result = _result(f"x: {stack}x{image[0]}x{image[1]}\nK: {kernel[0]}x{kernel[1]}\nh = conv2d(x, K)",
                     {"x": x, "K": kernel_value})
    jacobian_ = result.at(x=x, K=kernel_value)
    by_x = jacobian_[:, :x.size]
    np.testing.assert_allclose(by_x, np.kron(np.eye(stack), _toeplitz(kernel_value, image)), atol=1e-13)
    per_image = lambda v: np.stack([_conv(one, kernel_value) for one in v])  # noqa: E731
    np.testing.assert_allclose(by_x, _central(per_image, x), atol=1e-8)
    np.testing.assert_allclose(jacobian_[:, x.size:], _central(lambda v: np.stack([_conv(one, v) for one in x]),
                                                                 kernel_value), atol=1e-8)


def test_the_batch_maxpool2d_jacobian_is_central_differences_image_by_image() -> None:
    x = RNG.standard_normal((3, 4, 6))
    result = _result("x: 3x4x6\nq = maxpool2d(x, 2)", {"x": x})
    pooled = lambda v: np.stack([_pool(one, 2)[0] for one in v])  # noqa: E731
    np.testing.assert_allclose(result.walkthrough().values["q"].reshape(3, 2, 3), pooled(x), rtol=1e-15)
    np.testing.assert_allclose(result.at(x=x), _central(pooled, x), atol=1e-8)


def test_flatten_of_a_batch_gives_each_image_as_a_column() -> None:
    q = RNG.standard_normal((5, 2, 3))
    result = _result("q: 5x2x3\nf = flatten(q)", {"q": q})
    np.testing.assert_array_equal(result.walkthrough().values["f"], q.reshape(5, -1).T)
    np.testing.assert_allclose(result.at(q=q), _central(lambda v: v.reshape(5, -1).T, q), atol=1e-8)


def test_a_window_that_would_span_two_images_of_a_batch_is_refused() -> None:
    """A 2 x 6 x 4 batch stacks to 12 x 4, which 4 x 4 windows split; each 6 x 4 image does not."""
    with pytest.raises(CellError, match="the 6 x 4 image does not split into 4 x 4 windows"):
        jacobian("x: 2x6x4\nq = maxpool2d(x, 4)", chain=True)
    with pytest.raises(CellError, match="the 3 x 3 kernel is larger than the 2 x 4 image"):
        jacobian("x: 5x2x4\nK: 3x3\nh = conv2d(x, K)", chain=True)


def test_a_batch_of_images_given_in_another_shape_is_refused_naming_its_shape() -> None:
    with pytest.raises(OptionError, match=r"x is 2 x 3 x 3 \(a batch of 2 images\), so it needs 18 values in that "
                                          "shape, got 6 x 3"):
        jacobian("x: 2x3x3\nL = sum(maxpool2d(x, 3))", chain=True, at={"x": np.ones((6, 3))})


def test_a_short_training_run_on_the_shipped_digits_reaches_a_fixed_accuracy() -> None:
    """scikit-learn's 1,797 8 x 8 digits (in its package, nothing downloaded): 150 steps of mini-batch gradient
    descent with the batch gradient of the two-kernel conv net take the held-out accuracy from chance to 85% with
    this seed (about 0.7 s idle); asserted above 75%."""
    from numpy.lib.stride_tricks import sliding_window_view
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = digits.images / 16, digits.target
    rng = np.random.default_rng(0)
    order = rng.permutation(len(images))
    train, test = order[:1400], order[1400:]
    cell = f"""X: {BATCH}x8x8\nK1: 3x3\nK2: 3x3\nW1: 10x9\nW2: 10x9\nb: 10\nY: 10x{BATCH}
Q1 = maxpool2d(relu(conv2d(X, K1)), 2)
Q2 = maxpool2d(relu(conv2d(X, K2)), 2)
Z = W1 @ flatten(Q1) + W2 @ flatten(Q2) + b
L = -sum(Y * log_softmax(Z, axis=0)) / {BATCH}"""
    weights = {"K1": rng.normal(0, 0.5, (3, 3)), "K2": rng.normal(0, 0.5, (3, 3)), "W1": rng.normal(0, 0.3, (10, 9)),
               "W2": rng.normal(0, 0.3, (10, 9)), "b": np.zeros(10)}

    def accuracy(w: dict[str, np.ndarray]) -> float:  # the forward pass in numpy, every held-out image at once
        windows = sliding_window_view(images[test], (3, 3), axis=(1, 2))
        z = w["b"][None]
        for kernel, dense in ((w["K1"], w["W1"]), (w["K2"], w["W2"])):
            h = np.maximum(np.einsum("nijab,ab->nij", windows, kernel), 0)
            z = z + h.reshape(-1, 3, 2, 3, 2).max(axis=(2, 4)).reshape(-1, 9) @ dense.T
        return float(np.mean(z.argmax(axis=1) == labels[test]))

    net = _result(cell, {**weights, "X": images[train[:BATCH]], "Y": np.eye(10)[labels[train[:BATCH]]].T},
                  wrt="K1,K2,W1,W2,b")
    assert accuracy(weights) < 0.25
    for _ in range(150):
        batch = rng.choice(train, BATCH, replace=False)
        gradients = net.gradient(X=images[batch], Y=np.eye(10)[labels[batch]].T, **weights)
        weights = {name: value - 0.5 * gradients[name] for name, value in weights.items()}
    assert accuracy(weights) > 0.75


# -- pictures ---------------------------------------------------------------------------------------------------------

def _drawn(fig: Any, gid: str) -> list[Any]:
    return [image for axes in fig.axes for image in axes.images if image.get_gid() == gid]


def test_class_probabilities_show_one_gradient_image_per_class_on_one_scale() -> None:
    from jacmagic.views.network_pictures import image_figure, pictures

    point = {k: v for k, v in _net_point().items() if k != "y"}
    cell = NET.replace("y: 10\n", "").replace("z = W @ flatten(q) + b\nL = -sum(y * log(softmax(z)))\n",
                                               "p = softmax(W @ flatten(q) + b)\n")
    result = _result(cell, point)
    by_x = result.at(**point)[:, :64].reshape(10, 8, 8)
    drawn = _drawn(image_figure(result, result.walked, "x"), "jacmagic-image-gradient")
    assert len(drawn) == 10
    for k, image in enumerate(drawn):
        np.testing.assert_allclose(image.get_array(), by_x[k], rtol=1e-12)
        assert image.get_clim() == (-np.abs(by_x).max(), np.abs(by_x).max())
    shown = pictures(result, result.walked)
    assert len(shown) == 1 and shown[0]["image/png"].startswith(b"\x89PNG")
    assert "∂p/∂x in the shape of x (8 x 8) as pictures, one picture per output entry (10)" in shown[0]["text/plain"]


def test_a_loss_shows_its_gradient_image_beside_the_input_image() -> None:
    from jacmagic.views.network_pictures import image_figure

    point = {**_net_point(), "x": RNG.standard_normal((16, 16)), "W": RNG.standard_normal((10, 49))}
    result = _result(NET.replace("8x8", "16x16").replace("10x9", "10x49"), point)
    fig = image_figure(result, result.walked, "x")
    np.testing.assert_array_equal(_drawn(fig, "jacmagic-image")[0].get_array(), point["x"])
    np.testing.assert_allclose(_drawn(fig, "jacmagic-image-gradient")[0].get_array(), result.gradient()["x"])
    shown = [d for d in result.displays if isinstance(d, dict) and "image/png" in d]
    assert [d["text/plain"].split(" in ")[0] for d in shown] == ["∂L/∂x", "∂L/∂W"]  # x once, as images


@pytest.mark.parametrize("cell", ["X: 2x2x2\nL = sum(X**2)", "X: 3x2x2\nh = tanh(X)\nL = sum(h)"])
def test_a_three_axis_declaration_without_chain_is_refused_not_laid_out_as_a_matrix(cell: str) -> None:
    """Found by the images helper: without --chain, X: 2x2x2 was read as a 4 x 2 matrix named X_3,1 ..."""
    with pytest.raises(CellError, match=r"line 1: X has three axes .* add --chain"):
        jacobian(cell)
    stacked = np.arange(float(np.prod(_declared(cell)))).reshape(_declared(cell)) / 10
    result = jacobian(cell, chain=True, at={"X": stacked})
    assert result.gradient()["X"].shape == stacked.shape


def _declared(cell: str) -> tuple[int, ...]:
    return tuple(int(n) for n in cell.split("\n")[0].split(": ")[1].split("x"))
