"""The closed forms of the layer operations that choose, pick, score a classifier or apply softmax along an axis.

Beside `closed_form`'s rules: where(a > b, p, q) (and max, min) pulls back by masks, 𝟙[a > b] ⊙ g to p and
𝟙[a ≤ b] ⊙ g to q; an entry x[i] by a unit array, e_k g; softmax and log_softmax along an axis meeting
cross-entropy give P − Y column by column; leaky ReLU, GELU and |z| their textbook derivatives; mse and
cross_entropy on logits 2(a − b)/n and softmax(z) − y; a bracketed list hands each item its own entry of the
upstream. Each rule is named as it fires. Nodes with no rule here are left to `closed_form` (None); the reductions
along an axis are `closed_form_axes`'s, with `Along`, their value, here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from jacmagic.chain import closed_form_tree as t
from jacmagic.chain.activations import LEAKY_SLOPE
from jacmagic.chain.choices import COMPARISONS, Where
from jacmagic.chain.elementwise import Apply, CrossEntropy, MeanSquaredError
from jacmagic.chain.linear import Entry
from jacmagic.chain.network import Line
from jacmagic.chain.operations import Node
from jacmagic.chain.reductions import Softmax, along_values
from jacmagic.chain.stacking import Stack

Expr = t.Expr


class NoRule(Exception):
    """An operation on the way from the output back to a variable has no closed-form rule yet."""

    def __init__(self, line: Line, node: Node) -> None:
        super().__init__(f"line {line.number} ({line.name} = {line.root.show().text}): "
                         f"{node.show().text} has no closed-form rule yet")
        self.line, self.node = line, node


# The most operations a closed form may hold written out: past it nobody reads it, and a value used twice on every
# line (a = sin(a) + a, 35 times) doubles the formula each line, 2**35 operations to compare and print.
MAX_WRITTEN = 500


class TooLong(NoRule):
    """The closed form would be too long to read: the walkthrough's numbers stand alone."""

    def __init__(self, line: Line) -> None:
        Exception.__init__(self, f"line {line.number} ({line.name}): the closed form is too long to write (over "
                                 f"{MAX_WRITTEN} operations)")
        self.line = line


@dataclass(frozen=True)
class LeftOut:
    """∂output/∂name's place where its closed form is `TooLong`: the walkthrough says so rather than nothing."""

    name: str
    output: str


class Composer(Protocol):
    """What `closed_form._Composer` offers these rules (structural: no import of it here)."""

    assume: bool
    assumed: dict[Expr, None]

    def rule(self, words: str) -> None: ...
    def scale(self, factor: float, e: Expr) -> Expr: ...
    def add(self, *terms: Expr) -> Expr: ...
    def hadamard(self, a: Expr, b: Expr) -> Expr: ...
    def quotient(self, a: Expr, b: Expr) -> Expr: ...
    def matmul(self, a: Expr, b: Expr) -> Expr: ...
    def unbroadcast(self, g: Expr, shape: tuple[int, int], full: tuple[int, int]) -> Expr: ...
    def convert(self, node: Node, line: Line, top: bool = False) -> Expr: ...
    def known(self, e: Expr, line: Line) -> Expr: ...


# -- the new formulas ---------------------------------------------------------------------------------------------

# op: (LaTeX, text, the opposite op)
_OPS = {">": (">", ">", "<="), ">=": (r"\geq", "≥", "<"), "<": ("<", "<", ">="), "<=": (r"\leq", "≤", ">")}


def _condition(op: str, a: Expr, b: Expr, form: str, names: t.Forms | None) -> str:
    left, right = (t._bracket(e, 2, form, names) for e in (a, b))
    return f"{left} {op if form == 'python' else _OPS[op][t.FORMS.index(form)]} {right}"


@dataclass(frozen=True)
class Indicator(Expr):
    """𝟙[a > b] entry by entry: the mask of a choice's gradient."""

    op: str
    left: Expr
    right: Expr

    @property
    def shape(self) -> tuple[int, ...]:
        return t._broadcast(self.left, self.right)

    def _show(self, form: str, names: t.Forms | None) -> str:
        condition = _condition(self.op, self.left, self.right, form, names)
        return {"latex": rf"\mathbb{{1}}\left[{condition}\right]", "text": f"𝟙[{condition}]",
                "python": f"np.where({condition}, 1.0, 0.0)"}[form]

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(COMPARISONS[self.op](self.left.evaluate(values), self.right.evaluate(values)), dtype=float)


@dataclass(frozen=True)
class Choose(Expr):
    """where(a > b, p, q) entry by entry; max(a, b) and min(a, b) by their names."""

    op: str
    left: Expr
    right: Expr
    then: Expr
    otherwise: Expr

    @property
    def shape(self) -> tuple[int, ...]:
        return t._broadcast(self.left, self.right, self.then, self.otherwise)

    def _show(self, form: str, names: t.Forms | None) -> str:
        parts = (self.then, self.otherwise)
        if form != "python" and parts == (self.left, self.right) and self.op in (">", "<"):
            kind = "max" if self.op == ">" else "min"
            a, b = (e.show(form, names) for e in parts)
            return rf"\{kind}\left({a}, {b}\right)" if form == "latex" else f"{kind}({a}, {b})"
        condition = _condition(self.op, self.left, self.right, form, names)
        p, q = (e.show(form, names) for e in parts)
        return {"latex": rf"\operatorname{{where}}\left({condition},\ {p},\ {q}\right)",
                "text": f"where({condition}, {p}, {q})", "python": f"np.where({condition}, {p}, {q})"}[form]

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        taken = Indicator(self.op, self.left, self.right).evaluate(values) > 0
        return np.where(taken, self.then.evaluate(values), self.otherwise.evaluate(values))


@dataclass(frozen=True)
class Pick(Expr):
    """One entry x[i] or W[i, j] (k its place, row-major)."""

    arg: Expr
    place: int
    label: str

    @property
    def shape(self) -> tuple[int, ...]:
        return (1, 1)

    def _show(self, form: str, names: t.Forms | None) -> str:
        inner = t._bracket(self.arg, 9, form, names)
        return {"latex": rf"{{{inner}}}_{{[{self.label}]}}", "text": f"{inner}[{self.label}]",
                "python": f"{inner}.flat[{self.place}].reshape(1, 1)"}[form]

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.arg.evaluate(values).reshape(-1)[self.place].reshape(1, 1)


@dataclass(frozen=True)
class Unit(Expr):
    """e_k: zeros but a one at place k (row-major), in an array's shape: what one entry's gradient is."""

    size: tuple[int, int]
    place: int

    @property
    def shape(self) -> tuple[int, ...]:
        return self.size

    def _show(self, form: str, names: t.Forms | None) -> str:
        k = self.place + 1
        return {"latex": f"e_{{{k}}}", "text": "e" + str(k).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")),
                "python": f"np.eye(1, {self.size[0] * self.size[1]}, {self.place}).reshape({self.size})"}[form]

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.eye(1, self.size[0] * self.size[1], self.place).reshape(self.size)


@dataclass(frozen=True)
class Stacked(Expr):
    """[a, b] (a column) or [[a, b], [c, d]] of numbers."""

    items: tuple[Expr, ...]
    size: tuple[int, int]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.size

    def _show(self, form: str, names: t.Forms | None) -> str:
        shown = [item.show(form, names) for item in self.items]
        rows = [shown[r * self.size[1]:(r + 1) * self.size[1]] for r in range(self.size[0])]
        if form == "latex":
            return r"\begin{bmatrix}" + r" \\ ".join(" & ".join(row) for row in rows) + r"\end{bmatrix}"
        inner = ", ".join("[" + ", ".join(row) + "]" for row in rows)
        return f"np.array([{inner}], dtype=float)" if form == "python" else "[" + ", ".join(shown) + "]"

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.array([float(item.evaluate(values).reshape(-1)[0]) for item in self.items]).reshape(self.size)


# kind: (LaTeX name, numpy source: @ the operand, A the axis); the value is the walk's (`reductions.along_values`)
_ALONG: dict[str, tuple[str, str]] = {
    "sum": (r"\operatorname{sum}", "np.sum(@, axis=A, keepdims=True)"),
    "mean": (r"\operatorname{mean}", "np.mean(@, axis=A, keepdims=True)"),
    "max": (r"\max", "np.max(@, axis=A, keepdims=True)"),
    "min": (r"\min", "np.min(@, axis=A, keepdims=True)"),
    "norm": (r"\operatorname{norm}", "np.linalg.norm(@, axis=A, keepdims=True)"),
    "logsumexp": (r"\operatorname{logsumexp}", "logsumexp_along(@, A)"),
}


@dataclass(frozen=True)
class Along(Expr):
    """sum(Z, axis=0) (a row: one number per column), mean(Z, axis=1) (a column, one per row); also max, min,
    norm and logsumexp, and max(Z) and min(Z) of all entries (axis None)."""

    kind: str
    arg: Expr
    axis: int | None

    @property
    def shape(self) -> tuple[int, ...]:
        rows, cols = self.arg.shape
        return (1, 1) if self.axis is None else (1, cols) if self.axis == 0 else (rows, 1)

    def _show(self, form: str, names: t.Forms | None) -> str:
        z = self.arg.show(form, names)
        if form == "python":
            return _ALONG[self.kind][1].replace("A", str(self.axis)).replace("@", z)  # the axis first: A in z stays
        if self.axis is None:
            return rf"{_ALONG[self.kind][0]}\left({z}\right)" if form == "latex" else f"{self.kind}({z})"
        return rf"{_ALONG[self.kind][0]}\left({z},\ \text{{axis}}={self.axis}\right)" if form == "latex" else \
            f"{self.kind}({z}, axis={self.axis})"

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return along_values(self.kind, self.arg.evaluate(values), self.axis)


@dataclass(frozen=True)
class SoftmaxAlong(Expr):
    """softmax(Z, axis=0) or log_softmax(Z, axis=0): each column (axis 1: row) normalised on its own."""

    arg: Expr
    axis: int
    log: bool

    @property
    def shape(self) -> tuple[int, ...]:
        return self.arg.shape

    def _show(self, form: str, names: t.Forms | None) -> str:
        z = self.arg.show(form, names)
        if form == "python":
            shifted = f"{t._bracket(self.arg, 2, form, names)} - logsumexp_along({z}, {self.axis})"
            return f"({shifted})" if self.log else f"np.exp({shifted})"
        name = "log_softmax" if self.log else "softmax"
        return rf"\operatorname{{{name.replace('_', chr(92) + '_')}}}\left({z},\ \text{{axis}}={self.axis}\right)" \
            if form == "latex" else f"{name}({z}, axis={self.axis})"

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return along_values("log_softmax" if self.log else "softmax", self.arg.evaluate(values), self.axis)


@dataclass(frozen=True)
class EachSums(Expr):
    """The assumption of a batch's labels: 'each column of Y' sums to 1. Its value is 1 exactly when every column
    (axis 1: row) sums to 1, so `closed_form.holds` checks it as it checks one label."""

    labels: Expr
    axis: int

    @property
    def shape(self) -> tuple[int, ...]:
        return (1, 1)

    def _show(self, form: str, names: t.Forms | None) -> str:
        return f"each {'column' if self.axis == 0 else 'row'} of {self.labels.show(form, names)}"

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        sums = np.sum(self.labels.evaluate(values), axis=self.axis)
        return np.full((1, 1), 1.0 + float(np.max(np.abs(sums - 1))))


@dataclass(frozen=True)
class Leaky(Expr):
    """leaky_ReLU(z, a) entry by entry, or its derivative where(z > 0, 1, a)."""

    arg: Expr
    slope: float
    derivative: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        return self.arg.shape

    def _show(self, form: str, names: t.Forms | None) -> str:
        z, a = self.arg.show(form, names), f"{self.slope:g}"
        if form == "python":
            return f"np.where({z} > 0, 1.0, {self.slope!r})" if self.derivative else \
                f"np.where({z} > 0, {z}, {self.slope!r} * {t._bracket(self.arg, 4, form, names)})"
        if form == "latex":
            return rf"\operatorname{{where}}\left({z} > 0,\ 1,\ {a}\right)" if self.derivative else \
                rf"\operatorname{{leaky\_ReLU}}\left({z}, {a}\right)"
        return f"where({z} > 0, 1, {a})" if self.derivative else f"leaky_ReLU({z}, {a})"

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        z = self.arg.evaluate(values)
        return np.where(z > 0, 1.0, self.slope) if self.derivative else np.where(z > 0, z, self.slope * z)


# -- the forward values -------------------------------------------------------------------------------------------

def convert(c: Composer, node: Node, parts: Sequence[Expr]) -> Expr | None:
    """The value of an operation with its rule here as a formula; None for the others."""
    if isinstance(node, Apply) and node.name == "leaky_relu":
        return Leaky(parts[0], getattr(node, "slope", LEAKY_SLOPE))
    if isinstance(node, Where):
        then, otherwise, a, b = parts
        return Choose(node.op, a, b, then, otherwise)
    if isinstance(node, Entry):
        return Pick(parts[0], node.place, node.label)
    if isinstance(node, Stack):
        return Stacked(tuple(parts), node.shape)
    if isinstance(node, Softmax) and node.axis is not None:
        return SoftmaxAlong(parts[0], node.axis, node.log)
    if isinstance(node, MeanSquaredError):
        return t.Total("mean", t.Power(c.add(parts[0], c.scale(-1, parts[1])), 2))
    if isinstance(node, CrossEntropy):
        return c.scale(-1, t.Total("sum", c.hadamard(parts[1], t.Function("log_softmax", parts[0]))))
    return None


# -- reverse mode -------------------------------------------------------------------------------------------------

def back(c: Composer, line: Line, node: Node, k: int, g: Expr) -> Expr | None:
    """The upstream g through an operation with its rule here, to operand k; None for the others."""
    child = node.children[k]
    if isinstance(node, Apply) and node.name in _DERIVATIVES:
        u = c.convert(child, line)
        c.rule("diag(v)u = v ⊙ u")
        c.rule(_DERIVATIVES[node.name])
        slope = Leaky(u, getattr(node, "slope", LEAKY_SLOPE), True) if node.name == "leaky_relu" else \
            t.Function(node.name, u, derivative=True)
        return c.hadamard(g, slope)
    if isinstance(node, Where):
        a, b = (c.convert(part, line) for part in (node.left, node.right))
        c.rule("where(a > b, p, q): the mask 𝟙[a > b] ⊙ g to p, 𝟙[a ≤ b] ⊙ g to q")
        mask = Indicator(node.op if k == 0 else _OPS[node.op][2], a, b)
        return c.unbroadcast(c.hadamard(g, mask), child.shape, node.shape)
    if isinstance(node, Entry):
        c.rule("one entry: e_k g, the upstream at the entry's place")
        return c.hadamard(Unit(child.shape, node.place), g)
    if isinstance(node, Stack):
        c.rule("a bracketed list: each item gets its own entry of the upstream, g[k]")
        return Pick(g, k, str(k))
    if isinstance(node, Softmax) and node.axis is not None:
        return _softmax_back(c, line, node, g)
    if isinstance(node, MeanSquaredError):
        a, b = (c.convert(part, line) for part in node.children)
        c.rule(f"∂mse(a, b)/∂a = 2(a − b)/n, n = {node.left.size}")
        return c.hadamard(g, c.scale((-2.0 if k else 2.0) / node.left.size, c.add(a, c.scale(-1, b))))
    if isinstance(node, CrossEntropy):
        return _cross_entropy_back(c, line, node, k, g)
    return None


_DERIVATIVES = {"leaky_relu": "leaky_ReLU′(z, a) = where(z > 0, 1, a)", "gelu": "GELU′(z) = Φ(z) + z φ(z)",
                "abs": "|z|′ = sign(z)", "Abs": "|z|′ = sign(z)"}


def label(g: Expr, s: Expr, log: bool) -> tuple[float, Expr] | None:
    """(−k, y) when the upstream is k·y/s into a softmax s, or k·y into a log_softmax: k = −1 is cross-entropy."""
    factor, inner = (g.factor, g.inner) if isinstance(g, t.Scale) else (1.0, g)
    if log:
        return (-factor, inner) if isinstance(inner, t.Name) else None
    if isinstance(inner, t.Quotient) and inner.right == s and isinstance(inner.left, t.Name):
        return (-factor, inner.left)
    return None


def _softmax_back(c: Composer, line: Line, node: Softmax, g: Expr) -> Expr:
    """softmax along an axis: per column (row) the single vector's rules; with cross-entropy P − Y."""
    z, axis = c.convert(node.child, line), int(node.axis or 0)
    s = c.known(SoftmaxAlong(z, axis, False), line) if node.log or node is not line.root else \
        t.Name(line.name, line.shape)
    found = label(g, s, node.log)
    per = "column" if axis == 0 else "row"
    if found is not None:
        factor, y = found
        if c.assume:
            c.assumed[EachSums(y, axis)] = None
            c.rule(f"softmax + cross-entropy per {per}: {s.text()} − {y.text()} (each {per} of {y.text()} sums to 1)")
            return c.scale(factor, c.add(s, c.scale(-1, y)))
        general = c.add(c.hadamard(s, Along("sum", y, axis)), c.scale(-1, y))
        c.rule(f"softmax + cross-entropy per {per}: {general.text()}")
        return c.scale(factor, general)
    if node.log:
        c.rule(f"∂log_softmax/∂z = I − 1 sᵀ per {per}: G − S ⊙ sum(G, axis={axis})")
        return c.add(g, c.scale(-1, c.hadamard(s, Along("sum", g, axis))))
    c.rule(f"∂softmax/∂z = diag(s) − s sᵀ per {per}: S ⊙ (G − sum(S ⊙ G, axis={axis}))")
    return c.hadamard(s, c.add(g, c.scale(-1, Along("sum", c.hadamard(s, g), axis))))


def _cross_entropy_back(c: Composer, line: Line, node: CrossEntropy, k: int, g: Expr) -> Expr:
    z, y = c.convert(node.logits, line), c.convert(node.targets, line)
    p = c.known(t.Function("softmax", z), line)
    if k == 1:
        c.rule("∂cross_entropy(z, y)/∂y = −log_softmax(z)")
        return c.scale(-1, c.hadamard(g, t.Function("log_softmax", z)))
    if c.assume:
        c.assumed[y] = None
        c.rule(f"cross_entropy on logits: {p.text()} − {y.text()} ({y.text()} sums to 1)")
        return c.hadamard(g, c.add(p, c.scale(-1, y)))
    general = c.add(c.hadamard(p, t.Total("sum", y)), c.scale(-1, y))
    c.rule(f"cross_entropy on logits: {general.text()}")
    return c.hadamard(g, general)
