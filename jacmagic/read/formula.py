"""Formula source -> sympy, safely: the whitelist reader shared by every cell line and every option value.

Every `ast` node is checked against a whitelist: nothing here is ever `eval`ed, so attribute access, imports,
lambdas and calls of anything but the known functions are refused with a message naming the line. Values are
numbers or matrices (declared shapes and what is computed from them). This module reads the `ast`; numpy's rules
on matrices are in `matrix_values`, the guards and refusals of what is undefined in `guards`, calls of the cell's
own functions in `cell_functions`, and the names (symbols, look-alikes, suggestions) in `names`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping

import sympy as sp

from jacmagic.chain import canonical
from jacmagic.chain.functions import KNOWN_FUNCTIONS, OVER_ENTRIES, RESTRICTED, WHOLE_ARRAY
from jacmagic.errors import CellError
from jacmagic.model import Guard
from jacmagic.notation import counted
from jacmagic.read.cell_functions import CallStages, CellFunction
from jacmagic.read.guards import (
    Written,
    by_entry,
    guards_of,
    refuse_huge_power,
    refuse_infinite,
    refuse_unusable,
    taken_only,
)
from jacmagic.read.matrix_values import (
    Conditions,
    Fail,
    Value,
    applier,
    average_nodes,
    each,
    entry,
    entrywise,
    entrywise_chain,
    index_sizes,
    product,
    refuse_large_product,
    refuse_undotted,
    singles_as_numbers,
    spread,
)
from jacmagic.read.names import STEP_FUNCTIONS, step_refusal, suggest
from jacmagic.read.source import node_error


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
        ast.Yield: "yield",
        ast.YieldFrom: "yield from",
        ast.SetComp: "a comprehension",
        ast.DictComp: "a comprehension",
    }
    return names.get(type(node), type(node).__name__)


_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
}
_COMPARE: dict[type[ast.cmpop], Callable[[sp.Expr, sp.Expr], sp.Basic]] = {
    ast.Lt: sp.Lt, ast.LtE: sp.Le, ast.Gt: sp.Gt, ast.GtE: sp.Ge, ast.Eq: sp.Eq, ast.NotEq: sp.Ne,
}


def _as_entries(value: Value) -> tuple[sp.Expr, ...]:
    return tuple(value) if isinstance(value, sp.MatrixBase) else (value,)


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

    def _fail(self, node: ast.AST) -> Fail:
        """The errors of the matrix rules, located at `node`."""
        return lambda message: self.error(node, message)

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
            return values, tuple(a + g for a, g in zip(by_entry(self.guards[start:], values), guards))
        if isinstance(node, (ast.List, ast.Tuple)) and not node.elts:
            raise self.error(node, "the list of outputs is empty")
        if not isinstance(node, (ast.List, ast.Tuple)):  # one expression: a number, or a vector of outputs
            value = self.finished(node, self.value(node))
            entries = _as_entries(value)
            return entries, by_entry(self.guards, entries, lambda: self.written(node))
        scalars: list[sp.Expr] = []
        checks: list[tuple[Guard, ...]] = []
        for element in node.elts:
            start = len(self.guards)
            scalars.append(self.finished(element, self.scalar(element)))
            checks.append(tuple(self.guards[start:]))
        return tuple(scalars), tuple(checks)

    def written(self, node: ast.expr) -> Written | None:
        """`node` read again with sympy's evaluation off: its guards, and its entries as written, where each
        guard's part is still in the entries that used it (v/v keeps v_1/v_1); None if that reading fails (sympy's
        own rules may, on unevaluated parts). Only for a line where sympy folded a guard's part away."""
        from jacmagic.read.unevaluated import evaluator, unevaluated  # with numpy: not for a small map's text

        again = ExpressionBuilder(self.line, self.resolve, self.functions, self.column)
        try:
            with unevaluated():
                value = again.value(node)
        except Exception:  # noqa: BLE001 - the line was read evaluated: its guards are placed as before
            return None
        return again.guards, _as_entries(value), evaluator()

    def finished(self, node: ast.AST, value: Value) -> Value:
        """A whole right side, refused if it is undefined for every input or holds numbers too large to use."""
        refuse_unusable(value, self._fail(node))
        return value

    def _guard(self, node: ast.AST, value: Value, divisor: bool = False) -> None:
        """Records where `value` must be defined, as the user wrote it."""
        self.guards.extend(guards_of(value, getattr(node, "lineno", self.line), divisor, self._fail(node)))

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
        sizes = index_sizes(value, len(indices), self._fail(node))
        assert isinstance(value, sp.MatrixBase)  # index_sizes refuses a number
        return entry(value, [self._index(i) for i in indices], sizes, self._fail(node))

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
                    written = {ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}[type(op)]
                    raise self.error(node, f"the comparison '{written}' is not supported in a formula")
                parts.append(each("a comparison", make, (left, right), self._fail(node)))
                left = right
            return each("a comparison", sp.And, parts, self._fail(node))
        if isinstance(node, ast.BoolOp):
            how = sp.And if isinstance(node.op, ast.And) else sp.Or
            return each("and/or", how, [self.condition(v) for v in node.values], self._fail(node))
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):  # numpy's spelling
            how = sp.And if isinstance(node.op, ast.BitAnd) else sp.Or
            return each("& and |", how, [self.condition(node.left), self.condition(node.right)], self._fail(node))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
            return each("not", sp.Not, [self.condition(node.operand)], self._fail(node))
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return sp.true if node.value else sp.false
        # a number as a condition holds where it is not 0, as numpy and Python read it (np.where(x, a, b))
        return each("a condition", lambda e: sp.Ne(e, 0), [self.value(node)], self._fail(node))

    def _choice(self, node: ast.AST, condition: ast.expr, then: ast.expr, otherwise: ast.expr) -> Value:
        """where(cond, a, b) and `a if cond else b`: a piecewise value, entry by entry for vectors. A guard of a
        branch is checked only where the branch is taken, entry by entry."""
        test, start = self.condition(condition), len(self.guards)
        a, middle = self.value(then), len(self.guards)
        b = self.value(otherwise)
        chosen = each("where()", lambda c, p, q: sp.Piecewise((p, c), (q, True)), (test, a, b), self._fail(node))
        size = len(chosen.entries) if isinstance(chosen, Conditions) else 1
        tests, picked, other = (spread(v, size) for v in singles_as_numbers((test, a, b)))
        self.guards[start:] = [*taken_only(self.guards[start:middle], tests, picked, True),
                               *taken_only(self.guards[middle:], tests, other, False)]
        return sp.ImmutableMatrix(*chosen.shape, chosen.entries) if isinstance(chosen, Conditions) else chosen

    def _constant(self, node: ast.Constant) -> sp.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "complex numbers" if isinstance(value, complex) else f"the constant {value!r}"
            raise self.error(node, f"{kind} cannot appear in a formula (symbols are real numbers)")
        refuse_infinite(value, self._fail(node))
        return sp.Integer(value) if isinstance(value, int) else sp.Float(repr(value))

    def _binop(self, node: ast.BinOp) -> Value:
        """Builds a chain of the same operator in one sympy call, iteratively: 10,000 terms neither recurse
        nor cost quadratic time. Matrices combine element-wise, except `@`, the matrix product."""
        op = type(node.op)
        if op is ast.MatMult:
            return self._matmul(node)
        if op not in _BINOPS:
            symbol = {ast.BitXor: "^", ast.Mod: "%", ast.FloorDiv: "//", ast.LShift: "<<", ast.RShift: ">>",
                      ast.BitOr: "|", ast.BitAnd: "&"}.get(op, op.__name__)
            if symbol in STEP_FUNCTIONS:
                raise self.error(node, step_refusal(symbol))
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
            return entrywise_chain(first, [(_BINOPS[o], v) for o, v in rest], self._fail(node))
        # built straight in sympy's canonical form where nothing combines (issue 27)
        if family[0] is ast.Add:
            return canonical.total(first, *(v if o is ast.Add else -v for o, v in rest))
        return canonical.product(first, *(v if o is ast.Mult else canonical.reciprocal(v) for o, v in rest))

    def _matmul(self, node: ast.BinOp) -> Value:
        self._product_estimate(node)  # a chain of products too large is refused before its first factor is built
        return product(self.value(node.left), self.value(node.right), self._fail(node))

    def _product_estimate(self, node: ast.expr) -> tuple[int, int, int] | None:
        """(rows, cols, average nodes per entry) of a product of named matrices, estimated from the shapes alone;
        None for anything else (it is built to be measured)."""
        if isinstance(node, ast.Name):
            value = self.value(node)
            return (value.rows, value.cols, average_nodes(value)) if isinstance(value, sp.MatrixBase) else None
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult)):
            return None
        left, right = self._product_estimate(node.left), self._product_estimate(node.right)
        if left is None or right is None or left[1] != right[0]:
            return None
        refuse_large_product(left, right, self._fail(node))
        return left[0], right[1], left[1] * (left[2] + right[2] + 1)

    def _power(self, node: ast.expr, base: Value, exponent: sp.Expr) -> Value:
        if isinstance(base, sp.MatrixBase):
            return base.applyfunc(lambda e: self._power(node, e, exponent))
        refuse_huge_power(base, exponent, self._fail(node))
        if base.is_zero and not exponent.is_number:
            raise self.error(node, "0 to a variable power is 0 for positive powers and undefined otherwise; "
                                   "write 0 (or where(...)) instead")
        power = canonical.power(base, exponent)
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
        if name in STEP_FUNCTIONS:
            raise self.error(node, step_refusal(name))
        if name not in KNOWN_FUNCTIONS:
            from jacmagic.chain.images import USAGE  # the image operations, loaded only to word this mistake

            if name in USAGE:
                raise self.error(node, f"{name} works on whole arrays: it is read in a --chain cell, in a line "
                                       f"such as H = {name}(...) below the arrays' declarations; add --chain")
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
            return OVER_ENTRIES[name](*entries)
        if name in WHOLE_ARRAY:
            if name == "dot":
                refuse_undotted(arguments, self._fail(node))
            value = make(*arguments)
        else:
            value = entrywise(f"{name}()", applier(make), arguments, self._fail(node))
        if name in RESTRICTED:  # defined on part of the real line: the map's domain is checked
            self._guard(node, value)
        return value

    def _call_cell_function(self, node: ast.Call, name: str) -> tuple[tuple[sp.Expr, ...],
                                                                       tuple[tuple[Guard, ...], ...]]:
        """The called function's outputs and guards, with the arguments put in for its parameters."""
        function = self.functions[name]
        if len(node.args) != len(function.params):
            raise self.error(node, f"{name} takes {len(function.params)} arguments (line {function.line}), "
                                   f"got {len(node.args)}")
        arguments = tuple(self.scalar(a) for a in node.args)
        if self.calls is None:
            function.refuse_written_out(name, arguments, getattr(node, "lineno", self.line))
        return function.called(arguments)

