"""What stops the array tracer (`tracer`) following a numpy def: the reader then says why, or the entry-level
tracer takes the cell."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jacmagic.errors import CellError


class Untraceable(Exception):
    """The function does something the array tracer cannot follow, on `line` when known."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.line = reason, line


class CodeFailed(Untraceable):
    """The user's own code raised (a misspelt np. function, a wrong call): the entry-level tracer words it, so that
    --chain says the same as a plain cell."""


class UntracedAttribute(Untraceable, AttributeError):
    """A traced array's method that is not traced: refused naming it (hasattr still says False)."""


# what to write instead of an array method the tracer does not follow
_INSTEAD = {
    **dict.fromkeys(("argmax", "argmin"), ": it gives the place of an extreme, a whole number that jumps from one "
                                          "entry to the next, with no derivative; np.max(v) or v.max() gives the "
                                          "value"),
    "prod": ": write the product out (v[0] * v[1] * ...), or drop --chain, where v.prod() is traced entry by entry",
    "astype": ": a traced array holds floats already; leave .astype(float) out",
    "copy": ": a traced array is never changed in place, so a copy is the array itself; leave .copy() out",
    "squeeze": ": index the axis of length 1 away (x[0]) or reshape (x.reshape(-1) for a vector)",
    "cumsum": ": running sums are not covered; write the sums (v[0] + v[1], ...) as their own lines",
    "item": ": index the entry (x[0] of a vector, W[0, 0] of a matrix)",
}


def untraced_method(name: str) -> UntracedAttribute:
    """The refusal of a traced array's method `name`, with what to write instead where there is a way."""
    return UntracedAttribute(f"the array method .{name} is not traced{_INSTEAD.get(name, '')} (.T, .sum, .mean, "
                             ".max, .min, .var, .std, .trace, .diagonal, .dot, .clip, .transpose, .flatten, .ravel "
                             "and .reshape to a vector, a column or a row are)")


def value_dependent(call: str) -> CellError:
    """The refusal of a call that asks which entries are nonzero or true (v.nonzero(), np.count_nonzero, v.any()):
    its answer jumps as the values change, so it has no derivative, at either level of tracing."""
    return CellError(f"{call} asks which entries are nonzero (or true), and its answer jumps from one point to the "
                     "next, so it has no derivative and is not traced; to choose between values by a condition "
                     "write np.where(cond, a, b), e.g. np.where(v != 0, a, b) (on an array of numbers written in "
                     "the def it runs as numpy's)")


def untraced_ufunc(name: str, method: str, options: Mapping[str, Any]) -> Untraceable:
    """The refusal of a ufunc's method other than a call and the reductions (np.add.accumulate), or of options."""
    if method != "__call__":
        return Untraceable(f"np.{name}.{method} is not traced; np.add.reduce, np.maximum.reduce and "
                           "np.minimum.reduce are (np.sum, np.max and np.min along axis 0)")
    return Untraceable(f"np.{name} with {', '.join(options)}= is not traced")


def arrays_compared(kind: str) -> CellError:
    """Python's max(W) of a matrix (its rows), or max of a list holding arrays: numpy refuses to compare them."""
    return CellError(f"{kind}() here compares whole arrays (the rows of a matrix, or arrays in a list), which numpy "
                     f"refuses; write np.{kind}(W) for the {kind}imum of every entry, np.{kind}(W, axis=0) per "
                     f"column, or np.{kind}imum(a, b) entry by entry")


def extreme_options(kind: str, options: Mapping[str, Any]) -> CellError:
    """Python's max(v, key=...) of traced values: the key's comparisons have no one answer."""
    return CellError(f"{kind}() with {', '.join(options)}= of traced values asks which is larger, and the answer "
                     f"differs from point to point; write np.{kind}(v) or {kind}(v) without it")
