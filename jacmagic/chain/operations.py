"""Array operations and their local Jacobians, as textbooks write them and as numpy applies them.

Every operation of a layer line (an element-wise function, + - * / broadcast as numpy does, @, .T, an entry, dot;
the reductions and softmax are in `reductions`) knows its value, its local Jacobian with respect to each operand
in matrix-calculus form (diag(f'(z)), W for W @ x, I ⊗ xᵀ for its weights, I ⊗ 1 for a column added to every
column), and how to apply that Jacobian without building it: to an upstream gradient (reverse mode,
the vector-Jacobian product) and to tangents (forward mode, the Jacobian-vector product). Arrays are 2-D (a vector
is a column, a number 1 x 1); a matrix's entries are laid out row-major, the README's convention.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jacmagic.chain.functions import LEAKY_SLOPE

Shape = tuple[int, int]
Values = dict[int, np.ndarray]  # node id -> its value at the point


# -- how a node shows itself and its local Jacobians: one template per form ------------------------------------

@dataclass(frozen=True)
class Shown:
    """The same piece of math as LaTeX and as Unicode text."""

    latex: str
    text: str


def _sub(name: str) -> Shown:
    """W1 as W_{1} / W₁, theta as \\theta / θ: names typeset like the rest of jacmagic."""
    import sympy as sp

    from jacmagic.notation import latex, pretty

    return Shown(latex(sp.Symbol(name)), pretty(sp.Symbol(name)))


def _wrap(inner: Shown, template: tuple[str, str]) -> Shown:
    return Shown(template[0].replace("@", inner.latex), template[1].replace("@", inner.text))


# -- element-wise functions: value, derivative, and the derivative as textbooks write it -------------------------

def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow warning for large |z|


@dataclass(frozen=True)
class Elementwise:
    value: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    show: tuple[str, str]  # f(@)
    derivative_show: tuple[str, str]  # f'(@)


FUNCTIONS: dict[str, Elementwise] = {
    "exp": Elementwise(np.exp, np.exp, (r"e^{@}", "exp(@)"), (r"e^{@}", "exp(@)")),
    "log": Elementwise(np.log, lambda z: 1 / z, (r"\log\left(@\right)", "log(@)"),
                       (r"\frac{1}{@}", "1/(@)")),
    "ln": Elementwise(np.log, lambda z: 1 / z, (r"\log\left(@\right)", "log(@)"), (r"\frac{1}{@}", "1/(@)")),
    "tanh": Elementwise(np.tanh, lambda z: 1 - np.tanh(z) ** 2, (r"\tanh\left(@\right)", "tanh(@)"),
                        (r"1 - \tanh^{2}\left(@\right)", "1 − tanh²(@)")),
    "sigmoid": Elementwise(_sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z)), (r"\sigma\left(@\right)", "σ(@)"),
                           (r"\sigma\left(@\right)\left(1 - \sigma\left(@\right)\right)", "σ(@)(1 − σ(@))")),
    "relu": Elementwise(lambda z: np.maximum(z, 0), lambda z: np.heaviside(z, 0.0),
                        (r"\operatorname{ReLU}\left(@\right)", "ReLU(@)"),
                        (r"\operatorname{H}\left(@\right)", "H(@)")),
    "softplus": Elementwise(lambda z: np.logaddexp(0, z), _sigmoid, (r"\operatorname{softplus}\left(@\right)",
                                                                      "softplus(@)"),
                            (r"\sigma\left(@\right)", "σ(@)")),
    "sin": Elementwise(np.sin, np.cos, (r"\sin\left(@\right)", "sin(@)"), (r"\cos\left(@\right)", "cos(@)")),
    "cos": Elementwise(np.cos, lambda z: -np.sin(z), (r"\cos\left(@\right)", "cos(@)"),
                       (r"-\sin\left(@\right)", "−sin(@)")),
    "sqrt": Elementwise(np.sqrt, lambda z: 0.5 / np.sqrt(z), (r"\sqrt{@}", "√(@)"),
                        (r"\frac{1}{2\sqrt{@}}", "1/(2√(@))")),
    "abs": Elementwise(np.abs, np.sign, (r"\left|@\right|", "|@|"),  # 0 at the kink, as sign(0) and the frameworks
                       (r"\operatorname{sign}\left(@\right)", "sign(@)")),
    "sinh": Elementwise(np.sinh, np.cosh, (r"\sinh\left(@\right)", "sinh(@)"), (r"\cosh\left(@\right)", "cosh(@)")),
    "cosh": Elementwise(np.cosh, np.sinh, (r"\cosh\left(@\right)", "cosh(@)"), (r"\sinh\left(@\right)", "sinh(@)")),
    "atan": Elementwise(np.arctan, lambda z: 1 / (1 + z * z), (r"\operatorname{atan}\left(@\right)", "atan(@)"),
                        (r"\frac{1}{1 + \left(@\right)^{2}}", "1/(1 + (@)²)")),
}
FUNCTIONS["Abs"] = FUNCTIONS["abs"]
FUNCTIONS["arctan"] = FUNCTIONS["atan"]


# -- the local Jacobian of one operation with respect to one operand ----------------------------------------------

@dataclass(frozen=True)
class Factor:
    """A local Jacobian as textbooks write it, with what its structure saves (said where it saves work)."""

    shown: Shown
    structure: str = ""
    identity: bool = False  # I: left out of a product
    compound: bool = False  # bracketed inside a product: (I ⊗ xᵀ), (diag(s) − s sᵀ)


def product(factors: Sequence[Factor]) -> Shown:
    """A product of local Jacobians as written, identities left out ("I" if nothing else is left)."""
    kept = [f for f in factors if not f.identity]
    if not kept:
        return Shown("I", "I")
    parts = [Shown(rf"\left({f.shown.latex}\right)", f"({f.shown.text})") if f.compound and len(kept) > 1
             else f.shown for f in kept]
    return Shown(r" \cdot ".join(p.latex for p in parts), " · ".join(p.text for p in parts))


_IDENTITY = Factor(Shown("I", "I"), identity=True)


def _diagonal(inner: Shown) -> Factor:
    return Factor(Shown(rf"\operatorname{{diag}}\left({inner.latex}\right)", f"diag({inner.text})"),
                  "diagonal: the product is element-wise")


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
        return f"{_short(self.show().text)} is too large for double precision here (overflow)"

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:60] + "…"


def _no_real_value(node: Node) -> str:
    return f"{_short(node.show().text)} has no finite real value here"


def _division_by_zero(divisor: Node) -> str:
    return f"division by zero: it divides by {_short(divisor.show().text)}, which is 0 here"


def _bracket(node: Node, above: int) -> Shown:
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
        return _sub(self.name)


@dataclass(eq=False)
class Number(Node):
    value: float
    shape: Shape = (1, 1)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return np.full((1, 1), self.value)

    def show(self) -> Shown:
        text = f"{self.value:g}"
        return Shown(text, text)


def _times(flow: np.ndarray, slope: Any) -> np.ndarray:
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
                            f"I{_sub_digits(rows)} ⊗ 1{_sub_digits(cols)}"),
                      f"the column goes with every one of the {cols} columns (each example of a batch): the product "
                      "sums the upstream across the columns", compound=True)
    return Factor(Shown(rf"\mathbf{{1}}_{{{rows}}} \otimes I_{{{cols}}}",
                        f"1{_sub_digits(rows)} ⊗ I{_sub_digits(cols)}"),
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
class Apply(Node):
    """f(z) entry by entry: local Jacobian diag(f'(z))."""

    name: str
    child: Node

    def __post_init__(self) -> None:
        self.shape, self.children = self.child.shape, (self.child,)
        self.function = FUNCTIONS[self.name]

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return self.function.value(operands[0])

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        return [_times(upstream, self.function.derivative(operands[0]))]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return _times(tangents[0], self.function.derivative(operands[0])[..., None])

    def factor(self, k: int) -> Factor:
        inner = _wrap(self.child.show(), self.function.derivative_show)
        return _diagonal(inner)

    def show(self) -> Shown:
        return _wrap(self.child.show(), self.function.show)

    def undefined(self, operands: Sequence[np.ndarray]) -> str:
        return _no_real_value(self) if self.name in _WITH_DOMAIN else super().undefined(operands)


_WITH_DOMAIN = frozenset({"log", "ln", "sqrt"})  # finite operands outside their domain: no real value


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
        return [_times(upstream, self._slope(operands[0]))]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return _times(tangents[0], self._slope(operands[0])[..., None])

    def factor(self, k: int) -> Factor:
        base = _bracket(self.child, 9)
        power = self.exponent - 1
        if power == 0:
            inner = Shown(f"{self.exponent:g}", f"{self.exponent:g}")
        elif power == 1:
            inner = Shown(f"{self.exponent:g} {base.latex}", f"{self.exponent:g}{base.text}")
        else:
            inner = Shown(f"{self.exponent:g} {base.latex}^{{{power:g}}}", f"{self.exponent:g}{base.text}^{power:g}")
        return _diagonal(inner)

    def show(self) -> Shown:
        base = _bracket(self.child, 9)
        return Shown(f"{base.latex}^{{{self.exponent:g}}}", f"{base.text}^{self.exponent:g}")

    def undefined(self, operands: Sequence[np.ndarray]) -> str:
        if self.exponent < 0 and (operands[0] == 0).any():
            return _division_by_zero(self.child)
        if self.exponent != int(self.exponent) and (operands[0] < 0).any():
            return _no_real_value(self)
        return super().undefined(operands)


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
        return [_broadcast_back(_times(upstream, slope), child.shape) for slope, child in zip(slopes, self.children)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        slopes = self._slopes(*operands)
        return sum(_times(_tangent_to(t, self.shape), np.asarray(slope)[..., None])
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
            return Factor(Shown("-I", "−I"), "") if sign else _IDENTITY
        if self.op == "*":
            shown = other.show()
            if number or other.size == 1:
                return Factor(shown, "" if number else "a number times I")
            return _diagonal(shown)
        a, b = (_bracket(child, 3) for child in self.children)
        inner = Shown(rf"\frac{{1}}{{{b.latex}}}", f"1/{b.text}") if k == 0 else \
            Shown(rf"-\frac{{{a.latex}}}{{{b.latex}^{{2}}}}", f"−{a.text}/{b.text}²")
        if number or (k == 0 and self.right.size == 1):
            return Factor(inner, "")
        return _diagonal(inner)

    def show(self) -> Shown:
        a, b = _bracket(self.left, self.precedence), _bracket(self.right, self.precedence + 1)
        if self.op == "/":
            return Shown(rf"\frac{{{self.left.show().latex}}}{{{self.right.show().latex}}}", f"{a.text}/{b.text}")
        latex_op = {"+": " + ", "-": " - ", "*": r" \odot "}[self.op]
        text_op = {"+": " + ", "-": " − ", "*": " ⊙ "}[self.op]
        if self.op == "*" and 1 in (self.left.size, self.right.size):
            latex_op, text_op = r" \, ", "·"
        return Shown(a.latex + latex_op + b.latex, a.text + text_op + b.text)

    def undefined(self, operands: Sequence[np.ndarray]) -> str:
        if self.op == "/" and (operands[1] == 0).any():
            return _division_by_zero(self.right)
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
        inner = _bracket(self.child, 2)
        return Shown("-" + inner.latex, "−" + inner.text)


@dataclass(eq=False)
class MatMul(Node):
    """A @ B: local Jacobians A ⊗ I (for B; A itself when B is a vector) and I ⊗ Bᵀ (for A, row-major)."""

    left: Node
    right: Node
    precedence = 2

    def __post_init__(self) -> None:
        self.children = (self.left, self.right)
        self.shape = (self.left.shape[0], self.right.shape[1])

    def axes(self, inner: Sequence[int]) -> int:
        return max(sum(inner) - 2, 0)  # (m, n) @ (n,) is (m,), (n,) @ (n,) a number

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return operands[0] @ operands[1]

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        a, b = operands
        with np.errstate(all="ignore"):
            return [upstream @ b.T if wanted[0] else np.zeros(()), a.T @ upstream if wanted[1] else np.zeros(())]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        a, b = operands
        with np.errstate(all="ignore"):
            return np.einsum("ikp,kj->ijp", tangents[0], b) + np.einsum("ik,kjp->ijp", a, tangents[1])

    def factor(self, k: int) -> Factor:
        a, b = self.left.show(), _bracket(self.right, 9)
        if k == 1:
            if self.shape[1] == 1:
                return Factor(a)
            return Factor(Shown(rf"{a.latex} \otimes I_{{{self.shape[1]}}}",
                                f"{a.text} ⊗ I{_sub_digits(self.shape[1])}"), "Kronecker: the product is Aᵀ U",
                          compound=True)
        rows = self.shape[0]
        return Factor(Shown(rf"I_{{{rows}}} \otimes {b.latex}^{{T}}", f"I{_sub_digits(rows)} ⊗ {b.text}ᵀ"),
                      f"Kronecker, block rows of {b.text}ᵀ: the product is the outer product U {b.text}ᵀ",
                      compound=True)

    def show(self) -> Shown:
        a, b = _bracket(self.left, 2), _bracket(self.right, 3)
        return Shown(f"{a.latex} {b.latex}", f"{a.text}{b.text}")


def _sub_digits(number: int) -> str:
    return str(number).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


@dataclass(eq=False)
class Transpose(Node):
    child: Node

    def __post_init__(self) -> None:
        self.shape, self.children = (self.child.shape[1], self.child.shape[0]), (self.child,)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return operands[0].T

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        return [np.swapaxes(upstream, -1, -2)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return np.swapaxes(tangents[0], 0, 1)

    def factor(self, k: int) -> Factor:
        return Factor(Shown(r"P_{T}", "Pᵀ"), "a permutation: the product reorders the entries")

    def show(self) -> Shown:
        inner = _bracket(self.child, 9)
        return Shown(inner.latex + "^{T}", inner.text + "ᵀ")


@dataclass(eq=False)
class Entry(Node):
    """x[i] or W[i, j]: local Jacobian the row e_kᵀ (k the entry's place, row-major)."""

    child: Node
    place: int
    label: str
    shape: Shape = (1, 1)

    def __post_init__(self) -> None:
        self.children = (self.child,)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return operands[0].reshape(-1)[self.place].reshape(1, 1)

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        gradient = np.zeros(upstream.shape[:-2] + (self.child.size,))
        gradient[..., self.place] = upstream[..., 0, 0]
        return [gradient.reshape(upstream.shape[:-2] + self.child.shape)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return tangents[0].reshape(self.child.size, -1)[self.place].reshape(1, 1, -1)

    def factor(self, k: int) -> Factor:
        return Factor(Shown(rf"e_{{{self.place + 1}}}^{{T}}", f"e{_sub_digits(self.place + 1)}ᵀ"),
                      "one entry: the product picks it")

    def show(self) -> Shown:
        inner = _bracket(self.child, 9)
        return Shown(rf"{inner.latex}_{{[{self.label}]}}", f"{inner.text}[{self.label}]")


@dataclass(eq=False)
class Dot(Node):
    left: Node
    right: Node
    shape: Shape = (1, 1)

    def __post_init__(self) -> None:
        self.children = (self.left, self.right)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return np.reshape(np.sum(operands[0].ravel() * operands[1].ravel()), (1, 1))

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        a, b = operands
        return [upstream * b.reshape(a.shape), upstream * a.reshape(b.shape)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        a, b = operands
        return (np.einsum("ij,ijp->p", b.reshape(a.shape), tangents[0])
                + np.einsum("ij,ijp->p", a.reshape(b.shape), tangents[1])).reshape(1, 1, -1)

    def factor(self, k: int) -> Factor:
        other = self.children[1 - k].show()
        return Factor(Shown(other.latex + "^{T}", other.text + "ᵀ"))

    def show(self) -> Shown:
        a, b = self.left.show(), self.right.show()
        return Shown(rf"{a.latex} \cdot {b.latex}", f"{a.text}·{b.text}")

# -- classifier pieces: leaky ReLU, GELU, cross-entropy on logits, mean squared error ------------------------------

def _leaky(slope: float) -> Elementwise:
    """leaky_relu with slope a below 0: a at the kink itself, the left side, as ReLU's H(0) = 0."""
    a = f"{slope:g}"
    return Elementwise(lambda z: np.where(z > 0, z, slope * z), lambda z: np.where(z > 0, 1.0, slope),
                       (rf"\operatorname{{leaky\_ReLU}}\left(@, {a}\right)", f"leaky_ReLU(@, {a})"),
                       (rf"\operatorname{{H}}\left(@\right) + {a} \left(1 - \operatorname{{H}}\left(@\right)\right)",
                        f"H(@) + {a}(1 − H(@))"))


def _erf(z: np.ndarray) -> np.ndarray:
    from jacmagic.chain.evaluate import jacmagic_erf

    return np.asarray(jacmagic_erf(z), dtype=float)


def _gelu(z: np.ndarray) -> np.ndarray:
    return 0.5 * z * (1.0 + _erf(z / np.sqrt(2.0)))


def _gelu_slope(z: np.ndarray) -> np.ndarray:
    """Φ(z) + z φ(z)."""
    with np.errstate(all="ignore"):
        return 0.5 * (1.0 + _erf(z / np.sqrt(2.0))) + z * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)


FUNCTIONS["gelu"] = Elementwise(_gelu, _gelu_slope, (r"\operatorname{GELU}\left(@\right)", "GELU(@)"),
                                (r"\Phi\left(@\right) + \left(@\right) \varphi\left(@\right)", "Φ(@) + (@)·φ(@)"))
FUNCTIONS["leaky_relu"] = _leaky(LEAKY_SLOPE)  # leaky_relu(z): the ML frameworks' default slope


@dataclass(eq=False)
class LeakyApply(Apply):
    """leaky_relu(z, a) for a number a: local Jacobian diag(1 above 0, a at and below)."""

    slope: float = LEAKY_SLOPE

    def __post_init__(self) -> None:
        super().__post_init__()
        self.function = _leaky(self.slope)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    top = z.max()
    return z - top - np.log(np.exp(z - top).sum())


def _pair(what: str, a: Node, b: Node) -> tuple[Node, Node]:
    if a.shape != b.shape:
        raise ValueError(f"{what} needs two arrays of one shape, got {a.shape[0]} x {a.shape[1]} and {b.shape[0]} x "
                         f"{b.shape[1]}")
    return a, b


def _row(slopes: Sequence[np.ndarray], tangents: Sequence[np.ndarray]) -> np.ndarray:
    """A number's tangents (1, 1, p): its local Jacobian rows (in the operands' shapes) times their tangents."""
    return sum(np.einsum("ij,ijp->p", s, t) for s, t in zip(slopes, tangents)).reshape(1, 1, -1)  # type: ignore[union-attr]


@dataclass(eq=False)
class CrossEntropy(Node):
    """cross_entropy(z, y) = -yᵀ log_softmax(z) of logits z, max-shifted (finite at z = 1000): logsumexp(z) - yᵀz
    for one-hot or probability y. Local Jacobians: (softmax(z) 1ᵀy - y)ᵀ, which is (softmax(z) - y)ᵀ when y
    sums to 1, and -log_softmax(z)ᵀ."""

    logits: Node
    targets: Node
    shape: Shape = (1, 1)

    def __post_init__(self) -> None:
        self.children = _pair("cross_entropy(z, y)", self.logits, self.targets)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        z, y = operands
        return np.reshape(-(y * _log_softmax(z)).sum(), (1, 1))

    def _slopes(self, z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.exp(_log_softmax(z)) * y.sum() - y, -_log_softmax(z)

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        return [_times(upstream, slope) for slope in self._slopes(*operands)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return _row(self._slopes(*operands), tangents)

    def factor(self, k: int) -> Factor:
        z, y = self.logits.show(), _bracket(self.targets, 9)
        if k == 1:
            return Factor(Shown(rf"-\operatorname{{log\_softmax}}\left({z.latex}\right)^{{T}}",
                                f"−log_softmax({z.text})ᵀ"))
        return Factor(Shown(rf"\left(\operatorname{{softmax}}\left({z.latex}\right) \mathbf{{1}}^{{T}} {y.latex} - "
                            rf"{y.latex}\right)^{{T}}", f"(softmax({z.text})·1ᵀ{y.text} − {y.text})ᵀ"),
                      f"(softmax({z.text}) − {y.text})ᵀ when {y.text} sums to 1 (one-hot or probabilities)")

    def show(self) -> Shown:
        z, y = self.logits.show(), self.targets.show()
        return Shown(rf"\operatorname{{cross\_entropy}}\left({z.latex}, {y.latex}\right)",
                     f"cross_entropy({z.text}, {y.text})")


@dataclass(eq=False)
class MeanSquaredError(Node):
    """mse(a, b) = mean((a - b)²): local Jacobians (2/n)(a - b)ᵀ and its negative."""

    left: Node
    right: Node
    shape: Shape = (1, 1)

    def __post_init__(self) -> None:
        self.children = _pair("mse(a, b)", self.left, self.right)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        a, b = operands
        return np.reshape(np.mean((a - b) ** 2), (1, 1))

    def _slopes(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        slope = 2.0 * (a - b) / a.size
        return slope, -slope

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        return [_times(upstream, slope) for slope in self._slopes(*operands)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return _row(self._slopes(*operands), tangents)

    def factor(self, k: int) -> Factor:
        a, b = self.left.show(), _bracket(self.right, 2)
        sign = "-" if k else ""
        return Factor(Shown(rf"{sign}\tfrac{{2}}{{{self.left.size}}}\left({a.latex} - {b.latex}\right)^{{T}}",
                            f"{'−' if k else ''}(2/{self.left.size})({a.text} − {b.text})ᵀ"))

    def show(self) -> Shown:
        a, b = self.left.show(), self.right.show()
        return Shown(rf"\operatorname{{mse}}\left({a.latex}, {b.latex}\right)", f"mse({a.text}, {b.text})")


def _leaky_call(z: Node, slope: Node | None = None) -> Node | None:
    """leaky_relu(z) or leaky_relu(z, a) for a number a (another slope: the entry-level reader's)."""
    if slope is None:
        return Apply("leaky_relu", z)
    return LeakyApply("leaky_relu", z, slope.value) if isinstance(slope, Number) else None


# Calls of more than one argument, by name: the argument counts, and the node they build (None: not at this level;
# a ValueError says the user's shape mistake).
CALLS: dict[str, tuple[tuple[int, ...], Callable[..., Node | None]]] = {
    "leaky_relu": ((1, 2), _leaky_call),
    "cross_entropy": ((2,), CrossEntropy),
    "mse": ((2,), MeanSquaredError),
}
