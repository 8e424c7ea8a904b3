"""Formula source -> sympy, safely: the whitelist reader shared by every cell line and every option value.

Every `ast` node is checked against a whitelist: nothing here is ever `eval`ed, so attribute access, imports,
lambdas and calls of anything but the known functions are refused with a message naming the line. Values are
numbers or matrices (declared shapes and what is computed from them).
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import sympy as sp

from .errors import CellError
from .functions import KNOWN_FUNCTIONS

# A power whose exact value would have more bits than this is refused rather than computed (2**10**100 hangs).
_MAX_EXACT_POWER_BITS = 100_000


def real_symbol(name: str) -> sp.Symbol:
    """The symbol for a name typed in a cell: symbols are real, so that sqrt(x**2) and conjugates behave."""
    return sp.Symbol(name, real=True)


def element_symbols(name: str, rows: int, cols: int) -> sp.ImmutableMatrix:
    """The entries of a declared matrix as real symbols: W: 2x3 gives w_11 ... w_23, x: 3 gives x_1, x_2, x_3."""
    base = name[0].lower() + name[1:]
    if cols == 1:
        return sp.ImmutableMatrix([real_symbol(f"{base}_{i}") for i in range(1, rows + 1)])
    joint = "" if rows < 10 and cols < 10 else "_"
    return sp.ImmutableMatrix(rows, cols, lambda i, j: real_symbol(f"{base}_{i + 1}{joint}{j + 1}"))


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


def suggest(name: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


Value: TypeAlias = "sp.Expr | sp.MatrixBase"
_REDUCTIONS = {"sum", "mean"}
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
class CellFunction:
    """A function defined earlier in the cell, callable from later lines."""

    params: tuple[sp.Symbol, ...]
    expressions: tuple[sp.Expr, ...]
    line: int


class ExpressionBuilder:
    """Builds a sympy expression from a whitelisted `ast` expression; anything else is a `CellError`."""

    def __init__(
        self,
        line: int,
        resolve: Callable[[str, ast.Name], sp.Expr],
        functions: Mapping[str, CellFunction],
        column: Callable[[int, int], int],
    ) -> None:
        self.line = line
        self.resolve = resolve
        self.functions = functions
        self.column = column

    def error(self, node: ast.AST, message: str) -> CellError:
        return node_error(node, message, self.line, self.column)

    def outputs(self, node: ast.expr) -> tuple[sp.Expr, ...]:
        """The right side of a definition: a bracketed list or tuple of expressions, or one expression."""
        if isinstance(node, (ast.List, ast.Tuple)):
            if not node.elts:
                raise self.error(node, "the list of outputs is empty")
            return tuple(self.scalar(e) for e in node.elts)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.functions:
            return self._call_cell_function(node, node.func.id)
        return (self.scalar(node),)

    def scalar(self, node: ast.expr) -> sp.Expr:
        value = self.expr(node)
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
            return sp.Piecewise((self.scalar(node.body), self.condition(node.test)), (self.scalar(node.orelse), True))
        if isinstance(node, (ast.Compare, ast.BoolOp)):
            return self.condition(node)
        if isinstance(node, (ast.List, ast.Tuple)):
            raise self.error(node, "a list is only allowed as the whole right side (the outputs)")
        if isinstance(node, ast.Attribute):
            raise self.error(node, f"attribute access ({ast.unparse(node)[:40]}) is not allowed in a formula; "
                                   "write a Python def to use Python")
        raise self.error(node, f"{describe(node)} is not allowed in a formula")

    def condition(self, node: ast.expr) -> sp.Basic:
        if isinstance(node, ast.Compare):
            parts: list[sp.Basic] = []
            left = self.scalar(node.left)
            for op, comparator in zip(node.ops, node.comparators):
                right = self.scalar(comparator)
                make = _COMPARE.get(type(op))
                if make is None:
                    raise self.error(node, f"the comparison {type(op).__name__} is not supported")
                parts.append(make(left, right))
                left = right
            return sp.And(*parts)
        if isinstance(node, ast.BoolOp):
            values = [self.condition(v) for v in node.values]
            return sp.And(*values) if isinstance(node.op, ast.And) else sp.Or(*values)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return sp.Not(self.condition(node.operand))
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return sp.true if node.value else sp.false
        raise self.error(node, "a condition must be a comparison such as x > 0")

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
            result = self.scalar(current)
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
        """numpy's rule: same shapes entry by entry, a number with every entry."""
        if isinstance(left, sp.MatrixBase) and isinstance(right, sp.MatrixBase):
            if left.shape != right.shape:
                raise self.error(node, f"{symbol} needs equal shapes, got {left.rows} x {left.cols} and "
                                       f"{right.rows} x {right.cols}" + ("; use @ for the matrix product"
                                                                         if symbol == "*" else ""))
            return sp.ImmutableMatrix(left.rows, left.cols, [operation(a, b) for a, b in zip(left, right)])
        if isinstance(left, sp.MatrixBase):
            return left.applyfunc(lambda e: operation(e, right))
        if isinstance(right, sp.MatrixBase):
            return right.applyfunc(lambda e: operation(left, e))
        return operation(left, right)

    def _matmul(self, node: ast.BinOp) -> Value:
        left, right = self.value(node.left), self.value(node.right)
        if not (isinstance(left, sp.MatrixBase) and isinstance(right, sp.MatrixBase)):
            raise self.error(node, "@ multiplies matrices; declare their shapes first, e.g. W: 2x3 and x: 3")
        if left.cols != right.rows:
            raise self.error(node, f"@ needs the columns of the left ({left.rows} x {left.cols}) to match the rows "
                                   f"of the right ({right.rows} x {right.cols})")
        return sp.ImmutableMatrix(left * right)

    def _power(self, node: ast.expr, base: Value, exponent: sp.Expr) -> Value:
        if isinstance(base, sp.MatrixBase):
            return base.applyfunc(lambda e: self._power(node, e, exponent))
        if base.is_Rational and exponent.is_Rational and abs(base) not in (0, 1):
            bits = abs(float(exponent)) * max(abs(base.p).bit_length(), abs(base.q).bit_length())
            if bits > _MAX_EXACT_POWER_BITS:
                shown = str(exponent) if len(str(exponent)) < 20 else f"(a {len(str(exponent))}-digit number)"
                raise self.error(node, f"the number {base}**{shown} is too large to compute exactly")
        return sp.Pow(base, exponent)

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
            values = self._call_cell_function(node, name)
            if len(values) != 1:
                raise self.error(node, f"{name} returns {len(values)} values (line {self.functions[name].line}); "
                                       "a vector can only be the whole right side")
            return values[0]
        if name not in KNOWN_FUNCTIONS:
            known = sorted(KNOWN_FUNCTIONS) + sorted(self.functions)
            raise self.error(node, f"unknown function {name}{suggest(name, known)}")
        make, arities = KNOWN_FUNCTIONS[name]
        count = len(node.args)
        if (arities is None and count < 2) or (arities is not None and count not in arities):
            want = "two or more" if arities is None else " or ".join(str(a) for a in arities)
            raise self.error(node, f"{name}() takes {want} argument{'s' if want != '1' else ''}, got {count}")
        if name == "where":
            return make(self.condition(node.args[0]), self.scalar(node.args[1]), self.scalar(node.args[2]))
        if arities == (1,):
            argument = self.value(node.args[0])
            if name in _REDUCTIONS or name == "transpose":
                return make(argument)
            return argument.applyfunc(make) if isinstance(argument, sp.MatrixBase) else make(argument)
        return make(*(self.scalar(a) for a in node.args))

    def _call_cell_function(self, node: ast.Call, name: str) -> tuple[sp.Expr, ...]:
        function = self.functions[name]
        if len(node.args) != len(function.params):
            raise self.error(node, f"{name} takes {len(function.params)} arguments (line {function.line}), "
                                   f"got {len(node.args)}")
        binding = dict(zip(function.params, (self.scalar(a) for a in node.args)))
        return tuple(e.xreplace(binding) for e in function.expressions)
