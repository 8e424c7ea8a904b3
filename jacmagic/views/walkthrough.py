"""The chain walkthrough of an entry-level result as rows: the forward values, each step of reverse and forward
mode (the upstream gradient or the incoming tangents times the stage's local Jacobian), the cost of each mode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from jacmagic.notation import counted, latex, pretty
from jacmagic.views.formulas import (
    Row,
    at_point,
    derivative_symbol,
    matrix_latex,
    matrix_line,
    point_latex,
    point_rows,
    point_text,
    rows_said,
    words_line,
)
from jacmagic.views.numbers import bracketed, numeric_matrix_latex, vector_latex, vector_text
from jacmagic.views.verdicts import verdict_words

if TYPE_CHECKING:
    from jacmagic.chain.backprop import Contribution, Walkthrough
    from jacmagic.result import JacobianResult


# What each mode's steps do, said once above them (a paragraph that wraps with the page).
DIRECTION = ("reverse mode, from the output back: each step multiplies the upstream gradient (a row per output) by "
             "the stage's local Jacobian J (rows: the stage's outputs, columns: its inputs; some texts, e.g. PyTorch's "
             "tutorial, write J transposed)")
FORWARD = ("forward mode, from the inputs on: each step multiplies the stage's local Jacobian J by the tangents of "
           "its inputs (a row per input of the stage, a column per direction: how that value changes as the map's "
           "inputs move along the direction)")


def directions_words(result: JacobianResult) -> str:
    """Which directions the forward pass follows, in words."""
    if not result.options.direction:
        return (f"one direction per input ({counted(len(result.inputs), 'pass', 'passes')} side by side, the columns "
                "of the identity), so the tangents of the outputs are the whole Jacobian")
    given = ", ".join(f"{name} = {vector_text(np.asarray(value, dtype=float))}" for name, value in
                      result.options.direction)
    return f"one direction, {given} (every other input 0): the tangents of the outputs are J times it"


def contribution(c: Contribution, show: Callable[[np.ndarray], str]) -> str:
    """What a backward step adds to one gradient, in every view: before + added = after (or just after)."""
    return f"{show(c.before)} + {show(c.added)} = {show(c.after)}" if np.any(c.before) else show(c.after)


def chain_groups(result: JacobianResult) -> list[list[Row]]:
    """The walkthrough: the forward values, then one group per step of each mode asked for, and the cost."""
    walk = result.walkthrough()
    where, spoken = point_latex(result, walk.point), point_text(result, walk.point)
    values = r",\ ".join(f"{latex(sp.Symbol(s.name))} = {vector_latex(v)}"
                         for s, v in zip(result.chain, walk.forward))
    groups = [[*point_rows("forward pass, at the point", result, walk.point, f"forward pass at {spoken}:"),
               (rf"&\quad {values}", "  " + ", ".join(f"{s.name} = {vector_text(v)}"
                                                     for s, v in zip(result.chain, walk.forward)))]]
    if result.options.mode != "forward":
        groups += _reverse_groups(result, walk, where)
    if walk.forward_pass is not None:
        groups += _forward_groups(result, walk, where, spoken)
    groups.append([(words_line(f"(cost: {cost_words(result)})"), f"cost: {cost_words(result)}")])
    return groups


def _reverse_groups(result: JacobianResult, walk: Walkthrough, where: str) -> list[list[Row]]:
    groups = [[(words_line(DIRECTION), f"backward pass ({DIRECTION}):")]]
    for k, back in enumerate(walk.backward, start=1):
        step = back.step
        upstream, spoken = numeric_matrix_latex(back.upstream), vector_text(back.upstream)
        symbol = derivative_symbol(step.outputs, step.inputs)
        rows: list[Row] = [
            (words_line(f"step {k} ({step.name}):"),
             f"  step {k}: {step.name} (line {step.line}): upstream {spoken} · "
             f"{derivative_symbol(step.outputs, step.inputs, 'text')} = {spoken} · {matrix_line(step.matrix)} = "
             f"{spoken} · {vector_text(back.local)} = {vector_text(back.product)}"),
            (rf"\underbrace{{{upstream}}}_{{\text{{upstream}}}} \cdot {symbol} &= "
             rf"{upstream} \cdot {matrix_latex(step.matrix)}", ""),
            (rf"&= {upstream} \cdot {numeric_matrix_latex(back.local)} = {numeric_matrix_latex(back.product)}",
             "")]
        rows += [(rf"&\qquad {derivative_symbol(result.outputs, (c.symbol,))} = {contribution(c, vector_latex)}",
                  f"    {derivative_symbol(result.outputs, (c.symbol,), 'text')} = {contribution(c, vector_text)}")
                 for c in back.contributions]
        groups.append(rows)
    done: list[Row] = [
        *rows_said(at_point("J", where, walk.gradient),
                 f"J = {vector_text(walk.gradient)}: the product of the local Jacobians; {verdict_words(walk.check)}"),
        (words_line(f"(the product of the local Jacobians; {verdict_words(walk.check)})", indent=True), "")]
    for output, shape, grid in walk.shaped:
        size = f"(in the shape of {shape.name}, {shape.rows} x {shape.cols})"
        done += [(rf"{derivative_symbol((output,), (sp.Symbol(shape.name),))} &= {numeric_matrix_latex(grid)}",
                  f"{derivative_symbol((output,), (sp.Symbol(shape.name),), 'text')} = {vector_text(grid)} {size}"),
                 (words_line(size, indent=True), "")]
    return groups + [done]


def cost_words(result: JacobianResult) -> str:
    """What each mode costs for this chain, and for a --direction what forward mode needs for it alone."""
    return result.cost.words(result.directions.shape[1] if result.options.direction else 0)


def tangent_latex(symbols: Sequence[sp.Symbol]) -> str:
    r"""The tangents of values, dotted as in the automatic-differentiation literature: \dot{h}."""
    return bracketed([rf"\dot{{{latex(s)}}}" for s in symbols], r"\left(", r"\right)", ", ")


def tangent_text(symbols: Sequence[sp.Symbol]) -> str:
    return bracketed([_dotted(pretty(s)) for s in symbols], "(", ")")


def _dotted(name: str) -> str:
    """ḣ₁: a combining dot over the first letter of a name, as the tangent of that value."""
    return name[0] + "\u0307" + name[1:]


def _forward_groups(result: JacobianResult, walk: Walkthrough, where: str, spoken: str) -> list[list[Row]]:
    assert walk.forward_pass is not None
    groups = [[(words_line(f"{FORWARD} ({directions_words(result)})"), f"{FORWARD}; {directions_words(result)}:")]]
    for k, ahead in enumerate(walk.forward_pass.steps, start=1):
        step = ahead.step
        incoming, heard = numeric_matrix_latex(ahead.incoming), vector_text(ahead.incoming)
        groups.append([
            (words_line(f"step {k} ({step.name}):"),
             f"  step {k}: {step.name} (line {step.line}): {derivative_symbol(step.outputs, step.inputs, 'text')} · "
             f"{tangent_text(step.sources)} = {matrix_line(step.matrix)} · {heard} = {vector_text(ahead.local)} · "
             f"{heard} = {tangent_text(step.outputs)} = {vector_text(ahead.product)}"),
            (rf"{derivative_symbol(step.outputs, step.inputs)} \cdot \underbrace{{{incoming}}}_"
             rf"{{{tangent_latex(step.sources)}}} &= {matrix_latex(step.matrix)} \cdot {incoming}", ""),
            (rf"&= {numeric_matrix_latex(ahead.local)} \cdot {incoming} = {numeric_matrix_latex(ahead.product)} = "
             rf"{tangent_latex(step.outputs)}", "")])
    lhs = (r"J", "J") if not result.options.direction else (r"J\,v", "J·v")
    tangent = walk.forward_pass.tangent
    return groups + [[
        *rows_said(at_point(lhs[0], where, tangent, f"{tangent_latex(result.outputs)} = "),
                 f"{lhs[1]} at {spoken} = {tangent_text(result.outputs)} = {vector_text(tangent)}: the local "
                 f"Jacobians times the tangents, from the inputs on; {verdict_words(walk.forward_check)}"),
        (words_line("(the local Jacobians times the tangents, from the inputs on; "
                    f"{verdict_words(walk.forward_check)})", indent=True), "")]]
