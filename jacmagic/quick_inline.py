"""The one-line text of the plainest expressions (notation.inline: x₁²·cos(x₀) + x₃ - cos(x₅)), written without
sympy's printer: sums and products of symbols, integer powers of them and of functions such as sin, with rational
coefficients; None for anything else.

A Jacobian's text (its terminal form, the text every display carries) printed each entry with sympy's `StrPrinter`,
about as long as its LaTeX (issue 27). Every choice below is the one `StrPrinter._print_Add`/`_print_Mul` and
notation's `_Inline` make for these forms (the term and factor order, the signs, a rational coefficient's
numerator and denominator); the caller prints everything else with sympy. tests/test_notation_quick.py compares both
on a generated family of expressions.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from jacmagic.quick_latex import NAMED, ordered_factors, ordered_terms

Symbols = Callable[[sp.Symbol], str]
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def quick_inline(expr: sp.Basic, symbol: Symbols) -> str | None:
    """The text `_Inline` gives `expr`, or None when `expr` is not one of the plain forms; `symbol` is its text of a
    symbol."""
    if not isinstance(expr, sp.Expr):
        return None
    if expr.is_Add:
        return _sum(expr, symbol)
    if expr.is_Mul:
        return _product(expr, symbol)
    if expr.is_Integer:
        return str(expr.p)
    return _factor(expr, symbol)


def _sum(expr: sp.Add, symbol: Symbols) -> str | None:
    """StrPrinter's sum: the terms in order, a term's leading minus made the sign between them."""
    words: list[str] = []
    for term in ordered_terms(expr):
        if term.is_Add:
            return None
        printed = quick_inline(term, symbol)
        if printed is None:
            return None
        words += ["-", printed[1:]] if printed.startswith("-") else ["+", printed]
    return ("" if words[0] == "+" else "-") + " ".join(words[1:])


def _product(expr: sp.Mul, symbol: Symbols) -> str | None:
    """StrPrinter's product: its sign, then the factors in order joined by ·, a rational coefficient's numerator
    among them and its denominator after a /."""
    args = expr.args
    if args[0] is sp.S.One or any(a.is_Number or a.is_Pow and all(ai.is_Integer for ai in a.args)
                                  for a in args[1:]):
        return None  # an unevaluated product, which StrPrinter writes factor by factor
    coefficient, others = (args[0], args[1:]) if args[0].is_Number else (sp.S.One, args)
    if not coefficient.is_Rational:
        return None
    # the factors StrPrinter orders, its sign taken out: `quick_latex`'s, the coefficient's numerator among them
    written = [str(abs(coefficient.p))] if abs(coefficient.p) != 1 else []
    denominator = f"/{coefficient.q}" if coefficient.q != 1 else ""
    for factor in ordered_factors(others):
        printed = _sum(factor, symbol) if factor.is_Add else _factor(factor, symbol)
        if printed is None:
            return None
        written.append(f"({printed})" if factor.is_Add else printed)
    sign = "-" if coefficient.p < 0 else ""
    return sign + "·".join(written or ["1"]) + denominator


def _factor(expr: sp.Basic, symbol: Symbols) -> str | None:
    """A symbol, a named function or exp of a plain argument, or a power 2, 3, ... of a symbol or of a named
    function (tanh²(n), as `_Inline` writes it)."""
    if expr.is_Symbol:
        return symbol(expr)
    if expr.func in NAMED or isinstance(expr, sp.exp):
        argument = quick_inline(expr.args[0], symbol)
        return None if argument is None else f"{expr.func.__name__}({argument})"
    if expr.is_Pow and expr.exp.is_Integer and expr.exp > 1 and (expr.base.is_Symbol or expr.base.func in NAMED):
        power = str(expr.exp.p).translate(_SUPERSCRIPTS)
        if expr.base.is_Symbol:
            return symbol(expr.base) + power
        argument = quick_inline(expr.base.args[0], symbol)
        return None if argument is None else f"{expr.base.func.__name__}{power}({argument})"
    return None
