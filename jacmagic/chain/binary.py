"""Element-wise operations of two arrays: atan2(y, x), hypot(a, b) and a power a ** b whose exponent is an array
or a computed value too, broadcast as numpy does (a number goes with every entry, a column with every column, a
row with every row).

Each operand's local Jacobian is diagonal, with the partial derivative a textbook writes:
∂atan2(y, x)/∂y = diag(x/(x² + y²)), ∂atan2(y, x)/∂x = diag(−y/(x² + y²)), ∂hypot(a, b)/∂a = diag(a/hypot(a, b)),
∂(a^b)/∂a = diag(b a^(b−1)) and ∂(a^b)/∂b = diag(a^b log a). Where one has no value the entry level has none
either: atan2(0, 0), a^b of a negative base (its log), and the slopes of hypot at (0, 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jacmagic.chain.functions import TWO_PLACE_FUNCTIONS, Pair, TwoPlace
from jacmagic.chain.operations import (
    Factor,
    Node,
    Shown,
    _broadcast_back,
    _tangent_to,
    bracket,
    broadcast_shape,
    diagonal,
    no_real_value,
    repeated,
    short,
    spread,
    steep,
    times,
)


def _power_slopes(a: np.ndarray, b: np.ndarray, value: np.ndarray) -> Pair:
    return b * np.power(a, b - 1), value * np.log(a)


def _power_show(a: Shown, b: Shown, bracketed_a: Shown, bracketed_b: Shown) -> Shown:
    return Shown(f"{bracketed_a.latex}^{{{b.latex}}}", f"{bracketed_a.text}^{bracketed_b.text}")


# atan2 and hypot from the function table (arctan2 too), and the power
TWO_PLACE: dict[str, TwoPlace] = {**TWO_PLACE_FUNCTIONS, "**": TwoPlace(np.power, _power_slopes, _power_show, (
    lambda a, b: Shown(f"{b.latex} {a.latex}^{{{b.latex} - 1}}", f"{b.text}·{a.text}^({b.text} − 1)"),
    lambda a, b: Shown(rf"{a.latex}^{{{b.latex}}} \log {a.latex}", f"{a.text}^{b.text}·log {a.text}")))}


@dataclass(eq=False)
class Binary(Node):
    """f(a, b) entry by entry (atan2, hypot, a ** b), broadcast as numpy does: local Jacobians diag(∂f/∂a) and
    diag(∂f/∂b), times the repeat of an operand that was broadcast."""

    name: str
    left: Node
    right: Node

    def __post_init__(self) -> None:
        self.children = (self.left, self.right)
        self.shape = broadcast_shape(self.left.shape, self.right.shape) or self.left.shape  # the reader checks
        self.function = TWO_PLACE[self.name]
        self.precedence = 3 if self.name == "**" else 9

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(self.function.value(*operands), dtype=float)

    def _slopes(self, operands: Sequence[np.ndarray], value: np.ndarray) -> Pair:
        with np.errstate(all="ignore"):
            return self.function.slopes(operands[0], operands[1], value)

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        slopes = self._slopes(operands, value)
        return [_broadcast_back(times(upstream, slope), child.shape) if want
                else np.zeros(upstream.shape[:-2] + child.shape)  # log a of a constant negative base: not needed
                for slope, child, want in zip(slopes, self.children, wanted)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        slopes = self._slopes(operands, value)
        return sum(times(_tangent_to(t, self.shape), np.broadcast_to(slope, self.shape)[..., None])
                   for slope, t in zip(slopes, tangents))  # type: ignore[return-value]

    def factor(self, k: int) -> Factor:
        shown = self.function.slope_shows[k](bracket(self.left, 9), bracket(self.right, 9))
        mine = self.children[k]
        if self.size == 1:
            return Factor(shown)
        if mine.size == 1:  # a number used with every entry: its slopes as a column
            return Factor(shown, "a column: the number moves every entry")
        return repeated(diagonal(shown), spread(mine.shape, self.shape))

    def show(self) -> Shown:
        return self.function.show(self.left.show(), self.right.show(), bracket(self.left, 9),
                                  bracket(self.right, 9))

    def outside_domain(self, operands: Sequence[np.ndarray], value: np.ndarray) -> np.ndarray | bool:
        """A power of two arrays, or atan2, has a domain (the entry level guards it)."""
        return ~np.isfinite(value) if self.name in ("**", "atan2", "arctan2") else False

    def undefined(self, operands: Sequence[np.ndarray]) -> str:
        a, b = (np.broadcast_to(o, self.shape) for o in operands)
        if self.name in ("atan2", "arctan2") and ((a == 0) & (b == 0)).any():
            return f"{short(self.show().text)} is undefined where both arguments are 0"
        if self.name == "**" and ((a == 0) & (b < 0)).any():
            return f"division by zero: {short(self.show().text)} raises 0 to a negative power here"
        if self.name == "**" and ((a < 0) & (b != np.round(b))).any():
            return f"{no_real_value(self)}: a negative base to a power that is not a whole number"
        return super().undefined(operands)

    def unsloped(self, operands: Sequence[np.ndarray]) -> str | None:
        a, b = (np.broadcast_to(o, self.shape) for o in operands)
        if self.name == "hypot" and ((a == 0) & (b == 0)).any():
            return f"{short(self.show().text)} has no derivative where both arguments are 0 (a cone's tip)"
        if self.name != "**":
            return None
        value = self.evaluate(operands)
        return steep(self, a, value, self._slopes(operands, value)[0], lambda z: self.evaluate([z, operands[1]]))
