"""The evaluation panel: pick a point, see the numeric Jacobian there, instantly.

Numbers come from the result's compiled evaluator, strings from plain f-strings: the update path calls no sympy.
The numeric matrix is an HTML table styled as a bracketed matrix in one persistent `HTML` widget whose value is
reassigned, because LaTeX inside widgets is not typeset in every front end, and a `display()` per update would pile
up in the output history; formulas are MathML (mathml.py), made once per panel, which the browser typesets itself.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np

from jacmagic.chain.evaluate import curvature, orientation
from jacmagic.errors import JacmagicError
from jacmagic.notation import pretty
from jacmagic.panels.layout import NUMBER_BOX, STYLE, html_box
from jacmagic.panels.numbers import number_cell, table, vector
from jacmagic.views.displays import plot_display, static_displays
from jacmagic.views.graph import sparsity_display
from jacmagic.views.notes import notes_words
from jacmagic.views.numbers import window
from jacmagic.views.plot import default_domain
from jacmagic.views.render import SHOWN, result_groups, text_width

if TYPE_CHECKING:
    from jacmagic.symbolic import SymbolicJacobian

# Beyond this magnitude a typed value stays in the number box and the slider keeps its range.
_SLIDER_LIMIT = 1e12


def slider_range(value: float) -> tuple[float, float]:
    """A slider's range: the value plus or minus twice max(1, |value|). Twice the picture's (`plot.picture_range`):
    a slider is for exploring, and a typed value outside it widens it; never refused, since the number box holds
    any value and the callers clamp it to ±_SLIDER_LIMIT first, where the picture must refuse a range it cannot
    draw."""
    span = 2.0 * max(1.0, abs(value))
    return value - span, value + span


def has_widget_frontend() -> bool:
    """Widgets need a kernel to talk to; terminal IPython and plain scripts have none."""
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


def displays(result: SymbolicJacobian) -> list[Any]:
    """Everything a cell shows, built before anything is shown (so that a failure shows nothing and binds
    nothing): the typeset result, where a widget front end exists the panel under it, and the pictures."""
    panel = result.options.widgets and has_widget_frontend()
    shown: list[Any] = list(static_displays(result_groups(result)))
    if result.options.plot and not panel:  # with a panel, the picture lives in it and follows the point
        shown.append(plot_display(result))
    matrix = result.eager_matrix
    if matrix is not None and (matrix.rows > SHOWN or matrix.cols > SHOWN):
        shown.append(sparsity_display(matrix))
    if panel:
        shown.append(result.widget())
    return shown


def show(shown: list[Any]) -> None:
    """Displays what `displays` built: bundles raw, widgets as themselves. A bundle whose text is empty (a formula
    the text shows on one line and the LaTeX entry by entry) goes without text/plain: a terminal would print it as
    a blank line."""
    from IPython.display import display

    shown = _below_prompt(shown)
    for item in shown:
        if isinstance(item, dict):
            item = {kind: data for kind, data in item.items() if kind != "text/plain" or data}
        display(item, raw=isinstance(item, dict))


def _below_prompt(shown: list[Any]) -> list[Any]:
    """`shown` starting on a line of its own where a terminal IPython has just printed `Out[n]: ` without a newline
    (it prints text/plain itself, `DisplayPublisher`): the prompt would push the first line one prompt's width
    right, past the width and out of line with the rest: IPython's own rule for a multi-line result, and for one line
    too wide with the prompt."""
    from IPython import get_ipython
    from IPython.core.displaypub import DisplayPublisher

    shell = get_ipython()
    hook = getattr(shell, "displayhook", None)
    if (shell is None or type(shell.display_pub) is not DisplayPublisher or not getattr(hook, "do_full_cache", False)
            or getattr(hook, "prompt_end_newline", False) or not shown or not isinstance(shown[0], dict)):
        return shown
    first = shown[0].get("text/plain", "")
    prompt = f"Out[{shell.execution_count}]: "
    if not first or ("\n" not in first and len(shown) == 1 and len(prompt + first) <= text_width()):
        return shown
    return [{**shown[0], "text/plain": "\n" + first}, *shown[1:]]


@cache
def _shared_looks() -> dict[str, widgets.Widget]:
    """One style and layout object for all the controls (each is a widget with its own comm): a 100-variable
    panel's controls made 2.6x faster. Made on first use: a widget made at import has no kernel to talk to."""
    from ipywidgets.widgets.widget_description import DescriptionStyle

    return {"slider": widgets.SliderStyle(description_width="initial"), "slider_layout": widgets.Layout(),
            "box": DescriptionStyle(), "box_layout": widgets.Layout(width=NUMBER_BOX),
            "row_layout": widgets.Layout(flex_flow="row wrap")}


class Variable(widgets.HBox):
    """A slider for dragging and a number box for typing any value; typing outside the range widens it."""

    def __init__(self, label: str, value: float, bounds: tuple[float, float], continuous_update: bool,
                 constant: bool) -> None:
        low, high = min(bounds[0], value), max(bounds[1], value)
        if not math.isfinite(high - low):  # a span past the largest double (a value near 1e308): no slider has a
            low, high = slider_range(min(max(value, -_SLIDER_LIMIT), _SLIDER_LIMIT))  # finite step; the box holds it
        shared = _shared_looks()
        self.slider = widgets.FloatSlider(value=value, min=low, max=high, step=(high - low) / 200,
                                          description=label, readout=False, continuous_update=continuous_update,
                                          style=shared["slider"], layout=shared["slider_layout"])
        self.box = widgets.FloatText(value=value, layout=shared["box_layout"], style=shared["box"],
                                     continuous_update=False)
        note = [widgets.HTML('<span style="opacity:0.6">constant</span>')] if constant else []
        super().__init__([self.slider, self.box, *note], layout=shared["row_layout"])
        self.slider.observe(self._from_slider, names="value")
        self.box.observe(self._from_box, names="value")

    @property
    def value(self) -> float:
        return float(self.box.value)

    @value.setter
    def value(self, new: float) -> None:
        self.box.value = new

    def _from_slider(self, change: Mapping[str, Any]) -> None:
        """A drag sets the box to the slider's value, rounded to the step's digits (a browser's slider gives
        min + k*step in floating point: 0.3999999999 for 0.4). The slider snapping a typed value to its nearest
        step sends a value within half a step of the box's: that is no move, and the typed value stays."""
        new, step = float(change["new"]), float(self.slider.step)
        if abs(new - float(self.box.value)) <= step / 2 * (1 + 1e-9):
            return
        self.box.value = round(new, max(0, 1 - math.floor(math.log10(step)))) if step > 0 else new

    def _from_box(self, change: Mapping[str, Any]) -> None:
        new = float(change["new"])
        if not np.isfinite(new) or abs(new) > _SLIDER_LIMIT:  # the box keeps it; the slider cannot follow
            return
        if new < self.slider.min or new > self.slider.max:
            low, high = slider_range(new)
            low, high = min(low, self.slider.min), max(high, self.slider.max)
            self.slider.min, self.slider.max = low, high  # widen first: the slider would clamp the value
            self.slider.step = (high - low) / 200
        if self.slider.value != new:
            self.slider.value = new


class JacobianPanel(widgets.VBox):
    """Controls for every variable and constant, and the numeric Jacobian at their values, updated live."""

    def __init__(self, result: SymbolicJacobian, ranges: Mapping[str, tuple[float, float]] | None = None,
                 continuous_update: bool = True, digits: int = 4) -> None:
        self.result = result
        start = result.default_point()
        ranges = {**dict((n, (lo, hi)) for n, lo, hi in result.options.ranges), **(ranges or {})}
        inputs = {s.name for s in result.inputs}
        self.variables: dict[str, Variable] = {}
        for symbol in result.arguments:
            value = start[symbol.name]
            bounds = ranges.get(symbol.name, slider_range(value))
            self.variables[symbol.name] = Variable(pretty(symbol), value, bounds, continuous_update,
                                                   constant=symbol.name not in inputs)
        self.digits = widgets.BoundedIntText(value=digits, min=1, max=15, description="digits",
                                             layout=widgets.Layout(width="12em"),
                                             style={"description_width": "initial"})
        self.output = html_box()
        self.picture = widgets.Image(format="png") if result.options.plot else None
        self._drawn = ""  # what the panel says about the picture at this point
        if self.picture is not None:
            from jacmagic.views.plot import MovingPicture

            # the plotted region stays where the panel opened: the square and arrows move across a still picture
            self._moving = MovingPicture(result, default_domain(result, start))
            # drawn once here, not again by the first update; where nothing can be drawn: refused with the cell,
            # as without a panel
            self.picture.value = self._moving.png(start)
        self._rows = [html.escape(pretty(s)) for s in result.outputs]
        # big Jacobians show the same window as the typeset result: the update stays cheap
        rows, cols = window(len(result.outputs)), window(len(result.inputs))
        self._window = None if None not in rows + cols else (np.array([i for i in rows if i is not None]),
                                                               np.array([j for j in cols if j is not None]))
        self._row_heads = [f"<tr><th>{self._rows[i]}</th>" for i in rows if i is not None]
        self._head = (f'{STYLE}<div class="jacmagic-panel"><div class="jacmagic-scroll">'
                      '<table class="jacmagic-matrix"><tr><th></th>'
                      + "".join(f"<th>{html.escape(pretty(result.inputs[j]))}</th>" for j in cols if j is not None)
                      + "</tr>")
        self._order = [self.variables[s.name] for s in result.arguments]
        self._columns = [html.escape(pretty(s)) for s in result.inputs]
        self._jacobian = result.point_function()
        pictures = [self.picture] if self.picture is not None else []
        super().__init__([*self.variables.values(), self.digits, self.output, *pictures])
        for variable in self.variables.values():
            variable.box.observe(self._moved, names="value")
        self.digits.observe(self._update, names="value")  # the numbers only: the picture has no digits
        self._update()

    def point(self) -> dict[str, float]:
        return {name: variable.value for name, variable in self.variables.items()}

    def _moved(self, change: object = None) -> None:
        """A new point: the picture follows it, then the numbers."""
        if self.picture is not None:
            self._drawn = self._draw()
        self._update()

    def _update(self, change: object = None) -> None:
        """Evaluate, format, assign: synchronous, so it follows the slider in every front end and in tests."""
        matrix = self._jacobian(*[v.value for v in self._order])
        self.output.value = self.render_html(matrix, int(self.digits.value)) + self._drawn

    def _draw(self) -> str:
        """The picture at this point, one PNG swapped in place (no flicker, no output history); where it cannot be
        drawn (the map undefined over the whole plotted slice) the picture is hidden and the panel says why, in
        place of an exception raised into the front end, and it comes back when the point moves back."""
        assert self.picture is not None
        try:
            self.picture.value = self._moving.png(self.point())
        except JacmagicError as refused:
            self.picture.layout.display = "none"
            return f'<div><span class="jacmagic-undefined">no picture here: {html.escape(str(refused))}</span></div>'
        self.picture.layout.display = None
        return ""

    def render_html(self, matrix: np.ndarray, digits: int) -> str:
        finite = bool(np.isfinite(matrix).all())
        summary = "".join(f"<div>{line}</div>" for line in self._summary(matrix, digits, finite))
        notes = "" if finite else "".join(
            f'<div><span class="jacmagic-undefined">{html.escape(note)}</span></div>'
            for note in notes_words(self.result.undefined_facts([v.value for v in self._order], matrix)))
        if self._window is not None:
            matrix = matrix[np.ix_(*self._window)]
            notes += "<div>showing the corner rows and columns, as above; result.at(...) gives them all</div>"
        spec = f".{digits}g"  # of v + 0.0 below: -0.0 is shown as 0, as in every view
        body = "".join(
            head + "".join(f"<td>{v + 0.0:{spec}}</td>" if finite else f"<td>{number_cell(v, digits)}</td>"
                           for v in row)
            + "</tr>" for head, row in zip(self._row_heads, matrix.tolist()))
        return f"{self._head}{body}</table></div>{summary}{notes}</div>"

    def _summary(self, matrix: np.ndarray, digits: int, finite: bool) -> Sequence[str]:
        rows, cols = matrix.shape
        lines: list[str] = []
        if rows == cols:
            with np.errstate(all="ignore"):  # past the largest double: ∞, said as such; subnormals: no warning
                det = float(np.linalg.det(matrix)) if finite else math.nan
            past = "too large for a float, " if finite and math.isinf(det) else ""
            lines.append(f"det J = <b>{number_cell(det, digits)}</b> ({past}{html.escape(orientation(matrix))})")
        elif rows == 1:
            norm = math.nan if np.isnan(matrix[0]).any() else math.hypot(*matrix[0])  # hypot: no overflow
            lines.append(f"gradient norm |∇{self._rows[0]}| = <b>{number_cell(norm, digits)}</b>")
        if self.result.hessians:
            point = [v.value for v in self._order]
            hessians = self.result.hessians_at(point, matrix)
            for name, hessian, gradient in zip(self._rows, hessians, matrix):
                eigenvalues, reading = curvature(hessian, gradient, point[:len(self.result.inputs)])
                lines.append(f"Hessian ∇²{name}: eigenvalues <b>{vector(eigenvalues, digits)}</b>, "
                             f"{html.escape(reading)}" + table(hessian, self._columns, self._columns, digits))
        return lines
