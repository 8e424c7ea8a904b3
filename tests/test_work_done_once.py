"""Work done once that was done several times: the panel's first --plot picture (drawn twice when it opened), the
plotted region's checks (three per full redraw), the points' broadcast shape (computed at every `at`, only to word
a refusal) and the point `hessian_at` reads (twice). Counted with spies; what is shown stays the same, and the
numbers are checked against mpmath's numerical derivatives."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import pytest

from jacmagic import JacmagicError, jacobian
from jacmagic.errors import OptionError
from jacmagic.symbolic import SymbolicJacobian
from jacmagic.views import area, plot

from .helpers import assert_close, numeric_jacobian

SCALED_POLAR = "x = a*r*cos(theta)\ny = r*sin(theta)"


def _counting(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, calls: Counter[str]) -> None:
    """`target.name` replaced by itself, counting its calls under `name`."""
    original = getattr(target, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, counted)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The drawing and checking steps, counted: a whole figure drawn, a PNG made, a range checked."""
    counts: Counter[str] = Counter()
    _counting(monkeypatch, plot, "_figure", counts)
    _counting(monkeypatch, plot.MovingPicture, "png", counts)
    checked, defaulted = area.refuse_undrawable, plot.picture_range

    def check(name: str, *args: Any, **kwargs: Any) -> None:
        counts[f"checked {name}"] += 1
        checked(name, *args, **kwargs)

    def default(name: str, value: float) -> tuple[float, float]:
        counts[f"checked {name}"] += 1
        return defaulted(name, value)

    monkeypatch.setattr(plot, "picture_range", default)
    monkeypatch.setattr(area, "refuse_undrawable", check)
    return counts


def _result() -> SymbolicJacobian:
    """theta's range from --domain, r's from the point: both kinds of range."""
    return jacobian(SCALED_POLAR, wrt="r,theta", at={"r": 1.2, "theta": 0.8, "a": 1.0}, plot=True,
                    domain={"theta": (0.0, 2 * math.pi)}).symbolic


# -- the panel's picture ------------------------------------------------------------------------------------------

def test_the_panel_draws_its_first_picture_once_and_checks_each_range_once(calls: Counter[str]) -> None:
    result = _result()
    panel = result.widget()
    assert calls == {"_figure": 1, "png": 1, "checked r": 1, "checked theta": 1}, calls
    start = result.default_point()
    alone = plot.MovingPicture(result, plot.default_domain(result, start)).png(start)
    assert panel.picture is not None and bytes(panel.picture.value) == alone  # the same picture, drawn once


def test_a_full_redraw_of_the_panel_checks_the_region_no_more(calls: Counter[str]) -> None:
    """A constant moves the map itself: everything is drawn again over the region the panel opened with, which
    was checked then."""
    panel = _result().widget()
    calls.clear()
    panel.variables["a"].value = 1.5
    assert calls == {"_figure": 1, "png": 1}, calls
    calls.clear()
    panel.variables["r"].value = 1.4  # a variable moves the square only
    assert calls == {"png": 1}, calls


def test_new_digits_reformat_the_numbers_without_drawing(calls: Counter[str]) -> None:
    panel = _result().widget()
    before = bytes(panel.picture.value)
    calls.clear()
    panel.digits.value = 9
    assert calls == {} and bytes(panel.picture.value) == before
    assert "1.2" in panel.output.value  # J's entries, with the new digits: cos(0.8) = 0.696706709...
    assert f"{math.cos(0.8):.9g}" in panel.output.value


def test_plot_checks_each_range_once(calls: Counter[str]) -> None:
    result = _result()
    result.plot(domain={"r": (0.5, 2.0)})
    assert calls == {"_figure": 1, "checked r": 1, "checked theta": 1}, calls


def test_a_point_too_far_out_to_draw_around_is_still_refused_naming_its_range() -> None:
    result = jacobian(SCALED_POLAR, wrt="r,theta", at={"r": 1e300, "theta": 0.8, "a": 1.0}, plot=True).symbolic
    with pytest.raises(JacmagicError, match=r"the point's r=1e\+300 is too far out .* r=0:2e\+300"):
        result.plot()


# -- at and hessian_at --------------------------------------------------------------------------------------------

def _mp_map(x: Any, y: Any) -> list[Any]:
    return [x**2 * y + mpmath.sin(y), mpmath.exp(x) * y]


def test_at_broadcasts_the_points_only_when_their_shapes_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: Counter[str] = Counter()
    import jacmagic.symbolic as symbolic

    _counting(monkeypatch, symbolic, "points_shape", calls)
    result = jacobian("f(x, y) = [x**2*y + sin(y), exp(x)*y]")
    xs, ys = np.array([0.3, -1.2]), np.array([0.7, 2.0])
    assert_close(result.at(x=0.3, y=0.7), numeric_jacobian(_mp_map, [0.3, 0.7]))
    at_many = result.at(x=xs, y=ys)
    for k in range(2):
        assert_close(at_many[k], numeric_jacobian(_mp_map, [xs[k], ys[k]]))
    assert calls == {}  # numbers, and arrays of one shape: nothing to broadcast
    grid = result.at(x=xs[:, None], y=ys[None, :])  # shapes that differ and broadcast: (2, 1) with (1, 2)
    assert grid.shape == (2, 2, 2, 2) and calls == {"points_shape": 1}
    assert_close(grid[0, 1], numeric_jacobian(_mp_map, [xs[0], ys[1]]))
    with pytest.raises(OptionError, match=r"^at: the arrays of points x \(2\), y \(3\) do not broadcast together"):
        result.at(x=xs, y=np.arange(3.0))


def _hessians(function: Callable[..., list[Any]], point: list[float]) -> np.ndarray:
    """Each output's Hessian by mpmath's numerical second derivatives."""
    with mpmath.workdps(30):
        at = [mpmath.mpf(p) for p in point]
        n = len(at)
        return np.array([[[float(mpmath.diff(lambda *v, i=i: function(*v)[i], at,
                                               tuple(int(k in (j, q)) + int(j == q == k) for k in range(n))))
                           for q in range(n)] for j in range(n)] for i in range(len(function(*at)))])


def test_hessian_at_reads_the_point_once_and_takes_it_as_at_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point was read twice (once for the Hessians, once inside `at`), and differently: the --at values of
    names not given, which `at` keeps, were missing for the Hessians."""
    calls: Counter[str] = Counter()
    result = jacobian("f(x, y) = [c*x**2*y + sin(y), exp(x)*y]", hessian=True, wrt="x,y",
                      at={"x": 0.4, "y": 1.1, "c": 2.0})
    _counting(monkeypatch, SymbolicJacobian, "point_values", calls)

    def twin(x: Any, y: Any) -> list[Any]:
        return [2 * x**2 * y + mpmath.sin(y), mpmath.exp(x) * y]

    assert_close(result.hessian_at(x=-0.5, y=0.9, c=2.0), _hessians(twin, [-0.5, 0.9]), rel=1e-9)
    assert calls == {"point_values": 1}
    assert_close(result.hessian_at(y=0.9), _hessians(twin, [0.4, 0.9]), rel=1e-9)  # x and c from --at
    assert_close(result.hessian_at(), _hessians(twin, [0.4, 1.1]), rel=1e-9)
