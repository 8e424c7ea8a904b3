"""Matrices in a formula, by numpy's rules on sympy values: entry by entry with broadcasting, the product `@`
refused before it is written out when too large, indexing, and conditions entry by entry.

The expression reader (`formula`) reads the `ast`; these functions take the values it has read, and `fail`, which
makes the error located at the construct being read, so that the messages name the user's line and column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

import sympy as sp
from sympy.core.parameters import global_parameters

from jacmagic.chain import canonical
from jacmagic.errors import CellError
from jacmagic.model import exceeds, node_count

Value: TypeAlias = "sp.Expr | sp.MatrixBase"
# Makes the error, located at the construct being read, from its message.
Fail: TypeAlias = Callable[[str], CellError]


@dataclass(frozen=True)
class Conditions:
    """Conditions entry by entry (x > 0 of a vector x): what where(...) takes to choose entry by entry. Not a
    sympy Matrix, which holds numbers only."""

    shape: tuple[int, int]
    entries: tuple[sp.Basic, ...]

    def __getitem__(self, k: int) -> sp.Basic:
        return self.entries[k]


Part = TypeVar("Part")


def singles_as_numbers(parts: Sequence[Part]) -> list[Part]:
    """numpy's broadcasting of a 1 x 1 matrix (x.T @ x) beside a larger shape: it is a number there."""
    shapes = {p.shape for p in parts if isinstance(p, (sp.MatrixBase, Conditions))}
    if len(shapes) < 2 or (1, 1) not in shapes:
        return list(parts)
    return [p[0] if isinstance(p, (sp.MatrixBase, Conditions)) and p.shape == (1, 1) else p for p in parts]


def spread(part: sp.Basic | Conditions | Value, size: int) -> list[sp.Basic]:
    """The `size` entries of a part of an entry-by-entry operation: its own, or a number's, repeated."""
    if isinstance(part, (sp.MatrixBase, Conditions)):
        return [part[k] for k in range(size)]
    return [part] * size


def entrywise(what: str, operation: Callable[..., sp.Expr], values: Sequence[Value], fail: Fail) -> Value:
    """numpy's rule: equal shapes entry by entry, a number (or a 1 x 1 matrix, such as x.T @ x) with every
    entry."""
    values = singles_as_numbers(values)
    shapes = {v.shape for v in values if isinstance(v, sp.MatrixBase)}
    if not shapes:
        return operation(*values)
    if len(shapes) > 1:
        shown = " and ".join(f"{r} x {c}" for r, c in (v.shape for v in values if isinstance(v, sp.MatrixBase)))
        raise fail(f"{what} needs equal shapes, got {shown}" + ("; use @ for the matrix product"
                                                                 if what == "*" else ""))
    (rows, cols), = shapes
    entries = [operation(*(v[k] if isinstance(v, sp.MatrixBase) else v for v in values))
               for k in range(rows * cols)]
    return sp.ImmutableMatrix(rows, cols, entries)


_ARITHMETIC: dict[str, Callable[[sp.Expr, sp.Expr], sp.Expr]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}


def entrywise_chain(first: Value, rest: Sequence[tuple[str, Value]], fail: Fail) -> Value:
    """a + b - c (or a * b / c) with a matrix among the terms, left to right; `rest` pairs each operator's symbol
    with its right operand."""
    result = first
    for symbol, operand in rest:
        result = entrywise(symbol, _ARITHMETIC[symbol], (result, operand), fail)
    return result


def each(what: str, make: Callable[..., sp.Basic], parts: Sequence[sp.Basic | Conditions | Value],
         fail: Fail) -> sp.Basic | Conditions:
    """`make` of the parts, entry by entry when any is a vector or matrix (a condition per entry)."""
    parts = singles_as_numbers(parts)
    shaped = [p for p in parts if isinstance(p, (sp.MatrixBase, Conditions))]
    if not shaped:
        return make(*parts)
    shapes = {p.shape for p in shaped}
    if len(shapes) > 1:
        shown = " and ".join(f"{r} x {c}" for r, c in (p.shape for p in shaped))
        raise fail(f"{what} needs equal shapes, got {shown}")
    (rows, cols), = shapes
    return Conditions((rows, cols), tuple(make(*(p[k] if isinstance(p, (sp.MatrixBase, Conditions)) else p
                                                 for p in parts)) for k in range(rows * cols)))


# The largest matrix product written out: 30 x 30 @ 30 x 30 @ 30 x 30 would be 2.5 million terms and take
# sympy tens of seconds, outside any control of ours.
_MAX_PRODUCT_NODES = 500_000


def average_nodes(matrix: sp.MatrixBase) -> int:
    return -(-node_count(matrix, _MAX_PRODUCT_NODES) // max(1, len(matrix)))


def refuse_large_product(left: tuple[int, int, int], right: tuple[int, int, int], fail: Fail) -> None:
    """Refuses a product of (rows, cols, average nodes per entry) factors too large to write out."""
    size = left[0] * right[1] * left[1] * (left[2] + right[2] + 1)
    if size > _MAX_PRODUCT_NODES:
        raise fail(f"this @ ({left[0]} x {left[1]} @ {right[0]} x {right[1]}, of entries that are themselves sums) "
                   f"would write out about {size:,} symbolic terms, more than {_MAX_PRODUCT_NODES:,}; use smaller "
                   "shapes to see the structure")


def unmatched_product(left: tuple[int, int], right: tuple[int, int]) -> str:
    """Why `left @ right` has no value; two column vectors of one length are most likely numpy's 1-D `a @ b`, the
    dot product, which a cell writes `a.T @ b` since its vectors are columns."""
    said = (f"@ needs the columns of the left ({left[0]} x {left[1]}) to match the rows of the right "
            f"({right[0]} x {right[1]})")
    if left[1] == 1 and left == right:
        said += "; vectors are columns here, so a dot product is written a.T @ b or dot(a, b)"
    return said


def product(left: Value, right: Value, fail: Fail) -> sp.ImmutableMatrix:
    """left @ right, of matrices whose shapes fit."""
    if not (isinstance(left, sp.MatrixBase) and isinstance(right, sp.MatrixBase)):
        raise fail("@ multiplies matrices; declare their shapes first, e.g. W: 2x3 and x: 3")
    if left.cols != right.rows:
        raise fail(unmatched_product(left.shape, right.shape))
    refuse_large_product((left.rows, left.cols, average_nodes(left)),
                         (right.rows, right.cols, average_nodes(right)), fail)
    return sp.ImmutableMatrix(left * right)


def refuse_undotted(values: Sequence[Value], fail: Fail) -> None:
    """dot(a, b) of two vectors of one length (or two numbers)."""
    shapes = [v.shape if isinstance(v, sp.MatrixBase) else (1, 1) for v in values]
    if any(1 not in shape for shape in shapes) or shapes[0][0] * shapes[0][1] != shapes[1][0] * shapes[1][1]:
        shown = " and ".join(f"{r} x {c}" for r, c in shapes)
        raise fail(f"dot() takes two vectors of the same length, got {shown}; use @ for matrices")


def index_sizes(value: Value, count: int, fail: Fail) -> list[int]:
    """How many places each of `count` indices counts over: one for a vector x[i], two for a matrix W[i, j]."""
    if not isinstance(value, sp.MatrixBase):
        raise fail("indexing needs a vector or matrix (declare it, e.g. x: 3)")
    vector = 1 in value.shape and count == 1  # an n x 1 matrix (W: 3x1) also takes W[i, 0]
    if count != (1 if vector else 2):
        said = "vector takes one index, x[i], or" if 1 in value.shape else "matrix takes"
        raise fail(f"a {value.rows} x {value.cols} {said} two indices, W[i, j], counted from 0")
    return [value.rows * value.cols] if vector else [value.rows, value.cols]


def entry(value: sp.MatrixBase, numbers: Sequence[int], sizes: Sequence[int], fail: Fail) -> sp.Expr:
    """The entry at `numbers` (counted from 0, negative from the end, as in Python) of sizes from `index_sizes`."""
    for number, size in zip(numbers, sizes):
        if not -size <= number < size:
            raise fail(f"index {number} is out of range for {value.rows} x {value.cols}: indices count from 0 to "
                       f"{size - 1} (or from -1 back)")
    if len(sizes) == 1:
        return value[numbers[0] % sizes[0]]
    return value[numbers[0] % sizes[0], numbers[1] % sizes[1]]


# A function of an argument larger than this is left as written: sympy's automatic rewriting asks its assumption
# system for the sign of the argument, which takes seconds for a 100-term sum (tanh(W @ x) of a 100 x 100 layer).
_EVALUATED_NODES = 64


def applier(make: Callable[..., sp.Expr]) -> Callable[..., sp.Expr]:
    """`make` applied to one entry's arguments, left unevaluated when they are large or when sympy's evaluation
    is off (a line read again as written, where exp(log(a)) must keep its log)."""
    if not (isinstance(make, type) and issubclass(make, sp.Function)):
        return make
    kept = make in canonical.KEPT_AT_A_SYMBOL
    measured: dict[sp.Basic, tuple[int, int]] = {}  # shared by the entries: z - max(z) measures max(z) once

    def apply(*arguments: sp.Expr) -> sp.Expr:
        if kept and len(arguments) == 1 and canonical.plain(make, arguments[0]):
            return canonical.unevaluated(make, arguments[0])
        return make(*arguments, evaluate=global_parameters.evaluate  # type: ignore[call-arg]
                    and not exceeds(arguments, _EVALUATED_NODES, measured))
    return apply
