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
from typing import TYPE_CHECKING, Any, NamedTuple

import ipywidgets as widgets
import numpy as np
import sympy as sp

from jacmagic.chain.evaluate import curvature, orientation
from jacmagic.panels.layout import NUMBER_BOX, STYLE, beside, html_box, scrolling, wrapping
from jacmagic.views import mathml
from jacmagic.views.displays import bundles, static_displays
from jacmagic.views.graph import Layout, sparsity_svg, svg
from jacmagic.views.plot import default_domain
from jacmagic.views.render import (
    SHOWN,
    Row,
    bracketed,
    chain_groups,
    contribution,
    cost_words,
    derivative_symbol,
    directions_words,
    matrix_latex,
    number,
    pretty,
    result_groups,
    tangent_latex,
    window,
)
from jacmagic.views.verdicts import verdict_words

if TYPE_CHECKING:
    from jacmagic.result import JacobianResult

# Beyond this magnitude a typed value stays in the number box and the slider keeps its range.
_SLIDER_LIMIT = 1e12


def default_range(value: float) -> tuple[float, float]:
    """A slider range around the starting value, wide enough to explore."""
    span = 2.0 * max(1.0, abs(value))
    return value - span, value + span


def has_widget_frontend() -> bool:
    """Widgets need a kernel to talk to; terminal IPython and plain scripts have none."""
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


def displays(result: JacobianResult) -> list[Any]:
    """Everything a cell shows, built before anything is shown (so that a failure shows nothing and binds
    nothing): the typeset result, where a widget front end exists the panel under it (holding the walkthrough),
    and the pictures."""
    panel = result.options.widgets and has_widget_frontend()
    # with a panel, the walkthrough is shown once: in the panel, which carries it for viewers without widgets
    shown: list[Any] = list(static_displays(result_groups(result, walkthrough=not panel)))
    if result.options.plot and not panel:  # with a panel, the picture lives in it and follows the point
        from jacmagic.views.plot import png

        shown.append({"image/png": png(result.plot()), "text/plain": "(the --plot picture: result.plot() returns "
                      "it as a matplotlib Figure)"})
    matrix = result.eager_matrix
    if matrix is not None and (matrix.rows > SHOWN or matrix.cols > SHOWN):
        nonzero = len(matrix.todok())  # a dict of the nonzero entries, not a walk over all of them
        shown.append({"image/svg+xml": sparsity_svg(matrix),
                      "text/plain": f"sparsity: {nonzero} of {matrix.rows * matrix.cols} entries are not "
                                    "identically zero"})
    if panel:
        shown.append(result.widget())
    return shown


def show(shown: list[Any]) -> None:
    """Displays what `displays` built: bundles raw, widgets as themselves."""
    from IPython.display import display

    for item in shown:
        display(item, raw=isinstance(item, dict))


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
            low, high = default_range(new)
            low, high = min(low, self.slider.min), max(high, self.slider.max)
            self.slider.min, self.slider.max = low, high  # widen first: the slider would clamp the value
            self.slider.step = (high - low) / 200
        if self.slider.value != new:
            self.slider.value = new


class JacobianPanel(widgets.VBox):
    """Controls for every variable and constant, and the numeric Jacobian at their values, updated live."""

    def __init__(self, result: JacobianResult, ranges: Mapping[str, tuple[float, float]] | None = None,
                 continuous_update: bool = True, digits: int = 4) -> None:
        self.result = result
        start = result.default_point()
        ranges = {**dict((n, (lo, hi)) for n, lo, hi in result.options.ranges), **(ranges or {})}
        inputs = {s.name for s in result.inputs}
        self.variables: dict[str, Variable] = {}
        for symbol in result.arguments:
            value = start[symbol.name]
            bounds = ranges.get(symbol.name, default_range(value))
            self.variables[symbol.name] = Variable(pretty(symbol), value, bounds, continuous_update,
                                                   constant=symbol.name not in inputs)
        self.digits = widgets.BoundedIntText(value=digits, min=1, max=15, description="digits",
                                             layout=widgets.Layout(width="12em"),
                                             style={"description_width": "initial"})
        self.output = html_box()
        self.picture = widgets.Image(format="png") if result.options.plot else None
        # the plotted region stays where the panel opened: the square and arrows move across a still picture
        self._domain = default_domain(result, start) if result.options.plot else None
        if self._domain is not None:
            from jacmagic.views.plot import MovingPicture

            self._moving = MovingPicture(result, self._domain)
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
            variable.box.observe(self._update, names="value")
        self.digits.observe(self._update, names="value")
        self._update()

    def point(self) -> dict[str, float]:
        return {name: variable.value for name, variable in self.variables.items()}

    def _update(self, change: object = None) -> None:
        """Evaluate, format, assign: synchronous, so it follows the slider in every front end and in tests."""
        matrix = self._jacobian(*[v.value for v in self._order])
        self.output.value = self.render_html(matrix, int(self.digits.value))
        if self.picture is not None:  # one PNG swapped in place: no flicker, no output history
            self.picture.value = self._moving.png(self.point())

    def render_html(self, matrix: np.ndarray, digits: int) -> str:
        finite = bool(np.isfinite(matrix).all())
        summary = "".join(f"<div>{line}</div>" for line in self._summary(matrix, digits, finite))
        notes = "" if finite else "".join(
            f'<div><span class="jacmagic-undefined">{html.escape(note)}</span></div>'
            for note in self.result.undefined_notes([v.value for v in self._order], matrix))
        if self._window is not None:
            matrix = matrix[np.ix_(*self._window)]
            notes += "<div>showing the corner rows and columns, as above; result.at(...) gives them all</div>"
        spec = f".{digits}g"
        body = "".join(
            head + "".join(f"<td>{v:{spec}}</td>" if finite else f"<td>{_number(v, digits)}</td>" for v in row)
            + "</tr>" for head, row in zip(self._row_heads, matrix.tolist()))
        return f"{self._head}{body}</table></div>{summary}{notes}</div>"

    def _summary(self, matrix: np.ndarray, digits: int, finite: bool) -> Sequence[str]:
        rows, cols = matrix.shape
        if rows == cols:
            det = float(np.linalg.det(matrix)) if finite else float("nan")
            return [f"det J = <b>{_number(det, digits)}</b> ({html.escape(orientation(matrix))})"]
        lines = []
        if rows == 1:
            norm = float(np.linalg.norm(matrix[0]))
            lines.append(f"gradient norm |∇{self._rows[0]}| = <b>{_number(norm, digits)}</b>")
        if self.result.hessians:
            point = [v.value for v in self._order]
            hessians = self.result.hessians_at(point, matrix)
            for name, hessian, gradient in zip(self._rows, hessians, matrix):
                eigenvalues, reading = curvature(hessian, gradient, point[:len(self.result.inputs)])
                lines.append(f"Hessian ∇²{name}: eigenvalues <b>{_vector(eigenvalues, digits)}</b>, "
                             f"{html.escape(reading)}" + _table(hessian, self._columns, self._columns, digits))
        return lines


def _number(value: float, digits: int) -> str:
    """`render.number` as HTML: undefined and infinite values marked in red."""
    text = number(value, digits)
    return text if math.isfinite(value) else f'<span class="jacmagic-undefined">{text}</span>'


def _table(values: np.ndarray, rows: Sequence[str], columns: Sequence[str], digits: int,
           total: tuple[int, int] | None = None) -> str:
    """A small labelled numeric matrix in the panel's matrix style, cut to the window like every view. With
    `total`, `values` and the labels hold only the window's rows and columns of a matrix of that shape (one too
    large to build whole)."""
    values = np.atleast_2d(values)
    count_rows, count_cols = total or values.shape
    shown_rows, shown_cols = window(count_rows), window(count_cols)
    row_at = {i: k for k, i in enumerate(i for i in shown_rows if i is not None)} if total else None
    col_at = {j: k for k, j in enumerate(j for j in shown_cols if j is not None)} if total else None

    def place(index: int, at: dict[int, int] | None) -> int:
        return index if at is None else at[index]
    head = "<tr><th></th>" + "".join(f"<th>{'…' if j is None else columns[place(j, col_at)]}</th>"
                                     for j in shown_cols) + "</tr>"
    body = "".join(
        f"<tr><th>{'⋮' if i is None else rows[place(i, row_at)]}</th>" + "".join(
            "<td>⋱</td>" if i is None and j is None else "<td>⋮</td>" if i is None else "<td>…</td>" if j is None
            else f"<td>{_number(float(values[place(i, row_at), place(j, col_at)]), digits)}</td>"
            for j in shown_cols) + "</tr>"
        for i in shown_rows)
    cut = count_rows > SHOWN or count_cols > SHOWN
    shape = f'<div style="opacity:0.6">{count_rows:,} x {count_cols:,}</div>' if cut else ""
    return scrolling(f'<table class="jacmagic-matrix">{head}{body}</table>') + shape


class Derivation(widgets.Accordion):
    """The whole static derivation inside a panel, collapsed, as HTML with MathML (typeset by the browser, not the
    host's MathJax); the panel's own display carries it too, as LaTeX and text, for viewers that cannot show widgets
    (GitHub, nbviewer, a page exported without widget state)."""

    def __init__(self, groups: Sequence[Sequence[Row]]) -> None:
        shown = bundles([list(group) for group in groups])
        self.latex = "\n".join(b["text/latex"] for b in shown)
        self.text = "\n".join(b["text/plain"] for b in shown)
        super().__init__([html_box(STYLE + mathml.derivation(groups))], selected_index=None)
        self.set_title(0, "the whole derivation")

    def fallback(self, bundle: dict[str, Any] | None) -> dict[str, Any] | None:
        """A widget's mime bundle with the derivation beside the widget view."""
        if bundle is not None:
            bundle.update({"text/latex": self.latex, "text/plain": self.text})
        return bundle


class StepPanel(widgets.VBox):
    """What every walkthrough panel shares: Previous / Next / Play over the stages (0 the forward values, then
    one step each, then the result), a reverse/forward toggle with --mode both, the graph lit at the current stage
    the way the derivative flows, the step's numbers, and the whole derivation inside. Subclasses say what each
    page shows; changing the point is theirs too (`_recompute` sets `walk`, then calls `_show`)."""

    def _assemble(self, result: Any, graph: Layout, names: Sequence[str], above: Sequence[widgets.Widget],
                  digits: widgets.BoundedIntText, derivation: Derivation) -> None:
        self.result, self.graph, self.names, self.digits_box, self.derivation = result, graph, list(names), digits, \
            derivation
        last = len(self.names) + 1
        self.position = widgets.IntSlider(value=1, min=0, max=last, description="step", readout=False)
        self.play = widgets.Play(value=1, min=0, max=last, interval=1500, description="Play")
        widgets.jslink((self.play, "value"), (self.position, "value"))
        self.previous, self.next = widgets.Button(description="◀ Previous"), widgets.Button(description="Next ▶")
        self.previous.on_click(lambda _: self.move(-1))
        self.next.on_click(lambda _: self.move(+1))
        mode = result.options.mode
        self.mode = widgets.ToggleButtons(options=[("reverse mode", "reverse"), ("forward mode", "forward")],
                                          value="forward" if mode == "forward" else "reverse")
        self.picture, self.detail = html_box(), html_box()
        controls = wrapping([self.previous, self.next, self.play, self.position])
        widgets.VBox.__init__(self, [*above, *([self.mode] if mode == "both" else []), controls,
                                     beside(self.picture, self.detail), derivation])
        for watched in (self.position, self.mode, digits):
            watched.observe(self._show, names="value")

    def move(self, by: int) -> None:
        self.position.value = min(max(self.position.value + by, self.position.min), self.position.max)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        return self.derivation.fallback(super()._repr_mimebundle_(**kwargs))

    def _show(self, change: object = None) -> None:
        """Formats the page at the slider from the walkthrough computed at this point: no evaluation here."""
        position, count = int(self.position.value), len(self.names)
        digits = int(self.digits_box.value)
        forward = self.mode.value == "forward"
        if position == 0:
            current, done, lines = None, [], self._values_page(digits)
        elif position <= count and forward:
            current, done = self.names[position - 1], self.names[:position - 1]
            lines = self._forward_page(position, digits)
        elif position <= count:
            current, done = self.names[count - position], self.names[count - position + 1:]
            lines = self._backward_page(position, digits)
        else:
            current, done = None, self.names
            lines = self._forward_result(digits) if forward else self._backward_result(digits)
        lines.append(html.escape(f"cost: {cost_words(self.result)}"))
        self.picture.value = scrolling(svg(self.graph, current, "forward" if forward else "reverse", done))
        self.detail.value = STYLE + '<div class="jacmagic-step">' + "".join(map(scrolling, lines)) + "</div>"

    def _values_page(self, digits: int) -> list[str]:
        raise NotImplementedError

    def _forward_page(self, position: int, digits: int) -> list[str]:
        raise NotImplementedError

    def _backward_page(self, position: int, digits: int) -> list[str]:
        raise NotImplementedError

    def _forward_result(self, digits: int) -> list[str]:
        raise NotImplementedError

    def _backward_result(self, digits: int) -> list[str]:
        raise NotImplementedError


class _StepText(NamedTuple):
    """A stage's labels and its local Jacobian formula (MathML), made once per panel."""

    inputs: list[str]
    outputs: list[str]
    local: str


class ChainPanel(StepPanel):
    """Steps through the backward pass (or, with --mode forward, the forward-mode pass; with --mode both, a
    toggle picks), the current stage highlighted in the graph, the numbers of that step at the point the
    evaluation panel's controls set."""

    def __init__(self, result: JacobianResult, continuous_update: bool = True, digits: int = 4) -> None:
        from jacmagic.views.graph import layout

        self.evaluation = JacobianPanel(result, continuous_update=continuous_update, digits=digits)
        self._outputs = [html.escape(pretty(o)) for o in result.outputs]
        self._inputs = [html.escape(pretty(s)) for s in result.inputs]
        self._texts = {step.name: _StepText([html.escape(pretty(s)) for s in step.inputs],
                                            [html.escape(pretty(s)) for s in step.outputs],
                                            mathml.formula(f"{derivative_symbol(step.outputs, step.inputs)} = "
                                                           f"{matrix_latex(step.matrix)}"))
                       for step in result.chain}
        self._assemble(result, layout(result.chain, result.shapes), [step.name for step in result.chain],
                       [self.evaluation], self.evaluation.digits, Derivation(chain_groups(result)))
        for variable in self.evaluation.variables.values():
            variable.box.observe(self._recompute, names="value")
        self._recompute()

    def _recompute(self, change: object = None) -> None:
        self.walk = self.result.walkthrough(**self.evaluation.point())
        self._show()

    def _values_page(self, digits: int) -> list[str]:
        return ["<b>Forward pass</b>: every value at this point"] + [
            f"{html.escape(step.name)} = " + _table(value[None, :], [""], self._texts[step.name].outputs, digits)
            for step, value in zip(self.result.chain, self.walk.forward)]

    def _backward_page(self, position: int, digits: int) -> list[str]:
        back = self.walk.backward[position - 1]
        inputs, outputs, local = self._texts[back.step.name]
        lines = [f"<b>Backward step {position} of {len(self.result.chain)}</b>: {html.escape(back.step.name)} "
                 f"(line {back.step.line}), reverse mode: upstream row(s) · local J",
                 "upstream gradient:" + _table(back.upstream, self._outputs, outputs, digits),
                 f"local Jacobian {local}, at this point:" + _table(back.local, outputs, inputs, digits),
                 "their product, the vector-Jacobian product:" + _table(back.product, self._outputs, inputs, digits)]
        return lines + [mathml.formula(derivative_symbol(self.result.outputs, (c.symbol,))) + " = "
                        + contribution(c, lambda v: _vector(v, digits)) for c in back.contributions]

    def _forward_page(self, position: int, digits: int) -> list[str]:
        assert self.walk.forward_pass is not None
        ahead = self.walk.forward_pass.steps[position - 1]
        step = ahead.step
        inputs, outputs, local = self._texts[step.name]
        directions = self._directions
        return [f"<b>Forward-mode step {position} of {len(self.result.chain)}</b>: {html.escape(step.name)} "
                f"(line {step.line}): local J · tangents of its inputs",
                f"local Jacobian {local}, at this point:" + _table(ahead.local, outputs, inputs, digits),
                "tangents of its inputs " + mathml.formula(tangent_latex(step.sources)) + ":"
                + _table(ahead.incoming, inputs, directions, digits),
                "their product, the Jacobian-vector product: the tangents of its outputs "
                + mathml.formula(tangent_latex(step.outputs)) + ":"
                + _table(ahead.product, outputs, directions, digits)]

    def _backward_result(self, digits: int) -> list[str]:
        lines = ["<b>Result</b>: the accumulated gradient, i.e. the Jacobian of the whole chain",
                 _table(self.walk.gradient, self._outputs, self._inputs, digits),
                 html.escape(verdict_words(self.walk.check))]
        return lines + [mathml.formula(derivative_symbol((output,), (sp.Symbol(shape.name),)))
                        + f" in the shape of {html.escape(shape.name)}:"
                        + _table(grid, [str(i + 1) for i in range(shape.rows)],
                                 [str(j + 1) for j in range(shape.cols)], digits)
                        for output, shape, grid in self.walk.shaped]

    def _forward_result(self, digits: int) -> list[str]:
        assert self.walk.forward_pass is not None
        return [f"<b>Result</b>: the tangents of the outputs {mathml.formula(tangent_latex(self.result.outputs))}; "
                + html.escape(directions_words(self.result)),
                _table(self.walk.forward_pass.tangent, self._outputs, self._directions, digits),
                html.escape(verdict_words(self.walk.forward_check))]

    @property
    def _directions(self) -> list[str]:
        """Column heads of tangents: the input moved (one pass per input) or v (one --direction)."""
        return ["v"] if self.result.options.direction else self._inputs


def _vector(values: np.ndarray, digits: int) -> str:
    return bracketed([_number(float(v), digits) for v in np.ravel(values)])
