"""The reductions and softmaxes along an axis have one value for the array walk (`Reduce`, `Softmax`) and the
closed form (`closed_form_more.Along`, `SoftmaxAlong`): `reductions.along_values`. Both are checked here against
numpy written in the test, on random arrays of every shape, kind and axis (large entries among them: logsumexp and
the softmaxes must not overflow)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jacmagic.chain import closed_form_tree as t
from jacmagic.chain.closed_form_more import Along, SoftmaxAlong
from jacmagic.chain.elementwise import CrossEntropy
from jacmagic.chain.operations import Leaf
from jacmagic.chain.reductions import Reduce, Softmax

from .test_properties import SCALE


def _logsumexp(z: np.ndarray, axis: int | None) -> np.ndarray:
    top = np.max(z, axis=axis, keepdims=True)
    return top + np.log(np.sum(np.exp(z - top), axis=axis, keepdims=True))


_NUMPY: dict[str, Callable[[np.ndarray, int | None], np.ndarray]] = {
    "sum": lambda z, axis: np.sum(z, axis=axis, keepdims=True),
    "mean": lambda z, axis: np.mean(z, axis=axis, keepdims=True),
    "max": lambda z, axis: np.max(z, axis=axis, keepdims=True),
    "min": lambda z, axis: np.min(z, axis=axis, keepdims=True),
    "norm": lambda z, axis: np.sqrt(np.sum(z * z, axis=axis, keepdims=True)),
    "logsumexp": _logsumexp,
    "softmax": lambda z, axis: np.exp(z - _logsumexp(z, axis)),
    "log_softmax": lambda z, axis: z - _logsumexp(z, axis),
}
_SOFTMAXES = ("softmax", "log_softmax")


@st.composite
def _case(draw: st.DrawFn) -> tuple[str, int | None, np.ndarray]:
    kind = draw(st.sampled_from(sorted(_NUMPY)))
    axis = draw(st.sampled_from([None, 0, 1]))
    shape = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    scale = draw(st.sampled_from([1.0, 30.0, 1000.0]))  # exp(1000) overflows unless shifted
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return kind, axis, rng.standard_normal(shape) * scale


@settings(max_examples=150 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case())
def test_the_walk_and_the_closed_form_give_numpys_value_for_every_kind_and_axis(
        case: tuple[str, int | None, np.ndarray]) -> None:
    kind, axis, z = case
    want = _NUMPY[kind](z, axis)
    leaf = Leaf("Z", z.shape)
    walk = Softmax(leaf, kind == "log_softmax", axis) if kind in _SOFTMAXES else Reduce(kind, leaf, axis)
    walked = walk.evaluate([z])
    assert walked.shape == want.shape == walk.shape
    assert np.allclose(walked, want, rtol=1e-12, atol=1e-12 * float(np.abs(z).max() + 1)), (walked, want)
    if kind in _SOFTMAXES and axis is None:
        return  # the closed form writes a softmax of all entries as a function of its own (`closed_form_tree`)
    name = t.Name("Z", z.shape)
    closed = SoftmaxAlong(name, axis, kind == "log_softmax") if kind in _SOFTMAXES else Along(kind, name, axis)
    found = closed.evaluate({"Z": z})
    assert found.shape == closed.shape == walk.shape
    assert np.array_equal(found, walked)  # one computation: the same numbers to the last bit


@settings(max_examples=50 * SCALE, deadline=None)
@given(st.integers(1, 8), st.sampled_from([1.0, 1000.0]), st.integers(0, 2**32 - 1))
def test_cross_entropy_takes_the_log_softmax_of_all_entries_of_its_logits(
        size: int, scale: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    z, y = rng.standard_normal((size, 1)) * scale, rng.random((size, 1))
    loss = CrossEntropy(Leaf("z", z.shape), Leaf("y", y.shape))
    want = np.full((1, 1), -np.sum(y * (z - _logsumexp(z, None))))
    assert np.allclose(loss.evaluate([z, y]), want, rtol=1e-12, atol=1e-12 * scale * size)
