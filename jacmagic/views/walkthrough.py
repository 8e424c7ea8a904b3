"""The words and tangent names every view of a walkthrough shares: what each mode does, which directions forward
mode follows, what each mode costs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from jacmagic.notation import counted, latex, pretty
from jacmagic.views.numbers import bracketed, vector_text

if TYPE_CHECKING:
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
        return (f"one direction per input ({counted(result.shape[1], 'pass', 'passes')} side by side, the columns "
                "of the identity), so the tangents of the outputs are the whole Jacobian")
    given = ", ".join(f"{pretty(sp.Symbol(name))} = {vector_text(np.asarray(value, dtype=float))}" for name, value in
                      result.options.direction)
    v = pretty(direction_symbol(result))
    return f"one direction, {given} (every other input 0), called {v}: the tangents of the outputs are J·{v}"


# The letters a --direction may be called by, in order: v as the literature writes J·v, else one the cell leaves free.
_DIRECTION_LETTERS = "vudwspqrkabcefghijlmnotxyz"


def direction_symbol(result: JacobianResult) -> sp.Symbol:
    """The --direction's name in J·v: v, unless the cell shows a v (an input, a line, an abbreviation of the
    written-out Jacobian), where J·v would read as J times that value; then the first letter it leaves free."""
    shown = [*result.graph.inputs, *(line.name for line in result.graph.lines)]
    if result.whole is not None:
        shown += [s.name for s, _ in result.whole.abbreviations]
    taken = {pretty(sp.Symbol(name.split("_")[0])) for name in shown}
    return sp.Symbol(next((c for c in _DIRECTION_LETTERS if c not in taken), "v_0"))


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
