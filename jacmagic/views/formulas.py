"""Symbolic matrices, derivative symbols and points as LaTeX and text, and the rows (a LaTeX line and its text)
that every derivation is made of.

The LaTeX uses only what both MathJax 3 and KaTeX typeset (`matrix`, `\\frac`, `\\partial`, `\\left...\\right`,
`aligned`, `\\operatorname`, `\\text`), so the same output reads right in JupyterLab, Notebook 7, VS Code and Colab;
the text form is sympy's pretty printing, for terminal IPython.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import sympy as sp

from jacmagic.lazy import np
from jacmagic.model import exceeds
from jacmagic.notation import inline, latex, pretty
from jacmagic.views import page
from jacmagic.views.numbers import (
    SHOWN,
    grid,
    number_cells,
    number_latex,
    number_text,
    numeric_matrix_latex,
    vector_text,
    window,
)

if TYPE_CHECKING:
    from jacmagic.symbolic import SymbolicJacobian


# An entry of more than ENTRY_NODES expression nodes is elided, and a matrix is only searched for such entries when
# the whole of it passes TOTAL_NODES.
ENTRY_NODES, TOTAL_NODES = 400, 3_000


@lru_cache(maxsize=4096)
def is_long(entry: sp.Basic) -> bool:
    """Remembered: a big matrix's shown entries are asked about for the LaTeX, the text and the line (issue 27)."""
    return exceeds((entry,), ENTRY_NODES)


def is_big(matrix: sp.MatrixBase) -> bool:
    """Too big to show whole: more than SHOWN rows or columns, or an entry too long to typeset."""
    if matrix.rows > SHOWN or matrix.cols > SHOWN:
        return True
    return _has_long_entries(sp.ImmutableMatrix(matrix))


@lru_cache(maxsize=16)
def _has_long_entries(matrix: sp.ImmutableMatrix) -> bool:
    """Remembered: a display asks for the LaTeX, the text and the fitting of the same matrix (issue 27)."""
    entries = [entry for row in matrix.tolist() for entry in row]  # at once: sympy indexes in microseconds an entry
    return exceeds(entries, TOTAL_NODES) and any(is_long(e) for e in entries)


# MathJax 3 refuses an expression whose TeX passes 5 KB when a macro expands in it ("internal buffer size
# exceeded"; \operatorname is one): every display is cut into blocks below MAX_LATEX, and a matrix is shown in at
# most MAX_MATRIX_LATEX, its longest entries elided first.
MAX_LATEX = 4_000


MAX_MATRIX_LATEX = 3_000


@lru_cache(maxsize=16)
def matrix_cells(matrix: sp.ImmutableMatrix) -> tuple[tuple[tuple[str, ...], ...], int]:
    r"""The LaTeX of each shown entry (the window; entries of over ENTRY_NODES nodes as \cdots; then the longest
    entries as \cdots until the whole fits MAX_MATRIX_LATEX), and how many entries were elided. Printed once
    per matrix: the display and its notes both ask."""
    big = is_big(matrix)
    elided = 0
    rows = matrix.tolist()

    def cell(i: int, j: int) -> str:
        nonlocal elided
        if big and is_long(rows[i][j]):
            elided += 1
            return r"\cdots"
        return latex(rows[i][j])
    cells = grid(matrix.rows, matrix.cols, cell, (r"\vdots", r"\cdots", r"\ddots"))
    entries = [(a, b) for a, i in enumerate(window(matrix.rows)) if i is not None
               for b, j in enumerate(window(matrix.cols)) if j is not None]
    total = sum(len(c) for row in cells for c in row)
    for size, a, b in sorted(((len(cells[a][b]), a, b) for a, b in entries), reverse=True):
        if total <= MAX_MATRIX_LATEX:
            break
        if cells[a][b] != r"\cdots":
            elided += 1
        cells[a][b] = r"\cdots"
        total -= size - len(r"\cdots")
    return tuple(tuple(row) for row in cells), elided


def elided_entries(matrix: sp.MatrixBase) -> int:
    """How many shown entries `matrix_latex` elides (too many terms, or too long to typeset together)."""
    return matrix_cells(sp.ImmutableMatrix(matrix))[1]


def matrix_latex(matrix: sp.MatrixBase) -> str:
    """sympy's LaTeX of a matrix, cut to the shown window and to a size MathJax typesets, before printing; its width
    known from its entries'."""
    return page.matrix(matrix_cells(sp.ImmutableMatrix(matrix))[0])


def matrix_text(matrix: sp.MatrixBase) -> str:
    """sympy's 2-D art of a matrix; one line per shown row for a big one (`text_block` decides whether it fits)."""
    if not is_big(matrix):
        return pretty(matrix)
    rows = matrix.tolist()
    cells = grid(matrix.rows, matrix.cols, lambda i, j: _entry_text(rows[i][j]), ("⋮", "…", "⋱"))
    labels = [f"row {i + 1}" if i is not None else "⋮" for i in window(matrix.rows)]
    return "\n".join(f"{label}: [" + ", ".join(row) + "]" for label, row in zip(labels, cells))


def _entry_text(entry: sp.Basic) -> str:
    """An entry on one line of text, whole ("…" when too long to typeset, as the LaTeX's notes say): a row too
    wide for the text is written entry by entry (`text_block`), never cut."""
    return "…" if is_long(entry) else inline(entry)


def is_zero(entry: sp.Basic) -> bool:
    """`entry == 0`, asked only of a number: sympy's == converts the 0 on every call, and a display asks it of every
    entry (issue 27); an expression that is not a number is never 0 as written."""
    return bool(entry.is_Number and entry == 0)


def matrix_entries(matrix: sp.MatrixBase, name: Callable[[int, int], str]) -> list[tuple[str, str]]:
    """Each shown entry of a symbolic matrix, `name(i, j)` and its whole text ("…" when too long to typeset; a zero
    one unnamed, since it is only counted), for `entry_lines`: a matrix too wide for the text is written entry by
    entry, each entry whole."""
    rows, big = matrix.tolist(), is_big(matrix)  # only a big matrix has entries too long to typeset

    def entry(i: int, j: int) -> tuple[str, str]:
        value = rows[i][j]
        return ("", "0") if is_zero(value) else (name(i, j), "…" if big and is_long(value) else inline(value))
    return [entry(i, j) for i in window(matrix.rows) if i is not None for j in window(matrix.cols) if j is not None]


def matrix_least(matrix: sp.MatrixBase, limit: int) -> int:
    """A lower bound of the width of `matrix_text` without drawing it (sympy's art of a 10 x 10 map costs tens of
    ms): its columns, each as wide as its widest entry, two spaces apart, in brackets; added up only until it
    passes `limit`."""
    if is_big(matrix):
        return 0
    least, rows = 2 * matrix.cols, matrix.tolist()
    for j in range(matrix.cols):
        if least > limit:
            break
        least += max(art_least(row[j]) for row in rows)
    return least


_FUNCTION_NAMES = {sp.sin, sp.cos, sp.tan, sp.sec, sp.csc, sp.cot, sp.sinh, sp.cosh, sp.tanh, sp.coth, sp.log}


@lru_cache(maxsize=4096)
def art_least(expr: sp.Basic) -> int:
    """A lower bound of the width of sympy's 2-D art of `expr`, found without drawing it: a sum's terms side by
    side with their signs, a product's numerator and denominator factors side by side, a power's base with its
    integer exponent, a named function's name and parentheses, ℯ and its exponent; anything else at least as wide as
    its widest argument (a part drawn stacked, a fraction or cases, counts once)."""
    if expr.is_Symbol:
        return len(pretty(expr))
    if expr.is_Integer:
        return len(str(abs(expr.p)))
    if expr.is_Rational:
        return max(len(str(abs(expr.p))), len(str(expr.q)))
    if expr.is_Add:
        return sum(art_least(term) for term in expr.args) + 3 * (len(expr.args) - 1)
    if expr.is_Mul:
        top = bottom = 0
        for factor in expr.args:
            if factor.is_Rational:
                top += len(str(abs(factor.p))) * (abs(factor.p) != 1)
                bottom += len(str(factor.q)) * (factor.q != 1)
            elif factor.is_Pow and factor.exp.is_Rational and factor.exp.p < 0:  # a rational's sign, read
                bottom += art_least(factor.base)
            else:
                top += art_least(factor)
        return max(top, bottom)
    if expr.is_Pow:
        raised = len(str(expr.exp.p)) if expr.exp.is_Integer and expr.exp.p > 0 else 0
        return art_least(expr.base) + raised
    if isinstance(expr, sp.exp):
        return 1 + art_least(expr.args[0])
    if expr.func in _FUNCTION_NAMES:
        return len(expr.func.__name__) + 2 + art_least(expr.args[0])
    if isinstance(expr, sp.Function):
        return max(art_least(argument) for argument in expr.args)
    return 1


# The words of a matrix too wide for a line, in the LaTeX and the text alike.
def too_wide(named: bool = False) -> str:
    return f"(too wide for a line{' even with names' if named else ''}: entry by entry below)"


def zeros_said(zeros: int) -> str:
    return "(the other shown entry is 0)" if zeros == 1 else f"(the other {zeros} shown entries are 0)"


def text_block(label: str, block: Callable[[], str], entries: Sequence[tuple[str, str]], width: int,
               least: int = 0) -> list[str]:
    """The text of a 2-D block (a matrix, a determinant): `drawn` where it fits `width` columns, else `entry_lines`."""
    drawn = fitted_art(label, block, width, least)
    return [drawn] if drawn is not None else entry_lines(label, entries, width)


def fitted_art(label: str, block: Callable[[], str], width: int, least: int = 0) -> str | None:
    """`label` beside sympy's 2-D art `block` where it fits `width` columns (`least`: a lower bound of the art's
    width, known without drawing it), else None: a terminal soft-wraps a wider art line by line into garbage."""
    if len(label) + least > width:
        return None
    drawn = beside(label, block())
    return drawn if max(map(len, drawn.split("\n"))) <= width else None


def entry_lines(label: str, entries: Sequence[tuple[str, str]], width: int, named: bool = False) -> list[str]:
    """As the LaTeX writes a matrix too wide for the page: the shown `entries` one a line, `name = text`, each
    continued under its indent, the zero ones counted (`named`: the matrix has its repeated parts named)."""
    shown = [(name, text) for name, text in entries if text != "0"]
    lines = [label + too_wide(named)] if len(entries) > 1 else []
    lines += [part for name, text in shown for part in text_lines(f"{name} = {text}", width)]
    if len(shown) < len(entries):
        lines.append(zeros_said(len(entries) - len(shown)))
    return lines


# Where a word of math longer than a line may be cut: after a product's dot, a comma or an opening parenthesis.
_BREAKS = re.compile(r"(?<=[·,(])")


def text_lines(line: str, width: int, indent: str = "    ") -> list[str]:
    """`line` cut into lines of at most `width` characters, the later ones under `indent`: between words, a word
    longer than a line after a product's dot, a comma or an opening parenthesis, and where nothing else helps,
    where the width ends."""
    if len(line) <= width:  # what the cutting gives a line that fits, without cutting it into words
        return [line.rstrip()]
    return cut_by_words(line, width, indent)


def cut_by_words(line: str, width: int, indent: str = "    ") -> list[str]:
    """`text_lines`'s cutting, word by word, of any line (a line that fits comes out whole, as one)."""
    lines: list[str] = []
    current = ""
    for word in re.split(r"(?<= )", line):
        for piece in _BREAKS.split(word) if len(word.rstrip()) > width - len(indent) else [word]:
            room = width - (len(indent) if lines else 0)
            if current and len(current + piece.rstrip()) > room:
                lines.append(current.rstrip())
                current, room = piece.lstrip(), width - len(indent)
            else:
                current += piece
            while len(current.rstrip()) > room:
                lines.append(current[:room])
                current, room = current[room:], width - len(indent)
    lines.append(current.rstrip())
    return [part if k == 0 else indent + part for k, part in enumerate(lines)]


def beside(label: str, block: str) -> str:
    """`label` to the left of a multi-line pretty block, on its middle line."""
    rows = block.split("\n")
    middle = len(rows) // 2
    pad = " " * len(label)
    return "\n".join((label if k == middle else pad) + row for k, row in enumerate(rows))


def _shown_names(symbols: Sequence[sp.Symbol], show: Callable[[sp.Symbol], str], dots: str) -> str:
    """All the names, or for long lists the first three and the last."""
    if len(symbols) <= SHOWN:
        return ", ".join(show(s) for s in symbols)
    return ", ".join([*(show(s) for s in symbols[:3]), dots, show(symbols[-1])])


def _names_latex(symbols: Sequence[sp.Symbol]) -> str:
    return _shown_names(symbols, latex, r"\ldots")


def _names_text(symbols: Sequence[sp.Symbol]) -> str:
    return _shown_names(symbols, pretty, "…")


Row = tuple[str, str]  # one line of a derivation, as (LaTeX, text); text "" when the LaTeX line has no own text


# LaTeX's special characters and how `\\text{...}` writes them.
TEXT_ESCAPES = (("\\", r"\backslash "), ("{", r"\{"), ("}", r"\}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"),
                ("#", r"\#"), ("$", r"\$"), ("^", r"\^{}"), ("~", r"\~{}"))


def text_latex(text: str) -> str:
    """Plain words as `\\text{...}`, LaTeX's special characters escaped: a row of words (`words_line`), or a one-word
    label inside a formula ("upstream" under a brace); never a sentence inside a formula."""
    for char, escaped in TEXT_ESCAPES:
        text = text.replace(char, escaped)
    return rf"\text{{{text}}}"


def words_line(words: str, indent: bool = False) -> str:
    """The LaTeX of a row that is only words (a note, a size, a reading): every view shows such a row outside the
    math, as text that wraps with the page (displays.words reads it back); `indent` places it under the formula
    above it."""
    return (r"&\phantom{=}\;" if indent else "&") + text_latex(words)


def derivative_symbol(outputs: Sequence[sp.Symbol], inputs: Sequence[sp.Symbol], form: str = "latex") -> str:
    """d(outputs)/d(inputs), as LaTeX (a fraction) or text (∂f/∂x): of a result, a stage, or one variable."""
    if form == "latex":
        top = latex(outputs[0]) if len(outputs) == 1 else rf"\left({_names_latex(outputs)}\right)"
        bottom = latex(inputs[0]) if len(inputs) == 1 else rf"\left({_names_latex(inputs)}\right)"
        return page.fraction((r"\partial ", top), (r"\partial ", bottom))
    top = pretty(outputs[0]) if len(outputs) == 1 else f"({_names_text(outputs)})"
    bottom = pretty(inputs[0]) if len(inputs) == 1 else f"({_names_text(inputs)})"
    return f"∂{top}/∂{bottom}"


def _given_point(result: SymbolicJacobian, point: Mapping[str, float]) -> list[tuple[str, Any]]:
    """The point as the user typed it (pi/2 stays pi/2, a matrix stays one value) when it is the --at point."""
    if result.options.at and dict(result.point) == dict(point):
        return list(result.options.at)
    return list(point.items())


def _point_items(result: SymbolicJacobian, point: Mapping[str, float]) -> list[str]:
    def shown(value: Any) -> str:
        if isinstance(value, sp.Basic) and not value.is_Float:
            return latex(value)
        if np.ndim(value) > 0:
            return numeric_matrix_latex(np.asarray(value, dtype=float))
        return number_latex(float(value))
    return [f"{latex(sp.Symbol(name))} = {shown(value)}" for name, value in _given_point(result, point)]


def point_latex(result: SymbolicJacobian, point: Mapping[str, float]) -> str:
    return r",\ ".join(_point_items(result, point))


def point_rows(lead: str, result: SymbolicJacobian, point: Mapping[str, float], text: str = "") -> list[Row]:
    """The words `lead` (the terminal's `text`) on a row of their own, then the point's values, over as many lines
    of the page as they need."""
    lines = page.packed(_point_items(result, point))
    return [(words_line(lead), text), *((rf"&\quad {line}", "") for line in lines)]


def at_point(symbol: str, where: str, values: np.ndarray, before: str = "") -> list[str]:
    """symbol|_point = before [values]; where the point makes the line too wide for the page, the symbol alone (the
    point is then said on lines of its own above), and where the numbers are, their columns continued below."""
    shown = number_latex(float(values)) if np.ndim(values) == 0 else numeric_matrix_latex(values)
    row = rf"{symbol}\,\Big|_{{{where}}} &= {before}{shown}"
    if page.fits(row):
        return [row]
    if np.ndim(values) == 0:
        return [rf"{symbol} &= {before}{shown}"]
    return _wide_numbers(rf"{symbol} &= {before}", values)


def point_text(result: SymbolicJacobian, point: Mapping[str, float]) -> str:
    def shown(value: Any) -> str:
        if isinstance(value, sp.Basic) and not value.is_Float:
            return inline(value)
        return vector_text(np.asarray(value, dtype=float)) if np.ndim(value) > 0 else number_text(float(value))
    return ", ".join(f"{pretty(sp.Symbol(name))} = {shown(value)}" for name, value in _given_point(result, point))


def rows_said(lines: list[str], text: str) -> list[Row]:
    """LaTeX lines as rows, the text said once, with the first."""
    return [(line, text if k == 0 else "") for k, line in enumerate(lines)]


def _wide_numbers(lead: str, values: np.ndarray) -> list[str]:
    """lead [numbers], the shown columns split over as many lines as the page needs, the brackets left open
    between them (a matrix continued on the next line)."""
    columns = list(zip(*number_cells(values)))

    def body(chunk: list[tuple[str, ...]]) -> str:
        return r"\begin{matrix}" + r" \\ ".join(" & ".join(row) for row in zip(*chunk)) + r"\end{matrix}"
    chunks: list[list[tuple[str, ...]]] = []
    for column in columns:
        opening = lead.replace("&", "") if len(chunks) <= 1 else r"\quad"
        if chunks and page.fits(rf"{opening} \left[{body([*chunks[-1], column])}\right."):
            chunks[-1].append(column)
        else:
            chunks.append([column])
    last = len(chunks) - 1
    lines = [(r"\left[" if k == 0 else r"\left.") + body(chunk) + (r"\right]" if k == last else r"\right.")
             for k, chunk in enumerate(chunks)]
    return [lead + lines[0], *(rf"&\quad {line}" for line in lines[1:])]
