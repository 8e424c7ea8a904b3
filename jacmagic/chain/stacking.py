"""A bracketed list in a layer line, `[a, b]` (a column) or `[[a, b], [c, d]]` (a matrix) of numbers computed
from the arrays: the one operation that builds an array out of separate values. Each item's local Jacobian is
the unit column e_k of its place: the product hands each item its own entry of the upstream gradient."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jacmagic.chain.operations import Factor, Node, Shape, Shown

_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass(eq=False)
class Stack(Node):
    """Numbers (1 x 1 values) laid out row-major in `shape`; `matrix` tells [[...]] from a column [...]."""

    items: tuple[Node, ...]
    shape: Shape
    matrix: bool

    def __post_init__(self) -> None:
        self.children = self.items

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return np.array([float(o.reshape(-1)[0]) for o in operands]).reshape(self.shape)

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        flat = upstream.reshape(upstream.shape[:-2] + (self.size,))
        return [flat[..., k].reshape(upstream.shape[:-2] + (1, 1)) for k in range(self.size)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return np.stack([t.reshape(-1) for t in tangents]).reshape(self.shape + (-1,))

    def factor(self, k: int) -> Factor:
        return Factor(Shown(rf"e_{{{k + 1}}}", "e" + str(k + 1).translate(_SUBSCRIPTS)),
                      "a unit column: the product hands this item its own entry")

    def axes(self, inner: Sequence[int]) -> int:
        return 2 if self.matrix else 1

    def show(self) -> Shown:
        shown = [item.show() for item in self.items]
        rows, cols = self.shape
        latex_rows = [" & ".join(s.latex for s in shown[r * cols:(r + 1) * cols]) for r in range(rows)]
        text_rows = [", ".join(s.text for s in shown[r * cols:(r + 1) * cols]) for r in range(rows)]
        text = "[" + ", ".join(f"[{row}]" for row in text_rows) + "]" if self.matrix else "[" + ", ".join(
            s.text for s in shown) + "]"
        return Shown(r"\begin{bmatrix}" + r" \\ ".join(latex_rows) + r"\end{bmatrix}", text)
