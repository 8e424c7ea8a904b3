"""A count meets its noun in one place (notation.counted): "1 output", never "1 outputs"."""

from __future__ import annotations

import re

import pytest

from jacmagic import jacobian
from jacmagic.errors import CellError, OptionError
from jacmagic.notation import counted


@pytest.mark.parametrize(("count", "said"), [(0, "0 outputs"), (1, "1 output"), (2, "2 outputs"),
                                             (1_024, "1,024 outputs")])
def test_a_count_takes_the_singular_only_for_one(count: int, said: str) -> None:
    assert counted(count, "output") == said


@pytest.mark.parametrize(("count", "said"), [(0, "0 entries"), (1, "1 entry"), (2, "2 entries")])
def test_an_irregular_plural_is_given(count: int, said: str) -> None:
    assert counted(count, "entry", "entries") == said


@pytest.mark.parametrize(("cell", "said"), [
    ("g(x) = x*2\nh(a, b) = a*b", "g (line 1) has 1 output but h (line 2) takes 2 inputs"),
    ("g(x) = [x, x**2, x**3]\nh(a) = a", "g (line 1) has 3 outputs but h (line 2) takes 1 input"),
])
def test_a_chain_whose_stages_do_not_fit_counts_in_words(cell: str, said: str) -> None:
    with pytest.raises(CellError, match=re.escape(said)):
        jacobian(cell, chain=True)


@pytest.mark.parametrize(("cell", "said"), [
    ("f(x, y) = x*y", "1 x 2 (1 output, 2 variables)"),
    ("f(x) = [x, x**2]", "2 x 1 (2 outputs, 1 variable); the map has only 1 name,"),
])
def test_a_determinant_of_a_non_square_jacobian_counts_in_words(cell: str, said: str) -> None:
    with pytest.raises(OptionError, match=re.escape(said)):
        jacobian(cell, det=True)


def test_one_input_runs_one_forward_pass() -> None:
    result = jacobian("u = x**2\nw = sin(u)", chain=True, mode="both", at={"x": 0.5})
    assert "one direction per input (1 pass side by side" in str(result)
    assert "reverse mode needs 1 pass (one per output)" in str(result)
