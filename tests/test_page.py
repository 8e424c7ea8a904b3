"""Fitting formulas to the page: the width estimate orders formulas as a typesetter would, and a long expression
is broken into lines that each fit, between terms, then between factors, keeping every term."""

from __future__ import annotations

import re
from itertools import zip_longest

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jacmagic import JacobianResult, jacobian
from jacmagic.notation import latex
from jacmagic.views.displays import blocks, to_latex, words
from jacmagic.views.mathml import formula
from jacmagic.views.page import MAX_EMS, broken, cell_widths, columns, equalities, fits, width
from jacmagic.views.render import result_groups

from .test_properties import VARIABLES, Formula, formulas, points

x, y, w1, w2, b = sp.symbols("x y w1 w2 b")


def test_width_follows_the_typeset_layout_not_the_length_of_the_source() -> None:
    assert width(r"\left(x\right)") < width("xyz")  # \left( is one narrow glyph
    assert width(r"\frac{x + y}{2}") == width(r"x + y") + 0.3  # a fraction is as wide as its wider part
    assert width(r"x_{123}") < width("x123")  # scripts are smaller
    two_columns = width(r"\left[\begin{matrix}x + y & 1 \\ 1 & x\end{matrix}\right]")
    assert width("x + y") + width("1") < two_columns < width("x + y") + width("1") + width("x") + 2
    assert width(r"\text{a few words}") < width("a few words")


def test_a_long_determinant_breaks_between_terms_then_factors() -> None:
    result = jacobian("a1 = tanh(w11*x1 + w12*x2 + b1)\na2 = tanh(w21*x1 + w22*x2 + b2)", wrt="x1,x2", det=True)
    lines = broken(r"\det J", result.symbolic.symbolic_det, latex)
    assert len(lines) >= 2 and lines[0].startswith(r"\det J &= ") and all(ln.startswith(r"&\quad ") for ln in lines[1:])
    assert all(fits(ln) for ln in lines)
    assert sum(ln.count(r"\tanh") for ln in lines) == 4
    product = sp.Mul(*[1 - sp.tanh(w1 * x + w2 * y + b + k) ** 2 for k in range(4)])
    lines = broken("p", product, latex)
    assert len(lines) >= 2 and all(fits(ln) for ln in lines)
    assert all(ln.startswith(r"&\quad \cdot ") for ln in lines[1:])  # a product continued shows its dot


def test_a_short_expression_stays_on_one_line() -> None:
    assert broken("f", x + y, latex) == ["f &= x + y"]


_TERMS = st.lists(st.tuples(st.integers(-3, 3).filter(bool), st.sampled_from([x, y, w1, w2]),
                            st.sampled_from([sp.tanh, sp.sin, sp.exp])), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(_TERMS, st.booleans())
def test_every_line_fits_and_every_term_is_kept(terms: list[tuple[int, sp.Symbol, object]], product: bool) -> None:
    inner = sum(c * f(s * w1 + b) for c, s, f in terms)  # type: ignore[operator]
    expression = (x * w2 * sp.tanh(w1 * x + b) * inner) if product else inner
    lines = broken(r"\frac{\partial L}{\partial W}", expression, latex)
    assert all(fits(ln) for ln in lines), [round(width(ln), 1) for ln in lines]
    written = " ".join(lines)
    for function in ("tanh", "sin", "exp"):
        assert written.count(f"\\{function}") == latex(expression).count(f"\\{function}")
    assert written.count(r"\left(") == written.count(r"\right)") + written.count(r"\right.") - \
        written.count(r"\left.")  # every parenthesis opened is closed (invisibly where a line breaks)


def test_the_demo_results_fit_the_page() -> None:
    """The two formulas the browser found too wide for a 1000 px JupyterLab window, now within MAX_EMS."""
    cells = ["a1 = tanh(w11*x1 + w12*x2 + b1)\na2 = tanh(w21*x1 + w22*x2 + b2)",
             "z = 0.5*x1 - 1.2*x2\nlayer1 = tanh(z)\nlayer2 = sigmoid(z)"]
    for cell in cells:
        result = to_latex(jacobian(cell, wrt="x1,x2", det=True).symbolic)
        formulas = "\n".join(line for line in result.split("\n") if line.startswith("$"))  # not the lines of words
        shown = re.sub(r"\$\\displaystyle \\begin\{aligned\}|\\end\{aligned\}\$", "", formulas)
        rows = re.split(r" \\\\ |\n", shown)
        assert all(width(r) <= MAX_EMS for r in rows), [round(width(r)) for r in rows]


def test_a_wide_left_side_and_a_wide_right_side_go_to_different_displays() -> None:
    wide_left = (r"J\,\Big|_{" + r",\ ".join(f"w_{{{k}}} = 0.{k}" for k in range(7)) + r"} &= 1", "")
    wide_right = (r"\det J &= " + " + ".join(rf"\tanh{{\left(x_{{{k}}} \right)}}" for k in range(4)), "")
    assert fits(wide_left[0]) and fits(wide_right[0])
    assert len(blocks([[wide_left, wide_right]])) == 2
    assert len(blocks([[wide_left, ("y &= 2", "")]])) == 1


def test_a_row_of_numbers_too_wide_for_the_page_continues_its_columns_below() -> None:
    values = np.linspace(-1.234567, 2.345678, 13)[None, :]
    result = jacobian("L = " + " + ".join(f"{v:.6f}*x{k}" for k, v in enumerate(values[0])),
                      at={f"x{k}": 1.0 for k in range(13)})
    shown = to_latex(result.symbolic)
    rows = [r for r in re.split(r" \\\\ |\n", shown) if "0.5" in r or r"\left." in r or r"\right." in r]
    assert any(r.startswith(r"&\quad \left.") for r in rows)  # continued
    assert all(width(re.sub(r"\$\\displaystyle \\begin\{aligned\}|\\end\{aligned\}\$", "", r)) <= MAX_EMS for r in rows)
    written = " ".join(rows)
    for k in [*range(8), 11, 12]:  # the window: the first 8 and last 2 columns
        assert f"{values[0, k]:.6g}" in written


def _displays(result: JacobianResult) -> list[list[str]]:
    """Each display's aligned formula rows, as the notebook receives them (rows of words are text outside them)."""
    return [[latex for latex, _ in rows if words(latex) is None]
            for rows in blocks(result_groups(result.symbolic))]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(formulas, min_size=1, max_size=3), points, st.booleans())
def test_every_display_of_a_random_map_fits_the_page(outputs: list[Formula], point: list[float], det: bool) -> None:
    """The family of the demos' overflows: any map, with or without --det and a point, typesets no display wider
    than the page, unless it is a single row that cannot be cut (one function of a long argument)."""
    cell = "f(x, y, z) = [" + ", ".join(o.text for o in outputs) + "]"
    result = jacobian(cell, simplify="none", det=det and len(outputs) == 3, at=dict(zip(VARIABLES, point)))
    for rows in _displays(result):
        columns = [max(ws) for ws in zip_longest(*(cell_widths(r) for r in rows), fillvalue=0.0)]
        assert sum(columns) <= MAX_EMS or len(rows) == 1, (cell, [round(sum(cell_widths(r))) for r in rows])


_LATEX_TOKENS = [r"\frac", "{", "}", "^", "_", "&", r"\\", r"\begin{matrix}", r"\end{matrix}", r"\left(", r"\right.",
                 "x", "12", r"\text{a b}", " ", r"\sqrt", r"\tanh", r"\{", r"\operatorname", r"\cdot"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_LATEX_TOKENS), max_size=30))
def test_any_latex_is_measured_cut_and_converted_without_an_error(tokens: list[str]) -> None:
    """Unbalanced braces, an environment never closed, a command without its argument: a width, columns and MathML
    all the same (a panel must never fail on its formulas)."""
    latex = "".join(tokens)
    assert width(latex) >= -1 and "".join(columns(latex)).count("&") <= latex.count("&")
    assert formula(latex).startswith("<math")


def _rows(groups: list[list[tuple[str, str]]]) -> list[str]:
    return [latex for display in blocks(groups) for latex, _ in display]


def test_a_chain_of_equalities_too_wide_for_the_page_continues_an_equality_a_line() -> None:
    """Demo 01's gradient at a 560 px output area: J = ∂g/∂(x, y, z) = [∂g/∂x ...] = [yz + ze^(xz) ...] typeset
    616 px wide; the matrix of entries goes on the next line, the text stays with the first."""
    row = (r"J = \frac{\partial g}{\partial \left(x, y, z\right)} &= \left[\begin{matrix}\frac{\partial g}{\partial x}"
           r" & \frac{\partial g}{\partial y} & \frac{\partial g}{\partial z}\end{matrix}\right] = \left[\begin{matrix}"
           r"y z + z e^{x z} & x z & x y + x e^{x z}\end{matrix}\right]", "J = ...")
    shown = blocks([[row]])
    rows = [r for display in shown for r in display]
    assert [r[1] for r in rows] == ["J = ...", ""] and rows[1][0].startswith(r"&= \left[\begin{matrix}y z")
    assert all(fits("".join(columns(r[0]))) for r in rows)


def test_only_top_level_marks_cut_a_row() -> None:
    chain = r"= \left[\begin{matrix}a = b & c\end{matrix}\right] = \text{x = y} = c_{i=1} \ne d"
    assert [p.strip() for p in equalities(chain)] == ["", r"\left[\begin{matrix}a = b & c\end{matrix}\right]",
                                                      r"\text{x = y}", r"c_{i=1} \ne d"]
    assert columns(r"x &= \left[\begin{matrix}a & b\end{matrix}\right]") == ["x ", r"= \left[\begin{matrix}a & b"
                                                                                   r"\end{matrix}\right]"]


@pytest.mark.parametrize("cell", ["z = w*x + b\na = sigmoid(z)\nL = (a - t)**2",
                                  "g(x1, x2) = [x1*x2, x1 + x2]\nh(u, v) = [sin(u)*v]",
                                  "W: 2x2\nx: 2\nh = tanh(W @ x)\nL = sum(h**2)"])
def test_every_table_and_line_of_a_panel_may_scroll_in_its_own_box(cell: str) -> None:
    """A panel's numbers never need more width than the output area: on every page, in each mode, each table and
    each step line is a box of its own that scrolls sideways where it is wider, and the panel's HTML widgets may
    shrink (min-width 0)."""
    panel = jacobian(cell, chain=True, mode="both").widget()
    tables: list[str] = []
    for position in range(panel.position.max + 1):
        for mode in ("reverse", "forward"):
            panel.position.value, panel.mode.value = position, mode
            tables += re.findall(r"(.{0,40})<table", panel.detail.value)
            lines = re.sub(r"^.*?<div class=\"jacmagic-step\">", "", panel.detail.value, flags=re.S)
            assert lines.startswith('<div class="jacmagic-scroll">')
            assert ".jacmagic-scroll{overflow-x:auto" in panel.detail.value and "min-width:0" in panel.detail.value
    assert tables and all(t.endswith('<div class="jacmagic-scroll">') for t in tables), tables
    for html_part in (panel.detail, panel.picture):
        assert "jacmagic-html" in html_part._dom_classes


# The shortcut (issue 27): a line made of measured parts adds their widths where they join cleanly, instead of
# walking the joined LaTeX. Each split of any LaTeX (unbalanced, scripts on the join, a command name running into
# letters, a lone backslash) must give the joined LaTeX's width exactly.

_JOIN_TOKENS = [*_LATEX_TOKENS, "\\", "a", r"\text{", "b}", r"x_{1}", "^{2}", r"\quad", " = ", "= "]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(_JOIN_TOKENS), max_size=20), st.lists(st.integers(0, 20), max_size=3))
def test_the_width_of_parts_is_the_width_of_the_joined_latex(tokens: list[str], cuts: list[int]) -> None:
    latex = "".join(tokens)
    at = sorted({min(c, len(tokens)) for c in cuts})
    parts = ["".join(tokens[a:b]) for a, b in zip([0, *at], [*at, len(tokens)])]
    assert width(*parts) == width(latex)
    assert fits(*parts) == fits(latex)


def test_the_width_of_the_rows_of_a_map_is_the_width_of_the_joined_latex() -> None:
    """The rows of the benchmark's 10 x 10 map, each measured as displays.blocks cuts it."""
    names = [f"x{i}" for i in range(10)]
    rows = [f"sin(x{i})*x{(i + 1) % 10}**2 + exp(x{(i - 1) % 10}/10) + x{i}*x{(i + 3) % 10} - cos(x{(i + 5) % 10})*x{i}"
            for i in range(10)]
    groups = result_groups(jacobian(f"f({', '.join(names)}) = [{', '.join(rows)}]").symbolic)
    lines = [line for group in groups for line, _ in group if "&=" in line]
    assert len(lines) > 40
    for line in lines:
        assert width(*columns(line)) == width("".join(columns(line)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.lists(st.sampled_from(_LATEX_TOKENS), max_size=6).map("".join), min_size=1,
                         max_size=4), min_size=1, max_size=4),
       st.sampled_from(["", "= ", r"\quad ", "J = "]))
def test_a_matrix_measured_from_its_entries_is_as_wide_as_its_latex_walked_whole(cells: list[list[str]],
                                                                                  lead: str) -> None:
    """Issue 27: a matrix's width is added up from its entries' (each measured once, for the rows that show them
    too), to the last bit the walk's of the whole LaTeX, or walked whole where an entry breaks rows or columns."""
    from jacmagic.views.page import _Reader, matrix

    whole = matrix(cells)
    walked = _Reader(lead + whole).measure()
    assert width(lead, whole) == width(lead + whole) == sum(walked.items, 0.0) or not walked.closed
    assert width("= " + whole) == sum(_Reader("= " + whole).measure().items, 0.0)


_CUT_TOKENS = ["&", "=", "{", "}", r"\begin{matrix}", r"\end{matrix}", r"\begin{a&b}", r"\&", "\\", "x", r"\frac", " "]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_CUT_TOKENS), max_size=14).map("".join), st.sampled_from(["&", "="]))
def test_a_row_with_one_mark_is_cut_as_reading_it_all_cuts_it(latex: str, mark: str) -> None:
    """Issue 27: where the mark occurs once, only the text before it is read, with the same cells."""
    from jacmagic.views.page import _cut, _scanned

    assert _cut(latex, mark) == _scanned(latex, mark)


# Issue 27's display: a derivative's fraction measured from its parts, LaTeX with spaces after it measured as the
# LaTeX, and the scan for marks reading past command names: each must be what the walk of the whole gives.

def _walked(latex: str) -> object:
    from jacmagic.views.page import _Reader

    return _Reader(latex).measure()


@settings(max_examples=600, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_JOIN_TOKENS), max_size=5).map("".join), max_size=3),
       st.lists(st.lists(st.sampled_from(_JOIN_TOKENS), max_size=5).map("".join), max_size=3))
def test_a_fraction_measured_from_its_parts_is_its_walk(numerator: list[str], denominator: list[str]) -> None:
    from jacmagic.views.page import _MEASURES, _measured, fraction

    latex = r"\frac{" + "".join(numerator) + "}{" + "".join(denominator) + "}"
    _MEASURES.pop(latex, None)
    assert fraction(numerator, denominator) == latex
    assert _measured(latex) == _walked(latex)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_JOIN_TOKENS), max_size=12).map("".join), st.sampled_from([" ", "  ", "\n", " \t"]))
def test_spaces_after_measured_latex_measure_as_their_walk(latex: str, spaces: str) -> None:
    from jacmagic.views.page import _MEASURES, _measured

    _measured(latex)
    _MEASURES.pop(latex + spaces, None)
    assert _measured(latex + spaces) == _walked(latex + spaces)


def test_the_partial_derivatives_of_a_map_are_measured_as_their_walk() -> None:
    """The symbols of the 10 x 10 map's entries (∂f₁/∂(s₈)₅, fractions of measured names) and the rows they
    start, as blocks measures them."""
    from jacmagic.views.page import _MEASURES, _added, _measured

    names = [f"s8_{i}" for i in range(4)]
    outputs = ", ".join(f"{a}*{b}**2 + sin({b})" for a, b in zip(names, names[1:] + names[:1]))
    groups = result_groups(jacobian(f"f({', '.join(names)}) = [{outputs}]").symbolic)
    lines = [line for group in groups for line, _ in group if line.startswith(r"\frac{\partial")]
    assert len(lines) >= 8
    for line in lines:
        lhs = columns(line)[0]
        assert _measured(lhs) == _walked(lhs) and _measured(lhs.rstrip()) == _walked(lhs.rstrip())
        assert lhs.rstrip() in _MEASURES and _added(_walked(lhs).items) == width(lhs)


_SCAN_TOKENS = [*_CUT_TOKENS, "\\\\", r"\{", r"\}", r"\left(", "\n", "\\\n", r"\begin", r"\end", r"\=", "}{", "matrix}"]
_FULL_SCAN = re.compile(r"\\begin\{[^}]*\}|\\end\{[^}]*\}|\\.|[{}&=]")  # every backslash escape a match of its own


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(_SCAN_TOKENS), max_size=16).map("".join), st.sampled_from(["&", "="]))
def test_the_scan_for_marks_reads_past_commands_as_reading_every_escape_does(latex: str, mark: str) -> None:
    """Issue 27: the scan matches only the escapes that count (of a brace, a mark, a backslash); the cells are those
    of a scan that reads every backslash and the character after it."""
    from jacmagic.views.page import _scanned

    assert _scanned(latex, mark) == _scanned(latex, mark, _FULL_SCAN)
