"""Frozen dataclasses shared by every stage of the pipeline: what a cell defines and what the user asked for."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Shape:
    """A declared matrix or vector (`W: 2x3`): its entries, row-major, are the symbols the Jacobian columns use."""

    name: str
    rows: int
    cols: int
    symbols: tuple[sp.Symbol, ...]


@dataclass(frozen=True)
class CellModel:
    """What a cell defines: the composed map from `inputs` to `outputs`, and the stages it was written as."""

    form: Form
    inputs: tuple[sp.Symbol, ...]
    outputs: tuple[sp.Symbol, ...]
    expressions: tuple[sp.Expr, ...]
    stages: tuple[Stage, ...]
    name: str = ""
    shapes: tuple[Shape, ...] = ()

    @property
    def free_names(self) -> tuple[sp.Symbol, ...]:
        """Every symbol the map depends on: the inputs first, then the constants in order of name."""
        rest = set().union(*(e.free_symbols for e in self.expressions)) - set(self.inputs)
        return self.inputs + tuple(sorted(rest, key=lambda s: s.name))


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
