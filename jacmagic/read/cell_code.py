"""A def cell's code, rewritten so that it runs as Python runs it though sympy evaluates nothing while it runs
(trace.py): what it tests, compares, assigns, looks up and prints is sympy's value of a number it computed (an
unevaluated 1 + 2 is not == 3, nor a key 3 of a dict), and a test of a traced value is refused."""

from __future__ import annotations

import ast
from typing import Any

import numpy as np
import sympy as sp

from jacmagic.read.by_values import holds_symbols
from jacmagic.read.unevaluated import settled, shown


def rewritten(tree: ast.Module) -> ast.Module:
    """The cell's syntax tree with its tests, comparisons, assignments, look-ups and prints going through HOOKS."""
    return ast.fix_missing_locations(_Tests().visit(tree))


def _truth(value: Any) -> Any:
    """An if, while, and/or or not asks a value for True or False: a traced one has no answer that holds for
    every input (sympy would say True for any expression, so `a if x else b` always took a), so it is refused
    as a comparison's is."""
    if holds_symbols(value):
        raise TypeError("cannot determine truth value of a traced value")
    return settled(value)


_NUMBERS = (sp.Expr, int, float, np.number)


def _equal(left: Any, right: Any, unequal: bool) -> Any:
    """`a == b` and `a != b` of traced numbers: an equation, as numpy compares numbers (sympy's == says whether
    two expressions are written alike, so np.where(x != 0, 1/x, 0) always took 1/x)."""
    numbers = all(isinstance(v, _NUMBERS) and not isinstance(v, bool) for v in (left, right))
    if numbers and (holds_symbols(left) or holds_symbols(right)):
        return sp.Ne(left, right) if unequal else sp.Eq(left, right)
    left, right = settled(left), settled(right)
    return left != right if unequal else left == right


_TRUTH, _EQUALITY = "__jacmagic_truth__", "__jacmagic_equal__"
_SETTLED, _SHOWN = "__jacmagic_settled__", "__jacmagic_shown__"
HOOKS: dict[str, Any] = {_TRUTH: _truth, _EQUALITY: _equal, _SETTLED: settled, _SHOWN: shown}  # the cell's names


class _Tests(ast.NodeTransformer):
    """Rewrites the cell's code so that a test of a value (if, while, assert, `x if t else y`, and/or, not, a
    comprehension's if) goes through `_truth` and an == or != through `_equal`, both of which behave as Python's
    own for everything but a traced value; a value assigned to a name, looked up (`in`, d[n], d.get(n), range(n),
    isinstance) is settled (a constant as sympy's value: the def runs unevaluated) and what is printed or put in an
    f-string shown as sympy's value."""

    def generic_visit(self, node: ast.AST) -> ast.AST:
        node = super().generic_visit(node)
        if isinstance(node, (ast.If, ast.IfExp, ast.While, ast.Assert)):
            node.test = _called(_TRUTH, node.test)
        elif isinstance(node, ast.BoolOp):  # every operand but the last, which it returns untested
            node.values[:-1] = [_called(_TRUTH, v) for v in node.values[:-1]]
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            node.operand = _called(_TRUTH, node.operand)
        elif isinstance(node, ast.comprehension):
            node.ifs = [_called(_TRUTH, test) for test in node.ifs]
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
            return _called(_EQUALITY, node.left, node.comparators[0], ast.Constant(isinstance(node.ops[0], ast.NotEq)))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            node.value = _called(_SETTLED, node.value)
        elif isinstance(node, ast.FormattedValue):
            node.value = _called(_SHOWN, node.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            node.args = [_called(_SHOWN, a) if not isinstance(a, ast.Starred) else a for a in node.args]
        elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            node.left, node.comparators = _called(_SETTLED, node.left), [_called(_SETTLED, c) for c in node.comparators]
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Tuple):  # W[n - 1, 0]
            node.slice.elts = [e if isinstance(e, ast.Slice) else _called(_SETTLED, e) for e in node.slice.elts]
        elif isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
            node.slice = _called(_SETTLED, node.slice)  # d[n], v[n - 1]
        elif isinstance(node, ast.Call) and _looks_up(node.func):
            node.args = [_called(_SETTLED, a) if not isinstance(a, ast.Starred) else a for a in node.args]
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt | list[ast.stmt]:  # noqa: N802 - ast's name
        """`n += 1`, then n settled as an assignment's value is."""
        self.generic_visit(node)
        if not isinstance(node.target, ast.Name):
            return node
        name = node.target.id
        return [node, ast.copy_location(ast.Assign([ast.Name(name, ast.Store())],
                                                   _called(_SETTLED, ast.Name(name, ast.Load()))), node)]


_LOOK_UPS = {"isinstance", "type", "range", "hash", "int", "float", "get", "index", "count", "setdefault", "pop"}


def _looks_up(function: ast.expr) -> bool:
    """Is this a call that takes a number as Python's own (isinstance, range, d.get, v.index, ...)?"""
    return (isinstance(function, ast.Name) and function.id in _LOOK_UPS
            or isinstance(function, ast.Attribute) and function.attr in _LOOK_UPS)


def _called(name: str, node: ast.expr, *more: ast.expr) -> ast.expr:
    """`name(node, *more)`, placed where `node` is written."""
    return ast.copy_location(ast.Call(ast.Name(name, ast.Load()), [node, *more], []), node)
