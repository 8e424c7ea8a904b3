"""The panels' formulas as MathML: every row of every derivation converted (no LaTeX source left for a reader to
decode), words outside the math, well-formed markup, and nothing in a panel waiting for the host's MathJax."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import ipywidgets as widgets
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jacmagic import NetworkResult, jacobian
from jacmagic.displays import words
from jacmagic.errors import CellError
from jacmagic.mathml import derivation, formula
from jacmagic.network_view import walkthrough_groups
from jacmagic.page import columns
from jacmagic.render import chain_groups, result_groups, text_latex

from .helpers import read_aloud
from .test_modes import CASES
from .test_network import CELLS, _random_point
from .test_properties import VARIABLES, Formula, formulas, points


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


def _formula_rows(result: object) -> str:
    groups = walkthrough_groups(result, result.walked) if isinstance(result, NetworkResult) \
        else chain_groups(result)  # type: ignore[arg-type]
    return derivation(groups)


def _check_markup(markup: str) -> ElementTree.Element:
    """Well-formed, every formula converted: a LaTeX command left as source (\\foo) would show as text."""
    root = ElementTree.fromstring(f"<root>{markup}</root>")
    assert "\\" not in read_aloud(markup)
    return root


@pytest.mark.parametrize("cell", [c[0] for c in CASES] + CELLS)
def test_every_derivation_converts_every_formula_and_keeps_words_outside_the_math(cell: str) -> None:
    point = _random_point(jacobian(cell, chain=True)) if cell in CELLS else next(c[2] for c in CASES if c[0] == cell)
    result = jacobian(cell, chain=True, mode="both", at=point)
    root = _check_markup(_formula_rows(result))
    tables = root.findall(".//math")
    assert tables and all(t.find("mtable") is not None for t in tables)
    paragraphs = [d for d in root.iter("div") if d.text and not list(d)]
    assert any("reverse mode" in d.text for d in paragraphs)  # type: ignore[operator]
    assert not any("reverse mode" in "".join(t.itertext()) for t in tables)


def test_the_result_views_convert_too() -> None:
    for options in ({"det": True, "at": {"r": 1.0, "theta": 0.5}}, {"hessian": True}, {"partials": True}):
        result = jacobian("x = r*cos(theta)\ny = r*sin(theta)", **options)  # type: ignore[arg-type]
        _check_markup(derivation(result_groups(result)))


def test_latex_the_converter_cannot_read_stays_readable_source() -> None:
    assert "<mtext>x^</mtext>" in formula("x^")


def _all_widgets(widget: widgets.Widget) -> list[widgets.Widget]:
    return [widget, *(w for child in getattr(widget, "children", ()) for w in _all_widgets(child))]


@pytest.mark.parametrize("cell", [CASES[0][0], CELLS[1]])
def test_a_panel_shows_formulas_as_mathml_and_relies_on_no_host_typesetting(cell: str) -> None:
    point = next((c[2] for c in CASES if c[0] == cell), None)
    panel = jacobian(cell, chain=True, mode="both", at=point).widget()
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
        names = {symbol.name for symbol in jacobian(cell, chain=True).arguments}  # type: ignore[union-attr]
    except CellError:  # no variable left: the formulas were numbers
        assume(False)
    at = {name: value for name, value in zip(VARIABLES, point) if name in names}
    result = jacobian(cell, chain=True, mode="both", at=at)
    _check_markup(_formula_rows(result))
