"""LaTeX -> presentation MathML, for the formulas inside widgets.

A widget's HTML is not typeset by every host: JupyterLab runs MathJax over an `HTMLMath` widget, but VS Code, Colab
and a page exported with its widget state need not. Presentation MathML is drawn by the browser itself (MathML Core,
Chromium 109+, Firefox, Safari), so the panels convert their LaTeX here, once per formula, with latex2mathml (pure
Python, ~0.3 ms a formula) and ship no JavaScript. The static displays stay LaTeX: there the host typesets them.

The converter's own string output un-escapes its text (`\\text{<img onerror=...>}` would come out as an element) and
keeps `\\href`, `\\style` and `\\class` as attributes, so its element tree is written out here instead: only
presentation MathML elements, only presentational attributes with plain values, every text escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import lru_cache
from xml.etree.ElementTree import Element

from latex2mathml.converter import convert_to_element

from jacmagic.views.displays import words
from jacmagic.views.formulas import Row
from jacmagic.views.page import columns

# The elements latex2mathml writes; any other (a future version's) is written as <mrow>, its content kept.
_TAGS = frozenset("menclose mfrac mi mn mo mover mpadded mphantom mroot mrow mspace msqrt mstyle msub msubsup msup "
                  "mtable mtd mtext mtr munder munderover".split())
# Presentational attributes only: no href (\href), style (\style), class (\class), src, xlink:href or on*.
_ATTRIBUTES = frozenset("accent accentunder columnalign columnlines columnspacing depth displaystyle fence form height "
                        "largeop linebreak linethickness lspace mathbackground mathcolor mathsize mathvariant maxsize "
                        "minsize movablelimits notation rowlines rowspacing rspace scriptlevel separator stretchy "
                        "symmetric voffset width".split())
# An attribute's value is a word, number, length or colour: nothing a url(...) or javascript: fits in.
_PLAIN_VALUE = re.compile(r"[\w#%.+ -]*")
# The converter writes symbols as character references in its text (`&#x0003C;` for <).
_REFERENCE = re.compile(r"&#x([0-9A-Fa-f]{1,6});")
# Characters XML (and so the markup checks) cannot hold: C0 controls other than tab and newlines, surrogates.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
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
        math = convert_to_element(latex)
    except Exception:  # latex2mathml raises its own errors, and IndexError/KeyError on constructs it lacks
        return f"<mtext>{_text(latex)}</mtext>"
    return "".join(_markup(child) for child in math)


def _markup(element: Element) -> str:
    """One converted element as MathML, rebuilt from the allowed tags and attributes with its text escaped."""
    tag = element.tag if element.tag in _TAGS else "mrow"
    attributes = "".join(f' {name}="{html.escape(value)}"' for name, value in element.attrib.items()
                         if name in _ATTRIBUTES and _PLAIN_VALUE.fullmatch(value))
    inside = "".join(_markup(child) + _text(child.tail) for child in element)
    return f"<{tag}{attributes}>{_text(element.text)}{inside}</{tag}>"


def _text(text: str | None) -> str:
    """Text as the reader should see it: the converter's character references read, then everything escaped."""
    def character(reference: re.Match[str]) -> str:
        code = int(reference.group(1), 16)
        return chr(code) if code <= 0x10FFFF else reference.group(0)
    return html.escape(_ILLEGAL.sub("\ufffd", _REFERENCE.sub(character, text or "")), quote=False)


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
