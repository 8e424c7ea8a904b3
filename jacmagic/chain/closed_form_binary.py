"""Closed-form rules for the functions of two arrays (`binary`): atan2, hypot and a power with a variable exponent,
as textbooks write their partial derivatives; and the refusal of the steps (sign, heaviside), whose gradient is 0
where it exists and undefined at the jump: no formula rather than one that hides where it is undefined."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from jacmagic.chain import closed_form_tree as t
from jacmagic.chain.binary import TWO_PLACE, Binary
from jacmagic.chain.closed_form_more import Composer, NoRule
from jacmagic.chain.elementwise import Apply, StepApply
from jacmagic.chain.functions import FLAT
from jacmagic.chain.network import Line
from jacmagic.chain.operations import Node

Expr = t.Expr
_PYTHON = {"atan2": "np.arctan2", "arctan2": "np.arctan2", "hypot": "np.hypot"}


@dataclass(frozen=True)
class TwoOf(Expr):
    """atan2(y, x), hypot(a, b) or aᵇ entry by entry."""

    name: str
    left: Expr
    right: Expr

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return 4 if self.name == "**" else 9

    @property
    def shape(self) -> tuple[int, ...]:
        return t._broadcast(self.left, self.right)

    def _show(self, form: str, names: t.Forms | None) -> str:
        if self.name != "**":
            a, b = (e.show(form, names) for e in (self.left, self.right))
            head = {"latex": rf"\operatorname{{{self.name}}}", "text": self.name, "python": _PYTHON[self.name]}[form]
            return rf"{head}\left({a}, {b}\right)" if form == "latex" else f"{head}({a}, {b})"
        base = t._bracket(self.left, 9, form, names)
        if form == "latex":
            return f"{base}^{{{self.right.show(form, names)}}}"
        exponent = t._bracket(self.right, 9, form, names)
        return f"np.power({base}, {exponent})" if form == "python" else f"{base}^{exponent}"

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(TWO_PLACE[self.name].value(self.left.evaluate(values), self.right.evaluate(values)),
                              dtype=float)


def convert(node: Node, parts: Sequence[Expr], line: Line) -> Expr | None:
    if isinstance(node, StepApply) and node.at_zero != 0:
        raise NoRule(line, node)  # H(z, h): no formula of its own (h = 0 is H(z))
    return TwoOf(node.name, *parts) if isinstance(node, Binary) else None


def back(c: Composer, line: Line, node: Node, k: int, g: Expr) -> Expr | None:
    """g times the local Jacobian of a function of two arrays with respect to operand k, summed back over the
    entries a broadcast operand was repeated into; None for any other operation."""
    if isinstance(node, Apply) and node.name in FLAT:
        raise NoRule(line, node)
    if not isinstance(node, Binary):
        return None
    a, b = (c.convert(child, line) for child in node.children)
    value = t.Name(line.name, line.shape) if node is line.root else c.known(TwoOf(node.name, a, b), line)
    if node.name == "**":
        c.rule("∂aᵇ/∂a = b a^(b − 1), ∂aᵇ/∂b = aᵇ log a")
        slope = c.hadamard(b, TwoOf("**", a, t.Sum((b, t.Scale(-1, t.Const(1.0)))))) if k == 0 else \
            c.hadamard(value, t.Function("log", a))
    elif node.name == "hypot":
        c.rule("∂hypot(a, b)/∂a = a/hypot(a, b)")
        slope = t.Quotient((a, b)[k], value)
    else:
        c.rule("∂atan2(y, x) = (x dy − y dx)/(x² + y²)")
        y, x = a, b
        squares = c.add(t.Power(x, 2), t.Power(y, 2))
        slope = t.Quotient(x, squares) if k == 0 else c.scale(-1, t.Quotient(y, squares))
    return c.unbroadcast(c.hadamard(g, slope), node.children[k].shape, node.shape)
