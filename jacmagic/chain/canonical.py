"""Sums and products built straight in sympy's canonical form, where nothing in them can combine.

Coming back from symengine, a Jacobian's entries are already simplified as far as sympy's automatic evaluation
goes: each factor of a product has its own base, each term of a sum its own non-numeric part. sympy's `Mul(*args)`
and `Add(*args)` would still ask every factor's assumptions while flattening (the larger part of the way back for
the issue 27 maps); here the arguments are only put in sympy's canonical order (its own sort), which is all its
evaluation would do to them. Anything that could combine, distribute or absorb (a second number, two factors of
one base, a number times a sum, exp(a)*exp(b), a power of a number) goes through sympy's evaluation as before.
tests/test_calculus.py compares both ways on a generated family of expressions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import sympy as sp
from sympy.core.add import _addsort
from sympy.core.mul import _mulsort
from sympy.core.parameters import global_parameters


def _coefficient(args: Sequence[sp.Basic]) -> tuple[list[sp.Basic], list[sp.Basic]] | None:
    """The numbers (at most one, a rational other than 0 and 1) and the rest; None past one number."""
    numbers = [a for a in args if a.is_Number]
    if len(numbers) > 1 or (numbers and (not numbers[0].is_Rational or _zero_or_one(numbers[0]))):
        return None
    return numbers, [a for a in args if not a.is_Number]


def _zero_or_one(number: sp.Rational) -> bool:
    """`number in (0, 1)`, without sympy's == (it converts the Python number first)."""
    return number.q == 1 and number.p in (0, 1)


def _base(factor: sp.Basic, with_number: bool) -> sp.Basic | None:
    """The base a factor gathers under in a product (E for exp(a)); None where sympy's product might rewrite it
    (a power of a number is folded into the coefficient, a number distributes over a sum)."""
    if factor.is_Pow:
        base = factor.base
        return None if base.is_Number or not (base.is_Symbol or base.is_Function or base.is_Add) or \
            isinstance(base, sp.exp) or (with_number and base.is_Add) else base
    if isinstance(factor, sp.exp):
        return sp.E
    if factor.is_Symbol or factor.is_Function:
        return factor
    return None


def product(*args: sp.Basic) -> sp.Basic:
    """`sp.Mul(*args)` for arguments already evaluated (a product among them taken apart, as sympy does)."""
    flat = [f for a in args for f in (a.args if a.is_Mul else (a,))]
    split = _coefficient(flat) if global_parameters.evaluate and len(flat) > 1 else None
    if split is not None:
        numbers, factors = split
        bases = [_base(f, bool(numbers)) for f in factors]
        if all(base is not None for base in bases) and len(set(bases)) == len(bases):  # `in` would ask sympy's ==
            _mulsort(factors)
            return sp.Mul._from_args(numbers + factors)
    return sp.Mul(*args)


def total(*args: sp.Basic) -> sp.Basic:
    """`sp.Add(*args)` for arguments already evaluated (a sum among them taken apart, as sympy does)."""
    flat = [t for a in args for t in (a.args if a.is_Add else (a,))]
    split = _coefficient(flat) if global_parameters.evaluate and len(flat) > 1 else None
    if split is not None:
        numbers, terms = split
        parts = [t.as_coeff_Mul()[1] for t in terms]
        if all(_term(t, p) for t, p in zip(terms, parts)) and len(set(parts)) == len(parts):
            _addsort(terms)
            return sp.Add._from_args(numbers + terms)
    return sp.Add(*args)


def _term(term: sp.Basic, part: sp.Basic) -> bool:
    """Is `term` a term sympy's sum keeps as it is: not a sum, a number's power or a number times a sum?"""
    return not (term.is_Add or part.is_Add or part.is_Number or (term.is_Pow and term.base.is_Number))


# Functions that sympy's evaluation leaves as they are at a lone real symbol, and exp at a rational times one
# (checked in tests/test_speed_paths.py): sin(x) is built without asking their rules, which ask whether x is a
# multiple of pi or of I (issue 27: a third of reading the 100 x 100 map).
KEPT_AT_A_SYMBOL = frozenset({sp.sin, sp.cos, sp.tan, sp.sec, sp.csc, sp.cot, sp.asin, sp.acos, sp.atan, sp.sinh,
                              sp.cosh, sp.tanh, sp.asinh, sp.acosh, sp.atanh, sp.exp, sp.log, sp.erf})


def plain(make: Callable[..., sp.Expr], argument: sp.Expr) -> bool:
    """A lone real symbol not known to be 0, or for exp, a rational times one (exp(x/10)): where `make` in
    `KEPT_AT_A_SYMBOL` is left as it is."""
    if make is sp.exp and argument.is_Mul and len(argument.args) == 2 and argument.args[0].is_Rational:
        argument = argument.args[1]
    return bool(argument.is_Symbol and argument.is_real and argument.is_zero is not True)


def unevaluated(make: type[sp.Function], argument: sp.Expr) -> sp.Expr:
    """`make(argument, evaluate=False)` of a `plain` argument, the same object built without sympy's constructor,
    which makes a new `FiniteSet` of the argument counts for every object (25 of the 27 microseconds each sin(x)
    took: a quarter of reading a 10 x 10 map, issue 27). It starts knowing that it is commutative, as the first
    product or sum holding it would make it ask (10 microseconds more)."""
    built = sp.Basic.__new__(make, argument)
    counts, facts = _template(make)  # type: ignore[arg-type]  # a class is hashable
    built.nargs = counts
    built._assumptions = facts.copy()
    return built


@cache
def _template(make: type[sp.Function]) -> tuple[sp.Set, Any]:
    """What `unevaluated` gives each object of `make`: its argument counts, and what it knows of itself once
    asked whether it is commutative (of a commutative argument, as a plain one is)."""
    built = make(sp.Dummy(real=True), evaluate=False)  # type: ignore[call-arg]
    return built.nargs, built._assumptions if built.is_commutative else make.default_assumptions


def power(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    """`sp.Pow(base, exponent)`; a symbol to a whole power other than 0 and 1 built directly, as sympy's
    evaluation leaves it (a symbol has no power rule), without its constructor's cache (15 microseconds)."""
    if type(base) is sp.Symbol and exponent.is_Integer and exponent.p not in (0, 1):
        built = sp.Expr.__new__(sp.Pow, base, exponent)
        built.is_commutative = base.is_commutative
        return built
    return sp.Pow(base, exponent)


def reciprocal(value: sp.Expr) -> sp.Expr:
    """`sp.Pow(value, -1)`; of a whole number n other than 0, the rational 1/n built at once (the power's rule
    builds it after its own constructor's cache)."""
    if value.is_Integer and value.p:
        return sp.Rational(1, value.p)
    return power(value, sp.S.NegativeOne)


def function(make: type[sp.Function], *arguments: sp.Expr) -> sp.Expr:
    """`make(*arguments)`, as sympy's evaluation builds it: directly where that leaves it as it is."""
    if len(arguments) == 1 and make in KEPT_AT_A_SYMBOL and plain(make, arguments[0]):
        return unevaluated(make, arguments[0])
    return make(*arguments)
