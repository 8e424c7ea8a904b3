"""Rows -> displays: what a notebook receives. The rows that render.py writes (each a LaTeX line and its text) are
cut into displays MathJax accepts (under MAX_LATEX characters) and no wider than the page once aligned; lines of
words go outside the math as HTML paragraphs where the cell shows them, and stay in the LaTeX where one bundle must
carry everything (a panel's fallback, `result.latex()`).
"""

from __future__ import annotations

import html
import re
import textwrap
from itertools import groupby, zip_longest
from typing import TYPE_CHECKING

from jacmagic.views import page
from jacmagic.views.page import WORDS_PER_LINE
from jacmagic.views.render import MAX_LATEX, TEXT_ESCAPES, Row, result_groups

if TYPE_CHECKING:
    from jacmagic.result import JacobianResult


_WORDS = re.compile(r"^(&(?:\\phantom\{=\}\\;|\\qquad|\\quad)?\s*)\\text\{(.*)\}$")


def words(latex: str) -> tuple[bool, str] | None:
    """A row that is only words (&\\text{...}, perhaps indented): whether it is indented, and the words."""
    match = _WORDS.match(latex)
    if not match or "}" in match.group(2).replace(r"\}", "").replace(r"{}", ""):
        return None
    text = match.group(2)
    for char, escaped in reversed(TEXT_ESCAPES):
        text = text.replace(escaped, char)
    return match.group(1).strip() != "&", text


# A formula that ends in words: J = ... = \text{(too wide for a line: entry by entry below)}.
_TRAILING_WORDS = re.compile(r"^(.*\S)\s*(\\text\{[^{}]*\})$", re.S)


def _wrapped(row: Row) -> list[Row]:
    """A row that is only words, as several rows of at most WORDS_PER_LINE characters. Too wide for the page, a
    formula ending in words has its words on rows of their own under it, and a chain of equalities continues with an
    equality a row."""
    match = _WORDS.match(row[0])
    trailing = _TRAILING_WORDS.match(row[0])
    cells = page.columns(row[0])
    if not match and trailing and not page.fits("".join(cells)):
        return [(trailing.group(1), row[1]), *_wrapped((r"&\phantom{=}\;" + trailing.group(2), ""))]
    chain = page.equalities(cells[-1])
    if len(cells) == 2 and len(chain) > 2 and not chain[0].strip() and all(p.strip() for p in chain[1:]) \
            and not page.fits("".join(cells)):  # lhs &= A = B too wide: lhs &= A, then &= B under it
        return [(f"{cells[0]}&= {chain[1].strip()}", row[1]), *((f"&= {p.strip()}", "") for p in chain[2:])]
    if not match or words(row[0]) is None or len(match.group(2)) <= WORDS_PER_LINE:
        return [row]
    lines = textwrap.wrap(match.group(2), WORDS_PER_LINE, break_long_words=False, break_on_hyphens=False)
    return [(match.group(1) + rf"\text{{{line}}}", row[1] if k == 0 else "") for k, line in enumerate(lines)]


def blocks(groups: list[list[Row]]) -> list[list[Row]]:
    """The groups cut into displays of at most MAX_LATEX characters of LaTeX each and no wider than the page once
    aligned (each column as wide as its widest cell: a row with a wide left side and one with a wide right side go
    to different displays); a row is never cut, lines of words are wrapped to the page."""
    out: list[list[Row]] = []
    for group in groups:
        current: list[Row] = []
        size, widths = 0, [0.0]
        for row in (part for whole in group for part in _wrapped(whole)):
            cells = page.cell_widths(row[0])
            merged = [max(a, b) for a, b in zip_longest(widths, cells, fillvalue=0.0)]
            if current and (size + len(row[0]) > MAX_LATEX or sum(merged) > page.MAX_EMS):
                out.append(current)
                current, size, merged = [], 0, cells
            current.append(row)
            size, widths = size + len(row[0]), merged
        out.append(current)
    return out


def bundle(rows: list[Row]) -> dict[str, str]:
    """One display: the rows as an aligned LaTeX derivation and as text."""
    return {"text/plain": "\n".join(r[1] for r in rows if r[1]),
            "text/latex": r"$\displaystyle \begin{aligned}" + r" \\ ".join(r[0] for r in rows) + r"\end{aligned}$"}


def bundles(groups: list[list[Row]]) -> list[dict[str, str]]:
    return [bundle(rows) for rows in blocks(groups)]


def _prose(row: Row) -> bool:
    """A line of words at the left margin (not an annotation indented under a formula)."""
    said = words(row[0])
    return said is not None and not said[0]


def _paragraphs(rows: list[Row]) -> dict[str, str]:
    """Lines of words as one HTML display: a row with its own text starts a paragraph, one without continues it."""
    paragraphs: list[list[str]] = []
    for latex, text in rows:
        said = words(latex)
        if text or not paragraphs:
            paragraphs.append([])
        paragraphs[-1].append(said[1] if said else text)
    return {"text/plain": "\n".join(text for _, text in rows if text),
            "text/html": "".join(f'<p style="margin:0.3em 0">{html.escape(" ".join(p))}</p>' for p in paragraphs)}


def static_displays(groups: list[list[Row]]) -> list[dict[str, str]]:
    """What a cell shows without a panel: the formula rows as aligned LaTeX displays, and the lines of words
    between them as HTML paragraphs outside the math, which wrap with the page in every front end."""
    shown: list[dict[str, str]] = []
    for group in groups:
        for prose, run in groupby(group, key=_prose):
            rows = list(run)
            shown += [_paragraphs(rows)] if prose else bundles([rows])
    return shown


def to_latex(result: JacobianResult) -> str:
    r"""The whole result as `$\displaystyle ...$` blocks, one per line, each short enough for MathJax."""
    return "\n".join(b["text/latex"] for b in bundles(result_groups(result)))
