"""Result -> rows of LaTeX and text: the Jacobian (whole, windowed, with its repeated parts named, or entry by
entry), its layout, determinant and value at a point, the Hessians and the notes;
and the whole as text for a terminal. Pure functions of their inputs.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import TYPE_CHECKING

import sympy as sp

from jacmagic.chain.abbreviate import Abbreviations, abbreviated
from jacmagic.lazy import np
from jacmagic.notation import counted, framed, inline, latex, pretty
from jacmagic.views import page
from jacmagic.views.formulas import (
    Row,
    art_least,
    at_point,
    derivative_symbol,
    elided_entries,
    entry_lines,
    fitted_art,
    is_big,
    is_long,
    is_zero,
    matrix_cells,
    matrix_entries,
    matrix_latex,
    matrix_least,
    matrix_text,
    point_latex,
    point_rows,
    point_text,
    rows_said,
    text_block,
    text_lines,
    too_wide,
    words_line,
    zeros_said,
)
from jacmagic.views.notes import notes_words
from jacmagic.views.numbers import HEAD, SHOWN, TAIL, grid, number_text, numeric_text, vector_latex, vector_text, window

if TYPE_CHECKING:
    from jacmagic.symbolic import SymbolicJacobian


def _entry_rows(result: SymbolicJacobian, matrix: sp.ImmutableMatrix) -> list[Row]:
    """The shown entries of a wide Jacobian (`matrix`, its repeated parts perhaps named) one per line,
    ∂f_i/∂x_j = ..., the identically zero ones left out and said."""
    cells, entries = matrix_cells(matrix)[0], matrix.tolist()
    rows: list[Row] = []
    zeros = 0
    for a, i in enumerate(window(matrix.rows)):
        for b, j in enumerate(window(matrix.cols)):
            if i is None or j is None:
                continue
            if is_zero(entries[i][j]):
                zeros += 1
                continue
            symbol = derivative_symbol((result.outputs[i],), (result.inputs[j],))
            rows += ([(rf"{symbol} &= {cells[a][b]}", "")] if cells[a][b] == r"\cdots"
                     else _broken_rows(symbol, entries[i][j], cells[a][b]))
    if zeros:
        rows.append((words_line(zeros_said(zeros)), ""))
    return rows


def _shown_matrix(result: SymbolicJacobian, lead: str) -> tuple[sp.ImmutableMatrix, Abbreviations]:
    """The Jacobian as shown after `lead` (or on a row of its own under it): whole where it fits the page, else
    with its repeated parts named (`abbreviate`), as a matrix if that fits and else entry by entry, and the names."""
    assert result.eager_matrix is not None
    eager = result.eager_matrix
    windowed = eager.rows > SHOWN or eager.cols > SHOWN  # named parts would be found in entries never shown
    if windowed or page.fits(lead, whole := matrix_latex(eager)) or page.fits(whole):
        return eager, ()
    short = abbreviated(eager, result.model)
    return short.matrix, short.names


def _where_rows(names: Abbreviations, block: list[str], width: int) -> list[Row]:
    """"where u = ..., σ = σ(u)" under the matrix, in the order they build on each other, over as many lines as
    the page needs; the text over lines of `width`, after the matrix's entries `block` (which use the names)."""
    if not names:
        return []
    lines = page.packed([(r"\text{where}\ " if k == 0 else "") + rf"{latex(symbol)} = {latex(definition)}"
                         for k, (symbol, definition) in enumerate(names)], r",\quad ")
    lines = [part for line in lines for part in (_unaligned(line, names) if not page.fits(line) else [line])]
    said = "\n".join([*block, *text_lines("where " + ", ".join(f"{inline(symbol)} = {inline(definition)}"
                                                                  for symbol, definition in names), width)])
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


def view_notes(matrix: sp.ImmutableMatrix | None) -> list[Row]:
    r"""What the display of `matrix` (the Jacobian as shown, its repeated parts perhaps named) leaves out, said once
    in the LaTeX and the text alike; entries too long to typeset each says only where it elides them (its
    \cdots elide more than the text's …, and none where the names made the entries short)."""
    if matrix is None:
        return []
    notes: list[Row] = []
    typeset, written = elided_entries(matrix), _text_elided(matrix)
    if typeset:  # first: a row without text continues the paragraph above it
        notes.append((words_line(_elided_words(typeset)), f"note: {_elided_words(written)}" if written else ""))
    m, n = matrix.shape
    if m > SHOWN or n > SHOWN:
        said = (f"showing {len(window(m)) - (m > SHOWN)} of {m} rows and {len(window(n)) - (n > SHOWN)} of "
                f"{n} columns; the whole matrix is result.matrix")
        notes.append((words_line(said), f"note: {said}"))
    return notes


def _elided_words(count: int) -> str:
    are = "is" if count == 1 else "are"
    return (f"{counted(count, 'shown entry', 'shown entries')} {are} too long to typeset here, shown as …: "
            "result.matrix holds every entry whole")


def _text_elided(matrix: sp.ImmutableMatrix) -> int:
    """How many shown entries the text writes as … (`matrix_text` and `matrix_entries` alike: a big matrix's
    long ones)."""
    return sum(is_long(e) for e in _shown_entries(matrix)) if is_big(matrix) else 0


def _shown_entries(matrix: sp.ImmutableMatrix) -> list[sp.Expr]:
    """The entries in the shown window, row by row."""
    rows = matrix.tolist()
    return [rows[i][j] for i in window(matrix.rows) if i is not None for j in window(matrix.cols) if j is not None]


def layout_words(result: SymbolicJacobian) -> str:
    """The layout said in words once, because texts disagree on it."""
    m, n = result.shape
    if m == 1:
        return f"the gradient as a row, 1 x {n}: one column per input"
    return f"{m} x {n}, rows: outputs, columns: inputs"


def _partials_latex(result: SymbolicJacobian) -> str:
    """The textbook definition: entry (i, j) is the symbol d f_i / d x_j (cut to the window like the rest)."""
    outs, ins = result.outputs, result.inputs
    cells = grid(len(outs), len(ins), lambda i, j: rf"\frac{{\partial {latex(outs[i])}}}{{\partial {latex(ins[j])}}}",
                  (r"\vdots", r"\cdots", r"\ddots"))
    return r"\left[\begin{matrix}" + r" \\ ".join(" & ".join(row) for row in cells) + r"\end{matrix}\right]"


def _partials_text(result: SymbolicJacobian) -> str:
    """The textbook definition as text, a 2-D block (left out where too wide: the entries name their partials)."""
    outs, ins = result.outputs, result.inputs
    cells = grid(len(outs), len(ins), lambda i, j: f"∂{pretty(outs[i])}/∂{pretty(ins[j])}", ("⋮", "…", "⋱"))
    return framed(cells)


def _det_rows(result: SymbolicJacobian) -> list[Row]:
    """det J written out, continued over lines where it is wide; where it is too large to expand or too long to
    typeset, elided as in a matrix and said in words below."""
    det = result.symbolic_det
    if det is not None and not is_long(det):
        rows = _broken_rows(r"\det J", det)
        text = text_block("det J = ", lambda: pretty(det), [("det J", inline(det))], text_width(), art_least(det))
        return [(rows[0][0], "\n".join(text)), *rows[1:]]
    said = "(too large to expand)" if det is None else "(too long to typeset: see result.det)"
    return [(r"\det J &= \cdots", f"det J = {said}"), (words_line(said, indent=True), "")]


def result_groups(result: SymbolicJacobian) -> list[list[Row]]:
    """Everything a result shows, as groups of rows: the Jacobian and what goes with it, the Hessians, the
    notes. Each group becomes one display (or several,
    cut to MAX_LATEX)."""
    symbol, words = derivative_symbol(result.outputs, result.inputs), derivative_symbol(result.outputs,
                                                                                         result.inputs, "text")
    first, text = rf"J = {symbol} &= ", [f"J = {words}   ({layout_words(result)})"]
    width = text_width()
    if result.options.partials:
        first += _partials_latex(result) + " = "
        text += text_block("J = ", lambda: _partials_text(result), [], width)
    entries: list[Row] = []
    continued: list[Row] = []
    said = ""
    names: Abbreviations = ()
    block: list[str] = []
    matrix = None
    lead = "".join(page.columns(first))
    if result.eager_matrix is not None:
        matrix, names = _shown_matrix(result, lead)
        elided = _text_elided(matrix)
        if elided and elided == sum(not is_zero(e) for e in _shown_entries(matrix)):  # all …: no row of them
            matrix, names = None, ()
    if matrix is not None:
        drawn = fitted_art("J = ", lambda: matrix_text(matrix), width, matrix_least(matrix, width))
        text += [drawn] if drawn is not None else []
        block = [] if drawn is not None else entry_lines("J = ", matrix_entries(matrix, _entry_name(result)), width,
                                                         bool(names))
        shown = matrix_latex(matrix)
        if page.fits(lead, shown):
            first += shown
        elif page.fits(shown):  # a row of its own under J = ∂f/∂x
            continued = [(rf"&{shown}", "")]
        else:  # too wide for one line of the page, even with its repeated parts named: one entry per line
            said = too_wide(bool(names))
            entries = _entry_rows(result, matrix)
    else:
        said = ("(too large to write out: built stage by stage below)" if result.eager_matrix is None else
                "(every entry is too long to typeset here: result.matrix holds them)")
        text.append(f"J = {said}")
    if said:  # the formula stops at the symbol, the words go on a row of their own
        first = first.removesuffix(" &= ").removesuffix(" = ")
    defined = _where_rows(names, block, width)
    text += [] if defined else block
    # Written entry by entry, the words say so just above the entries and the names they use follow them, as in text.
    header: list[Row] = [(first, "\n".join(text)), *([] if said else defined),
                         (words_line(f"({layout_words(result)})", indent=True), ""),
                         *([(words_line(said, indent=True), "")] if said else []), *entries, *(defined if said else [])]
    if result.options.det:
        header += _det_rows(result)
    if result.point:
        where, spoken = point_latex(result, dict(result.point)), point_text(result, dict(result.point))
        values = result.shown_at_point
        rows = at_point("J", where, values)
        if r"\Big|" not in rows[0]:
            header += point_rows("at the point", result, dict(result.point))
        header += rows_said(rows, "\n".join(numbers_block(f"J at {spoken} = ", values, _entry_name(result), width)))
        if result.options.det:
            det_value = float(result.det_at(values))
            header += rows_said(at_point(r"\det J", where, np.array(det_value)),
                              f"det J at {spoken} = {number_text(det_value)}")
    groups = [*([header[:1], continued, header[1:]] if continued else [header]),
              list(zip(hessian_latex(result), hessian_text(result)))]
    groups.append([*view_notes(matrix), *((words_line(n), f"note: {n}") for n in notes_words(result.facts))])
    return [group for group in groups if group]


def _entry_name(result: SymbolicJacobian) -> Callable[[int, int], str]:
    """The text of entry (i, j) of the Jacobian: ∂f₁/∂x₀."""
    return lambda i, j: derivative_symbol((result.outputs[i],), (result.inputs[j],), "text")


def numbers_block(label: str, values: np.ndarray, name: Callable[[int, int], str], width: int) -> list[str]:
    """A matrix of numbers as `text_block` writes it: 2-D where it fits (its width known from its cells), else
    entry by entry."""
    rows, cols = values.shape
    entries = [(name(i, j), number_text(float(values[i, j]))) for i in window(rows) if i is not None
               for j in window(cols) if j is not None]
    least = 0 if max(rows, cols) > SHOWN else sum(
        max(len(text) for _, text in entries[j::cols]) for j in range(cols)) + 2 * cols
    return text_block(label, partial(numeric_text, values), entries, width, least)


# The width of the text where it goes to no terminal (a notebook's text/plain, an exported page, a file or a pipe):
# 100 columns, what a terminal window, an editor pane or a notebook's text output shows in common use without
# wrapping its lines (a 2-D matrix wider than its reader's window is soft-wrapped row by row into garbage).
TEXT_WIDTH = 100


def text_width() -> int:
    """The width the text's 2-D blocks fit: the terminal's where the text goes to one, else TEXT_WIDTH; at least
    40 columns, as `wrapped` keeps."""
    return max(_terminal_width() or TEXT_WIDTH, 40)


def _terminal_width() -> int | None:
    """The terminal's width when the text goes to one (COLUMNS, else the terminal's own size), None for a file
    or a pipe."""
    if sys.__stdout__ is not None and sys.__stdout__.isatty():
        return shutil.get_terminal_size().columns
    return None


def to_text(result: SymbolicJacobian) -> str:
    """The whole result as readable text: sympy's pretty printing, every line within the text's width."""
    return wrapped("\n".join(text for group in result_groups(result) for _, text in group if text))


# Set while the command line writes to a file or a pipe: its lines stay whole, for programs that read them.
_LINES_WHOLE: ContextVar[bool] = ContextVar("lines_whole", default=False)


@contextmanager
def lines_whole(whole: bool = True) -> Iterator[None]:
    """Within it, `wrapped` leaves every line whole (the command line writing to a file or a pipe: a program reads
    a value's line whole, `grep 'det J at'`); the 2-D blocks still keep to TEXT_WIDTH."""
    token = _LINES_WHOLE.set(whole)
    try:
        yield
    finally:
        _LINES_WHOLE.reset(token)


# A line of sympy's 2-D art (a matrix's brackets, a fraction's bar, a root's sign): `text_block` drew it within the
# width, and cutting it would scramble it.
_ART = re.compile("[⎡⎢⎣⎤⎥⎦⎛⎜⎝⎞⎟⎠─╲╱]")


def wrapped(text: str, width: int | None = None) -> str:
    """The one rule that keeps every line of text within `width` (the text's, `text_width`), for every view: str(R),
    each display's text/plain, the panels' text, the command line. A line wider than that is continued on lines
    under its indent and four spaces more (`text_lines`: between words, a formula longer than a line after a
    product's dot, a comma or an opening parenthesis; every character kept but the spaces where it is cut); a line
    of 2-D art is left whole, as `text_block` drew it within the width. Within `lines_whole` every line stays
    whole."""
    if _LINES_WHOLE.get():
        return text
    width = max(width or text_width(), 40)
    return "\n".join(part for line in text.split("\n") for part in _continued(line, width))


def _continued(line: str, width: int) -> list[str]:
    if len(line) <= width or _ART.search(line):
        return [line]
    indent = line[:len(line) - len(line.lstrip(" "))]
    return text_lines(line, width, indent + "    ")


def symmetry_words(result: SymbolicJacobian) -> str:
    """What the --hessian words say of the symmetry: the check's three outcomes."""
    if result.hessians_symmetric is None:
        return (f"symmetry not checked within the time budget (--budget {result.options.budget:g} s): give a "
                "larger --budget to check it")
    return ("symmetric: the mixed partials agree, checked" if result.hessians_symmetric else
            "NOT symmetric: a second derivative is discontinuous somewhere (a kink or a step)")


def _hessian_words(result: SymbolicJacobian) -> str:
    n = len(result.inputs)
    return f"({n} x {n}, entry (j, k) = the second derivative by the j-th and k-th variable; {symmetry_words(result)})"


Reading = tuple["np.ndarray", "np.ndarray", str]  # a Hessian's values at a point, its eigenvalues, what they say


def _hessians(result: SymbolicJacobian) -> list[tuple[sp.Symbol, sp.ImmutableMatrix, Reading | None]]:
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


def _hessians_elided(result: SymbolicJacobian) -> str:
    """Which Hessians are left out of a long list, in words ("" when all are shown)."""
    count = len(result.hessians)
    if count <= SHOWN:
        return ""
    return (f"the Hessians of {HEAD + TAIL} of {count} outputs are shown ({HEAD} first, {TAIL} last); "
            "result.hessian and result.hessian_at give them all")


def hessian_latex(result: SymbolicJacobian) -> list[str]:
    """`--hessian`: each output's Hessian, and at the point its values, eigenvalues and reading."""
    where = point_latex(result, dict(result.point))
    lines = []
    for output, hessian, reading in _hessians(result):
        symbol = rf"\nabla^2 {latex(output)}"
        lines += [rf"{symbol} &= {matrix_latex(hessian)}", words_line(_hessian_words(result), indent=True)]
        if reading:
            values, eigenvalues, words = reading
            lines += [*at_point(symbol, where, values),
                      rf"&\lambda = {vector_latex(eigenvalues)}:", words_line(words, indent=True)]
    if elided := _hessians_elided(result):
        lines.append(words_line(elided))
    return lines


def _second_name(result: SymbolicJacobian, output: sp.Symbol) -> Callable[[int, int], str]:
    """The text of entry (j, k) of `output`'s Hessian: ∂²f/∂x∂y, ∂²f/∂x²."""
    def name(j: int, k: int) -> str:
        first, second = pretty(result.inputs[j]), pretty(result.inputs[k])
        return f"∂²{pretty(output)}/∂{first}²" if j == k else f"∂²{pretty(output)}/∂{first}∂{second}"
    return name


def hessian_text(result: SymbolicJacobian) -> list[str]:
    where = point_text(result, dict(result.point))
    parts = []
    width = text_width()
    for output, hessian, reading in _hessians(result):
        symbol, name = f"∇²{pretty(output)}", _second_name(result, output)
        parts += ["\n".join(text_block(f"{symbol} = ", partial(matrix_text, hessian), matrix_entries(hessian, name),
                                       width, matrix_least(hessian, width))), _hessian_words(result)]
        if reading:
            values, eigenvalues, words = reading
            parts += ["\n".join(numbers_block(f"{symbol} at {where} = ", values, name, width)),
                      f"eigenvalues {vector_text(eigenvalues)}: {words}", ""]
    return parts + [elided] if (elided := _hessians_elided(result)) else parts
