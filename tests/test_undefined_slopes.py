"""Where a map has a value but no derivative (√x at 0, a norm at 0, a tied max) or a kink the walk takes by
convention (ReLU at 0), the walkthrough's check never says DOES NOT match for it, and every undefined entry comes
with its reason; a walk that is wrong where the derivative exists is still caught.

The right numbers are central differences of the map written here in numpy, at the entries whose derivative
exists (those the walk leaves defined and no kink touches)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.chain.network_walk import walk
from jacmagic.chain.operations import Power
from jacmagic.chain.reductions import Reduce
from jacmagic.chain.verdict import Verdict
from jacmagic.views.verdicts import verdict_words

Map = Callable[[np.ndarray], np.ndarray]


def differences(f: Map, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d f / d x entry by entry (one output entry), in x's shape."""
    found = np.zeros(x.shape)
    for k in np.ndindex(x.shape):
        step = np.zeros(x.shape)
        step[k] = h
        with np.errstate(invalid="ignore"):  # √ of a neighbour below 0: no number, where the walk has none either
            found[k] = (float(np.sum(f(x + step))) - float(np.sum(f(x - step)))) / (2 * h)
    return found


def checks(cell: str, name: str, x: np.ndarray) -> tuple[Verdict, Verdict, np.ndarray]:
    """The walkthrough's own check (direct for a small plain cell, directions for a batched one), the check along
    random directions the walk makes where there is no whole to compare with, and the gradient."""
    result = jacobian(cell, chain=True)
    own = result.walkthrough(**{name: x}).check
    forced = walk(result.compiled, {name: x.reshape(result.compiled.shapes[name])}).check
    return own, forced, np.asarray(result.gradient(**{name: x})[name], dtype=float).reshape(x.shape)


def assert_honest(verdict: Verdict, gradient: np.ndarray) -> None:
    said = verdict_words(verdict)
    assert verdict.agrees is True and "DOES NOT" not in said, said
    if not np.isfinite(gradient).all():
        assert verdict.undefined and "has no derivative" in said, said
        assert verdict.judged is not None and verdict.judged < gradient.size


def test_a_norm_per_column_at_a_zero_column_is_not_called_wrong() -> None:
    """The reported case: column 1 of X is 0, where norm(X, axis=0) has no derivative. The gradient rightly has
    nan there; the directional check compared that nan with the map's finite differences and said DOES NOT
    match. Now it judges the 9 other entries and says why column 1 is undefined."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    x[:, 1] = 0
    result = jacobian("X: 3x4\nL = sum(norm(X, axis=0))", chain=True)
    gradient = result.gradient(X=x)["X"]
    assert np.isnan(gradient[:, 1]).all()
    keep = np.arange(4) != 1
    want = differences(lambda y: np.linalg.norm(y, axis=0).sum(), x)
    np.testing.assert_allclose(gradient[:, keep], want[:, keep], rtol=1e-6)
    check = result.walkthrough(X=x).check
    assert (check.agrees, check.against, check.judged) == (True, "directions", 9)
    assert check.undefined == ("norm(X, axis=0) has no derivative where a column is 0 (line 2)",)
    assert verdict_words(check).startswith("undefined here: norm(X, axis=0) has no derivative where a column is 0")


def test_sqrt_at_zero_says_why_its_derivative_is_undefined() -> None:
    check = jacobian("x: 3\nL = sum(sqrt(x))", chain=True).walkthrough(x=np.array([0.0, 1.0, 2.0])).check
    assert (check.agrees, check.judged) == (True, 2)
    assert check.undefined == ("√(x) has no derivative at 0 (line 2)",)


def test_a_norm_at_zero_says_why_its_derivative_is_undefined() -> None:
    check = jacobian("x: 3\nL = norm(x)", chain=True).walkthrough(x=np.zeros(3)).check
    assert (check.agrees, check.judged) == (True, 0)
    assert check.undefined == ("‖x‖ has no derivative where every entry is 0 (line 2)",)


def test_relu_at_zero_along_directions_is_not_called_wrong() -> None:
    """ReLU's slope at 0 is 0 (the ML frameworks' convention, docs/cell-forms.md); a central difference there
    averages the two sides (1/2), so the directional check said DOES NOT match. The kinked entry is not judged."""
    result = jacobian("x: 3\nL = sum(relu(x))", chain=True)
    check = walk(result.compiled, {"x": np.array([[0.0], [1.0], [2.0]])}).check
    assert (check.agrees, check.judged) == (True, 2)


def _column(x: np.ndarray, k: int, value: float = 0.0) -> np.ndarray:
    x = x.copy()
    x[:, k] = value
    return x


def _tie(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x[0] = x[1] = np.abs(x).max() + 1  # the largest entry, twice
    return x


# name: (cell, input, map in numpy, the point from a random 3 x 4 draw (a vector: its first column), whether some
# slope is undefined there). Each cell runs as it is (small: the direct check; batched: directions) and along
# random directions.
FAMILY: dict[str, tuple[str, str, Map, Callable[[np.ndarray], np.ndarray], bool]] = {
    "sqrt at 0": ("x: 3\nL = sum(sqrt(x))", "x", np.sqrt, lambda r: np.abs(r[:, :1]) * [[0], [1], [1]], True),
    "fractional power at 0": ("x: 3\nL = sum(x**0.5)", "x", np.sqrt, lambda r: np.abs(r[:, :1]) * [[0], [1], [1]],
                              True),
    "cube root at 0": ("x: 3\nL = sum(cbrt(x))", "x", np.cbrt, lambda r: r[:, :1] * [[0], [1], [1]], True),
    "a power 1.5 at 0 (a derivative)": ("x: 3\nL = sum(x**1.5)", "x", lambda x: x**1.5,
                                        lambda r: np.abs(r[:, :1]) * [[0], [1], [1]], False),
    "norm at 0": ("x: 3\nL = norm(x)", "x", np.linalg.norm, lambda r: 0 * r[:, :1], True),
    "norm along axis 0": ("X: 3x4\nL = sum(norm(X, axis=0))", "X", lambda x: np.linalg.norm(x, axis=0),
                          lambda r: _column(r, 2), True),
    "norm along axis 1": ("X: 3x4\nL = sum(norm(X, axis=1))", "X", lambda x: np.linalg.norm(x, axis=1),
                          lambda r: _column(r.T, 1).T, True),
    "norm in a layer": ("X: 3x4\nH = tanh(X)\nL = sum(norm(H, axis=0))", "X",
                        lambda x: np.linalg.norm(np.tanh(x), axis=0), lambda r: _column(r, 0), True),
    "sqrt in a layer": ("x: 3\nu = 2*x - 1\nL = sum(tanh(sqrt(u)))", "x",
                        lambda x: np.tanh(np.sqrt(np.maximum(2 * x - 1, 0))),
                        lambda r: 1 + np.abs(r[:, :1]) * [[0], [1], [1]] + [[-0.5], [0], [0]], True),
    "max tied": ("x: 3\nL = max(x)", "x", np.max, lambda r: _tie(r[:, :1]), False),
    "max per column tied": ("X: 3x4\nL = sum(max(X, axis=0))", "X", lambda x: np.max(x, axis=0), _tie, False),
    "min per row tied": ("X: 3x4\nL = sum(min(X, axis=1))", "X", lambda x: np.min(x, axis=1),
                         lambda r: _column(_column(r, 0, -9.0), 3, -9.0), False),
    "abs at 0": ("x: 3\nL = sum(abs(x))", "x", np.abs, lambda r: r[:, :1] * [[0], [1], [1]], False),
    "relu at 0": ("x: 3\nL = sum(relu(x))", "x", lambda x: np.maximum(x, 0), lambda r: r[:, :1] * [[0], [1], [1]],
                  False),
    "relu at 0 in a layer": ("X: 3x4\nH = relu([[1.0, 2, 3], [0.5, -1, 2]] @ X)\nL = sum(tanh(H + 1))", "X",
                             lambda x: np.tanh(np.maximum(np.array([[1.0, 2, 3], [0.5, -1, 2]]) @ x, 0) + 1),
                             lambda r: _column(r, 1), False),
}


def _tied(case: str, x: np.ndarray) -> np.ndarray:
    """The entries tied for the extreme of their group (the whole, a column, a row): a kink, one side taken."""
    axis = 0 if "column" in case or x.shape[1] == 1 else 1
    extreme = x.max(axis=axis, keepdims=True) if "max" in case else x.min(axis=axis, keepdims=True)
    return np.asarray(x == extreme)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("case", FAMILY)
def test_no_derivative_is_never_called_a_mismatch_and_always_says_why(case: str, seed: int) -> None:
    cell, name, f, place, undefined = FAMILY[case]
    x = place(np.random.default_rng(seed).normal(size=(3, 4)))
    own, forced, gradient = checks(cell, name, x)
    assert_honest(own, gradient)
    if case == "a power 1.5 at 0 (a derivative)":  # a step along x_1 leaves the domain: x_1 set aside, the rest judged
        said = verdict_words(forced)
        assert (forced.agrees, forced.judged) == (True, 2) and "edge of the domain" in said, said
        assert "overflow" not in said and "DOES NOT" not in said, said
    else:
        assert_honest(forced, gradient)
    assert (not np.isfinite(gradient).all()) == undefined
    want = differences(f, x)
    kinks = (x == 0) if "relu" in case else _tied(case, x) if "tied" in case else np.zeros(x.shape, dtype=bool)
    compared = np.isfinite(gradient) & ~kinks & np.isfinite(want)  # a neighbour outside the domain: one side only
    if case == "a power 1.5 at 0 (a derivative)":
        assert (gradient[x == 0] == 0).all()  # 1.5 x^0.5 from the right, by hand
    np.testing.assert_allclose(gradient[compared], want[compared], rtol=1e-5, atol=1e-8)
    if "relu" in case and kinks.any() and "layer" not in case:
        assert (gradient[kinks] == 0).all()  # the convention, documented
    if "tied" in case:  # the convention: the first of the tied takes the whole slope, one side's
        assert set(gradient[kinks].tolist()) == {0.0, 1.0} and gradient[kinks].sum() == kinks.sum() // 2


def test_a_large_cell_with_a_zero_column_is_judged_along_directions() -> None:
    """A 40 x 60 batch, too large for a symbolic whole: one zero column, the rest checked along directions."""
    x = np.random.default_rng(4).normal(size=(40, 60))
    x[:, 7] = 0
    result = jacobian("X: 40x60\nH = relu(X)\nL = sum(norm(H, axis=0)) + sum(sqrt(abs(X) + 1))", chain=True)
    check = result.walkthrough(X=x).check
    assert check.agrees and check.against == "directions" and check.judged == 40 * 59
    assert any("a column is 0" in why for why in check.undefined)


# -- a wrong walk is still caught ------------------------------------------------------------------------------------

def _norm_rows(wrong: Callable[[np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    original = Reduce.row

    def row(self: Reduce, z: np.ndarray, value: np.ndarray) -> np.ndarray:
        found = original(self, z, value)
        return wrong(found) if self.kind == "norm" else found
    return row


def _with_column(k: int, value: float) -> Callable[[np.ndarray], np.ndarray]:
    def wrong(found: np.ndarray) -> np.ndarray:
        found = found.copy()
        found[:, k] = found[:, k] * value if value != 0 else np.nan
        return found
    return wrong


@pytest.mark.parametrize("zero_column", [None, 1])
@pytest.mark.parametrize("factor", [0.0, 1.1])  # 0: nan where the derivative exists; 1.1: a wrong number
def test_a_walk_wrong_where_the_derivative_exists_is_caught(monkeypatch: pytest.MonkeyPatch, zero_column: int | None,
                                                             factor: float) -> None:
    x = np.random.default_rng(1).normal(size=(3, 4))
    if zero_column is not None:
        x[:, zero_column] = 0
    monkeypatch.setattr(Reduce, "row", _norm_rows(_with_column(2, factor)))
    result = jacobian("X: 3x4\nL = sum(norm(X, axis=0))", chain=True)
    check = result.walkthrough(X=x).check
    said = verdict_words(check)
    # nan in column 2 beside column 1's real undefined gets no excuse from column 1's reason: the map is smooth
    # along column 2's inputs, so they are judged
    assert check.agrees is False and "DOES NOT match" in said, said


@pytest.mark.parametrize("point", [[[1.0], [2.0], [3.0]], [[0.0], [2.0], [3.0]]])
def test_a_nan_slope_with_smooth_values_gets_no_excuse(monkeypatch: pytest.MonkeyPatch, point: list[list[float]]
                                                        ) -> None:
    """x**0.5 whose slope is nan at 2 (where the derivative exists): no reason is given, and the check, direct
    or along directions, says DOES NOT match (beside a real undefined slope at 0 too)."""
    original = Power._slope
    monkeypatch.setattr(Power, "_slope", lambda self, z: np.where(z == 2.0, np.nan, original(self, z)))
    result = jacobian("x: 3\nL = sum(x**0.5)", chain=True)
    x = np.array(point)
    for check in (result.walkthrough(x=x.ravel()).check, walk(result.compiled, {"x": x}).check):
        assert check.agrees is False and not any("at 2" in why for why in check.undefined)
