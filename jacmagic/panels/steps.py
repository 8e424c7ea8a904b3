"""The walkthrough panels: the static derivation inside a panel, what every step-through panel shares, and the
entry-level chain's panel (the array level's is `network_panel`)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import ipywidgets as widgets
import sympy as sp

from jacmagic.notation import pretty
from jacmagic.panels.layout import STYLE, beside, html_box, scrolling, wrapping
from jacmagic.panels.numbers import table, vector
from jacmagic.panels.widgets import JacobianPanel
from jacmagic.views import mathml
from jacmagic.views.displays import bundles
from jacmagic.views.formulas import Row, derivative_symbol, matrix_latex
from jacmagic.views.graph import Layout, svg
from jacmagic.views.verdicts import verdict_words
from jacmagic.views.walkthrough import chain_groups, contribution, cost_words, directions_words, tangent_latex

if TYPE_CHECKING:
    from jacmagic.result import JacobianResult


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
            f"{html.escape(step.name)} = " + table(value[None, :], [""], self._texts[step.name].outputs, digits)
            for step, value in zip(self.result.chain, self.walk.forward)]

    def _backward_page(self, position: int, digits: int) -> list[str]:
        back = self.walk.backward[position - 1]
        inputs, outputs, local = self._texts[back.step.name]
        lines = [f"<b>Backward step {position} of {len(self.result.chain)}</b>: {html.escape(back.step.name)} "
                 f"(line {back.step.line}), reverse mode: upstream row(s) · local J",
                 "upstream gradient:" + table(back.upstream, self._outputs, outputs, digits),
                 f"local Jacobian {local}, at this point:" + table(back.local, outputs, inputs, digits),
                 "their product, the vector-Jacobian product:" + table(back.product, self._outputs, inputs, digits)]
        return lines + [mathml.formula(derivative_symbol(self.result.outputs, (c.symbol,))) + " = "
                        + contribution(c, lambda v: vector(v, digits)) for c in back.contributions]

    def _forward_page(self, position: int, digits: int) -> list[str]:
        assert self.walk.forward_pass is not None
        ahead = self.walk.forward_pass.steps[position - 1]
        step = ahead.step
        inputs, outputs, local = self._texts[step.name]
        directions = self._directions
        return [f"<b>Forward-mode step {position} of {len(self.result.chain)}</b>: {html.escape(step.name)} "
                f"(line {step.line}): local J · tangents of its inputs",
                f"local Jacobian {local}, at this point:" + table(ahead.local, outputs, inputs, digits),
                "tangents of its inputs " + mathml.formula(tangent_latex(step.sources)) + ":"
                + table(ahead.incoming, inputs, directions, digits),
                "their product, the Jacobian-vector product: the tangents of its outputs "
                + mathml.formula(tangent_latex(step.outputs)) + ":"
                + table(ahead.product, outputs, directions, digits)]

    def _backward_result(self, digits: int) -> list[str]:
        lines = ["<b>Result</b>: the accumulated gradient, i.e. the Jacobian of the whole chain",
                 table(self.walk.gradient, self._outputs, self._inputs, digits),
                 html.escape(verdict_words(self.walk.check))]
        return lines + [mathml.formula(derivative_symbol((output,), (sp.Symbol(shape.name),)))
                        + f" in the shape of {html.escape(shape.name)}:"
                        + table(grid, [str(i + 1) for i in range(shape.rows)],
                                 [str(j + 1) for j in range(shape.cols)], digits)
                        for output, shape, grid in self.walk.shaped]

    def _forward_result(self, digits: int) -> list[str]:
        assert self.walk.forward_pass is not None
        return [f"<b>Result</b>: the tangents of the outputs {mathml.formula(tangent_latex(self.result.outputs))}; "
                + html.escape(directions_words(self.result)),
                table(self.walk.forward_pass.tangent, self._outputs, self._directions, digits),
                html.escape(verdict_words(self.walk.forward_check))]

    @property
    def _directions(self) -> list[str]:
        """Column heads of tangents: the input moved (one pass per input) or v (one --direction)."""
        return ["v"] if self.result.options.direction else self._inputs
