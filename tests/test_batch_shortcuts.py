"""The batch gradient's shortcuts (issue 27): a broadcast bias's gradient and the labels' column sums as products
with kept vectors of ones, the softmax's column totals likewise, the labels and the output bias not dotted for
finiteness (the fused loss's checked value proves them), and matrix products BLAS may share among threads checked
finite. Each against the exact walk and numpy backprop written here (`test_given_gradient._backprop`), on
generated batches: huge logits, labels that are not one-hot or sum to 0, nan and infinities in every input."""

from __future__ import annotations

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.chain.array_code import Undefined, threaded
from jacmagic.chain.network_walk import exact_reverse
from jacmagic.result import JacobianResult

from .helpers import assert_close
from .test_given_gradient import BATCH, _backprop, _refusal

LABELS = {
    "one-hot": lambda rng: np.eye(3)[:, rng.integers(0, 3, 4)],
    "not one-hot": lambda rng: rng.random((3, 4)),
    "summing to 0": lambda rng: (lambda y: y - y.mean(axis=0))(rng.standard_normal((3, 4))),
}


def _batch(seed: int, labels: str, scale: float = 1.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"W1": rng.standard_normal((6, 5)), "b1": rng.standard_normal((6, 1)),
            "W2": rng.standard_normal((3, 6)) * scale, "b2": rng.standard_normal((3, 1)), "X": rng.random((5, 4)),
            "Y": LABELS[labels](rng)}


def _result(point: dict[str, np.ndarray], cell: str = BATCH, wrt: str = "") -> JacobianResult:
    result = jacobian(cell, chain=True, at=point, wrt=wrt)
    assert isinstance(result, JacobianResult)
    return result


def _exact(result: JacobianResult, point: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    compiled = result.compiled
    arrays = {name: point[name].reshape(compiled.shapes[name]) for name in compiled.network.inputs}
    return {name: g.reshape(point[name].shape) for name, g in exact_reverse(compiled.network, arrays,
                                                                            compiled.wrt)[3].items()}


@pytest.mark.parametrize("labels", list(LABELS))
@pytest.mark.parametrize("seed", range(6))
def test_sums_by_products_with_ones_equal_the_exact_walk_and_numpy_backprop(seed: int, labels: str) -> None:
    point = _batch(seed, labels)
    result = _result(point)
    found = result.compiled.given_gradient(point)
    assert found is not None  # the flat function, not the fallback
    exact = _exact(result, point)
    for name, want in _backprop(point).items():
        assert_close(found[name], want, rel=1e-10)
        assert_close(found[name], exact[name], rel=1e-10)
    assert "ones" in _source(result) and ".sum(axis" not in _source(result)


def _source(result: JacobianResult) -> str:
    """The flat function's code, made again as the plan makes it."""
    from jacmagic.chain import flat_code

    made: list[str] = []
    compiled = flat_code.compiled
    try:
        flat_code.compiled = lambda source, bound: (made.append(source), compiled(source, bound))[1]  # type: ignore
        flat_code.flat_function(result.compiled, result.compiled.template,
                                [result.compiled.output_slots[0]])
    finally:
        flat_code.compiled = compiled  # type: ignore[assignment]
    return made[0]


@pytest.mark.parametrize("seed", range(4))
def test_huge_logits_whose_softmax_underflows_fall_back_to_the_exact_walk_which_says_where(seed: int) -> None:
    point = _batch(seed, "not one-hot", scale=1e4)  # logits of thousands: exp underflows to 0 in every column
    result = _result(point)
    arrays = [point[name] for name in result.compiled.network.inputs]
    with pytest.raises(Undefined):
        result.compiled._flat(arrays)
    assert result.compiled.given_gradient(point) is None
    found, exact = result.gradient(**point), _exact(result, point)
    for name in point:
        np.testing.assert_array_equal(found[name], exact[name])
    assert any("log" in words for words in result.walkthrough(**point).check.undefined)
    # by hand, as written (softmax = exp(Z) / sum(exp(Z)), no shift): the loss has no finite value, so no entry of
    # the gradient has one either; the shifted softmax's numbers (`_backprop`) are the reference on finite entries
    assert not np.isfinite(_loss_as_written(point))
    _agrees_where_finite(found, point)


def _loss_as_written(p: dict[str, np.ndarray]) -> float:
    with np.errstate(all="ignore"):
        z = p["W2"] @ np.maximum(p["W1"] @ p["X"] + p["b1"], 0) + p["b2"]
        return float(-np.sum(p["Y"] * np.log(np.exp(z) / np.exp(z).sum(axis=0))))


def _agrees_where_finite(found: dict[str, np.ndarray], point: dict[str, np.ndarray], least: float = 0.0) -> None:
    """The fallback's finite entries against numpy backprop written here; at least `least` of them finite."""
    with np.errstate(all="ignore"):
        want = _backprop(point)
    for name, got in found.items():
        kept = np.isfinite(got) & np.isfinite(want[name])
        assert kept.mean() >= least, (name, kept.mean())
        assert_close(got[kept], want[name][kept], rel=1e-8)


def test_the_labels_and_the_output_bias_are_proven_finite_by_the_fused_loss_not_dotted() -> None:
    result = _result(_batch(0, "one-hot"))
    inputs = result.compiled.network.inputs
    assert {inputs[k] for k in result.compiled.proven} == {"Y", "b2"}


@pytest.mark.parametrize("at", [(0, 0), (2, 3), (1, 2)])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", ["W1", "b1", "W2", "b2", "X", "Y"])
@pytest.mark.parametrize("labels", list(LABELS))
def test_a_value_not_finite_anywhere_in_any_input_is_refused_by_name_as_before(
        name: str, bad: float, at: tuple[int, int], labels: str) -> None:
    point = _batch(1, labels)
    result = _result(point)
    point[name][at[0] % point[name].shape[0], at[1] % point[name].shape[1]] = bad
    assert result.compiled.given_gradient(point) is None
    message = _refusal(lambda: result.gradient(**point))
    assert message.startswith(name) and "not a finite number" in message
    assert message == _refusal(lambda: result.point_arrays(point))


@pytest.mark.parametrize(("rows", "columns", "inner", "shared"), [
    (32, 32, 64, False), (64, 64, 16, False), (128, 128, 128, True), (10, 1, 32, False), (4096, 1, 10, True),
    (1, 4096, 784, True), (128, 1, 784, True), (10, 1, 128, False)])
def test_products_blas_may_share_among_threads_are_the_ones_checked(rows: int, columns: int, inner: int,
                                                                    shared: bool) -> None:
    assert threaded(rows, columns, inner) is shared


def test_a_product_shared_among_blas_threads_that_overflows_falls_back_not_returned_as_inf() -> None:
    """On main the product W1's gradient is made of (128 x 64 times 64 x 784, split among OpenBLAS's threads)
    overflowed in a worker thread, raised nothing, and came back as inf beside numbers the exact walk does not
    give. (On one core BLAS does not split it, and the overflow raised there too.)"""
    rng = np.random.default_rng(0)
    cell = ("W1: 128x784\nb1: 128x1\nW2: 10x128\nb2: 10x1\nX: 784x64\nY: 10x64\nH = relu(W1 @ X + b1)\n"
            "Z = W2 @ H + b2\nL = -sum(Y * log(softmax(Z, axis=0)))")
    point = {"W1": rng.standard_normal((128, 784)) * 0.1, "b1": np.zeros((128, 1)),
             "W2": rng.standard_normal((10, 128)) * 0.1, "b2": np.zeros((10, 1)), "X": rng.random((784, 64)),
             "Y": np.eye(10)[:, rng.integers(0, 10, 64)] * 1000}
    point["X"][783, 5], point["W1"][:, 783] = 1e307, 1e-310  # only W1's gradient's last column overflows
    result = _result(point, cell, "W1,b1,W2,b2")
    with pytest.raises(Undefined):
        result.compiled._flat([point[name] for name in result.compiled.network.inputs])
    found, exact = result.gradient(**point), _exact(result, point)
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_array_equal(found[name], exact[name])
    _agrees_where_finite(found, point, least=0.99)  # all but W1's last column
