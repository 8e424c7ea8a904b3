"""The pictures carry the right numbers: |det J| where it is drawn, the image of the small square where the map
sends it, J applied to the square, and the area check against the exact area."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from matplotlib.collections import QuadMesh
from matplotlib.contour import ContourSet

from jacmagic import jacobian
from jacmagic.errors import OptionError
from jacmagic.views.grids import polygon_area
from jacmagic.views.plot import LARGEST

from .conftest import Shell
from .helpers import numeric_jacobian


def by_gid(fig: object, gid: str) -> object:
    found = [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]  # type: ignore[attr-defined]
    assert len(found) == 1, f"{gid}: {len(found)} artists"
    return found[0]


POLAR = "x = r*cos(theta)\ny = r*sin(theta)"


def test_polar_image_is_coloured_by_r() -> None:
    fig = jacobian(POLAR).plot(point={"r": 1.0, "theta": 0.5}, domain={"r": (0.2, 2.0), "theta": (0, 2 * math.pi)})
    mesh = by_gid(fig, "jacmagic-det")
    assert isinstance(mesh, QuadMesh)
    xy = mesh.get_coordinates()
    values = np.asarray(mesh.get_array()).reshape(xy.shape[:2])
    rng = np.random.default_rng(1)
    for i, j in rng.integers(0, xy.shape[0], size=(25, 2)):
        x, y = xy[i, j]
        assert values[i, j] == pytest.approx(math.hypot(x, y), rel=1e-9)  # |det J| = r, read off the image point


def test_the_small_square_goes_where_the_map_sends_it() -> None:
    point = {"r": 1.3, "theta": 0.8}
    fig = jacobian(POLAR).plot(point=point, domain={"r": (0.5, 2.0), "theta": (0.0, 3.0)})
    square = by_gid(fig, "jacmagic-square").get_xy()  # type: ignore[attr-defined]
    image = by_gid(fig, "jacmagic-square-image").get_xy()  # type: ignore[attr-defined]
    want = np.column_stack([square[:, 0] * np.cos(square[:, 1]), square[:, 0] * np.sin(square[:, 1])])
    assert np.allclose(image, want, atol=1e-12)
    corners = by_gid(fig, "jacmagic-parallelogram").get_xydata()  # type: ignore[attr-defined]
    r, t = point["r"], point["theta"]
    jac = np.array([[math.cos(t), -r * math.sin(t)], [math.sin(t), r * math.cos(t)]])
    centre = np.array([r * math.cos(t), r * math.sin(t)])
    side = square[:, 0].max() - square[:, 0].min()
    unit = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]]) * side / 2
    assert np.allclose(corners, centre + unit @ jac.T, atol=1e-12)
    ratio = polygon_area(image[:, 0], image[:, 1]) / polygon_area(square[:, 0], square[:, 1])
    assert ratio == pytest.approx(r, rel=1e-3)  # the area ratio of a small square is |det J| = r
    assert f"{r:.4g}" in by_gid(fig, "jacmagic-ratio").get_text()  # type: ignore[attr-defined]


def test_area_check_on_an_annulus_sector_matches_the_exact_area() -> None:
    check = jacobian(POLAR).area({"r": (1.0, 2.0), "theta": (0.0, math.pi / 2)})
    exact = 0.5 * (math.pi / 2) * (2.0**2 - 1.0**2)
    assert check.integral == pytest.approx(exact, rel=0.01)
    assert check.image_area == pytest.approx(exact, rel=0.01)
    assert "area of the image" in str(check)


def test_area_check_on_a_nonlinear_map() -> None:
    # (x, y) -> (x^2 - y^2, 2xy) is one-to-one on this square; det J = 4(x^2 + y^2) integrates exactly
    check = jacobian("u = x**2 - y**2\nv = 2*x*y").area({"x": (0.2, 1.0), "y": (0.1, 0.9)})
    exact = 4 * ((1.0**3 - 0.2**3) / 3 * 0.8 + 0.8 * (0.9**3 - 0.1**3) / 3)
    assert check.integral == pytest.approx(exact, rel=1e-3)
    assert check.image_area == pytest.approx(exact, rel=1e-3)


def test_a_fold_draws_its_singular_curve() -> None:
    fig = jacobian("u = x\nv = y**2").plot(point={"x": 0.5, "y": 0.5}, domain={"x": (-1, 1), "y": (-1, 1)})
    assert any(isinstance(a, ContourSet) for a in fig.axes[0].get_children())
    fold = by_gid(fig, "jacmagic-fold").get_xydata()  # type: ignore[attr-defined]
    assert np.allclose(fold[:, 1], 0.0, atol=1e-9)  # det J = 2y is zero on y = 0, which the map sends to v = 0


def test_scalar_function_gradient_arrows() -> None:
    fig = jacobian("f(x, y) = x*exp(-x**2 - y**2)").plot(point={"x": 0.3, "y": -0.4})
    arrow = by_gid(fig, "jacmagic-gradient-at-point")
    e = math.exp(-0.3**2 - 0.4**2)
    assert float(arrow.U[0]) == pytest.approx((1 - 2 * 0.3**2) * e)  # type: ignore[attr-defined]
    assert float(arrow.V[0]) == pytest.approx(-2 * 0.3 * -0.4 * e)  # type: ignore[attr-defined]


def test_spherical_slice_is_coloured_by_r_squared_sin_theta() -> None:
    cell = "x = r*sin(theta)*cos(phi)\ny = r*sin(theta)*sin(phi)\nz = r*cos(theta)"
    fig = jacobian(cell).plot(point={"r": 1.0, "theta": 1.0, "phi": 0.5}, domain={"r": (0.5, 2), "theta": (0.1, 3)})
    mesh = by_gid(fig, "jacmagic-det")
    rt = mesh.get_coordinates()  # type: ignore[attr-defined]
    values = np.asarray(mesh.get_array()).reshape(rt.shape[:2])  # type: ignore[attr-defined]
    assert np.allclose(values, rt[..., 0] ** 2 * np.abs(np.sin(rt[..., 1])))


def test_heat_map_and_sparsity_for_other_shapes() -> None:
    fig = jacobian("f(a, b, c) = [a*b, b*c, exp(a), a + c]").plot(point={"a": 1.0, "b": 2.0, "c": 0.5})
    heat = np.asarray(by_gid(fig, "jacmagic-heat").get_array())  # type: ignore[attr-defined]
    assert np.allclose(heat, [[2, 1, 0], [0, 0.5, 2], [math.e, 0, 0], [1, 0, 1]])
    pattern = np.asarray(by_gid(fig, "jacmagic-sparsity").get_array())  # type: ignore[attr-defined]
    assert pattern.tolist() == [[1, 1, 0], [0, 1, 1], [1, 0, 0], [1, 0, 1]]


def test_plot_through_the_magic(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    ran = shell.ok("%%jacobian --plot --at r=1,theta=0.5 --domain r=0.2:2,theta=0:2*pi\n" + POLAR)
    assert any(o.get("image/png", b"")[:4] == b"\x89PNG" for o in ran.outputs)
    monkeypatch.setattr(shell.ip, "kernel", object(), raising=False)
    ran = shell.ok("%%jacobian --plot --out pic\n" + POLAR)
    assert not any("image/png" in o for o in ran.outputs)  # the picture is in the panel instead
    panel = shell.ip.user_ns["pic"].widget()
    before = panel.picture.value
    panel.variables["r"].value = 1.7
    assert panel.picture.value[:4] == b"\x89PNG" and panel.picture.value != before
    bad = shell.run("%%jacobian --plot --domain q=0:1\n" + POLAR)
    assert type(bad.error) is UsageError and "--domain: q is not a variable" in str(bad.error)


def test_a_map_undefined_on_part_of_the_region_is_drawn_where_defined() -> None:
    """log(x) over x in [-1, 2]: the image has holes, drawn as dots carrying |det J| = 1/x, and the square at an
    undefined point says so instead of showing a nan area."""
    result = jacobian("f(x, y) = [log(x), y]")
    fig = result.plot(point={"x": -0.5, "y": 0.0}, domain={"x": (-1.0, 2.0), "y": (0.0, 1.0)})
    dots = by_gid(fig, "jacmagic-det")
    xy = np.asarray(dots.get_offsets())  # type: ignore[attr-defined]
    assert len(xy) and np.isfinite(xy).all()
    assert np.allclose(np.asarray(dots.get_array()), np.exp(-xy[:, 0]))  # 1/x where u = log(x)
    assert "undefined at this point" in by_gid(fig, "jacmagic-ratio").get_text()  # type: ignore[attr-defined]


def test_a_map_undefined_on_the_whole_region_is_refused() -> None:
    with pytest.raises(OptionError, match="undefined everywhere in the plotted region"):
        jacobian("f(x, y) = [log(x), y]").plot(domain={"x": (-3.0, -1.0), "y": (0.0, 1.0)})
    with pytest.raises(OptionError, match="undefined everywhere"):
        jacobian("f(x, y) = [sqrt(x) + y]").plot(domain={"x": (-3.0, -1.0), "y": (0.0, 1.0)})


def test_a_heat_map_of_an_undefined_jacobian_still_draws() -> None:
    fig = jacobian("f(x, y, z) = [log(x) + y, z]").plot(point={"x": -1.0, "y": 0.0, "z": 0.0})
    assert np.isnan(np.asarray(by_gid(fig, "jacmagic-heat").get_array())[0, 0])  # type: ignore[attr-defined]


def _pixels(picture: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(picture)).convert("RGB"), dtype=float)


@pytest.mark.parametrize(("cell", "moved", "still"), [(POLAR, "r", None), ("f(x, y) = x**2 - y**2", "x", None),
                                                      ("x = a*r*cos(theta)\ny = r*sin(theta)", "theta", "a")])
def test_a_moving_picture_matches_the_picture_drawn_afresh(cell: str, moved: str, still: str | None) -> None:
    """Moving a variable redraws only the square, its image, the parallelogram and the arrow over the kept
    background; what the panel shows is the picture drawn from scratch at the new point."""
    from jacmagic.views.plot import MovingPicture, default_domain

    result = jacobian(cell, wrt="r,theta" if still else ()).symbolic
    start = result.default_point()
    domain = default_domain(result, start)
    moving = MovingPicture(result, domain)
    moving.png(start)
    point = {**start, moved: start[moved] + 0.3}
    assert moving._key == moving._background_key(point)  # the background is kept: only the moving parts change
    moved_picture = _pixels(moving.png(point))
    fresh = _pixels(MovingPicture(result, domain).png(point))
    assert moved_picture.shape == fresh.shape and np.abs(moved_picture - fresh).mean() < 0.5
    if still:  # a constant moves the map itself: everything is drawn again
        changed = {**point, still: 1.5}
        assert moving._background_key(changed) != moving._key
        assert np.abs(_pixels(moving.png(changed)) - _pixels(MovingPicture(result, domain).png(changed))).mean() < 0.5


@contextmanager
def _no_warning() -> Iterator[None]:
    """Every warning an error, numpy's overflows and matplotlib's included (pyproject makes only jacmagic's so)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _drawn_cleanly(fig: object) -> bytes:
    from jacmagic.views.plot import png

    with _no_warning():
        return png(fig)  # type: ignore[arg-type]


def _overflow_note(fig: object) -> str | None:
    found = fig.findobj(lambda a: a.get_gid() == "jacmagic-overflow")  # type: ignore[attr-defined]
    return found[0].get_text() if found else None


EXP_MAP = "f(x, y) = [exp(x*y), x]"


def test_plot_where_the_map_overflows_says_so_instead_of_crashing(shell: Shell) -> None:
    """exp(700 * 1) is near the largest double and exp(1400 * 2) past it: the picture draws what it can, |det J|
    = x exp(xy) = u v read off each image point, and says where it does not."""
    ran = shell.ok(f"%%jacobian --plot --at x=700,y=1\n{EXP_MAP}")
    assert any(o.get("image/png", b"")[:4] == b"\x89PNG" for o in ran.outputs)
    fig = jacobian(EXP_MAP).plot(point={"x": 700.0, "y": 1.0})
    _drawn_cleanly(fig)
    assert "overflows" in (_overflow_note(fig) or "")
    assert "overflows" in by_gid(fig, "jacmagic-ratio").get_text()  # type: ignore[attr-defined]
    dots = by_gid(fig, "jacmagic-det")
    uv = np.asarray(dots.get_offsets())  # type: ignore[attr-defined]
    assert len(uv) and np.isfinite(uv).all()
    det, want = np.ma.filled(dots.get_array(), np.nan), uv[:, 0] * uv[:, 1]  # type: ignore[attr-defined]
    assert np.allclose(det[np.isfinite(det)], want[np.isfinite(det)], rtol=1e-9)
    assert (want[np.isnan(det)] > LARGEST).all()  # a point drawn uncoloured: its |det J| too large to colour


def test_a_region_where_the_map_overflows_everywhere_is_refused(shell: Shell) -> None:
    bad = shell.run(f"%%jacobian --plot --at x=850,y=1.5 --domain x=800:900,y=1:2\n{EXP_MAP}")
    assert type(bad.error) is UsageError and "overflows everywhere in the plotted region" in str(bad.error)
    with pytest.raises(OptionError, match="overflows everywhere"):
        jacobian("f(x, y) = exp(x*y)").plot(domain={"x": (800.0, 900.0), "y": (1.0, 2.0)})


# Maps of both plotted kinds with their twins written for numpy or mpmath (`m`), at points where they overflow (inf),
# grow past what can be drawn (1e200), are undefined (log, 1/x at 0) or are fine.
_KINDS: dict[str, Callable[[Any, Any, Any], list[Any]]] = {
    "f(x, y) = [exp(x*y), x]": lambda m, x, y: [m.exp(x * y), x + 0 * y],
    "f(x, y) = [x*1e200, log(y)]": lambda m, x, y: [x * 1e200, m.log(y)],
    "f(x, y) = [1/x, y*exp(y)]": lambda m, x, y: [1 / x, y * m.exp(y)],
    "f(x, y) = exp(x*y)": lambda m, x, y: [m.exp(x * y)],
    "f(x, y) = x*1e200 + log(y)": lambda m, x, y: [x * 1e200 + m.log(y)],
    "f(x, y) = 1/x + exp(y**2)": lambda m, x, y: [1 / x + m.exp(y**2)],
}


_GRID = 24  # coarse: the picture's numbers are checked elsewhere, here that it draws


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(sorted(_KINDS)), st.sampled_from([0.0, 1.0, -2.0, 30.0, 700.0, -710.0, 1e3, 2e5]),
       st.sampled_from([0.0, 0.5, 1.0, -1.0, 5.0, 26.0, 800.0]))
def test_any_point_draws_the_map_where_it_can_and_says_where_it_overflows(cell: str, x: float, y: float) -> None:
    """The family: change of variables and contours at points where the map overflows, is undefined or is fine,
    drawn whole (no warning, no NaN limits) or refused with a message; the overflow note exactly when the test's
    own numpy overflows on the plotted grid; the gradient arrow at the point as mpmath differentiates the twin,
    hidden where it is undefined or too long; the panel's moving picture moves over it too."""
    from jacmagic.views.plot import MovingPicture, default_domain

    result, point, twin = jacobian(cell).symbolic, {"x": x, "y": y}, _KINDS[cell]
    domain = default_domain(result, point)
    with np.errstate(all="ignore"):
        values = np.stack(twin(np, *np.meshgrid(np.linspace(*domain["x"], _GRID), np.linspace(*domain["y"], _GRID))),
                          axis=-1)
        defined = bool(np.isfinite(twin(np, np.float64(x), np.float64(y))).all())
    want = numeric_jacobian(lambda a, b: twin(mpmath, a, b), [x, y])[0] if defined else np.full(2, np.nan)
    moving = MovingPicture(result, domain, grid=_GRID)
    if not np.isfinite(np.where(np.abs(values) <= LARGEST, values, np.nan)).all(axis=-1).any():
        with pytest.raises(OptionError, match="everywhere in the plotted region"):
            moving.png(point)
        return
    with _no_warning():
        moving.png(point)
    fig = moving._canvas.figure
    assert (_overflow_note(fig) is not None) == bool((np.abs(values[~np.isnan(values)]) > LARGEST).any())
    arrows = fig.findobj(lambda a: a.get_gid() == "jacmagic-gradient-at-point")
    defined = defined and bool(np.isfinite(want).all())
    if arrows and defined and (np.abs(want) < LARGEST / 10).all():
        assert arrows[0].get_visible()
        assert [float(arrows[0].U[0]), float(arrows[0].V[0])] == pytest.approx(want.tolist(), rel=1e-9, abs=1e-300)
    elif arrows and not (defined and (np.abs(want) < LARGEST * 10).all()):
        assert not arrows[0].get_visible()
    with _no_warning():
        moving.png({"x": x + 0.37 * (domain["x"][1] - domain["x"][0]), "y": y})
