"""numpy's questions about an array's values in a plain def (v.nonzero(), np.count_nonzero, v.any(), np.all):
numpy's loop asks each entry whether it is nonzero, and a traced symbol always says yes, so on traced values
they would run without complaint and answer as if every entry were nonzero. Their answers jump as the values
change and have no derivative: refused there, naming the call; on numbers written in the def numpy's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp
from sympy.logic.boolalg import BooleanAtom

from jacmagic.errors import CellError
from jacmagic.read.untraceable import value_dependent


def entries_of(value: Any) -> list[Any]:
    """A number, or the entries of an array row by row."""
    return list(np.asarray(value, dtype=object).ravel())


def holds_symbols(value: Any) -> bool:
    """Does `value` hold one of the traced symbols?"""
    return any(isinstance(entry, sp.Basic) and bool(entry.free_symbols) for entry in entries_of(value))


def _numbers(value: Any) -> np.ndarray:
    """An array of constants as real numpy holds it: floats, or booleans where every entry is one (a comparison
    of numbers), not the object array of sympy numbers the def computed."""
    array = np.asarray(value, dtype=object)
    truths = all(isinstance(entry, (bool, np.bool_, BooleanAtom)) for entry in array.flat)
    kind = bool if truths else float
    return np.array([kind(entry) for entry in array.flat], dtype=kind).reshape(array.shape)


def by_values(spelled: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` (np.nonzero, ...) of numbers as numpy runs it; of traced values refused naming `spelled`."""
    def apply(values: Any, *args: Any, **options: Any) -> Any:
        if holds_symbols(values):
            raise value_dependent(spelled)
        return function(_numbers(values), *args, **options)
    return apply


def of_matrix(spelled: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """v.trace(), v.diagonal() and their np. functions: of a matrix numpy's, of a vector or number refused as
    numpy refuses it (a trace or diagonal needs two axes), in jacmagic's words."""
    def apply(values: Any, *args: Any, **options: Any) -> Any:
        if np.ndim(values) < 2:
            raise needs_matrix(spelled, np.shape(values))
        return function(values, *args, **options)
    return apply


def needs_matrix(spelled: str, shape: tuple[int, ...]) -> CellError:
    """The refusal of a trace or diagonal of an array with fewer than two axes."""
    instead = ("for the sum of a vector's entries write np.sum(v), for the matrix with it on the diagonal "
               "np.diag(v)" if shape else "if the input is a matrix, give its shape: a line `W: 2x3` in the cell, or "
               "the point --at W=[[1, 2, 3], [4, 5, 6]]")
    return CellError(f"{spelled} needs a matrix (two axes), as numpy's does; here it got "
                     f"{'a vector' if shape else 'a number'} of shape {shape}: {instead}")


def python_test(name: str, builtin: Callable[..., Any]) -> Callable[..., Any]:
    """Python's any() and all() in a def: each item is asked for True or False, which a traced symbol answers
    True for every input; of numbers Python's own."""
    def test(iterable: Any) -> Any:
        items = list(iterable)
        if holds_symbols(items):
            raise value_dependent(f"{name}()")
        return builtin(items)
    return test
