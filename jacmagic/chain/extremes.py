"""max and min of two or more numbers at the entry level, kept as written so that a tie is broken as the array
walk breaks it (`chain.choices.chosen`).

The walk reads max(a, b, c) as max(max(a, b), c) and, at a tie of a pair, gives the whole derivative to the
second; a number written first goes second (max(0, z) is max(z, 0), ReLU, with derivative 0 at 0). So at a tie
the last of the tied arguments takes it all. sympy's Max sorts its arguments (the order is lost) and gives a
half-valued step at a tie, which the compiled code could only call undefined; these keep the order and say which
side each step takes at 0. Max and Min of a whole vector (`max(z)`) stay sympy's: the walk leaves a tie of a
reduction undefined too.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.core.logic import fuzzy_and


class _Extreme(sp.Function):
    """The largest (or smallest) of the arguments in their written order; numbers alone evaluate."""

    direction = 1
    text_name = "max"
    lattice: Any = sp.Max

    @classmethod
    def eval(cls, *args: sp.Expr) -> sp.Expr | None:
        if all(a.is_number for a in args):
            return cls.lattice(*args)  # type: ignore[no-any-return]
        return args[0] if len(args) == 1 else None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        """1 where this argument is at least every earlier one and beyond every later one (the last of the tied
        takes it all), else 0."""
        argument, earlier, later = self.args[argindex - 1], self.args[:argindex - 1], self.args[argindex:]

        def beats(others: tuple[sp.Expr, ...], at_tie: int) -> sp.Expr:
            if not others:
                return sp.S.One
            return sp.Heaviside(self.direction * (argument - type(self)(*others)), at_tie)
        return beats(earlier, 1) * beats(later, 0)

    def _eval_is_extended_real(self) -> bool | None:
        return fuzzy_and(a.is_extended_real for a in self.args)

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self.lattice(*(a.evalf(prec) for a in self.args))._eval_evalf(prec)  # type: ignore[no-any-return]

    def _latex(self, printer: Any, exp: str | None = None) -> str:
        head = rf"\{self.text_name}" if exp is None else rf"\{self.text_name}^{{{exp}}}"
        return rf"{head}\left({', '.join(printer._print(a) for a in self.args)}\right)"

    def _pretty(self, printer: Any) -> Any:
        return printer._print_Function(self, func_name=self.text_name)

    def _sympystr(self, printer: Any) -> str:
        return f"{self.text_name}({', '.join(printer._print(a) for a in self.args)})"

    def _mpmathcode(self, printer: Any) -> str:
        return f"{self.text_name}({', '.join(printer._print(a) for a in self.args)})"  # Python's, on mpf numbers


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
