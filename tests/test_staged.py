"""A map too large to write out, numbered stage by stage (CompiledChain): its Jacobian at a point equals central
differences of the same map written here in numpy, and equals, bit for bit, the stage Jacobians written out whole
and multiplied as matrices (how it was computed before each was multiplied through its nonzero entries alone)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jacmagic import jacobian
from jacmagic.chain.staged import chained

Vector = Callable[[np.ndarray], np.ndarray]
# (name in a cell, the same in numpy, where its input is drawn)
FUNCTIONS: list[tuple[str, Vector, tuple[float, float]]] = [
    ("sqrt", np.sqrt, (0.5, 2.0)), ("tanh", np.tanh, (-1.5, 1.5)), ("exp", np.exp, (-1.0, 1.0)),
    ("sin", np.sin, (-2.0, 2.0)), ("log", np.log, (0.5, 2.0)),
]


def _cells() -> list[tuple[str, Vector, tuple[float, float]]]:
    """One, two and three element-wise stages (each large enough to be staged), for every function."""
    cells = []
    for name, function, drawn in FUNCTIONS:
        def two(x: np.ndarray, f: Vector = function) -> np.ndarray:
            return f(x) * np.exp(f(x)) + x

        def three(x: np.ndarray, f: Vector = function) -> np.ndarray:
            return np.exp(f(x)) * x * f(x)

        cells += [(f"x: 300\nh = {name}(x)\nf = h*exp(h) + x", two, drawn),
                  (f"x: 300\na = {name}(x)\nb = exp(a)*x\nf = b*a", three, drawn)]
    return cells + [("x: 784\nf = sqrt(x)", np.sqrt, (0.5, 2.0))]


def central_differences(function: Vector, point: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """d function / d point, column j from moving entry j both ways: each row of `shifted` is one moved point."""
    shifted = step * np.eye(len(point))
    return ((function(point + shifted) - function(point - shifted)) / (2 * step)).T


def written_out(result: object, values: list[np.ndarray]) -> np.ndarray:
    """The stage Jacobians written out whole, an undefined output's row undefined, multiplied from the outputs
    as matrices: the previous way, kept here as the reference."""
    symbolic = result.symbolic  # type: ignore[attr-defined]
    chain = symbolic.compiled_chain
    outputs, feeds, _ = chain.forward(*values)
    eye = np.eye(len(chain.outputs))
    gradient = {o: eye[i] for i, o in enumerate(chain.outputs)}
    zero = np.zeros(len(chain.outputs))
    for step, stage, out, fed in zip(*(reversed(list(s)) for s in (chain.steps, chain._stages, outputs, feeds))):
        local = np.where(np.isnan(out)[..., :, None], np.nan, stage.local(*fed))
        upstream = np.stack([gradient.get(o, zero) for o in step.outputs], axis=-1)
        product = chained(upstream, local)
        for j, source in enumerate(step.sources):
            gradient[source] = gradient.get(source, zero) + product[..., j]
    return np.stack([gradient.get(v, zero) for v in symbolic.inputs], axis=-1)


@pytest.mark.parametrize(("cell", "function", "drawn"), _cells(), ids=lambda c: str(c).replace("\n", "; "))
def test_a_staged_map_gives_central_differences_and_the_stage_jacobians_multiplied_out(
        cell: str, function: Vector, drawn: tuple[float, float]) -> None:
    result = jacobian(cell)
    assert result.symbolic.eager_matrix is None  # numbered stage by stage, not written out
    n = len(result.symbolic.inputs)
    point = np.random.default_rng(n).uniform(*drawn, n)
    got = result.at(x=point)
    assert np.allclose(got, central_differences(function, point), rtol=1e-6, atol=1e-6)
    assert np.array_equal(got, written_out(result, list(point)), equal_nan=True)


def test_a_staged_dense_stage_gives_central_differences() -> None:
    result = jacobian("W: 6x60\nx: 60\nf = tanh(W @ x)")
    assert result.symbolic.eager_matrix is None
    rng = np.random.default_rng(0)
    weights, x = rng.uniform(-0.3, 0.3, (6, 60)), rng.uniform(-1, 1, 60)
    got = result.at(W=weights, x=x)

    def by_hand(flat: np.ndarray) -> np.ndarray:
        return np.tanh(np.einsum("...ij,...j->...i", flat[..., :360].reshape(flat.shape[:-1] + (6, 60)),
                                 flat[..., 360:]))

    point = np.concatenate([weights.ravel(), x])
    assert np.allclose(got, central_differences(by_hand, point), rtol=1e-6, atol=1e-6)
    assert np.array_equal(got, written_out(result, [*weights.ravel(), *x]), equal_nan=True)


def test_a_large_staged_map_outside_its_domain_has_one_undefined_row_in_bounded_memory() -> None:
    """sqrt of 784 numbers, one negative: that row is undefined, the others are 1/(2 sqrt(x)); the product of
    a stage Jacobian with an undefined entry was once built as every term at once (784^3, 3.6 GB)."""
    result = jacobian("x: 784\nf = sqrt(x)")
    point = np.random.default_rng(1).uniform(0.5, 2.0, 784)
    point[3] = -1.0
    result.at(x=point)  # compiled before memory is counted
    tracemalloc.start()
    try:
        got = result.at(x=point)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100e6, peak
    assert np.isnan(got[3]).all() and not np.isnan(np.delete(got, 3, axis=0)).any()
    want = np.diag(0.5 / np.sqrt(np.abs(point)))
    assert np.allclose(np.delete(got, 3, axis=0), np.delete(want, 3, axis=0), rtol=1e-12, atol=0)


def term_by_term(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """left @ right with every term written out and a term with an exact 0 in it 0: the meaning `chained` keeps
    (how it was computed before), here as the reference for small operands."""
    with np.errstate(all="ignore"):
        terms = left[..., :, :, None] * right[..., None, :, :]
        zero = (left[..., :, :, None] == 0) | (right[..., None, :, :] == 0)
        return np.where(zero, 0.0, terms).sum(axis=-2)


INF, NAN = np.inf, np.nan
# (left, right): an inf or nan meeting a 0 (dropped) or a number (±inf, nan), +inf beside -inf in one entry (nan),
# inf times inf, a finite term overflowing beside an inf, leading point axes broadcast, a column of only zeros
PRODUCTS = {
    "inf meets zeros": ([[INF, 1.0], [0.0, 2.0]], [[0.0, 3.0], [1.0, 0.0]]),
    "inf meets numbers of both signs": ([[INF, 1.0], [-INF, 0.0]], [[2.0, -3.0, 0.0], [1.0, 1.0, 1.0]]),
    "nan meets a zero and a number": ([[NAN, 1.0]], [[0.0, 2.0], [5.0, 1.0]]),
    "a number meets nan": ([[1.0, 0.0], [0.0, 3.0]], [[1.0], [NAN]]),
    "+inf beside -inf": ([[INF, INF]], [[1.0], [-1.0]]),
    "inf times inf": ([[INF, -INF], [-INF, 0.0]], [[INF], [-INF]]),
    "an overflow beside a dropped inf": ([[1e200, INF, 1.0]], [[1e200, -1.0], [0.0, 0.0], [2.0, 3.0]]),
    "nan times inf": ([[NAN, 0.0]], [[INF], [NAN]]),
    "points broadcast": ([[[INF, 0.0]], [[1.0, -2.0]]], [[0.0, 1.0], [-INF, 0.5]]),
    "finite": ([[1.0, 2.0]], [[3.0], [4.0]]),
}


@pytest.mark.parametrize(("left", "right"), PRODUCTS.values(), ids=PRODUCTS.keys())
def test_a_product_beside_inf_or_nan_keeps_each_term_with_a_zero_zero(left: list, right: list) -> None:
    left_, right_ = np.array(left), np.array(right)
    assert np.array_equal(chained(left_, right_), term_by_term(left_, right_), equal_nan=True)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4), st.integers(0, 4), st.integers(1, 4), st.data())
def test_random_products_with_inf_and_nan_equal_the_terms_written_out(m: int, k: int, n: int,
                                                                     data: st.DataObject) -> None:
    entries = st.sampled_from([0.0, 0.0, 1.0, -1.0, 2.5, -0.5, INF, -INF, NAN])
    left, right = (np.array(data.draw(st.lists(entries, min_size=a * b, max_size=a * b))).reshape(a, b)
                   for a, b in ((m, k), (k, n)))
    assert np.array_equal(chained(left, right), term_by_term(left, right), equal_nan=True)


def test_a_stage_jacobian_holding_inf_at_a_large_size_never_writes_every_term_out() -> None:
    """f = c sum(sqrt(x + sum(x))) at a point where x_0 + sum(x) = 0: the dense 90 x 90 stage h's Jacobian is inf in
    row 0, met by 300 rows of upstream gradient. Every term written out (the product as it was) is m k n = 2.4
    million numbers, 19 MB (peak 44 MB measured then, 3.5 MB now); a row of c equal to 0 keeps its slope 0 beside
    the inf."""
    m, n = 300, 90
    result = jacobian(f"x: {n}\nc: {m}\nh = sqrt(x + sum(x))\ns = sum(h)\nf = s * c", wrt="x")
    x = np.ones(n)
    x[0] = -(n - 1) / 2  # x_0 + sum(x) = 0 exactly: sqrt's slope there is inf
    c = np.repeat([-1.0, 0.0, 2.0], m // 3)
    result.at(x=x, c=c)  # compiled before memory is counted
    tracemalloc.start()
    try:
        got = result.at(x=x, c=c)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * m * n * n, peak
    # df_j/dx_l = c_j sum_i (1 + [i = l]) / (2 sqrt(x_i + sum(x))): infinite (the i = 0 term), of c_j's sign; and
    # f_j = 0 * s for c_j = 0, a constant whatever x is
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.sum((1 + np.eye(n)) / (2 * np.sqrt(x + x.sum()))[:, None], axis=0)
        want = np.where(c[:, None] == 0, 0.0, c[:, None] * slope[None, :])
    assert np.array_equal(got, want)
