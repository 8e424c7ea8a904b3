"""The panel of a layer cell: one control per number and per array (pick an entry, type its value), then the
walkthrough stepped line by line, in reverse mode or forward mode, with the graph lit the way the derivative
flows. A move recomputes the walkthrough with numpy once; a step only formats what is already computed, each
array cut to the window."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import sympy as sp
import traitlets

from jacmagic.notation import latex, pretty
from jacmagic.panels.layout import NUMBER_BOX
from jacmagic.panels.numbers import table, vector
from jacmagic.panels.pictures import attach
from jacmagic.panels.steps import Derivation, StepPanel
from jacmagic.panels.widgets import Variable, slider_range
from jacmagic.views import mathml
from jacmagic.views.formulas import derivative_symbol
from jacmagic.views.graph import layout
from jacmagic.views.network_view import local_formula, walkthrough_groups
from jacmagic.views.numbers import number, window
from jacmagic.views.verdicts import verdict_words
from jacmagic.views.walkthrough import direction_symbol, directions_words, tangent_latex

if TYPE_CHECKING:
    from jacmagic.result import JacobianResult


@dataclass(frozen=True)
class _GraphStep:
    """A line as the graph picture reads a stage: its name, what feeds it, what it gives."""

    name: str
    sources: tuple[sp.Symbol, ...]
    outputs: tuple[sp.Symbol, ...]


class ArrayControl(widgets.HBox):
    """One array of the point: pick an entry by its indices (from 0, one per axis of the array's own shape, as numpy
    indexes it: image, row, column for a stack of images), see its value in the panel's digits, type a new one
    (kept exactly as typed; showing a value never changes it). `edits` counts the values typed: the panel
    recomputes on those, not on every entry picked or digit shown."""

    edits = traitlets.Int(0)

    def __init__(self, name: str, value: np.ndarray, constant: bool, digits: widgets.BoundedIntText,
                 dims: tuple[int, ...]) -> None:
        self.name, self.digits, self.dims = name, digits, dims
        self.entries = np.array(value, dtype=float).reshape(dims)  # a copy: the result's --at values stay
        self.picks = [widgets.BoundedIntText(value=0, min=0, max=n - 1, layout=widgets.Layout(width="5em"))
                      for n in dims]
        indices = [pick for pick, n in zip(self.picks, dims) if n > 1]
        indices[0].description, indices[0].style.description_width = "entry", "initial"
        indices[0].layout.width = "9em"
        self.box = widgets.Text(layout=widgets.Layout(width=NUMBER_BOX), continuous_update=False)
        self._shown = ""
        self._show_entry()
        label = widgets.HTML(f"<b>{html.escape(pretty(sp.Symbol(name)))}</b> ({' x '.join(map(str, dims))})"
                             + (' <span style="opacity:0.6">constant</span>' if constant else ""))
        super().__init__([label, *indices, self.box], layout=widgets.Layout(flex_flow="row wrap"))
        for picked in (*self.picks, digits):
            picked.observe(self._show_entry, names="value")
        self.box.observe(self._typed, names="value")

    def _picked(self) -> tuple[int, ...]:
        return tuple(int(pick.value) for pick in self.picks)

    def _show_entry(self, change: object = None) -> None:
        self._shown = number(float(self.entries[self._picked()]), int(self.digits.value))
        self.box.value = self._shown

    def _typed(self, change: Mapping[str, Any]) -> None:
        """A value the user typed goes into the array; the entry's own shown value (rounded) is not one."""
        if change["new"] == self._shown:
            return
        try:
            typed = float(change["new"])
        except ValueError:
            typed = math.nan
        if not math.isfinite(typed):
            self._show_entry()
            return
        self.entries[self._picked()] = typed
        self._shown = change["new"]
        self.edits += 1

    @property
    def value(self) -> np.ndarray:
        """The array in its own shape (as declared or given): the same numbers the control edits."""
        return self.entries


class NetworkPanel(StepPanel):
    """The array-level walkthrough's panel: a control per number and per array, then the steps."""

    def __init__(self, result: JacobianResult, continuous_update: bool = True, digits: int = 4) -> None:
        start = result.start
        ranges = {name: (low, high) for name, low, high in result.options.ranges}
        digits_box = widgets.BoundedIntText(value=digits, min=1, max=15, description="digits",
                                            layout=widgets.Layout(width="12em"), style={"description_width": "initial"})
        self.controls: dict[str, Any] = {}
        for name in result.names:
            constant = name in result.constants
            if start[name].size == 1:
                value = float(start[name][0, 0])
                self.controls[name] = Variable(pretty(sp.Symbol(name)), value, ranges.get(name, slider_range(value)),
                                               continuous_update, constant)
            else:
                self.controls[name] = ArrayControl(name, start[name], constant, digits_box, result.dims[name])
        lines = result.graph.lines
        graph = layout([_GraphStep(line.name, tuple(sp.Symbol(leaf.name) for leaf in line.leaves),
                                   (sp.Symbol(line.name),)) for line in lines])
        derivation = Derivation(walkthrough_groups(result, result.walked))
        self._assemble(result, graph, [line.name for line in lines], [*self.controls.values(), digits_box],
                       digits_box, derivation)
        self.pictures = attach(self)  # an image's gradient as pictures (panels/pictures.py), when one is read
        for control in self.controls.values():
            if isinstance(control, ArrayControl):
                control.observe(self._recompute, names="edits")
            else:
                control.box.observe(self._recompute, names="value")
        self._recompute()

    def point(self) -> dict[str, np.ndarray]:
        """The point the controls hold, each array in its own shape (as declared or given)."""
        return {name: np.asarray(control.value, dtype=float).reshape(self.result.dims[name])
                for name, control in self.controls.items()}

    def _recompute(self, change: object = None) -> None:
        self.walk = self.result.walkthrough(**self.point())
        if self.pictures is not None:
            self.pictures.update(self.walk)
        self._show()

    def _values_page(self, digits: int) -> list[str]:
        return ["<b>Forward pass</b>: every value at this point"] + [
            mathml.formula(f"{latex(sp.Symbol(line.name))} = {line.root.show().latex}")
            + _shaped(self.walk.values[line.name], digits)
            for line in self.result.graph.lines]

    def _backward_page(self, position: int, digits: int) -> list[str]:

        step = self.walk.backward[position - 1]
        line = step.line
        outputs = tuple(sp.Symbol(o) for o in self.result.graph.outputs)
        shown = [f"<b>Backward step {position} of {len(self.walk.backward)}</b>: {_name(line.name)} (line "
                 f"{line.number}), reverse mode: upstream · local J",
                 "upstream " + mathml.formula(derivative_symbol(outputs, (sp.Symbol(line.name),))) + ":"
                 + _gradient(step.upstream, digits)]
        for leaf in line.leaves:
            if leaf.name in self.result.constants:
                continue
            formula, said = local_formula(line, leaf)
            local = derivative_symbol((sp.Symbol(line.name),), (sp.Symbol(leaf.name),))
            picked_rows = [i for i in window(line.root.size) if i is not None]
            numbers = step.local_rows(leaf.name, picked_rows)
            picked_cols = [j for j in window(leaf.size) if j is not None]
            numbers_shown = _shaped(numbers, digits) if numbers.size == 1 else \
                table(numbers[:, picked_cols], [str(i) for i in picked_rows], [str(j) for j in picked_cols], digits,
                      total=(line.root.size, leaf.size))  # a number as a number, not a 1 x 1 table
            shown.append(f"local Jacobian {mathml.formula(f'{local} = {formula.latex}')} ({line.root.size} x "
                         f"{leaf.size})" + (f" <i>{html.escape(said)}</i>" if said else "") + numbers_shown)
            target = derivative_symbol(outputs, (sp.Symbol(leaf.name),))
            shown.append(mathml.formula(rf"{target} = \text{{upstream}} \cdot {local}") + ":"
                         + _gradient(step.products[leaf.name], digits))
        return shown

    def _forward_page(self, position: int, digits: int) -> list[str]:
        assert self.walk.forward_pass is not None
        step = self.walk.forward_pass.steps[position - 1]
        line = step.line
        tangent = step.product.reshape(line.root.size, -1)
        return [f"<b>Forward-mode step {position} of {len(self.walk.forward_pass.steps)}</b>: {_name(line.name)} "
                f"(line {line.number}): the local Jacobians times the tangents of its operands",
                f"tangents {mathml.formula(tangent_latex((sp.Symbol(line.name),)))} of {_name(line.name)} (a row per "
                "entry, a column per direction):"
                + table(tangent, [str(i) for i in range(tangent.shape[0])], self._directions(), digits)]

    def _backward_result(self, digits: int) -> list[str]:
        outputs = tuple(sp.Symbol(o) for o in self.result.graph.outputs)
        shown = ["<b>Result</b>: the gradients, each in its array's own shape"]
        m = self.walk.gradient.shape[0]
        shown += [mathml.formula(derivative_symbol(outputs, (sp.Symbol(name),))) + ":"
                  + _shaped(g if m == 1 else g.reshape(m, -1), digits) for name, g in self.walk.gradients.items()]
        return shown + [html.escape(verdict_words(self.walk.check))]

    def _forward_result(self, digits: int) -> list[str]:
        assert self.walk.forward_pass is not None
        tangent = self.walk.forward_pass.tangent
        return [f"<b>Result</b>: the tangents of the outputs; {html.escape(directions_words(self.result))}",
                table(tangent, [str(i) for i in range(tangent.shape[0])], self._directions(), digits),
                html.escape(verdict_words(self.walk.forward_check))]

    def _directions(self) -> Sequence[str]:
        """Column heads of tangents: the --direction's name (v, unless the cell has a v), else the input each column
        moves."""
        if self.result.options.direction:
            return [pretty(direction_symbol(self.result))]
        return _Labels(self.result.inputs)


class _Labels(Sequence[str]):
    """Names of a long list of symbols, typeset only for the few a window shows."""

    def __init__(self, symbols: Sequence[sp.Symbol]) -> None:
        self.symbols = symbols

    def __len__(self) -> int:
        return len(self.symbols)

    def __getitem__(self, index: Any) -> Any:
        return html.escape(pretty(self.symbols[index]))


def _name(name: str) -> str:
    return html.escape(pretty(sp.Symbol(name)))


def _shaped(values: np.ndarray, digits: int) -> str:
    """An array in its own shape (a vector, or a column, as one row), cut to the window; a stack of images
    (k, h, w) as its images one under another, each row headed by its indices (image, row)."""
    values = np.atleast_2d(values)
    shown = values.T if values.ndim == 2 and values.shape[1] == 1 and values.shape[0] > 1 else values
    if shown.size == 1:
        return f" = <b>{vector(shown, digits)}</b>"
    rows = _Indices(shown.shape[:-1])
    return table(shown.reshape(len(rows), -1), rows, [str(j) for j in range(shown.shape[-1])], digits)


class _Indices(Sequence[str]):
    """Row heads of an array's leading axes ("2" for a matrix, "0, 2" for a stack), written only for the few a
    window shows."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def __len__(self) -> int:
        return math.prod(self.shape)

    def __getitem__(self, index: Any) -> Any:
        return ", ".join(map(str, np.unravel_index(index, self.shape)))


def _gradient(values: np.ndarray, digits: int) -> str:
    """A gradient (m, r, c): in the array's shape for one output, one row per output otherwise."""
    return _shaped(values[0], digits) if values.shape[0] == 1 else _shaped(values.reshape(values.shape[0], -1),
                                                                           digits)
