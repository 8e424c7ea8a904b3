"""Numbers as every view shows them: one number, a vector, a matrix or an array cut to its window (the first
HEAD and last TAIL rows and columns of a long one), as LaTeX and as text from the same decisions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import sympy as sp

from jacmagic.lazy import np
from jacmagic.notation import pretty

# A matrix with more rows or columns than SHOWN shows its first HEAD and last TAIL of them, with ellipses: what
# MathJax typesets in about a second.
SHOWN, HEAD, TAIL = 12, 8, 2


def window(count: int) -> list[int | None]:
    """The indices shown of `count` rows or columns; None stands for the elided middle."""
    if count <= SHOWN:
        return list(range(count))
    return [*range(HEAD), None, *range(count - TAIL, count)]


def grid(rows: int, cols: int, cell: Callable[[int, int], str], dots: tuple[str, str, str]) -> list[list[str]]:
    """Cells of the shown window; `dots` fills the elided row, column and corner."""
    return [[dots[2] if i is None and j is None else dots[0] if i is None else dots[1] if j is None else cell(i, j)
             for j in window(cols)] for i in window(rows)]


def number(value: float, digits: int = 6) -> str:
    """Every number jacmagic shows, in every view: `digits` significant digits, "undefined" for nan, ∞ for an
    overflow (the notes say which it is)."""
    if math.isnan(value):
        return "undefined"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value + 0.0:.{digits}g}"  # + 0.0: -0.0 is shown as 0


def number_latex(value: float, digits: int = 6) -> str:
    r"""`number` as LaTeX: the same decisions, typeset (1e+20 as 1 \cdot 10^{20})."""
    text = number(value, digits)
    if text == "undefined":
        return r"\text{undefined}"
    if text.endswith("∞"):
        return text.replace("∞", r"\infty")
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \cdot 10^{{{int(exponent)}}}"
    return text


def number_text(value: float) -> str:
    return number(value)


def bracketed(items: Sequence[str], open_: str = "[", close: str = "]", separator: str = ", ") -> str:
    """One item as itself, several in brackets: how every view writes a vector of numbers."""
    return items[0] if len(items) == 1 else open_ + separator.join(items) + close


def array_latex(values: np.ndarray, digits: int = 6) -> str:
    """Numbers in their shape, cut to the window (first 8, last 2 rows and columns), the shape said for every
    vector and matrix; a column vector is written as a transposed row, so that it reads across; a number alone."""
    values = np.atleast_2d(values)
    rows, cols = values.shape
    if rows == cols == 1:  # a number, as `array_text` writes it: 0.7, not [0.7]
        return number_latex(float(values[0, 0]), digits)
    column = cols == 1 and rows > 1
    shown = values.T if column else values
    cells = grid(shown.shape[0], shown.shape[1], lambda i, j: number_latex(float(shown[i, j]), digits),
                  (r"\vdots", r"\cdots", r"\ddots"))
    body = r"\left[\begin{matrix}" + r" \\ ".join(" & ".join(row) for row in cells) + r"\end{matrix}\right]"
    body += "^{T}" if column else ""
    return body + (rf"_{{{rows:,} \times {cols:,}}}" if rows * cols > 1 else "")


def array_text(values: np.ndarray, digits: int = 6) -> str:
    """`array_latex` as one line of text: [1, 2, …, 9, 10]ᵀ (10 x 1), rows of a matrix in brackets."""
    values = np.atleast_2d(values)
    rows, cols = values.shape
    column = cols == 1 and rows > 1
    shown = values.T if column else values

    def row(i: int) -> str:
        return "[" + ", ".join("…" if j is None else number(float(shown[i, j]), digits)
                               for j in window(shown.shape[1])) + "]"
    if shown.shape[0] == 1:
        text = row(0) if shown.shape[1] > 1 else number(float(shown[0, 0]), digits)
    else:
        text = "[" + ", ".join("⋮" if i is None else row(i) for i in window(shown.shape[0])) + "]"
    text += "ᵀ" if column else ""
    return text + (f" ({rows:,} x {cols:,})" if rows * cols > 1 else "")


def number_cells(values: np.ndarray) -> list[list[str]]:
    """The shown window of a numeric matrix, each number as LaTeX."""
    values = np.atleast_2d(values)
    return grid(values.shape[0], values.shape[1], lambda i, j: number_latex(float(values[i, j])),
                 (r"\vdots", r"\cdots", r"\ddots"))


def numeric_matrix_latex(values: np.ndarray) -> str:
    return r"\left[\begin{matrix}" + r" \\ ".join(" & ".join(row) for row in number_cells(values)) + \
        r"\end{matrix}\right]"


def numeric_text(values: np.ndarray) -> str:
    if values.shape[0] > SHOWN or values.shape[1] > SHOWN:
        cells = grid(values.shape[0], values.shape[1], lambda i, j: number_text(float(values[i, j])),
                      ("⋮", "…", "⋱"))
        return "\n".join("[" + ", ".join(row) + "]" for row in cells)
    return pretty(sp.Matrix(values.shape[0], values.shape[1], lambda i, j: sp.Symbol(number_text(float(values[i, j])))))


def vector_text(values: np.ndarray, digits: int = 6) -> str:
    """A number, a flat list, or a list of rows for a matrix with several rows, cut to the window."""
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[0] > 1:
        return bracketed(["⋮" if i is None else vector_text(values[i], digits) for i in window(values.shape[0])])
    flat = np.ravel(values)
    return bracketed(["…" if k is None else number(float(flat[k]), digits) for k in window(flat.size)])


def vector_latex(values: np.ndarray) -> str:
    flat = np.ravel(values)
    return bracketed([r"\ldots" if k is None else number_latex(float(flat[k])) for k in window(flat.size)],
                     r"\left[", r"\right]", r",\ ")
