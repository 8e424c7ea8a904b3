"""Findings of a new-user review: what a refusal tells the user to write, and names given as the display shows
them."""

from __future__ import annotations

import numpy as np
import pytest

from jacmagic.errors import CellError, OptionError
from jacmagic.model import Options
from jacmagic.pipeline import compute
from jacmagic.read.parse import parse_cell


@pytest.mark.parametrize("cell, written, line, name", [
    ("W: 2x3\nf(x) = W @ x", "y = W @ x", 2, "W"),
    ("W: 2x3\nx: 3\ng(u) = u\nf(x) = W @ x + 1", "y = W @ x + 1", 4, "W"),
    ("f(x) = x\nW: 2", "y = x", 1, "W"),
])
def test_shapes_in_a_function_cell_say_which_assignment_line_to_write(cell: str, written: str, line: int,
                                                                        name: str) -> None:
    with pytest.raises(CellError) as caught:
        parse_cell(cell)
    message = str(caught.value)
    assert f"write {written} (an assignment line)" in message
    assert f"line {line}'s" in message and message.endswith(f"to use {name}")


def _central(f, point: np.ndarray, h: float = 1e-6) -> np.ndarray:
    return np.stack([(f(point + h * e) - f(point - h * e)) / (2 * h) for e in np.eye(len(point))], axis=-1)


def _polar(p: np.ndarray) -> np.ndarray:
    return np.array([p[0] * np.cos(p[1]), p[0] * np.sin(p[1])])


@pytest.mark.parametrize("chain", [False, True])
@pytest.mark.parametrize("greek, spelled", [("θ", "theta"), ("φ", "phi"), ("α", "alpha")])
def test_at_takes_the_greek_letter_the_display_shows(chain: bool, greek: str, spelled: str) -> None:
    R = compute(f"f(r, {spelled}) = [r*cos({spelled}), r*sin({spelled})]", Options(chain=chain))
    expected = _central(_polar, np.array([2.0, 1.0]))
    np.testing.assert_allclose(R.at(**{greek: 1.0, "r": 2.0}), expected, rtol=1e-6)
    np.testing.assert_allclose(R.gradient(**{greek: 1.0, "r": 2.0})[spelled], expected[:, 1], rtol=1e-6)
    many = R.at(**{greek: np.array([1.0, 1.0]), "r": 2.0})
    np.testing.assert_allclose(many[0], expected, rtol=1e-6)


def test_at_still_refuses_a_name_the_cell_does_not_have() -> None:
    R = compute("f(r, theta) = [r*cos(theta), r*sin(theta)]")
    with pytest.raises(OptionError, match="φ is not a variable"):
        R.at(φ=1.0, r=2.0)
