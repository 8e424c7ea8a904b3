"""sympy's LaTeX of the plainest expressions, written without sympy's printer: sums and products of symbols,
integer powers of them and of functions such as sin and exp, with rational coefficients; None for anything else.

The Jacobian of a map is mostly such entries (cos(x_0)*x_1**2 + x_3, 2*x_1*sin(x_0)), and sympy's printer spends
most of its time on what they do not have: looking for fractions, brackets, units and the printing method of each
class (issue 27: half of showing a 10 x 10 map). Every choice below is the one sympy's `LatexPrinter` makes for
these forms, in the same order (its term and factor order, its minus signs, its spacing); the caller prints
everything else with sympy. tests/test_notation_quick.py compares both on a generated family of expressions.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import sympy as sp
from sympy.printing.latex import LatexPrinter

# The functions sympy's printer writes as \name{\left(argument \right)} (and \name^{n}{...} for a power).
NAMED = {f: LatexPrinter()._hprint_Function(f.__name__) for f in (
    sp.sin, sp.cos, sp.tan, sp.sec, sp.csc, sp.cot, sp.sinh, sp.cosh, sp.tanh, sp.coth)}

Symbols = Callable[[sp.Symbol], str]


@lru_cache(maxsize=4096)
def ordered_terms(expr: sp.Add) -> tuple[sp.Expr, ...]:
    """sympy's order of a sum's terms, as both printers write them: sorted once for the LaTeX and the text."""
    return tuple(expr.as_ordered_terms())


def quick_latex(expr: sp.Basic, symbol: Symbols) -> str | None:
    """The LaTeX sympy's printer gives `expr`, or None when `expr` is not one of the plain forms; `symbol` is the
    printer's own LaTeX of a symbol."""
    if not isinstance(expr, sp.Expr):
        return None
    if expr.is_Add:
        return _sum(expr, symbol)
    if expr.is_Mul:
        return _product(expr, symbol)
    return _factor(expr, symbol)


def _sum(expr: sp.Add, symbol: Symbols) -> str | None:
    tex = ""
    for i, term in enumerate(ordered_terms(expr)):
        if i == 0:
            pass
        elif term.could_extract_minus_sign():
            tex += " - "
            term = -term
        else:
            tex += " + "
        if term.is_Add:
            return None
        printed = _product(term, symbol) if term.is_Mul else _factor(term, symbol)
        if printed is None:
            return None
        tex += printed
    return tex


def _product(expr: sp.Basic, symbol: Symbols) -> str | None:
    """A product with a rational coefficient and no other denominator: `p x y` or sympy's fraction
    \\frac{p x y}{q}, its numerator's factors in the product's order."""
    if expr.is_Mul and (expr.args[0] is sp.S.One or any(a.is_Number for a in expr.args[1:])):
        return None  # an unevaluated product, which sympy writes factor by factor
    tex = ""
    if expr.could_extract_minus_sign():
        expr = -expr
        tex = "- "
    if not expr.is_Mul:
        alone = _factor(expr, symbol)
        return None if alone is None else tex + alone
    factors = expr.as_ordered_factors()
    coefficient = factors[0] if factors[0].is_Number else sp.S.One
    if not coefficient.is_Rational:
        return None
    written = [str(coefficient.p)] if coefficient.p != 1 else []
    for factor in factors[1:] if coefficient is not sp.S.One else factors:
        if isinstance(factor, sp.exp) and _negative(factor.args[0]):
            return None  # sympy's fraction() puts it in the denominator
        printed = _factor(factor, symbol)
        if printed is None:
            return None
        written.append(printed)
    # one space between factors: sympy writes \cdot only between two numbers, and a number comes only first
    numerator = " ".join(written)
    return tex + (numerator if coefficient.q == 1 else rf"\frac{{{numerator}}}{{{coefficient.q}}}")


def _negative(exponent: sp.Expr) -> bool:
    """`exponent.is_negative`, which sympy's fraction() asks of exp's argument; for a rational multiple of a symbol
    (exp(x/10)) answered from the symbol's own sign, known at once, where asking the product deduces all its facts
    afresh (a tenth of showing a 10 x 10 map, issue 27): c x is negative exactly when x has the sign opposite to c's."""
    if exponent.is_Mul and len(exponent.args) == 2 and exponent.args[0].is_Rational and exponent.args[1].is_Symbol:
        coefficient, variable = exponent.args
        return bool(variable.is_positive if coefficient.is_negative else variable.is_negative)
    return bool(exponent.is_negative)


def _factor(expr: sp.Basic, symbol: Symbols) -> str | None:
    """A symbol, a named function or exp of a plain argument, or a positive integer power of a symbol or of a
    named function."""
    if expr.is_Symbol:
        return symbol(expr)
    if expr.func in NAMED or isinstance(expr, sp.exp):
        argument = quick_latex(expr.args[0], symbol)
        if argument is None:
            return None
        return rf"e^{{{argument}}}" if isinstance(expr, sp.exp) else rf"{NAMED[expr.func]}{{\left({argument} \right)}}"
    if expr.is_Pow and expr.exp.is_Integer and expr.exp > 1:
        base = expr.base
        if base.is_Symbol:
            printed = symbol(base)
            return None if "^" in printed else f"{printed}^{{{expr.exp.p}}}"
        if base.func in NAMED:
            argument = quick_latex(base.args[0], symbol)
            return None if argument is None else \
                rf"{NAMED[base.func]}^{{{expr.exp.p}}}{{\left({argument} \right)}}"
    return None
