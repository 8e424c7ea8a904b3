"""Names as the user wrote them: a constant array by its declared name (never its entries, never a "did you mean"
for a name the user did not type), a value that is one number by its bare name (∂q, not ∂q₁), and a --direction
by a letter the cell leaves free (J·v never reads as J times the cell's own v)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.views.walkthrough import direction_symbol
from tests.conftest import Shell

LAYER = "W: 2x4\nb: 2\nx: 4\nh = tanh(W @ x + b)\nL = sum(h*h)"
LAYER_AT = {"W": np.full((2, 4), 0.1), "b": [0.1, 0.2], "x": [1.0, 2.0, 3.0, 4.0]}


def loss(W: Any, b: Any, x: Any, y: Any) -> Any:  # noqa: N803 (the cell's names)
    h = np.tanh(W @ x + b)
    return np.sum((h - y) ** 2)


def _constants(notes: tuple[str, ...]) -> list[str]:
    said = [n for n in notes if n.startswith("constants (held fixed, not differentiated): ")]
    assert len(said) == 1, notes
    return said[0].split(": ", 1)[1].split(", ")


# (source, options, the constants as declared): math and def forms, with and without --chain
HELD = [
    (LAYER, {"wrt": ("W", "b"), "at": LAYER_AT}, ["x"]),
    (LAYER, {"wrt": ("W", "b"), "at": LAYER_AT, "chain": True}, ["x"]),
    (LAYER, {"wrt": ("W",)}, ["b", "x"]),
    (loss, {"wrt": ("W", "b"), "at": {**LAYER_AT, "y": [0.0, 1.0]}}, ["x", "y"]),
    (loss, {"wrt": ("W", "b"), "at": {**LAYER_AT, "y": [0.0, 1.0]}, "chain": True}, ["x", "y"]),
    ("A: 2x2\nx: 2\nq = x.T @ A @ x", {"wrt": ("x",)}, ["A"]),
]


@pytest.mark.parametrize(("source", "options", "declared"), HELD)
def test_an_array_held_constant_is_named_as_declared_without_a_typo_hint(source: Any, options: dict[str, Any],
                                                                          declared: list[str]) -> None:
    result = jacobian(source, **options)
    shown = [line.removeprefix("note: ") for line in str(result).replace("\n    ", " ").splitlines()
             if line.startswith("note: ")]
    for notes in (result.notes, tuple(shown)):
        assert sorted(_constants(notes)) == declared
    assert "did you mean" not in str(result)


@pytest.mark.parametrize(("cell", "wrt", "said"), [
    ("f(x, y) = x**2*yy", (), "yy (did you mean y?)"),  # a lone name the user typed, one edit from a variable
    ("x: 3\nf = sum(xx*x)", ("x",), "xx (did you mean x?)"),  # ... from a variable array's name, not an entry
])
def test_a_typo_hint_is_given_for_a_lone_name_the_user_typed(cell: str, wrt: tuple[str, ...], said: str) -> None:
    assert said in _constants(jacobian(cell, wrt=wrt).notes)


def _central_gradient(a: np.ndarray, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d(xᵀAx)/d(x, A) by central differences, x first then A row-major."""
    flat = np.concatenate([x, a.ravel()])

    def at(v: np.ndarray) -> float:
        return float(v[:2] @ v[2:].reshape(2, 2) @ v[:2])
    return np.array([(at(flat + h * e) - at(flat - h * e)) / (2 * h) for e in np.eye(flat.size)])


ONE_NUMBER = [
    "A: 2x2\nx: 2\nq = x.T @ A @ x",
    "A: 2x2\nx: 2\ns = x.T @ A\nq = s @ x",
    "A: 2x2\nx: 2\np = x.T @ A @ x\nq = 1*p",
]


@pytest.mark.parametrize("chain", [False, True])
@pytest.mark.parametrize("cell", ONE_NUMBER)
def test_a_value_of_one_number_keeps_its_bare_name(cell: str, chain: bool) -> None:
    A, x = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.5, -1.5])
    result = jacobian(cell, chain=chain, at={"A": A, "x": x})
    assert [o.name for o in result.outputs] == ["q"]
    text, latex = str(result), result.latex()
    assert "q₁" not in text and "q_{1}" not in latex
    assert re.search(r"^J = ∂q/∂\(", text, re.M)
    np.testing.assert_allclose(result.at().ravel(), _central_gradient(A, x), rtol=1e-7, atol=1e-8)


def test_a_display_with_no_text_prints_no_blank_line(shell: Shell) -> None:
    """The LaTeX goes entry by entry where the text has J on one line: that display has no text, and a terminal
    would print its empty text as a blank line (two of them ended this cell)."""
    ran = shell.ok("%%jacobian\nA: 2x2\nx: 2\nq = x.T @ A @ x")
    assert ran.outputs and all(o.get("text/plain", None) != "" for o in ran.outputs)
    assert any("text/latex" in o and "text/plain" not in o for o in ran.outputs)


# (cell, the direction, the letter J·_ uses): v unless the cell shows a v (a line, an input, an abbreviation)
SCALARS = {"x": 1.0, "y": 2.0}
DIRECTIONS = [
    ("a = x*y\nw = sin(a)", SCALARS, {"x": 1, "y": 0}, "v"),
    ("a = x*y\nv = sin(a)", SCALARS, {"x": 1, "y": 0}, "u"),
    ("a = x*y\nv = sin(a)\nL = u*v", {**SCALARS, "u": 1.0}, {"x": 1, "y": 0}, "d"),
    # its written-out Jacobian abbreviates with u (and, before, with v beside the output's v₁, v₂)
    ("x: 2\nW: 2x2\nv = tanh(W @ x)", {"x": [1.0, 2.0], "W": [[1.0, 2.0], [3.0, 4.0]]}, {"x": [1, 0]}, "d"),
]


@pytest.mark.parametrize(("cell", "at", "direction", "letter"), DIRECTIONS)
def test_the_direction_is_named_apart_from_the_cells_names(cell: str, at: dict[str, Any], direction: dict[str, Any],
                                                           letter: str) -> None:
    result = jacobian(cell, chain=True, direction=direction, wrt=tuple(direction), at=at)
    text = str(result)
    assert re.search(rf"^J·{letter} = ", text, re.M) and f"called {letter}:" in text
    assert direction_symbol(result).name == letter
    where = re.search(r"^where (.*)$", text, re.M)
    shown = set(result.graph.inputs) | {line.name for line in result.graph.lines}
    shown |= set(re.findall(r"(\w+) = ", where.group(1))) if where else set()
    assert letter not in shown
    assert rf"J\,{letter} &=" in result.latex()
    assert list(result.widget()._directions()) == [letter]  # the panel's column of tangents


@pytest.mark.parametrize("output", ["u", "v", "w"])
def test_an_abbreviation_never_takes_the_name_of_an_array_shown_by_its_entries(output: str) -> None:
    result = jacobian(f"x: 2\nW: 2x2\n{output} = tanh(W @ x)")
    named = [s.name for s, _ in result.abbreviations]
    assert len(named) >= 2 and output not in named
