"""Model -> derivatives: the Jacobian matrix, its determinant, and their tidying under a time budget.

Differentiation and determinants go through symengine (about 100x faster than sympy) when every function in the
map is one whose symengine derivative matches sympy's exactly; anything else (the activations, Abs, Piecewise, ...)
goes through sympy. symengine forgets sympy's assumptions, so results are mapped back onto the cell's real symbols.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import symengine as se  # imported with the module, never inside a budget: an alarm must not land in an import
import sympy as sp

from .budget import Budget
from .evaluate import Evaluator

# Points at which a simplified form must give the same numbers as the original to be shown instead.
_SAMPLES = 40

# Functions whose symengine derivative and round trip to sympy equal sympy's own, checked in tests/test_calculus.py.
_SYMENGINE_SAFE = frozenset({
    sp.Add, sp.Mul, sp.Pow, sp.sin, sp.cos, sp.tan, sp.sec, sp.csc, sp.asin, sp.acos, sp.atan,
    sp.sinh, sp.cosh, sp.tanh, sp.asinh, sp.atanh, sp.exp, sp.log, sp.erf,
})
# A symbolic determinant beyond this size is not expanded: it is shown unevaluated and computed at points.
MAX_SYMBOLIC_DET = 8


def symengine_safe(expressions: Iterable[sp.Basic]) -> bool:
    """True when every node of every expression is a number, a symbol or a function in `_SYMENGINE_SAFE`."""
    for expression in expressions:
        for node in sp.preorder_traversal(expression):
            if not node.args:
                if not (node.is_Symbol or node.is_Number or node in (sp.pi, sp.E)):
                    return False
                if node.is_Float and not math.isfinite(float(node)):  # symengine's floats overflow to Inf
                    return False
            elif node.func not in _SYMENGINE_SAFE:
                return False
    return True


def _to_sympy(value: object, symbols: Iterable[sp.Symbol]) -> sp.Basic:
    """A symengine object back in sympy, on the cell's own (real) symbols."""
    converted = value._sympy_()  # type: ignore[attr-defined]
    return converted.xreplace({sp.Symbol(s.name): s for s in symbols})


def jacobian(expressions: Sequence[sp.Expr], variables: Sequence[sp.Symbol],
             use_symengine: bool | None = None) -> sp.ImmutableMatrix:
    """d expressions / d variables: rows are outputs, columns are variables (numerator layout)."""
    if not variables:  # a stage of constants: no columns
        return sp.ImmutableMatrix(sp.zeros(len(expressions), 0))
    if use_symengine is None:
        use_symengine = symengine_safe(expressions)
    if not use_symengine:
        return sp.ImmutableMatrix(_sparse_jacobian(expressions, variables, sp.Add, sp.diff))
    rows = _sparse_jacobian([se.sympify(e) for e in expressions], [se.Symbol(v.name) for v in variables], se.Add,
                            lambda t, v: t.diff(v))
    symbols = set(variables).union(*(e.free_symbols for e in expressions))
    return sp.ImmutableMatrix(_to_sympy(se.DenseMatrix(rows), symbols))


def _sparse_jacobian(expressions: Sequence[Any], variables: Sequence[Any], add: Any,
                     diff: Callable[[Any, Any], Any]) -> list[list[Any]]:
    """d expressions / d variables, one small derivative at a time: each term of a sum is differentiated only
    by the variables it contains. The cost follows the size of the map, not size x variables (a loss summed over
    10,000 weights is 10,000 small derivatives, not 10,000 walks over the whole sum), and every call into
    compiled code is small, so a time budget or Ctrl-C can stop it between two of them."""
    column = {v: j for j, v in enumerate(variables)}
    rows = []
    for expression in expressions:
        terms = expression.args if isinstance(expression, add) else (expression,)
        by_variable: dict[Any, list[Any]] = {}
        for term in terms:
            for symbol in term.free_symbols:
                if symbol in column:
                    by_variable.setdefault(symbol, []).append(term)
        row: list[Any] = [0] * len(variables)
        for symbol, containing in by_variable.items():
            row[column[symbol]] = add(*(diff(t, symbol) for t in containing))
        rows.append(row)
    return rows


def determinant(matrix: sp.MatrixBase, budget: Budget, use_symengine: bool | None = None) -> sp.Expr | None:
    """The expanded determinant, or None when it is too big to expand within the budget."""
    n = matrix.shape[0]
    if n > MAX_SYMBOLIC_DET:
        return None
    if use_symengine is None:
        use_symengine = symengine_safe(matrix)
    if use_symengine:
        return _to_sympy(se.DenseMatrix(matrix.tolist()).det(), matrix.free_symbols)
    found: sp.Expr | None = budget.run(lambda: matrix.det(method="berkowitz"), None)
    return found


def tidy(expression: sp.Expr, budget: Budget) -> sp.Expr:
    """`simplify` within the budget, kept only when it is no longer than what we had and computes the same
    numbers: simplify assumes what it likes (100**v*log(100) may become an overflowing power, sqrt(|y|)'s
    derivative may lose its sign), so a form that differs anywhere on the sample points is not shown."""
    simpler: sp.Expr = budget.run(lambda: sp.simplify(expression), expression)
    if simpler == expression or sp.count_ops(simpler) > sp.count_ops(expression):
        return expression
    return simpler if budget.run(lambda: same_numbers(expression, simpler), False) else expression


def same_numbers(a: sp.Expr, b: sp.Expr) -> bool:
    """Do two expressions give the same numbers, defined and undefined alike, at seeded sample points of both
    signs and several scales?"""
    symbols = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    rng = np.random.default_rng(0)
    magnitudes = np.array([0.1, 0.5, 1.0, 1.81, 2.0, 3.0, 7.5, 30.0])
    points = rng.choice(magnitudes, size=(_SAMPLES, len(symbols))) * rng.choice([-1.0, 1.0], size=(_SAMPLES,
                                                                                                    len(symbols)))
    values = [Evaluator(sp.Matrix([e]), symbols)(*points.T)[..., 0, 0] for e in (a, b)]
    defined = [np.isfinite(v) for v in values]
    if not (defined[0] == defined[1]).all():
        return False
    x, y = values[0][defined[0]], values[1][defined[0]]
    return bool(np.allclose(x, y, rtol=1e-9, atol=1e-12 * max(1.0, float(np.max(np.abs(x), initial=0.0)))))


def tidy_matrix(matrix: sp.ImmutableMatrix, budget: Budget) -> sp.ImmutableMatrix:
    """Simplifies each entry in turn while the budget lasts (`--simplify full`)."""
    entries = []
    for entry in matrix:
        entries.append(tidy(entry, budget) if budget.remaining() > 0 and not budget.exceeded else entry)
    return sp.ImmutableMatrix(matrix.rows, matrix.cols, entries)
