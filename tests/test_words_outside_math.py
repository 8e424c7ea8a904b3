"""Words are never inside the math: every note, size and reading is a row of words that each view shows as text
beside the formulas (HTML paragraphs in a cell, divs in a panel, lines of text between the `$...$` of
`result.latex()`), so it wraps with the page; a formula holds at most a one-word label (\\text{upstream})."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np
import pytest

from jacmagic import JacobianResult, jacobian
from jacmagic.views.displays import static_displays, words
from jacmagic.views.formulas import Row
from jacmagic.views.mathml import derivation
from jacmagic.views.network_view import walkthrough_groups
from jacmagic.views.render import result_groups

from .helpers import long_chain
from .test_batches import BATCH_CELL, LOSS, _batch_point

POLAR = "x = r*cos(theta)\ny = r*sin(theta)"
NEURON = "n = x1*w1 + x2*w2 + b\no = tanh(n)"
LAYER = "W1: 3x2\nb1: 3\nW2: 1x3\nb2: 1\nx: 2\nh = tanh(W1 @ x + b1)\ny = W2 @ h + b2\nL = sum((y - t)**2)"
LAYER_AT = {"W1": [[0.5, -0.2], [0.1, 0.8], [-0.7, 0.3]], "b1": [0, 0.1, -0.1], "W2": [[1.0, -0.5, 0.25]],
            "b2": [0.2], "x": [1.0, -2.0], "t": 0.5}
WIDE = "f(" + ", ".join([f"w{k}" for k in range(6)] + [f"x{k}" for k in range(6)]) + ") = sigmoid(" + \
    " + ".join(f"w{k}*x{k}" for k in range(6)) + ")"

# The demos' cells and their kin: every form, every option that adds words.
CASES: list[tuple[str, dict[str, Any]]] = [
    ("f(x, y) = [x**2*y, 5*x + sin(y)]", {"det": True}),
    ("f(x, y) = [x**2*y, 5*x + sin(y)]", {"det": True, "at": {"x": 1.3, "y": -0.4}, "check": True}),
    ("F(u, v) = [u*v, u**2 - v**2, exp(u + v)]", {}),
    ("g(x, y, z) = x*y*z + exp(x*z)", {"partials": True}),
    (POLAR, {"det": True, "at": {"r": 0, "theta": 0}, "check": True}),
    ("x = r*sin(theta)*cos(phi)\ny = r*sin(theta)*sin(phi)\nz = r*cos(theta)", {"det": True}),
    ("def layer(x1, x2):\n    z = 0.5*x1 - 1.2*x2\n    return [np.tanh(z), sigmoid(z)]", {}),
    ("f(x, y) = x**2 - y**2", {"hessian": True, "at": {"x": 0, "y": 0}}),
    ("f(x, y) = x**4 + y**4", {"hessian": True, "at": {"x": 0, "y": 0}}),
    ("a1 = tanh(w11*x1 + w12*x2 + b1)\na2 = tanh(w21*x1 + w22*x2 + b2)",
     {"wrt": "x1,x2", "det": True, "at": {"x1": 0.5, "x2": -1, "w11": 0.8, "w12": -0.4, "w21": 0.3, "w22": 0.9,
                                           "b1": 0.1, "b2": -0.2}}),
    (WIDE, {}),
    ("f(x) = [" + ", ".join(f"x**{k}" for k in range(1, 15)) + "]", {}),
    (NEURON, {"chain": True, "wrt": "x1,w1,x2,w2", "at": {"x1": 2, "x2": 0, "w1": -3, "w2": 1, "b": 6.88}}),
    ("u = x*y\nv = u + x\nw = u*v", {"chain": True, "at": {"x": 0.4, "y": 1.7}}),
    # entry-level chains, now walked by the graph as stages of formulas, and a chain of numbers
    ("g(x1, x2) = [x1*x2, x1 + x2]\nh(u, v) = [sin(u)*v]",
     {"chain": True, "mode": "both", "at": {"x1": 0.4, "x2": 1.7}}),
    ("f(a, b) = [a + b, a*b, exp(a)]\ng(p, q, r) = [p*q, q + r, r]\nh(s, t, u) = [s*t*u, s - u]\n"
     "k(m, n) = [tanh(m) + n]", {"chain": True, "check": True, "at": {"a": 0.3, "b": -0.8}}),
    ("z = w*x + b\na = sigmoid(z)\nL = (a - t)**2",
     {"chain": True, "mode": "both", "wrt": "w,b", "at": {"w": 0.7, "b": -0.2, "x": 1.5, "t": 1.0}}),
    ("W: 2x2\nx: 2\nz = W @ x\nL = where(True, hypot(z[0], z[1]), 0)", {"chain": True, "mode": "both", "wrt": "W"}),
    ("u = x*y\nv = u + x\nw = u*v", {"chain": True, "direction": {"x": 1, "y": -1}, "at": {"x": 0.4, "y": 1.7}}),
    ("g(t) = [cos(t), sin(t), t]\nh(a, b, c) = [a*b*c, a + b + c, exp(a - c), b**2]",
     {"chain": True, "mode": "both", "at": {"t": 0.7}}),
    ("W: 2x2\nx: 2\nh = tanh(W @ x)\nL = sum(h**2)", {"chain": True, "mode": "both"}),
    (long_chain(10), {"chain": True}),
    (LAYER, {"chain": True, "check": True, "wrt": "W1,b1,W2,b2", "at": LAYER_AT}),
    (LAYER, {"chain": True, "mode": "both", "wrt": "W1,b1,W2,b2", "at": LAYER_AT}),
    ("W1: 4x6\nb1: 4\nW2: 3x4\nb2: 3\nx: 6\ny: 3\nh = relu(W1 @ x + b1)\nz = W2 @ h + b2\n"
     "L = -sum(y * log(softmax(z)))", {"chain": True, "wrt": "W1,b1,W2,b2"}),
    ("W: 3x2\nX: 2x5\nb: 3\nH = W @ X + b\nL = sum(H**2)", {"chain": True}),
    ("x: 6x6\nK: 3x3\nh = relu(conv2d(x, K))\nq = maxpool2d(h, 2)\nL = sum(q**2)", {"chain": True}),
]


def _sentences(latex: str) -> list[str]:
    """Each \\text{...} in `latex` holding more than one word: words, not a label."""
    return [text for text in re.findall(r"\\text\{([^{}]*)\}", latex) if len(text.split()) > 1]


def groups_of(result: JacobianResult) -> list[list[Row]]:
    """Every row a result shows: a chain's composed map (when it has one) and its walkthrough; a plain cell's
    Jacobian entry by entry."""
    if result.network is not None:
        whole = result_groups(result.whole) if result.whole is not None else []
        return whole + walkthrough_groups(result, result.walked)
    return result_groups(result.symbolic)


def _formulas_of(latex: str) -> list[str]:
    return re.findall(r"\$\\displaystyle .*?\\end\{aligned\}\$", latex)


def _assert_words_outside_the_math(result: JacobianResult) -> None:
    groups = groups_of(result)
    rows = [row for group in groups for row in group]
    assert any(words(latex) for latex, _ in rows), "no words at all: the test would pass vacuously"
    sentences = [latex for latex, _ in rows if words(latex) is None and _sentences(latex)]
    assert not sentences, sentences
    shown = static_displays(groups)
    assert any("text/html" in d for d in shown)
    assert not [d["text/latex"] for d in shown if "text/latex" in d and _sentences(d["text/latex"])]
    latex = result.latex()
    formulas = _formulas_of(latex)
    assert formulas and not [f for f in formulas if _sentences(f)]
    outside = latex
    for formula in formulas:
        outside = outside.replace(formula, "")
    assert outside.strip()  # the words are there, as text between the formulas
    assert not [text for text in re.findall(r"<mtext>([^<]*)</mtext>", derivation(groups)) if len(text.split()) > 1]


@pytest.mark.parametrize(("cell", "options"), CASES, ids=[f"{k}-{c.split(chr(10))[-1][:30]}"
                                                          for k, (c, _) in enumerate(CASES)])
def test_no_formula_holds_a_sentence_in_any_view(cell: str, options: dict[str, Any]) -> None:
    _assert_words_outside_the_math(jacobian(cell, **options))


def test_a_batch_says_its_words_outside_the_math() -> None:
    point = {k: v.tolist() for k, v in _batch_point(np.random.default_rng(3)).items()}
    _assert_words_outside_the_math(jacobian(BATCH_CELL + LOSS, chain=True, wrt="W1,b1,W2,b2", at=point))


def test_a_determinant_too_large_to_expand_is_elided_and_said_in_words() -> None:
    polar = jacobian(POLAR, det=True)
    result = dataclasses.replace(polar, whole=dataclasses.replace(polar.symbolic, symbolic_det=None))
    rows = [row for group in result_groups(result.symbolic) for row in group]
    assert (r"\det J &= \cdots", "det J = (too large to expand)") in rows
    assert any(words(latex) == (True, "(too large to expand)") for latex, _ in rows)
    _assert_words_outside_the_math(result)


def test_the_size_and_reading_of_a_result_are_html_text_under_its_formula() -> None:
    shown = static_displays(result_groups(jacobian(POLAR, det=True).symbolic))
    html = "".join(d.get("text/html", "") for d in shown)
    assert "(2 x 2, rows: outputs, columns: inputs)" in html and "margin:0.3em 0 0.3em 1.5em" in html
    assert "rows: outputs" not in "".join(d.get("text/latex", "") for d in shown)


def test_latex_words_are_escaped_as_latex_text() -> None:
    from jacmagic.views.displays import bundle
    from jacmagic.views.formulas import words_line

    latex = bundle([("J &= 1", ""), (words_line(r"50% of a_b & {c} \ d"), "")])["text/latex"]
    assert latex.split("\n")[1] == r"50\% of a\_b \& \{c\} \textbackslash{} d"
