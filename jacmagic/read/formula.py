"""Formula source -> sympy, safely: the whitelist reader shared by every cell line and every option value.

Every `ast` node is checked against a whitelist: nothing here is ever `eval`ed, so attribute access, imports,
lambdas and calls of anything but the known functions are refused with a message naming the line. Values are
numbers or matrices (declared shapes and what is computed from them).
"""

from __future__ import annotations

import ast
import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

import sympy as sp
from sympy.printing.pretty.pretty_symbology import greek_unicode

from jacmagic.chain.functions import KNOWN_FUNCTIONS, WHOLE_ARRAY
from jacmagic.errors import CellError
from jacmagic.model import Guard, distinct_nodes, exceeds, node_count, tree_size
from jacmagic.notation import counted

# An exact number with more bits than this is refused rather than computed (2**10**100 hangs, and Python will
# not even print an integer of over 4,300 digits).
_MAX_EXACT_BITS = 10_000
# Functions defined only on part of the real line: where they are called, the map's domain is checked.
_RESTRICTED = frozenset({"log", "ln", "log2", "log10", "sqrt", "asin", "acos", "arcsin", "arccos", "acosh",
                         "arccosh", "atanh", "arctanh", "tan", "sec", "csc", "cot", "logdet", "inv"})


def real_symbol(name: str) -> sp.Symbol:
    """The symbol for a name typed in a cell: symbols are real, so that sqrt(x**2) and conjugates behave."""
    return sp.Symbol(name, real=True)


def element_symbols(name: str, rows: int, cols: int) -> sp.ImmutableMatrix:
    """The entries of a matrix as real symbols named after it, counted from 1: W: 2x3 gives W_1,1 ... W_2,3
    (typeset W_{1,2}; the comma keeps W_1,12 and W_11,2 apart and no typed name has one), x: 3 gives x_1, x_2,
    x_3. The matrix's own name, case and all, so that the entries of W and of w never merge."""
    if cols == 1:
        return sp.ImmutableMatrix([real_symbol(f"{name}_{i}") for i in range(1, rows + 1)])
    return sp.ImmutableMatrix(rows, cols, lambda i, j: real_symbol(f"{name}_{i + 1},{j + 1}"))


_GREEK = {name: letter for name, letter in greek_unicode.items() if isinstance(letter, str)}
_GREEK["lamda"], _GREEK["Lamda"] = _GREEK["lambda"], _GREEK["Lambda"]


def display_key(name: str) -> str:
    """How a name looks once typeset: theta and θ, x1 and x_1, w12 and w_12, x_ and x look the same."""
    name = unicodedata.normalize("NFKC", name)
    parts: list[str] = []
    for part in name.split("_"):
        letters, digits = re.fullmatch(r"(.*?)(\d*)", part).groups()  # type: ignore[union-attr]
        parts.extend(p for p in (_GREEK.get(letters, letters), digits) if p)
    return "_".join(parts)


def refuse_twins(symbols: Iterable[sp.Symbol]) -> None:
    """Two different names of one map that would be shown the same are refused: the reader could not tell
    which column is which, and a sympy object could hold two different symbols of one name."""
    seen: dict[str, sp.Symbol] = {}
    for symbol in dict.fromkeys(symbols):
        if "," in symbol.name:  # a matrix entry: no typed name has a comma
            continue
        other = seen.setdefault(display_key(symbol.name), symbol)
        if other != symbol:
            same = "are different symbols with the same name" if other.name == symbol.name else "look the same"
            raise CellError(f"{other.name} and {symbol.name} {same} once typeset; rename one of them so that "
                            "they can be told apart")


def describe(node: ast.AST) -> str:
    """A short human name for a construct that is not allowed in a formula."""
    names = {
        ast.Attribute: "attribute access (a.b)",
        ast.Subscript: "indexing (a[i])",
        ast.Lambda: "lambda",
        ast.Import: "import",
        ast.ImportFrom: "import",
        ast.Constant: "this constant",
        ast.Starred: "*unpacking",
        ast.Dict: "a dict",
        ast.Set: "a set",
        ast.ListComp: "a comprehension",
        ast.GeneratorExp: "a comprehension",
        ast.NamedExpr: "the := operator",
        ast.Await: "await",
    }
    return names.get(type(node), type(node).__name__)


def suggest(name: str, candidates: Sequence[str], one_edit: bool = False) -> str:
    """" (did you mean sin?)", or "" when nothing is close: the one way every message suggests a name. With
    `one_edit`, only a name one insertion, deletion or substitution away counts (never for one-letter names: each
    is one edit from every other), for hints given where nothing is wrong yet."""
    if one_edit:
        close = [other for other in candidates if len(name) > 1 and _one_edit(name, other)][:1]
    else:
        close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _one_edit(a: str, b: str) -> bool:
    if len(a) == len(b):
        return sum(p != q for p, q in zip(a, b)) == 1
    short, long = sorted((a, b), key=len)
    return len(long) - len(short) == 1 and any(long[:k] + long[k + 1:] == short for k in range(len(long)))


Value: TypeAlias = "sp.Expr | sp.MatrixBase"
_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
}
_COMPARE: dict[type[ast.cmpop], Callable[[sp.Expr, sp.Expr], sp.Basic]] = {
    ast.Lt: sp.Lt, ast.LtE: sp.Le, ast.Gt: sp.Gt, ast.GtE: sp.Ge, ast.Eq: sp.Eq, ast.NotEq: sp.Ne,
}


def node_error(node: ast.AST, message: str, line: int, column: Callable[[int, int], int]) -> CellError:
    """An error located at `node`, in the user's own columns."""
    line = getattr(node, "lineno", line)
    col = getattr(node, "col_offset", None)
    return CellError(message, line, column(line, col + 1) if col is not None else None)


@dataclass(frozen=True)
class Conditions:
    """Conditions entry by entry (x > 0 of a vector x): what where(...) takes to choose entry by entry. Not a
    sympy Matrix, which holds numbers only."""

    shape: tuple[int, int]
    entries: tuple[sp.Basic, ...]

    def __getitem__(self, k: int) -> sp.Basic:
        return self.entries[k]


# The largest call of a cell function written out: building it makes sympy evaluate every part (about 65
# microseconds a term for t*exp(t/10) nested, so under a second here).
_INLINED_NODES = 10_000


class NestedCalls(CellError):
    """A call of a cell function too large to write out: the map goes through its calls, one stage each."""


# Records a call of a cell function as a value of its own, from the function's name, its outputs at the call's
# arguments and their guards; returns the symbols that stand for the outputs.
CallStages: TypeAlias = Callable[[str, tuple[sp.Expr, ...], tuple[tuple[Guard, ...], ...]], tuple[sp.Expr, ...]]


@dataclass(frozen=True)
class CellFunction:
    """A function defined earlier in the cell, callable from later lines."""

    params: tuple[sp.Symbol, ...]
    expressions: tuple[sp.Expr, ...]
    line: int
    guards: tuple[tuple[Guard, ...], ...]


class ExpressionBuilder:
    """Builds a sympy expression from a whitelisted `ast` expression; anything else is a `CellError`."""

    def __init__(
        self,
        line: int,
        resolve: Callable[[str, ast.Name], sp.Expr],
        functions: Mapping[str, CellFunction],
        column: Callable[[int, int], int],
        calls: CallStages | None = None,
    ) -> None:
        self.line = line
        self.resolve = resolve
        self.functions = functions
        self.column = column
        self.calls = calls  # given: each call of a cell function becomes a value of its own
        self.guards: list[Guard] = []

    def error(self, node: ast.AST, message: str) -> CellError:
        return node_error(node, message, self.line, self.column)

    def outputs(self, node: ast.expr) -> tuple[tuple[sp.Expr, ...], tuple[tuple[Guard, ...], ...]]:
        """The right side of a definition (a bracketed list or tuple of expressions, or one expression), and
        the guards of each output."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.functions:
            start = len(self.guards)
            values, guards = self._call_cell_function(node, node.func.id)
            if self.calls is not None:
                values, guards = self.calls(node.func.id, values, guards), tuple(() for _ in values)
            for value in values:
                self.finished(node, value)
            return values, tuple(tuple(self.guards[start:]) + g for g in guards)
        if isinstance(node, (ast.List, ast.Tuple)) and not node.elts:
            raise self.error(node, "the list of outputs is empty")
        if not isinstance(node, (ast.List, ast.Tuple)):  # one expression: a number, or a vector of outputs
            value = self.finished(node, self.value(node))
            entries = tuple(value) if isinstance(value, sp.MatrixBase) else (value,)
            return entries, tuple(tuple(self.guards) for _ in entries)
        scalars: list[sp.Expr] = []
        checks: list[tuple[Guard, ...]] = []
        for element in node.elts:
            start = len(self.guards)
            scalars.append(self.finished(element, self.scalar(element)))
            checks.append(tuple(self.guards[start:]))
        return tuple(scalars), tuple(checks)

    def finished(self, node: ast.AST, value: Value) -> Value:
        """A whole right side, refused if it is undefined for every input or holds numbers too large to use."""
        for entry in (value if isinstance(value, sp.MatrixBase) else (value,)):
            self._refuse_undefined(node, entry)
            if any(n.is_Rational and max(abs(n.p).bit_length(), n.q.bit_length()) > _MAX_EXACT_BITS
                   for n in distinct_nodes((entry,))):
                raise self.error(node, f"a number here has over {_MAX_EXACT_BITS * 3 // 10:,} digits; jacmagic "
                                       "computes with numbers up to that size")
        return value

    def _guard(self, node: ast.AST, value: Value, divisor: bool = False) -> None:
        """Records where `value` (what the user wrote, before sympy simplifies it away) must be defined; a
        constant that is not is refused here."""
        for entry in (value if isinstance(value, sp.MatrixBase) else (value,)):
            if entry.is_number and divisor and entry.is_zero is not None:
                if entry.is_zero:
                    raise self.error(node, "division by zero")
                continue
            if entry.is_number and not divisor:
                self._refuse_undefined(node, entry)
                if entry.is_extended_real:  # proven real: nothing to check at a point
                    continue
            # a constant sympy cannot decide ((-0.32)**atan(2)) is left to the numbers, as a variable part is
            self.guards.append(Guard(entry, getattr(node, "lineno", self.line), divisor))

    def _refuse_undefined(self, node: ast.AST, entry: sp.Expr) -> None:
        """Refuses what has no real value for any input: a division by zero, the log of 0, a complex constant."""
        atoms = {n for n in distinct_nodes((entry,)) if not n.args}  # sympy's has() visits shared parts repeatedly
        if atoms & {sp.zoo, sp.nan, sp.oo, -sp.oo}:
            raise self.error(node, "this is undefined for every input: it divides by zero or takes the log of 0")
        if sp.I in atoms or (entry.is_number and entry.is_extended_real is False):
            raise self.error(node, f"{sp.sstr(entry)[:40]} has no real value for any input (e.g. the log or "
                                   "square root of a negative constant)")

    def scalar(self, node: ast.expr, broadcast: bool = False) -> sp.Expr:
        """A number; with `broadcast`, a 1 x 1 matrix (x.T @ x) is one, as numpy broadcasts it (not in a list
        of outputs, where numpy refuses a ragged [x, [x]])."""
        value = self.expr(node)
        if broadcast and isinstance(value, sp.MatrixBase) and value.shape == (1, 1):
            return value[0]
        if isinstance(value, sp.MatrixBase):
            raise self.error(node, f"a number is needed here, but this is a {value.rows} x {value.cols} matrix; "
                                   "reduce it with sum(...) or pick a shape that fits")
        if not isinstance(value, sp.Expr):
            raise self.error(node, "a comparison is only allowed as the condition of where(cond, a, b)")
        return value

    def value(self, node: ast.expr) -> Value:
        """A number or a matrix (declared with a shape, or computed from one)."""
        value = self.expr(node)
        if not isinstance(value, (sp.Expr, sp.MatrixBase)):
            raise self.error(node, "a comparison is only allowed as the condition of where(cond, a, b)")
        return value

    def expr(self, node: ast.expr) -> sp.Basic:
        try:
            return self._expr(node)
        except (OverflowError, MemoryError):  # sympy evaluating a float constant, e.g. exp(-exp(1e20))
            raise self.error(node, "a number here is too large to compute with (e.g. exp of a huge number)") from None

    def _expr(self, node: ast.expr) -> sp.Basic:
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self.resolve(node.id, node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.IfExp):
            return self._choice(node, node.test, node.body, node.orelse)
        if isinstance(node, (ast.Compare, ast.BoolOp)):
            return self.condition(node)
        if isinstance(node, (ast.List, ast.Tuple)):
            return self._literal(node)
        if isinstance(node, ast.Attribute) and node.attr == "T":
            value = self.value(node.value)
            return value.T if isinstance(value, sp.MatrixBase) else value
        if isinstance(node, ast.Subscript):
            return self._entry(node)
        if isinstance(node, ast.Attribute):
            raise self.error(node, f"attribute access ({ast.unparse(node)[:40]}) is not allowed in a formula; "
                                   "write a Python def to use Python")
        raise self.error(node, f"{describe(node)} is not allowed in a formula")

    def _literal(self, node: ast.List | ast.Tuple) -> sp.ImmutableMatrix:
        """[x, y, z] inside a formula is a column vector, [[a, b], [c, d]] a matrix (rows of equal length)."""
        if not node.elts:
            raise self.error(node, "an empty list has no entries to compute with")
        if all(isinstance(e, (ast.List, ast.Tuple)) for e in node.elts):
            rows = [[self.scalar(x) for x in row.elts] for row in node.elts]  # type: ignore[attr-defined]
            if len({len(row) for row in rows}) != 1 or not rows[0]:
                raise self.error(node, "the rows of a matrix need the same number of entries")
            return sp.ImmutableMatrix(rows)
        return sp.ImmutableMatrix([self.scalar(e) for e in node.elts])

    def _entry(self, node: ast.Subscript) -> sp.Expr:
        """x[i] of a vector, W[i, j] of a matrix: counted from 0, negative from the end, as in Python."""
        value = self.value(node.value)
        indices = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if not isinstance(value, sp.MatrixBase):
            raise self.error(node, "indexing needs a vector or matrix (declare it, e.g. x: 3)")
        vector = 1 in value.shape and len(indices) == 1  # an n x 1 matrix (W: 3x1) also takes W[i, 0]
        if len(indices) != (1 if vector else 2):
            said = "vector takes one index, x[i], or" if 1 in value.shape else "matrix takes"
            raise self.error(node, f"a {value.rows} x {value.cols} {said} two indices, W[i, j], counted from 0")
        numbers = [self._index(i) for i in indices]
        sizes = [value.rows * value.cols] if vector else [value.rows, value.cols]
        for number, size in zip(numbers, sizes):
            if not -size <= number < size:
                raise self.error(node, f"index {number} is out of range for {value.rows} x {value.cols}: indices "
                                       f"count from 0 to {size - 1} (or from -1 back)")
        if vector:
            return value[numbers[0] % sizes[0]]
        return value[numbers[0] % sizes[0], numbers[1] % sizes[1]]

    def _index(self, node: ast.expr) -> int:
        negative = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
        sign, inner = (-1, node.operand) if negative else (1, node)  # type: ignore[attr-defined]
        if isinstance(inner, ast.Constant) and type(inner.value) is int:
            return sign * inner.value
        raise self.error(node, "an index must be a whole number written out, e.g. x[0] or x[-1] (no slices)")

    def condition(self, node: ast.expr) -> sp.Basic | Conditions:
        """A comparison of numbers, or of vectors entry by entry (then one condition per entry)."""
        if isinstance(node, ast.Compare):
            parts: list[sp.Basic | Conditions] = []
            left = self.value(node.left)
            for op, comparator in zip(node.ops, node.comparators):
                right = self.value(comparator)
                make = _COMPARE.get(type(op))
                if make is None:
                    raise self.error(node, f"the comparison {type(op).__name__} is not supported")
                parts.append(self._each(node, "a comparison", make, (left, right)))
                left = right
            return self._each(node, "a comparison", sp.And, parts)
        if isinstance(node, ast.BoolOp):
            how = sp.And if isinstance(node.op, ast.And) else sp.Or
            return self._each(node, "and/or", how, [self.condition(v) for v in node.values])
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):  # numpy's spelling
            how = sp.And if isinstance(node.op, ast.BitAnd) else sp.Or
            return self._each(node, "& and |", how, [self.condition(node.left), self.condition(node.right)])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
            return self._each(node, "not", sp.Not, [self.condition(node.operand)])
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return sp.true if node.value else sp.false
        raise self.error(node, "a condition must be a comparison such as x > 0")

    def _each(self, node: ast.AST, what: str, make: Callable[..., sp.Basic],
              parts: Sequence[sp.Basic | Conditions | Value]) -> sp.Basic | Conditions:
        """`make` of the parts, entry by entry when any is a vector or matrix (a condition per entry)."""
        parts = _singles_as_numbers(parts)
        shaped = [p for p in parts if isinstance(p, (sp.MatrixBase, Conditions))]
        if not shaped:
            return make(*parts)
        shapes = {p.shape for p in shaped}
        if len(shapes) > 1:
            shown = " and ".join(f"{r} x {c}" for r, c in (p.shape for p in shaped))
            raise self.error(node, f"{what} needs equal shapes, got {shown}")
        (rows, cols), = shapes
        return Conditions((rows, cols), tuple(make(*(p[k] if isinstance(p, (sp.MatrixBase, Conditions)) else p
                                                     for p in parts)) for k in range(rows * cols)))

    def _choice(self, node: ast.AST, condition: ast.expr, then: ast.expr, otherwise: ast.expr) -> Value:
        """where(cond, a, b) and `a if cond else b`: a piecewise value, entry by entry for vectors."""
        test, a, b = self.condition(condition), self.value(then), self.value(otherwise)
        if not any(isinstance(v, (sp.MatrixBase, Conditions)) for v in (test, a, b)):
            return sp.Piecewise((a, test), (b, True))
        chosen = self._each(node, "where()", lambda c, p, q: sp.Piecewise((p, c), (q, True)), (test, a, b))
        assert isinstance(chosen, Conditions)
        return sp.ImmutableMatrix(*chosen.shape, chosen.entries)

    def _constant(self, node: ast.Constant) -> sp.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "complex numbers" if isinstance(value, complex) else f"the constant {value!r}"
            raise self.error(node, f"{kind} cannot appear in a formula (symbols are real numbers)")
        return sp.Integer(value) if isinstance(value, int) else sp.Float(repr(value))

    def _binop(self, node: ast.BinOp) -> Value:
        """Builds a chain of the same operator in one sympy call, iteratively: 10,000 terms neither recurse
        nor cost quadratic time. Matrices combine element-wise, except `@`, the matrix product."""
        op = type(node.op)
        if op is ast.MatMult:
            return self._matmul(node)
        if op not in _BINOPS:
            symbol = {ast.BitXor: "^", ast.Mod: "%", ast.FloorDiv: "//"}.get(op, op.__name__)
            raise self.error(node, f"the operator {symbol} is not supported in a formula")
        if op is ast.Pow:
            bases: list[ast.expr] = []
            current: ast.expr = node
            while isinstance(current, ast.BinOp) and isinstance(current.op, ast.Pow):
                bases.append(current.left)
                current = current.right
            result = self.scalar(current, broadcast=True)
            for base_node in reversed(bases):
                result = self._power(base_node, self.value(base_node), result)
            return result
        family = (ast.Add, ast.Sub) if op in (ast.Add, ast.Sub) else (ast.Mult, ast.Div)
        terms: list[tuple[type[ast.operator], ast.expr]] = []
        current = node
        while isinstance(current, ast.BinOp) and isinstance(current.op, family):
            terms.append((type(current.op), current.right))
            current = current.left
        first = self.value(current)
        rest = [(o, self.value(t)) for o, t in reversed(terms)]
        for (o, value), (_, term) in zip(rest, reversed(terms)):
            if o is ast.Div:
                self._guard(term, value, divisor=True)
        if isinstance(first, sp.MatrixBase) or any(isinstance(v, sp.MatrixBase) for _, v in rest):
            return self._elementwise_chain(node, first, rest)
        if family[0] is ast.Add:
            return sp.Add(first, *(v if o is ast.Add else -v for o, v in rest))
        return sp.Mul(first, *(v if o is ast.Mult else sp.Pow(v, -1) for o, v in rest))

    def _elementwise_chain(self, node: ast.BinOp, first: Value,
                           rest: Sequence[tuple[type[ast.operator], Value]]) -> Value:
        operations: dict[type[ast.operator], Callable[[sp.Expr, sp.Expr], sp.Expr]] = {
            ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
            ast.Div: lambda a, b: a / b}
        result = first
        for op, operand in rest:
            result = self._elementwise(node, operations[op], _BINOPS[op], result, operand)
        return result

    def _elementwise(self, node: ast.AST, operation: Callable[[sp.Expr, sp.Expr], sp.Expr], symbol: str,
                     left: Value, right: Value) -> Value:
        return self._entrywise(node, symbol, operation, (left, right))

    def _entrywise(self, node: ast.AST, what: str, operation: Callable[..., sp.Expr], values: Sequence[Value]) -> Value:
        """numpy's rule: equal shapes entry by entry, a number (or a 1 x 1 matrix, such as x.T @ x) with every
        entry."""
        values = _singles_as_numbers(values)
        shapes = {v.shape for v in values if isinstance(v, sp.MatrixBase)}
        if not shapes:
            return operation(*values)
        if len(shapes) > 1:
            shown = " and ".join(f"{r} x {c}" for r, c in (v.shape for v in values if isinstance(v, sp.MatrixBase)))
            raise self.error(node, f"{what} needs equal shapes, got {shown}" + ("; use @ for the matrix product"
                                                                               if what == "*" else ""))
        (rows, cols), = shapes
        entries = [operation(*(v[k] if isinstance(v, sp.MatrixBase) else v for v in values))
                   for k in range(rows * cols)]
        return sp.ImmutableMatrix(rows, cols, entries)

    def _matmul(self, node: ast.BinOp) -> Value:
        self._product_estimate(node)  # a chain of products too large is refused before its first factor is built
        left, right = self.value(node.left), self.value(node.right)
        if not (isinstance(left, sp.MatrixBase) and isinstance(right, sp.MatrixBase)):
            raise self.error(node, "@ multiplies matrices; declare their shapes first, e.g. W: 2x3 and x: 3")
        if left.cols != right.rows:
            raise self.error(node, f"@ needs the columns of the left ({left.rows} x {left.cols}) to match the rows "
                                   f"of the right ({right.rows} x {right.cols})")
        self._refuse_large_product(node, (left.rows, left.cols, _average_nodes(left)),
                                   (right.rows, right.cols, _average_nodes(right)))
        return sp.ImmutableMatrix(left * right)

    def _product_estimate(self, node: ast.expr) -> tuple[int, int, int] | None:
        """(rows, cols, average nodes per entry) of a product of named matrices, estimated from the shapes alone;
        None for anything else (it is built to be measured)."""
        if isinstance(node, ast.Name):
            value = self.value(node)
            return (value.rows, value.cols, _average_nodes(value)) if isinstance(value, sp.MatrixBase) else None
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult)):
            return None
        left, right = self._product_estimate(node.left), self._product_estimate(node.right)
        if left is None or right is None or left[1] != right[0]:
            return None
        self._refuse_large_product(node, left, right)
        return left[0], right[1], left[1] * (left[2] + right[2] + 1)

    def _refuse_large_product(self, node: ast.AST, left: tuple[int, int, int], right: tuple[int, int, int]) -> None:
        size = left[0] * right[1] * left[1] * (left[2] + right[2] + 1)
        if size > _MAX_PRODUCT_NODES:
            raise self.error(node, f"this @ ({left[0]} x {left[1]} @ {right[0]} x {right[1]}, of entries that "
                                   f"are themselves sums) would write out about {size:,} symbolic terms, more than "
                                   f"{_MAX_PRODUCT_NODES:,}; use smaller shapes to see the structure")

    def _power(self, node: ast.expr, base: Value, exponent: sp.Expr) -> Value:
        if isinstance(base, sp.MatrixBase):
            return base.applyfunc(lambda e: self._power(node, e, exponent))
        if base.is_Rational and exponent.is_Rational and abs(base) not in (0, 1):
            bits = abs(float(exponent)) * max(abs(base.p).bit_length(), abs(base.q).bit_length())
            if bits > _MAX_EXACT_BITS:
                shown = str(exponent) if len(str(exponent)) < 20 else f"(a {len(str(exponent))}-digit number)"
                raise self.error(node, f"the number {base}**{shown} is too large to compute exactly")
        if base.is_zero and not exponent.is_number:
            raise self.error(node, "0 to a variable power is 0 for positive powers and undefined otherwise; "
                                   "write 0 (or where(...)) instead")
        power = sp.Pow(base, exponent)
        if not (exponent.is_Integer and exponent >= 0):
            self._guard(node, power)
        return power

    def _unary(self, node: ast.UnaryOp) -> Value:
        sign = 1
        current: ast.expr = node
        while isinstance(current, ast.UnaryOp) and isinstance(current.op, (ast.USub, ast.UAdd)):
            sign = -sign if isinstance(current.op, ast.USub) else sign
            current = current.operand
        if isinstance(current, ast.UnaryOp):
            raise self.error(current, "the operators not and ~ are not supported in a formula")
        value = self.value(current)
        return -value if sign < 0 else value

    def _call(self, node: ast.Call) -> sp.Basic:
        if not isinstance(node.func, ast.Name):
            what = ast.unparse(node.func)[:40]
            raise self.error(node, f"only the known functions can be called, not {what}; write a Python def "
                                   "to use Python")
        name = node.func.id
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.error(node, f"{name}() takes plain arguments, no keywords or *unpacking")
        if name in self.functions:
            values, guards = self._call_cell_function(node, name)
            if len(values) != 1:
                raise self.error(node, f"{name} returns {counted(len(values), 'value')} "
                                       f"(line {self.functions[name].line}); a vector can only be the whole right side")
            if self.calls is not None:  # its guards go with it
                return self.calls(name, values, guards)[0]
            self.guards.extend(guards[0])
            return values[0]
        if name not in KNOWN_FUNCTIONS:
            known = sorted(KNOWN_FUNCTIONS) + sorted(self.functions)
            raise self.error(node, f"unknown function {name}{suggest(name, known)}")
        make, arities = KNOWN_FUNCTIONS[name]
        count = len(node.args)
        if (arities is None and count < 1) or (arities is not None and count not in arities):
            want = "one or more" if arities is None else " or ".join(str(a) for a in arities)
            raise self.error(node, f"{name}() takes {want} argument{'s' if want != '1' else ''}, got {count}")
        if name == "where":
            return self._choice(node, *node.args)
        arguments = [self.value(a) for a in node.args]
        if arities is None and count == 1:  # max(z), min(z): over the entries
            entries = list(arguments[0]) if isinstance(arguments[0], sp.MatrixBase) else [arguments[0]]
            return make(*entries)
        if name in WHOLE_ARRAY:
            if name == "dot":
                self._refuse_undotted(node, arguments)
            value = make(*arguments)
        else:
            value = self._entrywise(node, f"{name}()", _applier(make), arguments)
        if name in _RESTRICTED:
            self._guard(node, value)
        return value

    def _refuse_nested(self, node: ast.AST, name: str, function: CellFunction, arguments: Sequence[sp.Expr]) -> None:
        """Estimates a call written out, before sympy builds (and evaluates, slowly) it: calls nested in calls
        multiply the size, 24 levels of g(t) = sin(t) + t give 42 million terms."""
        sizes = {p: tree_size((a,), _INLINED_NODES) for p, a in zip(function.params, arguments)}
        size = tree_size(function.expressions, _INLINED_NODES, sizes)[0]
        if size > _INLINED_NODES:
            raise NestedCalls(f"{name}(...) here, written out with its arguments, has over {_INLINED_NODES:,} terms "
                              "(each call nested in another multiplies the size); jacmagic computes such a map "
                              "through its calls, one step each, when they are in the cell's last function and "
                              "--chain is not given", getattr(node, "lineno", self.line))

    def _refuse_undotted(self, node: ast.AST, values: Sequence[Value]) -> None:
        """dot(a, b) of two vectors of one length (or two numbers)."""
        shapes = [v.shape if isinstance(v, sp.MatrixBase) else (1, 1) for v in values]
        if any(1 not in shape for shape in shapes) or shapes[0][0] * shapes[0][1] != shapes[1][0] * shapes[1][1]:
            shown = " and ".join(f"{r} x {c}" for r, c in shapes)
            raise self.error(node, f"dot() takes two vectors of the same length, got {shown}; use @ for matrices")

    def _call_cell_function(self, node: ast.Call, name: str) -> tuple[tuple[sp.Expr, ...],
                                                                       tuple[tuple[Guard, ...], ...]]:
        """The called function's outputs and guards, with the arguments put in for its parameters."""
        function = self.functions[name]
        if len(node.args) != len(function.params):
            raise self.error(node, f"{name} takes {len(function.params)} arguments (line {function.line}), "
                                   f"got {len(node.args)}")
        arguments = tuple(self.scalar(a) for a in node.args)
        if self.calls is None:
            self._refuse_nested(node, name, function, arguments)
        binding = dict(zip(function.params, arguments))
        guards = tuple(tuple(Guard(g.expression.xreplace(binding), g.line, g.divisor) for g in output)
                       for output in function.guards)
        return tuple(e.xreplace(binding) for e in function.expressions), guards


Part = TypeVar("Part")


def _singles_as_numbers(parts: Sequence[Part]) -> list[Part]:
    """numpy's broadcasting of a 1 x 1 matrix (x.T @ x) beside a larger shape: it is a number there."""
    shapes = {p.shape for p in parts if isinstance(p, (sp.MatrixBase, Conditions))}
    if len(shapes) < 2 or (1, 1) not in shapes:
        return list(parts)
    return [p[0] if isinstance(p, (sp.MatrixBase, Conditions)) and p.shape == (1, 1) else p for p in parts]


# The largest matrix product written out: 30 x 30 @ 30 x 30 @ 30 x 30 would be 2.5 million terms and take
# sympy tens of seconds, outside any control of ours.
_MAX_PRODUCT_NODES = 500_000


def _average_nodes(matrix: sp.MatrixBase) -> int:
    return -(-node_count(matrix, _MAX_PRODUCT_NODES) // max(1, len(matrix)))


# A function of an argument larger than this is left as written: sympy's automatic rewriting asks its assumption
# system for the sign of the argument, which takes seconds for a 100-term sum (tanh(W @ x) of a 100 x 100 layer).
_EVALUATED_NODES = 64


def _applier(make: Callable[..., sp.Expr]) -> Callable[..., sp.Expr]:
    if not (isinstance(make, type) and issubclass(make, sp.Function)):
        return make

    def apply(*arguments: sp.Expr) -> sp.Expr:
        return make(*arguments, evaluate=not exceeds(arguments, _EVALUATED_NODES))  # type: ignore[call-arg]
    return apply
