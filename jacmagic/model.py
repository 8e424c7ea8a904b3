"""Frozen dataclasses shared by every stage of the pipeline: what a cell defines and what the user asked for."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import sympy as sp

Form = Literal["function", "assignment", "def", "object"]
SimplifyMode = Literal["auto", "full", "none"]


@dataclass(frozen=True)
class Stage:
    """One map of the cell: named outputs as expressions of its parameters (and of constants).

    A cell without `--chain` becomes a single stage; with `--chain`, each function or assignment is a stage.
    """

    name: str
    params: tuple[sp.Symbol, ...]
    outputs: tuple[sp.Symbol, ...]
    expressions: tuple[sp.Expr, ...]
    line: int
    sources: tuple[sp.Symbol, ...]  # sources[j] feeds params[j]: the parameter itself, or an earlier stage's output


@dataclass(frozen=True)
class Shape:
    """A declared matrix or vector (`W: 2x3`): its entries, row-major, are the symbols the Jacobian columns use."""

    name: str
    rows: int
    cols: int
    symbols: tuple[sp.Symbol, ...]


@dataclass(frozen=True)
class CellModel:
    """What a cell defines: the composed map from `inputs` to `outputs`, and the stages it was written as.

    `composed` is None when a chain composes into expressions too large to write out: the map is then known
    through its stages, and `expressions` composes them only if asked.
    """

    form: Form
    inputs: tuple[sp.Symbol, ...]
    outputs: tuple[sp.Symbol, ...]
    composed: tuple[sp.Expr, ...] | None
    stages: tuple[Stage, ...]
    name: str = ""
    shapes: tuple[Shape, ...] = ()

    @cached_property
    def expressions(self) -> tuple[sp.Expr, ...]:
        if self.composed is not None:
            return self.composed
        values = compose(self.stages)
        assert values is not None
        return tuple(values[o] for o in self.outputs)

    @cached_property
    def free_names(self) -> tuple[sp.Symbol, ...]:
        """Every symbol the map depends on: the inputs first, then the constants in order of name."""
        if self.composed is not None:
            used = set().union(*(e.free_symbols for e in self.composed))
        else:
            internal = {o for s in self.stages for o in s.outputs}
            internal |= {p for s in self.stages for p, source in zip(s.params, s.sources) if p != source}
            used = set().union(*(e.free_symbols for s in self.stages for e in s.expressions)) - internal
        rest = used - set(self.inputs)
        return self.inputs + tuple(sorted(rest, key=lambda s: s.name))


def compose(stages: Sequence[Stage], limit: int | None = None) -> dict[sp.Symbol, sp.Expr] | None:
    """Every stage output as an expression of the map's inputs, substituting earlier stages in order; None
    as soon as an expression passes `limit` nodes (printing, differentiating and compiling it would crawl)."""
    values: dict[sp.Symbol, sp.Expr] = {}
    for stage in stages:
        binding = {p: values.get(source, source) for p, source in zip(stage.params, stage.sources)}
        for output, expression in zip(stage.outputs, stage.expressions):
            values[output] = expression.xreplace(binding)
        if limit is not None and exceeds((values[o] for o in stage.outputs), limit):
            return None
    return values


def exceeds(expressions: Iterable[sp.Basic], limit: int) -> bool:
    """Do the expression trees, written out without sharing, have more than `limit` nodes? Stops counting early."""
    stack = list(expressions)
    count = 0
    while stack:
        count += 1
        if count > limit:
            return True
        stack.extend(stack.pop().args)
    return False


@dataclass(frozen=True)
class Options:
    """What the user asked for, independent of how it was asked (magic options, CLI flags, Python keywords)."""

    det: bool = False
    wrt: tuple[str, ...] = ()
    at: tuple[tuple[str, Any], ...] = ()  # floats once the pipeline has expanded matrices
    simplify: SimplifyMode = "auto"
    partials: bool = False
    check: bool = False
    chain: bool = False
    widgets: bool = True
    budget: float = 2.0
    ranges: tuple[tuple[str, float, float], ...] = ()
    continuous_update: bool = True
    plot: bool = False
    domain: tuple[tuple[str, float, float], ...] = ()
