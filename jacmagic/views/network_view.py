"""A --chain result -> what it shows: the walkthrough as matrix calculus, each local Jacobian in the form
textbooks write it and its numbers cut to the window, as LaTeX and as text built from the same lines; the
gradients of large matrices as pictures in their own shape.

Every array shown says its shape when it is cut (first 8 and last 2 rows and columns); nothing is printed whole.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp

from jacmagic.chain.closed_form_more import MAX_WRITTEN, LeftOut
from jacmagic.chain.closed_form_shown import shown_forms
from jacmagic.chain.images import stack_of
from jacmagic.chain.network import Line
from jacmagic.chain.operations import Leaf, Shown, named, product
from jacmagic.notation import latex, pretty
from jacmagic.views.displays import blocks, bundle, plot_display, static_displays
from jacmagic.views.formulas import Row, derivative_symbol, words_line
from jacmagic.views.network_pictures import images_read, pictures, shape_words
from jacmagic.views.notes import notes_words
from jacmagic.views.numbers import SHOWN, array_latex, array_text, grid, number, number_latex, window
from jacmagic.views.render import result_groups, wrapped
from jacmagic.views.render import to_text as render_text
from jacmagic.views.verdicts import verdict_words
from jacmagic.views.walkthrough import (
    DIRECTION,
    FORWARD,
    cost_words,
    direction_symbol,
    directions_words,
    tangent_text,
)

if TYPE_CHECKING:
    from jacmagic.chain.network_walk import LineStep, NetworkWalk
    from jacmagic.result import JacobianResult

def _symbol(name: str) -> sp.Symbol:
    return sp.Symbol(name)


def _of_outputs(result: JacobianResult, name: str) -> Shown:
    """∂(outputs)/∂name."""
    outputs = tuple(_symbol(o) for o in result.graph.outputs)
    return Shown(derivative_symbol(outputs, (_symbol(name),)), derivative_symbol(outputs, (_symbol(name),), "text"))


def _batch_dims(shape: tuple[int, int], stack: int) -> tuple[int, ...]:
    """A value's shape as numpy has it: a batch of `stack` images, stacked along the rows, as (k, h, w)."""
    return (stack, shape[0] // stack, shape[1]) if stack > 1 else shape


def _value(value: np.ndarray, stack: int = 1) -> Shown:
    """A value in its shape; a batch of images (stacked along the rows) in numpy's (k, h, w): its first two
    images and its last, each h x w, and the batch's shape."""
    if stack == 1:
        return Shown(array_latex(value), array_text(value))
    images = value.reshape(stack, -1, value.shape[-1])
    k, h, w = images.shape
    picked = [0, 1, None, k - 1] if k > 3 else list(range(k))
    each = [None if i is None else (array_latex(images[i]).removesuffix(rf"_{{{h:,} \times {w:,}}}"),
                                    array_text(images[i]).removesuffix(f" ({h:,} x {w:,})")) for i in picked]
    latex_ = r",\ ".join(r"\ldots" if e is None else e[0] for e in each)
    text = ", ".join("⋮" if e is None else e[1] for e in each)
    return Shown(rf"\left[{latex_}\right]_{{{k:,} \times {h:,} \times {w:,}}}",
                 f"[{text}] ({shape_words((k, h, w))})")


def _gradient(values: np.ndarray, stack: int = 1) -> Shown:
    """A gradient (m, r, c): in its array's shape for one output (a batch of images as one), one row per output
    otherwise."""
    return _value(values[0], stack) if values.shape[0] == 1 else _value(values.reshape(values.shape[0], -1))


def _local(step: LineStep, operand: str, size: int) -> Shown:
    """The shown window of the local Jacobian's numbers, built from the rows `local_rows` computes."""
    picked = [i for i in window(step.line.root.size) if i is not None]
    local = step.local_rows(operand, picked)
    position = {i: k for k, i in enumerate(picked)}
    count = step.line.root.size

    def cell(form: Callable[[float], str]) -> Callable[[int, int], str]:
        return lambda i, j: form(float(local[position[i], j]))
    if count == size == 1:  # a number, as the formula beside it
        return Shown(number_latex(float(local[0, 0])), number(float(local[0, 0])))
    cells = grid(count, size, cell(number_latex), (r"\vdots", r"\cdots", r"\ddots"))
    latex_ = r"\left[\begin{matrix}" + r" \\ ".join(" & ".join(row) for row in cells) + r"\end{matrix}\right]"
    text_grid = grid(count, size, cell(number), ("⋮", "…", "⋱"))
    text = "[" + ", ".join("[" + ", ".join(row) + "]" for row in text_grid) + "]" if count > 1 else \
        "[" + ", ".join(text_grid[0]) + "]"
    cut = max(count, size) > SHOWN
    return Shown(latex_ + (rf"_{{{count} \times {size}}}" if cut else ""),
                 text + (f" ({shape_words((count, size))})" if cut else ""))


def local_formula(line: Line, leaf: Leaf) -> tuple[Shown, str]:
    """A line's local Jacobian by one operand as written (a sum over the places it is used) and what its
    structure saves, in words ("" when nothing: a number, a dense block)."""
    paths = line.factors(leaf)
    formula = [product(path) for path in paths]
    structures = sorted({f.structure for path in paths for f in path if f.structure and not f.identity})
    return Shown(" + ".join(f.latex for f in formula), " + ".join(f.text for f in formula)), "; ".join(structures)


def _point_rows(result: JacobianResult, walked: NetworkWalk) -> list[Row]:
    rows: list[Row] = [(words_line("forward pass, at"), "forward pass, at")]
    for name in result.names:
        value = _value(walked.point[name], result.graph.stack_of(name))
        rows.append((rf"&\quad {latex(_symbol(name))} = {value.latex}", f"  {pretty(_symbol(name))} = {value.text}"))
    rows.append((words_line("every value:"), "every value:"))
    for line in result.graph.lines:
        value = _value(walked.values[line.name], stack_of(line.root))
        rows.append((rf"&\quad {latex(_symbol(line.name))} = {line.root.show().latex} = {value.latex}",
                     f"  {pretty(_symbol(line.name))} = {line.root.show().text} = {value.text}"))
    return rows


def _flows(result: JacobianResult, line: Line) -> list[str]:
    """The operands a derivative flows back into: differentiated inputs and earlier values, not constants."""
    return [leaf.name for leaf in line.leaves if leaf.name not in result.constants]


def _reverse_groups(result: JacobianResult, walked: NetworkWalk) -> list[list[Row]]:
    groups: list[list[Row]] = [[(words_line(DIRECTION), DIRECTION)]]
    total = len(walked.backward)
    for k, step in enumerate(walked.backward, start=1):
        rows: list[Row] = []
        groups.append(rows)
        line = step.line
        upstream = _of_outputs(result, line.name)
        stack = stack_of(line.root)
        here = f"step {k} of {total}: {line.name} (line {line.number}), {shape_words(_batch_dims(line.shape, stack))}"
        up = _gradient(step.upstream, stack)
        rows += [(words_line(f"{here}:"), f"  {here}: upstream {upstream.text} = {up.text}"),
                 (rf"&\quad \text{{upstream}}\ {upstream.latex} = {up.latex}", "")]
        for operand in _flows(result, line):
            leaf = next(leaf for leaf in line.leaves if leaf.name == operand)
            shown, said = local_formula(line, leaf)
            local = Shown(derivative_symbol((_symbol(line.name),), (_symbol(operand),)),
                          derivative_symbol((_symbol(line.name),), (_symbol(operand),), "text"))
            numbers = _local(step, operand, leaf.size)
            shape = shape_words((line.root.size, leaf.size))
            if numbers.text == shown.text:  # a number written as itself (1, not 1 = 1)
                numbers = Shown("", "")
            rows += [(rf"&\qquad {local.latex} = {shown.latex}" + (f" = {numbers.latex}" if numbers.latex else ""),
                      f"    local Jacobian {local.text} = {shown.text} ({shape})"
                      + (f" = {numbers.text}" if numbers.text else "")),
                     (words_line(f"(local Jacobian, {shape}" + (f"; {said})" if said else ")"), indent=True),
                      f"      ({said})" if said else "")]
            target = _of_outputs(result, operand)
            added = _gradient(step.products[operand], leaf.stack)
            earlier = step.before[operand]
            if isinstance(earlier, np.ndarray) and earlier.any():
                before, after = (_gradient(g, leaf.stack) for g in (earlier, earlier + step.products[operand]))
                rows.append((rf"&\qquad {target.latex} = {before.latex} + {added.latex} = {after.latex}",
                             f"    {target.text} = {before.text} + {added.text} = {after.text}  (a second path)"))
            else:
                rows.append((rf"&\qquad {target.latex} = \text{{upstream}} \cdot {local.latex} = {added.latex}",
                             f"    {target.text} = upstream · {local.text} = {added.text}"))
    rows = [(words_line("the gradients, each in its array's own shape:"),
             "the gradients, each in its array's own shape:")]
    for name, gradient in walked.gradients.items():
        target, shown = _of_outputs(result, name), _gradient(gradient, result.graph.stack_of(name))
        rows.append((rf"{target.latex} &= {shown.latex}", f"  {target.text} = {shown.text}"))
    said = f"({composed_words(total)}; {verdict_words(walked.check)})"
    rows.append((words_line(said), said))
    return groups + [rows + _closed_rows(result, walked)]


def composed_words(stages: int) -> str:
    """What the gradients above are: a product of local Jacobians, or with one stage that stage's own."""
    if stages == 1:
        return "one stage: its local Jacobian is the whole Jacobian"
    return "the product of the local Jacobians"


# The longest closed form shown (characters of its text): the docs' longest is 94 (∂L/∂x of a convolution), and
# past two lines of a page nobody reads a formula; the note names how long it is and what writes it.
READABLE = 160


def _closed_rows(result: JacobianResult, walked: NetworkWalk) -> list[Row]:
    """The gradients (a vector output's Jacobians) in closed form, when every operation on the way has a rule
    (otherwise nothing), and the rules that fired, in order; a formula too long to read as a note of its length."""
    found = shown_forms(result.graph, result.wrt, walked.values) or _jacobian_forms(result)
    if not found:
        return []
    forms = [f for f in found if not isinstance(f, LeftOut)]
    assumed = sorted({a for f in forms for a in f.assumptions})
    said = "in closed form" + (f" ({', '.join(assumed)} here, as one-hot labels and probabilities do)" if assumed
                               else "") + ":"
    rules = "(the rules applied: " + "; ".join(dict.fromkeys(s for f in forms for s in f.steps)) + ")"
    if all(f.stages for f in forms):  # line by line, from the output back
        stages: dict[str, dict[str, None]] = {}
        for at, fired in (stage for f in forms for stage in f.stages):
            stages.setdefault(at, {}).update(dict.fromkeys(fired))
        rules = "(the rules applied, line by line, the last line first: " + " — ".join(
            f"at {at}: " + "; ".join(fired) for at, fired in stages.items()) + ")"
    return [(words_line(said), said)] + [_closed_row(f) for f in found] + [(words_line(rules), rules)] * bool(forms)


def _closed_row(form: Any) -> Row:
    """One formula's row, or where it is too long to read (or to write) a note saying so."""
    if isinstance(form, LeftOut):
        note = f"({_by(form.output, form.name)}'s closed form is too long to write: over {MAX_WRITTEN} operations)"
    elif (length := len(form.tree.text())) > READABLE:
        note = (f"({_by(form.output, form.name)}'s closed form is {length} characters long: "
                f"R.formula('{form.name}') writes it)")
    else:
        return form.latex.replace(" = ", " &= ", 1), f"  {form.text}"
    return words_line(note), f"  {note}"


def _by(output: str, name: str) -> str:
    return f"∂{named(output).text}/∂{named(name).text}"


def _jacobian_forms(result: JacobianResult) -> list[Any]:
    """A vector output's Jacobians in matrix form, when each by a vector has one."""
    from jacmagic.errors import OptionError

    if result.shape[0] == 1:
        return []
    try:
        return [result.formula(name) for name in result.wrt]
    except OptionError:
        return []


def _forward_groups(result: JacobianResult, walked: NetworkWalk) -> list[list[Row]]:
    ahead = walked.forward_pass
    assert ahead is not None
    said = f"({directions_words(result)})"
    groups: list[list[Row]] = [[(words_line(FORWARD), FORWARD), (words_line(said), said)]]
    for k, step in enumerate(ahead.steps, start=1):
        line = step.line
        terms = [(rf"\frac{{\partial {latex(_symbol(line.name))}}}{{\partial {latex(_symbol(o))}}}\,"
                  rf"\dot{{{latex(_symbol(o))}}}",
                  f"∂{pretty(_symbol(line.name))}/∂{pretty(_symbol(o))}·{_dotted(o)}")
                 for o in _flows(result, line)]
        tangents = step.product.reshape(line.root.size, -1)
        value = Shown(array_latex(tangents), array_text(tangents))
        here = f"step {k} of {len(ahead.steps)}: {line.name} (line {line.number})"
        groups.append([(words_line(f"{here}:"),
                        f"  {here}: {_dotted(line.name)} = " + " + ".join(t[1] for t in terms) + f" = {value.text}"),
                       (rf"&\quad \dot{{{latex(_symbol(line.name))}}} = " + " + ".join(t[0] for t in terms)
                        + f" = {value.latex}", "")])
    outputs = Shown(array_latex(ahead.tangent), array_text(ahead.tangent))
    verdict = verdict_words(walked.forward_check)
    v = direction_symbol(result)
    lhs = Shown(rf"J\,{latex(v)}", f"J·{pretty(v)}") if result.options.direction else Shown("J", "J")
    said = f"(the tangents of the outputs; {verdict})"
    return groups + [[(rf"{lhs.latex} &= {outputs.latex}", f"{lhs.text} = {outputs.text}"), (words_line(said), said)]]


def _dotted(name: str) -> str:
    return tangent_text((_symbol(name),))


def _header_rows(result: JacobianResult, walked: NetworkWalk) -> list[Row]:
    m, n = result.shape
    outputs = tuple(_symbol(o) for o in result.graph.outputs)
    wrt = tuple(_symbol(w) for w in result.wrt)
    head = Shown(derivative_symbol(outputs, wrt), derivative_symbol(outputs, wrt, "text"))
    layout = f"{m:,} x {n:,}: one row per output entry, one column per entry of " + ", ".join(result.wrt) + \
        " (a matrix's entries row-major)"
    rows: list[Row] = []
    batch = result.graph.batch_words()
    if batch is not None:
        batch += _batch_total(result)
        rows.append((words_line(f"({batch})"), f"({batch})"))
    if result.whole is None:
        said = f"({layout}; computed with numpy below, never written out entry by entry)"
        rows.append((rf"J &= {head.latex}", f"J = {head.text}   {said}"))
        rows.append((words_line(said), ""))  # words on a row of their own: a paragraph that wraps
        shown = Shown(array_latex(walked.gradient), array_text(walked.gradient))
        rows.append((rf"J &= {shown.latex}", f"J = {shown.text}"))
    return rows


def _batch_total(result: JacobianResult) -> str:
    """How a batch's loss, as written, totals its examples (the columns): a sum gives the per-example gradients
    summed, a mean or a sum divided by the batch size gives them averaged; nothing for another form."""
    from jacmagic.chain.operations import Arithmetic, Negate, Number
    from jacmagic.chain.reductions import Reduce

    (output,) = result.graph.outputs if len(result.graph.outputs) == 1 else ("",)
    node = next((line.root for line in result.graph.lines if line.name == output and line.root.size == 1), None)
    scale = 1.0
    while isinstance(node, (Negate, Arithmetic)):
        if isinstance(node, Arithmetic) and node.op in "*/" and isinstance(node.right, Number):
            scale *= node.right.value if node.op == "*" else 1 / node.right.value
            node = node.left
        elif isinstance(node, Arithmetic) and node.op == "*" and isinstance(node.left, Number):
            scale, node = scale * node.left.value, node.right
        else:
            node = node.children[0] if isinstance(node, Negate) else None
    if not (isinstance(node, Reduce) and node.axis is None and node.kind in ("sum", "mean")):
        return ""
    rows, width = node.child.shape
    if node.kind == "mean":
        scale /= rows * width
    if width == 1:
        return ""
    if np.isclose(scale, 1.0):
        return f"; the loss sums the {width} per-example losses, so each gradient is the per-example gradients summed"
    if np.isclose(scale, 1 / width):
        return (f"; the loss averages the {width} per-example losses, so each gradient is the per-example gradients "
                "averaged")
    if rows > 1 and np.isclose(scale, 1 / (rows * width)):
        return (f"; the loss is the mean of all {rows} x {width} entries, so each gradient is the per-example "
                f"gradients averaged and divided by {rows}")
    return ""


def walkthrough_groups(result: JacobianResult, walked: NetworkWalk) -> list[list[Row]]:
    """The derivation in groups: the point and values, each step of each mode, the gradients, the cost."""
    groups = [_header_rows(result, walked) + _point_rows(result, walked)]
    if result.options.mode != "forward":
        groups += _reverse_groups(result, walked)
    if walked.forward_pass is not None:
        groups += _forward_groups(result, walked)
    said = f"cost: {cost_words(result)}"
    groups.append([(words_line(f"({said})"), said)] +
                  [(words_line(note), f"note: {note}") for note in notes_words(result.facts) if result.whole is None])
    return groups


def to_latex(result: JacobianResult, walked: NetworkWalk) -> str:
    latex = "\n".join(bundle(rows)["text/latex"] for rows in blocks(walkthrough_groups(result, walked)))
    return (result.whole.latex() + "\n" + latex) if result.whole is not None else latex


def to_text(result: JacobianResult, walked: NetworkWalk) -> str:
    """The walkthrough as text: a blank line between its groups (the point, each mode's words, each step, the
    gradients, the cost), none inside one, as the terminal shows its displays (`displays`)."""
    texts = [text for group in walkthrough_groups(result, walked) if (text := _group_text(group))]
    if result.whole is not None:
        texts.insert(0, render_text(result.whole))
    return "\n\n".join(wrapped(text) for text in texts)


def _group_text(rows: list[Row]) -> str:
    return "\n".join(r[1] for r in rows if r[1])


def _spaced(shown: list[dict[str, str]], first: bool) -> list[dict[str, str]]:
    """A group's displays with, unless `first`, a blank line above the group's text: the one `to_text` puts between
    groups, which a terminal (text/plain, a display a line) shows too."""
    if first or not shown or not shown[0].get("text/plain"):
        return shown
    return [{**shown[0], "text/plain": "\n" + shown[0]["text/plain"]}, *shown[1:]]


def displays(result: JacobianResult) -> list[Any]:
    """The entry-level result when there is one, the walkthrough (inside the panel where widgets render: shown
    once), the pictures, the panel."""
    from jacmagic.panels.widgets import has_widget_frontend

    walked = result.walked  # the working layout the views read
    panel = result.options.widgets and has_widget_frontend()
    shown: list[Any] = []
    if result.whole is not None:
        shown += static_displays(result_groups(result.whole))
    if not panel:
        groups = [group for group in walkthrough_groups(result, walked) if _group_text(group)]
        shown += [d for k, group in enumerate(groups)
                  for d in _spaced(static_displays([group]), first=k == 0 and result.whole is None)]
    shown += pictures(result, walked)
    if result.options.plot and result.whole is not None and not images_read(result):  # an image's are above
        shown.append(plot_display(result.whole))  # at the --at point: the walkthrough panel has no picture of it
    if panel:
        shown.append(result.widget())
    return shown
