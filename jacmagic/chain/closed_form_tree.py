"""The expression tree of the closed forms (`closed_form`): small frozen formulas of matrix calculus, no sympy.

Each node is shown as LaTeX, as text and as numpy source (`show`), with a name in place of any subexpression the
caller names (the generated code's stages), and evaluated with numpy at named values, so a formula is checked
against the walkthrough's numbers. Frozen dataclasses compare by structure: that is how a rule recognises a
pattern (the upstream −y/p meeting the softmax p) and a common factor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from jacmagic.chain.closed_form_source import PYTHON
from jacmagic.chain.functions import FUNCTIONS
from jacmagic.chain.operations import named
from jacmagic.chain.reductions import along_values

Forms = Mapping["Expr", str]  # subexpressions written as a name instead (the generated code's stages)
FORMS = ("latex", "text", "python")


# -- the expression tree ----------------------------------------------------------------------------------------

class Expr:
    """A formula: shown as LaTeX, text or numpy source (`show`), evaluated at named values (`evaluate`)."""

    precedence = 9  # 1 sums, 2 element-wise products and quotients, 3 matrix products, 4 powers, 9 atoms

    @property
    def shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def show(self, form: str, names: Forms | None = None) -> str:
        if names and self in names:
            return names[self]
        return self._show(form, names)

    def _show(self, form: str, names: Forms | None) -> str:
        raise NotImplementedError

    def latex(self) -> str:
        return self.show("latex")

    def text(self) -> str:
        return self.show("text")

    def python(self, names: Forms | None = None) -> str:
        return self.show("python", names)

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    @property
    def scalar(self) -> bool:
        return self.shape == (1, 1)


def children(expr: Expr) -> list[Expr]:
    """The formulas a formula is made of: its fields that are formulas, or tuples of them."""
    found: list[Expr] = []
    for name in getattr(expr, "__dataclass_fields__", {}):
        value = getattr(expr, name)
        if isinstance(value, Expr):
            found.append(value)
        elif isinstance(value, tuple):
            found.extend(v for v in value if isinstance(v, Expr))
    return found


def written_size(parts: Sequence[Expr], limit: int) -> int:
    """The operations of `parts` written out, a shared part once per use (counted once per part, so linear in the
    parts however often they are shared), stopping just past `limit`."""
    known: dict[int, int] = {}

    def size(e: Expr) -> int:
        if id(e) not in known:
            total = 1
            for child in children(e):
                total += size(child)
                if total > limit:
                    break
            known[id(e)] = min(total, limit + 1)
        return known[id(e)]
    return min(sum(size(p) for p in parts), limit + 1)


# How a product's or a numerator's part must bind to stand unbracketed: Wᵀg ⊙ H(z), Ax/b (numpy's * and @ alike).
_TIGHTER = {"latex": 3, "text": 3, "python": 4}


def _bracket(expr: Expr, above: int, form: str, names: Forms | None) -> str:
    shown = expr.show(form, names)
    if expr.precedence >= above or (names and expr in names):
        return shown
    return rf"\left({shown}\right)" if form == "latex" else f"({shown})"


@dataclass(frozen=True)
class Name(Expr):
    """An input or a line's value, by its name."""

    name: str
    size: tuple[int, int]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.size

    def _show(self, form: str, names: Forms | None) -> str:
        return self.name if form == "python" else getattr(named(self.name), form)

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(values[self.name], dtype=float).reshape(self.size)


@dataclass(frozen=True)
class Const(Expr):
    value: float

    @property
    def shape(self) -> tuple[int, ...]:
        return (1, 1)

    def _show(self, form: str, names: Forms | None) -> str:
        return repr(self.value) if form == "python" else f"{self.value:g}".replace("-", "−" if form == "text" else "-")

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.full((1, 1), self.value)


# value: (numpy's name, latex, text)
_FILLED = {1: ("ones", r"\mathbf{1}", "𝟏"), 0: ("zeros", r"\mathbf{0}", "𝟎")}


@dataclass(frozen=True)
class Filled(Expr):
    """𝟏 or 𝟎 in an array's shape: ones are what a sum's gradient is, zeros the gradient of a variable nothing
    differentiable flows from (only a condition's). Build them with `ones` and `zeros`."""

    value: int
    size: tuple[int, int]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.size

    def _show(self, form: str, names: Forms | None) -> str:
        numpy, latex, text = _FILLED[self.value]
        row = self.value == 1 and self.size[0] == 1 < self.size[1]  # 𝟏ᵀ: a row of ones (𝟎 is 𝟎 in any shape)
        return {"latex": latex + "^{T}" * row, "text": text + "ᵀ" * row, "python": f"np.{numpy}({self.size})"}[form]

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.full(self.size, float(self.value))


def ones(size: tuple[int, int]) -> Filled:
    return Filled(1, size)


def zeros(size: tuple[int, int]) -> Filled:
    return Filled(0, size)


def is_ones(e: Expr) -> bool:
    """Is e all ones (what ⊙ and a 1 x 1 product leave out)?"""
    return isinstance(e, Filled) and e.value == 1


@dataclass(frozen=True)
class Flip(Expr):
    """Aᵀ (of a name or a function: transposes of products and sums are pushed inward when built)."""

    inner: Expr
    precedence = 4  # a superscript, as a power: (Aᵀ)², never A^{T}^{2}

    @property
    def shape(self) -> tuple[int, ...]:
        return self.inner.shape[::-1]

    def _show(self, form: str, names: Forms | None) -> str:
        inner = _bracket(self.inner, 9, form, names)
        return inner + {"latex": "^{T}", "text": "ᵀ", "python": ".T"}[form]

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.inner.evaluate(values).T


@dataclass(frozen=True)
class MatProduct(Expr):
    """A B; an outer product u vᵀ when a column meets a row."""

    left: Expr
    right: Expr
    precedence = 3

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.left.shape[0], self.right.shape[1])

    def _show(self, form: str, names: Forms | None) -> str:
        right = 3 if isinstance(self.right, MatProduct) and form != "python" else 4  # A(BC) = ABC
        a, b = _bracket(self.left, 3, form, names), _bracket(self.right, right, form, names)
        spaced = re.match(r"[a-z]{2,}\(", b) is not None  # A diag(v): a function's name apart from the matrix
        if form == "python":  # a number's product is numpy's *: the number may be a float (2 @ x fails)
            return f"{a} * {b}" if self.left.scalar or self.right.scalar else f"{a} @ {b}"
        return f"{a} {b}" if form == "latex" or spaced else a + b

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.left.evaluate(values) @ self.right.evaluate(values)


def _broadcast(*parts: Expr) -> tuple[int, ...]:
    return tuple(np.broadcast_shapes(*(p.shape for p in parts)))


@dataclass(frozen=True)
class Hadamard(Expr):
    """u ⊙ v entry by entry (a number times an array when one is 1 x 1)."""

    left: Expr
    right: Expr
    precedence = 2

    @property
    def shape(self) -> tuple[int, ...]:
        return _broadcast(self.left, self.right)

    def _show(self, form: str, names: Forms | None) -> str:
        a, b = (p.show(form, names) if isinstance(p, Hadamard) and form != "python" else
                _bracket(p, _TIGHTER[form], form, names) for p in (self.left, self.right))  # u ⊙ v ⊙ w: associative
        if form == "python":
            return f"{a} * {b}"
        if self.left.scalar or self.right.scalar:
            return f"{a} \\, {b}" if form == "latex" else f"{a}·{b}"
        return f"{a} \\odot {b}" if form == "latex" else f"{a} ⊙ {b}"

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.left.evaluate(values) * self.right.evaluate(values)


@dataclass(frozen=True)
class Quotient(Expr):
    """u / v entry by entry."""

    left: Expr
    right: Expr
    precedence = 2

    @property
    def shape(self) -> tuple[int, ...]:
        return _broadcast(self.left, self.right)

    def _show(self, form: str, names: Forms | None) -> str:
        if form == "latex":
            return rf"\frac{{{self.left.latex()}}}{{{self.right.latex()}}}"
        a, b = _bracket(self.left, _TIGHTER[form], form, names), _bracket(self.right, 4, form, names)
        return f"{a} / {b}" if form == "python" else f"{a}/{b}"

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 (a zero column's z/‖z‖): undefined, nan
            return self.left.evaluate(values) / self.right.evaluate(values)


@dataclass(frozen=True)
class Scale(Expr):
    """c u for a number c (−u for −1)."""

    factor: float
    inner: Expr

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return 1 if self.factor < 0 else 2 if self._binding("text") == 2 else 3

    def _binding(self, form: str) -> int:
        """How tightly the inner formula must bind to stand unbracketed: a product need not (2(a − t)·a means
        2((a − t)·a)), a formula starting with a number must (2(3·a), never 23·a)."""
        first: Expr = self.inner
        while isinstance(first, (Hadamard, Quotient, MatProduct, Flip, Power)):
            first = first.base if isinstance(first, Power) else first.inner if isinstance(first, Flip) else first.left
        return 4 if form == "python" else 10 if isinstance(first, (Const, Scale)) else 3 - (self.inner.precedence == 2)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.inner.shape

    def _show(self, form: str, names: Forms | None) -> str:
        inner = _bracket(self.inner, self._binding(form), form, names)
        if form == "python":
            return f"-{inner}" if self.factor == -1 else f"{self.factor!r} * {inner}"
        minus = "-" if form == "latex" else "−"
        size = abs(self.factor)
        ratio = Fraction(size).limit_denominator(1000)
        number = "" if size == 1 else f"{size:g}" if ratio.denominator == 1 or abs(ratio - size) > 1e-12 else \
            rf"\tfrac{{{ratio.numerator}}}{{{ratio.denominator}}}" if form == "latex" else f"({ratio})"
        return (minus if self.factor < 0 else "") + number + (" " if number and form == "latex" else "") + inner

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.factor * self.inner.evaluate(values)


@dataclass(frozen=True)
class Sum(Expr):
    terms: tuple[Expr, ...]
    precedence = 1

    @property
    def shape(self) -> tuple[int, ...]:
        return _broadcast(*self.terms)

    def _show(self, form: str, names: Forms | None) -> str:
        minus = {"latex": " - ", "text": " − ", "python": " - "}[form]
        shown = self.terms[0].show(form, names)
        for term in self.terms[1:]:
            if isinstance(term, Scale) and term.factor < 0 and not (names and term in names):
                positive = term.inner if term.factor == -1 else Scale(-term.factor, term.inner)
                shown += minus + _bracket(positive, 2, form, names)
            else:
                shown += " + " + _bracket(term, 2, form, names)
        return shown

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return sum((t.evaluate(values) for t in self.terms[1:]), self.terms[0].evaluate(values))


@dataclass(frozen=True)
class Power(Expr):
    """uᵏ entry by entry."""

    base: Expr
    exponent: float
    precedence = 4

    @property
    def shape(self) -> tuple[int, ...]:
        return self.base.shape

    def _show(self, form: str, names: Forms | None) -> str:
        base = _bracket(self.base, 9, form, names)
        if form == "python":
            return f"{base}**{self.exponent:g}"
        if form == "latex":
            return f"{base}^{{{self.exponent:g}}}"
        return base + f"{self.exponent:g}".translate(str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·"))

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.power(self.base.evaluate(values), self.exponent)


# -- functions: element-wise ones (and their derivatives) from `operations`, softmax and reductions here ---------

def _whole(kind: str) -> Callable[[np.ndarray], np.ndarray]:
    """softmax, log_softmax or logsumexp of all the entries: the walk's one computation."""
    return lambda z: along_values(kind, z, None)


_VECTOR: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str, str]] = {  # name: (value, latex, text)
    "softmax": (_whole("softmax"), r"\operatorname{softmax}\left(@\right)", "softmax(@)"),
    "log_softmax": (_whole("log_softmax"), r"\operatorname{log\_softmax}\left(@\right)", "log_softmax(@)"),
}


def _precedence(shown: str) -> int:
    """How a function's shown form binds, from its text (@ the operand): 9 a call (cos(@), sec²(@)), 3 calls side
    by side (σ(@)(1 − σ(@))), 2 a quotient or a product with · (1/√(1 − (@)²)), 1 a sum or a minus sign (−sin(@)):
    so that erf′(u)ᵀ is (2/√π·exp(−u²))ᵀ, never a second superscript on the exponential."""
    while (flat := re.sub(r"\([^()]*\)", "§", shown)) != shown:  # each bracketed group one mark
        shown = flat
    if shown.startswith("−") or " + " in shown or " − " in shown:
        return 1
    if "/" in shown or "·" in shown:
        return 2
    return 9 if shown.count("§") <= 1 else 3


# The derivatives' precedences: bracketed inside a product or under a transpose where they are compound.
_COMPOUND = {name: _precedence(function.derivative_show[1]) for name, function in FUNCTIONS.items()}


@dataclass(frozen=True)
class Function(Expr):
    """f(u) entry by entry, or its derivative f'(u) (relu' is H, the Heaviside step); softmax of a vector."""

    name: str
    arg: Expr
    derivative: bool = False

    @property
    def precedence(self) -> int:  # type: ignore[override]
        if self.name == "exp":  # e^{u} is a power: (e^{u})^{2}, never e^{u}^{2}
            return Power.precedence
        return _COMPOUND.get(self.name, 9) if self.derivative else 9

    @property
    def shape(self) -> tuple[int, ...]:
        return self.arg.shape

    def _show(self, form: str, names: Forms | None) -> str:
        if form == "python":
            arg = self.arg.show(form, names)
            return PYTHON[self.name][self.derivative].replace("@", arg).replace("#", _bracket(self.arg, 9, form, names))
        if self.name in _VECTOR:
            template = str(_VECTOR[self.name][1 if form == "latex" else 2])
        else:
            shows = FUNCTIONS[self.name].derivative_show if self.derivative else FUNCTIONS[self.name].show
            template = shows[0 if form == "latex" else 1]
        return template.replace("@", self.arg.show(form, names))

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        z = self.arg.evaluate(values)
        if self.name in _VECTOR:
            return _VECTOR[self.name][0](z)
        function = FUNCTIONS[self.name]
        return (function.derivative if self.derivative else function.value)(z)


# value, latex, text, python: a number 1 x 1 in the printed code too, so that it may stand in a product (c @ bᵀ)
_TOTALS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str, str, str]] = {
    "sum": (lambda z: np.sum(z, keepdims=True), r"\operatorname{sum}\left(@\right)", "sum(@)",
            "np.sum(@, keepdims=True)"),
    "mean": (lambda z: np.mean(z, keepdims=True), r"\operatorname{mean}\left(@\right)", "mean(@)",
             "np.mean(@, keepdims=True)"),
    "norm": (lambda z: np.reshape(np.linalg.norm(z), (1, 1)), r"\lVert @ \rVert", "‖@‖",
             "np.linalg.norm(@, keepdims=True)"),
    "logsumexp": (_whole("logsumexp"), r"\operatorname{logsumexp}\left(@\right)", "logsumexp(@)", "logsumexp(@)"),
}


@dataclass(frozen=True)
class Total(Expr):
    """A number from all the entries: sum(u), mean(u), ‖u‖, logsumexp(u)."""

    kind: str
    arg: Expr

    @property
    def shape(self) -> tuple[int, ...]:
        return (1, 1)

    def _show(self, form: str, names: Forms | None) -> str:
        template = str(_TOTALS[self.kind][1 + FORMS.index(form)])
        return template.replace("@", self.arg.show(form, names))

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return _TOTALS[self.kind][0](self.arg.evaluate(values))
