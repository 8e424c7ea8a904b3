"""sympy's evaluation switched off while a def runs (so each value keeps the parts it was computed from and a guard
sympy would fold, np.log in np.exp(np.log(x)), is still found), without losing sympy's cache, and the values a def
looks at (an if, an ==, a print) as sympy's.

sympy keeps one cache of results keyed by their arguments alone, so switching its global evaluate flag clears the
whole cache: an unevaluated x + x must never be handed to evaluated code later, nor 2*x to unevaluated code. Doing
so, each def traced lost everything cached before it, and a re-run of a def cell computed everything again (a
12-entry softmax 0.08 -> 1.27 s of CPU). Instead, while a def runs each cached sympy function is given a cache of
its own, and its evaluated cache is put back after: each mode still sees only what it cached itself, as clearing
ensured, and nothing cached in either is lost. Where sympy's cache is not built as this expects (SYMPY_USE_CACHE,
another sympy), the flag is switched as sympy switches it.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import sympy as sp
from sympy.core import cache as sympy_cache
from sympy.core.parameters import global_parameters

from jacmagic.budget import undisturbed
from jacmagic.chain.extremes import WrittenMax, WrittenMin, maximum, minimum
from jacmagic.errors import CellError
from jacmagic.model import postorder
from jacmagic.read.guards import guards_within

_Cached = list[tuple[Any, types.CellType]]  # each cached function's wrapper and the cell holding its cache


class _Run:
    """The caches of an unevaluated run: sympy's own (evaluated) and the run's, one of them in use."""

    def __init__(self, cached: _Cached) -> None:
        self.cached = cached
        self.evaluated = [cell.cell_contents for _, cell in cached]
        self.unevaluated = [functools.lru_cache(cache.cache_parameters()["maxsize"], typed=True)(cache.__wrapped__)
                            for cache in self.evaluated]
        self.symbolic: dict[sp.Basic, bool] = {}  # does a part hold a symbol: each part looked at once
        self.value_of = evaluator()  # sympy's value of each part: a constant settled in a loop valued once
        self.known = len(sympy_cache.CACHE)

    def use(self, evaluate: bool) -> None:
        """Puts one mode's caches in place (and as what sympy's clear_cache clears) and sets the flag, which sympy
        would otherwise answer by clearing its cache; undisturbed: a budget's alarm or Ctrl-C landing half-way
        would leave some of sympy's functions with the other mode's cache for the rest of the session."""
        with undisturbed():
            for (wrapper, cell), cache in zip(self.cached, self.evaluated if evaluate else self.unevaluated):
                cell.cell_contents = cache
                wrapper.cache_clear, wrapper.cache_info = cache.cache_clear, cache.cache_info
            for wrapper in sympy_cache.CACHE[self.known:]:  # of a sympy module imported meanwhile: one cache, cleared
                wrapper.cache_clear()
            global_parameters.__dict__["evaluate"] = evaluate


_running: list[_Run] = []
# parts built by a function that looks at its arguments' values (a number written first goes second in max(1, x)):
# built by it again from their values, which it saw unevaluated (x/x, not 1)
_BUILDERS: dict[Any, Callable[..., sp.Basic]] = {WrittenMax: maximum, WrittenMin: minimum}


def _cached() -> _Cached | None:
    """sympy's cached functions and their caches' cells, or None where sympy's cache is not as expected."""
    found: _Cached = []
    for wrapper in sympy_cache.CACHE:
        code, cells = getattr(wrapper, "__code__", None), getattr(wrapper, "__closure__", None)
        if code is None or cells is None or "cfunc" not in code.co_freevars:
            return None
        cell = cells[code.co_freevars.index("cfunc")]
        if not all(hasattr(cell.cell_contents, a) for a in ("cache_parameters", "__wrapped__", "cache_clear")):
            return None
        found.append((wrapper, cell))
    return found


@contextmanager
def unevaluated() -> Iterator[None]:
    """sympy evaluates nothing inside, with caches of its own (see the module's docstring)."""
    cached = _cached() if global_parameters.evaluate and not _running else None
    if cached is None:
        with sp.evaluate(False):
            yield
        return
    others = {k: v for k, v in global_parameters.__dict__.items() if k != "evaluate"}
    run = _Run(cached)
    try:
        _running.append(run)
        run.use(False)
        yield
    finally:
        with undisturbed():  # all of it done before an alarm that arrived meanwhile is raised
            if run in _running:
                _running.remove(run)
            run.use(True)
            if others != {k: v for k, v in global_parameters.__dict__.items() if k != "evaluate"}:
                sympy_cache.clear_cache()  # the def changed another of sympy's settings and left it changed


@contextmanager
def evaluated() -> Iterator[None]:
    """sympy evaluates inside, with its own cache, also within an unevaluated run (np.where is built so)."""
    if not _running or global_parameters.evaluate:
        with sp.evaluate(True):
            yield
        return
    run = _running[-1]
    try:
        run.use(True)
        yield
    finally:
        run.use(False)


def evaluator() -> Callable[[sp.Basic], sp.Basic]:
    """sympy's value of an expression written unevaluated, built bottom-up: each distinct part once, however
    often the def reused it."""
    values: dict[sp.Basic, sp.Basic] = {}

    def value(expression: sp.Basic) -> sp.Basic:
        with evaluated():
            for node in postorder((expression,), values):
                build = _BUILDERS.get(node.func, node.func)
                values[node] = build(*(values[a] for a in node.args)) if node.args else node
        return values[expression]
    return value


def settled(value: Any) -> Any:
    """A constant computed while sympy evaluates nothing (np.sum of plain numbers is an unevaluated 1 + 2) as
    sympy's value, so Python's if, ==, `in` and a dict see the number; anything holding a symbol as it is. A list's
    or an array's entries are settled in place (one level: a def's values are numbers and arrays), so that a name
    bound to the same list or array (b = a; b.append(...)) still is."""
    if global_parameters.evaluate:  # sympy evaluated it already
        return value
    if isinstance(value, list) or isinstance(value, np.ndarray) and value.dtype == object:
        entries = value if isinstance(value, list) else value.flat
        for k, entry in enumerate(list(entries)):
            number = _number(entry)
            if number is not entry and (isinstance(value, list) or value.flags.writeable):
                entries[k] = number
        return value
    if type(value) is tuple:  # a, b = 1 + 2, x
        numbers = tuple(map(_number, value))
        return value if all(a is b for a, b in zip(numbers, value)) else numbers
    return _number(value)


def _number(value: Any) -> Any:
    """A constant's value, unless it is written with a part that has none (0*np.sqrt(-1.0) is 0 to sympy, nan to
    numpy): kept as written, so that the output using it is refused as having no real value, as when inline."""
    if not isinstance(value, sp.Basic) or not value.args or _symbolic(value):
        return value
    value_of = _value_of()
    with evaluated():  # sympy's algorithms (evalf in printing the refusal) expect evaluated parts
        try:
            guards_within((value,), 0, CellError, value_of)
        except CellError:
            return value
    return value_of(value)


def shown(value: Any) -> Any:
    """What a def prints or formats: sympy's value of what it computed (3, not 1 + 2; 2*x, not x + x), written
    out with sympy evaluating (its printers ask evalf, which recurses without end on unevaluated parts)."""
    if global_parameters.evaluate or not isinstance(value, (sp.Basic, np.ndarray, list, tuple)):
        return value
    return _Shown(_values_of(value, _value_of()))


def _value_of() -> Callable[[sp.Basic], sp.Basic]:
    """The run's valuer of parts; a fresh one where sympy's own switch runs the def (no run of ours)."""
    return _running[-1].value_of if _running else evaluator()


def _values_of(value: Any, value_of: Callable[[sp.Basic], sp.Basic]) -> Any:
    if isinstance(value, sp.Basic):
        return value_of(value)
    if isinstance(value, np.ndarray) and value.dtype == object:
        return np.vectorize(lambda entry: _values_of(entry, value_of), otypes=[object])(value).view(type(value))
    if type(value) in (list, tuple):
        return type(value)(_values_of(entry, value_of) for entry in value)
    return value


class _Shown:
    """A value as print and an f-string write it: str, repr and format run with sympy evaluating."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        with evaluated():
            return str(self.value)

    def __repr__(self) -> str:
        with evaluated():
            return repr(self.value)

    def __format__(self, spec: str) -> str:
        with evaluated():
            return format(self.value, spec)


def _symbolic(value: Any) -> bool:
    """Does `value` hold a symbol? Each part asked once in a run: a sum grown term by term in a loop and settled
    at each step is not walked whole each time."""
    if not isinstance(value, sp.Basic):
        return False
    known = _running[-1].symbolic if _running else {}
    for node in postorder((value,), known):
        known[node] = any(known[a] for a in node.args) if node.args else bool(node.free_symbols)
    return known[value]
