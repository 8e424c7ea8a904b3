"""The text form of a result (str(R), a display's text/plain, terminal IPython, the command line) never draws a 2-D
block wider than its width: a wide Jacobian, Hessian, matrix of numbers or determinant is written entry by entry, as
the LaTeX writes a matrix too wide for the page, and each printed entry is the entry of the matrix."""

from __future__ import annotations

import random
import re
from functools import cache

import numpy as np
import pytest
import sympy as sp

from jacmagic import jacobian
from jacmagic.notation import pretty
from jacmagic.views import render
from jacmagic.views.formulas import art_least, cut_by_words, text_lines

_DIGITS = str.maketrans("₀₁₂₃₄₅₆₇₈₉⁰¹²³⁴⁵⁶⁷⁸⁹", "01234567890123456789")


def _map(m: int, n: int, seed: int) -> str:
    """An m x n map of the plain forms, some rows long: the sum of all the inputs times a sine (its partials are
    long sums), products, powers, exp of a fraction, cosines of sums."""
    rng = random.Random(seed)
    xs = [f"x{j}" for j in range(n)]
    every = " + ".join(xs)
    forms = [lambda: f"({every})*sin({rng.choice(xs)})", lambda: f"{rng.choice(xs)}*{rng.choice(xs)}**3",
             lambda: f"exp({rng.choice(xs)}/10)*{rng.choice(xs)}", lambda: f"cos({rng.choice(xs)} + {rng.choice(xs)})",
             lambda: f"{rng.randint(2, 9)}*{rng.choice(xs)}*sin({rng.choice(xs)})"]
    rows = [" + ".join(rng.choice(forms)() for _ in range(rng.randint(1, 3))) for _ in range(m)]
    return f"f({', '.join(xs)}) = [{', '.join(rows)}]"


def _parsed(text: str, names: dict[str, sp.Symbol]) -> sp.Expr:
    """A printed entry read back by sympy: subscripts and superscripts as digits and powers, · as *."""
    text = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹]+", lambda found: "**" + found.group().translate(_DIGITS), text)
    text = re.sub(r"[₀₁₂₃₄₅₆₇₈₉]+", lambda found: found.group().translate(_DIGITS), text)
    return sp.sympify(text.replace("·", "*").replace("−", "-"), locals=names)


def _entries(text: str) -> tuple[dict[str, str], int, list[tuple[str, str]]]:
    """The `name = value` lines of the text, their continuation lines joined back, the zeros it counts, and the
    names it defines (where u = ..., v = ...) in their order."""
    joined = re.sub(r"\n {4}", " ", text)
    shown = dict(re.findall(r"^(∂\S+/∂\S+) = (.+)$", joined, re.M))
    zeros = re.search(r"^\(the other (?:(\d+) shown entries are|shown entry is) 0\)$", joined, re.M)
    where = re.search(r"^where (.+)$", joined, re.M)
    names = [tuple(part.split(" = ", 1)) for part in re.split(r", (?=\w+ = )", where.group(1))] if where else []
    return shown, int(zeros.group(1) or 1) if zeros else 0, names  # type: ignore[misc]


SHAPES = [(m, n, seed) for seed, (m, n) in enumerate([(1, 12), (12, 1), (3, 12), (12, 3), (7, 9), (12, 12), (10, 5),
                                                       (5, 10), (2, 2), (1, 1), (4, 11), (11, 8)])]


@pytest.mark.parametrize(("m", "n", "seed"), SHAPES)
@pytest.mark.parametrize("width", [60, 100])
def test_no_text_line_of_a_wide_map_passes_the_terminal_width(m: int, n: int, seed: int, width: int,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "_terminal_width", lambda: width)
    text = str(jacobian(_map(m, n, seed)))
    assert max(map(len, text.split("\n"))) <= width, text


@pytest.mark.parametrize(("m", "n", "seed"), SHAPES)
def test_text_going_to_no_terminal_keeps_every_line_within_100_columns(m: int, n: int, seed: int) -> None:
    """A notebook's text/plain, an exported page, a file (as here, under pytest): the blocks and every line of words
    fit 100 columns (only the command line writing to a pipe leaves its lines whole: tests/test_text_everywhere.py)."""
    lines = str(jacobian(_map(m, n, seed))).split("\n")
    assert all(len(line) <= 100 for line in lines), "\n".join(lines)


@pytest.mark.parametrize(("m", "n", "seed"), SHAPES)
def test_each_entry_written_out_is_the_entry_of_the_matrix(m: int, n: int, seed: int,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "_terminal_width", lambda: 60)
    R = jacobian(_map(m, n, seed))
    text = str(R)
    shown, zeros, defined = _entries(text)
    if not shown:  # drawn whole: only a matrix that fits
        assert "⎡" in text or "[" in text
        return
    assert re.search(r"^J = \(too wide for a line( even with names)?: entry by entry below\)$",
                     re.sub(r"\n {4}", " ", text), re.M)
    names = {symbol.name: symbol for symbol in R.inputs} | {name: sp.Symbol(name) for name, _ in defined}
    definitions = [(names[name], _parsed(definition, names)) for name, definition in reversed(defined)]
    rng = np.random.default_rng(seed)
    for i, output in enumerate(R.outputs):
        for j, variable in enumerate(R.inputs):
            entry = R.matrix[i, j]
            key = f"∂{pretty(output)}/∂{pretty(variable)}"
            if key not in shown:
                assert entry == 0, key
                continue
            printed = _parsed(shown[key], names)
            for name, definition in definitions:  # the later names are built on the earlier ones
                printed = printed.subs(name, definition)
            for _ in range(3):
                point = dict(zip(R.inputs, rng.uniform(-2, 2, n)))
                assert float(printed.subs(point)) == pytest.approx(float(entry.subs(point)), rel=1e-9, abs=1e-9)
    assert zeros == m * n - len(shown)


@pytest.mark.parametrize("cell", ["x = r*cos(theta)\ny = r*sin(theta)", "f(x, y) = [x**2*y, 5*x + sin(y)]",
                                  "f(x, y, z) = [x*y*z, x + y + z, exp(x)*sin(z)]"])
def test_a_small_jacobian_is_still_drawn_whole_as_sympy_draws_it(cell: str) -> None:
    R = jacobian(cell)
    art = sp.pretty(sp.Matrix(R.matrix), use_unicode=True, wrap_line=False).split("\n")
    lines = str(R).split("\n")
    assert [line[4:] for line in lines[1:1 + len(art)]] == art and "entry by entry" not in str(R)


def test_wide_numbers_hessians_and_determinant_are_written_entry_by_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """--at, --hessian and --det each draw a 2-D block in the text; too wide, each is written out too."""
    monkeypatch.setattr(render, "_terminal_width", lambda: 60)
    cell = "f(x0, x1, x2, x3, x4, x5, x6, x7) = [" + ", ".join(
        f"sin(x{i})*x{(i + 1) % 8}**2*exp(x{(i + 2) % 8}/7) + x{(i + 3) % 8}" for i in range(8)) + "]"
    point = {f"x{j}": 0.1 * j + 0.3 for j in range(8)}
    R = jacobian(cell, at=point, hessian=True)
    text = str(R)
    assert max(map(len, text.split("\n"))) <= 60, text
    at = dict(re.findall(r"^(∂f\S*/∂\S+) = (-?[\d.e+-]+)$", text, re.M))
    values = np.array(R.matrix.subs({sp.Symbol(k, real=True): v for k, v in point.items()}), dtype=float)
    for i, output in enumerate(R.outputs):
        for j, variable in enumerate(R.inputs):
            key = f"∂{pretty(output)}/∂{pretty(variable)}"
            assert float(at.get(key, 0)) == pytest.approx(values[i, j], rel=1e-5, abs=1e-9), key
    assert re.search(r"^∂²f₁/∂x₀² = ", text, re.M) and re.search(r"^∂²f₁/∂x₀∂x₁ = ", text, re.M)
    det = "f(a, b, c) = [a*sin(b)*exp(c/3) + b**3*c, a**2*cos(c) + b*c*exp(a/5), c*a*b + sin(a)*b**2*c**3]"
    monkeypatch.setattr(render, "_terminal_width", lambda: 40)
    R = jacobian(det, det=True)
    text = str(R)
    assert max(map(len, text.split("\n"))) <= 40, text
    written = re.sub(r"\n {4}", " ", text).split("det J = ")[1].split("\n")[0]
    names = {symbol.name: symbol for symbol in R.inputs}
    point = dict(zip(R.inputs, (0.3, -0.7, 1.1)))
    assert float(_parsed(written, names).subs(point)) == pytest.approx(float(sp.Matrix(R.matrix).det().subs(point)))


def _art_family() -> list[sp.Expr]:
    x, y, z = sp.symbols("x y z", real=True)
    u = sp.Symbol("u_1", real=True)
    return [x, -x, x / 10, -x * y / 3, x ** -2 * y, sp.sqrt(x), x ** sp.Rational(2, 3), sp.exp(-x / 10) / 10,
            sp.sin(x) ** 2 * sp.cos(y) + z - sp.cos(x), 1 / (x + y), sp.Abs(x) * sp.sign(y), sp.Heaviside(u),
            sp.Piecewise((x * y, x > 0), (0, True)), sp.log(x + y) * sp.tanh(z) ** 3, 12345 * x * y ** 11,
            (x + y) ** 2 * sp.exp(x * y / 7), sp.atan2(y, x), x ** y, sp.Float(0.125) * x, sp.Rational(7, 1000)]


@pytest.mark.parametrize("expr", _art_family(), ids=str)
def test_the_width_known_without_drawing_never_passes_the_drawn_width(expr: sp.Expr) -> None:
    """The bound that lets a wide matrix skip sympy's art (tens of ms for 10 x 10) is a lower bound."""
    assert art_least(expr) <= max(map(len, pretty(expr).split("\n")))


@pytest.mark.parametrize("width", [40, 60, 100])
def test_a_long_line_is_continued_under_its_indent_with_every_character_kept(width: int) -> None:
    line = "∂f₁/∂x₀ = " + " + ".join(f"x₁{k}·sin(x₀·x₂{k})" for k in range(20)) + "·" + "y" * 120
    parts = text_lines(line, width)
    assert all(len(part) <= width for part in parts) and all(part.startswith("    ") for part in parts[1:])
    assert "".join(part.removeprefix("    ") for part in parts).replace(" ", "") == line.replace(" ", "")


def test_a_long_entry_of_a_big_matrix_is_written_whole_never_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """A matrix past 12 rows was drawn a row per line with each entry cut after 60 characters and "…", no note
    saying so (found by review): now a row too wide goes entry by entry, each entry whole, read back equal."""
    monkeypatch.setattr(render, "_terminal_width", lambda: 100)
    outputs = ["x**2"] * 12 + ["sin(x)*cos(2*x)*exp(x)*log(1 + x**2)*atan(x)"]  # no function squared in J
    R = jacobian("f(x) = [" + ", ".join(outputs) + "]")
    shown, _, _ = _entries(str(R))
    x = R.inputs[0]
    assert "…" not in shown["∂f₁₃/∂x"]
    printed = _parsed(shown["∂f₁₃/∂x"], {"x": x})
    for value in (0.3, 1.1, -0.7):
        assert abs(float(printed.subs(x, value)) - float(R.matrix[12, 0].subs(x, value))) < 1e-12


# -- the sparsity picture's words, and str(R) after the terminal changes -------------------------------------------

class _Terminal:
    """What render sees of a process writing to a terminal: sys.__stdout__ is one, COLUMNS gives its width."""

    def isatty(self) -> bool:
        return True


def _laplacian(n: int) -> str:
    names = [f"u{i}" for i in range(n)]
    return f"f({', '.join(names)}) = [" + ", ".join(f"{names[i - 1]} - 2*{names[i]} + {names[(i + 1) % n]}"
                                                    for i in range(n)) + "]"


@pytest.mark.parametrize("n", [13, 30])
@pytest.mark.parametrize("width", [40, 57, 100, 200])
def test_the_sparsity_pictures_text_keeps_to_the_terminal_width(n: int, width: int,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The review's find: `sparsity: 90 of 900 entries are not identically zero`, the text/plain a terminal shows
    beside the picture, stayed one line at any width. Every display of a big map keeps to the width, every word
    kept."""
    from jacmagic.panels.widgets import displays

    monkeypatch.setattr(render, "_terminal_width", lambda: width)
    shown = [d for d in displays(jacobian(_laplacian(n)).symbolic) if isinstance(d, dict)]
    sparsity = next(d["text/plain"] for d in shown if "image/svg+xml" in d)
    assert re.sub(r"\n {4}", " ", sparsity) == f"sparsity: {3 * n} of {n * n} entries are not identically zero"
    assert all(len(line) <= width for d in shown for line in d["text/plain"].split("\n")), width


@cache
def _sparse(rows: int, cols: int, step: int) -> sp.SparseMatrix:
    """A matrix of `rows` nonzero entries, one a row: the sparsity's words as long as a big map's."""
    return sp.SparseMatrix(rows, cols, {(i, (i * step) % cols): 1 for i in range(rows)})


@pytest.mark.parametrize("width", range(40, 201))
def test_the_sparsity_text_of_any_size_keeps_to_any_width(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from jacmagic.views.graph import sparsity_display

    monkeypatch.setattr(render, "_terminal_width", lambda: width)
    for rows, cols, step in [(13, 13, 1), (120, 100, 7), (2000, 1000, 3), (12345, 2, 1)]:
        text = sparsity_display(_sparse(rows, cols, step))["text/plain"]
        assert all(len(line) <= width for line in text.split("\n")), (width, rows, cols, text)
        assert re.sub(r"\n {4}", " ", text) == f"sparsity: {rows:,} of {rows * cols:,} entries are not identically zero"


def test_str_of_a_result_follows_columns_from_one_print_to_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    """The review's find: str(R) kept the width of its first print (cached), so a terminal widened from 60 to 120
    columns still showed the 60-column layout. Now each print lays out at the width of its moment, as a result
    made at that width would; each width is laid out once (the second 60 and 120 are the first ones again)."""
    cell = _map(12, 12, 5)
    monkeypatch.setattr(render.sys, "__stdout__", _Terminal())
    laid_out = []
    groups = render.result_groups
    monkeypatch.setattr(render, "result_groups", lambda result: laid_out.append(1) or groups(result))
    R = jacobian(cell)
    texts = {}
    for columns in (60, 120, 60, 120):
        monkeypatch.setenv("COLUMNS", str(columns))
        texts.setdefault(columns, str(R))
        assert str(R) == texts[columns] == str(jacobian(cell)), columns
    assert len(laid_out) == 2 + 4  # one per width for R, one per fresh result
    assert max(map(len, texts[60].split("\n"))) <= 60 < max(map(len, texts[120].split("\n"))) <= 120


@pytest.mark.parametrize(("m", "n", "seed"), SHAPES[:6])
def test_str_of_a_result_at_a_run_of_widths_is_each_widths_own_layout(m: int, n: int, seed: int,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The same result printed at widths in a random order (a terminal resized back and forth) is, each time, the
    layout of that width drawn afresh, and keeps to it; to a pipe (lines whole) the lines are left whole."""
    R = jacobian(_map(m, n, seed))
    widths = random.Random(seed).sample(range(40, 201), 12)
    for width in widths + widths[:3]:
        monkeypatch.setattr(render, "_terminal_width", lambda width=width: width)
        text = str(R)
        assert text == render.to_text(R.symbolic) and max(map(len, text.split("\n"))) <= width, width
        with render.lines_whole():
            assert str(R) == render.to_text(R.symbolic), width


def test_a_line_that_fits_is_kept_as_cutting_it_word_by_word_keeps_it() -> None:
    """Issue 27: a line within the width is returned whole without being cut into words; the same lines."""
    rng = random.Random(27)
    for _ in range(3000):
        parts = ["a", "bc", " ", "  ", "·", ",", "(", "x₁²", "\n", "- "]
        line = "".join(rng.choice(parts) for _ in range(rng.randint(0, 40)))
        width = rng.randint(10, 60)  # the cutting needs room past its indent
        assert text_lines(line, width) == cut_by_words(line, width), (line, width)
