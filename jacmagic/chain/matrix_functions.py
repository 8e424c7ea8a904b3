"""Matrix functions beside the layer operations: tr(X), det(X), logdet(X) and inv(X) of a square matrix.

Each is an array operation as in `operations`: its value, its local Jacobian as a textbook writes it (vec(I)ᵀ for
the trace, det(X) vec(X⁻ᵀ)ᵀ for the determinant, −X⁻¹ ⊗ X⁻ᵀ for the inverse, row-major), and that Jacobian applied
without building it. Outside a function's domain (logdet of a matrix whose determinant is not positive, the inverse
of a singular matrix) the value is undefined (nan) and `undefined` says why, never a wrong number. The reader and the
tracer take them through `CALLS` (the layer operations' calls and these).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from jacmagic.chain import elementwise
from jacmagic.chain.functions import calls
from jacmagic.chain.operations import Factor, Node, Shown, bracket, short, times

# An inverse is refused beyond this condition number: its entries would be mostly rounding error.
SINGULAR_CONDITION = 1e13


def _square(what: str, child: Node) -> None:
    rows, cols = child.shape
    if rows != cols:
        raise ValueError(f"{what} needs a square matrix, got {rows} x {cols}")


def _inverse(x: np.ndarray) -> np.ndarray:
    """X⁻¹ (of each matrix of a stack), nan where X is singular or so near it that the inverse is noise."""
    with np.errstate(all="ignore"):
        if not np.isfinite(x).all() or np.linalg.cond(x) > SINGULAR_CONDITION:
            return np.full_like(x, np.nan)
        return np.linalg.inv(x)


def adjugate(x: np.ndarray) -> np.ndarray:
    """adj(X), the transposed cofactors, = det(X) X⁻¹, also where X is singular: from the SVD X = U S Vᵀ,
    adj(X) = det(U) det(V) V adj(S) Uᵀ with adj(S) = diag(∏_{j≠i} s_j)."""
    if not np.isfinite(x).all():
        return np.full_like(x, np.nan)
    u, s, vt = np.linalg.svd(x)
    others = np.array([np.prod(np.delete(s, i)) for i in range(s.size)])
    return float(np.linalg.det(u) * np.linalg.det(vt)) * (vt.T * others) @ u.T


def _vec_row(inner: Shown) -> Shown:
    return Shown(rf"\operatorname{{vec}}\left({inner.latex}\right)^{{T}}", f"vec({inner.text})ᵀ")


def _inverse_shown(child: Node, transposed: bool) -> Shown:
    x = bracket(child, 9)
    return Shown(f"{x.latex}^{{-T}}" if transposed else f"{x.latex}^{{-1}}", x.text + ("⁻ᵀ" if transposed else "⁻¹"))


@dataclass(eq=False)
class Trace(Node):
    """tr(X), the sum of the diagonal: local Jacobian vec(I)ᵀ, so ∂tr(X)/∂X = I."""

    child: Node
    shape: tuple[int, int] = (1, 1)

    def __post_init__(self) -> None:
        _square("tr(X)", self.child)
        self.children = (self.child,)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return np.reshape(np.trace(operands[0]), (1, 1))

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        return [upstream * np.eye(self.child.shape[0])]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return np.einsum("iip->p", tangents[0]).reshape(1, 1, -1)

    def factor(self, k: int) -> Factor:
        return Factor(_vec_row(Shown("I", "I")), "the diagonal entries: the product sums the upstream's diagonal")

    def show(self) -> Shown:
        x = self.child.show()
        return Shown(rf"\operatorname{{tr}}\left({x.latex}\right)", f"tr({x.text})")


@dataclass(eq=False)
class Determinant(Node):
    """det(X) (local Jacobian vec(adj(X)ᵀ)ᵀ = det(X) vec(X⁻ᵀ)ᵀ) or logdet(X) = log det(X) for det(X) > 0
    (vec(X⁻ᵀ)ᵀ)."""

    child: Node
    log: bool = False
    shape: tuple[int, int] = (1, 1)

    def __post_init__(self) -> None:
        _square("logdet(X)" if self.log else "det(X)", self.child)
        self.children = (self.child,)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        if not self.log:
            return np.reshape(np.linalg.det(operands[0]), (1, 1))
        sign, logabs = np.linalg.slogdet(operands[0])
        return np.reshape(logabs if sign > 0 else np.nan, (1, 1))

    def slope(self, x: np.ndarray) -> np.ndarray:
        """∂value/∂X in X's shape: the cofactor matrix adj(X)ᵀ, or X⁻ᵀ for logdet."""
        return _inverse(x).T if self.log else adjugate(x).T

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        return [times(upstream, self.slope(operands[0]))]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return elementwise.row([self.slope(operands[0])], tangents)

    def factor(self, k: int) -> Factor:
        row = _vec_row(_inverse_shown(self.child, transposed=True))
        if self.log:
            return Factor(row, "Jacobi's formula: d log det X = tr(X⁻¹ dX)")
        det = self.show()
        return Factor(Shown(rf"{det.latex} \, {row.latex}", f"{det.text}·{row.text}"),
                      "Jacobi's formula: d det X = det(X) tr(X⁻¹ dX)")

    def show(self) -> Shown:
        x = self.child.show()
        name = "logdet" if self.log else "det"
        return Shown(rf"\operatorname{{{name}}}\left({x.latex}\right)", f"{name}({x.text})")

    def outside_domain(self, operands: Sequence[np.ndarray], value: np.ndarray) -> np.ndarray | bool:
        return ~np.isfinite(value) if self.log else False

    def undefined(self, operands: Sequence[np.ndarray]) -> str:
        if self.log:
            det = float(np.linalg.det(operands[0]))
            return f"{short(self.show().text)} has no real value here: the determinant is {det:.4g}, not above 0"
        return super().undefined(operands)


@dataclass(eq=False)
class Inverse(Node):
    """inv(X) = X⁻¹: local Jacobian −X⁻¹ ⊗ X⁻ᵀ (row-major), from d(X⁻¹) = −X⁻¹ dX X⁻¹."""

    child: Node
    precedence = 4  # a power: (X⁻¹)ᵀ bracketed

    def __post_init__(self) -> None:
        _square("inv(X)", self.child)
        self.shape, self.children = self.child.shape, (self.child,)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return _inverse(operands[0])

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        return [-(value.T @ upstream @ value.T)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return -np.einsum("ik,klp,lj->ijp", value, tangents[0], value)

    def factor(self, k: int) -> Factor:
        a, b = _inverse_shown(self.child, transposed=False), _inverse_shown(self.child, transposed=True)
        return Factor(Shown(rf"-{a.latex} \otimes {b.latex}", f"−{a.text} ⊗ {b.text}"),
                      f"Kronecker: the product is −{b.text} U {b.text}", compound=True)

    def show(self) -> Shown:
        return _inverse_shown(self.child, transposed=False)

    def outside_domain(self, operands: Sequence[np.ndarray], value: np.ndarray) -> np.ndarray | bool:
        return ~np.isfinite(value)

    def undefined(self, operands: Sequence[np.ndarray]) -> str:
        return f"{short(self.child.show().text)} is singular here (its determinant is " \
               f"{float(np.linalg.det(operands[0])):.4g}): it has no inverse"


MATRIX_NODES = (Trace, Determinant, Inverse)
# The calls of the layer reader and the def tracer: the layer operations' and these (a ValueError: a shape mistake).
CALLS: dict[str, tuple[tuple[int, ...], Callable[..., Node | None]]] = {**elementwise.CALLS, **calls({
    "Trace": Trace, "Determinant": Determinant, "LogDeterminant": lambda x: Determinant(x, log=True),
    "Inverse": Inverse})}
