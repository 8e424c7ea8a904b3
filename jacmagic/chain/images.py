"""Image operations of a layer line: conv2d (one channel, valid, stride 1), maxpool2d and flatten.

As the ML frameworks define it, conv2d(x, K) is a correlation (the kernel is not flipped): out[i, j] is the sum of
K times the window of x at (i, j), so an H x W image and a k x w kernel give (H − k + 1) x (W − w + 1). Its local
Jacobian for x is the banded, weight-shared (Toeplitz) matrix of K, applied without being built: the upstream
padded and correlated with the flipped kernel (a full convolution); for K it is the matrix of x's windows, applied
as the correlation of x with the upstream. maxpool2d(x, s) keeps each s x s window's largest entry; its Jacobian
selects that entry (at a tie the first in row-major order, numpy's argmax, as the frameworks pick one). Everything
is numpy on whole arrays (sliding windows and einsum), never entry by entry.

A batch of images (`x: 32x8x8`, numpy's (32, 8, 8)) is worked on as its stack along the rows (256 x 8, the same
entries row-major): conv2d and maxpool2d act on each image on its own (the trailing two axes, as numpy users write
them; the local Jacobian block-diagonal, one block per image), and flatten gives each image's entries as its column:
the batch in the columns, so `W @ flatten(q) + b` is the usual batch layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from jacmagic.chain.operations import Factor, Leaf, Node, Number, Shape, Shown
from jacmagic.errors import CellError
from jacmagic.notation import counted

# The image functions a layer line or a def cell may call, and how they are called (for the messages).
USAGE = {"conv2d": "conv2d(x, K) takes an image x and a kernel K",
         "maxpool2d": "maxpool2d(x, s) takes an image x and a whole window size s",
         "flatten": "flatten(q) takes one array"}


def _call(name: str, *operands: Node) -> Shown:
    latex = ", ".join(o.show().latex for o in operands)
    text = ", ".join(o.show().text for o in operands)
    return Shown(rf"\operatorname{{{name}}}\left({latex}\right)", f"{name}({text})")


def _windows(image: np.ndarray, kernel: Shape, axes: tuple[int, int]) -> np.ndarray:
    """Every k x l window of `image` along `axes`, as a view: its window axes last."""
    return sliding_window_view(image, kernel, axis=axes)


def stack_of(node: Node) -> int:
    """How many images a value holds, stacked along its rows: a batch's leaf says, an image operation keeps it, an
    operation keeping its operand's shape (ReLU, + b) too; 1 for everything else."""
    if isinstance(node, (Leaf, Conv2d, MaxPool2d)):
        return node.stack
    return max((stack_of(child) for child in node.children if child.shape == node.shape), default=1)


@dataclass(eq=False)
class Conv2d(Node):
    """conv2d(x, K): local Jacobians T(K) (banded Toeplitz, weight-shared) for x and the windows of x for K."""

    image: Node
    kernel: Node

    def __post_init__(self) -> None:
        self.children = (self.image, self.kernel)
        self.stack = stack_of(self.image)
        (rows, cols), (k, w) = self.image.shape, self.kernel.shape
        self.size_in = (rows // self.stack, cols)  # one image's
        self.shape = (self.stack * (self.size_in[0] - k + 1), cols - w + 1)

    def _images(self, array: np.ndarray, rows: int, lead: int = 0) -> np.ndarray:
        """(lead..., stack * rows, cols, rest...) -> (lead..., stack, rows, cols, rest...): each image apart."""
        return array.reshape(*array.shape[:lead], self.stack, rows, *array.shape[lead + 1:])

    def _stacked(self, array: np.ndarray, lead: int = 0) -> np.ndarray:
        """The inverse of `_images`: the images stacked along the rows again."""
        return array.reshape(*array.shape[:lead], -1, *array.shape[lead + 2:])

    def axes(self, inner: Sequence[int]) -> int:
        return inner[0]  # an image stays an image, a batch of images (three axes) a batch

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        x, kernel = operands
        images = self._images(x, self.size_in[0])
        return self._stacked(np.einsum("nijab,ab->nij", _windows(images, kernel.shape, (1, 2)), kernel))

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        x, kernel = operands
        k, w = kernel.shape
        lead = upstream.ndim - 2
        up = self._images(upstream, self.shape[0] // self.stack, lead)  # (..., stack, rows, cols)
        to_x, to_kernel = np.zeros(()), np.zeros(())
        if wanted[0]:  # the full convolution: the padded upstream correlated with the flipped kernel
            padded = np.pad(up, [(0, 0)] * (lead + 1) + [(k - 1, k - 1), (w - 1, w - 1)])
            to_x = self._stacked(np.einsum("...pqab,ab->...pq", _windows(padded, (k, w), (-2, -1)),
                                           kernel[::-1, ::-1]), lead)
        if wanted[1]:  # the correlation of x with the upstream, summed over the images
            images = self._images(x, self.size_in[0])
            to_kernel = np.einsum("...nij,nijab->...ab", up, _windows(images, (k, w), (1, 2)))
        return [to_x, to_kernel]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        x, kernel = operands
        moved_x, moved_kernel = tangents
        shape, rows = kernel.shape, self.size_in[0]
        images, moved = self._images(x, rows), self._images(moved_x, rows)
        return self._stacked(np.einsum("nijpab,ab->nijp", _windows(moved, shape, (1, 2)), kernel)
                             + np.einsum("nijab,abp->nijp", _windows(images, shape, (1, 2)), moved_kernel))

    def factor(self, k: int) -> Factor:
        each = f" for each of the {self.stack} images (block-diagonal, one block per image)" if self.stack > 1 else ""
        if k == 0:
            kernel = self.kernel.show()
            return Factor(Shown(rf"T\left({kernel.latex}\right)", f"T({kernel.text})"),
                          f"the banded, weight-shared (Toeplitz) matrix of {kernel.text}{each}: its product is a "
                          "correlation with the flipped kernel (the padded upstream, a full convolution)")
        image = self.image.show()
        summed = ", summed over the images" if self.stack > 1 else ""
        return Factor(Shown(rf"\operatorname{{windows}}\left({image.latex}\right)", f"windows({image.text})"),
                      f"one row per output entry, the window of {image.text} it sees (im2col): its product is the "
                      f"correlation of {image.text} with the upstream{summed}")

    def show(self) -> Shown:
        return _call("conv2d", self.image, self.kernel)


@dataclass(eq=False)
class MaxPool2d(Node):
    """maxpool2d(x, s): each s x s window's largest entry; local Jacobian a selection (the first at a tie)."""

    child: Node
    window: int  # s

    def __post_init__(self) -> None:
        self.children = (self.child,)
        self.stack = stack_of(self.child)  # each image's rows a multiple of s: no window spans two images
        rows, cols = self.child.shape
        self.shape = (rows // self.window, cols // self.window)

    def _blocks(self, array: np.ndarray, lead: int) -> np.ndarray:
        """(lead..., H, W, rest...) -> (lead..., H/s, W/s, s*s, rest...): each window's entries row-major."""
        s, (rows, cols) = self.window, self.shape
        head, tail = array.shape[:lead], array.shape[lead + 2:]
        split = array.reshape(*head, rows, s, cols, s, *tail)
        moved = np.moveaxis(split, lead + 2, lead + 1)  # (.., rows, cols, s, s, ..)
        return moved.reshape(*head, rows, cols, s * s, *tail)

    def _picked(self, x: np.ndarray) -> np.ndarray:
        """Each window's chosen entry (rows, cols): its largest, the first of equals (numpy's argmax)."""
        return np.argmax(self._blocks(x, 0), axis=-1)

    def axes(self, inner: Sequence[int]) -> int:
        return inner[0]  # an image stays an image, a batch of images (three axes) a batch

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return self._blocks(operands[0], 0).max(axis=-1)

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        s, (rows, cols) = self.window, self.shape
        chosen = self._picked(operands[0])[..., None] == np.arange(s * s)  # (rows, cols, s*s)
        routed = np.where(chosen, upstream[..., None], 0.0).reshape(*upstream.shape[:-2], rows, cols, s, s)
        return [np.moveaxis(routed, -2, -3).reshape(*upstream.shape[:-2], rows * s, cols * s)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        picked = self._picked(operands[0])[:, :, None, None]  # (rows, cols, 1, 1)
        return np.take_along_axis(self._blocks(tangents[0], 0), picked, axis=2)[:, :, 0]

    def factor(self, k: int) -> Factor:
        return Factor(Shown(r"S_{\max}", "S_max"),
                      f"a selection of each {self.window} x {self.window} window's largest entry (at a tie the first, "
                      "numpy's argmax): its product routes each window's upstream to that entry")

    def show(self) -> Shown:
        return _call("maxpool2d", self.child, Number(self.window))


@dataclass(eq=False)
class Flatten(Node):
    """flatten(q): the entries row-major as a column, local Jacobian I (the layout is already row-major); of a batch
    of images each image's entries as its column (the batch in the columns), local Jacobian a reordering."""

    child: Node

    def __post_init__(self) -> None:
        self.children = (self.child,)
        self.stack = stack_of(self.child)
        self.shape = (self.child.size // self.stack, self.stack)

    def axes(self, inner: Sequence[int]) -> int:
        return inner[0] - 1  # an image's vector; a batch's matrix

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return operands[0].reshape(self.stack, -1).T

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        return [np.swapaxes(upstream, -1, -2).reshape(*upstream.shape[:-2], *self.child.shape)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return np.swapaxes(tangents[0].reshape(self.stack, self.shape[0], -1), 0, 1)

    def factor(self, k: int) -> Factor:
        if self.stack == 1:
            return Factor(Shown("I", "I"), identity=True)
        return Factor(Shown("P", "P"), f"a reordering: image j's entries, row-major, become column j (the "
                                       f"{self.stack} images of the batch in the columns)")

    def show(self) -> Shown:
        return _call("flatten", self.child)


IMAGE_NODES = (Conv2d, MaxPool2d, Flatten)  # none of them known to the entry-level reader


def image_operation(name: str, operands: Sequence[Node]) -> Node:
    """One of the `USAGE` functions on read or traced operands; a `CellError` (no line) says what does not fit."""
    if len(operands) != (1 if name == "flatten" else 2):
        raise CellError(f"{USAGE[name]}, got {counted(len(operands), 'argument')}")
    if name == "flatten":
        return Flatten(operands[0])
    image, other = operands
    stack = stack_of(image)
    rows, cols = image.shape[0] // stack, image.shape[1]  # one image's
    if name == "conv2d":
        k, w = other.shape
        if k > rows or w > cols:
            raise CellError(f"conv2d: the {k} x {w} kernel is larger than the {rows} x {cols} image (a valid "
                            "convolution needs the kernel to fit inside it)")
        return Conv2d(image, other)
    size = other.value if isinstance(other, Number) else None
    if size is None or size != int(size) or size < 1:
        raise CellError(f"{USAGE[name]} (a number such as 2), not {other.show().text}")
    if rows % size or cols % size:
        raise CellError(f"maxpool2d: the {rows} x {cols} image does not split into {int(size)} x {int(size)} windows "
                        f"(both its sizes must be multiples of {int(size)})")
    return MaxPool2d(image, int(size))
