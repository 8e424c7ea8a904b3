"""LaTeX that MathJax 3 and KaTeX both typeset, names as mathematicians write them, and readable text."""

from __future__ import annotations

import re

import pytest

from jacmagic import JacobianResult, jacobian
from jacmagic.views.formulas import text_latex
from jacmagic.views.numbers import number_latex
from jacmagic.views.render import lines_whole, wrapped

from .helpers import joined_words

FORBIDDEN = [r"\eqnarray", r"\tag", r"\newcommand", r"\DeclareMathOperator", r"\begin{equation", r"\label"]
ALLOWED_ENVIRONMENTS = {"matrix", "bmatrix", "pmatrix", "array", "aligned"}


def check_portable(latex: str) -> None:
    """Each line a formula `$\\displaystyle ...$` or a line of words (LaTeX text, no math in it)."""
    lines = latex.split("\n")
    formulas = [line for line in lines if line.startswith("$")]
    assert formulas and all(f.startswith(r"$\displaystyle ") and f.endswith("$") for f in formulas)
    assert not any(re.search(r"(?<!\\)\$", line) for line in lines if not line.startswith("$"))
    assert not any(bad in latex for bad in FORBIDDEN)
    assert set(re.findall(r"\\begin\{(\w+)\}", latex)) <= ALLOWED_ENVIRONMENTS
    assert latex.count("{") == latex.count("}")
    assert latex.count(r"\left") == latex.count(r"\right")


@pytest.mark.parametrize("options", [{}, {"det": True}, {"partials": True}, {"at": {"r": 1, "theta": 0.5}},
                                     {"det": True, "at": {"r": 0, "theta": 0}, "check": True}])
def test_polar_latex_is_portable(options: dict) -> None:
    result = jacobian("x = r*cos(theta)\ny = r*sin(theta)", **options)
    check_portable(result.latex())
    assert r"\frac{\partial \left(x, y\right)}{\partial \left(r, \theta\right)}" in result.latex()
    assert "rows: outputs, columns: inputs" in result.latex()


def test_names_render_as_mathematicians_write_them() -> None:
    latex = jacobian("f(theta, x1, w_12) = theta*x1*w_12").latex()
    assert r"\theta" in latex and "x_{1}" in latex and "w_{12}" in latex


def test_activations_have_their_own_names() -> None:
    result = jacobian("f(z) = [sigmoid(z), relu(z), softplus(z)]")
    latex = result.latex()
    assert r"\sigma\left(z\right)" in latex and r"\operatorname{H}\left(z\right)" in latex
    assert "σ(z)" in str(result) and "H(z)" in str(result)
    check_portable(latex)


def test_partials_show_the_textbook_symbols() -> None:
    result = jacobian("x = r*cos(theta)\ny = r*sin(theta)", partials=True)
    assert r"\frac{\partial x}{\partial r} & \frac{\partial x}{\partial \theta}" in result.latex()
    assert "∂y/∂θ" in str(result)


def test_text_fallback_is_readable() -> None:
    text = str(jacobian("x = r*cos(theta)\ny = r*sin(theta)", det=True))
    assert "J = ∂(x, y)/∂(r, θ)" in text
    assert "det J = r" in text
    assert "cos(θ)" in text


def test_undefined_values_are_said() -> None:
    result = jacobian("f(x, y) = [x/y, y]", at={"x": 1, "y": 0})
    assert "undefined" in result.latex() and "division by zero" in joined_words(result.latex())
    assert "undefined" in str(result)


def test_words_and_numbers_are_escaped() -> None:
    assert text_latex("a_b & 50%") == r"\text{a\_b \& 50\%}"
    assert number_latex(1.5e-7) == r"1.5 \cdot 10^{-7}"
    assert number_latex(float("nan")) == r"\text{undefined}"


def test_a_jacobian_too_wide_for_a_line_even_with_names_is_written_entry_by_entry() -> None:
    """A row of the matrix that would typeset wider than the page (about 900 px) even with its repeated parts
    named becomes one line per entry, ∂f_i/∂x_j = ... in the names, the zeros left out and counted; narrow
    matrices stay matrices."""
    from jacmagic import jacobian

    weights = ", ".join(f"w{k}" for k in range(6))
    wide = jacobian(f"f({weights}, x0, x1, x2, x3, x4, x5) = tanh({' + '.join(f'w{k}*x{k}' for k in range(6))})"
                    ).latex()
    assert r"\frac{\partial f}{\partial w_{0}} &= x_{0} \left(1 - t^{2}\right)" in wide
    assert r"\begin{matrix}" not in wide
    assert "too wide for a line even with names: entry by entry below" in joined_words(wide)
    assert r"\text{where}\ u = " in wide
    sparse = jacobian("f(x, y, z) = [exp(sin(x*y + z**2 + y)) * cosh(x - y), z]").latex()
    assert "(the other 2 shown entries are 0)" in sparse
    assert r"\begin{matrix}" in jacobian("f(x, y) = [x*y, x + y]").latex()
    assert max(len(row) for row in re.split(r" \\\\ |\n", wide) if r"\text{where}" not in row) < 300


def test_a_wide_jacobian_with_repeated_parts_stays_a_matrix_in_the_cells_own_names() -> None:
    """Issue 24: too wide written out, the tanh neuron's gradient is [w₁(1 - t²) ...] where n = ..., t = tanh(n),
    the cell's own n (a neuron of one input: with two, even the named matrix is wider than a 550 px page)."""
    from jacmagic import jacobian

    result = jacobian("n = x1*w1 + b\no = tanh(n)")
    assert r"&= \left[\begin{matrix}w_{1} \left(1 - t^{2}\right)" in result.latex()
    assert r"\text{where}\ n = b + w_{1} x_{1},\quad t = \tanh{\left(n \right)}" in result.latex()
    assert "where n = b + w₁·x₁, t = tanh(n)" in str(result)


def test_lines_of_words_are_text_between_the_formulas_of_the_latex() -> None:
    """The Hessian's reading is a line of LaTeX text, whole (it wraps where it is typeset), not \\text in a formula."""
    from jacmagic import jacobian

    latex = jacobian("f(x, y) = x**2 - y**2", hessian=True, at={"x": 0, "y": 0}).latex()
    said = [line for line in latex.split("\n") if not line.startswith("$")]
    assert any(line.startswith("(2 x 2, entry (j, k)") and line.endswith("mixed partials agree, checked)")
               for line in said)
    assert r"\text{" not in "".join(said) and "mixed partials" not in "".join(_formulas(latex))


def _formulas(latex: str) -> list[str]:
    return [line for line in latex.split("\n") if line.startswith("$")]


def test_a_long_sum_continues_over_lines() -> None:
    from jacmagic import jacobian

    cell = ("f(x1, x2) = [x1**3*sin(x2) + exp(x1*x2)*cos(x1 + x2) + x2**5 - 3*x1*x2, "
            "x2**2*tanh(x1) + log(1 + x1**2 + x2**2)*x1]")
    latex = jacobian(cell, det=True).latex()
    det_rows = latex.split(r"\det J &= ")[1].split(r"\end{aligned}")[0].split(r" \\ ")
    assert len(det_rows) > 1 and all(row.startswith(r"&\quad ") for row in det_rows[1:])
    assert max(map(len, det_rows)) < sum(map(len, det_rows)) * 0.75  # a term is never cut, the sum is


def test_static_displays_put_lines_of_words_outside_the_math() -> None:
    """Every row of words becomes an HTML paragraph that wraps with the page (an annotation under a formula
    indented); the text a terminal prints is unchanged."""
    from jacmagic.views.displays import static_displays
    from jacmagic.views.network_view import walkthrough_groups
    from jacmagic.views.render import result_groups

    result = jacobian("g(x) = [x, x**2]\nh(u, v) = [u*v]", chain=True, at={"x": 0.5})
    assert isinstance(result, JacobianResult) and result.whole is not None
    shown = static_displays(result_groups(result.whole)) + static_displays(walkthrough_groups(result, result.walked))
    prose = [d for d in shown if "text/html" in d]
    formulas = [d for d in shown if "text/latex" in d]
    assert prose and formulas and all("text/latex" not in d for d in prose)
    assert any("reverse mode, from the output back: each step multiplies the upstream gradient" in d["text/html"]
               for d in prose)  # the lines of one sentence are one paragraph again
    assert not any(r"\text{reverse mode" in d["text/latex"] for d in formulas)
    assert any("(the gradient as a row" in d["text/html"] for d in prose)
    assert not any(r"\text{(the gradient" in d["text/latex"] for d in formulas)
    printed = "\n".join(d["text/plain"] for d in shown if d["text/plain"])  # the blank lines between steps aside
    assert [line for line in printed.split("\n") if line] == [line for line in str(result).split("\n") if line]


def test_text_is_wrapped_to_its_width_and_left_whole_only_for_the_command_line_writing_to_a_pipe() -> None:
    """Found by a reader: terminal lines of 1,247 characters. A matrix drawn over several lines is never cut; text
    going to no terminal (as here, under pytest) keeps to 100 columns; only the command line writing to a file or a
    pipe (`lines_whole`) leaves each line whole."""
    cell = "W: 2x2\nb: 2\nx: 2\nh = where(W @ x + b > 0, W @ x + b, 0.01*(W @ x + b))\nL = sum(h)"
    with lines_whole():
        whole = str(jacobian(cell, chain=True))
    assert max(len(line) for line in whole.split("\n")) > 200
    for width, text in ((80, wrapped(whole, 80)), (100, str(jacobian(cell, chain=True)))):
        lines = text.split("\n")
        assert max(len(line) for line in lines) <= width
        assert " ".join(" ".join(lines).split()) == " ".join(whole.split())  # every word kept, in order
    art = str(jacobian("f(x, y) = [x**2*y*exp(x) + sin(x*y)/3, 5*x + sin(y)*cos(x)]"))
    drawn = [line for line in art.split("\n") if "⎢" in line]
    assert max(map(len, drawn)) > 40 and drawn == [line for line in wrapped(art, 40).split("\n") if "⎢" in line]


def test_entries_of_arrays_with_digits_in_their_names_are_written_as_textbooks_do() -> None:
    result = jacobian("W1: 2x2\nb1: 2\nx: 2\nh = tanh(W1 @ x + b1)\nL = sum(h)", chain=True)
    text = str(result)
    assert "(W₁)₁,₂" in text and "(b₁)₂" in text and "W_1_1" not in text and "b₁ ₁" not in text
    assert result.whole is not None and r"\left(W_{1}\right)_{1,2}" in result.whole.latex()


def test_a_zero_is_never_shown_with_a_sign() -> None:
    from jacmagic.views.numbers import number, number_latex

    assert number(-0.0) == "0" and number_latex(-0.0) == "0" and number(-1e-300) == "-1e-300"


def test_a_determinant_that_is_symbolically_zero_is_zero_at_every_point() -> None:
    result = jacobian("f(x, y) = [sin(x)*cos(y), 3*sin(x)*cos(y)/7]", det=True, at={"x": 0.3, "y": 0.7})
    assert result.det == 0
    assert "det J at x = 0.3, y = 0.7 = 0\n" in str(result) + "\n"


def test_piecewise_entries_read_as_cases_in_text() -> None:
    text = str(jacobian("W: 2x2\nb: 2\nx: 2\nh = where(W @ x + b > 0, W @ x + b, 0.01*(W @ x + b))\nL = sum(h)",
                        chain=True))
    assert "Piecewise" not in text and "{x₁ if u > 0; 0.01·x₁ otherwise}" in text
    assert "where u = W₁,₁·x₁ + W₁,₂·x₂ + b₁, v = W₂,₁·x₁ + W₂,₂·x₂ + b₂" in text


def _neuron(activation: str, inputs: int, outputs: int) -> str:
    weights = ", ".join(f"w{k}" for k in range(inputs))
    pre = " + ".join(f"w{k}*x{k}" for k in range(inputs))
    rows = [f"{activation}({pre})", f"{activation}({pre})**2"][:outputs]
    return f"f({weights}, {', '.join(f'x{k}' for k in range(inputs))}) = [{', '.join(rows)}]"


def test_where_follows_the_entries_it_names_when_written_entry_by_entry() -> None:
    """The review's find: the text said `where u = ..., t = tanh(u)` and then `J = (too wide for a line even with
    names: entry by entry below)` and the entries, and the LaTeX put the where between those words and the entries.
    Now J = ∂f/∂(...), the words, the entries, then the names they use, in both."""
    R = jacobian(_neuron("tanh", 6, 1))
    lines = re.sub(r"\n {4}", " ", str(R)).split("\n")
    assert lines[1] == "J = (too wide for a line even with names: entry by entry below)"
    assert lines[2] == "∂f/∂w₀ = x₀·(1 - t²)" and lines[13] == "∂f/∂x₅ = w₅·(1 - t²)"
    assert lines[14].startswith("where u = ") and len(lines) == 15
    latex = R.latex()
    assert latex.index("(too wide for a line even with names") < latex.index(r"\partial w_{0}} &= x_{0}") < \
        latex.rindex(r"\partial x_{5}} &= w_{5}") < latex.index(r"\text{where}\ u = ")


@pytest.mark.parametrize("width", [40, 100, 200])
@pytest.mark.parametrize("outputs", [1, 2])
@pytest.mark.parametrize("inputs", [4, 5, 6])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "exp", "sin"])
def test_the_names_come_after_every_entry_and_the_words_before_them_in_text_and_latex(
        activation: str, inputs: int, outputs: int, width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every neuron too wide for the page with its repeated parts named, at any terminal width (the text may draw
    the named matrix where the page cannot, or go entry by entry where the page draws it): J = ∂f/∂(...) first, the
    words just above the entries, the where line after every entry and every line of the matrix."""
    from jacmagic.views import render

    monkeypatch.setattr(render, "_terminal_width", lambda: width)
    R = jacobian(_neuron(activation, inputs, outputs))
    assert R.abbreviations
    lines = re.sub(r"\n {4}", " ", render.to_text(R.symbolic)).split("\n")
    where = [k for k, line in enumerate(lines) if line.startswith("where ")]
    shown = [k for k, line in enumerate(lines) if line.startswith(("∂", "J = [")) or re.search("[⎡⎢⎣]", line)]
    assert lines[0].startswith("J = ∂") and len(where) == 1 and shown and max(shown) < where[0], lines
    wide = [k for k, line in enumerate(lines) if line.startswith("J = (too wide")]
    assert all(k + 1 == min(shown) for k in wide), lines
    latex = R.latex()
    if "entry by entry below" in latex:
        words = latex.index("entry by entry below")
        assert words < latex.index(" &= ", words) and latex.rindex(" &= ") < latex.index(r"\text{where}"), latex
