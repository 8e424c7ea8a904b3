"""The closed forms of the image operations of one image (a 2-D x), as a textbook writes them.

conv2d(x, K) is a valid correlation, so ∂L/∂x = G ⋆ rot180(K), the upstream G padded by k − 1 and correlated with
the flipped kernel (a full convolution), and ∂L/∂K = x ⋆ G, the valid correlation of x with G; maxpool2d(x, s) routes
G to each s x s window's largest entry of x (the first of equals, numpy's argmax, as `images.MaxPool2d` does);
flatten(q) hands back G reshaped to q's shape. The numpy functions below evaluate the formulas and, by their source,
are the helpers the generated code defines before `gradient`. A batch of images (stack > 1) has no rule here (None:
`closed_form` says so).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from jacmagic.chain import closed_form_tree as t
from jacmagic.chain.closed_form_more import Composer
from jacmagic.chain.closed_form_source import called_helpers
from jacmagic.chain.images import Conv2d, Flatten, MaxPool2d
from jacmagic.chain.network import Line
from jacmagic.chain.operations import Node

Expr = t.Expr


# -- the numpy the formulas are evaluated with (and the generated code's helpers) -------------------------------

def conv2d(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The valid correlation of x with k (k not flipped)."""
    windows = np.lib.stride_tricks.sliding_window_view(x, k.shape)
    return np.einsum("ijab,ab->ij", windows, k)


def conv2d_full(g: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The full correlation: g padded by k's size − 1 on every side, correlated with k."""
    rows, cols = k.shape
    return conv2d(np.pad(g, ((rows - 1, rows - 1), (cols - 1, cols - 1))), k)


def maxpool2d(x: np.ndarray, s: int) -> np.ndarray:
    """Each s x s window's largest entry."""
    return x.reshape(x.shape[0] // s, s, x.shape[1] // s, s).max(axis=(1, 3))


def unpool(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """g put at each window's largest entry of x (the first of equals), zeros elsewhere."""
    (rows, cols), s = g.shape, x.shape[0] // g.shape[0]
    blocks = x.reshape(rows, s, cols, s).swapaxes(1, 2).reshape(rows, cols, s * s)
    chosen = blocks.argmax(axis=-1)[..., None] == np.arange(s * s)
    routed = np.where(chosen, g[..., None], 0.0).reshape(rows, cols, s, s)
    return routed.swapaxes(1, 2).reshape(rows * s, cols * s)


_HELPERS = {f.__name__: inspect.getsource(f) for f in (conv2d, conv2d_full, maxpool2d, unpool)}


def helpers(body: str) -> str:
    """The image helpers `body` calls (and the ones they call), each followed by two blank lines."""
    return called_helpers(body, _HELPERS)


# -- the formulas ---------------------------------------------------------------------------------------------------

def _call(name: str, args: Sequence[str], form: str) -> str:
    joined = ", ".join(args)
    return rf"\operatorname{{{name.replace('_', chr(92) + '_')}}}\left({joined}\right)" if form == "latex" else \
        f"{name}({joined})"


@dataclass(frozen=True)
class Correlate(Expr):
    """conv2d(x, K), the valid correlation; conv2d_full(G, K), the full one (G padded by K's size − 1)."""

    arg: Expr
    kernel: Expr
    full: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        (rows, cols), (k, w), sign = self.arg.shape, self.kernel.shape, 1 if self.full else -1
        return (rows + sign * (k - 1), cols + sign * (w - 1))

    def _show(self, form: str, names: t.Forms | None) -> str:
        return _call("conv2d_full" if self.full else "conv2d",
                     [self.arg.show(form, names), self.kernel.show(form, names)], form)

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray((conv2d_full if self.full else conv2d)(self.arg.evaluate(values),
                                                                  self.kernel.evaluate(values)))


@dataclass(frozen=True)
class Rot180(Expr):
    """rot180(K): the kernel flipped both ways."""

    arg: Expr

    @property
    def shape(self) -> tuple[int, ...]:
        return self.arg.shape

    def _show(self, form: str, names: t.Forms | None) -> str:
        return f"np.rot90({self.arg.show(form, names)}, 2)" if form == "python" else \
            _call("rot180", [self.arg.show(form, names)], form)

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.rot90(self.arg.evaluate(values), 2)


@dataclass(frozen=True)
class Pool(Expr):
    """maxpool2d(x, s)."""

    arg: Expr
    window: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(n // self.window for n in self.arg.shape)

    def _show(self, form: str, names: t.Forms | None) -> str:
        return _call("maxpool2d", [self.arg.show(form, names), str(self.window)], form)

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(maxpool2d(self.arg.evaluate(values), self.window))


@dataclass(frozen=True)
class Unpool(Expr):
    """unpool(G, x): G put at each window's largest entry of x, zeros elsewhere."""

    upstream: Expr
    image: Expr

    @property
    def shape(self) -> tuple[int, ...]:
        return self.image.shape

    def _show(self, form: str, names: t.Forms | None) -> str:
        return _call("unpool", [self.upstream.show(form, names), self.image.show(form, names)], form)

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(unpool(self.upstream.evaluate(values), self.image.evaluate(values)))


@dataclass(frozen=True)
class Reshape(Expr):
    """flatten(q) (a column, row-major), or reshape(G, h x w) back to an image's shape."""

    arg: Expr
    size: tuple[int, int]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.size

    def _show(self, form: str, names: t.Forms | None) -> str:
        if form == "python":
            return f"{t._bracket(self.arg, 9, form, names)}.reshape{self.size}"
        arg = self.arg.show(form, names)
        if self.size[1] == 1:
            return _call("flatten", [arg], form)
        times = r" \times " if form == "latex" else " x "
        return _call("reshape", [arg, times.join(map(str, self.size))], form)

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.arg.evaluate(values).reshape(self.size)


# -- the forward values and reverse mode ------------------------------------------------------------------------

def _single(node: Node) -> bool:
    return isinstance(node, (Conv2d, MaxPool2d, Flatten)) and node.stack == 1


def convert(node: Node, parts: Sequence[Expr]) -> Expr | None:
    """The value of an image operation on one image as a formula; None for the others (and for batches)."""
    if not _single(node):
        return None
    if isinstance(node, Conv2d):
        return Correlate(parts[0], parts[1])
    if isinstance(node, MaxPool2d):
        return Pool(parts[0], node.window)
    return Reshape(parts[0], node.shape)


def back(c: Composer, line: Line, node: Node, k: int, g: Expr) -> Expr | None:
    """The upstream G through an image operation on one image, to operand k; None for the others."""
    if not _single(node):
        return None
    child = node.children[k]
    if isinstance(node, Conv2d) and k == 0:
        c.rule("∂conv2d(x, K)/∂x: G ⋆ rot180(K), the full correlation (G padded by k − 1)")
        return Correlate(g, Rot180(c.convert(node.kernel, line)), full=True)
    if isinstance(node, Conv2d):
        c.rule("∂conv2d(x, K)/∂K: x ⋆ G, the valid correlation of x with G")
        return Correlate(c.convert(node.image, line), g)
    if isinstance(node, MaxPool2d):
        c.rule(f"∂maxpool2d(x, s)/∂x: G put at each {node.window} x {node.window} window's largest entry of x")
        return Unpool(g, c.convert(child, line))
    c.rule("∂flatten(q)/∂q: G reshaped to q's shape")
    return Reshape(g, child.shape)
