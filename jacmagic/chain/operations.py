"""Array operations and their local Jacobians, as textbooks write them and as numpy applies them.

The node interface, and the operations of arithmetic (+ - * / broadcast as numpy does, powers, negation). Every
operation of a layer line (element-wise functions and the classifier pieces are in `elementwise`; @, .T, entries
and dot in `linear`; the reductions and softmax in `reductions`) knows its value, its local Jacobian with respect
to each operand in matrix-calculus form (diag(f'(z)), W for W @ x, I ⊗ xᵀ for its weights, I ⊗ 1 for a column
added to every column), and how to apply that Jacobian without building it: to an upstream gradient (reverse
mode, the vector-Jacobian product) and to tangents (forward mode, the Jacobian-vector product). Arrays are 2-D (a
vector is a column, a number 1 x 1); a matrix's entries are laid out row-major, the README's convention.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jacmagic.chain.shown import Shown
from jacmagic.chain.unjudged import vertical

Shape = tuple[int, int]
Values = dict[int, np.ndarray]  # node id -> its value at the point


# -- how a node shows itself and its local Jacobians: one template per form ------------------------------------

def named(name: str) -> Shown:
    """W1 as W_{1} / W₁, theta as \\theta / θ: names typeset like the rest of jacmagic."""
    import sympy as sp

    from jacmagic.notation import latex, pretty

    return Shown(latex(sp.Symbol(name)), pretty(sp.Symbol(name)))


def wrap(inner: Shown, template: tuple[str, str]) -> Shown:
    return Shown(template[0].replace("@", inner.latex), template[1].replace("@", inner.text))


# -- the local Jacobian of one operation with respect to one operand ----------------------------------------------

@dataclass(frozen=True)
class Factor:
    """A local Jacobian as textbooks write it, with what its structure saves (said where it saves work)."""

    shown: Shown
    structure: str = ""
    identity: bool = False  # I: left out of a product
    compound: bool = False  # bracketed inside a product: (I ⊗ xᵀ), (diag(s) − s sᵀ)
    entry: Shown | None = None  # what a diagonal holds: the factor's one entry when it is 1 x 1

    def as_number(self) -> Factor:
        """The factor when it is 1 x 1: its entry (2(a − t), not diag(2(a − t)); 1, not I), with no structure,
        which only says what a matrix's shape saves; bracketed in a product when it is a sum."""
        shown = self.entry or self.shown
        return Factor(shown, identity=self.identity, compound=self.compound or _sum(shown.text), entry=self.entry)


def _sum(text: str) -> bool:
    """Does `text` add or subtract at its top level (outside every bracket)? x · (1 − a), never x · 1 − a."""
    depth = 0
    for k, character in enumerate(text):
        depth += (character in "([{") - (character in ")]}")
        if depth == 0 and k > 0 and character in "+-−" and text[k - 1] == " ":
            return True
    return False


def product(factors: Sequence[Factor]) -> Shown:
    """A product of local Jacobians as written, identities left out ("I", or "1" between numbers, if nothing else
    is left)."""
    kept = [f for f in factors if not f.identity]
    if not kept:
        return factors[0].shown if factors else IDENTITY.shown  # I, or 1 for a number
    parts = [Shown(rf"\left({f.shown.latex}\right)", f"({f.shown.text})")
             if len(kept) > 1 and (f.compound or (k > 0 and f.shown.text.startswith(("-", "−")))) else f.shown
             for k, f in enumerate(kept)]  # x · (−1), never x · −1; a leading sign stays: −1 · x
    return Shown(r" \cdot ".join(p.latex for p in parts), " · ".join(p.text for p in parts))


IDENTITY = Factor(Shown("I", "I"), identity=True, entry=Shown("1", "1"))


def diagonal(inner: Shown) -> Factor:
    return Factor(Shown(rf"\operatorname{{diag}}\left({inner.latex}\right)", f"diag({inner.text})"),
                  "diagonal: the product is element-wise", entry=inner)


# -- the operations ------------------------------------------------------------------------------------------------

class Node:
    """One array operation of a line: its shape, its operands, its value, and its derivatives applied."""

    shape: Shape
    children: tuple[Node, ...] = ()
    precedence = 9  # for brackets when shown: 1 sums, 2 products, 9 atoms

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        """Reverse mode: the upstream gradient (..., r, c) times the local Jacobian, per operand, each in the
        operand's shape (..., r', c'); an operand not `wanted` (nothing differentiated flows through it) may be
        skipped where that saves a product."""
        raise NotImplementedError

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        """Forward mode: the local Jacobians times the operands' tangents (r', c', p), summed: (r, c, p)."""
        raise NotImplementedError

    def factor(self, k: int) -> Factor:
        raise NotImplementedError

    def flows(self, k: int) -> bool:
        """Does the gradient flow to operand k? (Not to the operands of a comparison, which only decide.)"""
        return True

    def axes(self, inner: Sequence[int]) -> int:
        """numpy's number of axes of the value, from the operands': entry by entry the most of them; a reduction
        or an entry loses one."""
        widest = max(inner, default=0)
        if any(self.size < child.size for child in self.children):
            return 0 if self.size == 1 else max(widest - 1, 1)
        return widest

    def show(self) -> Shown:
        raise NotImplementedError

    def undefined(self, operands: Sequence[np.ndarray]) -> str:
        """Why this operation has no finite value from finite operands (the entry level's words): here, only
        because double precision overflows; operations with a domain say which of its limits is crossed."""
        return f"{short(self.show().text)} is too large for double precision here (overflow)"

    def outside_domain(self, operands: Sequence[np.ndarray], value: np.ndarray) -> np.ndarray | bool:
        """Which entries of the value (nan where not finite) are undefined because the operation is applied
        outside its domain (the log of a negative, a division by 0: the entry level's guards, which must have a
        finite value), not merely too large for a double. False here: an operation defined for every finite
        operand (exp, +, @) that has no finite value has overflowed, and what does not depend on it keeps its
        derivatives (`Network.undefined_outputs`)."""
        return False

    def unsloped(self, operands: Sequence[np.ndarray]) -> str | None:
        """Why this operation has no derivative here though its value is finite (a step's jump, a cone's tip), or
        None: said where a gradient through it is undefined."""
        return None

    def kinks(self, operands: Sequence[np.ndarray]) -> np.ndarray | bool:
        """Which entries of the value sit on a kink whose slope the walk takes from one side by convention (ReLU at
        0, a tie of max(a, b)): a derivative no central difference can confirm, as it averages the two sides."""
        return False

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]


def subscript_digits(number: int) -> str:
    return str(number).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def short(text: str) -> str:
    return text if len(text) <= 60 else text[:60] + "…"


def no_real_value(node: Node) -> str:
    return f"{short(node.show().text)} has no finite real value here"


def steep(node: Node, z: np.ndarray, value: np.ndarray, slope: np.ndarray,
          moved: Callable[[np.ndarray], np.ndarray]) -> str | None:
    """Why an entry-by-entry operation has no derivative at a vertical tangent (`unjudged.vertical`)."""
    at = vertical(z, value, slope, moved)
    return None if at is None else f"{short(node.show().text)} has no derivative {at}"


def division_by_zero(divisor: Node) -> str:
    return f"division by zero: it divides by {short(divisor.show().text)}, which is 0 here"


def bracket(node: Node, above: int) -> Shown:
    shown = node.show()
    if node.precedence >= above:
        return shown
    return Shown(rf"\left({shown.latex}\right)", f"({shown.text})")


@dataclass(eq=False)
class Leaf(Node):
    """A declared array, a number-valued name, or the value of an earlier line."""

    name: str
    shape: Shape
    stack: int = 1  # a batch of images (`x: 32x8x8`): this many, stacked along the rows (numpy's row-major layout)

    def show(self) -> Shown:
        return named(self.name)


@dataclass(eq=False)
class Number(Node):
    value: float
    shape: Shape = (1, 1)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return np.full((1, 1), self.value)

    def show(self) -> Shown:
        text = f"{self.value:g}"
        return Shown(text, text)


def times(flow: np.ndarray, slope: Any) -> np.ndarray:
    """A gradient or tangent times a local slope, entry by entry, where a 0 flowing stays 0 beside an overflowed
    slope: what does not depend on a value is not made undefined by it."""
    with np.errstate(all="ignore"):
        product = flow * slope
        if np.isfinite(slope).all():
            return product
        return np.where(flow == 0, 0.0, product)


def broadcast_shape(*shapes: Shape) -> Shape | None:
    """numpy's broadcasting of 2-D shapes: in each dimension the sizes are equal, or 1 (a number goes with every
    entry, a column n x 1 with every column, a row 1 x k with every row); None if they do not broadcast."""
    sizes = [{shape[axis] for shape in shapes} - {1} for axis in (0, 1)]
    if any(len(s) > 1 for s in sizes):
        return None
    rows, cols = (min(s, default=1) for s in sizes)
    return (rows, cols)


def _broadcast_back(gradient: np.ndarray, shape: Shape) -> np.ndarray:
    """The gradient (..., r, c) of an operand of `shape` that was broadcast (a number used with every entry, a
    column with every column, a row with every row): summed over the axes it was repeated along, kept as 1."""
    axes = tuple(axis for axis, size in zip((-2, -1), shape) if size == 1 and gradient.shape[axis] != 1)
    return gradient.sum(axis=axes, keepdims=True) if axes else gradient


def _tangent_to(tangent: np.ndarray, shape: Shape) -> np.ndarray:
    """A broadcast operand's tangents (r', c', p) repeated over the entries of `shape` it goes with."""
    return tangent if tangent.shape[:2] == shape else np.broadcast_to(tangent, (*shape, tangent.shape[-1]))


def spread(operand: Shape, shape: Shape) -> Factor | None:
    """The local Jacobian of broadcasting an operand over `shape` (None when it is not repeated): a number is a
    column of ones, a column n x 1 used in every one of k columns I ⊗ 1 (row-major), a row 1 x k used in every
    one of n rows 1 ⊗ I."""
    if operand == shape:
        return None
    rows, cols = shape
    if operand == (1, 1):
        return Factor(Shown(r"\mathbf{1}", "1"), "a column of ones: the number moves every entry")
    if operand[1] == 1:
        return Factor(Shown(rf"I_{{{rows}}} \otimes \mathbf{{1}}_{{{cols}}}",
                            f"I{subscript_digits(rows)} ⊗ 1{subscript_digits(cols)}"),
                      f"the column goes with every one of the {cols} columns (each example of a batch): the product "
                      "sums the upstream across the columns", compound=True)
    return Factor(Shown(rf"\mathbf{{1}}_{{{rows}}} \otimes I_{{{cols}}}",
                        f"1{subscript_digits(rows)} ⊗ I{subscript_digits(cols)}"),
                  f"the row goes with every one of the {rows} rows: the product sums the upstream down the rows",
                  compound=True)


def repeated(slope: Factor, repeat: Factor | None) -> Factor:
    """An operand's local Jacobian through an entry-by-entry operation it was broadcast into: the slope (I, −I,
    diag(...)) times the repeat."""
    if repeat is None:
        return slope
    if slope.identity:
        return repeat
    structure = "; ".join(s for s in (slope.structure, repeat.structure) if s)
    if slope.shown.text == "−I":
        return Factor(Shown(rf"-\left({repeat.shown.latex}\right)", f"−({repeat.shown.text})"), structure,
                      compound=True)
    return Factor(product([slope, repeat]), structure, compound=True)


@dataclass(eq=False)
class Power(Node):
    """z ** k for a number k: local Jacobian diag(k z^(k-1))."""

    child: Node
    exponent: float
    precedence = 3

    def __post_init__(self) -> None:
        self.shape, self.children = self.child.shape, (self.child,)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.power(operands[0], self.exponent)

    def _slope(self, z: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return self.exponent * np.power(z, self.exponent - 1)

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        return [times(upstream, self._slope(operands[0]))]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return times(tangents[0], self._slope(operands[0])[..., None])

    def factor(self, k: int) -> Factor:
        base = bracket(self.child, 9)
        power = self.exponent - 1
        if power == 0:
            inner = Shown(f"{self.exponent:g}", f"{self.exponent:g}")
        elif power == 1:
            inner = Shown(f"{self.exponent:g} {base.latex}", f"{self.exponent:g}{base.text}")
        else:
            inner = Shown(f"{self.exponent:g} {base.latex}^{{{power:g}}}", f"{self.exponent:g}{base.text}^{power:g}")
        return diagonal(inner)

    def show(self) -> Shown:
        base = bracket(self.child, 9)
        return Shown(f"{base.latex}^{{{self.exponent:g}}}", f"{base.text}^{self.exponent:g}")

    def outside_domain(self, operands: Sequence[np.ndarray], value: np.ndarray) -> np.ndarray | bool:
        """A power that is not a whole number at least 0 has a domain (the entry level guards it)."""
        natural = self.exponent >= 0 and self.exponent == int(self.exponent)
        return False if natural else ~np.isfinite(value)

    def undefined(self, operands: Sequence[np.ndarray]) -> str:
        if self.exponent < 0 and (operands[0] == 0).any():
            return division_by_zero(self.child)
        if self.exponent != int(self.exponent) and (operands[0] < 0).any():
            return no_real_value(self)
        return super().undefined(operands)

    def unsloped(self, operands: Sequence[np.ndarray]) -> str | None:
        return steep(self, operands[0], self.evaluate(operands), self._slope(operands[0]),
                     lambda z: self.evaluate([z]))


@dataclass(eq=False)
class Arithmetic(Node):
    """a + b, a - b, a * b, a / b entry by entry, broadcast as numpy does: a number goes with every entry, a column
    with every column, a row with every row."""

    op: str
    left: Node
    right: Node

    def __post_init__(self) -> None:
        self.children = (self.left, self.right)
        self.shape = broadcast_shape(self.left.shape, self.right.shape) or self.left.shape  # the reader checks
        self.precedence = 1 if self.op in "+-" else 2

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        a, b = operands
        with np.errstate(all="ignore"):
            return {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[self.op](a, b)

    def _slopes(self, a: np.ndarray, b: np.ndarray) -> tuple[Any, Any]:
        """d(out)/da and d(out)/db entry by entry (numbers or arrays)."""
        with np.errstate(all="ignore"):
            return {"+": (1.0, 1.0), "-": (1.0, -1.0), "*": (b, a), "/": (1 / b, -a / (b * b))}[self.op]

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        slopes = self._slopes(*operands)
        return [_broadcast_back(times(upstream, slope), child.shape) for slope, child in zip(slopes, self.children)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        slopes = self._slopes(*operands)
        return sum(times(_tangent_to(t, self.shape), np.asarray(slope)[..., None])
                   for slope, t in zip(slopes, tangents))  # type: ignore[return-value]

    def factor(self, k: int) -> Factor:
        mine = self.children[k]
        number = mine.size == 1 and self.size > 1  # a number used with every entry: a column
        slope = self._slope(k, number)
        return slope if number else repeated(slope, spread(mine.shape, self.shape))

    def _slope(self, k: int, number: bool) -> Factor:
        """The local Jacobian entry by entry, a number's already times its column of ones."""
        other = self.children[1 - k]
        if self.op in "+-":
            sign = "-" if (self.op == "-" and k == 1) else ""
            if number:
                return Factor(Shown(rf"{sign}\mathbf{{1}}", f"{sign}1"), "a column of ones: the number moves every "
                                                                           "entry")
            return Factor(Shown("-I", "−I"), entry=Shown("-1", "−1")) if sign else IDENTITY
        if self.op == "*":
            shown = other.show()
            if number or other.size == 1:
                return Factor(shown, "" if number else "a number times I")
            return diagonal(shown)
        a, b = (bracket(child, 3) for child in self.children)
        inner = Shown(rf"\frac{{1}}{{{b.latex}}}", f"1/{b.text}") if k == 0 else \
            Shown(rf"-\frac{{{a.latex}}}{{{b.latex}^{{2}}}}", f"−{a.text}/{b.text}²")
        if number or (k == 0 and self.right.size == 1):
            return Factor(inner, "")
        return diagonal(inner)

    def show(self) -> Shown:
        a, b = bracket(self.left, self.precedence), bracket(self.right, self.precedence + 1)
        if self.op == "/":
            return Shown(rf"\frac{{{self.left.show().latex}}}{{{self.right.show().latex}}}", f"{a.text}/{b.text}")
        latex_op = {"+": " + ", "-": " - ", "*": r" \odot "}[self.op]
        text_op = {"+": " + ", "-": " − ", "*": " ⊙ "}[self.op]
        if self.op == "*" and 1 in (self.left.size, self.right.size):
            latex_op, text_op = r" \, ", "·"
        return Shown(a.latex + latex_op + b.latex, a.text + text_op + b.text)

    def outside_domain(self, operands: Sequence[np.ndarray], value: np.ndarray) -> np.ndarray | bool:
        """A quotient is undefined where its divisor is 0 or has no finite value (the entry level's guard)."""
        if self.op != "/":
            return False
        divisor = operands[1]
        return np.broadcast_to((divisor == 0) | ~np.isfinite(divisor), self.shape)

    def undefined(self, operands: Sequence[np.ndarray]) -> str:
        if self.op == "/" and (operands[1] == 0).any():
            return division_by_zero(self.right)
        return super().undefined(operands)


@dataclass(eq=False)
class Negate(Node):
    child: Node
    precedence = 1

    def __post_init__(self) -> None:
        self.shape, self.children = self.child.shape, (self.child,)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return -operands[0]

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        return [-upstream]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return -tangents[0]

    def factor(self, k: int) -> Factor:
        return Factor(Shown("-I" if self.size > 1 else "-1", "−I" if self.size > 1 else "−1"))

    def show(self) -> Shown:
        inner = bracket(self.child, 2)
        return Shown("-" + inner.latex, "−" + inner.text)
