"""LaTeX -> presentation MathML, for the formulas inside widgets.

A widget's HTML is not typeset by every host: JupyterLab runs MathJax over an `HTMLMath` widget, but VS Code, Colab
and a page exported with its widget state need not. Presentation MathML is drawn by the browser itself (MathML Core,
Chromium 109+, Firefox, Safari), so the panels convert their LaTeX here, once per formula, with latex2mathml (pure
Python, ~0.3 ms a formula) and ship no JavaScript. The static displays stay LaTeX: there the host typesets them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import lru_cache

from latex2mathml.converter import convert

from .displays import words
from .page import columns
from .render import Row

# The MathML of a formula without its <math> element, to place it in a table cell.
_INSIDE = re.compile(r"^<math[^>]*>(.*)</math>$", re.DOTALL)
_CELL_ALIGN = ("right", "left")
# Brackets around a matrix stretch only in a font with an OpenType MATH table; `math` alone may name one without.
_FONTS = "font-family:'STIX Two Math','Cambria Math','Latin Modern Math','DejaVu Math TeX Gyre',math"


@lru_cache(maxsize=4096)
def formula(latex: str) -> str:
    """One inline formula as a <math> element (cached: a panel shows the same formulas on every page)."""
    return f'<math style="{_FONTS}">{_inner(latex)}</math>'


def _inner(latex: str) -> str:
    """The MathML inside <math>; LaTeX the converter cannot read is shown as its source rather than lost."""
    if not latex.strip():
        return ""
    try:
        match = _INSIDE.match(convert(latex))
    except Exception:  # latex2mathml raises its own errors, and IndexError/KeyError on constructs it lacks
        return f"<mtext>{html.escape(latex)}</mtext>"
    return match.group(1) if match else ""


def _table(rows: Sequence[str]) -> str:
    """Formula rows as one <math> table aligned like LaTeX's `aligned` (right, then left, at each `&`), on a line of
    its own at the left (a display-mode <math> would centre it)."""
    def cell(k: int, latex: str) -> str:
        align = _CELL_ALIGN[k % 2]
        return f'<mtd style="text-align:{align};padding:0.2em 0"><mstyle displaystyle="true">{_inner(latex)}' \
               "</mstyle></mtd>"
    body = "".join("<mtr>" + "".join(cell(k, c) for k, c in enumerate(columns(row))) + "</mtr>" for row in rows)
    return f'<div style="margin:0.3em 0"><math style="{_FONTS}"><mtable>{body}</mtable></math></div>'


def derivation(groups: Sequence[Sequence[Row]]) -> str:
    """A derivation as HTML: lines of words as paragraphs, outside the math, so the page wraps them; the formula
    lines between them as MathML tables. A horizontal scroll bar is the last resort for a formula wider than the
    page (a matrix of a few wide entries)."""
    parts: list[str] = []
    for group in groups:
        pending: list[str] = []
        for latex, _ in group:
            said = words(latex)
            if said is None:
                pending.append(latex)
                continue
            if pending:
                parts.append(_table(pending))
                pending = []
            indent, text = said
            parts.append(f'<div style="margin:0.2em 0 0.2em {1.5 if indent else 0}em">{html.escape(text)}</div>')
        if pending:
            parts.append(_table(pending))
    return '<div class="jacmagic-derivation" style="overflow-x:auto;max-width:100%">' + "".join(parts) + "</div>"
