"""Cell text -> parsable source: every column kept, so errors point at the user's own text."""

from __future__ import annotations

import pytest

from jacmagic.errors import CellError
from jacmagic.read.source import prepare, python_declarations


def test_carets_become_powers_and_columns_map_back() -> None:
    prepared = prepare("f(x) = [x^2 + x^3]")
    assert "x**2 + x**3" in prepared.source
    after = prepared.source.index("+") + 1  # a column past one caret in the prepared text
    assert prepared.original_column(1, after + 1) == after


def test_function_heads_and_declarations_are_blanked_out_in_place() -> None:
    prepared = prepare("W: 2x3\nx: 3\nf(a, b) = [a*b]")
    assert prepared.source.split("\n")[:2] == ["", ""]
    assert [(d.name, d.rows, d.cols, d.line) for d in prepared.declarations.values()] == [("W", 2, 3, 1),
                                                                                        ("x", 3, 1, 2)]
    assert prepared.heads[3].name == "f" and prepared.heads[3].params == "a, b"


@pytest.mark.parametrize("text, message", [
    ("W: 2x3\nW: 3", "W is already declared on line 1"),
    ("W: 0x3", "a shape needs 1 to 10,000,000 entries"),
    ("W: 4000x4000", "a shape needs 1 to 10,000,000 entries"),
])
def test_bad_declarations_name_their_line(text: str, message: str) -> None:
    with pytest.raises(CellError, match=message):
        prepare(text)


def test_strings_are_refused_before_anything_else() -> None:
    with pytest.raises(CellError, match="column 17: text in quotes is not allowed"):
        prepare("f(x) = [x + len('abc')]")


def test_a_def_cell_keeps_its_python_and_gives_its_shapes() -> None:
    text, declared = python_declarations("z: 3\nW: 2x3\ndef f(z, W):\n    y: int = 2\n    return W @ z")
    assert text.split("\n")[:2] == ["", ""] and "y: int = 2" in text  # indented annotations are Python's
    assert {name: (d.rows, d.cols) for name, d in declared.items()} == {"z": (3, 1), "W": (2, 3)}
