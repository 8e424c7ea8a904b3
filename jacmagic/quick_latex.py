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
from sympy.core.exprtools import decompose_power
from sympy.printing.latex import LatexPrinter

# The functions sympy's printer writes as \name{\left(argument \right)} (and \name^{n}{...} for a power).
NAMED = {f: LatexPrinter()._hprint_Function(f.__name__) for f in (
    sp.sin, sp.cos, sp.tan, sp.sec, sp.csc, sp.cot, sp.sinh, sp.cosh, sp.tanh, sp.coth)}

Symbols = Callable[[sp.Symbol], str]


@lru_cache(maxsize=4096)
def ordered_terms(expr: sp.Add) -> tuple[sp.Expr, ...]:
    """sympy's order of a sum's terms, as both printers write them: sorted once for the LaTeX and the text."""
    monomials = _monomials(expr)
    if monomials is None:
        return tuple(expr.as_ordered_terms())
    return tuple(term for _, term in sorted(zip(monomials, expr.args), key=lambda pair: pair[0]))


def _monomials(expr: sp.Add) -> list[tuple[int, ...]] | None:
    """The keys `as_ordered_terms` sorts a sum's terms by, where they alone decide its order, else None. sympy
    writes each term as a rational coefficient times powers of its distinct bases (`as_terms`: `decompose_power` of
    each factor, the bases in `sort_key` order), and sorts the terms by their exponents, negated, then by the
    coefficient: where no two terms have the same exponents, the coefficient never counts. It asks each factor's
    assumptions and sorts its bases afresh for every sum (most of printing a Jacobian's sums, issue 27); here each
    factor's base and sort key are remembered. None where sympy takes another way: a number beside one product
    (its special case), a number or non-commutative factor, an Order term, or two terms alike."""
    terms = expr.args
    if len(terms) == 2 and any(isinstance(t, (sp.Number, sp.NumberSymbol)) for t in terms):
        return None
    powers: list[dict[sp.Expr, int]] = []
    for term in terms:
        coefficient, factors = (term.args[0], term.args[1:]) if term.is_Mul and term.args[0].is_Number else \
            (term, ()) if term.is_Number else (sp.S.One, term.args if term.is_Mul else (term,))
        if not coefficient.is_Rational or term.is_Order:
            return None
        exponents: dict[sp.Expr, int] = {}
        for factor in factors:
            decomposed = _decomposed(factor)
            if decomposed is None:
                return None
            exponents[decomposed[0]] = decomposed[1]
        powers.append(exponents)
    bases = sorted({base for exponents in powers for base in exponents}, key=_sort_key)
    keys = [tuple(-exponents.get(base, 0) for base in bases) for exponents in powers]
    return keys if len(set(keys)) == len(keys) else None


@lru_cache(maxsize=4096)
def _decomposed(factor: sp.Expr) -> tuple[sp.Expr, int] | None:
    """`decompose_power` of a factor of a sum's term, None for a number or a non-commutative factor."""
    if factor.is_number or not factor.is_commutative:
        return None
    return decompose_power(factor)


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
        if term.is_Add:
            return None
        printed = _product(term, symbol) if term.is_Mul else _factor(term, symbol)
        if printed is None:
            return None
        # a term printed with a minus sign is one whose sign sympy's printer takes out (`_product`)
        tex += printed if i == 0 else " - " + printed[2:] if printed.startswith("- ") else " + " + printed
    return tex


def _product(expr: sp.Mul, symbol: Symbols) -> str | None:
    """A product with a rational coefficient and no other denominator: `p x y` or sympy's fraction
    \\frac{p x y}{q}, its numerator's factors in the product's order, `- ` before it where the coefficient is
    negative. sympy's printer negates such a product (`could_extract_minus_sign`, which builds -expr to compare) and
    sorts its factors (`as_ordered_factors`); both are read here from the arguments: a product's only number is its
    first argument, and its other factors keep their order when the number changes sign."""
    args = expr.args
    if args[0] is sp.S.One or any(a.is_Number for a in args[1:]):
        return None  # an unevaluated product, which sympy writes factor by factor
    coefficient, others = (args[0], args[1:]) if args[0].is_Number else (sp.S.One, args)
    if not coefficient.is_Rational:
        return None
    tex = "- " if coefficient.p < 0 else ""
    coefficient = abs(coefficient)
    if coefficient == 1 and len(others) == 1:  # -x: a single factor
        alone = _factor(others[0], symbol)
        return None if alone is None else tex + alone
    written = [str(coefficient.p)] if coefficient.p != 1 else []
    for factor in ordered_factors(others):
        if isinstance(factor, sp.exp) and _negative(factor.args[0]):
            return None  # sympy's fraction() puts it in the denominator
        printed = _factor(factor, symbol)
        if printed is None:
            return None
        written.append(printed)
    # one space between factors: sympy writes \cdot only between two numbers, and a number comes only first
    numerator = " ".join(written)
    return tex + (numerator if coefficient.q == 1 else rf"\frac{{{numerator}}}{{{coefficient.q}}}")


def ordered_factors(factors: tuple[sp.Expr, ...]) -> list[sp.Expr]:
    """`Mul.as_ordered_factors` of a product's factors but its number: the commutative ones before the first that
    is not, sorted by `sort_key`, then the rest as they stand."""
    split = next((k for k, factor in enumerate(factors) if not factor.is_commutative), len(factors))
    return sorted(factors[:split], key=_sort_key) + list(factors[split:])


@lru_cache(maxsize=4096)
def _sort_key(expr: sp.Expr) -> tuple[object, ...]:
    """`expr.sort_key()`, remembered, and for the plain factors (a symbol, a named function or exp of one argument,
    an integer power of either) put together as `Expr.sort_key` puts it: the base's class, its name or its
    argument's key, the exponent's key, the coefficient 1. sympy's prints a symbol's name with `str` to get it
    (issue 27: a tenth of printing a map's fresh entries)."""
    base, exponent = (expr.base, expr.exp) if expr.is_Pow and expr.exp.is_Integer else (expr, sp.S.One)
    if type(base) is sp.Symbol and base is not expr:
        inside: tuple[object, ...] = (base.name,)  # `str` of a plain symbol
    elif (base.func in NAMED or type(base) is sp.exp) and len(base.args) == 1:
        inside = (_sort_key(base.args[0]),)
    else:
        return expr.sort_key()
    return base.class_key(), (1, inside), exponent.sort_key(), sp.S.One


def _negative(exponent: sp.Expr) -> bool:
    """`exponent.is_negative`, which sympy's fraction() asks of exp's argument; for a rational multiple of a symbol
    (exp(x/10)) answered from the symbol's own sign, known at once, where asking the product deduces all its facts
    afresh (a tenth of showing a 10 x 10 map, issue 27): c x is negative exactly when x has the sign opposite to c's."""
    if exponent.is_Mul and len(exponent.args) == 2 and exponent.args[0].is_Rational and exponent.args[1].is_Symbol:
        coefficient, variable = exponent.args
        return bool(variable.is_positive if coefficient.p < 0 else variable.is_negative)  # c is not 0 in a product
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
