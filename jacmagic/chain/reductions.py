"""Reductions (sum, mean, max, min, norm, logsumexp) and softmax, over all entries or along an axis as numpy does.

`axis=0` works per column, `axis=1` per row: a reduction along axis 0 gives a row (1 x k), along axis 1 a column
(n x 1), and a softmax along an axis normalises each column (or row) on its own. With a batch in the columns
(X: 64 x 32, one example per column) the examples do not mix: the local Jacobian is block-diagonal, one block per
column, each the textbook's single-vector form (a row of ones for sum, diag(s) − s sᵀ for softmax).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jacmagic.chain.operations import Factor, Node, Shape, Shown, short, times

Axis = int | None  # None: all entries; 0: per column; 1: per row


def along(axis: Axis, tangents: bool = False) -> tuple[int, ...]:
    """The axes a reduction along `axis` runs over: of values and gradients (..., r, c), counted from the end, or
    of tangents (r, c, p), from the start."""
    axes = (0, 1) if axis is None else (axis,)
    return axes if tangents else tuple(a - 2 for a in axes)


def reduced(shape: Shape, axis: Axis) -> Shape:
    """numpy's shape with keepdims: a number over all entries, a row per column (axis 0), a column per row (1)."""
    return (1, 1) if axis is None else (1, shape[1]) if axis == 0 else (shape[0], 1)


_REDUCTIONS: dict[str, Callable[..., Any]] = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min,
                                              "norm": np.linalg.norm}


def along_values(kind: str, z: np.ndarray, axis: Axis) -> np.ndarray:
    """The value of a reduction (`Reduce`'s kinds, with numpy's keepdims) or of softmax or log_softmax of z along
    `axis`: the walk's and the closed form's (`closed_form_more.Along`, `SoftmaxAlong`) one computation. logsumexp
    and the softmaxes are shifted by the largest entry (no overflow)."""
    axes = along(axis)
    if kind not in ("logsumexp", "softmax", "log_softmax"):
        return np.asarray(_REDUCTIONS[kind](z, axis=axes, keepdims=True), dtype=float)
    top = z.max(axis=axes, keepdims=True)
    if kind == "softmax":
        e = np.exp(z - top)
        return e / e.sum(axis=axes, keepdims=True)
    total = np.log(np.exp(z - top).sum(axis=axes, keepdims=True))
    return top + total if kind == "logsumexp" else z - top - total


def first_of(hits: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """The first True of `hits` along `axes` (both last two: in row-major order), as np.argmax picks the first of
    tied entries: the one a tied max or min gives the whole slope to, at every level."""
    flat = hits.reshape(*hits.shape[:-2], -1) if len(axes) == 2 else hits
    first = flat & (np.cumsum(flat, axis=-1 if len(axes) == 2 else axes[0]) == 1)
    return first.reshape(hits.shape)


def _per(axis: Axis) -> str:
    return "column" if axis == 0 else "row"


def _slice(z: Shown, axis: Axis) -> Shown:
    """One column z[:, j] (axis 0) or row z[i, :] (axis 1) of z."""
    if axis is None:
        return z
    index = ":,j" if axis == 0 else "i,:"
    return Shown(rf"{z.latex}_{{[{index}]}}", f"{z.text}[{index.replace(',', ', ')}]")


def _blocks(block: Shown, axis: Axis, words: str) -> Factor:
    """A local Jacobian of one block per column (or row), each `block` for that slice alone."""
    index = "j" if axis == 0 else "i"
    return Factor(Shown(rf"\operatorname{{blockdiag}}_{{{index}}}\left({block.latex}\right)",
                        f"blockdiag_{index}({block.text})"),
                  f"block-diagonal: one block per {_per(axis)}, each {_per(axis)} on its own (a batch's examples do "
                  f"not mix){words}", compound=True)


def _axis_shown(axis: Axis) -> tuple[str, str]:
    return ("", "") if axis is None else (rf",\ \text{{axis}}={axis}", f", axis={axis}")


@dataclass(eq=False)
class Reduce(Node):
    """sum, mean, max, min, norm, logsumexp of all entries (local Jacobian one row) or along an axis (one row per
    column or row: block-diagonal)."""

    kind: str
    child: Node
    axis: Axis = None

    def __post_init__(self) -> None:
        self.children = (self.child,)
        self.shape = reduced(self.child.shape, self.axis)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return along_values(self.kind, operands[0], self.axis)

    def row(self, z: np.ndarray, value: np.ndarray) -> np.ndarray:
        """The local Jacobian, in the operand's shape: each entry's slope within its column, row or the whole."""
        if self.kind == "sum":
            return np.ones_like(z)
        if self.kind == "mean":
            return np.full_like(z, self.shape[0] * self.shape[1] / z.size)
        if self.kind in ("max", "min"):
            return first_of(z == value, along(self.axis)).astype(float)
        if self.kind == "norm":
            with np.errstate(all="ignore"):
                return z / value
        return np.exp(z - value)  # logsumexp: softmax(z)

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        return [times(upstream, self.row(operands[0], value))]

    def kinks(self, operands: Sequence[np.ndarray]) -> np.ndarray | bool:
        """A max or min whose extreme entry is tied (per column, row or the whole): the first of the tied takes
        the slope, one side's; a break only where what follows depends on the max (`network_walk.breaks`)."""
        if self.kind not in ("max", "min"):
            return False
        hits = operands[0] == self.evaluate(operands)
        return np.asarray(hits.sum(axis=along(self.axis), keepdims=True) > 1)

    def unsloped(self, operands: Sequence[np.ndarray]) -> str | None:
        """A norm has no derivative where what it measures is 0 (a cone's tip)."""
        if self.kind != "norm" or not (self.evaluate(operands) == 0).any():
            return None
        where = "every entry is 0" if self.axis is None else f"a {_per(self.axis)} is 0"
        return f"{short(self.show().text)} has no derivative where {where}"

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        slopes = self.row(operands[0], value)[..., None]
        return (slopes * tangents[0]).sum(axis=along(self.axis, tangents=True), keepdims=True)

    def factor(self, k: int) -> Factor:
        z = _slice(self.child.show(), self.axis)
        n = self.child.size if self.axis is None else self.child.shape[self.axis]
        shown = {
            "sum": (Shown(r"\mathbf{1}^{T}", "1ᵀ"), "a row of ones: the product copies the upstream to every entry"),
            "mean": (Shown(rf"\tfrac{{1}}{{{n}}}\mathbf{{1}}^{{T}}", f"(1/{n})·1ᵀ"), ""),
            "max": (Shown(r"e_{\operatorname{argmax}}^{T}", "e_argmaxᵀ"),
                    "one entry, the largest (the first of the tied, as np.argmax)"),
            "min": (Shown(r"e_{\operatorname{argmin}}^{T}", "e_argminᵀ"),
                    "one entry, the smallest (the first of the tied, as np.argmin)"),
            "norm": (Shown(rf"\frac{{{z.latex}^{{T}}}}{{\lVert {z.latex} \rVert}}", f"{z.text}ᵀ/‖{z.text}‖"), ""),
            "logsumexp": (Shown(rf"\operatorname{{softmax}}\left({z.latex}\right)^{{T}}", f"softmax({z.text})ᵀ"), ""),
        }[self.kind]
        if self.axis is None:
            return Factor(*shown)
        return _blocks(shown[0], self.axis, f": {shown[1]}" if shown[1] else "")

    def show(self) -> Shown:
        z = self.child.show()
        axis = _axis_shown(self.axis)
        if self.kind == "norm" and self.axis is None:
            return Shown(rf"\lVert {z.latex} \rVert", f"‖{z.text}‖")
        name = {"sum": r"\sum", "mean": r"\operatorname{mean}", "max": r"\max", "min": r"\min",
                "norm": r"\operatorname{norm}", "logsumexp": r"\operatorname{logsumexp}"}[self.kind]
        return Shown(rf"{name}\left({z.latex}{axis[0]}\right)", f"{self.kind}({z.text}{axis[1]})")


@dataclass(eq=False)
class Softmax(Node):
    """softmax(z) (local Jacobian diag(s) - s sᵀ) or log_softmax(z) (I - 1 sᵀ), over all entries of a vector or
    along an axis (block-diagonal: one such block per column or row)."""

    child: Node
    log: bool = False
    axis: Axis = None

    def __post_init__(self) -> None:
        self.shape, self.children = self.child.shape, (self.child,)

    def probabilities(self, z: np.ndarray) -> np.ndarray:
        return along_values("softmax", z, self.axis)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return along_values("log_softmax" if self.log else "softmax", operands[0], self.axis)

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        s = self.probabilities(operands[0])
        total = (upstream * (1.0 if self.log else s)).sum(axis=along(self.axis), keepdims=True)
        return [upstream - s * total if self.log else s * (upstream - total)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        s = self.probabilities(operands[0])[..., None]
        mean = (s * tangents[0]).sum(axis=along(self.axis, tangents=True), keepdims=True)
        return tangents[0] - mean if self.log else s * (tangents[0] - mean)

    def factor(self, k: int) -> Factor:
        z = _slice(self.child.show(), self.axis)
        s = Shown(rf"\operatorname{{softmax}}\left({z.latex}\right)", f"softmax({z.text})")
        block, product = (Shown(r"I - \mathbf{1}\, s^{T}", "I − 1 sᵀ"), "U − s·sum(U)") if self.log else \
            (Shown(r"\operatorname{diag}(s) - s s^{T}", "diag(s) − s sᵀ"), "s ⊙ (U − U·s)")
        if self.axis is None:
            return Factor(block, f"with s = {s.text}: the product is {product}", compound=True)
        return _blocks(block, self.axis, f"; with s = {s.text}: the product is {product} in each {_per(self.axis)}")

    def show(self) -> Shown:
        z = self.child.show()
        axis = _axis_shown(self.axis)
        name = "log_softmax" if self.log else "softmax"
        typeset = r"log\_softmax" if self.log else "softmax"
        return Shown(rf"\operatorname{{{typeset}}}\left({z.latex}{axis[0]}\right)", f"{name}({z.text}{axis[1]})")


@dataclass(eq=False)
class ShiftedSoftmax(Softmax):
    """softmax(z) as a def wrote it, e / sum(e) with e = exp(z − max(z)) (`softmax_shift`): the same operation,
    whose local Jacobian also says what was written and why it is softmax (the shift cancels)."""

    written: str = ""  # e/sum(e), log(e/sum(e))
    where: str = ""  # e = exp(z − max(z)), when e is an earlier line

    def factor(self, k: int) -> Factor:
        found = super().factor(k)
        name = "log_softmax" if self.log else "softmax"
        where = f" with {self.where}" if self.where else ""
        said = f"{self.written}{where} is {name}({self.child.show().text}): the shift cancels"
        return dataclasses.replace(found, structure=f"{found.structure}; {said}" if found.structure else said)
