"""--plot draws the plane of the inputs at one scale on both axes: on a domain far wider than tall, the small
square is still drawn square and the gradient arrows still cross the contours at right angles."""

from __future__ import annotations

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.views.plot import figure


def _by_gid(fig: object, gid: str) -> object:
    return next(a for axes in fig.axes for a in axes.get_children() if a.get_gid() == gid)  # type: ignore[attr-defined]


def test_the_small_square_is_drawn_square_on_a_domain_of_unequal_sides() -> None:
    result = jacobian("x = r*cos(theta)\ny = r*sin(theta)")
    fig = figure(result.symbolic, {"r": 1.2, "theta": 0.8}, {"r": (0.2, 2.0), "theta": (0.0, 2 * np.pi)})
    fig.draw_without_rendering()  # lays the axes out: the aspect applied
    square = _by_gid(fig, "jacmagic-square")
    inputs = square.axes  # type: ignore[attr-defined]
    assert inputs.get_aspect() == 1.0
    box = square.get_window_extent()  # type: ignore[attr-defined]
    assert box.width == pytest.approx(box.height, rel=0.02)


def test_gradient_arrows_are_drawn_normal_to_the_contours_on_a_domain_of_unequal_sides() -> None:
    result = jacobian("f(x, y) = x**2 + 20*y**2")
    fig = figure(result.symbolic, {"x": 3.0, "y": 0.3}, {"x": (-10.0, 10.0), "y": (-1.0, 1.0)})
    fig.draw_without_rendering()  # lays the axes out: the aspect applied
    arrows = _by_gid(fig, "jacmagic-gradients")
    axes = arrows.axes  # type: ignore[attr-defined]
    assert axes.get_aspect() == 1.0
    # one data unit is as many pixels across as up: directions in data are directions on the screen
    (x0, y0), (x1, y1) = axes.transData.transform([(0.0, 0.0), (1.0, 1.0)])
    assert x1 - x0 == pytest.approx(y1 - y0, rel=1e-6)
