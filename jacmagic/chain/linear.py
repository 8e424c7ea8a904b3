"""The linear operations that move entries around: the matrix product A @ B (local Jacobians A ⊗ I and I ⊗ Bᵀ),
the transpose (a permutation), one entry x[i] (a unit row), and dot(a, b)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jacmagic.chain.operations import Factor, Node, Shape, Shown, bracket, subscript_digits


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
        a, b = self.left.show(), bracket(self.right, 9)
        if k == 1:
            if self.shape[1] == 1:
                return Factor(a)
            return Factor(Shown(rf"{a.latex} \otimes I_{{{self.shape[1]}}}",
                                f"{a.text} ⊗ I{subscript_digits(self.shape[1])}"), "Kronecker: the product is Aᵀ U",
                          compound=True)
        rows = self.shape[0]
        return Factor(Shown(rf"I_{{{rows}}} \otimes {b.latex}^{{T}}", f"I{subscript_digits(rows)} ⊗ {b.text}ᵀ"),
                      f"Kronecker, block rows of {b.text}ᵀ: the product is the outer product U {b.text}ᵀ",
                      compound=True)

    def show(self) -> Shown:
        a, b = bracket(self.left, 2), bracket(self.right, 3)
        return Shown(f"{a.latex} {b.latex}", f"{a.text}{b.text}")


@dataclass(eq=False)
class Transpose(Node):
    child: Node
    precedence = 3  # xᵀ is a superscript: (xᵀ)², never x^{T}^{2}

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
        inner = bracket(self.child, 9)
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
        return Factor(Shown(rf"e_{{{self.place + 1}}}^{{T}}", f"e{subscript_digits(self.place + 1)}ᵀ"),
                      "one entry: the product picks it")

    def show(self) -> Shown:
        inner = bracket(self.child, 9)
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


@dataclass(eq=False)
class Diagonal(Node):
    """W.diagonal(), np.diag(W): the entries W[i, i] as a column, as long as the shorter side. One operation, not
    a bracket of one entry operation per place: shown as one, walked once (1000 x 1000: half the CPU time of the
    entries). Local Jacobian: the unit rows e_kᵀ of the diagonal's places (row-major)."""

    child: Node

    def __post_init__(self) -> None:
        self.children = (self.child,)
        self.shape = (min(self.child.shape), 1)

    def places(self) -> np.ndarray:
        return np.arange(self.shape[0]) * (self.child.shape[1] + 1)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return operands[0].reshape(-1)[self.places()].reshape(self.shape)

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        gradient = np.zeros(upstream.shape[:-2] + (self.child.size,))
        gradient[..., self.places()] = upstream[..., :, 0]
        return [gradient.reshape(upstream.shape[:-2] + self.child.shape)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return tangents[0].reshape(self.child.size, -1)[self.places()].reshape(self.shape + (-1,))

    def factor(self, k: int) -> Factor:
        return Factor(Shown(r"P_{\operatorname{diagonal}}", "P_diagonal"),
                      "the unit rows of the diagonal's places: the product picks those entries")

    def show(self) -> Shown:
        inner = self.child.show()
        return Shown(rf"\operatorname{{diagonal}}\left({inner.latex}\right)", f"diagonal({inner.text})")
