"""The note that shown entries are too long to typeset and appear as … is said only where the display really
writes them as … (the text) or \\cdots (the LaTeX), with their number: it once counted the entries of the Jacobian
before its repeated parts were named, and said 6 of a display that wrote every entry whole."""

from __future__ import annotations

import re

import numpy as np
import pytest

from jacmagic import jacobian


def _huge(x: str) -> str:
    return " + ".join(f"sin({k}*{x})*cos({x}**{k})*exp({x}/{k})" for k in range(1, 200))


def _said(text: str) -> int:
    """The number the note gives, 0 without one."""
    found = re.search(r"(\d+) shown entr(?:y is|ies are) too long to typeset here", text)
    return int(found[1]) if found else 0


def _matrix_latex(latex: str) -> str:
    """The LaTeX of the symbolic Jacobian: what comes before its value at the point."""
    return latex.split(r"\Big|")[0]


def test_a_jacobian_shown_whole_with_named_parts_has_no_note_of_entries_shown_as_dots() -> None:
    cell = "def f(z):\n    e = np.exp(z - np.max(z))\n    return e / np.sum(e * e)\n"
    result = jacobian(cell, at={"z": [1, 2, 3]}, namespace={"np": np})
    text, latex = str(result), result.latex()
    assert "…" not in text and r"\cdots" not in latex
    assert _said(text) == 0 and _said(latex) == 0


CELLS = [f"f(x, y) = [{_huge('x')}, x*y]", f"f(x, y) = [{_huge('x')}, {_huge('y')}]",
         "def f(z):\n    e = np.exp(z - np.max(z))\n    return e / np.sum(e * e)\n",
         "def f(z):\n    e = np.exp(z - np.max(z))\n    return e / e.sum()\n", "f(x, y) = [x*y, sin(x)]"]


@pytest.mark.parametrize("cell", CELLS, ids=range(len(CELLS)))
def test_the_note_counts_the_entries_each_display_writes_as_dots(cell: str) -> None:
    at = {"z": [1, 2, 3]} if "def" in cell else {}
    result = jacobian(cell, at=at, namespace={"np": np})
    text, latex = str(result), result.latex()
    assert _said(text) == text.split("note:")[0].count("…")
    assert _said(latex) == _matrix_latex(latex).count(r"\cdots")


NETWORK = "x: 4\nW1: 3x4\nb1: 3\nW2: 2x3\nb2: 2\nh = tanh(W1 @ x + b1)\nf = softmax(W2 @ h + b2)"


@pytest.mark.parametrize("chain", [False, True])
@pytest.mark.parametrize("wrt", [("x",), ("W1", "b1")])
def test_a_jacobian_whose_every_shown_entry_is_too_long_says_so_instead_of_a_row_of_dots(
        chain: bool, wrt: tuple[str, ...]) -> None:
    """A 3x4 -> 2 network's J printed `row 1: […, …, …, …]`: a row with nothing in it."""
    result = jacobian(NETWORK, chain=chain, wrt=wrt)
    text, latex = str(result), result.latex()
    assert "[…, …" not in text and r"\cdots & \cdots" not in latex
    assert "J = (every entry is too long to typeset here: result.matrix holds them)" in text
    assert "every entry is too long to typeset here" in latex
    assert _said(text) == 0 and _said(latex) == 0  # the words say it once


@pytest.mark.parametrize("cell", ["f(x, y) = [1 + 0*x, 2 + 0*y]", "f(x) = [3]", "x: 3\ny = 2*sum(x) - sum(2*x)"])
def test_a_jacobian_of_zeros_is_shown_as_zeros_not_as_too_long(cell: str) -> None:
    """Found by review: a matrix none of whose shown entries is nonzero counted as 'every entry written as …'
    (0 of 0), and the zero Jacobian of a constant map said its entries were too long to typeset."""
    result = jacobian(cell)
    assert "too long" not in str(result) and "too long" not in result.latex()  # type: ignore[union-attr]
    assert not np.any(result.matrix)  # type: ignore[union-attr]
