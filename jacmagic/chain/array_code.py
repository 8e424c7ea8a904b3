"""Each plain array operation's value and pullback as numpy code, for the compiled walk.

A plain operation (+ - * /, @, .T, negation, the element-wise functions numpy computes alone, sum, mean,
softmax) has its pullback written once as numpy expressions of the upstream `{up}`, its operands `{a}`, `{b}` and
its value `{value}`: the compiled gradient inlines them into one function, and the walkthrough's line-by-line
records call a small function made from the same expressions. Every other operation runs its own `evaluate` and
`pullback`, whose results are checked (its own errstate may hide an overflow). The code is assembled from these
templates and slot numbers alone: no text of the cell reaches it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jacmagic.chain.elementwise import Apply, CrossEntropy
from jacmagic.chain.linear import MatMul, Transpose
from jacmagic.chain.operations import Arithmetic, Leaf, Negate, Node, Number
from jacmagic.chain.reductions import Reduce, Softmax, along

Part = np.ndarray | None
Pull = Callable[[np.ndarray, Sequence[np.ndarray], np.ndarray], Sequence[Part]]


@dataclass(frozen=True)
class Code:
    """One operand's pullback as a numpy expression, and whether its value is always a new array of its own
    (`fresh`), or may be the upstream passed on as it is or a view of it (a transpose): the compiled gradient then
    keeps the arrays it hands out apart."""

    form: str
    fresh: bool = True


# A pullback as code: one expression per operand (None where no gradient is wanted), and the constants it names.
Template = tuple[tuple[Code | None, ...], dict[str, Any]]

_ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}
_UP = Code("{up}", fresh=False)  # the upstream itself
_ARITHMETIC_BACK = {"+": (_UP, _UP), "-": (_UP, Code("-{up}")), "*": (Code("{up} * {b}"), Code("{up} * {a}")),
                    "/": (Code("{up} / {b}"), Code("-{up} * {a} / ({b} * {b})"))}
# Element-wise functions numpy computes alone (no errstate of their own hides an overflow), and U ⊙ f'(z) from the
# operand or the value where that saves numpy calls.
_PLAIN = frozenset({"exp", "log", "ln", "tanh", "sigmoid", "relu", "softplus", "sin", "cos", "sqrt", "abs", "Abs",
                    "sinh", "cosh", "atan", "arctan"})
_SLOPES = {"log": "{up} / {a}", "ln": "{up} / {a}", "exp": "{up} * {value}", "tanh": "{up} * (1 - {value} * {value})",
           "relu": "{up} * ({a} > 0)"}


class Undefined(Exception):
    """A value or gradient is not finite here: the exact walk finds where and says why."""


def finite(value: np.ndarray) -> np.ndarray:
    """A value or product checked: not finite raises `Undefined`."""
    if not np.logical_and.reduce(np.isfinite(value), axis=None):
        raise Undefined
    return value


def plain(node: Node) -> bool:
    """Is the operation computed here by numpy calls whose overflow numpy reports (not hidden by an errstate)?"""
    kind = type(node)
    if kind is Apply:
        return node.name in _PLAIN  # type: ignore[attr-defined]
    if kind is Reduce:
        return node.kind in ("sum", "mean")  # type: ignore[attr-defined]
    return kind in (Arithmetic, MatMul, Negate, Transpose) or (kind is Softmax and not node.log)  # type: ignore


def evaluator(node: Node) -> Callable[..., np.ndarray]:
    """The operation's value from its operands' as one callable."""
    if not plain(node):
        return lambda *operands: finite(node.evaluate(operands))
    if isinstance(node, Arithmetic):
        return _ARITHMETIC[node.op]  # type: ignore[return-value]
    if isinstance(node, MatMul):
        (rows, inner), columns = node.left.shape, node.right.shape[1]
        return (lambda a, b: finite(a @ b)) if threaded(rows, columns, inner) else np.matmul  # type: ignore
    if isinstance(node, Apply):
        return node.function.value
    if isinstance(node, Negate):
        return np.negative  # type: ignore[return-value]
    if isinstance(node, Transpose):
        return np.transpose
    # Values have no leading axis: over all entries is axis=None (numpy's max over a tuple of axes is slower).
    axes = None if node.axis is None else along(node.axis)  # type: ignore[attr-defined]
    if isinstance(node, Softmax):
        def softmax(z: np.ndarray) -> np.ndarray:
            e = np.exp(z - z.max(axis=axes, keepdims=True))
            return e / e.sum(axis=axes, keepdims=True)
        return softmax
    if node.kind == "sum":  # type: ignore[attr-defined]
        return lambda z: z.sum(axis=axes, keepdims=True)
    return lambda z: z.mean(axis=axes, keepdims=True)


def _summed_back(child: Node, node: Node) -> tuple[int, ...]:
    """The axes (from the end) an operand broadcast over `node`'s shape has its gradient summed over."""
    return tuple(axis for axis, size, full in zip((-2, -1), child.shape, node.shape) if size == 1 and full != 1)


def pullback_code(node: Node, mask: Sequence[bool], single: bool = False) -> Template | None:
    """The pullback of a plain operation as code (None for any other operation); `single`: the upstream has no
    leading axis (one output entry), so an operand broadcast along one axis sums its gradient as a matrix product
    with a kept vector of ones (one BLAS call, about half a numpy reduction along an axis; equal up to rounding,
    and an overflow raises as any matrix product's does)."""
    if not plain(node):
        return None
    parts: tuple[Code, ...]
    constants: dict[str, Any] = {}
    if isinstance(node, Arithmetic):
        parts = tuple(_summed(code, _summed_back(child, node), node.shape, f"ones{k}", constants, single)
                      for k, (code, child) in enumerate(zip(_ARITHMETIC_BACK[node.op], node.children)))
    elif isinstance(node, MatMul):
        outer = node.right.shape[1] == 1  # U bᵀ for a column b: an outer product, not a matrix product with k = 1
        (rows, inner), columns = node.left.shape, node.right.shape[1]
        parts = (Code("{up} * {b}.T" if outer else _checked("{up} @ {b}.T", rows, columns, inner, constants)),
                 Code(_checked("{a}.T @ {up}", inner, rows, columns, constants)))
    elif isinstance(node, Apply):
        parts = (Code(_SLOPES.get(node.name, "{up} * {slope}({a})")),)
        constants["slope"] = node.function.derivative
    elif isinstance(node, Negate):
        parts = (Code("-{up}"),)
    elif isinstance(node, Transpose):
        parts = (Code("{swapaxes}({up}, -1, -2)", fresh=False),)  # a view of the upstream
        constants["swapaxes"] = np.swapaxes
    elif isinstance(node, Softmax):
        parts = (Code(f"{{value}} * ({{up}} - ({{up}} * {{value}}).sum(axis={along(node.axis)}, keepdims=True))"),)
    else:
        assert isinstance(node, Reduce)
        parts = (Code("{up} * {slope}"),)  # every entry's slope: 1 for sum, 1/n for mean
        constants["slope"] = np.full(node.child.shape, 1.0 if node.kind == "sum" else node.size / node.child.size)
    return tuple(part if wanted else None for part, wanted in zip(parts, mask)), constants


def _summed(code: Code, axes: tuple[int, ...], shape: tuple[int, int], name: str, constants: dict[str, Any],
            single: bool) -> Code:
    """An operand's part summed over the axes it was broadcast along (`_summed_back`), then a new array: along one
    axis of a gradient without a leading axis (`single`), a product with a kept vector of ones named `name`."""
    if not axes:
        return code
    if not single or len(axes) == 2:
        return Code(f"({code.form}).sum(axis={axes}, keepdims=True)")
    constants[name] = ones(shape[1], 1) if axes == (-1,) else ones(1, shape[0])
    return Code(f"({code.form}) @ {{{name}}}" if axes == (-1,) else f"{{{name}}} @ ({code.form})")


def ones(rows: int, columns: int) -> np.ndarray:
    """A kept vector of ones that sums by a matrix product: read-only, so nothing handed out can be it."""
    kept = np.ones((rows, columns))
    kept.flags.writeable = False
    return kept


# OpenBLAS (numpy's wheels) runs a matrix product of at most this many multiply-adds on the calling thread at any
# GEMM_MULTITHREAD_THRESHOLD (its SMP_THRESHOLD_MIN; 2304 for a matrix times a vector). A product shared among its
# threads sets their floating-point flags, not the caller's: an overflow there raises nothing under errstate and
# comes back as inf, so such a product's value is checked.
_ONE_THREAD_PRODUCT, _ONE_THREAD_VECTOR = 65_536, 2_304


def threaded(rows: int, columns: int, inner: int) -> bool:
    """May BLAS share this matrix product among threads (so an overflow in it raises nothing)?"""
    work = rows * columns * inner
    return work > (_ONE_THREAD_VECTOR if 1 in (rows, columns) else _ONE_THREAD_PRODUCT)


def _checked(form: str, rows: int, columns: int, inner: int, constants: dict[str, Any]) -> str:
    """A matrix product's code, checked finite where BLAS may compute it on several threads (`threaded`)."""
    if not threaded(rows, columns, inner):
        return form
    constants["finite"] = finite
    return f"{{finite}}({form})"


def written(form: str, up: str, operands: Sequence[str], value: str, constants: dict[str, str]) -> str:
    """One part of a template with the names of its upstream, operands, value and constants filled in."""
    a, b = (*operands, "", "")[:2]
    return form.format(up=up, a=a, b=b, value=value, **constants)


def puller(node: Node, mask: Sequence[bool]) -> Pull:
    """The pullback as one callable `(up, operands, value) -> parts`: a plain operation's from its template, any
    other's own, its parts checked."""
    made = pullback_code(node, mask)
    if made is None:
        def pull(up: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray) -> Sequence[Part]:
            parts = node.pullback(up, operands, value, mask)
            return [finite(part) if wanted else None for part, wanted in zip(parts, mask)]
        return pull
    forms, constants = made
    names = {name: name for name in constants}
    parts = ", ".join(written(f.form, "up", ("a", "b")[:len(forms)], "value", names) if f else "None" for f in forms)
    source = (f"def pull(up, operands, value):\n    {', '.join(('a', 'b')[:len(forms)])}, = operands\n"
              f"    return ({parts},)\n")
    return compiled(source, dict(constants))["pull"]  # type: ignore[no-any-return]


# -- softmax with cross-entropy, fused ----------------------------------------------------------------------------

@dataclass(frozen=True)
class FusedLoss:
    """`c·(-sum(y ⊙ log(softmax(z))))`, with log_softmax, a mean, a division or product by a number, or
    cross_entropy(z, y): its gradient by z is c·(softmax(z)·sum(y) − y) (per column or row along an axis; p − y for
    one-hot labels), by y −c·log_softmax(z). The flat gradient pulls back through it in three numpy calls where the
    operations as written take about ten, and never needs the values between `top` and its operands (`inner`)."""

    top: Node
    logits: Node
    labels: Node
    inner: tuple[Node, ...]  # top and every node below it down to logits and labels
    axis: int | None
    scale: float
    stable: bool  # log_softmax or cross_entropy (logsumexp); else the log of softmax's value, as written


def fused_loss(top: Node, parents: Mapping[int, int]) -> FusedLoss | None:
    """The softmax cross-entropy rooted at `top`, if it is one and nothing else uses the values between (`parents`:
    how many operations use each node of the line)."""
    if type(top) is CrossEntropy:
        return FusedLoss(top, top.logits, top.targets, (top,), None, 1.0, True)
    node, scale, inner = top, 1.0, [top]
    if type(top) is Arithmetic and top.op in "*/":  # type: ignore[attr-defined]
        left, right = top.children
        number, node = (right, left) if type(right) is Number else (left, right)
        divided = top.op == "/"  # type: ignore[attr-defined]
        if type(number) is not Number or (divided and (number is left or number.value == 0)):  # type: ignore
            return None
        scale = 1 / number.value if divided else number.value  # type: ignore[attr-defined]
        inner.append(node)
    if type(node) is not Negate or type(node.child) is not Reduce or node.child.axis is not None \
            or node.child.kind not in ("sum", "mean"):  # type: ignore[attr-defined]
        return None
    total = node.child  # type: ignore[attr-defined]
    product = total.child
    if type(product) is not Arithmetic or product.op != "*":
        return None
    for labels, logs in (product.children, product.children[::-1]):
        stable = type(logs) is Softmax and logs.log  # type: ignore[attr-defined]
        written_log = type(logs) is Apply and logs.name in ("log", "ln") and type(logs.child) is Softmax \
            and not logs.child.log  # type: ignore[attr-defined]
        if (stable or written_log) and labels.shape == logs.shape:
            softmax: Softmax = logs if stable else logs.child  # type: ignore[assignment,attr-defined]
            inner += [total, product, logs] if stable else [total, product, logs, softmax]
            if any(parents.get(id(n), 0) != 1 for n in inner[1:]):
                return None
            mean = 1 / product.size if total.kind == "mean" else 1.0
            return FusedLoss(top, softmax.child, labels, tuple(inner), softmax.axis, scale * mean, stable)
    return None


def proven_leaves(loss: FusedLoss, lines: Mapping[str, Node]) -> list[Leaf]:
    """The leaves whose every entry reaches the fused loss's checked value: its labels (a nan or an infinity makes
    `vdot(y, log_softmax(z))` not finite: the logs are finite and at most 0) and what reaches its logits through
    + and - alone, across lines (`lines`: each line's root by name; an infinity in a column of z raises at
    inf - inf or at the log of a softmax of 0, or makes the value not finite; a nan spreads through max, exp and
    the sums to it)."""
    found, todo = [], [loss.labels, loss.logits]
    while todo:
        node = todo.pop()
        if isinstance(node, Leaf) and node.name in lines:
            todo.append(lines[node.name])
        elif isinstance(node, Leaf):
            found.append(node)
        elif type(node) is Arithmetic and node.op in "+-":  # type: ignore[attr-defined]
            todo += node.children
    return found


def fused_forward(loss: FusedLoss, kept: bool = True) -> Callable[[np.ndarray, np.ndarray], tuple[Any, ...]]:
    """`(z, y) -> (the loss (1 x 1), softmax(z), log_softmax(z))`: the value once, shifted by the largest entry;
    the log of softmax's value as written raises where it underflows to 0, as the exact walk says undefined. A
    value that is not finite raises (numpy's dot reports no floating-point error). Not `kept` (nothing uses the
    loss but its check): None for its value."""
    axes, scale, stable = loss.axis, loss.scale, loss.stable  # values are 2-D: no leading axis
    rows, columns = loss.logits.shape
    by = None if axes is None else ones(1, rows) if axes == 0 else ones(columns, 1)

    def forward(z: np.ndarray, y: np.ndarray) -> tuple[Any, ...]:
        shifted = z - z.max(axis=axes, keepdims=True)
        e = np.exp(shifted)  # in [0, 1]: its sums as a product with ones cannot overflow
        total = e.sum(axis=axes, keepdims=True) if by is None else by @ e if axes == 0 else e @ by
        s = e / total
        logs = shifted - np.log(total) if stable else np.log(s)
        value = -scale * float(np.vdot(y, logs))
        if not math.isfinite(value):
            raise FloatingPointError
        return np.array([[value]]) if kept else None, s, logs
    return forward


def fused_pullback(loss: FusedLoss, unit: bool) -> tuple[tuple[Code, Code], dict[str, Any]]:
    """The fused gradients by z and by y as code of the upstream `{up}`, `{y}`, softmax `{s}`, log_softmax
    `{logs}` and a kept vector `{ones}` (the constants) that sums the labels along the axis as one matrix product
    (values have no leading axis; labels need not be one-hot); `unit`: the upstream is the seed 1 (the loss is the
    one output), not multiplied. Both are new arrays (a product or a difference)."""
    rows, columns = loss.labels.shape
    sums, constants = ("{y}.sum()", {}) if loss.axis is None else (
        ("{ones} @ {y}", {"ones": ones(1, rows)}) if loss.axis == 0 else ("{y} @ {ones}", {"ones": ones(columns, 1)}))
    up = "" if unit else "{up} * "
    scaled = "" if loss.scale == 1 else f"{loss.scale!r} * "
    return (Code(f"{up}{scaled}({{s}} * ({sums}) - {{y}})"), Code(f"{up}{-loss.scale!r} * {{logs}}")), constants


def compiled(source: str, bound: dict[str, Any]) -> dict[str, Any]:
    """The functions `source` defines, with `bound` as their globals. The source is assembled from this module's
    templates and slot numbers only: compiling it evaluates nothing a user wrote."""
    exec(compile(source, "<jacmagic: compiled gradient>", "exec"), bound)  # noqa: S102 - templates and slot numbers
    return bound
