"""max and min of two or more numbers at the entry level, kept as written so that a tie is broken as the array
walk breaks it (`chain.choices.chosen`).

The walk reads max(a, b, c) as max(max(a, b), c) and, at a tie of a pair, gives the whole derivative to the
second; a number written first goes second (max(0, z) is max(z, 0), ReLU, with derivative 0 at 0). So at a tie
the last of the tied arguments takes it all. sympy's Max sorts its arguments (the order is lost) and gives a
half-valued step at a tie, which the compiled code could only call undefined; these keep the order and say which
side each step takes at 0.

Max and Min of a whole vector (`max(z)`, `np.max(z)`: `ReducedMax`, `ReducedMin`) are one reduction, kept
unevaluated: sympy's own compares every two entries with an assumption query each (minutes for a few hundred). At
a tie the FIRST of the tied entries takes the whole slope, as np.argmax and the walk's `Reduce` pick it; so a
shift that cancels (the stable softmax exp(z - max z) / sum(...), logsumexp written with a max shift) is exact at
a tie, and max(z) itself gets a valid one-sided slope there.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.core.logic import fuzzy_and


class _Shown:
    """max or min: differentiated with one-sided steps, and in every printer written as a textbook writes it
    (sympy would print the class's own name, \\reducedmax)."""

    args: tuple[sp.Expr, ...]
    text_name = "max"
    direction = 1  # max: the largest; min: -1, the smallest
    last_of_tied = True  # at a tie the last of the tied takes the slope (a written max), or the first (a reduction)
    evaluate_steps = True

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        """1 where this argument beats every other, else 0; at a tie the last (or first) of the tied takes it all.
        Each step is written H(u) with H(0) = 0, as the docs define H: "at least" as 1 - H(-u), so the shown
        derivative says what R.at computes at a tie."""
        argument, earlier, later = self.args[argindex - 1], self.args[:argindex - 1], self.args[argindex:]

        def beats(others: tuple[sp.Expr, ...], at_least: bool) -> sp.Expr:
            if not others:
                return sp.S.One
            ahead = self.direction * (argument - type(self)(*others))  # type: ignore[call-arg]
            if at_least:
                return 1 - sp.Heaviside(-ahead, 0, evaluate=self.evaluate_steps)
            return sp.Heaviside(ahead, 0, evaluate=self.evaluate_steps)
        return beats(earlier, self.last_of_tied) * beats(later, not self.last_of_tied)

    def _latex(self, printer: Any, exp: str | None = None) -> str:
        head = rf"\{self.text_name}" if exp is None else rf"\{self.text_name}^{{{exp}}}"
        return rf"{head}\left({', '.join(printer._print(a) for a in self.args)}\right)"

    def _pretty(self, printer: Any) -> Any:
        return printer._print_Function(self, func_name=self.text_name)

    def _sympystr(self, printer: Any) -> str:
        return f"{self.text_name}({', '.join(printer._print(a) for a in self.args)})"

    def _mpmathcode(self, printer: Any) -> str:
        return f"{self.text_name}({', '.join(printer._print(a) for a in self.args)})"  # Python's, on mpf numbers


class _Extreme(_Shown, sp.Function):
    """The largest (or smallest) of the arguments in their written order; numbers alone evaluate."""

    lattice: Any = sp.Max

    @classmethod
    def eval(cls, *args: sp.Expr) -> sp.Expr | None:
        if all(a.is_number for a in args):
            return cls.lattice(*args)  # type: ignore[no-any-return]
        return args[0] if len(args) == 1 else None

    def _eval_is_extended_real(self) -> bool | None:
        return fuzzy_and(a.is_extended_real for a in self.args)

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self.lattice(*(a.evalf(prec) for a in self.args))._eval_evalf(prec)  # type: ignore[no-any-return]


class _Reduction(_Shown):
    """The largest (or smallest) of a vector's entries, built unevaluated (its steps too: asking the sign of
    z_1 - max(...) queries every entry); numbers alone reduce to the extreme."""

    last_of_tied = False  # the first of the tied, as np.argmax
    evaluate_steps = False

    def __new__(cls, *args: Any, **assumptions: Any) -> Any:
        values = [sp.sympify(a) for a in args]
        if all(a.is_number for a in values):  # sympy's own: this subclass would keep the first number
            return cls.__bases__[-1](*values, **assumptions)
        if len(values) == 1:
            return values[0]
        assumptions.setdefault("evaluate", False)
        return super().__new__(cls, *values, **assumptions)  # type: ignore[misc]

    def _eval_derivative(self, symbol: sp.Symbol) -> sp.Expr:
        """The chain rule through the entries that contain `symbol` only (sympy's own differentiates all)."""
        return sp.Add(*(self.fdiff(i) * a.diff(symbol) for i, a in enumerate(self.args, start=1)
                        if symbol in a.free_symbols))


class ReducedMax(_Reduction, sp.Max):  # type: ignore[misc]
    pass


class ReducedMin(_Reduction, sp.Min):  # type: ignore[misc]
    direction = -1
    text_name = "min"


class WrittenMax(_Extreme):
    pass


class WrittenMin(_Extreme):
    direction = -1
    text_name = "min"
    lattice = sp.Min


def _as_written(kind: type[_Extreme]) -> Any:
    def make(*args: Any) -> sp.Expr:
        """A number written first goes second, as the walk puts it (so max(0, z) is ReLU at its kink)."""
        values = [sp.sympify(a) for a in args]
        if len(values) > 1 and values[0].is_number and not values[1].is_number:
            values[:2] = values[1], values[0]
        return kind(*values)  # type: ignore[no-any-return]
    return make


maximum = _as_written(WrittenMax)
minimum = _as_written(WrittenMin)
