"""The evaluation panel, driven programmatically: set a control, read the displayed numbers, compare with an
independent evaluation at that point (plain math, not the panel's evaluator)."""

from __future__ import annotations

import gc
import math
import re
import sys

import pytest

from jacmagic import jacobian
from jacmagic.panels.widgets import JacobianPanel

from .conftest import Shell

CELL = re.compile(r"<td>(.*?)</td>")


def shown_numbers(panel: JacobianPanel) -> list[str]:
    return CELL.findall(panel.output.value)


def shown_det(panel: JacobianPanel) -> float:
    return float(re.search(r"det J = <b>([^<]+)</b>", panel.output.value).group(1))  # type: ignore[union-attr]


def polar_panel(**kw: object) -> JacobianPanel:
    return jacobian("x = r*cos(theta)\ny = r*sin(theta)", det=True).widget(**kw)  # type: ignore[return-value]


@pytest.mark.parametrize(("r", "theta"), [(1.0, 0.0), (2.5, 1.2), (0.3, -2.0), (0.0, 0.7)])
def test_moving_the_controls_updates_matrix_and_determinant(r: float, theta: float) -> None:
    panel = polar_panel(digits=10)
    panel.variables["r"].slider.value = r
    panel.variables["theta"].value = theta
    want = [math.cos(theta), -r * math.sin(theta), math.sin(theta), r * math.cos(theta)]
    got = [float(v) for v in shown_numbers(panel)]
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert shown_det(panel) == pytest.approx(r, abs=1e-9)
    reading = "singular here" if r == 0 else "orientation kept"
    assert reading in panel.output.value


def test_orientation_flips_with_a_negative_determinant() -> None:
    panel = polar_panel()
    panel.variables["r"].value = -1.5
    assert shown_det(panel) == pytest.approx(-1.5)
    assert "orientation flipped" in panel.output.value


def test_typing_outside_the_range_widens_the_slider() -> None:
    panel = polar_panel()
    variable = panel.variables["r"]
    assert variable.slider.max < 50
    variable.box.value = 50.0
    assert variable.slider.max >= 50 and variable.slider.value == 50.0
    assert shown_det(panel) == pytest.approx(50.0)


def test_undefined_points_are_shown_and_the_panel_keeps_working() -> None:
    panel = jacobian("f(x, y) = [x/y, sqrt(x)]").widget()
    panel.variables["y"].value = 0.0
    assert "undefined" in panel.output.value and "division by zero" in panel.output.value
    panel.variables["x"].value = -1.0
    assert "sqrt(x) has no finite real value here" in panel.output.value
    panel.variables["y"].value = 2.0
    panel.variables["x"].value = 3.0
    want = [0.5, -0.75, 1 / (2 * math.sqrt(3)), 0.0]
    assert [float(v) for v in shown_numbers(panel)] == pytest.approx(want, rel=1e-3)


def test_gradient_norm_for_scalar_functions_and_constants_get_controls() -> None:
    result = jacobian("f(x, y) = a*x*y", at={"x": 3.0, "y": 4.0, "a": 2.0})
    panel = result.widget()
    assert set(panel.variables) == {"x", "y", "a"}
    assert "constant" in panel.variables["a"].children[2].value
    assert [float(v) for v in shown_numbers(panel)] == pytest.approx([8.0, 6.0])
    assert "gradient norm" in panel.output.value and "<b>10</b>" in panel.output.value


def test_precision_and_continuous_update_options() -> None:
    panel = polar_panel(continuous_update=False)
    assert panel.variables["r"].slider.continuous_update is False
    panel.variables["theta"].value = 1.0
    panel.digits.value = 3
    assert "0.54" in shown_numbers(panel)


def test_ranges_from_the_magic_option(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("jacmagic.panels.widgets.has_widget_frontend", lambda: True)
    ran = shell.ok("%%jacobian --range r=0:5,theta=-pi:pi\nx = r*cos(theta)\ny = r*sin(theta)")
    shown = next(o for o in ran.outputs if "application/vnd.jupyter.widget-view+json" in o)
    model = ran.result.displays[-1]  # the panel the cell displayed
    assert isinstance(model, JacobianPanel)
    assert shown["application/vnd.jupyter.widget-view+json"]["model_id"] == model.model_id
    assert (model.variables["r"].slider.min, model.variables["r"].slider.max) == (0.0, 5.0)
    assert model.variables["theta"].slider.min == pytest.approx(-math.pi)
    explicit = JacobianPanel(jacobian("x = r*cos(theta)\ny = r*sin(theta)").symbolic, ranges={"r": (1.0, 2.0)})
    assert (explicit.variables["r"].slider.min, explicit.variables["r"].slider.max) == (1.0, 2.0)


def test_an_update_calls_no_sympy() -> None:
    panel = polar_panel()
    called: list[str] = []

    def watch(frame: object, event: str, arg: object) -> None:
        filename = frame.f_code.co_filename  # type: ignore[attr-defined]
        if event == "call" and "sympy" in filename:
            called.append(filename)

    gc.collect()  # closing a leftover generator of an earlier compile (sympy's cse) is not the update calling sympy
    sys.setprofile(watch)
    try:
        panel.variables["r"].value = 2.0
    finally:
        sys.setprofile(None)
    assert called == []
    assert shown_det(panel) == pytest.approx(2.0)


def test_values_stay_as_typed_when_the_browser_slider_snaps_them() -> None:
    """A browser's slider reports min + k*step in floating point (0.3999999999 for 0.4) and snaps a typed value
    to its nearest step: neither reaches the number box; a real drag does, rounded to the step's digits."""
    from jacmagic.panels.widgets import Variable

    variable = Variable("x", 0.4, (-1.6, 2.4), True, False)
    variable.slider.value = -1.6 + 100 * 0.02  # 0.3999999999999999: the slider echoing 0.4
    assert variable.box.value == 0.4
    variable.box.value = 0.4123
    variable.slider.value = 0.42  # the slider snapping the typed value to its grid
    assert variable.box.value == 0.4123
    variable.slider.value = -1.6 + 115 * 0.02  # a drag to 0.7, in floating point
    assert variable.box.value == 0.7 and repr(variable.box.value) == "0.7"


@pytest.mark.parametrize("cell", ["z = w*x + b\na = sigmoid(z)\nL = (a - t)**2",
                                  "W: 12x10\nx: 10\nh = tanh(W @ x)\nL = sum(h**2)"])
def test_with_a_panel_the_walkthrough_is_shown_once_and_carried_for_viewers_without_widgets(
        shell: Shell, monkeypatch: pytest.MonkeyPatch, cell: str) -> None:
    """Where widgets render, the derivation lives in the panel (collapsed), and the panel's own display carries it
    as LaTeX and text for GitHub, nbviewer and pages exported without widget state."""
    monkeypatch.setattr(shell.ip, "kernel", object(), raising=False)
    ran = shell.ok("%%jacobian --chain\n" + cell)
    carrying = [o for o in ran.outputs if "from the output back" in o.get("text/latex", "")]
    assert len(carrying) == 1 and "application/vnd.jupyter.widget-view+json" in carrying[0]
    assert "reverse mode" in carrying[0]["text/plain"] and "cost:" in carrying[0]["text/plain"]
    assert all(len(block) < 5_000 for block in carrying[0]["text/latex"].split("\n"))
    monkeypatch.setattr(shell.ip, "kernel", None, raising=False)
    alone = shell.ok("%%jacobian --chain\n" + cell)  # no widgets: the derivation is shown as displays
    assert sum("from the output back" in o.get("text/html", "") for o in alone.outputs) == 1  # words outside math
    assert not any("application/vnd.jupyter.widget-view+json" in o for o in alone.outputs)


def test_the_panel_holds_the_whole_derivation_collapsed() -> None:
    from jacmagic import jacobian

    panel = jacobian("z = w*x + b\na = sigmoid(z)\nL = (a - t)**2", chain=True).widget()
    assert panel.derivation in panel.children and panel.derivation.selected_index is None
    assert "reverse mode" in panel.derivation.children[0].value and panel.derivation.get_title(0)
