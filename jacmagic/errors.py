"""The project's own exceptions.

No IPython here: the magic converts a `JacmagicError` into IPython's `UsageError` once, at its boundary, so the
Python API raises plain exceptions and the notebook shows a one-paragraph message without a traceback.
"""

from __future__ import annotations


class JacmagicError(ValueError):
    """A user mistake: the message says what is wrong and, where known, on which line of the cell."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(self._format())

    def _format(self) -> str:
        if self.line is None:
            return self.message
        where = f"line {self.line}" + (f", column {self.column}" if self.column is not None else "")
        return f"{where}: {self.message}"


class CellError(JacmagicError):
    """The cell text cannot be read as a map: syntax, unknown names, forbidden constructs."""


class TooManyEntries(CellError):
    """Declared shapes too large to write out entry by entry (the array-level walkthrough has no such limit)."""


class OptionError(JacmagicError):
    """An option does not fit the cell: `--wrt`/`--at` naming unknown variables, `--det` on a non-square map."""


class BudgetExceeded(BaseException):
    """A step ran past its time budget.

    A BaseException so that library code catching `Exception` cannot swallow it; the caller that set the budget
    always catches it and falls back.
    """
