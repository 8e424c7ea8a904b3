"""A def's hand-written stable softmax, e = exp(z − M) then e / sum(e) with M shared (max(z), a constant, a mean),
is read as softmax(z) and its log as log_softmax(z) (`chain/softmax_shift`): the closed form is the textbook's, the
same as the layer-line network's, and every formula (through `R.code()`) equals central differences written here."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.result import JacobianResult

from .helpers import assert_close

DEF_NETWORK = """def loss(W1, b1, W2, b2, x, y):
    h = np.maximum(W1 @ x + b1, 0)
    z = W2 @ h + b2
    e = np.exp(z - np.max(z))
    return -np.sum(y * np.log(e / e.sum()))
"""
LAYER_NETWORK = """W1: 4x6
b1: 4
W2: 3x4
b2: 3
x: 6
y: 3
h = relu(W1 @ x + b1)
z = W2 @ h + b2
loss = -sum(y * log(softmax(z)))"""
WRT = ("W1", "b1", "W2", "b2")


def _central(f: Any, point: dict[str, np.ndarray], name: str, step: float = 1e-6) -> np.ndarray:
    """∂f/∂point[name] by central differences, entry by entry, in the array's shape."""
    found = np.zeros_like(point[name])
    for k in np.ndindex(point[name].shape):
        up, down = ({**point, name: point[name].copy()} for _ in range(2))
        up[name][k] += step
        down[name][k] -= step
        found[k] = (f(**up) - f(**down)) / (2 * step)
    return found


def _code_gradient(result: JacobianResult, point: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    scope: dict[str, Any] = {"np": np}
    exec(result.code(), scope)  # noqa: S102 - the test runs the code the result wrote
    return scope["gradient"](**point)  # type: ignore[no-any-return]


def _network_point(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"W1": rng.normal(size=(4, 6)), "b1": rng.normal(size=4), "W2": rng.normal(size=(3, 4)),
            "b2": rng.normal(size=3), "x": rng.normal(size=6), "y": np.eye(3)[rng.integers(3)]}


def _numpy_loss(W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, x: np.ndarray,  # noqa: N803
                y: np.ndarray) -> float:
    z = W2 @ np.maximum(W1 @ x + b1, 0) + b2
    return float(-(y * (z - z.max() - np.log(np.exp(z - z.max()).sum()))).sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_readme_def_networks_closed_form_is_the_layer_line_versions(seed: int) -> None:
    point = _network_point(seed)
    traced = jacobian(DEF_NETWORK, chain=True, wrt=WRT, at=point, namespace={"np": np})
    layered = jacobian(LAYER_NETWORK, chain=True, wrt=WRT, at=point)
    assert isinstance(traced, JacobianResult) and isinstance(layered, JacobianResult)
    for name in WRT:
        assert traced.formula(name).text == layered.formula(name).text
    assert traced.formula("b2").text == "∂loss/∂b₂ = softmax(z) − y"
    found = _code_gradient(traced, point)
    for name in WRT:
        assert_close(found[name], _central(_numpy_loss, point, name), rel=1e-6)
    shown = str(traced)
    assert "in closed form" in shown and "the shift cancels" in shown and "no rule" not in shown


def test_a_stable_softmax_walks_finite_at_large_logits() -> None:
    cell = "def loss(z, y):\n    e = np.exp(z - np.max(z))\n    return -np.sum(y * np.log(e / e.sum()))\n"
    z, y = np.array([1000.0, 1001.0, 999.0]), np.array([0.0, 1.0, 0.0])
    result = jacobian(cell, chain=True, wrt=("z",), at={"z": z, "y": y}, namespace={"np": np})
    assert isinstance(result, JacobianResult)
    s = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    assert_close(result.gradient(z=z, y=y)["z"].ravel(), s - y, rel=1e-12)
    assert_close(_code_gradient(result, {"z": z, "y": y})["z"].ravel(), s - y, rel=1e-12)
    shown = str(result)
    assert "nan" not in shown and "inf" not in shown and "loss = −sum(y ⊙ log_softmax(z)) = 0.407606" in shown


SHIFTS = ["np.max(z)", "z.max()", "3.5", "np.mean(z)", "np.min(z) - 2.0"]
NORMALISED = ["e / e.sum()", "e / np.sum(e)"]


@pytest.mark.parametrize("logged", [True, False], ids=["log", "no-log"])
@pytest.mark.parametrize("normalised", NORMALISED)
@pytest.mark.parametrize("shift", SHIFTS)
def test_shifted_softmaxes_are_read_as_softmax_and_equal_central_differences(shift: str, normalised: str,
                                                                              logged: bool) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{shift}{normalised}{logged}".encode()))
    n, m = (int(k) for k in rng.integers(2, 6, size=2))
    out = f"-np.sum(y * np.log({normalised}))" if logged else f"np.sum(y * ({normalised}))"
    cell = f"def f(W, x, y):\n    z = W @ x\n    e = np.exp(z - {shift})\n    return {out}\n"
    point = {"W": rng.normal(size=(n, m)), "x": rng.normal(size=m), "y": rng.uniform(0, 1, n)}
    result = jacobian(cell, chain=True, wrt=("W",), at=point, namespace={"np": np})
    assert isinstance(result, JacobianResult)
    assert [line.name for line in result.network.lines] == ["z", "f"]
    text = result.formula("W").text
    assert "softmax(z)" in text and "max(" not in text.replace("softmax(", "") and "𝟙" not in text, text

    def numpy_f(W: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:  # noqa: N803
        z = W @ x
        e = np.exp(z - {"np.max(z)": z.max(), "z.max()": z.max(), "3.5": 3.5, "np.mean(z)": z.mean(),
                        "np.min(z) - 2.0": z.min() - 2.0}[shift])
        p = e / e.sum()
        return float(-(y * np.log(p)).sum() if logged else (y * p).sum())
    want = _central(numpy_f, point, "W")
    assert_close(_code_gradient(result, point)["W"], want, rel=1e-6)
    assert_close(result.gradient(**point)["W"], want, rel=1e-6)


def test_a_softmax_written_inline_twice_is_read_as_one() -> None:
    cell = "def f(z, y):\n    return -np.sum(y * np.log(np.exp(z - z.max()) / np.exp(z - z.max()).sum()))\n"
    point = {"z": np.array([0.3, -1.2, 2.0, 0.5]), "y": np.array([0.0, 0.0, 1.0, 0.0])}
    result = jacobian(cell, chain=True, wrt=("z",), at=point, namespace={"np": np})
    assert result.formula("z").text == "∂f/∂z = softmax(z) − y"


def test_a_softmax_along_the_columns_of_a_batch_is_read_as_one() -> None:
    cell = ("def f(Z, Y):\n    E = np.exp(Z - Z.max(axis=0, keepdims=True))\n"
            "    return -np.sum(Y * np.log(E / E.sum(axis=0, keepdims=True)))\n")
    rng = np.random.default_rng(7)
    point = {"Z": rng.normal(size=(3, 4)), "Y": np.eye(3)[:, rng.integers(3, size=4)]}
    result = jacobian(cell, chain=True, wrt=("Z",), at=point, namespace={"np": np})
    assert isinstance(result, JacobianResult)

    def numpy_f(Z: np.ndarray, Y: np.ndarray) -> float:  # noqa: N803
        return float(-(Y * (Z - np.log(np.exp(Z).sum(axis=0, keepdims=True)))).sum())
    assert "max(" not in result.formula("Z").text.replace("softmax(", "")
    assert_close(_code_gradient(result, point)["Z"], _central(numpy_f, point, "Z"), rel=1e-6)


def test_a_shift_that_differs_by_entry_is_not_read_as_softmax() -> None:
    cell = "def f(z, c, y):\n    e = np.exp(z - c)\n    return -np.sum(y * np.log(e / e.sum()))\n"
    rng = np.random.default_rng(3)
    point = {"z": rng.normal(size=3), "c": rng.normal(size=3), "y": np.array([0.0, 1.0, 0.0])}
    result = jacobian(cell, chain=True, wrt=("z", "c"), at=point, namespace={"np": np})
    assert isinstance(result, JacobianResult)
    assert [line.name for line in result.network.lines] == ["e", "f"]

    def numpy_f(z: np.ndarray, c: np.ndarray, y: np.ndarray) -> float:
        e = np.exp(z - c)
        return float(-(y * np.log(e / e.sum())).sum())
    for name in ("z", "c"):
        assert_close(result.gradient(**point)[name], _central(numpy_f, point, name), rel=1e-6)
