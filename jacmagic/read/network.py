"""Layer cell text -> a chain of array operations: the walkthrough at the level of matrix calculus, any size.

A cell of shape declarations (`W: 32x64`, `x: 64`) and assignment lines (`h = relu(W @ x + b)`) is read a second
way beside the entry-level reader: each line becomes a small tree of `operations` whose values and derivatives
are computed with numpy, never by writing out one sympy expression per entry.

A line the array reader does not cover (a bracketed list, a function it does not know) raises `NotStructured`,
and the cell goes the entry-level way. What is read is a `chain.network.Network`: the graph, apart from its reading.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping

import numpy as np

from jacmagic.chain.binary import TWO_PLACE, Binary
from jacmagic.chain.choices import Where, chosen, shape_of_all
from jacmagic.chain.elementwise import Apply
from jacmagic.chain.functions import ARRAY_LEVEL, FUNCTIONS, KNOWN_CONSTANTS, KNOWN_FUNCTIONS, building
from jacmagic.chain.images import USAGE, image_operation, stack_of
from jacmagic.chain.linear import Dot, Entry, MatMul, Transpose
from jacmagic.chain.matrix_functions import CALLS
from jacmagic.chain.network import Line, Network
from jacmagic.chain.operations import Arithmetic, Leaf, Negate, Node, Number, Power, Shape
from jacmagic.chain.reductions import Axis, Reduce, Softmax
from jacmagic.chain.stacking import Stack
from jacmagic.errors import CellError
from jacmagic.read.guards import refuse_infinite
from jacmagic.read.matrix_values import unmatched_product
from jacmagic.read.names import real_symbol, refuse_lookalikes, refuse_twins
from jacmagic.read.source import Prepared, node_error, parse_deep, prepare, syntax_error


def _as_float(number: float) -> float:
    """The float of a literal, inf for a whole number past the largest float (float() raises for it)."""
    try:
        return float(number)
    except OverflowError:
        return math.inf


class NotStructured(Exception):
    """The cell uses something the array reader does not cover (on `line`, when known); the entry-level reader
    takes it."""

    def __init__(self, line: int | None = None) -> None:
        super().__init__(line)
        self.line = line


# -- reading a line -----------------------------------------------------------------------------------------------

_REDUCTIONS = building("Reduce")  # sum, mean, max, min, norm, logsumexp
# Every function the array reader takes, for the message that says what it covers: the table's, ** and the images'.
COVERED = frozenset(ARRAY_LEVEL) | frozenset(TWO_PLACE) | frozenset(USAGE)
_AXIS_TAKERS = _REDUCTIONS | building("Softmax")
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_COMPARISONS = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<="}


def _constant(node: Node) -> float | None:
    """The number a part without arrays computes (the exponent 2**2 or -1/2), None if it uses one."""
    if isinstance(node, Leaf) or node.size != 1:
        return None
    if isinstance(node, Number):
        return node.value
    values = [_constant(child) for child in node.children]
    if any(v is None for v in values):
        return None
    with np.errstate(all="ignore"):
        value = float(node.evaluate([np.full((1, 1), v) for v in values]).reshape(-1)[0])
    return value if math.isfinite(value) else None


class LineReader:
    """One line's whitelisted `ast` -> array operations, with shapes checked where they meet."""

    def __init__(self, line: int, shapes: Mapping[str, Shape], prepared: Prepared,
                 stacks: Mapping[str, int]) -> None:
        self.line, self.shapes, self.prepared, self.stacks = line, shapes, prepared, stacks
        self.leaves: dict[str, Leaf] = {}

    def error(self, node: ast.AST, message: str) -> CellError:
        return node_error(node, message, self.line, self.prepared.original_column)

    def read(self, node: ast.expr) -> Node:
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            refuse_infinite(_as_float(node.value), lambda message: self.error(node, message))
            return Number(float(node.value))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.read(node.operand)
            return Negate(inner) if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return self._call(node, node.func.id)
        if isinstance(node, ast.Attribute) and node.attr == "T":
            return Transpose(self.read(node.value))
        if isinstance(node, ast.Subscript):
            return self._entry(node)
        if isinstance(node, (ast.List, ast.Tuple)):
            return self._stack(node)
        if isinstance(node, ast.IfExp):  # `a if x > 0 else b`: where(x > 0, a, b), entry by entry
            return self._decide(node, node.test, self.read(node.body), self.read(node.orelse))
        raise NotStructured(self.line)

    def _name(self, node: ast.Name) -> Node:
        name = node.id
        if name in KNOWN_CONSTANTS:
            return Number(float(KNOWN_CONSTANTS[name]))
        if name in KNOWN_FUNCTIONS or name.startswith("__"):
            raise NotStructured(self.line)  # the entry-level reader words the error
        leaf = self.leaves.setdefault(name, Leaf(name, self.shapes.get(name, (1, 1)), self.stacks.get(name, 1)))
        return leaf

    def _binary(self, node: ast.BinOp) -> Node:
        if isinstance(node.op, ast.MatMult):
            a, b = self.read(node.left), self.read(node.right)
            if a.shape[1] != b.shape[0]:
                raise self.error(node, unmatched_product(a.shape, b.shape))
            return MatMul(a, b)
        if isinstance(node.op, ast.Pow):
            base, exponent = self.read(node.left), self.read(node.right)
            number = _constant(exponent)
            if number is not None:
                return Power(base, number)
            return self._two("**", node, base, exponent)  # a variable exponent: x ** y, 2 ** x
        op = _OPERATORS.get(type(node.op))
        if op is None:
            raise NotStructured(self.line)
        a, b = self.read(node.left), self.read(node.right)
        self._fitting(node, op, a, b, hint="; use @ for the matrix product" if op == "*" else "")
        return Arithmetic(op, a, b)

    def _call(self, node: ast.Call, name: str) -> Node:
        axis = self._axis(node, name)
        if name == "where" and len(node.args) == 3:
            return self._where(node)
        args = [self.read(a) for a in node.args]
        if name in ("max", "min") and len(args) >= 2 and not node.keywords:
            return self._choice(node, name, *args)
        if name in TWO_PLACE and len(args) == 2:
            return self._two(name, node, *args)
        if name == "log" and len(args) == 2:  # log(x, base) = log(x) / log(base), as the entry level reads it
            self._fitting(node, "log(x, base)", *args)
            return Arithmetic("/", Apply("log", args[0]), Apply("log", args[1]))
        if name in FUNCTIONS and len(args) == 1:
            return Apply(name, args[0])
        if name in USAGE:
            try:
                return image_operation(name, args)
            except CellError as err:
                raise self.error(node, err.message) from None
        if name in _REDUCTIONS and len(args) == 1:
            return Reduce(name, args[0], axis)
        if name in ("softmax", "log_softmax") and len(args) == 1:
            if axis is None and min(args[0].shape) > 1:
                rows, cols = args[0].shape
                raise self.error(node, f"{name}() of a {rows} x {cols} matrix needs an axis: axis=0 normalises each "
                                       "column (a batch with one example per column), axis=1 each row")
            return Softmax(args[0], log=name == "log_softmax", axis=axis)
        if name == "transpose" and len(args) == 1:
            return Transpose(args[0])
        if name == "dot" and len(args) == 2:
            a, b = args
            if 1 not in a.shape or 1 not in b.shape or a.size != b.size:
                raise self.error(node, f"dot() takes two vectors of the same length, got {a.shape[0]} x {a.shape[1]} "
                                       f"and {b.shape[0]} x {b.shape[1]}; use @ for matrices")
            return Dot(a, b)
        if name in CALLS and len(args) in CALLS[name][0]:
            try:
                built = CALLS[name][1](*args)
            except ValueError as why:
                raise self.error(node, str(why)) from None
            if built is not None:
                return built
        raise NotStructured(self.line)

    def _axis(self, node: ast.Call, name: str) -> Axis:
        """The `axis=` of a reduction or softmax (0 per column, 1 per row; -1 and -2 as numpy counts them)."""
        if not node.keywords:
            return None
        if name not in COVERED:
            raise NotStructured(self.line)
        keyword = node.keywords[0]
        takes = name in _AXIS_TAKERS and len(node.args) == 1
        if not takes or len(node.keywords) > 1 or keyword.arg != "axis":
            raise self.error(node, f"{name}() takes no {keyword.arg or '**'}= here; axis= (0 per column, 1 per row) "
                                   f"goes with one array in {', '.join(sorted(_AXIS_TAKERS))}")
        value = keyword.value
        negative = isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub)
        number = value.operand if negative else value  # type: ignore[attr-defined]
        if not (isinstance(number, ast.Constant) and type(number.value) is int
                and -2 <= (axis := -number.value if negative else number.value) <= 1):
            raise self.error(node, f"{name}(): axis= is 0 (per column) or 1 (per row)")
        return axis % 2

    def _fitting(self, node: ast.AST, what: str, *nodes: Node, hint: str = "") -> None:
        if shape_of_all(*nodes) is None:
            shapes = " and ".join(f"{n.shape[0]} x {n.shape[1]}" for n in nodes)
            raise self.error(node, f"{what} needs equal shapes, got {shapes}{hint} (or shapes that broadcast, as in "
                                   "numpy: a number goes with every entry, a column n x 1 with every column of an "
                                   "n x k matrix, a row 1 x k with every row)")

    def _where(self, node: ast.Call) -> Node:
        """where(cond, p, q)."""
        return self._decide(node, node.args[0], self.read(node.args[1]), self.read(node.args[2]))

    def _decide(self, node: ast.expr, test: ast.expr, then: Node, otherwise: Node) -> Node:
        """where(test, then, otherwise) for every condition the entry level reads: a comparison (chained, == and !=
        too), and/or, & and |, not and ~, as choices on one comparison each, nested: where(a and b, p, q) is
        where(a, where(b, p, q), q)."""
        if isinstance(test, ast.Compare):
            sides = [self.read(test.left), *(self.read(c) for c in test.comparators)]
            for op, left, right in reversed(list(zip(test.ops, sides, sides[1:]))):  # a < b < c: both hold
                then = self._compared(node, op, left, right, then, otherwise)
            return then
        parts: list[ast.expr] = []
        both = isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) or \
            isinstance(test, ast.BinOp) and isinstance(test.op, ast.BitAnd)
        if isinstance(test, ast.BoolOp):
            parts = test.values
        elif isinstance(test, ast.BinOp) and isinstance(test.op, (ast.BitAnd, ast.BitOr)):
            parts = [test.left, test.right]
        elif isinstance(test, ast.UnaryOp) and isinstance(test.op, (ast.Not, ast.Invert)):
            return self._decide(node, test.operand, otherwise, then)
        else:
            raise NotStructured(self.line)
        for part in reversed(parts):
            then, otherwise = (self._decide(node, part, then, otherwise), otherwise) if both else \
                (then, self._decide(node, part, then, otherwise))
        return then if both else otherwise

    def _compared(self, node: ast.expr, op: ast.cmpop, left: Node, right: Node, then: Node, otherwise: Node) -> Node:
        """One comparison's choice; a == b as neither a < b nor a > b."""
        self._fitting(node, "where(...)", left, right, then, otherwise)
        if type(op) in _COMPARISONS:
            return Where(_COMPARISONS[type(op)], left, right, then, otherwise)
        if isinstance(op, (ast.Eq, ast.NotEq)):
            equal, unequal = (then, otherwise) if isinstance(op, ast.Eq) else (otherwise, then)
            return Where("<", left, right, unequal, Where(">", left, right, unequal, equal))
        raise NotStructured(self.line)

    def _choice(self, node: ast.Call, name: str, *values: Node) -> Node:
        """max(a, b, ...) and min(a, b, ...) entry by entry, pairwise; max(z, 0) is ReLU."""
        self._fitting(node, f"{name}(...)", *values)
        found = values[0]
        for value in values[1:]:
            found = chosen(name, found, value)
        return found

    def _two(self, name: str, node: ast.AST, a: Node, b: Node) -> Node:
        """atan2(y, x), hypot(a, b), a ** b: a function of two arrays entry by entry, broadcast."""
        self._fitting(node, "**" if name == "**" else f"{name}(...)", a, b)
        return Binary(name, a, b)

    def _stack(self, node: ast.List | ast.Tuple) -> Node:
        """[a, b, c] is a column, [[a, b], [c, d]] a matrix (rows of one length), each item a number."""
        rows = [row.elts if isinstance(row, (ast.List, ast.Tuple)) else None for row in node.elts]
        matrix = bool(rows) and all(row is not None for row in rows)
        cells = [e for row in rows for e in row or ()] if matrix else list(node.elts)
        if not cells or (matrix and len({len(row or ()) for row in rows}) != 1):
            raise NotStructured(self.line)  # the entry-level reader words the error
        items = tuple(self.read(e) for e in cells)
        if any(item.size != 1 for item in items):
            raise NotStructured(self.line)
        return Stack(items, (len(rows), len(rows[0] or ())) if matrix else (len(items), 1), matrix)

    def _entry(self, node: ast.Subscript) -> Node:
        inner = self.read(node.value)
        indices = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        numbers = []
        for index in indices:
            negative = isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub)
            value = index.operand if negative else index  # type: ignore[attr-defined]
            if not (isinstance(value, ast.Constant) and type(value.value) is int):
                raise NotStructured(self.line)
            numbers.append(-value.value if negative else value.value)
        rows, cols = inner.shape
        vector = 1 in inner.shape and len(numbers) == 1  # an n x 1 matrix also takes W[i, 0]
        if inner.size == 1 or len(numbers) != (1 if vector else 2):
            raise NotStructured(self.line)
        sizes = [rows * cols] if vector else [rows, cols]
        if any(not -size <= n < size for n, size in zip(numbers, sizes)):
            raise NotStructured(self.line)
        place = numbers[0] % sizes[0] if vector else (numbers[0] % rows) * cols + numbers[1] % cols
        return Entry(inner, place, ", ".join(str(n) for n in numbers))


# -- the cell -----------------------------------------------------------------------------------------------------

def _target(statement: ast.stmt) -> str:
    if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)):
        raise NotStructured
    return statement.targets[0].id


def read_network(text: str) -> Network:
    """A layer cell as array operations; `NotStructured` if it is not a layer cell this reader covers, a
    `CellError` (with the line) for a mistake such as shapes that do not fit."""
    prepared = prepare(text)
    if prepared.heads:
        raise NotStructured
    try:
        module = parse_deep(prepared.source)
    except SyntaxError as err:
        raise syntax_error(err, prepared, text) from None
    except (RecursionError, MemoryError, ValueError):
        raise NotStructured from None
    refuse_lookalikes(module, prepared)  # as the entry-level reader does: х (Cyrillic) is not x
    shapes: dict[str, Shape] = {d.name: (d.rows, d.cols) for d in prepared.declarations.values()}
    declared = dict(shapes)
    stacks = {d.name: d.stack for d in prepared.declarations.values()}  # batches of images
    targets = [_target(statement) for statement in module.body]
    if len(set(targets)) != len(targets) or any(t in shapes or t in KNOWN_FUNCTIONS or t in KNOWN_CONSTANTS
                                                for t in targets):
        raise NotStructured  # the entry-level reader words these mistakes
    lines: list[Line] = []
    for statement, name in zip(module.body, targets):
        reader = LineReader(statement.lineno, shapes, prepared, stacks)
        try:
            root = reader.read(statement.value)  # type: ignore[attr-defined]
        except RecursionError:
            raise NotStructured from None
        if any(leaf.name in targets and leaf.name not in shapes for leaf in reader.leaves.values()):
            raise NotStructured  # used before it is assigned
        shapes[name], stacks[name] = root.shape, stack_of(root)
        lines.append(Line(name, statement.lineno, root, tuple(reader.leaves.values())))
    if not lines:
        raise NotStructured
    computed = set(targets)
    used = [leaf.name for line in lines for leaf in line.leaves]
    inputs = tuple(dict.fromkeys(n for n in used if n not in computed))
    unused = [n for n in declared if n not in inputs]
    if unused:
        raise CellError(f"{unused[0]} is declared but never used", prepared.declarations[unused[0]].line)
    outputs = tuple(line.name for line in lines if line.name not in used)
    refuse_twins(real_symbol(name) for name in (*inputs, *targets))  # theta and θ, x1 and x_1 are one name shown
    return Network(declared, tuple(lines), inputs, outputs)

