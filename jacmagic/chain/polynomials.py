"""Expressions as polynomials in their parts: two forms proved equal by expanding, the length of an expansion
estimated before it is started, and the squares sin^2 + cos^2 = 1, cosh^2 - sinh^2 = 1 rewritten to find the
textbook form of a determinant that simplify leaves as a sum of squares.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import sympy as sp

from jacmagic.model import distinct_nodes, postorder

# At most this many terms, estimated before starting, are expanded: sympy expands about 6,000 terms a second (a
# 10-term sum to the 4th power, 715 terms: 0.12 s), and a Hessian entry such as 380*S**18 of a 30-term sum S would
# have 10^12 (no answer in minutes); past it, `same_polynomial` proves nothing and the sample points decide.
MAX_EXPANDED = 500


def same_polynomial(a: sp.Expr, b: sp.Expr) -> bool:
    """Are `a` and `b` the same polynomial in the same parts (the symbols, function values and other powers
    they combine by sums, products and whole powers)? Then they are equal wherever those parts are defined and
    undefined alike elsewhere, with no point to evaluate: x*(2*y*cos(y) - 5*x), simplify's form of a command
    line's determinant, is proved without building a compiled function for the sample points (issue 27).
    False says only "not proved", also for a pair whose expansion would be too long (`MAX_EXPANDED`)."""
    if expanded_terms(a) + expanded_terms(b) > MAX_EXPANDED:
        return False
    parts = _parts(a)
    if parts != _parts(b):
        return False
    letters = {part: sp.Dummy() for part in parts}
    return sp.expand(a.xreplace(letters) - b.xreplace(letters)) == 0


def expanded_terms(expression: sp.Expr, limit: int = MAX_EXPANDED) -> int:
    """How many terms expanding `expression` gives at most, counted up to just past `limit` without expanding: a
    sum adds its terms' counts, a product multiplies its factors', a whole power n of a k-term sum has at most
    C(|n| + k - 1, |n|) (of either sign: sympy's expand expands a denominator too)."""
    counts: dict[sp.Basic, int] = {}
    for node in postorder((expression,)):
        if node.is_Add:
            count = sum(counts[a] for a in node.args)
        elif node.is_Mul:
            count = math.prod(counts[a] for a in node.args)
        elif node.is_Pow and node.exp.is_Integer:
            k, n = counts[node.base], abs(int(node.exp))
            count = 1 if k == 1 else limit + 1 if n > limit else math.comb(n + k - 1, n)
        else:
            count = 1
        counts[node] = min(count, limit + 1)
    return counts[expression]


def _parts(expression: sp.Expr) -> set[sp.Expr]:
    """What `expression` is a polynomial in: everything below its sums, products and whole powers."""
    found: set[sp.Expr] = set()
    stack = [expression]
    while stack:
        node = stack.pop()
        if node.is_Add or node.is_Mul:
            stack.extend(node.args)
        elif node.is_Pow and node.exp.is_Integer and node.exp > 0:
            stack.append(node.base)
        elif not node.is_Rational:
            found.add(node)
    return found


Rewriting = Mapping[Any, Callable[[sp.Expr], sp.Expr]]  # a function's square as the other function's, by function
# The squares rewritten each way: simplify leaves the elliptic coordinates' determinant as
# a^2*(sin(nu)^2*cosh(mu)^2 + cos(nu)^2*sinh(mu)^2), which is a^2*(sinh(mu)^2 + sin(nu)^2); bipolar coordinates'
# as a^2*((cos(s)*cosh(t) - 1)^2 + sin(s)^2*sinh(t)^2)/(cos(s) - cosh(t))^4, which is a^2/(cos(s) - cosh(t))^2.
PYTHAGORAS: tuple[Rewriting, ...] = (
    {sp.cos: lambda u: 1 - sp.sin(u) ** 2, sp.cosh: lambda u: 1 + sp.sinh(u) ** 2},
    {sp.sin: lambda u: 1 - sp.cos(u) ** 2, sp.sinh: lambda u: sp.cosh(u) ** 2 - 1},
)


def _square_of(node: sp.Basic, ways: tuple[Rewriting, ...]) -> bool:
    """Is `node` an even power of a function one of `ways` rewrites?"""
    return bool(node.is_Pow and node.exp.is_Integer and node.exp > 0 and node.exp % 2 == 0 and
                any(node.base.func in way for way in ways))


def has_squares(expression: sp.Expr) -> bool:
    """Has `expression` an even power of sin, cos, sinh or cosh, which `pythagorean` might shorten?"""
    return any(_square_of(node, PYTHAGORAS) for node in distinct_nodes((expression,)))


def pythagorean(expression: sp.Expr, way: Rewriting) -> sp.Expr:
    """`expression` expanded, its even powers of `way`'s functions written as powers of the other function's
    square, expanded and factored again: where simplify leaves a sum of such squares, the terms cancel. Unchanged
    when either expansion would be too long (`expanded_terms`)."""
    if expanded_terms(expression) > MAX_EXPANDED:
        return expression
    rewritten = sp.expand(expression).replace(lambda node: _square_of(node, (way,)),
                                              lambda node: way[node.base.func](node.base.args[0]) ** (node.exp // 2))
    return expression if expanded_terms(rewritten) > MAX_EXPANDED else sp.factor(sp.expand(rewritten))
