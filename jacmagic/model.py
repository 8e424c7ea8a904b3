"""Frozen dataclasses shared by every stage of the pipeline: what a cell defines and what the user asked for."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import sympy as sp

Form = Literal["function", "assignment", "def", "object"]
SimplifyMode = Literal["auto", "full", "none"]
Mode = Literal["reverse", "forward", "both"]


@dataclass(frozen=True)
class Guard:
    """A part of a formula as the user wrote it that must have a finite real value for the map to be defined
    (`log(x)`, `sqrt(x)`, a power), or a divisor that must not be 0. Kept apart from the formula because sympy
    may simplify it away (`exp(log(x))` is x, `sqrt(x)**2` is x): the map's own domain still decides."""

    expression: sp.Expr
    line: int
    divisor: bool = False

    @property
    def written(self) -> sp.Expr:
        """The part as written: a guard inside one branch of a choice is checked only where that branch is taken
        (Piecewise((sqrt(x), x > 0), (0, True)) of `where(x > 0, sqrt(x), 0)`), and shown without the choice."""
        expression = self.expression
        while isinstance(expression, sp.Piecewise):
            expression = next(e for e, _ in expression.args if e != self.safe)
        return expression

    @property
    def safe(self) -> sp.Expr:
        """A value that always holds: finite, and not 0 for a divisor."""
        return sp.S.One if self.divisor else sp.S.Zero

    def describe(self) -> str:
        shown = sp.sstr(self.written)
        shown = shown if len(shown) <= 60 else shown[:60] + "…"
        if self.divisor:
            return f"division by zero: it divides by {shown}, which is 0 here (line {self.line})"
        return f"{shown} has no finite real value here (line {self.line})"


Guards = tuple[Guard, ...]


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
    guards: tuple[Guards, ...] = ()  # per output, in the stage's own variables: where it is defined


@dataclass(frozen=True, eq=False)
class Step:
    """One stage of a chain as backpropagation sees it: the stage, the values that flow into it, and its local
    Jacobian (rows: the stage's outputs, columns: its inputs).

    `inputs` are the stage's parameters and any variable or earlier value it uses directly; `sources[j]` is the
    value that feeds `inputs[j]`. `value` is the stage's output at the `--at` point, if one was given."""

    stage: Stage
    inputs: tuple[sp.Symbol, ...]
    sources: tuple[sp.Symbol, ...]
    matrix: sp.ImmutableMatrix
    value: Any = None

    @property
    def name(self) -> str:
        return self.stage.name

    @property
    def outputs(self) -> tuple[sp.Symbol, ...]:
        return self.stage.outputs

    @property
    def expressions(self) -> tuple[sp.Expr, ...]:
        return self.stage.expressions

    @property
    def line(self) -> int:
        return self.stage.line

    @property
    def guards(self) -> tuple[Guards, ...]:
        return self.stage.guards


@dataclass(frozen=True)
class Shape:
    """A declared matrix or vector (`W: 2x3`): its entries, row-major, are the symbols the Jacobian columns use."""

    name: str
    rows: int
    cols: int
    symbols: tuple[sp.Symbol, ...]
    matrix: bool = False  # declared rows x cols: `W: 3x1` is a matrix of one column, `x: 3` a vector

    @property
    def dims(self) -> tuple[int, ...]:
        """The shape as numpy has it: (3,) for `x: 3`, (3, 1) for `W: 3x1`."""
        return (self.rows, self.cols) if self.matrix else (self.rows,)


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
    written: tuple[sp.Symbol, ...] = ()  # every name the user wrote, even one that cancels (x - a + a)

    @cached_property
    def values(self) -> dict[sp.Symbol, sp.Expr]:
        """Every stage output as an expression of the map's variables (unbounded: only composed on request)."""
        values = compose(self.stages)
        assert values is not None
        return values

    @cached_property
    def expressions(self) -> tuple[sp.Expr, ...]:
        if self.composed is not None:
            return self.composed
        return tuple(self.values[o] for o in self.outputs)

    @cached_property
    def free_names(self) -> tuple[sp.Symbol, ...]:
        """Every symbol the map depends on or the user wrote: the inputs first, then the constants by name.

        Read from the stages (each small), never by walking the composed expressions, which share subtrees
        that a walk without a seen-set visits exponentially often."""
        internal = {o for s in self.stages for o in s.outputs}
        internal |= {p for s in self.stages for p, source in zip(s.params, s.sources) if p != source}
        used = symbols_in(e for s in self.stages for e in s.expressions) - internal
        rest = (used | set(self.written)) - set(self.inputs)
        return self.inputs + tuple(sorted(rest, key=lambda s: s.name))

    @cached_property
    def guards(self) -> tuple[Guards, ...]:
        """Where each output is defined, as guards on the map's own variables (composed through the stages)."""
        return compose_guards(self.stages, self.outputs, self.values)


def compose(stages: Sequence[Stage], limit: int | None = None) -> dict[sp.Symbol, sp.Expr] | None:
    """Every stage output as an expression of the map's inputs, substituting earlier stages in order; None
    as soon as an expression passes `limit` nodes (printing, differentiating and compiling it would crawl)."""
    values: dict[sp.Symbol, sp.Expr] = {}
    for stage in stages:
        binding = _binding(stage, values)
        for output, expression in zip(stage.outputs, stage.expressions):
            values[output] = expression.xreplace(binding)
        if limit is not None and exceeds((values[o] for o in stage.outputs), limit):
            return None
    return values


def _binding(stage: Stage, values: Mapping[sp.Symbol, sp.Expr]) -> dict[sp.Symbol, sp.Expr]:
    """What each parameter of `stage` stands for; parameters that stand for themselves are left out, since
    xreplace rebuilds (and re-evaluates, slowly for large arguments) every expression a rule touches."""
    binding = {p: values.get(source, source) for p, source in zip(stage.params, stage.sources)}
    return {p: value for p, value in binding.items() if p != value}


def compose_guards(stages: Sequence[Stage], outputs: Sequence[sp.Symbol],
                   values: Mapping[sp.Symbol, sp.Expr]) -> tuple[Guards, ...]:
    """The guards of each of `outputs`: its own stage's, and those of every earlier value it is computed from,
    written in the map's variables (`values`: the stages composed)."""
    guards: dict[sp.Symbol, Guards] = {}
    for stage in stages:
        binding = _binding(stage, values)
        own = stage.guards or tuple(() for _ in stage.outputs)
        # the parameters that bring guards along: a stage of the map's own variables has none, and then no
        # expression's symbols are collected (free_symbols walks the whole tree at each call, issue 27)
        guarded = [(p, guards[source]) for p, source in zip(stage.params, stage.sources) if guards.get(source)]
        for output, expression, output_guards in zip(stage.outputs, stage.expressions, own):
            used = expression.free_symbols if guarded else frozenset()
            inherited = [g for p, inherited_guards in guarded if p in used for g in inherited_guards]
            composed = [Guard(g.expression.xreplace(binding), g.line, g.divisor) for g in output_guards]
            guards[output] = tuple(dict.fromkeys(inherited + composed))
    return tuple(guards.get(o, ()) for o in outputs)


def distinct_nodes(expressions: Iterable[Any], below: Callable[[Any], Iterable[Any]] | None = None) -> Iterator[Any]:
    """Every distinct subexpression once: sympy's own walks (free_symbols, atoms, preorder_traversal) visit
    a shared subexpression once per occurrence, exponentially often in a composition of many lines. `below`: the
    parts walked into under a node, when not all its arguments."""
    seen: set[Any] = set()
    stack = list(expressions)
    while stack:
        node = stack.pop()
        count = len(seen)
        seen.add(node)  # one hash where `in` and `add` took two: sympy computes each in Python
        if len(seen) == count:
            continue
        yield node
        stack.extend(node.args if below is None else below(node))


def symbols_in(expressions: Iterable[Any]) -> set[Any]:
    """The free symbols, found by a walk over the distinct subexpressions."""
    return {node for node in distinct_nodes(expressions) if node.is_Symbol}


def exceeds(expressions: Iterable[sp.Basic], limit: int,
            measured: dict[sp.Basic, tuple[int, int]] | None = None) -> bool:
    """Do the expression trees, written out without sharing, have more than `limit` nodes? Stops counting early.
    `measured`: as `tree_size`'s."""
    return tree_size(expressions, limit, measured=measured)[0] > limit


def node_count(expressions: Iterable[sp.Basic], limit: int) -> int:
    """The nodes of the expression trees written out without sharing (a composition that shares subtrees can
    have exponentially many), up to just past `limit`."""
    return tree_size(expressions, limit)[0]


# The sizes of whole expressions measured without `known` sizes, remembered (the oldest forgotten first past
# _REMEMBERED): a display asks about the same entries whether the matrix is big, whether to search it for repeated
# parts and whether each entry is long, a walk each (issue 27).
_SIZES: dict[sp.Basic, tuple[int, int]] = {}
_REMEMBERED = 4096


def tree_size(expressions: Iterable[sp.Basic], limit: int,
              known: Mapping[sp.Basic, tuple[int, int]] | None = None,
              measured: dict[sp.Basic, tuple[int, int]] | None = None) -> tuple[int, int]:
    """The nodes (as `node_count`) and the depth of the trees, in time linear in the distinct subexpressions:
    each is measured once and counted as often as it occurs. `known` gives the sizes of symbols that stand for
    larger trees: a function body's size once its arguments are put in, before building it. `measured` keeps
    the sizes found for the next call (the entries of one vector sharing a part, as z - max(z) does)."""
    remembered = known is None and measured is None
    measured = dict(known or {}) if measured is None else measured
    nodes = depth = 0
    for expression in expressions:
        sized = _SIZES.get(expression) if remembered else None
        if sized is None:
            sized = _measure(expression, measured)
            if remembered:
                if len(_SIZES) >= _REMEMBERED:
                    del _SIZES[next(iter(_SIZES))]
                _SIZES[expression] = sized
        nodes, depth = min(nodes + sized[0], limit + 1), max(depth, sized[1])
    return nodes, depth


def _measure(root: sp.Basic, measured: dict[sp.Basic, tuple[int, int]]) -> tuple[int, int]:
    """`root`'s size and depth, each distinct subexpression measured once, after its arguments (as `postorder`
    walks, written out here: a display measures every entry, issue 27)."""
    stack = [root]
    while stack:
        node = stack[-1]
        if node in measured:  # put on the stack by two parents
            stack.pop()
            continue
        args = node.args
        waiting = [a for a in args if a not in measured]
        if waiting:
            stack.extend(waiting)
            continue
        stack.pop()
        size, depth = 1, 0
        for argument in args:
            below = measured[argument]
            size += below[0]
            depth = max(depth, below[1])
        measured[node] = (size, depth + 1)
    return measured[root]


def postorder(expressions: Iterable[Any], done: Container[Any] = frozenset()) -> Iterator[Any]:
    """Every distinct subexpression not in `done` once, after its arguments: a bottom-up walk that visits a
    shared subtree once, without recursion."""
    seen: set[Any] = set()
    stack = [(e, False) for e in expressions]
    while stack:
        node, ready = stack.pop()
        if ready:
            yield node
        elif node not in seen and node not in done:
            seen.add(node)
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in seen and a not in done)


@dataclass(frozen=True)
class Options:
    """What the user asked for, independent of how it was asked (magic options, CLI flags, Python keywords)."""

    det: bool = False
    wrt: tuple[str, ...] = ()
    at: tuple[tuple[str, Any], ...] = ()  # as the user gave it: exact numbers, lists, arrays
    simplify: SimplifyMode = "auto"
    partials: bool = False
    check: bool = False
    chain: bool = False
    widgets: bool = True
    budget: float = 2.0
    memory: float = 1.0  # gigabytes a layer cell's walkthrough may hold, estimated before anything is allocated
    ranges: tuple[tuple[str, float, float], ...] = ()
    continuous_update: bool = True
    plot: bool = False
    domain: tuple[tuple[str, float, float], ...] = ()
    hessian: bool = False
    mode: Mode = "reverse"  # how --chain multiplies the local Jacobians: from the output side, the input side, both
    direction: tuple[tuple[str, Any], ...] = ()  # forward mode's one direction, as --at gives a point; () = each input
