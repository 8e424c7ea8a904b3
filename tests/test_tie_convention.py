"""One convention for every kink at its break point, at every level: a plain cell's Jacobian (math form,
assignment, numpy def), the panel's numbers, and the one walk of --chain (assignment, math form, numpy def) give
the same numbers there. The walk's convention: max(a, b, c) is max(max(a, b), c), a tie of a pair goes to the
second, a number written first goes second (max(0, z) is ReLU, slope 0 at 0); relu and abs have slope 0 at 0; a
where-kink takes the branch its condition picks. Steps (sign, heaviside) jump: no slope at the jump, at every
level. Away from the break every level is compared with central differences of the map written here in numpy.

The entry level gave nan for max(x, 0) at 0 (sympy's half-valued step), 0 for relu(x): the levels disagreed."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest
import sympy as sp

from jacmagic import jacobian

from .helpers import assert_close

Map = Callable[[float, float], float]


class Kink(NamedTuple):
    written: str  # in a cell, of x and y
    numpy: str  # in a numpy def
    value: Map  # the same, here in numpy
    tie: tuple[float, float]  # a point on the break
    slope: tuple[float, float]  # the convention's slope of `written` there, by (x, y)


def _np(f: Callable[..., object]) -> Map:
    return lambda x, y: float(f(x, y))  # type: ignore[arg-type]


KINKS: dict[str, Kink] = {
    "relu": Kink("relu(x)", "np.maximum(x, 0)", _np(lambda x, y: np.maximum(x, 0)), (0.0, 0.4), (0, 0)),
    "max(x, 0)": Kink("max(x, 0)", "np.maximum(x, 0)", _np(lambda x, y: np.maximum(x, 0)), (0.0, 0.4), (0, 0)),
    "max(0, x)": Kink("max(0, x)", "np.maximum(0, x)", _np(lambda x, y: np.maximum(0, x)), (0.0, 0.4), (0, 0)),
    "min(x, 0)": Kink("min(x, 0)", "np.minimum(x, 0)", _np(lambda x, y: np.minimum(x, 0)), (0.0, 0.4), (0, 0)),
    "min(0, x)": Kink("min(0, x)", "np.minimum(0, x)", _np(lambda x, y: np.minimum(0, x)), (0.0, 0.4), (0, 0)),
    "max(x, 1)": Kink("max(x, 1)", "np.maximum(x, 1)", _np(lambda x, y: np.maximum(x, 1)), (1.0, 0.4), (0, 0)),
    "max(1, x)": Kink("max(1, x)", "np.maximum(1, x)", _np(lambda x, y: np.maximum(1, x)), (1.0, 0.4), (0, 0)),
    "abs": Kink("abs(x)", "np.abs(x)", _np(lambda x, y: np.abs(x)), (0.0, 0.4), (0, 0)),
    "where kink": Kink("where(x > 0, x, 0.5*x)", "np.where(x > 0, x, 0.5*x)",
                       _np(lambda x, y: np.where(x > 0, x, 0.5 * x)), (0.0, 0.4), (0.5, 0)),
    "where >= kink": Kink("where(x >= 0, x, 0.5*x)", "np.where(x >= 0, x, 0.5*x)",
                          _np(lambda x, y: np.where(x >= 0, x, 0.5 * x)), (0.0, 0.4), (1, 0)),
    "leaky_relu": Kink("leaky_relu(x, 0.1)", "np.where(x > 0, x, 0.1*x)",
                       _np(lambda x, y: np.where(x > 0, x, 0.1 * x)), (0.0, 0.4), (0.1, 0)),
    "max(x, y)": Kink("max(x, y)", "np.maximum(x, y)", _np(np.maximum), (0.3, 0.3), (0, 1)),
    "min(x, y)": Kink("min(x, y)", "np.minimum(x, y)", _np(np.minimum), (0.3, 0.3), (0, 1)),
    "max(y, x)": Kink("max(y, x)", "np.maximum(y, x)", _np(lambda x, y: np.maximum(y, x)), (0.3, 0.3), (1, 0)),
    "max(x, 2*y)": Kink("max(x, 2*y)", "np.maximum(x, 2*y)", _np(lambda x, y: np.maximum(x, 2 * y)), (0.6, 0.3),
                        (0, 2)),
    "max of three": Kink("max(x, 0, y)", "np.maximum(np.maximum(x, 0), y)",
                         _np(lambda x, y: np.maximum(np.maximum(x, 0), y)), (0.0, 0.0), (0, 1)),
    "max of three, a number last": Kink("max(x, y, 0)", "np.maximum(np.maximum(x, y), 0)",
                                        _np(lambda x, y: np.maximum(np.maximum(x, y), 0)), (0.0, 0.0), (0, 0)),
    "min of three": Kink("min(y, x, -x)", "np.minimum(np.minimum(y, x), -x)",
                         _np(lambda x, y: np.minimum(np.minimum(y, x), -x)), (0.0, 0.0), (-1, 0)),
    "sign": Kink("sign(x)", "np.sign(x)", _np(lambda x, y: np.sign(x)), (0.0, 0.4), (np.nan, 0)),
    "heaviside": Kink("heaviside(x)", "np.heaviside(x, 0.0)", _np(lambda x, y: np.heaviside(x, 0.0)), (0.0, 0.4),
                      (np.nan, 0)),
}


def _forms(kink: Kink) -> dict[str, tuple[str, bool]]:
    """The map x*y + 3 k(x, y) in each form a cell takes: (cell, --chain)."""
    written, numpy = kink.written, kink.numpy
    return {"math form": (f"f(x, y) = x*y + 3*{written}", False),
            "assignment": (f"L = x*y + 3*{written}", False),
            "numpy def": (f"import numpy as np\ndef f(x, y):\n    return x*y + 3*{numpy}", False),
            "--chain assignment": (f"k = {written}\nL = x*y + 3*k", True),
            "--chain math form": (f"f(x, y) = x*y + 3*{written}", True),
            "--chain numpy def": (f"import numpy as np\ndef f(x, y):\n    k = {numpy}\n    return x*y + 3*k", True)}


def _gradient(cell: str, chain: bool, x: float, y: float) -> np.ndarray:
    """(∂/∂x, ∂/∂y) at the point, by the result's names."""
    result = jacobian(cell, chain=chain, at={"x": x, "y": y})
    found = dict(zip(result.names, np.asarray(result.at(x=x, y=y), dtype=float).ravel()))
    if chain:
        walked = result.walkthrough(x=x, y=y).gradients
        assert np.array_equal([float(np.ravel(walked[n])[0]) for n in "xy"], [found["x"], found["y"]], equal_nan=True)
    return np.array([found["x"], found["y"]])


def _differences(f: Map, x: float, y: float, h: float = 1e-6) -> np.ndarray:
    def whole(a: float, b: float) -> float:
        return a * b + 3 * f(a, b)
    return np.array([(whole(x + h, y) - whole(x - h, y)) / (2 * h), (whole(x, y + h) - whole(x, y - h)) / (2 * h)])


def _cases() -> list[object]:
    return [pytest.param(name, form) for name in KINKS for form in _forms(KINKS[name])]


@pytest.mark.parametrize(("name", "form"), _cases())
def test_every_level_gives_the_conventions_slope_at_the_break(name: str, form: str) -> None:
    kink = KINKS[name]
    x, y = kink.tie
    assert kink.value(x, y) == kink.value(x, y)  # the map has a value at the break
    want = np.array([y, x]) + 3 * np.array(kink.slope, dtype=float)
    got = _gradient(*_forms(kink)[form], x, y)
    assert np.allclose(got, want, equal_nan=True), (got, want)


@pytest.mark.parametrize("form", ["math form", "assignment", "numpy def", "--chain assignment", "--chain math form",
                                  "--chain numpy def"])
@pytest.mark.parametrize("name", KINKS)
def test_away_from_the_break_every_level_agrees_with_central_differences(name: str, form: str) -> None:
    kink = KINKS[name]
    for dx, dy in ((0.37, -0.21), (-0.45, 0.18)):
        x, y = kink.tie[0] + dx, kink.tie[1] + dy
        assert_close(_gradient(*_forms(kink)[form], x, y), _differences(kink.value, x, y), rel=1e-6)


@pytest.mark.parametrize("cell", ["f(x) = max(x, 0)", "L = min(x, 0) + max(0, x)", "f(x, y) = max(x, y)"])
def test_the_panels_numbers_at_a_tie_are_the_walks(cell: str) -> None:
    """The panel's hot path, compiled from the entry level's formulas, at the tie."""
    result = jacobian(cell)
    point = {name: 0.0 for name in result.names}
    panel_numbers = result.symbolic.point_function()(*point.values())
    walked = jacobian(cell, chain=True).walkthrough(**point).gradients
    assert_close(panel_numbers.ravel(), [float(np.ravel(walked[n])[0]) for n in point])


def test_max_of_x_and_0_at_0_is_relus_slope_not_undefined() -> None:
    """The report: nan for max(x, 0) at 0, 0 for relu(x); the walk gave 0 for both."""
    for cell in ("f(x) = max(x, 0)", "f(x) = relu(x)", "L = max(x, 0)"):
        assert jacobian(cell).at(x=0.0).tolist() == [[0.0]], cell


def test_a_tie_keeps_the_order_written_where_sympy_would_sort_it() -> None:
    """max(x, y) and max(y, x) are one sympy Max; the walk gives a tie to the second written."""
    assert jacobian("f(x, y) = max(x, y)").at(x=1.0, y=1.0).tolist() == [[0.0, 1.0]]
    assert jacobian("f(x, y) = max(y, x)").at(x=1.0, y=1.0).tolist() == [[1.0, 0.0]]


def test_max_of_a_whole_vector_at_a_tie_gives_the_first_tied_the_slope_as_the_walks_reduction() -> None:
    at = np.array([1.0, 1.0, 0.0])
    plain = jacobian("x: 3\nL = max(x)").at(x=at).ravel()
    walked = np.ravel(jacobian("x: 3\nL = max(x)", chain=True).gradient(x=at)["x"])
    assert plain.tolist() == [1.0, 0.0, 0.0] and np.array_equal(plain, walked)


def test_max_and_min_are_written_as_max_and_min() -> None:
    result = jacobian("f(x, y) = x*max(x, y, 0) + y*min(0, y)")
    assert "max(x, y, 0)" in str(result) and "min(y, 0)" in str(result) and "Max" not in str(result)
    assert r"\max\left(x, y, 0\right)" in result.latex()


@pytest.mark.parametrize(("cell", "tie"), [
    ("f(a, b, c) = max(a, b)*c", {"a": 1.0, "b": 1.0, "c": 2.0}),
    ("f(a, b, c) = min(a, b, c)*a", {"a": 0.5, "b": 0.5, "c": 0.5}),
    ("f(a, b, c) = max(0, a - b) + max(a, b, c)", {"a": 2.0, "b": 2.0, "c": 2.0}),
    ("z: 3\nf = max(z) * z", {"z": [1.0, 1.0, 0.0]}),
])
def test_the_shown_derivative_at_a_tie_read_with_h_of_0_as_0_is_what_r_at_gives(cell: str, tie: dict) -> None:
    """Both sides' steps were printed H(...) though one took H(0) = 1 (found by review): ∂f/∂b of max(a, b)*c
    read as c·H(-a + b), 0 at the tie, where R.at gives c. Each step is now H(u) with H(0) = 0 (docs/arrays.md)
    or 1 - H(-u), so the matrix as shown, evaluated at the tie, is R.at's."""
    result = jacobian(cell)
    flat = {f"{name}_{k}": v for name, value in tie.items() if isinstance(value, list)
            for k, v in enumerate(value, start=1)}
    point = {s: {**tie, **flat}[s.name] for s in result.symbolic.arguments}
    assert all(step.args[1] == 0 for step in result.matrix.atoms(sp.Heaviside))  # every H printed means H(0) = 0
    shown = np.array(result.matrix.subs(point).evalf(), dtype=float)
    assert np.array_equal(shown, np.asarray(result.at(**tie), dtype=float)), (shown, result.at(**tie))
