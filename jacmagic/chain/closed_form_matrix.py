"""The closed forms of the matrix functions (tr, det, logdet, inv) and the identities a textbook applies to them.

Beside the layer operations' rules in `closed_form`: ∂tr(X)/∂X = I, Jacobi's formula ∂det(X)/∂X = det(X) X⁻ᵀ and
∂log det X/∂X = X⁻ᵀ, ∂(X⁻¹) pulled back as −X⁻ᵀ G X⁻ᵀ; products with I left out; X⁻¹X = I and X⁻ᵀXᵀ = I cancelled;
(X⁻¹)⁻ᵀ = Xᵀ; ‖u‖ · u/‖u‖ = u (so ∂‖u‖²/∂u = 2u); eᶻ/(eᶻ + 1) = σ(z). Each rule is named as it fires.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from jacmagic.chain import closed_form_tree as t
from jacmagic.chain.matrix_functions import Determinant, Inverse, Trace
from jacmagic.chain.operations import Node

Expr = t.Expr
Rule = Callable[[str], None]


@dataclass(frozen=True)
class Identity(Expr):
    """I, n x n: what the trace's gradient is; left out of a product."""

    n: int

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.n, self.n)

    def _show(self, form: str, names: t.Forms | None) -> str:
        return f"np.eye({self.n})" if form == "python" else "I"

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.eye(self.n)


@dataclass(frozen=True)
class Diagonal(Expr):
    """diag(v): the Jacobian of an entry-by-entry function of a vector."""

    vector: Expr

    @property
    def shape(self) -> tuple[int, ...]:
        n = self.vector.shape[0] * self.vector.shape[1]
        return (n, n)

    def _show(self, form: str, names: t.Forms | None) -> str:
        v = self.vector.show(form, names)
        return {"latex": rf"\operatorname{{diag}}\left({v}\right)", "text": f"diag({v})",
                "python": f"np.diag(np.ravel({v}))"}[form]

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.diag(np.ravel(self.vector.evaluate(values)))


# kind: (value, latex, text, python, is a number); # is the operand bracketed as a power's base
_KINDS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str, str, str, bool]] = {
    "tr": (np.trace, r"\operatorname{tr}\left(@\right)", "tr(@)", "np.trace(@).reshape(1, 1)", True),
    "det": (np.linalg.det, r"\det\left(@\right)", "det(@)", "np.linalg.det(@).reshape(1, 1)", True),
    "logdet": (lambda x: np.linalg.slogdet(x)[1], r"\log\det\left(@\right)", "log det(@)",
               "np.linalg.slogdet(@)[1].reshape(1, 1)", True),
    "inv": (np.linalg.inv, "#^{-1}", "#⁻¹", "np.linalg.inv(@)", False),
    "invT": (lambda x: np.linalg.inv(x).T, "#^{-T}", "#⁻ᵀ", "np.linalg.inv(@).T", False),
}


@dataclass(frozen=True)
class MatrixOf(Expr):
    """tr(X), det(X), log det(X), X⁻¹ or X⁻ᵀ."""

    kind: str
    arg: Expr

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return 9 if _KINDS[self.kind][4] else 4  # X⁻¹ is a power: (AB)⁻¹, (X⁻¹)ᵀ bracketed

    @property
    def shape(self) -> tuple[int, ...]:
        if _KINDS[self.kind][4]:
            return (1, 1)
        return self.arg.shape[::-1] if self.kind == "invT" else self.arg.shape

    def _show(self, form: str, names: t.Forms | None) -> str:
        template = str(_KINDS[self.kind][1 + t.FORMS.index(form)])
        return template.replace("@", self.arg.show(form, names)).replace("#", t._bracket(self.arg, 9, form, names))

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.reshape(_KINDS[self.kind][0](self.arg.evaluate(values)), self.shape)


# -- the forward values ---------------------------------------------------------------------------------------------

def convert(node: Node, arg: Expr) -> Expr:
    """A matrix function's value as a formula."""
    if isinstance(node, Trace):
        return MatrixOf("tr", arg)
    if isinstance(node, Determinant):
        return MatrixOf("logdet" if node.log else "det", arg)
    return inverse(arg, lambda words: None)


def inverse(e: Expr, rule: Rule) -> Expr:
    if isinstance(e, MatrixOf) and e.kind == "inv":
        rule("(X⁻¹)⁻¹ = X")
        return e.arg
    return MatrixOf("inv", e)


def inverse_transposed(e: Expr, rule: Rule, transpose: Callable[[Expr], Expr]) -> Expr:
    """X⁻ᵀ; (X⁻¹)⁻ᵀ = Xᵀ."""
    if isinstance(e, MatrixOf) and e.kind == "inv":
        rule("(X⁻¹)⁻ᵀ = Xᵀ")
        return transpose(e.arg)
    return MatrixOf("invT", e)


# -- the identities, as the composer builds --------------------------------------------------------------------------

def flipped(e: Expr) -> Expr | None:
    """Iᵀ = I, (X⁻¹)ᵀ = X⁻ᵀ and back; None when this is not one of these."""
    if isinstance(e, Identity):
        return e
    if isinstance(e, MatrixOf) and e.kind in ("inv", "invT"):
        return MatrixOf("invT" if e.kind == "inv" else "inv", e.arg)
    return None


def _cancels(a: Expr, b: Expr) -> bool:
    """Is a b the identity? X⁻¹X, XX⁻¹, X⁻ᵀXᵀ, XᵀX⁻ᵀ."""
    for first, second in ((a, b), (b, a)):
        if isinstance(first, MatrixOf) and first.kind == "inv" and second == first.arg:
            return True
        if isinstance(first, MatrixOf) and first.kind == "invT" and isinstance(second, t.Flip) and \
                second.inner == first.arg:
            return True
    return False


def product(a: Expr, b: Expr, rule: Rule) -> Expr | None:
    """A B simplified: I left out, X⁻¹X = I (also when X⁻¹ ends a product); None when nothing applies."""
    if isinstance(a, Identity) and not b.scalar:
        return b
    if isinstance(b, Identity) and not a.scalar:
        return a
    if isinstance(a, Diagonal) and isinstance(b, Diagonal):
        rule("diag(u)diag(v) = diag(u ⊙ v)")
        return Diagonal(t.Hadamard(a.vector, b.vector))
    if isinstance(a, Diagonal) and isinstance(b, t.MatProduct) and isinstance(b.left, Diagonal):
        return t.MatProduct(product(a, b.left, rule), b.right)  # type: ignore[arg-type]
    if _cancels(a, b):
        rule("X⁻¹X = I")
        return Identity(int(a.shape[0]))
    if isinstance(a, t.MatProduct) and _cancels(a.right, b):
        rule("X⁻¹X = I")
        return a.left
    return None


def norm_back(g: Expr, u: Expr, rule: Rule, hadamard: Callable[[Expr, Expr], Expr],
              quotient: Callable[[Expr, Expr], Expr], scale: Callable[[float, Expr], Expr]) -> Expr:
    """g · u/‖u‖, with ‖u‖ cancelled when g carries it (the square of a norm): ∂‖u‖²/∂u = 2u."""
    factor, inner = (g.factor, g.inner) if isinstance(g, t.Scale) else (1.0, g)
    norm = t.Total("norm", u)
    if inner == norm:
        rule("‖u‖ · u/‖u‖ = u: ∂‖u‖²/∂u = 2u")
        return scale(factor, u)
    return hadamard(g, quotient(u, norm))


def logistic(a: Expr, b: Expr, rule: Rule) -> tuple[Expr, Expr] | None:
    """(g, σ(z)) for g/(eᶻ + 1) ⊙ eᶻ in either order: the logistic function from the quotient."""
    for first, second in ((a, b), (b, a)):
        if not (isinstance(first, t.Quotient) and isinstance(first.right, t.Sum) and len(first.right.terms) == 2):
            continue
        exp, one = first.right.terms
        if isinstance(exp, t.Function) and exp.name == "exp" and one == t.Const(1.0) and \
                isinstance(second, t.Function) and second.name == "exp" and second.arg == exp.arg:
            rule("eᶻ/(eᶻ + 1) = σ(z)")
            return first.left, t.Function("sigmoid", exp.arg)
    return None


# -- reverse mode -------------------------------------------------------------------------------------------------

class Composer(Protocol):
    """What `closed_form._Composer` offers these rules (structural: no import of it here)."""

    def rule(self, words: str) -> None: ...
    def scale(self, factor: float, e: Expr) -> Expr: ...
    def hadamard(self, a: Expr, b: Expr) -> Expr: ...
    def matmul(self, a: Expr, b: Expr) -> Expr: ...
    def transpose(self, e: Expr) -> Expr: ...


def back(c: Composer, node: Node, u: Expr, g: Expr) -> Expr:
    """The upstream g through a matrix function of u, to u."""
    if isinstance(node, Trace):
        c.rule("∂tr(X)/∂X = I")
        return c.hadamard(g, Identity(node.child.shape[0]))
    if isinstance(node, Inverse):
        c.rule("∂(X⁻¹): the upstream G goes back as −X⁻ᵀ G X⁻ᵀ")
        x_t = inverse_transposed(u, c.rule, c.transpose)
        return c.scale(-1, c.matmul(c.matmul(x_t, g), x_t))
    assert isinstance(node, Determinant)
    x_t = inverse_transposed(u, c.rule, c.transpose)
    factor, inner = (g.factor, g.inner) if isinstance(g, t.Scale) else (1.0, g)
    if node.log:
        c.rule("∂log det X/∂X = X⁻ᵀ")
        return c.hadamard(g, x_t)
    if isinstance(inner, t.Quotient) and inner.right == MatrixOf("det", u):  # log(det(X)): det(X) cancels
        c.rule("∂log det X/∂X = X⁻ᵀ (log of Jacobi's formula: det X cancels)")
        return c.scale(factor, c.hadamard(inner.left, x_t))
    c.rule("Jacobi's formula: ∂det(X)/∂X = det(X) X⁻ᵀ")
    return c.hadamard(g, c.hadamard(MatrixOf("det", u), x_t))

