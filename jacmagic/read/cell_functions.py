"""Functions defined in a cell and called from later lines: a call is written out with its arguments put in for
the parameters, or, when that would be too large, goes through as a stage of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import sympy as sp

from jacmagic.errors import CellError
from jacmagic.model import Guard, tree_size

# The largest call of a cell function written out: building it makes sympy evaluate every part (about 65
# microseconds a term for t*exp(t/10) nested, so under a second here).
_INLINED_NODES = 10_000


class NestedCalls(CellError):
    """A call of a cell function too large to write out: the map goes through its calls, one stage each."""


# Records a call of a cell function as a value of its own, from the function's name, its outputs at the call's
# arguments and their guards; returns the symbols that stand for the outputs.
CallStages: TypeAlias = Callable[[str, tuple[sp.Expr, ...], tuple[tuple[Guard, ...], ...]], tuple[sp.Expr, ...]]


@dataclass(frozen=True)
class CellFunction:
    """A function defined earlier in the cell, callable from later lines."""

    params: tuple[sp.Symbol, ...]
    expressions: tuple[sp.Expr, ...]
    line: int
    guards: tuple[tuple[Guard, ...], ...]

    def refuse_written_out(self, name: str, arguments: Sequence[sp.Expr], line: int) -> None:
        """Estimates a call written out, before sympy builds (and evaluates, slowly) it: calls nested in calls
        multiply the size, 24 levels of g(t) = sin(t) + t give 42 million terms."""
        sizes = {p: tree_size((a,), _INLINED_NODES) for p, a in zip(self.params, arguments)}
        size = tree_size(self.expressions, _INLINED_NODES, sizes)[0]
        if size > _INLINED_NODES:
            raise NestedCalls(f"{name}(...) here, written out with its arguments, has over {_INLINED_NODES:,} terms "
                              "(each call nested in another multiplies the size); jacmagic computes such a map "
                              "through its calls, one step each, when they are in the cell's last function and "
                              "--chain is not given", line)

    def called(self, arguments: Sequence[sp.Expr]) -> tuple[tuple[sp.Expr, ...], tuple[tuple[Guard, ...], ...]]:
        """The outputs and their guards, with the arguments put in for the parameters."""
        binding = dict(zip(self.params, arguments))
        guards = tuple(tuple(Guard(g.expression.xreplace(binding), g.line, g.divisor) for g in output)
                       for output in self.guards)
        return tuple(e.xreplace(binding) for e in self.expressions), guards
