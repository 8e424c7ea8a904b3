"""Array-level cells an ML engineer or a deep-learning student would write, through a real IPython shell: every
gradient against central differences written here (numpy, random points, batches included), in each array's own
shape; the walkthrough's verdict; the closed-form code run as printed on the arrays as the user holds them."""

# ruff: noqa: N803 - the losses by hand take the arrays under the cells' names (W, X, Y)
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy.special import erf, log_softmax, logsumexp, softmax

from tests.conftest import Shell

RNG = np.random.default_rng(7)
Reference = Callable[..., float]


def central(f: Reference, point: dict[str, np.ndarray], name: str, h: float = 1e-6) -> np.ndarray:
    """d f / d point[name] by central differences, in the array's shape."""
    value = np.asarray(point[name], dtype=float)
    found = np.zeros(value.shape)
    for k in np.ndindex(value.shape):
        up, down = value.copy(), value.copy()
        up[k] += h
        down[k] -= h
        found[k] = (f(**{**point, name: up}) - f(**{**point, name: down})) / (2 * h)
    return found


def random_point(shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Entries in [-1, 1]; a square matrix named A moved away from singular (det, logdet, inv)."""
    point = {name: RNG.uniform(-1, 1, shape) for name, shape in shapes.items()}
    if "A" in point and point["A"].ndim == 2 and point["A"].shape[0] == point["A"].shape[1]:
        point["A"] = point["A"] + 3 * np.eye(len(point["A"]))
    return point


def cell_result(shell: Shell, cell: str, options: str = "") -> Any:
    return shell.ok(f"%%jacobian --chain --no-widgets {options}\n{cell}").result


def assert_gradients(result: Any, reference: Reference, point: dict[str, np.ndarray]) -> None:
    """Each gradient in its array's shape equals central differences, and the walkthrough's check agrees."""
    gradients = result.gradient(**point)
    for name, found in gradients.items():
        want = central(reference, point, name)
        assert np.shape(found) == np.shape(point[name]), (name, np.shape(found))
        assert np.allclose(found, want, rtol=1e-5, atol=1e-6), (name, found, want)
    assert result.walkthrough(**point).check.agrees is True


def run_code(source: str, point: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The closed-form code run as printed: in a scope of its own, nothing imported for it."""
    scope: dict[str, Any] = {}
    exec(source, scope)  # noqa: S102 - the generated closed-form source, run as a user would
    function = scope.get("gradient") or scope["jacobian"]
    return function(**{name: point[name] for name in function.__code__.co_varnames[:function.__code__.co_argcount]})


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": _relu, "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh,
    "softplus": lambda z: np.log1p(np.exp(z)), "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "gelu": lambda z: z * (1 + erf(z / np.sqrt(2))) / 2, "exp": np.exp, "sin": np.sin, "abs": np.abs,
}
LAYER = {"W": (3, 4), "b": (3,), "x": (4,), "t": (3,)}


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_in_a_layer_cell_gives_central_differences(shell: Shell, activation: str) -> None:
    f = ACTIVATIONS[activation]
    result = cell_result(shell, f"W: 3x4\nb: 3\nx: 4\nt: 3\nh = {activation}(W @ x + b)\nL = sum((h - t)**2)")
    for _ in range(2):
        assert_gradients(result, lambda W, b, x, t: float(np.sum((f(W @ x + b) - t) ** 2)), random_point(LAYER))


# A cell, its arrays' shapes as the user holds them, and the loss written with numpy.
CELLS: dict[str, tuple[str, dict[str, tuple[int, ...]], Reference]] = {
    "softmax cross-entropy": ("W: 3x4\nb: 3\nx: 4\ny: 3\nz = W @ x + b\nL = -sum(y * log(softmax(z)))",
                              {"W": (3, 4), "b": (3,), "x": (4,), "y": (3,)},
                              lambda W, b, x, y: -np.sum(y * np.log(softmax(W @ x + b)))),
    "cross_entropy on logits": ("W: 3x4\nb: 3\nx: 4\ny: 3\nL = cross_entropy(W @ x + b, y)",
                                {"W": (3, 4), "b": (3,), "x": (4,), "y": (3,)},
                                lambda W, b, x, y: -np.sum(y * log_softmax(W @ x + b))),
    "mse": ("W: 3x4\nx: 4\ny: 3\nL = mse(W @ x, y)", {"W": (3, 4), "x": (4,), "y": (3,)},
            lambda W, x, y: np.mean((W @ x - y) ** 2)),
    "norm": ("W: 3x4\nx: 4\nL = norm(W @ x)", {"W": (3, 4), "x": (4,)}, lambda W, x: np.linalg.norm(W @ x)),
    "logsumexp": ("W: 3x4\nx: 4\nL = logsumexp(W @ x)", {"W": (3, 4), "x": (4,)}, lambda W, x: logsumexp(W @ x)),
    "batch log_softmax": ("W: 3x4\nX: 4x5\nY: 3x5\nL = -sum(Y * log_softmax(W @ X, axis=0)) / 5",
                          {"W": (3, 4), "X": (4, 5), "Y": (3, 5)},
                          lambda W, X, Y: -np.sum(Y * log_softmax(W @ X, axis=0)) / 5),
    "batch mean of losses": ("W: 3x4\nX: 4x5\nY: 3x5\nL = mean(-sum(Y * log(softmax(W @ X, axis=0)), axis=0))",
                             {"W": (3, 4), "X": (4, 5), "Y": (3, 5)},
                             lambda W, X, Y: np.mean(-np.sum(Y * np.log(softmax(W @ X, axis=0)), axis=0))),
    "two-layer batch": ("W1: 6x4\nb1: 6\nW2: 3x6\nb2: 3\nX: 4x8\nY: 3x8\n"
                        "L = -sum(Y * log_softmax(W2 @ relu(W1 @ X + b1) + b2, axis=0)) / 8",
                        {"W1": (6, 4), "b1": (6,), "W2": (3, 6), "b2": (3,), "X": (4, 8), "Y": (3, 8)},
                        lambda W1, b1, W2, b2, X, Y: -np.sum(Y * log_softmax(
                            W2 @ _relu(W1 @ X + b1[:, None]) + b2[:, None], axis=0)) / 8),
    "softmax along rows": ("X: 4x5\nL = sum(softmax(X, axis=1) * X)", {"X": (4, 5)},
                           lambda X: np.sum(softmax(X, axis=1) * X)),
    "logsumexp along columns": ("X: 4x5\nL = sum(logsumexp(X, axis=0))", {"X": (4, 5)},
                                lambda X: np.sum(logsumexp(X, axis=0))),
    "max along columns": ("X: 4x5\nL = sum(max(X, axis=0))", {"X": (4, 5)}, lambda X: np.sum(np.max(X, axis=0))),
    "norm along columns": ("X: 4x5\nL = sum(norm(X, axis=0))", {"X": (4, 5)},
                           lambda X: np.sum(np.linalg.norm(X, axis=0))),
    "bilinear form": ("W: 3x4\nx: 4\nv: 3\nL = v.T @ W @ x", {"W": (3, 4), "x": (4,), "v": (3,)},
                      lambda W, x, v: v @ W @ x),
    "quadratic form": ("A: 3x3\nx: 3\nL = x.T @ A @ x", {"A": (3, 3), "x": (3,)}, lambda A, x: x @ A @ x),
    "trace": ("A: 3x3\nB: 3x3\nL = tr(A @ B.T)", {"A": (3, 3), "B": (3, 3)}, lambda A, B: np.trace(A @ B.T)),
    "det": ("A: 3x3\nL = det(A)", {"A": (3, 3)}, lambda A: np.linalg.det(A)),
    "logdet": ("A: 3x3\nL = logdet(A @ A.T)", {"A": (3, 3)}, lambda A: np.log(np.linalg.det(A @ A.T))),
    "inverse": ("A: 3x3\nb: 3\nL = sum(inv(A) @ b)", {"A": (3, 3), "b": (3,)},
                lambda A, b: np.sum(np.linalg.inv(A) @ b)),
    "entries": ("W: 3x4\nx: 4\nL = W[1, 2] * W[0, 3] + x[0] * x[3]", {"W": (3, 4), "x": (4,)},
                lambda W, x: W[1, 2] * W[0, 3] + x[0] * x[3]),
    "transposed product": ("A: 3x4\nB: 4x3\nL = sum((A.T * B)**2)", {"A": (3, 4), "B": (4, 3)},
                           lambda A, B: np.sum((A.T * B) ** 2)),
    "row broadcast": ("A: 3x4\nr: 1x4\nL = sum(tanh(A + r))", {"A": (3, 4), "r": (1, 4)},
                      lambda A, r: np.sum(np.tanh(A + r))),
    "column broadcast": ("A: 3x4\nc: 3\nL = sum(sigmoid(A * c) + A / c)", {"A": (3, 4), "c": (3,)},
                         lambda A, c: np.sum(1 / (1 + np.exp(-A * c[:, None])) + A / c[:, None])),
    "where": ("A: 3x4\nB: 3x4\nL = sum(where(A > 0, A, 0.1 * A) + max(A, B))", {"A": (3, 4), "B": (3, 4)},
              lambda A, B: np.sum(np.where(A > 0, A, 0.1 * A) + np.maximum(A, B))),
    "number times a vector": ("x: 4\nL = sqrt(sum(x**2) + 1) * c", {"x": (4,), "c": ()},
                              lambda x, c: np.sqrt(np.sum(x ** 2) + 1) * c),
}


@pytest.mark.parametrize("name", sorted(CELLS))
def test_array_cells_give_central_differences_in_each_arrays_shape(shell: Shell, name: str) -> None:
    cell, shapes, reference = CELLS[name]
    result = cell_result(shell, cell)
    for _ in range(2):
        assert_gradients(result, reference, random_point(shapes))


def test_the_closed_form_code_takes_vectors_as_numpy_holds_them() -> None:
    """x: 4 is numpy's (4,): the generated code took it as given, so x xᵀ was a number and Wᵀ... failed (or
    broadcast to a 4 x 4 'gradient', silently); it now reshapes vectors to columns and gives each gradient back in
    its array's shape, and runs without the caller importing numpy."""
    from jacmagic import jacobian

    result = jacobian("A: 3x3\nx: 3\nL = x.T @ A @ x + sqrt(sum(x**2) + 1)", chain=True)
    point = random_point({"A": (3, 3), "x": (3,)})
    ran = run_code(result.code(), point)
    for name in ("A", "x"):
        want = central(lambda A, x: float(x @ A @ x + np.sqrt(x @ x + 1)), point, name)
        assert np.shape(ran[name]) == np.shape(point[name])
        assert np.allclose(ran[name], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("as_columns", [False, True], ids=["numpy vectors", "columns"])
def test_the_closed_form_code_runs_as_printed_on_the_arrays_in_either_shape(shell: Shell, name: str,
                                                                            as_columns: bool) -> None:
    """Vectors given as numpy's (n,) or as columns (n, 1), numbers as floats: the code's gradients equal the walk's
    and central differences, each in the shape its array came in."""
    cell, shapes, reference = CELLS[name]
    result = cell_result(shell, cell)
    point = random_point(shapes)
    if "Y" in point or "y" in point:  # a one-hot label: the softmax + cross-entropy identity takes it
        label = "Y" if "Y" in point else "y"
        point[label] = np.eye(shapes[label][0])[:, RNG.integers(shapes[label][0], size=shapes[label][1:])]
    given = {k: v[:, None] if as_columns and v.ndim == 1 else v for k, v in point.items()}
    ran, walked = run_code(result.code(), given), result.gradient(**given)
    for array, found in ran.items():
        assert np.shape(found) == np.shape(given[array]), (array, np.shape(found))
        assert np.allclose(found, walked[array], rtol=1e-8, atol=1e-10)
        assert np.allclose(np.reshape(found, point[array].shape), central(reference, point, array),
                           rtol=1e-5, atol=1e-6)


# -- a numpy def that flattens or reshapes -------------------------------------------------------------------------

RESHAPES = {
    "X.flatten()": lambda X: X.flatten(), "X.ravel()": lambda X: X.ravel(), "np.ravel(X)": np.ravel,
    "X.reshape(-1, 1)": lambda X: X.reshape(-1, 1), "np.reshape(X, (12,))": lambda X: np.reshape(X, (12,)),
    "X.reshape(12)": lambda X: X.reshape(12),
}


def test_a_def_that_flattens_an_image_into_a_layer_is_traced(shell: Shell) -> None:
    """x.flatten() in a --chain def was refused as "AttributeError: 'Tracer' object has no attribute 'flatten'"."""
    point = random_point({"W": (2, 12), "X": (3, 4)})
    shell.ip.user_ns.update(W0=point["W"], X0=point["X"])
    result = cell_result(shell, "def f(W, X):\n    return np.sum(np.tanh(W @ X.flatten()))", "--at W=W0,X=X0")
    assert_gradients(result, lambda W, X: float(np.sum(np.tanh(W @ X.flatten()))), point)


@pytest.mark.parametrize("written", sorted(RESHAPES))
def test_every_flatten_and_reshape_to_a_vector_gives_central_differences_and_runnable_code(shell: Shell,
                                                                                          written: str) -> None:
    shape = RESHAPES[written]
    point = random_point({"W": (2, 12), "X": (3, 4)})
    shell.ip.user_ns.update(W0=point["W"], X0=point["X"])
    result = cell_result(shell, f"def f(W, X):\n    return np.sum(np.tanh(W @ {written})**2)", "--at W=W0,X=X0")
    reference = lambda W, X: float(np.sum(np.tanh(W @ shape(X)) ** 2))  # noqa: E731 - the def's loss by hand
    for _ in range(2):
        assert_gradients(result, reference, point)
        ran = run_code(result.code(), point)
        assert all(np.allclose(ran[name], central(reference, point, name), atol=1e-6) for name in point)
        point = random_point({"W": (2, 12), "X": (3, 4)})


def test_a_row_reshape_is_traced_as_the_transposed_column(shell: Shell) -> None:
    point = random_point({"W": (2, 12), "X": (3, 4)})
    shell.ip.user_ns.update(W0=point["W"], X0=point["X"])
    result = cell_result(shell, "def f(W, X):\n    return np.sum(np.tanh(X.reshape(1, -1) @ W.T)**2)",
                         "--at W=W0,X=X0")
    assert_gradients(result, lambda W, X: float(np.sum(np.tanh(X.reshape(1, -1) @ W.T) ** 2)), point)


@pytest.mark.parametrize(("body", "said"), [
    ("np.sum(X.reshape(2, 6))", "reshaping (3, 4) into (2, 6) is not traced"),
    ("np.sum(X.reshape(5, 6))", "cannot reshape an array of shape (3, 4) into (5, 6)"),
    ("np.sum(X.reshape(12, order='F'))", "reshape with options"),
    ("X.argmax() * np.sum(X)", "the array method .argmax is not traced"),
    ("np.sum(X.cumsum())", "the array method .cumsum is not traced"),
])
def test_an_untraced_reshape_or_method_is_refused_naming_it_not_as_an_attribute_error(shell: Shell, body: str,
                                                                                      said: str) -> None:
    from IPython.core.error import UsageError

    shell.ip.user_ns["X0"] = RNG.uniform(-1, 1, (3, 4))
    ran = shell.run(f"%%jacobian --chain --no-widgets --at X=X0\ndef f(X):\n    return {body}")
    assert type(ran.error) is UsageError
    assert str(ran.error).startswith("line 2") and said in str(ran.error), str(ran.error)
    assert "AttributeError" not in str(ran.error) and "Tracer" not in str(ran.error)


# -- shape lines ---------------------------------------------------------------------------------------------------

def test_a_shape_line_with_four_sizes_is_refused_as_not_a_shape_not_a_decimal_literal(shell: Shell) -> None:
    """`W: 3x4x5x6` was "invalid decimal literal; write products with *, e.g. 2*x"."""
    from IPython.core.error import UsageError

    ran = shell.run("%%jacobian --chain --no-widgets\nW: 3x4x5x6\nL = sum(W)")
    assert type(ran.error) is UsageError
    assert str(ran.error).startswith("line 1: W: 3x4x5x6 is not a shape"), str(ran.error)


@pytest.mark.parametrize("line", ["W: 3x4x5x6", "W: 3x-4", "x: -3", "W: 2.5", "W: 3x4x", "X: 2x3x3x3  # images"])
@pytest.mark.parametrize("options", ["--chain", ""])
def test_every_malformed_shape_line_is_refused_naming_its_line(shell: Shell, line: str, options: str) -> None:
    from IPython.core.error import UsageError

    ran = shell.run(f"%%jacobian --no-widgets {options}\na = 1\n{line}\nL = sum(W) * a")
    assert type(ran.error) is UsageError
    message = str(ran.error)
    assert message.startswith(f"line 2: {line.split('#')[0].strip()} is not a shape"), message
    assert "decimal literal" not in message


def test_the_walkthrough_shapes_and_text_of_a_batch_in_every_mode(shell: Shell) -> None:
    """Forward, reverse and both: gradients and values in the arrays' shapes, no stray blank lines, both checks."""
    point = random_point({"W": (3, 4), "b": (3,), "X": (4, 6)})
    point["Y"] = np.eye(3)[:, RNG.integers(3, size=6)]
    shell.ip.user_ns.update({f"{k}0": v for k, v in point.items()})
    cell = "W: 3x4\nb: 3\nX: 4x6\nY: 3x6\nZ = W @ X + b\nL = -sum(Y * log_softmax(Z, axis=0)) / 6"
    for mode in ("reverse", "forward", "both"):
        result = cell_result(shell, cell, f"--mode {mode} --at W=W0,b=b0,X=X0,Y=Y0")
        assert_gradients(result, lambda W, b, X, Y: float(-np.sum(Y * log_softmax(W @ X + b[:, None], axis=0)) / 6),
                         point)
        walked = result.walkthrough()
        assert walked.values["Z"].shape == (3, 6) and walked.values["b"].shape == (3,)
        assert "\n\n\n" not in str(result)
        if mode != "reverse":
            assert walked.forward_check.agrees is True


def test_the_forward_check_of_a_reverse_only_walk_says_forward_mode_did_not_run(shell: Shell) -> None:
    """`walkthrough().forward_check` after a reverse-mode cell was a bare AssertionError."""
    from jacmagic.errors import OptionError

    result = cell_result(shell, "W: 3x4\nx: 4\nL = sum(tanh(W @ x))")
    with pytest.raises(OptionError, match="forward mode did not run: add --mode forward"):
        result.walkthrough().forward_check  # noqa: B018 - reading it is the test
