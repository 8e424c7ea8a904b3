"""What stops the array tracer (`tracer`) following a numpy def: the reader then says why, or the entry-level
tracer takes the cell."""

from __future__ import annotations


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
