"""Random --chain array cells over the array grammar, each with the same loss written here in numpy: the independent
answer the closed-form hunt (test_closed_form_hunt) differentiates by central differences.

A cell is built line by line from shapes: each expression is asked for a shape (rows, cols) and made of the
declared arrays and earlier lines by @, .T, + − * / broadcasting a column, a row or a number, element-wise
functions (those with a restricted domain on positive arguments), reductions along an axis and of all entries,
softmax and log_softmax, entries, tr, det, logdet and inv, conv2d, maxpool2d and flatten; the last line is a
scalar loss. Every value stays moderate (tanh before exp, 1 + u² under a quotient), so central differences are
accurate at the random points.
"""

# ruff: noqa: S311 - a seeded random generator of test cases, not cryptography

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Shape = tuple[int, int]
Term = tuple[str, str]  # the cell's text, the numpy source


def softmax(z: np.ndarray, axis: int | None = None) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def logsumexp(z: np.ndarray, axis: int | None = None) -> np.ndarray:
    top = z.max(axis=axis, keepdims=True)
    return top + np.log(np.exp(z - top).sum(axis=axis, keepdims=True))


def norm(z: np.ndarray, axis: int | None = None) -> np.ndarray:
    return np.sqrt(np.sum(z * z, axis=axis, keepdims=True))


def conv2d(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    rows, cols = x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1
    return np.array([[np.sum(x[i:i + k.shape[0], j:j + k.shape[1]] * k) for j in range(cols)] for i in range(rows)])


def maxpool2d(x: np.ndarray, s: int) -> np.ndarray:
    return np.array([[x[i * s:(i + 1) * s, j * s:(j + 1) * s].max() for j in range(x.shape[1] // s)]
                     for i in range(x.shape[0] // s)])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _gelu(z: np.ndarray) -> np.ndarray:
    from math import erf

    return 0.5 * z * (1 + np.vectorize(erf)(z / np.sqrt(2)))


NUMPY: dict[str, Any] = {"np": np, "softmax": softmax, "logsumexp": logsumexp, "norm": norm, "conv2d": conv2d,
                         "maxpool2d": maxpool2d, "sigmoid": _sigmoid, "gelu": _gelu}

# name: (numpy source of f(@), whether it needs a positive argument, whether it needs an argument in (−1, 1))
SMOOTH = {"exp": "np.exp(@)", "tanh": "np.tanh(@)", "sigmoid": "sigmoid(@)", "sin": "np.sin(@)", "cos": "np.cos(@)",
          "softplus": "np.logaddexp(0, @)", "atan": "np.arctan(@)", "sinh": "np.sinh(@)", "cosh": "np.cosh(@)",
          "asinh": "np.arcsinh(@)", "erf": "np.vectorize(__import__('math').erf)(@)", "gelu": "gelu(@)",
          "tan": "np.tan(@)", "cbrt": "np.cbrt(@)"}
POSITIVE = {"log": "np.log(@)", "sqrt": "np.sqrt(@)", "log2": "np.log2(@)", "log10": "np.log10(@)",
            "ln": "np.log(@)", "acosh": "np.arccosh(1 + @)"}
INSIDE = {"asin": "np.arcsin(@)", "acos": "np.arccos(@)", "atanh": "np.arctanh(@)"}
KINKED = {"relu": "np.maximum(@, 0)", "abs": "np.abs(@)", "leaky_relu": "np.where(@ > 0, @, 0.01 * @)"}
REDUCTIONS = ("sum", "mean", "max", "min", "norm", "logsumexp")
_REDUCE = {"sum": "np.sum(@, axis={axis}, keepdims=True)", "mean": "np.mean(@, axis={axis}, keepdims=True)",
           "max": "np.max(@, axis={axis}, keepdims=True)", "min": "np.min(@, axis={axis}, keepdims=True)",
           "norm": "norm(@, {axis})", "logsumexp": "logsumexp(@, {axis})"}


@dataclass
class Cell:
    """A generated cell: its text, the numpy statements of its lines, the declared shapes."""

    declared: dict[str, Shape] = field(default_factory=dict)
    lines: list[tuple[str, str, str, Shape]] = field(default_factory=list)  # name, cell text, numpy source, shape
    labels: set[str] = field(default_factory=set)  # inputs used as labels (one-hot columns at a point)
    conditioned: set[str] = field(default_factory=set)  # squares inverted: near 3I at a point

    @property
    def text(self) -> str:
        heads = [f"{n}: {r}" if c == 1 else f"{n}: {r}x{c}" for n, (r, c) in self.declared.items()]
        return "\n".join([*heads, *(f"{name} = {text}" for name, text, _, _ in self.lines)])

    def loss(self, point: dict[str, np.ndarray], start: int = 0) -> float:
        """The loss in numpy from `point` (the inputs, and the value of line `start − 1` when it is given)."""
        return float(np.sum(self.values(point, start)[self.lines[-1][0]]))

    def values(self, point: dict[str, np.ndarray], start: int = 0) -> dict[str, np.ndarray]:
        """Each line's value in numpy from `point` (the inputs, and the value of line `start − 1` when given)."""
        scope = {**NUMPY, **point}
        for name, _, source, shape in self.lines[start:]:
            value = eval(source, scope)  # noqa: S307 - the test's own numpy
            scope[name] = np.broadcast_to(np.asarray(value, dtype=float), shape).copy()
        return {name: scope[name] for name, *_ in self.lines[start:]}


class Maker:
    """Random expressions of a given shape, the cell's text and numpy side by side."""

    def __init__(self, rng: random.Random, cell: Cell, depth: int) -> None:
        self.rng, self.cell, self.depth = rng, cell, depth

    def leaf(self, shape: Shape) -> Term:
        known = [n for n, s in self.cell.declared.items() if s == shape and n not in self.cell.labels]
        known += [name for name, _, _, s in self.cell.lines if s == shape]
        if known and self.rng.random() < 0.6:
            name = self.rng.choice(known)
            return name, name
        if shape[0] == 1 and shape[1] > 1 and self.rng.random() < 0.5:  # a row: a column transposed
            name = self.fresh((shape[1], 1))
            return f"{name}.T", f"{name}.T"
        if shape == (1, 1) and self.rng.random() < 0.3:
            number = self.rng.choice(["2", "0.5", "3"])
            return number, f"np.array([[{number}]], dtype=float)"
        return (name := self.fresh(shape)), name

    def fresh(self, shape: Shape) -> str:
        letters = "ABCDFGKMNPQRSUV" if shape[0] > 1 and shape[1] > 1 else "abcdfgkmnpqrsuv"  # not E, h1, z
        name = next(f"{c}{k or ''}" for k in range(9) for c in letters if f"{c}{k or ''}" not in self.cell.declared)
        self.cell.declared[name] = shape
        return name

    def term(self, shape: Shape, depth: int | None = None) -> Term:
        depth = self.depth if depth is None else depth
        if depth <= 0:
            return self.leaf(shape)
        choices: list[Callable[[Shape, int], Term | None]] = [
            self.function, self.matmul, self.arithmetic, self.arithmetic, self.transpose, self.reduce,
            self.softmax, self.power, self.entry, self.matrix, self.image]
        while True:
            made = self.rng.choice(choices)(shape, depth - 1)
            if made is not None:
                return made

    def function(self, shape: Shape, depth: int) -> Term:
        text, src = self.term(shape, depth)
        kind = self.rng.random()
        if kind < 0.55:
            name = self.rng.choice(sorted(SMOOTH))
            inner_text, inner_src = (f"tanh({text})", f"np.tanh({src})") if name in ("exp", "sinh", "cosh", "tan") \
                else (text, src)  # tan within (−1, 1): far from its poles
            return f"{name}({inner_text})", SMOOTH[name].replace("@", inner_src)
        if kind < 0.75:
            name = self.rng.choice(sorted(POSITIVE))
            text, src = f"(1 + ({text})**2)", f"(1 + ({src})**2)"
            return f"{name}({text})" if name != "acosh" else f"acosh(1 + {text})", POSITIVE[name].replace("@", src)
        if kind < 0.9:
            name = self.rng.choice(sorted(INSIDE))
            text, src = f"tanh({text}) / 2", f"np.tanh({src}) / 2"
            return f"{name}({text})", INSIDE[name].replace("@", f"({src})")
        name = self.rng.choice(sorted(KINKED))
        return f"{name}({text})", KINKED[name].replace("@", f"({src})")

    def matmul(self, shape: Shape, depth: int) -> Term:
        k = self.rng.randint(1, 4)
        (a, pa), (b, pb) = self.term((shape[0], k), depth), self.term((k, shape[1]), depth)
        return f"({a} @ {b})", f"({pa} @ {pb})"

    def transpose(self, shape: Shape, depth: int) -> Term:
        text, src = self.term(shape[::-1], depth)  # type: ignore[arg-type]
        return f"({text}).T", f"({src}).T"

    def arithmetic(self, shape: Shape, depth: int) -> Term:
        op = self.rng.choice("+-*/")
        other = self.rng.choice([shape, (shape[0], 1), (1, shape[1]), (1, 1)])
        first, second = (shape, other) if self.rng.random() < 0.5 else (other, shape)
        (a, pa), (b, pb) = self.term(first, depth), self.term(second, depth)
        if op == "/":
            b, pb = f"(1 + ({b})**2)", f"(1 + ({pb})**2)"
        return f"({a} {op} {b})", f"({pa} {op} {pb})"

    def reduce(self, shape: Shape, depth: int) -> Term | None:
        kind, n = self.rng.choice(REDUCTIONS), self.rng.randint(2, 4)
        if shape == (1, 1) and self.rng.random() < 0.5:
            text, src = self.term((n, self.rng.randint(1, 3)), depth)
            return f"{kind}({text})", _REDUCE[kind].replace("@", src).replace("{axis}", "None")
        if shape[0] == 1:
            text, src = self.term((n, shape[1]), depth)
            return f"{kind}({text}, axis=0)", _REDUCE[kind].replace("@", src).replace("{axis}", "0")
        if shape[1] == 1 and self.rng.random() < 0.5:
            text, src = self.term((shape[0], n), depth)
            return f"{kind}({text}, axis=1)", _REDUCE[kind].replace("@", src).replace("{axis}", "1")
        return None

    def softmax(self, shape: Shape, depth: int) -> Term | None:
        if shape[0] == 1 and shape[1] == 1:
            return None
        name = self.rng.choice(["softmax", "log_softmax"])
        text, src = self.term(shape, depth)
        if shape[1] == 1:
            axis = ""
            value = f"softmax({src})"
        else:
            a = self.rng.choice([0, 1])
            axis, value = f", axis={a}", f"softmax({src}, {a})"
        return f"{name}({text}{axis})", f"np.log({value})" if name == "log_softmax" else value

    def power(self, shape: Shape, depth: int) -> Term:
        text, src = self.term(shape, depth)
        n = self.rng.choice(["2", "3", "-1", "0.5"])
        if n in ("-1", "0.5"):
            text, src = f"(1 + ({text})**2)", f"(1 + ({src})**2)"
        return f"({text})**{n}", f"({src})**{n}"

    def entry(self, shape: Shape, depth: int) -> Term | None:
        if shape != (1, 1):
            return None
        rows, cols = self.rng.randint(2, 4), self.rng.choice([1, 3])
        text, src = self.term((rows, cols), depth)
        i, j = self.rng.randrange(rows), self.rng.randrange(cols)
        if not text.isidentifier():  # an entry of a named array: x[1], W[1, 2]
            return None
        return (f"{text}[{i}]", f"{src}[{i}:{i + 1}, :]") if cols == 1 else \
            (f"{text}[{i}, {j}]", f"{src}[{i}:{i + 1}, {j}:{j + 1}]")

    def matrix(self, shape: Shape, depth: int) -> Term | None:
        n = self.rng.randint(2, 3)
        if shape == (1, 1):
            kind = self.rng.choice(["tr", "det", "logdet"])
            text, src = self.term((n, n), depth)
            if kind == "logdet":  # positive definite: A Aᵀ + n 𝟏𝟏ᵀ
                return f"logdet({text} @ ({text}).T + {n})", \
                    f"np.reshape(np.linalg.slogdet({src} @ ({src}).T + {n})[1], (1, 1))"
            if kind == "det":  # Jacobi's det(X) X⁻ᵀ needs X invertible: a square near 3I
                text = src = self.fresh((n, n))
                self.cell.conditioned.add(text)
            return f"{kind}({text})", f"np.reshape(np.{'trace' if kind == 'tr' else 'linalg.det'}({src}), (1, 1))"
        if shape[0] == shape[1]:
            name = self.fresh(shape)
            self.cell.conditioned.add(name)  # near 3I at a point: well conditioned
            return f"inv({name})", f"np.linalg.inv({name})"
        return None

    def image(self, shape: Shape, depth: int) -> Term | None:
        if shape[1] == 1 and shape[0] in (4, 9):
            side = 2 if shape[0] == 4 else 3
            image, src = self.image((side, side), depth)  # type: ignore[misc]
            return f"flatten({image})", f"({src}).reshape(-1, 1)"
        if shape[0] != shape[1] or shape[0] > 3:
            return None
        if self.rng.random() < 0.5:
            x, kernel = self.fresh((shape[0] * 2, shape[0] * 2)), self.fresh((shape[0] + 1, shape[0] + 1))
            return f"conv2d({x}, {kernel})", f"conv2d({x}, {kernel})"
        x = self.fresh((shape[0] * 2, shape[0] * 2))
        return f"maxpool2d({x}, 2)", f"maxpool2d({x}, 2)"


LOSSES = ("sum", "mean", "norm", "logsumexp", "max", "cross_entropy", "mse", "nll")


def random_cell(seed: int, lines: int = 2, depth: int = 2) -> Cell:
    """A cell of `lines` lines of random expressions (depth `depth`) and a scalar loss on the last."""
    rng = random.Random(seed)
    cell = Cell()
    maker = Maker(rng, cell, depth)
    for k in range(lines):
        shape = rng.choice([(3, 1), (2, 3), (3, 2), (2, 1), (2, 2), (1, 3)])
        text, src = maker.term(shape)
        if k and not re.search(rf"\b{cell.lines[-1][0]}\b", text):  # every line used: the loss the one output
            kind, op = rng.choice(REDUCTIONS), rng.choice("+*")
            before = cell.lines[-1][0]
            text = f"({text}) {op} {kind}({before})"
            src = f"({src}) {op} " + _REDUCE[kind].replace("@", before).replace("{axis}", "None")
        cell.lines.append((f"h{k + 1}" if k < lines - 1 else "z", text, src, shape))
    rows, cols = cell.lines[-1][3]
    loss = rng.choice(LOSSES)
    if loss in ("cross_entropy", "nll", "mse"):
        y = "y" if cols == 1 else "Y"
        cell.declared[y] = (rows, cols)
        cell.labels.add(y)
        text, src = {"cross_entropy": (f"cross_entropy(z, {y})", f"-np.sum({y} * np.log(softmax(z)))"),
                     "nll": (f"-sum({y} * log_softmax(z{', axis=0' if cols > 1 else ''}))",
                             f"-np.sum({y} * np.log(softmax(z, {0 if cols > 1 else None})))"),
                     "mse": (f"mse(z, {y})", f"np.mean((z - {y})**2)")}[loss]
        if loss == "cross_entropy" and cols > 1:
            text, src = f"cross_entropy(z, {y})", f"-np.sum({y} * np.log(softmax(z)))"
    else:
        text, src = f"{loss}(z)", _REDUCE[loss].replace("@", "z").replace("{axis}", "None")
    cell.lines.append(("L", text, src, (1, 1)))
    return cell


def random_point(cell: Cell, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every input uniform in (−1, 1); a label one-hot per column (a probability vector, as cross-entropy takes)."""
    point = {name: rng.uniform(-1, 1, shape) for name, shape in cell.declared.items()}
    for y in cell.labels:
        rows, cols = cell.declared[y]
        point[y] = np.eye(rows)[:, rng.integers(rows, size=cols)]
    for name in cell.conditioned:
        point[name] = point[name] + 3 * np.eye(len(point[name]))
    return point
