"""The quick LaTeX and text of plain expressions (issue 27) are byte for byte what sympy's printers (`_Latex`,
`_Inline`) write."""

from __future__ import annotations

from typing import Any

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from jacmagic.notation import _Inline, _Latex, _symbol_latex, inline, latex, pretty
from jacmagic.quick_inline import quick_inline
from jacmagic.quick_latex import _negative, quick_latex

NAMES = ["x", "y", "theta", "x_1", "s12_3", "W_1,2", "b1_2", "alpha_2", "lambda", "x__2", "Delta", "longname", "z0"]
SYMBOLS = [sp.Symbol(n, real=True) for n in NAMES]
FUNCTIONS = [sp.sin, sp.cos, sp.tan, sp.sec, sp.csc, sp.cot, sp.sinh, sp.cosh, sp.tanh, sp.coth, sp.exp, sp.log,
             sp.asin, sp.Heaviside, sp.Abs, sp.sqrt]
NUMBERS = [sp.Integer(2), sp.Integer(-1), sp.Integer(-3), sp.Integer(10), sp.Rational(1, 10), sp.Rational(-2, 3),
           sp.Float(2.5), sp.pi]


def _applied(function: Any, argument: sp.Expr) -> sp.Expr:
    """function(argument), or the argument where sympy refuses it (Heaviside of an imaginary number)."""
    try:
        return function(argument)
    except ValueError:
        return argument


def expressions() -> st.SearchStrategy[sp.Expr]:
    leaves = st.sampled_from(SYMBOLS + NUMBERS)

    def extend(children: st.SearchStrategy[sp.Expr]) -> st.SearchStrategy[sp.Expr]:
        return st.one_of(
            st.builds(_applied, st.sampled_from(FUNCTIONS), children),
            st.builds(lambda a, b: a + b, children, children),
            st.builds(lambda a, b: a - b, children, children),
            st.builds(lambda a, b: a * b, children, children),
            st.builds(lambda a, b, c: a * b * c, children, children, children),
            st.builds(lambda a, k: a**k, children, st.sampled_from([2, 3, -1, -2, sp.Rational(1, 2)])),
        )

    return st.recursive(leaves, extend, max_leaves=10)


def sympys(expr: sp.Basic) -> str:
    return _Latex({"mat_delim": "["}).doprint(expr)


@settings(max_examples=600, deadline=None)
@given(expressions())
def test_the_quick_latex_of_an_expression_is_sympys_or_nothing(expr: sp.Expr) -> None:
    quick = quick_latex(expr, _symbol_latex)
    assert quick is None or quick == sympys(expr)


def test_the_quick_latex_covers_the_entries_of_a_jacobian_like_the_issues_map() -> None:
    """Not only correct where it answers: it answers for the plain entries (else it saves nothing)."""
    x, y, z = SYMBOLS[:3]
    entries = [y**2 * sp.cos(x) + z - sp.cos(y), 2 * y * sp.sin(x), -x * sp.sin(z), x, -sp.cos(y),
               sp.sin(x)**2 * y - 3 * x * z, sp.exp(x) + y, sp.tanh(x * y)**2, sp.exp(x / 10) / 10,
               -3 * x * sp.cos(y) / 7, x * sp.exp(-y)]
    for entry in entries:
        assert quick_latex(entry, _symbol_latex) == sympys(entry)


ENTRIES = [
    "y**2*cos(x) + z - cos(y)", "2*y*sin(x)", "-x*sin(z)", "x", "-cos(y)", "sin(x)**2*y - 3*x*z", "exp(x) + y",
    "tanh(x*y)**2", "exp(x/10)/10", "-3*x*cos(y)/7", "x*exp(-y)", "0", "-4", "(x + y)*(1 - tanh(x)**2)",
    "-2*(x - y)*sin(x + 2*y)/3", "cos(x)**3 - x**4*y**2"]


def sympys_text(expr: sp.Basic) -> str:
    return _Inline().doprint(expr)


@settings(max_examples=800, deadline=None)
@given(expressions())
def test_the_quick_text_of_an_expression_is_sympys_or_nothing(expr: sp.Expr) -> None:
    quick = quick_inline(expr, pretty)
    assert quick is None or quick == sympys_text(expr)


def test_the_quick_text_covers_the_entries_of_a_jacobian_like_the_issues_map() -> None:
    """Not only correct where it answers: it answers for the plain entries (else it saves nothing)."""
    for text in ENTRIES:
        entry = sp.sympify(text, locals={n: s for n, s in zip("xyz", SYMBOLS)})
        assert quick_inline(entry, pretty) == sympys_text(entry), text


def test_text_of_anything_else_is_still_sympys() -> None:
    x, y = SYMBOLS[:2]
    for value in [x / y, 2.5 * x, sp.Heaviside(x), sp.sqrt(x), sp.Rational(1, 3), sp.log(x), sp.Abs(x), x**-2]:
        assert quick_inline(value, pretty) is None
        assert inline(value) == sympys_text(value)


def test_latex_of_anything_else_is_still_sympys() -> None:
    x, y = SYMBOLS[:2]
    for value in [x / y, 2.5 * x, sp.Matrix([[x, y]]), sp.Heaviside(x), sp.sqrt(x), sp.Rational(1, 3), sp.log(x)]:
        assert quick_latex(value, _symbol_latex) is None
        assert latex(value) == sympys(value)


SIGNS = [{"real": True}, {"positive": True}, {"negative": True}, {"nonnegative": True}, {"nonpositive": True},
         {"extended_real": True}, {"extended_negative": True}, {}, {"nonzero": True, "real": True}]


@pytest.mark.parametrize("assumptions", SIGNS, ids=lambda a: ",".join(a) or "complex")
@pytest.mark.parametrize("coefficient", [sp.Rational(1, 10), sp.Rational(-1, 10), sp.Integer(3), sp.Integer(-2)])
def test_the_sign_of_exps_argument_is_sympys_for_every_sign_of_its_symbol(assumptions: dict[str, bool],
                                                                         coefficient: sp.Rational) -> None:
    """Read from the symbol's sign for c x, asked of the product otherwise (issue 27): what sympy's fraction() asks,
    so the quick LaTeX steps aside where sympy's would; and the LaTeX still sympy's."""
    x, y = sp.Symbol("x", **assumptions), sp.Symbol("y", real=True)
    for argument in (coefficient * x, coefficient * x * y, x, coefficient * x + 1):
        assert _negative(argument) == bool(argument.is_negative), argument
    for expr in (y * sp.exp(coefficient * x), sp.exp(coefficient * x) / 10, -y**2 * sp.exp(coefficient * x)):
        quick = quick_latex(expr, _symbol_latex)
        assert quick is None or quick == sympys(expr), expr


# Issue 27's display shortcuts: a sum's term order, a product's factor order and a symbol's name, each from what is
# remembered instead of sympy's own walk, must be sympy's exactly.

TERM_FACTORS = [*SYMBOLS[:4], *(s**k for s in SYMBOLS[:3] for k in (2, 3, -1, sp.Rational(1, 2), sp.Rational(3, 2))),
                *(f(s) for f in (sp.sin, sp.cos, sp.tanh, sp.log) for s in SYMBOLS[:3]), sp.cos(SYMBOLS[0])**2,
                *(sp.exp(c * s) for c in (1, -1, sp.Rational(1, 10), sp.Rational(-2, 3), 2) for s in SYMBOLS[:3]),
                sp.exp(SYMBOLS[0])**3, sp.sqrt(2), sp.pi, sp.Integer(3), sp.Rational(-1, 2), sp.Float(0.5), sp.I,
                sp.sin(SYMBOLS[0] * SYMBOLS[1]), (SYMBOLS[0] + SYMBOLS[1])**2, sp.Symbol("A", commutative=False)]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.lists(st.sampled_from(TERM_FACTORS), min_size=1, max_size=3), min_size=2, max_size=6))
def test_a_sums_term_order_is_sympys(terms: list[list[sp.Expr]]) -> None:
    """`ordered_terms` reads the order from each factor's remembered base and sort key where the exponents alone
    decide it (else asks sympy): the same as `as_ordered_terms`, numbers, powers, exp(-x) and Order aside."""
    from jacmagic.quick_latex import ordered_terms

    expr = sp.Add(*(sp.Mul(*factors) for factors in terms))
    if expr.is_Add:
        assert ordered_terms(expr) == tuple(expr.as_ordered_terms())


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(TERM_FACTORS), min_size=2, max_size=4))
def test_a_products_factor_order_is_sympys(factors: list[sp.Expr]) -> None:
    """`ordered_factors` sorts a product's factors but its number as `as_ordered_factors` does (after the number)."""
    from jacmagic.quick_latex import ordered_factors

    expr = sp.Mul(*factors)
    if expr.is_Mul:
        others = expr.args[1:] if expr.args[0].is_Number else expr.args
        assert ordered_factors(others) == [f for f in expr.as_ordered_factors() if not f.is_Number]


SYMBOL_NAMES = [*NAMES, "alphahat", "xdot", "x_2^3", "x__a_b", "Gamma_1", "phi0", "omega_bar", "a_{1}", "xprime",
                "s12_3", "mathring", "beta1_2,3", "W_1_2", "b12_3_4", "thetavec", "x_", "_x"]


@pytest.mark.parametrize("name", SYMBOL_NAMES)
def test_a_symbols_latex_and_art_are_sympys_remembered_or_not(name: str) -> None:
    """A name's parts split once and remembered (issue 27): the LaTeX and the art of the symbol, asked twice, are
    what sympy's own printers give (for an array's entry, its base's, with the index)."""
    from sympy.printing.latex import LatexPrinter
    from sympy.printing.pretty.pretty import PrettyPrinter

    from jacmagic.notation import _Pretty, entry_of

    symbol = sp.Symbol(name)
    entry = entry_of(symbol)
    base = symbol if entry is None else entry[0]
    own = LatexPrinter()._print_Symbol(base)
    art = PrettyPrinter({"use_unicode": True}).doprint(base)
    for _ in range(2):
        printed = _Latex({"mat_delim": "["})._print(symbol)
        drawn = str(_Pretty({"use_unicode": True, "wrap_line": False})._print(symbol))
        assert printed == own if entry is None else printed.endswith(f"_{{{entry[1]}}}") and own in printed
        assert drawn == art if entry is None else drawn.startswith((art, f"({art})"))


@pytest.mark.parametrize("symbol", [*SYMBOLS[:4], sp.Dummy("d"), sp.Symbol("A", commutative=False)], ids=str)
def test_a_factors_sort_key_put_together_is_sympys(symbol: sp.Symbol) -> None:
    """`_sort_key` puts a plain factor's key together without sympy's `str` of its symbol: the same key."""
    from jacmagic.quick_latex import _sort_key

    other = SYMBOLS[4]
    for factor in [symbol, symbol**2, symbol**-3, sp.sqrt(symbol), sp.sin(symbol), sp.cos(symbol)**2, sp.exp(symbol),
                   sp.exp(symbol / 10), sp.exp(-symbol)**2, sp.tanh(2 * symbol), sp.sin(symbol)**-2,
                   sp.log(symbol), sp.exp(symbol)**3, sp.Integer(2)**symbol, symbol**symbol, sp.cos(symbol * other),
                   sp.Function("g")(symbol), sp.Function("g")(symbol)**2, sp.coth(sp.sin(symbol))**4]:
        assert _sort_key(factor) == factor.sort_key(), factor
