"""The walkthrough panel's frame: the static derivation inside it, and stepping through the stages (what each page
shows is `network_panel`'s)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from jacmagic.panels.layout import STYLE, beside, html_box, scrolling, wrapping
from jacmagic.views import mathml
from jacmagic.views.displays import bundles
from jacmagic.views.formulas import Row
from jacmagic.views.graph import Layout, svg
from jacmagic.views.walkthrough import cost_words

if TYPE_CHECKING:
    pass


class Derivation(widgets.Accordion):
    """The whole static derivation inside a panel, collapsed, as HTML with MathML (typeset by the browser, not the
    host's MathJax); the panel's own display carries it too, as LaTeX and text, for viewers that cannot show widgets
    (GitHub, nbviewer, a page exported without widget state)."""

    def __init__(self, groups: Sequence[Sequence[Row]]) -> None:
        shown = bundles([list(group) for group in groups])
        self.latex = "\n".join(b["text/latex"] for b in shown)
        self.text = "\n".join(b["text/plain"] for b in shown if b["text/plain"])
        super().__init__([html_box(STYLE + mathml.derivation(groups))], selected_index=None)
        self.set_title(0, "the whole derivation, at the point the panel opened on")  # its numbers stay there

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
