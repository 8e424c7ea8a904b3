"""A Python `def` -> the array operations of a layer cell, by running it once on tracer arrays.

As JAX and autograd trace Python, the function is called with one `Tracer` per parameter; numpy dispatches every
ufunc and array function it meets to the tracer (`__array_ufunc__`, `__array_function__`), which records the
operation with its shapes instead of computing numbers. Each assignment in the function's body becomes a line of
the chain, named as in the code (the return value is named after the function), so a numpy model written as a
function gets the same walkthrough, gradient and panel as the same model written as layer lines, at any size.

What the tracer cannot follow (an `if` on a traced value, a float() of one, a library outside numpy, a numpy
function it does not know) raises `Untraceable` naming the line; the pipeline then uses the entry-level tracer
when the function is small enough, and otherwise says which line and why.
"""

from __future__ import annotations

import ast
import inspect
import math
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from jacmagic.budget import Budget
from jacmagic.chain.calculus import DIFFERENTIATION_BUDGETS
from jacmagic.chain.choices import chosen
from jacmagic.chain.images import stack_of
from jacmagic.chain.network import Line, Network
from jacmagic.chain.operations import Leaf
from jacmagic.chain.softmax_shift import leaves_of, recognise
from jacmagic.chain.stacking import Stack
from jacmagic.errors import CellError, TooManyEntries
from jacmagic.model import Options
from jacmagic.read.numpy_rules import BUILTINS
from jacmagic.read.source import is_def_cell, python_declarations
from jacmagic.read.trace import CELL_FILENAME, _error_line, read_defs
from jacmagic.read.tracer import Condition, Tracer, operand, reduction
from jacmagic.read.untraceable import CodeFailed, Untraceable, arrays_compared, extreme_options, value_dependent

_LINE = "__jacmagic_line__"


# -- lines: each assignment of the function's body -------------------------------------------------------------------

class _Lines:
    """Collects the chain's lines as the traced function assigns them."""

    def __init__(self, names: set[str]) -> None:
        self.lines: list[Line] = []
        self.taken = set(names)
        self.last = 0  # the line of the latest assignment or return

    def __call__(self, name: str, value: Any, number: int, returned: bool = False) -> Any:
        """Called with each assignment's value: a traced computation becomes a line named as assigned, and the
        name stands for its value from then on. A returned list of traced numbers is their column."""
        self.last = number
        if returned and isinstance(value, (list, tuple)):
            value = _column(value, Untraceable(f"{name} returns a list holding an array; each item must be one "
                                               "traced number (the list is the column of outputs), or return one "
                                               "array"))
        if not isinstance(value, Tracer) or isinstance(value.node, Leaf):
            return value
        unique, k = name, 1
        while unique in self.taken:
            k += 1
            unique = f"{name}_{k}"
        self.taken.add(unique)
        self.lines.append(Line(unique, number, value.node, leaves_of(value.node)))
        return Tracer(Leaf(unique, value.node.shape, stack_of(value.node)), value.ndim)


def _column(items: list[Any] | tuple[Any, ...], holding_array: Exception) -> Any:
    """`return [u, x + y]`: the traced numbers as a column of outputs (rows of them, [[a, b], [c, d]], a matrix),
    as the entry-level form reads a returned list; a list of anything else is left to be refused, one holding a
    traced array refused with `holding_array`."""
    rows = [item if isinstance(item, (list, tuple)) else None for item in items]
    matrix = bool(rows) and all(row is not None for row in rows)
    cells = [cell for row in rows for cell in row or ()] if matrix else list(items)
    if not any(isinstance(cell, Tracer) for cell in cells) or (matrix and len({len(r or ()) for r in rows}) != 1):
        return items
    traced = [operand(cell) for cell in cells]
    if any(t.node.size != 1 for t in traced):
        raise holding_array
    shape = (len(rows), len(rows[0] or ())) if matrix else (len(cells), 1)
    return Tracer(Stack(tuple(t.node for t in traced), shape, matrix), 2 if matrix else 1)


def _extreme(kind: str, builtin: Callable[..., Any]) -> Callable[..., Any]:
    """Python's max and min of traced values, as a def without --chain reads them: max(v) or max([a, b, c]) (one
    collection) the reduction np.max is, max(a, b, c) np.maximum of np.maximum (the written max of a math cell);
    of numbers alone Python's own."""
    def extreme(*args: Any, **options: Any) -> Any:
        collection = args[0] if len(args) == 1 else args
        if isinstance(collection, Tracer) and collection.ndim:
            if collection.ndim > 1:
                raise arrays_compared(kind)
            if options:
                raise extreme_options(kind, options)
            return reduction(kind, collection)
        items = list(collection)
        if not any(isinstance(item, Tracer) for item in items):
            return builtin(items, **options)
        if options:
            raise extreme_options(kind, options)
        if len(args) == 1:
            return reduction(kind, _column(items, arrays_compared(kind)))
        found, *others = [operand(item) for item in items]
        if any(t.node.size != 1 for t in (found, *others)):
            raise arrays_compared(kind)
        for other in others:
            found = Tracer(chosen(kind, found.node, other.node), 0)
        return found
    return extreme


def _sum(values: Any, start: Any = 0) -> Any:
    """Python's sum of a traced vector (its entries) or matrix (its rows, numpy's sum along axis 0)."""
    if isinstance(values, Tracer) and values.ndim in (1, 2):
        total = reduction("sum", values, 0)
        return total if isinstance(start, int) and start == 0 else total + start
    return sum(values, start)


def _tested(name: str, builtin: Callable[..., Any]) -> Callable[..., Any]:
    """Python's any() and all() ask each item whether it is true: of traced values refused as v.any() is (their
    answer has no derivative), of numbers Python's own."""
    def test(iterable: Any) -> Any:
        items = [iterable] if isinstance(iterable, (Tracer, Condition)) else list(iterable)
        if any(isinstance(item, (Tracer, Condition)) for item in items):
            raise value_dependent(f"{name}()")
        return builtin(items)
    return test


# Python's functions that would iterate over a traced array entry by entry
_PYTHON = {"max": _extreme("max", max), "min": _extreme("min", min), "sum": _sum, "any": _tested("any", any),
           "all": _tested("all", all)}


class _Instrument(ast.NodeTransformer):
    """Wraps the value of every assignment `name = value` (and `name op= value`) and of `return value` in the
    function's own body in a call that records the line."""

    def __init__(self, function: str) -> None:
        self.function = function

    def _wrapped(self, name: str, value: ast.expr, line: int, returned: bool = False) -> ast.expr:
        call = ast.Call(ast.Name(_LINE, ast.Load()), [ast.Constant(name), value, ast.Constant(line),
                                                      ast.Constant(returned)], [])
        return ast.copy_location(call, value)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:  # noqa: N802 - ast's name
        if node.name == self.function:
            node.body = [self.visit(statement) for statement in node.body]
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST:  # noqa: N802
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            node.value = self._wrapped(node.targets[0].id, node.value, node.lineno)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:  # noqa: N802
        if not isinstance(node.target, ast.Name):
            return node
        value = ast.BinOp(ast.Name(node.target.id, ast.Load()), node.op, node.value)
        assign = ast.Assign([ast.Name(node.target.id, ast.Store())], self._wrapped(node.target.id, value,
                                                                                    node.lineno))
        return ast.copy_location(assign, node)

    def visit_Return(self, node: ast.Return) -> ast.AST:  # noqa: N802
        if node.value is not None:
            node.value = self._wrapped(self.function, node.value, node.lineno, returned=True)
        return node


# -- the cell ---------------------------------------------------------------------------------------------------------

def _parameter(name: str, value: Any, declared: tuple[int, ...] | None) -> Tracer:
    """A parameter's tracer, shaped as declared in the cell or as its value at the point; three axes are a batch of
    images, (k, h, w), worked on as their kh x w stack as in a layer cell."""
    dims = declared if declared is not None else np.shape(value) if value is not None else ()  # never copied
    if len(dims) > 3:
        raise Untraceable(f"{name} has {len(dims)} axes; arrays of one or two, and batches of images (three), are "
                          "traced")
    if len(dims) == 3:
        stack, rows, cols = map(int, dims)
        if stack == 1:
            raise CellError(f"{name} has shape {tuple(dims)}: a batch of one image; give it as ({rows}, {cols}), or "
                            "give two or more images")
        return Tracer(Leaf(name, (stack * rows, cols), stack), 3)
    rows, cols = (*dims, 1, 1)[:2]
    return Tracer(Leaf(name, (int(rows), int(cols))), len(dims))


_UNFINISHED = object()  # what the call gives when its time ran out


def trace_network(text: str, namespace: Mapping[str, Any], point: Mapping[str, Any],
                  budget: float = Options.budget) -> Network:
    """The def cell's last function as array operations; `Untraceable` (with the line) if it does something the
    tracer cannot follow. The call has 5 budgets (at least 5 default ones): a loop that never ends is stopped."""
    if not is_def_cell(text):
        raise Untraceable("not a def cell")
    source, declarations = python_declarations(text)
    tree, defs = read_defs(source)
    name = defs[-1].name
    tree = ast.fix_missing_locations(_Instrument(name).visit(tree))
    parameters = [a.arg for a in defs[-1].args.args]
    lines = _Lines(set(parameters))
    scope: dict[str, Any] = {**BUILTINS, **_PYTHON, **namespace, "np": np, "numpy": np, "math": math, _LINE: lines}
    try:
        exec(compile(tree, CELL_FILENAME, "exec"), scope)  # noqa: S102 - a def cell is the user's own Python
    except Exception as err:  # noqa: BLE001 - the entry-level tracer runs it again and words the failure
        raise CodeFailed(f"{type(err).__name__}: {err}") from None
    function = scope[name]
    if len(inspect.signature(function).parameters) != len(parameters) or defs[-1].args.vararg or \
            defs[-1].args.kwarg or defs[-1].args.kwonlyargs:
        raise Untraceable("parameters beyond plain positional ones")
    declared = {d.name: d.dims for d in declarations.values()}
    # parameters with defaults keep their values, as in the entry-level tracer: only the others are inputs
    free = parameters[:len(parameters) - len(defs[-1].args.defaults)]
    tracers = [_parameter(p, point.get(p), declared.get(p)) for p in free]
    allowance = DIFFERENTIATION_BUDGETS * max(budget, Options.budget)  # a small --budget is for optional steps
    try:
        value = Budget(allowance).run(lambda: function(*tracers), _UNFINISHED, optional=False)
    except Untraceable as why:
        raise Untraceable(why.reason, why.line or _error_line(sys.exc_info()[2], CELL_FILENAME)) from None
    except CellError as err:
        raise CellError(err.message, err.line or _error_line(sys.exc_info()[2], CELL_FILENAME)) from None
    except Exception as err:  # the user's code failed: the entry-level tracer words it, as it always has
        raise CodeFailed(f"{type(err).__name__}: {err}", _error_line(sys.exc_info()[2], CELL_FILENAME)) from None
    if value is _UNFINISHED:
        raise TooManyEntries(f"calling {name} with traced arrays did not finish within {allowance:g} s; look for a "
                             "loop that never ends, or allow more with a larger --budget")
    if not isinstance(value, Tracer):
        raise Untraceable(f"{name} returns a {type(value).__name__}, not one traced array", lines.last or None)
    if not lines.lines:
        raise Untraceable(f"{name} returns one of its parameters unchanged")
    shapes = {t.node.name: t.node.shape for t in tracers if isinstance(t.node, Leaf)}
    traced = recognise(lines.lines)  # a hand-written stable softmax read as softmax (the walk's and closed form's)
    computed = {line.name for line in traced}
    used = [leaf.name for line in traced for leaf in line.leaves]
    inputs = tuple(dict.fromkeys(n for n in used if n not in computed))
    outputs = tuple(line.name for line in traced if line.name not in used)
    return Network({n: shapes[n] for n in inputs}, traced, inputs, outputs)
