"""A softmax or log-softmax written with a shift, as numeric code writes it for stability, read back as jacmagic's
own softmax of the unshifted entries.

exp(a_i - M) / sum_j exp(a_j - M) is exp(a_i) / sum_j exp(a_j) for any M shared by every term (max(z), a constant,
a symbol, another entry), and log(sum_j exp(a_j - M)) is log(sum_j exp(a_j)) - M. Differentiated as written, the
shift leaves step functions of max(z) and a display nothing like diag(s) - s s^T although they all cancel; read
back, the entry is the one `softmax(z)` gives (chain/whole_formulas.py), whose numbers `activations.stable` keeps
in range. Each rewrite is an identity, so it changes no value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache

import sympy as sp

from jacmagic.model import CellModel, distinct_nodes


def unshifted_model(model: CellModel) -> CellModel:
    """The model with every shifted softmax, log-softmax and logsumexp in its expressions unshifted; the model
    itself when no sum of exponentials is in it (the common case: one walk of its distinct parts, issue 27)."""
    every = (*(model.composed or ()), *(e for s in model.stages for e in s.expressions))
    if not any(isinstance(n, sp.Add) and _of_exponentials(n) for n in distinct_nodes(every)):
        return model
    stages = tuple(replace(s, expressions=_unshifted_all(s.expressions)) for s in model.stages)
    composed = None if model.composed is None else _unshifted_all(model.composed)
    if composed == model.composed and stages == model.stages:
        return model
    return replace(model, composed=composed, stages=stages)


def _unshifted_all(expressions: tuple[sp.Expr, ...]) -> tuple[sp.Expr, ...]:
    return tuple(unshifted(e) for e in expressions)


def unshifted(expression: sp.Expr) -> sp.Expr:
    """`expression` with exp(a_i - M) * S**-1 -> exp(a_i) * S0**-1 and log(S) -> log(S0) - M, where
    S = sum_j exp(a_j - M) and S0 = sum_j exp(a_j); then log(exp(a_i) * S0**-1) -> a_i - log(S0)."""
    if not isinstance(expression, sp.Basic) or not any(_exponents(a) for a in expression.atoms(sp.Add)):
        return expression  # the common case, decided without rebuilding anything
    return _walk(expression, False, {})


def _walk(node: sp.Basic, factor: bool, done: dict[tuple[sp.Basic, bool], sp.Basic]) -> sp.Basic:
    """`node` rewritten from its leaves up (each shared part once); `factor`: it is a factor of a product, whose
    own rewrite sees it with the exponential beside it."""
    if node.is_Atom or (node, factor) in done:
        return done.get((node, factor), node)
    args = tuple(_walk(a, isinstance(node, sp.Mul), done) for a in node.args)
    rebuilt = node.func(*args) if args != node.args else node
    if isinstance(rebuilt, sp.Mul) or (isinstance(rebuilt, sp.Pow) and not factor):
        rebuilt = _ratio(rebuilt)
    elif isinstance(rebuilt, sp.log) and len(rebuilt.args) == 1:
        rebuilt = _log(rebuilt.args[0]) or rebuilt
    done[node, factor] = rebuilt
    return rebuilt


def _of_exponentials(term: sp.Add) -> bool:
    """Is every term of the sum an exponential, a positive number, or their product (built nothing to tell)?"""
    return len(term.args) > 1 and all(
        isinstance(a, sp.exp) or (a.is_Number and a.is_positive)
        or (isinstance(a, sp.Mul) and all(isinstance(f, sp.exp) or (f.is_Number and f.is_positive) for f in a.args))
        for a in term.args)


def _exponents(term: sp.Basic) -> tuple[sp.Expr, ...]:
    """The x_j of a sum of exponentials sum_j exp(x_j) (1 being exp(0)), else ()."""
    if not isinstance(term, sp.Add) or not _of_exponentials(term):
        return ()
    exponents = tuple(_exponent(sp.Mul.make_args(a)) for a in term.args)
    return () if any(x is None for x in exponents) else exponents  # type: ignore[return-value]


def _exponent(factors: Sequence[sp.Expr]) -> sp.Expr | None:
    """x for factors whose product is exp(x): exp(x), 1 or k * exp(x) for a number k > 0 (sympy writes
    exp(z - 2.5) as 0.082 * exp(z)), else None."""
    exps = [f for f in factors if isinstance(f, sp.exp)]
    numbers = [f for f in factors if f.is_Number and f.is_positive]
    if len(exps) > 1 or len(exps) + len(numbers) != len(factors):
        return None
    return sp.Add(*(e.args[0] for e in exps), *(sp.log(k) for k in numbers if k != 1))


def _shift(exponents: Sequence[sp.Expr]) -> sp.Expr | None:
    """The shift t that leaves the exponents x_j - t simplest (fewest terms), if any leaves them simpler.

    Every x_j but one (M = that entry's own) has -M as a term, so t is among the first two exponents' terms."""
    def size(t: sp.Expr) -> int:
        return sum(len(sp.Add.make_args(x - t)) for x in exponents)

    candidates = {t for x in exponents[:2] for t in sp.Add.make_args(x) if t != 0}
    best = min(candidates, key=lambda t: (size(t), sp.default_sort_key(t)), default=None)
    return best if best is not None and size(best) < size(sp.S.Zero) else None


@lru_cache(maxsize=256)
def _unshifted_sum(term: sp.Expr) -> tuple[sp.Expr, sp.Expr, tuple[sp.Expr, ...]] | None:
    """(S0, t, x_j) for a shifted sum of exponentials S = exp(t) * S0, else None."""
    exponents = _exponents(term)
    t = _shift(exponents) if exponents else None
    if t is None:
        return None
    return sp.Add(*(sp.exp(x - t) for x in exponents)), t, exponents


def _ratio(product: sp.Expr) -> sp.Expr:
    """exp(x_i) * S**-1 * c -> exp(x_i - t) * S0**-1 * c for S = exp(t) * S0 with x_i among S's exponents (with no
    exponential factor, x_i = 0: S has a term 1)."""
    factors = sp.Mul.make_args(product)
    for factor in factors:
        if not (isinstance(factor, sp.Pow) and factor.exp == -1):
            continue
        found = _unshifted_sum(factor.base)
        if found is None:
            continue
        whole, t, exponents = found
        tops = [a for a in factors if isinstance(a, sp.exp) or (a.is_Number and a.is_positive)]
        x = _exponent(tops)
        if x not in exponents:  # a factor other than the entry's own exponential: that stays, as written
            tops = [a for a in tops if isinstance(a, sp.exp)]
            x = _exponent(tops)
        if x not in exponents:
            continue
        rest = [a for a in factors if a is not factor and a not in tops]
        return sp.Mul(*rest, sp.exp(x - t), sp.Pow(whole, -1))
    return product


def _log(argument: sp.Expr) -> sp.Expr | None:
    """log(S) -> log(S0) + t for a shifted sum S = exp(t) * S0; log(exp(x_i) * S**-1) -> x_i - log(S) for a sum of
    exponentials S with x_i among its exponents (the entry log_softmax gives). Real x: log(exp(x)) is x."""
    found = _unshifted_sum(argument)
    if found is not None:
        return sp.log(found[0]) + found[1]
    factors = sp.Mul.make_args(argument)
    bottom = next((f for f in factors if isinstance(f, sp.Pow) and f.exp == -1), None)
    x = _exponent([f for f in factors if f is not bottom])
    if bottom is None or x is None or x not in _exponents(bottom.base) or not x.is_extended_real:
        return None
    return x - sp.log(bottom.base)
