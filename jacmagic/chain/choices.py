"""Array operations that choose entry by entry: `where(a > b, p, q)`, and through it maximum, minimum and the
leaky ReLU.

The local Jacobians are masks: diag(𝟙[a > b]) for the entries taken from p, diag(𝟙[a ≤ b]) for those from q; the
operands of the comparison decide but get no gradient. At a tie the second branch is taken, so max(z, 0) has
derivative 0 at z = 0, the README's convention (as the ML frameworks do); a number is put second (`chosen`), and
the entry level breaks ties the same way (`chain.extremes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jacmagic.chain.elementwise import Apply
from jacmagic.chain.operations import (
    Factor,
    Node,
    Number,
    Shape,
    Shown,
    _broadcast_back,
    _tangent_to,
    bracket,
    broadcast_shape,
    diagonal,
    repeated,
    spread,
    times,
)

COMPARISONS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}
_OPPOSITE = {">": "≤", ">=": "<", "<": "≥", "<=": ">"}
_LATEX = {">": ">", ">=": r"\geq", "<": "<", "<=": r"\leq", "≤": r"\leq", "≥": r"\geq"}


def shape_of_all(*nodes: Node) -> Shape | None:
    """The shape of an entry-by-entry operation on `nodes`, broadcast as numpy does (a number goes with every
    entry, a column with every column, a row with every row), None if they do not fit."""
    return broadcast_shape(*(node.shape for node in nodes))


@dataclass(eq=False)
class Where(Node):
    """where(left op right, then, otherwise) entry by entry. Children: then, otherwise, left, right."""

    op: str
    left: Node
    right: Node
    then: Node
    otherwise: Node

    def __post_init__(self) -> None:
        self.children = (self.then, self.otherwise, self.left, self.right)
        self.shape = shape_of_all(*self.children) or self.then.shape  # the reader checks

    def flows(self, k: int) -> bool:
        return k < 2

    def _mask(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        taken: np.ndarray = COMPARISONS[self.op](operands[2], operands[3])
        return np.broadcast_to(taken, self.shape).astype(float)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        taken = self._mask(operands) > 0
        return np.where(taken, np.broadcast_to(operands[0], self.shape), np.broadcast_to(operands[1], self.shape))

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        mask = self._mask(operands)
        picked = [_broadcast_back(times(upstream, m), child.shape)
                  for m, child in ((mask, self.then), (1 - mask, self.otherwise))]
        return picked + [np.zeros(upstream.shape[:-2] + child.shape) for child in (self.left, self.right)]

    def kinks(self, operands: Sequence[np.ndarray]) -> np.ndarray | bool:
        """A tie of the condition: max(a, b) at a = b, where(x > 0, x, 0.01 x) at 0."""
        return np.broadcast_to(operands[2] == operands[3], self.shape)

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        mask = self._mask(operands)[..., None]
        return (times(_tangent_to(tangents[0], self.shape), mask)
                + times(_tangent_to(tangents[1], self.shape), 1 - mask))

    def _condition(self, op: str) -> Shown:
        a, b = bracket(self.left, 2), bracket(self.right, 2)
        return Shown(rf"{a.latex} {_LATEX[op]} {b.latex}", f"{a.text} {op.replace('>=', '≥').replace('<=', '≤')} "
                                                             f"{b.text}")

    def factor(self, k: int) -> Factor:
        condition = self._condition(self.op if k == 0 else _OPPOSITE[self.op])
        chosen = self.children[k]
        mask = Shown(rf"\mathbb{{1}}\left[{condition.latex}\right]", f"𝟙[{condition.text}]")
        if self.size == 1 or chosen.size == 1:
            return Factor(mask, "")
        kept = Factor(diagonal(mask).shown, "diagonal: a mask that keeps the chosen entries")
        return repeated(kept, spread(chosen.shape, self.shape))

    def show(self) -> Shown:
        condition = self._condition(self.op)
        then, otherwise = self.then.show(), self.otherwise.show()
        return Shown(rf"\operatorname{{where}}\left({condition.latex},\ {then.latex},\ {otherwise.latex}\right)",
                     f"where({condition.text}, {then.text}, {otherwise.text})")


def maximum(a: Node, b: Node) -> Where:
    """max(a, b) entry by entry; at a tie the gradient goes to b (so max(z, 0) has derivative 0 at 0)."""
    return Where(">", a, b, a, b)


def minimum(a: Node, b: Node) -> Where:
    return Where("<", a, b, a, b)


def chosen(kind: str, a: Node, b: Node) -> Node:
    """max(a, b) or min(a, b) entry by entry, as the layer reader and the def tracer both write them. A number
    written first goes second, so that it takes a tie wherever it is written (max(0, z) is max(z, 0), ReLU, with
    derivative 0 at 0, and so is min(0, z)'s), as the entry level's `extremes` does."""
    if isinstance(a, Number) and not isinstance(b, Number):
        a, b = b, a
    if kind == "max":
        return Apply("relu", a) if isinstance(b, Number) and b.value == 0 else maximum(a, b)
    return minimum(a, b)
