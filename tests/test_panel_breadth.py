"""The panels as a student or a teacher drives them: every cell form, extreme and undefined points, --det,
--hessian, --plot, image stacks, stepping past the ends. The numbers a panel shows are read back from its HTML and
compared with derivatives computed here (mpmath or central differences in numpy), never with jacmagic's own."""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import mpmath
import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.panels.network_panel import NetworkPanel

from .conftest import Shell
from .helpers import numeric_jacobian, read_aloud

CELL = re.compile(r"<td>(.*?)</td>")
TABLE = re.compile(r'<table class="jacmagic-matrix">(.*?)</table>')


@contextmanager
def silent() -> Iterator[None]:
    """Every warning an error, numpy's too (pyproject only turns jacmagic's own into errors): a panel's update
    that overflows must say so in the panel, not print a RuntimeWarning under it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def shown(markup: str) -> list[float]:
    """The numbers of a panel's first matrix, as shown ("∞" and "undefined" as inf and nan)."""
    cells = CELL.findall(TABLE.search(markup).group(1))  # type: ignore[union-attr]
    return [_number(re.sub("<[^>]+>", "", c)) for c in cells]


def _number(text: str) -> float:
    return {"undefined": math.nan, "∞": math.inf, "-∞": -math.inf}.get(text, float(text) if text else math.nan)


def bold(markup: str, label: str) -> str:
    return re.search(re.escape(label) + r"[^<]*<b>(.*?)</b>", markup).group(1)  # type: ignore[union-attr]


def central(function: Callable[[np.ndarray], float], point: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d function / d point by central differences in numpy, entry by entry, in the point's shape."""
    grad = np.zeros_like(point)
    for index in np.ndindex(point.shape):
        up, down = point.copy(), point.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (function(up) - function(down)) / (2 * h)
    return grad


# -- the evaluation panel ---------------------------------------------------------------------------------------

FORMS = {  # a cell of each form, and its map written here with mpmath
    "math": ("f(x, y) = [x*sin(y), exp(x - y)]", lambda x, y: [x * mpmath.sin(y), mpmath.exp(x - y)]),
    "assignment": ("u = x*y + log(x)\nv = sqrt(x + y**2)",
                   lambda x, y: [x * y + mpmath.log(x), mpmath.sqrt(x + y**2)]),
    "def": ("def f(x, y):\n    s = x + y\n    return [s**2, np.tanh(s)*x]",
            lambda x, y: [(x + y)**2, mpmath.tanh(x + y) * x]),
    "matrix": ("A: 2x2\nL = det(A)", None),
}


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_cell_form_panel_shows_the_jacobian_at_the_slider_point(form: str, seed: int) -> None:
    cell, twin = FORMS[form]
    result = jacobian(cell)
    panel = result.widget(digits=12)
    rng = np.random.default_rng(seed)
    point = {name: float(rng.uniform(0.3, 2.0)) for name in panel.variables}
    for name, value in point.items():
        panel.variables[name].slider.value = value  # a drag: the box takes it, rounded to the step's digits
    point = panel.point()
    values = [point[s.name] for s in result.symbolic.arguments]
    if twin is None:  # det of [[a, b], [c, d]]: the gradient is [d, -c, -b, a]
        a, b, c, d = values
        want = np.array([[d, -c, -b, a]])
    else:
        want = numeric_jacobian(twin, values)
    assert np.allclose(shown(panel.output.value), want.ravel(), rtol=1e-9, atol=1e-12)
    assert np.allclose(result.at(**point), want, rtol=1e-9, atol=1e-12)  # the panel and R.at agree


@pytest.mark.parametrize("digits", [1, 4, 15])
def test_negative_zero_is_shown_as_0_like_every_view(digits: int) -> None:
    result = jacobian("f(x, y) = [-x*y, x]", at={"x": 0.0, "y": 2.0})
    panel = result.widget(digits=digits)
    assert "-0<" not in panel.output.value and CELL.findall(panel.output.value)[1] == "0"  # ∂(-x y)/∂y = -x = -0.0


@pytest.mark.parametrize("scale", [1e-200, 1.0, 1e150, 1e200, 1e300])
def test_gradient_norm_of_a_huge_or_tiny_gradient_is_its_length_without_a_warning(scale: float) -> None:
    panel = jacobian("f(x, y) = a*x + a*y").widget(digits=6)
    with silent():
        panel.variables["a"].value = scale
    assert float(bold(panel.output.value, "gradient norm")) == pytest.approx(scale * math.sqrt(2), rel=1e-5)


@pytest.mark.parametrize(("count", "a", "reading"), [(30, 1e20, "kept"), (30, -1e20, "kept"), (29, -1e20, "flipped"),
                                                     (3, 1e110, "kept"), (3, -1e110, "flipped")])
def test_a_determinant_past_the_largest_float_is_said_with_its_orientation_not_warned(count: int, a: float,
                                                                                      reading: str) -> None:
    names = [f"x{i}" for i in range(count)]
    result = jacobian(f"f({', '.join(names)}) = [{', '.join(f'a*{n}' for n in names)}]", det=True, wrt=names)
    panel = result.widget()
    with silent():
        panel.variables["a"].value = a
    det = bold(panel.output.value, "det J =")
    assert ("∞" in det) and ("too large for a float" in panel.output.value)
    assert ("-∞" in det) == (count % 2 == 1 and a < 0)  # det = a**count
    assert f"orientation {reading}" in panel.output.value


HESSIANS = {  # square Jacobians with --hessian: each output's Hessian, as the gradient's Jacobian here
    "f(x) = x**3 - x": lambda x: [3 * x**2 - 1],
    "f(x, y) = [x**2*y, x + y**3]": lambda x, y: [2 * x * y, x**2, 1, 3 * y**2],
}


@pytest.mark.parametrize("cell", list(HESSIANS))
def test_the_hessian_is_shown_beside_a_square_jacobian(cell: str) -> None:
    result = jacobian(cell, hessian=True)
    panel = result.widget(digits=10)
    point = {name: 0.7 + k for k, name in enumerate(panel.variables)}
    for name, value in point.items():
        panel.variables[name].value = value
    n = len(point)
    second = numeric_jacobian(HESSIANS[cell], list(point.values()))  # rows: each output's gradient entries
    hessians = [second[i * n:(i + 1) * n] for i in range(second.shape[0] // n)]
    tables = TABLE.findall(panel.output.value)[1:]  # after the Jacobian, a table per Hessian
    assert len(tables) == len(hessians) and "det J" in panel.output.value
    for markup, want in zip(tables, hessians):
        assert np.allclose([float(c) for c in CELL.findall(markup)], want.ravel(), rtol=1e-7, atol=1e-9)
    eigenvalues = bold(panel.output.value, "eigenvalues")
    assert float(re.sub("<[^>]+>", "", eigenvalues).strip("[]").split(",")[0]) == pytest.approx(
        np.linalg.eigvalsh(hessians[0])[0], rel=1e-7)


def test_a_plot_that_cannot_be_drawn_at_a_moved_point_is_a_message_and_comes_back() -> None:
    panel = jacobian("f(x, y, z) = [x*y, y*z, log(z)]", plot=True).widget()
    assert panel.picture is not None
    before = bytes(panel.picture.value)
    with silent():
        panel.variables["z"].value = -1.0  # the plotted slice z = -1: log(z) undefined on all of it
    assert "no picture here" in panel.output.value and "undefined everywhere" in panel.output.value
    assert panel.picture.layout.display == "none"
    assert "log(z) has no finite real value here" in panel.output.value  # and why J is undefined
    panel.variables["z"].value = 1.0
    assert "no picture here" not in panel.output.value and panel.picture.layout.display is None
    assert bytes(panel.picture.value) == before  # the same point: the same picture
    assert shown(panel.output.value) == pytest.approx([1, 1, 0, 0, 1, 1, 0, 0, 1])


EXTREMES = [1e300, -1e300, 800.0, -800.0, 0.0, -1.0, 1e-320, 1e12, -1e12, 1.0]


PANEL_CELLS = ["f(x, y) = log(x) + y**2", "f(x, y) = x/y", "f(x, y) = [exp(x*y), sqrt(x)]",
               "x = r*cos(theta)\ny = r*sin(theta)", "f(x, y) = [tanh(x)*exp(y), softplus(x*y)]"]


# --det of the two 1 x 2 cells is refused with the cell, not the panel's business: those pairs are left out.
@pytest.mark.parametrize(("cell", "option"), [(cell, option) for cell in PANEL_CELLS
                                              for option in ("plot", "hessian", "det")
                                              if not (option == "det" and cell in PANEL_CELLS[:2])])
def test_no_value_typed_or_dragged_raises_or_warns_into_the_front_end(cell: str, option: str) -> None:
    result = jacobian(cell, **{option: True})
    panel = result.widget()
    with silent():
        for value in EXTREMES:
            for variable in panel.variables.values():
                variable.value = value
                variable.slider.value = variable.slider.min
                variable.slider.value = variable.slider.max
                variable.value = 1.0
    assert "jacmagic-matrix" in panel.output.value


def test_two_panels_of_two_cells_move_independently_and_a_rerun_starts_fresh() -> None:
    first, second = jacobian("f(a, b) = [a*b, a - b]"), jacobian("f(a, b) = [a**2*b, a - b]")
    one, two = first.widget(), second.widget()
    one.variables["a"].value = 5.0
    two.variables["b"].value = -1.0
    assert shown(one.output.value) == pytest.approx([1, 5, 1, -1])
    assert shown(two.output.value) == pytest.approx([-2, 1, 1, -1])
    again = first.widget()  # the same result's panel again: at the --at point, not where the other was left
    assert shown(again.output.value) == pytest.approx([1, 1, 1, -1])


# -- the walkthrough panel ----------------------------------------------------------------------------------------

IMAGES = "X: 2x6x6\nK: 3x3\nQ = conv2d(X, K)\nP = maxpool2d(Q, 2)\nF = flatten(P)\nL = sum(F**2)"


def _image_loss(x: np.ndarray, k: np.ndarray) -> float:
    """IMAGES written in numpy: a valid 3 x 3 cross-correlation per image, 2 x 2 max pool, sum of squares."""
    q = np.array([[[np.sum(x[b, i:i + 3, j:j + 3] * k) for j in range(4)] for i in range(4)] for b in range(2)])
    p = q.reshape(2, 2, 2, 2, 2).max(axis=(2, 4))
    return float(np.sum(p**2))


START = {"X": np.random.default_rng(3).normal(size=(2, 6, 6)), "K": np.random.default_rng(4).normal(size=(3, 3))}


def _image_result(mode: str = "reverse") -> Any:
    return jacobian(IMAGES, chain=True, wrt=["K", "X"], mode=mode, at=START)


def _tables(markup: str) -> list[np.ndarray]:
    return [np.array([[_number(re.sub("<[^>]+>", "", c)) for c in CELL.findall(row)]
                      for row in re.findall(r"<tr><th>[^<]*</th>(.*?)</tr>", table) if "<td>" in row])
            for table in TABLE.findall(markup)]


def test_an_image_stack_walkthrough_shows_every_page_with_its_gradient_in_numpy_shape() -> None:
    result = _image_result(mode="both")
    panel = result.widget(digits=10)
    for mode in ("reverse", "forward"):
        panel.mode.value = mode
        for position in range(panel.position.max + 1):
            panel.position.value = position  # the forward values (Q and P are stacks of images) and the result
            assert any(said in panel.detail.value for said in ("Forward pass", "step", "Result"))
    panel.mode.value, panel.position.value = "reverse", panel.position.max
    point = panel.point()
    want = central(lambda x: _image_loss(x, point["K"]), point["X"])
    [grad_x] = [t for t in _tables(panel.detail.value) if t.shape == (12, 6)]  # (2, 6, 6): image, row heads
    assert np.allclose(grad_x.reshape(2, 6, 6), want, rtol=1e-5, atol=1e-6)
    assert "<th>1, 5</th>" in panel.detail.value  # image 1, row 5


def test_an_image_entry_is_picked_by_image_row_and_column_as_numpy_indexes_it() -> None:
    result = _image_result()
    panel = result.widget(digits=10)
    control = panel.controls["X"]
    picks = [box for box in control.children if hasattr(box, "max") and not isinstance(box.max, str)]
    assert [box.max for box in picks] == [1, 5, 5]  # X is 2 x 6 x 6: an image, a row, a column
    control.picks[0].value, control.picks[1].value, control.picks[2].value = 1, 2, 3
    assert float(control.box.value) == pytest.approx(START["X"][1, 2, 3], rel=1e-9)
    control.box.value = "4.5"
    point = panel.point()
    assert point["X"][1, 2, 3] == 4.5 and np.count_nonzero(point["X"] != START["X"]) == 1
    want = central(lambda k: _image_loss(point["X"], k), point["K"])
    assert np.allclose(panel.walk.gradients["K"], want, rtol=1e-5, atol=1e-6)


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


CHAINS: dict[str, tuple[str, Callable[[dict[str, float]], list[float]]]] = {  # each --chain form, its map here
    "assignment": ("z = w*x + b\na = sigmoid(z)\nL = (a - t)**2",
                   lambda p: [(_sigmoid(p["w"] * p["x"] + p["b"]) - p["t"]) ** 2]),
    "math stages": ("g(x1, x2) = [x1*x2, x1 + sin(x2)]\nh(u, v) = [u**2 + v, exp(u)*v]",
                    lambda p: [(p["x1"] * p["x2"]) ** 2 + p["x1"] + math.sin(p["x2"]),
                               math.exp(p["x1"] * p["x2"]) * (p["x1"] + math.sin(p["x2"]))]),
    "def": ("def f(x, y):\n    u = x*y\n    return [u**2, np.sin(u) + y]",
            lambda p: [(p["x"] * p["y"]) ** 2, math.sin(p["x"] * p["y"]) + p["y"]]),
}


@pytest.mark.parametrize("form", list(CHAINS))
@pytest.mark.parametrize("mode", ["reverse", "forward", "both"])
def test_stepping_past_either_end_stays_on_the_ends_and_the_result_is_the_jacobian(form: str, mode: str) -> None:
    cell, twin = CHAINS[form]
    result = jacobian(cell, chain=True, mode=mode)
    panel = result.widget(digits=12)
    for name, control in panel.controls.items():
        control.value = 0.3 + 0.1 * len(name)
    point = {name: float(np.ravel(v)[0]) for name, v in panel.point().items()}
    h = 1e-6
    want = np.array([[(twin({**point, s.name: point[s.name] + h})[i] - twin({**point, s.name: point[s.name] - h})[i])
                      / (2 * h) for s in result.inputs] for i in range(result.shape[0])])
    for shown_mode in ["reverse", "forward"] if mode == "both" else [panel.mode.value]:
        panel.mode.value = shown_mode
        for _ in range(panel.position.max + 3):
            panel.next.click()
        assert panel.position.value == panel.position.max and "Result" in panel.detail.value
        if shown_mode == "forward":  # the tangents of the outputs: the whole Jacobian
            assert np.allclose(_tables(panel.detail.value)[0], want, rtol=1e-5, atol=1e-7)
        else:
            assert np.allclose(panel.walk.gradient.reshape(want.shape), want, rtol=1e-5, atol=1e-7)
        for _ in range(panel.position.max + 3):
            panel.previous.click()
        assert panel.position.value == 0 and "Forward pass" in panel.detail.value


def _states(widget: Any) -> Iterator[dict[str, Any]]:
    """Every widget's state in a panel, as the kernel sends it to the front end (binary buffers left out)."""
    yield {k: v for k, v in widget.get_state().items() if not isinstance(v, (bytes, memoryview))}
    for child in getattr(widget, "children", ()):
        yield from _states(child)


@pytest.mark.parametrize("start", [1e308, -1.7e308, 9e307, 1e200, -1e13, 5e-324])
def test_a_start_near_the_largest_float_gives_controls_the_front_end_can_read(start: float) -> None:
    """JSON has no Infinity: a slider spanning past 1e308 (its step infinite) cannot be sent; the box holds the
    value and the slider a finite range."""
    panel = jacobian("f(x, y) = [x*y, y]", at={"x": start, "y": 1.0}).widget()
    for state in _states(panel):
        json.dumps(state, allow_nan=False)
    variable = panel.variables["x"]
    assert variable.value == start and math.isfinite(variable.slider.step) and variable.slider.step > 0
    assert shown(panel.output.value) == pytest.approx([1.0, start, 0.0, 1.0])


@pytest.mark.parametrize(("low", "high"), [(-1e308, 1e308), (0.0, 1.7e308), (-1e-300, 1e-300)])
def test_a_slider_range_of_any_span_is_one_the_front_end_can_read(low: float, high: float) -> None:
    from jacmagic.panels.widgets import Variable

    variable = Variable("x", 0.0, (low, high), True, False)
    json.dumps(variable.slider.get_state(), allow_nan=False)
    assert math.isfinite(variable.slider.step) and variable.slider.step > 0
    variable.slider.value = variable.slider.max  # a drag to the end moves the box there
    assert variable.value == pytest.approx(variable.slider.max)


@pytest.mark.parametrize("widgets", [True, False])
def test_a_chain_cell_with_plot_shows_the_picture_of_its_map(shell: Shell, monkeypatch: pytest.MonkeyPatch,
                                                             widgets: bool) -> None:
    """--plot was accepted with --chain and drew nothing, with or without the panel."""
    monkeypatch.setattr("jacmagic.panels.widgets.has_widget_frontend", lambda: widgets)
    ran = shell.ok("%%jacobian --chain --plot --at r=1.2,theta=0.8\nx = r*cos(theta)\ny = r*sin(theta)")
    pictures = [o for o in ran.outputs if "image/png" in o]
    assert len(pictures) == 1 and "result.plot()" in pictures[0]["text/plain"]
    figure = ran.result.plot()  # the picture shown: the polar map's image coloured by |det J| = r = |(x, y)|
    [mesh] = [c for ax in figure.axes for c in ax.collections if c.get_gid() == "jacmagic-det"]
    xy = mesh.get_coordinates()
    assert np.allclose(np.asarray(mesh.get_array()).reshape(xy.shape[:2]), np.hypot(xy[..., 0], xy[..., 1]))
    assert any(isinstance(d, NetworkPanel) for d in ran.result.displays) == widgets


def test_the_derivation_inside_a_walkthrough_panel_says_it_stays_at_the_opening_point() -> None:
    panel = jacobian("z = w*x + b\na = sigmoid(z)\nL = (a - t)**2", chain=True, at={"w": 0.7, "b": -0.2, "x": 1.5,
                                                                                      "t": 1.0}).widget()
    panel.controls["w"].value = 2.0  # the steps follow the point; the derivation does not, and its title says so
    assert "opened on" in panel.derivation.get_title(0)
    assert "atw=0.7" in read_aloud(panel.derivation.children[0].value)


def test_a_determinant_of_subnormal_entries_is_shown_without_a_warning() -> None:
    panel = jacobian("f(x, y) = [x*y, x + y]").widget(digits=6)  # J = [[y, x], [1, 1]]: det = y - x
    with silent():
        panel.variables["x"].value = 3e-310
        panel.variables["y"].value = 1e-310
    assert float(bold(panel.output.value, "det J =")) == pytest.approx(-2e-310, rel=1e-5)
    with silent():  # J = [[0, 1], [y/2, x/2]] (sech²(1e200) is 0): LU divides by the subnormal pivot y/2
        panel = jacobian("f(x, y) = [tanh(x)*exp(y), softplus(x*y)]", at={"x": 1e200, "y": 1e-310}).widget()
    assert float(bold(panel.output.value, "det J =")) == pytest.approx(-0.5e-310, rel=1e-5)
