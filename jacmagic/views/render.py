"""Result -> LaTeX and plain text: pure functions of their inputs.

The LaTeX uses only what both MathJax 3 and KaTeX typeset (`matrix`, `\\frac`, `\\partial`, `\\left...\\right`,
`aligned`, `\\operatorname`, `\\text`), so the same output reads right in JupyterLab, Notebook 7, VS Code and Colab;
the text form is sympy's pretty printing, for terminal IPython.
"""

from __future__ import annotations

import math
import shutil
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp

from jacmagic.chain.abbreviate import Abbreviations, abbreviated
from jacmagic.model import exceeds
from jacmagic.notation import inline, latex, pretty
from jacmagic.views import page

if TYPE_CHECKING:
    from jacmagic.chain.backprop import Contribution, Walkthrough
    from jacmagic.result import JacobianResult


# Wider than this, a 2-D pretty matrix wraps into an unreadable mess (and costs most of the render time).
_PRETTY_WIDTH = 100
# A matrix with more rows or columns than SHOWN shows its first HEAD and last TAIL of them, with ellipses: what
# MathJax typesets in about a second. An entry of more than ENTRY_NODES expression nodes is elided, and a matrix
# is only searched for such entries when the whole of it passes TOTAL_NODES.
SHOWN, HEAD, TAIL = 12, 8, 2
ENTRY_NODES, TOTAL_NODES = 400, 3_000
_TEXT_ENTRY = 60


def window(count: int) -> list[int | None]:
    """The indices shown of `count` rows or columns; None stands for the elided middle."""
    if count <= SHOWN:
        return list(range(count))
    return [*range(HEAD), None, *range(count - TAIL, count)]


def _grid(rows: int, cols: int, cell: Callable[[int, int], str], dots: tuple[str, str, str]) -> list[list[str]]:
    """Cells of the shown window; `dots` fills the elided row, column and corner."""
    return [[dots[2] if i is None and j is None else dots[0] if i is None else dots[1] if j is None else cell(i, j)
             for j in window(cols)] for i in window(rows)]


def _long(entry: sp.Basic) -> bool:
    return exceeds((entry,), ENTRY_NODES)


def is_big(matrix: sp.MatrixBase) -> bool:
    """Too big to show whole: more than SHOWN rows or columns, or an entry too long to typeset."""
    if matrix.rows > SHOWN or matrix.cols > SHOWN:
        return True
    return exceeds(matrix, TOTAL_NODES) and any(_long(e) for e in matrix)


# MathJax 3 refuses an expression whose TeX passes 5 KB when a macro expands in it ("internal buffer size
# exceeded"; \operatorname is one): every display is cut into blocks below MAX_LATEX, and a matrix is shown in at
# most MAX_MATRIX_LATEX, its longest entries elided first.
MAX_LATEX = 4_000
MAX_MATRIX_LATEX = 3_000


@lru_cache(maxsize=16)
def _matrix_cells(matrix: sp.ImmutableMatrix) -> tuple[tuple[tuple[str, ...], ...], int]:
    r"""The LaTeX of each shown entry (the window; entries of over ENTRY_NODES nodes as \cdots; then the longest
    entries as \cdots until the whole fits MAX_MATRIX_LATEX), and how many entries were elided. Printed once
    per matrix: the display and its notes both ask."""
    big = is_big(matrix)
    elided = 0

    def cell(i: int, j: int) -> str:
        nonlocal elided
        if big and _long(matrix[i, j]):
            elided += 1
            return r"\cdots"
        return latex(matrix[i, j])
    cells = _grid(matrix.rows, matrix.cols, cell, (r"\vdots", r"\cdots", r"\ddots"))
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


def _entry_rows(result: JacobianResult, matrix: sp.ImmutableMatrix) -> list[Row]:
    """The shown entries of a wide Jacobian (`matrix`, its repeated parts perhaps named) one per line,
    ∂f_i/∂x_j = ..., the identically zero ones left out and said."""
    cells = _matrix_cells(matrix)[0]
    rows: list[Row] = []
    zeros = 0
    for a, i in enumerate(window(matrix.rows)):
        for b, j in enumerate(window(matrix.cols)):
            if i is None or j is None:
                continue
            if matrix[i, j] == 0:
                zeros += 1
                continue
            symbol = derivative_symbol((result.outputs[i],), (result.inputs[j],))
            rows += ([(rf"{symbol} &= {cells[a][b]}", "")] if cells[a][b] == r"\cdots"
                     else _broken_rows(symbol, matrix[i, j], cells[a][b]))
    if zeros:
        rows.append((r"&" + text_latex(f"(the other {zeros} shown entries are 0)"), ""))
    return rows


def _shown_matrix(result: JacobianResult, lead: str) -> tuple[sp.ImmutableMatrix, Abbreviations]:
    """The Jacobian as shown after `lead`: whole where it fits the page, else with its repeated parts named
    (`abbreviate`), as a matrix if that fits and else entry by entry, and the names."""
    assert result.eager_matrix is not None
    if page.fits(lead + matrix_latex(result.eager_matrix)) or is_big(result.eager_matrix):
        return result.eager_matrix, ()
    short = abbreviated(result.eager_matrix, result.model)
    return short.matrix, short.names


def _where_rows(names: Abbreviations) -> list[Row]:
    """"where u = ..., σ = σ(u)" under the matrix, in the order they build on each other, over as many lines as
    the page needs; the text on one line."""
    if not names:
        return []
    lines = page.packed([(r"\text{where}\ " if k == 0 else "") + rf"{latex(symbol)} = {latex(definition)}"
                         for k, (symbol, definition) in enumerate(names)], r",\quad ")
    lines = [part for line in lines for part in (_unaligned(line, names) if not page.fits(line) else [line])]
    said = "where " + ", ".join(f"{inline(symbol)} = {inline(definition)}" for symbol, definition in names)
    return [(r"&\phantom{=}\;" + line, said if k == 0 else "") for k, line in enumerate(lines)]


def _unaligned(line: str, names: Abbreviations) -> list[str]:
    """A definition too wide for the page alone on its line (as `packed` leaves it), continued over lines."""
    symbol, definition = next((s, d) for s, d in names if line.endswith(latex(d)))
    lead = line[:len(line) - len(latex(definition))].removesuffix(" = ")
    return [part.replace(" &= ", " = ", 1).replace(r"&\quad ", r"\qquad ", 1)
            for part in page.broken(lead, definition, latex)]


def _broken_rows(lhs: str, expression: sp.Expr, whole: str | None = None) -> list[Row]:
    """lhs = expression, continued over lines of the page where it is too wide for one."""
    return [(line, "") for line in page.broken(lhs, expression, latex, whole)]


def elided_entries(matrix: sp.MatrixBase) -> int:
    """How many shown entries `matrix_latex` elides (too many terms, or too long to typeset together)."""
    return _matrix_cells(sp.ImmutableMatrix(matrix))[1]


def matrix_latex(matrix: sp.MatrixBase) -> str:
    """sympy's LaTeX of a matrix, cut to the shown window and to a size MathJax typesets, before printing."""
    cells = _matrix_cells(sp.ImmutableMatrix(matrix))[0]
    return r"\left[\begin{matrix}" + r" \\ ".join(" & ".join(row) for row in cells) + r"\end{matrix}\right]"


def matrix_text(matrix: sp.MatrixBase) -> str:
    """2-D pretty printing where it fits a terminal, else one line per shown row."""
    if is_big(matrix):
        def cell(i: int, j: int) -> str:
            text = "…" if _long(matrix[i, j]) else inline(matrix[i, j])
            return text if len(text) <= _TEXT_ENTRY else text[:_TEXT_ENTRY] + "…"
        cells = _grid(matrix.rows, matrix.cols, cell, ("⋮", "…", "⋱"))
        labels = [f"row {i + 1}" if i is not None else "⋮" for i in window(matrix.rows)]
        return "\n".join(f"{label}: [" + ", ".join(row) + "]" for label, row in zip(labels, cells))
    entries = [[inline(e) for e in row] for row in matrix.tolist()]
    if max(sum(len(e) + 2 for e in row) for row in entries) <= _PRETTY_WIDTH:
        return pretty(matrix)
    return "\n".join(f"row {i + 1}: [" + ", ".join(row) + "]" for i, row in enumerate(entries))


def matrix_line(matrix: sp.MatrixBase) -> str:
    """A symbolic matrix on one line of text, cut to the window, long entries shortened."""
    def cell(i: int, j: int) -> str:
        text = "…" if _long(matrix[i, j]) else inline(matrix[i, j])
        return text if len(text) <= _TEXT_ENTRY else text[:_TEXT_ENTRY] + "…"
    rows = _grid(matrix.rows, matrix.cols, cell, ("⋮", "…", "⋱"))
    return "[" + ", ".join("[" + ", ".join(row) + "]" for row in rows) + "]"


def view_notes(result: JacobianResult) -> list[str]:
    """What the display leaves out, said once, in the LaTeX and the text alike."""
    matrix = result.eager_matrix
    if matrix is None:
        return []
    notes = []
    m, n = matrix.shape
    if m > SHOWN or n > SHOWN:
        notes.append(f"showing {len(window(m)) - (m > SHOWN)} of {m} rows and {len(window(n)) - (n > SHOWN)} of "
                     f"{n} columns; the whole matrix is result.matrix")
    elided = elided_entries(matrix)
    if elided:
        notes.append(f"{elided} shown entries are too long to typeset here and appear as ...; they are in "
                     "result.matrix")
    return notes


def _shown_names(symbols: Sequence[sp.Symbol], show: Callable[[sp.Symbol], str], dots: str) -> str:
    """All the names, or for long lists the first three and the last."""
    if len(symbols) <= SHOWN:
        return ", ".join(show(s) for s in symbols)
    return ", ".join([*(show(s) for s in symbols[:3]), dots, show(symbols[-1])])


def _names_latex(symbols: Sequence[sp.Symbol]) -> str:
    return _shown_names(symbols, latex, r"\ldots")


def _names_text(symbols: Sequence[sp.Symbol]) -> str:
    return _shown_names(symbols, pretty, "…")


# LaTeX's special characters and how `\\text{...}` writes them.
TEXT_ESCAPES = (("\\", r"\backslash "), ("{", r"\{"), ("}", r"\}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"),
                ("#", r"\#"), ("$", r"\$"), ("^", r"\^{}"), ("~", r"\~{}"))


def text_latex(text: str) -> str:
    """Plain words inside math: `\\text{...}` with LaTeX's special characters escaped."""
    for char, escaped in TEXT_ESCAPES:
        text = text.replace(char, escaped)
    return rf"\text{{{text}}}"


def derivative_symbol(outputs: Sequence[sp.Symbol], inputs: Sequence[sp.Symbol], form: str = "latex") -> str:
    """d(outputs)/d(inputs), as LaTeX (a fraction) or text (∂f/∂x): of a result, a stage, or one variable."""
    if form == "latex":
        top = latex(outputs[0]) if len(outputs) == 1 else rf"\left({_names_latex(outputs)}\right)"
        bottom = latex(inputs[0]) if len(inputs) == 1 else rf"\left({_names_latex(inputs)}\right)"
        return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"
    top = pretty(outputs[0]) if len(outputs) == 1 else f"({_names_text(outputs)})"
    bottom = pretty(inputs[0]) if len(inputs) == 1 else f"({_names_text(inputs)})"
    return f"∂{top}/∂{bottom}"


def layout_words(result: JacobianResult) -> str:
    """The layout said in words once, because texts disagree on it."""
    m, n = result.shape
    if m == 1:
        return f"the gradient as a row, 1 x {n}: one column per input"
    return f"{m} x {n}, rows: outputs, columns: inputs"


def _partials_latex(result: JacobianResult) -> str:
    """The textbook definition: entry (i, j) is the symbol d f_i / d x_j (cut to the window like the rest)."""
    outs, ins = result.outputs, result.inputs
    cells = _grid(len(outs), len(ins), lambda i, j: rf"\frac{{\partial {latex(outs[i])}}}{{\partial {latex(ins[j])}}}",
                  (r"\vdots", r"\cdots", r"\ddots"))
    return r"\left[\begin{matrix}" + r" \\ ".join(" & ".join(row) for row in cells) + r"\end{matrix}\right]"


def _partials_text(result: JacobianResult) -> str:
    outs, ins = result.outputs, result.inputs
    cells = _grid(len(outs), len(ins), lambda i, j: f"∂{pretty(outs[i])}/∂{pretty(ins[j])}", ("⋮", "…", "⋱"))
    return "\n".join("[" + ", ".join(row) + "]" for row in cells)


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
    vector and matrix; a column vector is written as a transposed row, so that it reads across."""
    values = np.atleast_2d(values)
    rows, cols = values.shape
    column = cols == 1 and rows > 1
    shown = values.T if column else values
    cells = _grid(shown.shape[0], shown.shape[1], lambda i, j: number_latex(float(shown[i, j]), digits),
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


def _number_cells(values: np.ndarray) -> list[list[str]]:
    """The shown window of a numeric matrix, each number as LaTeX."""
    values = np.atleast_2d(values)
    return _grid(values.shape[0], values.shape[1], lambda i, j: number_latex(float(values[i, j])),
                 (r"\vdots", r"\cdots", r"\ddots"))


def _numeric_matrix_latex(values: np.ndarray) -> str:
    return r"\left[\begin{matrix}" + r" \\ ".join(" & ".join(row) for row in _number_cells(values)) + \
        r"\end{matrix}\right]"


def _given_point(result: JacobianResult, point: Mapping[str, float]) -> list[tuple[str, Any]]:
    """The point as the user typed it (pi/2 stays pi/2, a matrix stays one value) when it is the --at point."""
    if result.options.at and dict(result.point) == dict(point):
        return list(result.options.at)
    return list(point.items())


def _point_items(result: JacobianResult, point: Mapping[str, float]) -> list[str]:
    def shown(value: Any) -> str:
        if isinstance(value, sp.Basic) and not value.is_Float:
            return latex(value)
        if np.ndim(value) > 0:
            return _numeric_matrix_latex(np.asarray(value, dtype=float))
        return number_latex(float(value))
    return [f"{latex(sp.Symbol(name))} = {shown(value)}" for name, value in _given_point(result, point)]


def _point_latex(result: JacobianResult, point: Mapping[str, float]) -> str:
    return r",\ ".join(_point_items(result, point))


def _point_rows(lead: str, result: JacobianResult, point: Mapping[str, float]) -> list[str]:
    """Words, then the point's values, over as many lines of the page as they need."""
    lines = page.packed([text_latex(lead) + item if k == 0 else item
                         for k, item in enumerate(_point_items(result, point))])
    return [r"&" + lines[0], *(rf"&\quad {line}" for line in lines[1:])]


def _at(symbol: str, where: str, values: np.ndarray, before: str = "") -> list[str]:
    """symbol|_point = before [values]; where the point makes the line too wide for the page, the symbol alone (the
    point is then said on lines of its own above), and where the numbers are, their columns continued below."""
    shown = number_latex(float(values)) if np.ndim(values) == 0 else _numeric_matrix_latex(values)
    row = rf"{symbol}\,\Big|_{{{where}}} &= {before}{shown}"
    if page.fits(row):
        return [row]
    if np.ndim(values) == 0:
        return [rf"{symbol} &= {before}{shown}"]
    return _wide_numbers(rf"{symbol} &= {before}", values)


def _point_text(result: JacobianResult, point: Mapping[str, float]) -> str:
    def shown(value: Any) -> str:
        if isinstance(value, sp.Basic) and not value.is_Float:
            return inline(value)
        return vector_text(np.asarray(value, dtype=float)) if np.ndim(value) > 0 else number_text(float(value))
    return ", ".join(f"{pretty(sp.Symbol(name))} = {shown(value)}" for name, value in _given_point(result, point))


def _spoken(lines: list[str], text: str) -> list[Row]:
    """LaTeX lines as rows, the text said once, with the first."""
    return [(line, text if k == 0 else "") for k, line in enumerate(lines)]


def _wide_numbers(lead: str, values: np.ndarray) -> list[str]:
    """lead [numbers], the shown columns split over as many lines as the page needs, the brackets left open
    between them (a matrix continued on the next line)."""
    columns = list(zip(*_number_cells(values)))

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


def _det_latex(result: JacobianResult) -> str:
    det = result.symbolic_det
    if det is None:
        return r"\det\left(J\right) \text{ (too large to expand)}"
    return text_latex("(too long to typeset: see result.det)") if _long(det) else latex(det)


Row = tuple[str, str]  # one line of a derivation, as (LaTeX, text); text "" when the LaTeX line has no own text


def result_groups(result: JacobianResult, walkthrough: bool = True) -> list[list[Row]]:
    """Everything a result shows, as groups of rows: the Jacobian and what goes with it, the Hessians, each
    step of the walkthrough (unless a panel holds it), the notes. Each group becomes one display (or several,
    cut to MAX_LATEX)."""
    symbol, words = derivative_symbol(result.outputs, result.inputs), derivative_symbol(result.outputs,
                                                                                         result.inputs, "text")
    first, text = rf"J = {symbol} &= ", [f"J = {words}   ({layout_words(result)})"]
    if result.options.partials:
        first += _partials_latex(result) + " = "
        text.append(_beside("J = ", _partials_text(result)))
    entries: list[Row] = []
    continued: list[Row] = []
    names: Abbreviations = ()
    if result.eager_matrix is not None:
        matrix, names = _shown_matrix(result, first.replace("&", ""))
        text.append(_beside("J = ", matrix_text(matrix)))
        shown = matrix_latex(matrix)
        if page.fits(first.replace("&", "") + shown):
            first += shown
        elif max(result.eager_matrix.shape) > SHOWN and page.fits(shown):  # a window: a display of its own
            continued = [(rf"&{shown}", "")]
        else:  # too wide for one line of the page, even with its repeated parts named: one entry per line
            named = " even with names" if names else ""
            first += text_latex(f"(too wide for a line{named}: entry by entry below)")
            entries = _entry_rows(result, matrix)
    else:
        first += text_latex("(too large to write out: built stage by stage below)")
        text.append("J = (too large to write out: built stage by stage below)")
    header: list[Row] = [(first, "\n".join(text)), *_where_rows(names),
                         (r"&\phantom{=}\;" + text_latex(f"({layout_words(result)})"), ""), *entries]
    if result.options.det:
        det = result.symbolic_det
        shown_det = ("det(J) (too large to expand)" if det is None
                     else "(too long to print: see result.det)" if _long(det) else pretty(det))
        det_rows = (_broken_rows(r"\det J", det) if det is not None and not _long(det)
                    else [(rf"\det J &= {_det_latex(result)}", "")])
        header += [(det_rows[0][0], _beside("det J = ", shown_det)), *det_rows[1:]]
    if result.point:
        where, spoken = _point_latex(result, dict(result.point)), _point_text(result, dict(result.point))
        values = result.shown_at_point
        rows = _at("J", where, values)
        if r"\Big|" not in rows[0]:
            header += [(line, "") for line in _point_rows("at ", result, dict(result.point))]
        header += _spoken(rows, _beside(f"J at {spoken} = ", _numeric_text(values)))
        if result.options.det:
            det_value = float(result.det_at(values))
            header += _spoken(_at(r"\det J", where, np.array(det_value)),
                              f"det J at {spoken} = {number_text(det_value)}")
    groups = [*([header[:1], continued, header[1:]] if continued else [header]),
              list(zip(hessian_latex(result), hessian_text(result)))]
    if result.chain and walkthrough:
        groups += chain_groups(result)
    groups.append([(r"&" + text_latex(note), f"note: {note}") for note in [*view_notes(result), *result.notes]])
    return [group for group in groups if group]


def _beside(label: str, block: str) -> str:
    """`label` to the left of a multi-line pretty block, on its middle line."""
    rows = block.split("\n")
    middle = len(rows) // 2
    pad = " " * len(label)
    return "\n".join((label if k == middle else pad) + row for k, row in enumerate(rows))


def _terminal_width() -> int | None:
    """The terminal's width when the text goes to one (COLUMNS, else the terminal's own size), None for a file
    or a pipe."""
    if sys.__stdout__ is not None and sys.__stdout__.isatty():
        return shutil.get_terminal_size().columns
    return None


def to_text(result: JacobianResult) -> str:
    """The whole result as readable text for a terminal: sympy's pretty printing."""
    return wrapped("\n".join(text for group in result_groups(result) for _, text in group if text))


def wrapped(text: str, width: int | None = None) -> str:
    """Lines wider than the terminal continued on lines of their own under their indent; a matrix drawn over
    several lines (sympy's 2-D art) is left whole, since cutting it would scramble it. Text going to a file or a
    pipe (no terminal, no COLUMNS) is left as it is, one line per line, for programs that read it."""
    width = width or _terminal_width()
    if width is None:
        return text
    width = max(width, 40)
    lines: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width or any(bracket in line for bracket in "⎡⎢⎣"):
            lines.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip()))
        lines += textwrap.wrap(line, width, subsequent_indent=indent + "    ", break_long_words=False,
                               break_on_hyphens=False)
    return "\n".join(lines)


def _numeric_text(values: np.ndarray) -> str:
    if values.shape[0] > SHOWN or values.shape[1] > SHOWN:
        cells = _grid(values.shape[0], values.shape[1], lambda i, j: number_text(float(values[i, j])),
                      ("⋮", "…", "⋱"))
        return "\n".join("[" + ", ".join(row) + "]" for row in cells)
    return pretty(sp.Matrix(values.shape[0], values.shape[1], lambda i, j: sp.Symbol(number_text(float(values[i, j])))))


def _hessian_words(result: JacobianResult) -> str:
    n = len(result.inputs)
    symmetric = ("symmetric: the mixed partials agree, checked" if result.hessians_symmetric else
                 "NOT symmetric: a second derivative is discontinuous somewhere (a kink or a step)")
    return f"({n} x {n}, entry (j, k) = the second derivative by the j-th and k-th variable; {symmetric})"


Reading = tuple[np.ndarray, np.ndarray, str]  # a Hessian's values at a point, its eigenvalues, what they say


def _hessians(result: JacobianResult) -> list[tuple[sp.Symbol, sp.ImmutableMatrix, Reading | None]]:
    """Per output in the window (as rows of a matrix are), its Hessian and, at the --at point, its values,
    eigenvalues and what they say (none without --hessian)."""
    shown = [k for k in window(len(result.hessians)) if k is not None]
    if not result.hessians or not result.point:
        return [(result.outputs[k], result.hessians[k], None) for k in shown]
    from jacmagic.chain.evaluate import curvature

    point = result.point_values(dict(result.point))
    gradients = result.at(**dict(result.point))
    values = result.hessians_at(point, gradients)
    return [(result.outputs[k], result.hessians[k], (values[k], *curvature(values[k], gradients[k],
                                                                             point[:len(result.inputs)])))
            for k in shown]


def _hessians_elided(result: JacobianResult) -> str:
    """Which Hessians are left out of a long list, in words ("" when all are shown)."""
    count = len(result.hessians)
    if count <= SHOWN:
        return ""
    return (f"the Hessians of {HEAD + TAIL} of {count} outputs are shown ({HEAD} first, {TAIL} last); "
            "result.hessian and result.hessian_at give them all")


def hessian_latex(result: JacobianResult) -> list[str]:
    """`--hessian`: each output's Hessian, and at the point its values, eigenvalues and reading."""
    where = _point_latex(result, dict(result.point))
    lines = []
    for output, hessian, reading in _hessians(result):
        symbol = rf"\nabla^2 {latex(output)}"
        lines += [rf"{symbol} &= {matrix_latex(hessian)}", r"&\phantom{=}\;" + text_latex(_hessian_words(result))]
        if reading:
            values, eigenvalues, words = reading
            lines += [*_at(symbol, where, values),
                      rf"&\lambda = {_vector_latex(eigenvalues)}:", r"&" + text_latex(words)]
    if elided := _hessians_elided(result):
        lines.append(r"&" + text_latex(elided))
    return lines


def hessian_text(result: JacobianResult) -> list[str]:
    where = _point_text(result, dict(result.point))
    parts = []
    for output, hessian, reading in _hessians(result):
        symbol = f"∇²{pretty(output)}"
        parts += [_beside(f"{symbol} = ", matrix_text(hessian)), _hessian_words(result)]
        if reading:
            values, eigenvalues, words = reading
            parts += [_beside(f"{symbol} at {where} = ", _numeric_text(values)),
                      f"eigenvalues {vector_text(eigenvalues)}: {words}", ""]
    return parts + [elided] if (elided := _hessians_elided(result)) else parts


DIRECTION = ("reverse mode, from the output back: each step multiplies",
             "the upstream gradient (a row per output) by the stage's local Jacobian J",
             "(rows: the stage's outputs, columns: its inputs;",
             "some texts, e.g. PyTorch's tutorial, write J transposed)")
FORWARD = ("forward mode, from the inputs on: each step multiplies the stage's local Jacobian J",
           "by the tangents of its inputs (a row per input of the stage, a column per direction:",
           "how that value changes as the map's inputs move along the direction)")


def directions_words(result: JacobianResult) -> str:
    """Which directions the forward pass follows, in words."""
    if not result.options.direction:
        return (f"one direction per input ({len(result.inputs)} passes side by side, the columns of the identity), "
                "so the tangents of the outputs are the whole Jacobian")
    given = ", ".join(f"{name} = {vector_text(np.asarray(value, dtype=float))}" for name, value in
                      result.options.direction)
    return f"one direction, {given} (every other input 0): the tangents of the outputs are J times it"


def vector_text(values: np.ndarray, digits: int = 6) -> str:
    """A number, a flat list, or a list of rows for a matrix with several rows, cut to the window."""
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[0] > 1:
        return bracketed(["⋮" if i is None else vector_text(values[i], digits) for i in window(values.shape[0])])
    flat = np.ravel(values)
    return bracketed(["…" if k is None else number(float(flat[k]), digits) for k in window(flat.size)])


def _vector_latex(values: np.ndarray) -> str:
    flat = np.ravel(values)
    return bracketed([r"\ldots" if k is None else number_latex(float(flat[k])) for k in window(flat.size)],
                     r"\left[", r"\right]", r",\ ")


def contribution(c: Contribution, show: Callable[[np.ndarray], str]) -> str:
    """What a backward step adds to one gradient, in every view: before + added = after (or just after)."""
    return f"{show(c.before)} + {show(c.added)} = {show(c.after)}" if np.any(c.before) else show(c.after)


def chain_groups(result: JacobianResult) -> list[list[Row]]:
    """The walkthrough: the forward values, then one group per step of each mode asked for, and the cost."""
    walk = result.walkthrough()
    where, spoken = _point_latex(result, walk.point), _point_text(result, walk.point)
    values = r",\ ".join(f"{latex(sp.Symbol(s.name))} = {_vector_latex(v)}"
                         for s, v in zip(result.chain, walk.forward))
    said = _point_rows("forward pass at ", result, walk.point)
    groups = [[(said[0], f"forward pass at {spoken}:"), *((line, "") for line in said[1:]),
               (rf"&\quad {values}", "  " + ", ".join(f"{s.name} = {vector_text(v)}"
                                                     for s, v in zip(result.chain, walk.forward)))]]
    if result.options.mode != "forward":
        groups += _reverse_groups(result, walk, where)
    if walk.forward_pass is not None:
        groups += _forward_groups(result, walk, where, spoken)
    groups.append([(r"&" + text_latex(f"(cost: {cost_words(result)})"), f"cost: {cost_words(result)}")])
    return groups


def _said(parts: Sequence[str], heading: str) -> list[Row]:
    """Words over several LaTeX lines, and as one line of text."""
    return [(r"&" + text_latex(part), heading if k == 0 else "") for k, part in enumerate(parts)]


def _reverse_groups(result: JacobianResult, walk: Walkthrough, where: str) -> list[list[Row]]:
    groups = [_said(DIRECTION, f"backward pass ({' '.join(DIRECTION)}):")]
    for k, back in enumerate(walk.backward, start=1):
        step = back.step
        upstream, spoken = _numeric_matrix_latex(back.upstream), vector_text(back.upstream)
        symbol = derivative_symbol(step.outputs, step.inputs)
        rows: list[Row] = [
            (rf"\text{{step {k} ({step.name}): }} \underbrace{{{upstream}}}_{{\text{{upstream}}}} \cdot {symbol} &= "
             rf"{upstream} \cdot {matrix_latex(step.matrix)}",
             f"  step {k}: {step.name} (line {step.line}): upstream {spoken} · "
             f"{derivative_symbol(step.outputs, step.inputs, 'text')} = {spoken} · {matrix_line(step.matrix)} = "
             f"{spoken} · {vector_text(back.local)} = {vector_text(back.product)}"),
            (rf"&= {upstream} \cdot {_numeric_matrix_latex(back.local)} = {_numeric_matrix_latex(back.product)}",
             "")]
        rows += [(rf"&\qquad {derivative_symbol(result.outputs, (c.symbol,))} = {contribution(c, _vector_latex)}",
                  f"    {derivative_symbol(result.outputs, (c.symbol,), 'text')} = {contribution(c, vector_text)}")
                 for c in back.contributions]
        groups.append(rows)
    done: list[Row] = [
        *_spoken(_at("J", where, walk.gradient),
                 f"J = {vector_text(walk.gradient)}: the product of the local Jacobians; {walk.verdict}"),
        (r"&" + text_latex(f"(the product of the local Jacobians; {walk.verdict})"), "")]
    done += [(rf"{derivative_symbol((output,), (sp.Symbol(shape.name),))} &= {_numeric_matrix_latex(grid)}\ "
              + text_latex(f"(in the shape of {shape.name}, {shape.rows} x {shape.cols})"),
              f"{derivative_symbol((output,), (sp.Symbol(shape.name),), 'text')} = {vector_text(grid)} "
              f"(in the shape of {shape.name}, {shape.rows} x {shape.cols})") for output, shape, grid in walk.shaped]
    return groups + [done]


def cost_words(result: JacobianResult) -> str:
    """What each mode costs for this chain, and for a --direction what forward mode needs for it alone."""
    return result.cost.words(result.directions.shape[1] if result.options.direction else 0)


def tangent_latex(symbols: Sequence[sp.Symbol]) -> str:
    r"""The tangents of values, dotted as in the automatic-differentiation literature: \dot{h}."""
    return bracketed([rf"\dot{{{latex(s)}}}" for s in symbols], r"\left(", r"\right)", ", ")


def tangent_text(symbols: Sequence[sp.Symbol]) -> str:
    return bracketed([_dotted(pretty(s)) for s in symbols], "(", ")")


def _dotted(name: str) -> str:
    """ḣ₁: a combining dot over the first letter of a name, as the tangent of that value."""
    return name[0] + "\u0307" + name[1:]


def _forward_groups(result: JacobianResult, walk: Walkthrough, where: str, spoken: str) -> list[list[Row]]:
    assert walk.forward_pass is not None
    groups = [_said([*FORWARD, f"({directions_words(result)})"], f"{' '.join(FORWARD)}; {directions_words(result)}:")]
    for k, ahead in enumerate(walk.forward_pass.steps, start=1):
        step = ahead.step
        incoming, heard = _numeric_matrix_latex(ahead.incoming), vector_text(ahead.incoming)
        groups.append([
            (rf"\text{{step {k} ({step.name}): }} {derivative_symbol(step.outputs, step.inputs)} \cdot "
             rf"\underbrace{{{incoming}}}_{{{tangent_latex(step.sources)}}} &= {matrix_latex(step.matrix)} \cdot "
             rf"{incoming}",
             f"  step {k}: {step.name} (line {step.line}): {derivative_symbol(step.outputs, step.inputs, 'text')} · "
             f"{tangent_text(step.sources)} = {matrix_line(step.matrix)} · {heard} = {vector_text(ahead.local)} · "
             f"{heard} = {tangent_text(step.outputs)} = {vector_text(ahead.product)}"),
            (rf"&= {_numeric_matrix_latex(ahead.local)} \cdot {incoming} = {_numeric_matrix_latex(ahead.product)} = "
             rf"{tangent_latex(step.outputs)}", "")])
    lhs = (r"J", "J") if not result.options.direction else (r"J\,v", "J·v")
    tangent = walk.forward_pass.tangent
    return groups + [[
        *_spoken(_at(lhs[0], where, tangent, f"{tangent_latex(result.outputs)} = "),
                 f"{lhs[1]} at {spoken} = {tangent_text(result.outputs)} = {vector_text(tangent)}: the local "
                 f"Jacobians times the tangents, from the inputs on; {walk.forward_verdict}"),
        (r"&" + text_latex(f"(the local Jacobians times the tangents, from the inputs on; {walk.forward_verdict})"),
         "")]]
