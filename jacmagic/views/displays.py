"""Rows -> displays: what a notebook receives. The rows that render.py writes (each a LaTeX line and its text) are
cut into displays MathJax accepts (under MAX_LATEX characters) and no wider than the page once aligned. Rows of words
(notes, sizes, readings: `formulas.words_line`) never go inside the math: a cell shows them as HTML paragraphs that
wrap with the page, and where one LaTeX string must carry everything (`result.latex()`, a panel's fallback) they are
paragraphs of text between the `$...$` formulas.
"""

from __future__ import annotations

import html
import re
from itertools import groupby, zip_longest
from typing import TYPE_CHECKING, Any

from jacmagic.views import page
from jacmagic.views.formulas import MAX_LATEX, TEXT_ESCAPES, Row
from jacmagic.views.render import result_groups, wrapped

if TYPE_CHECKING:
    from jacmagic.symbolic import SymbolicJacobian


_WORDS = re.compile(r"^(&(?:\\phantom\{=\}\\;|\\qquad|\\quad)?\s*)\\text\{(.*)\}$")
# How LaTeX's text mode writes its special characters (math's \backslash is no text command).
_PROSE_ESCAPES = {**dict(TEXT_ESCAPES), "\\": r"\textbackslash{}"}


def words(latex: str) -> tuple[bool, str] | None:
    """A row that is only words (&\\text{...}, perhaps indented): whether it is indented, and the words."""
    match = _WORDS.match(latex)
    if not match or "}" in match.group(2).replace(r"\}", "").replace(r"{}", ""):
        return None
    text = match.group(2)
    for char, escaped in reversed(TEXT_ESCAPES):
        text = text.replace(escaped, char)
    return match.group(1).strip() != "&", text


def _is_words(row: Row) -> bool:
    return words(row[0]) is not None


def _words_of(latex: str) -> tuple[bool, str]:
    """`words` of a row known to be words."""
    said = words(latex)
    assert said is not None
    return said


def _continued(row: Row) -> list[Row]:
    """A chain of equalities too wide for the page, `lhs &= A = B`, continues with an equality a row: `lhs &= A`,
    then `&= B` under it."""
    cells = page.columns(row[0])
    if len(cells) != 2 or page.fits(*cells):
        return [row]
    chain = page.equalities(cells[-1])
    if len(chain) <= 2 or chain[0].strip() or not all(p.strip() for p in chain[1:]):
        return [row]
    return [(f"{cells[0]}&= {chain[1].strip()}", row[1]), *((f"&= {p.strip()}", "") for p in chain[2:])]


def blocks(groups: list[list[Row]]) -> list[list[Row]]:
    """The groups cut into displays of at most MAX_LATEX characters of LaTeX each and no wider than the page once
    aligned (each column as wide as its widest cell: a row with a wide left side and one with a wide right side go
    to different displays); a row is never cut, and rows of words, outside the math, count for neither."""
    out: list[list[Row]] = []
    for group in groups:
        current: list[Row] = []
        size, widths = 0, [0.0]
        for row in (part for whole in group for part in ([whole] if _is_words(whole) else _continued(whole))):
            if _is_words(row):
                current.append(row)
                continue
            cells = page.cell_widths(row[0])
            merged = [max(a, b) for a, b in zip_longest(widths, cells, fillvalue=0.0)]
            if current and (size + len(row[0]) > MAX_LATEX or sum(merged) > page.MAX_EMS):
                out.append(current)
                current, size, merged = [], 0, cells
            current.append(row)
            size, widths = size + len(row[0]), merged
        out.append(current)
    return out


def _prose_latex(text: str) -> str:
    """Words as LaTeX text (outside math), its special characters escaped (in one pass: an escape's own braces
    stay)."""
    return re.sub("|".join(map(re.escape, _PROSE_ESCAPES)), lambda found: _PROSE_ESCAPES[found.group()], text)


def bundle(rows: list[Row]) -> dict[str, str]:
    """One display: the formula rows as aligned LaTeX derivations with the rows of words as text between them (one
    line each), and everything as text, within the text's width (`wrapped`)."""
    parts = []
    for said, run in groupby(rows, key=_is_words):
        shown = [row[0] for row in run]
        parts += ([_prose_latex(_words_of(latex)[1]) for latex in shown] if said
                  else [r"$\displaystyle \begin{aligned}" + r" \\ ".join(shown) + r"\end{aligned}$"])
    return {"text/plain": wrapped("\n".join(r[1] for r in rows if r[1])), "text/latex": "\n".join(parts)}


def bundles(groups: list[list[Row]]) -> list[dict[str, str]]:
    return [bundle(rows) for rows in blocks(groups)]


def _paragraphs(rows: list[Row]) -> dict[str, str]:
    """Rows of words as one HTML display: a row with its own text starts a paragraph, one without continues it; a
    paragraph under a formula is indented like the formula's right side."""
    paragraphs: list[tuple[bool, list[str]]] = []
    for latex, text in rows:
        indent, said = _words_of(latex)
        if text or not paragraphs:
            paragraphs.append((indent, []))
        paragraphs[-1][1].append(said)
    return {"text/plain": wrapped("\n".join(text for _, text in rows if text)),
            "text/html": "".join(f'<p style="margin:0.3em 0 0.3em {1.5 if indent else 0}em">{html.escape(" ".join(p))}'
                                 "</p>" for indent, p in paragraphs)}


def static_displays(groups: list[list[Row]]) -> list[dict[str, str]]:
    """What a cell shows without a panel: the formula rows as aligned LaTeX displays, and the rows of words between
    them as HTML paragraphs outside the math, which wrap with the page in every front end."""
    shown: list[dict[str, str]] = []
    for group in groups:
        for said, run in groupby(group, key=_is_words):
            rows = list(run)
            shown += [_paragraphs(rows)] if said else bundles([rows])
    return shown


def to_latex(result: SymbolicJacobian) -> str:
    r"""The whole result as `$\displaystyle ...$` blocks, one per line, each short enough for MathJax, with its words
    as lines of text between them."""
    return "\n".join(b["text/latex"] for b in bundles(result_groups(result)))


def plot_display(result: SymbolicJacobian) -> dict[str, Any]:
    """The --plot picture at the point, as a static display (where no panel's picture follows the point)."""
    from jacmagic.views.plot import png

    return {"image/png": png(result.plot()),
            "text/plain": wrapped("(the --plot picture: result.plot() returns it as a matplotlib Figure)")}
