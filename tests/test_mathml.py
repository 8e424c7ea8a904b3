"""The panels' formulas as MathML: every row of every derivation converted (no LaTeX source left for a reader to
decode), words outside the math, well-formed markup, and nothing in a panel waiting for the host's MathJax."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser

import ipywidgets as widgets
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jacmagic import JacobianResult, jacobian
from jacmagic.errors import CellError
from jacmagic.views.displays import words
from jacmagic.views.formulas import text_latex
from jacmagic.views.mathml import derivation, formula
from jacmagic.views.page import columns
from jacmagic.views.render import result_groups

from .helpers import read_aloud
from .test_network import CELLS, _random_point
from .test_properties import VARIABLES, Formula, formulas, points
from .test_words_outside_math import CASES, groups_of

# Every --chain cell of the words test (entry-level chains among them, now stages of formulas of the one walk, and
# chains of numbers), with its options, then the array cells at a random point.
CHAINS = [(cell, options) for cell, options in CASES if options.get("chain")] + [(cell, {}) for cell in CELLS]
MATH_FORM = "g(x1, x2) = [x1*x2, x1 + x2]\nh(u, v) = [sin(u)*v]"


@pytest.mark.parametrize(("row", "cells"), [
    (r"J &= x", ["J ", "= x"]),
    (r"&\text{words}", ["", r"\text{words}"]),
    (r"J &= \left[\begin{matrix}a & b\\c & d\end{matrix}\right]",
     ["J ", r"= \left[\begin{matrix}a & b\\c & d\end{matrix}\right]"]),
    (r"\text{a \& b} &= {x & y}", [r"\text{a \& b} ", "= {x & y}"]),
    (r"x", ["x"]),
])
def test_an_aligned_row_is_cut_only_at_its_top_level_ampersands(row: str, cells: list[str]) -> None:
    assert columns(row) == cells


@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=60),
       st.sampled_from(["&", r"&\quad ", r"&\qquad ", r"&\phantom{=}\;"]))
def test_words_read_back_exactly_what_was_written(text: str, indent: str) -> None:
    said = words(indent + text_latex(text))
    assert said is not None and said == (indent != "&", text)


def test_a_formula_row_is_not_words() -> None:
    assert words(r"J &= \text{(entry by entry)}") is None and words(r"&\text{a} + x") is None


def _formula_rows(result: JacobianResult) -> str:
    return derivation(groups_of(result))


def _check_markup(markup: str) -> ElementTree.Element:
    """Well-formed, every formula converted: a LaTeX command left as source (\\foo) would show as text."""
    root = ElementTree.fromstring(f"<root>{markup}</root>")
    assert "\\" not in read_aloud(markup)
    return root


@pytest.mark.parametrize(("cell", "options"), CHAINS, ids=[f"{k}-{c.split(chr(10))[-1][:30]}"
                                                           for k, (c, _) in enumerate(CHAINS)])
def test_every_derivation_converts_every_formula_and_keeps_words_outside_the_math(cell: str,
                                                                                  options: dict[str, object]) -> None:
    options = {**options, "chain": True, "mode": "both"}
    if "at" not in options:
        options["at"] = _random_point(jacobian(cell, **options))  # type: ignore[arg-type]
    result = jacobian(cell, **options)  # type: ignore[arg-type]
    assert isinstance(result, JacobianResult)
    root = _check_markup(_formula_rows(result))
    tables = root.findall(".//math")
    assert tables and all(t.find("mtable") is not None for t in tables)
    paragraphs = [d for d in root.iter("div") if d.text and not list(d)]
    for mode in ("reverse mode", "forward mode"):
        assert any(mode in d.text for d in paragraphs)  # type: ignore[operator]
        assert not any(mode in "".join(t.itertext()) for t in tables)


@pytest.mark.parametrize("cell", ["u = x\nw = u*(exp(x))**2 + sin(u)", "x: 3\nL = sum(exp(x)**3 * x)",
                                  "x: 3\nL = sum((x.T)**2)", "A: 2x2\nL = sum((A.T)**2 @ A)"])
def test_a_power_of_a_superscript_is_bracketed_and_converts(cell: str) -> None:
    """Found by the MathML test: (exp(x))**2 was written e^{x}^{2} in the walkthrough and in the closed form, a
    double superscript no converter reads (the reader saw LaTeX source); xᵀ squared likewise."""
    result = jacobian(cell, chain=True, mode="both")
    _check_markup(_formula_rows(result))
    assert not re.search(r"\^\{[^{}]*\}\^\{", result.latex())  # no superscript raised again


def test_the_result_views_convert_too() -> None:
    for options in ({"det": True, "at": {"r": 1.0, "theta": 0.5}}, {"hessian": True}, {"partials": True}):
        result = jacobian("x = r*cos(theta)\ny = r*sin(theta)", **options)  # type: ignore[arg-type]
        _check_markup(derivation(result_groups(result.symbolic)))


def test_latex_the_converter_cannot_read_stays_readable_source() -> None:
    assert "<mtext>x^</mtext>" in formula("x^")


def _all_widgets(widget: widgets.Widget) -> list[widgets.Widget]:
    return [widget, *(w for child in getattr(widget, "children", ()) for w in _all_widgets(child))]


@pytest.mark.parametrize("cell", [MATH_FORM, CELLS[1]])
def test_a_panel_shows_formulas_as_mathml_and_relies_on_no_host_typesetting(cell: str) -> None:
    panel = jacobian(cell, chain=True, mode="both").widget()
    for position in range(panel.position.max + 1):
        for mode in ("reverse", "forward"):
            panel.position.value, panel.mode.value = position, mode
            shown = [w.value for w in _all_widgets(panel) if isinstance(w, widgets.HTML)]
            assert not any(isinstance(w, widgets.HTMLMath) for w in _all_widgets(panel))
            assert not any("$" in v or "\\(" in v for v in shown)
            _check_markup(panel.detail.value.split("</style>", 1)[1])
            if 0 < position < panel.position.max:
                assert "<math" in panel.detail.value, (position, mode)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formulas, formulas, points)
def test_the_derivation_of_any_chain_converts_every_formula(first: Formula, second: Formula,
                                                            point: list[float]) -> None:
    """The family of \\arg\\max read as one unknown command: whatever functions a chain holds, no LaTeX command is
    left for the reader to decode in the panel's derivation, and its markup is well formed."""
    cell = f"u = {first.text}\nw = u*({second.text}) + sin(u)"
    try:
        names = set(jacobian(cell, chain=True).names)  # type: ignore[union-attr]
    except CellError:  # no variable left: the formulas were numbers
        assume(False)
    at = {name: value for name, value in zip(VARIABLES, point) if name in names}
    result = jacobian(cell, chain=True, mode="both", at=at)
    _check_markup(_formula_rows(result))


# What a panel may show: MathML, the few HTML elements the panels build, the SVG of the graph. Nothing that loads,
# links or runs anything.
_MATHML = {"math", "menclose", "mfrac", "mi", "mn", "mo", "mover", "mpadded", "mphantom", "mroot", "mrow", "mspace",
           "msqrt", "mstyle", "msub", "msubsup", "msup", "mtable", "mtd", "mtext", "mtr", "munder", "munderover"}
_ALLOWED_TAGS = _MATHML | {"div", "span", "p", "b", "i", "table", "tr", "th", "td", "style",
                           "svg", "defs", "marker", "path", "line", "g", "circle", "text", "rect"}
# A url() may only name a part of the same picture (the graph's arrow heads: url(#jm-arrow)).
_OUTSIDE_URL = re.compile(r"url\(\s*(?!['\"]?#)")
_LINKS = {"href", "xlink:href", "src", "srcset", "action", "formaction", "background"}


class _Elements(HTMLParser):
    """Every element and attribute a browser's HTML parser would build from some markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.other: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.other.append(f"comment {data}")

    def handle_decl(self, decl: str) -> None:
        self.other.append(f"declaration {decl}")

    def handle_pi(self, data: str) -> None:
        self.other.append(f"processing instruction {data}")

    def unknown_decl(self, data: str) -> None:
        self.other.append(f"declaration {data}")


def _assert_inert(markup: str) -> str:
    """Only allowed elements, no link, script or event attribute, no comment or declaration: the markup's text."""
    parsed = _Elements()
    parsed.feed(markup)
    parsed.close()
    assert not parsed.other, parsed.other
    for tag, attributes in parsed.tags:
        assert tag in _ALLOWED_TAGS, (tag, markup)
        for name, value in attributes:
            assert not name.startswith("on") and name not in _LINKS, (tag, name, value)
            assert not _OUTSIDE_URL.search(value or "") and "javascript:" not in (value or "").lower(), (name, value)
    return "".join(parsed.text)


_HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)",
            '"><svg onload=alert(1)>', "<a href='javascript:alert(1)'>x</a>", "&lt;b&gt;", "&#x3C;script&#x3E;",
            "<!-- x -->", "<![CDATA[x]]>", "<?xml x?>", "</math><script>alert(1)</script>", "'\"&"]


@pytest.mark.parametrize("hostile", _HOSTILE)
@pytest.mark.parametrize("command", [r"\text", r"\mathrm", r"\operatorname", r"\textbf", r"\mbox"])
def test_markup_inside_latex_text_is_shown_as_text_never_built(command: str, hostile: str) -> None:
    markup = formula(f"{command}{{{hostile}}}")
    shown = _assert_inert(markup)
    ElementTree.fromstring(f"<root>{markup}</root>")
    if command == r"\text" and "&#" not in hostile:  # a character reference is read as its character
        assert shown.replace("\xa0", " ") == hostile


@pytest.mark.parametrize("latex", [r"\href{javascript:alert(1)}{x}", r"\url{javascript:alert(1)}",
                                   r"\href{https://example.com}{x}", r"\style{background:url(javascript:alert(1))}{x}",
                                   r"\class{evil}{x}", r"\color{red; background:url(x)}{x}",
                                   r"\mathcolor{javascript:alert(1)}{x}"])
def test_links_and_style_in_latex_are_dropped_and_their_contents_kept(latex: str) -> None:
    markup = formula(latex)
    assert "href" not in markup and "class" not in markup and "url(" not in markup and "javascript" not in markup
    _assert_inert(markup)


def test_words_and_formulas_of_a_derivation_are_escaped() -> None:
    hostile = "<img src=x onerror=alert(1)>"
    markup = derivation([[(r"&" + text_latex(hostile), hostile),
                          (r"J &= \text{" + hostile + "} + x", ""), (r"&\text{" + hostile + r"} + x", "")]])
    assert _assert_inert(markup).replace("\xa0", " ").count(hostile) == 3
    ElementTree.fromstring(f"<root>{markup}</root>")


_PIECES = [r"\text{", r"\mathrm{", r"\href{", r"\url{", r"\style{", r"\class{", r"\color{", r"\operatorname{",
           r"\unicode{", r"\textbf{", r"\mbox{", "{", "}", r"\frac", "^", "_", "&", r"\\", r"\begin{matrix}",
           r"\end{matrix}", r"\left(", r"\right)", "x", "12", " ", r"\alpha", r"\&", "#", "%", "~"] + _HOSTILE


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=25))
def test_no_latex_builds_an_element_or_attribute_outside_the_allowed_set(pieces: list[str]) -> None:
    """The family: random LaTeX with markup, links and script in every place a command takes text."""
    latex = "".join(pieces)
    for markup in (formula(latex), derivation([[(latex, ""), ("J &= " + latex, ""), ("&" + latex, "")]])):
        _assert_inert(markup)
        ElementTree.fromstring(f"<root>{markup}</root>")


@pytest.mark.parametrize("cell", ["α = x*ü\nβ = α**2 + sin(ü)", "θ = x*y\nω = exp(θ)*y"])
def test_a_panel_with_unicode_names_builds_only_inert_markup(cell: str) -> None:
    panel = jacobian(cell, chain=True, mode="both").widget()
    for position in range(panel.position.max + 1):
        for mode in ("reverse", "forward"):
            panel.position.value, panel.mode.value = position, mode
            for widget in _all_widgets(panel):
                if isinstance(widget, widgets.HTML):
                    _assert_inert(widget.value)
