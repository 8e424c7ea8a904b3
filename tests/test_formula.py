"""The safe formula reader: names, entries, guards as written, and the bounds that keep reading fast."""

from __future__ import annotations

import ast

import pytest
import sympy as sp

from jacmagic.errors import CellError
from jacmagic.read.formula import ExpressionBuilder
from jacmagic.read.names import display_key, element_symbols, real_symbol, refuse_twins, suggest


def build(text: str, shapes: dict[str, tuple[int, int]] | None = None) -> tuple[ExpressionBuilder, object]:
    """`text` read as one formula; names are real symbols, or matrices of entries where `shapes` says so."""
    shapes = shapes or {}

    def resolve(name: str, node: ast.Name) -> object:
        return element_symbols(name, *shapes[name]) if name in shapes else real_symbol(name)

    builder = ExpressionBuilder(1, resolve, {}, lambda line, column: column)  # type: ignore[arg-type]
    return builder, builder.value(ast.parse(text, mode="eval").body)


def test_entries_are_named_after_their_matrix_row_major_from_one() -> None:
    assert [s.name for s in element_symbols("W", 2, 3)] == ["W_1,1", "W_1,2", "W_1,3", "W_2,1", "W_2,2", "W_2,3"]
    assert [s.name for s in element_symbols("x", 3, 1)] == ["x_1", "x_2", "x_3"]
    assert set(element_symbols("W", 2, 2)).isdisjoint(element_symbols("w", 2, 2))  # case keeps them apart
    assert all(s.is_real for s in element_symbols("W", 2, 2))


@pytest.mark.parametrize("a, b", [("theta", "θ"), ("x1", "x_1"), ("w12", "w_12"), ("x_", "x")])
def test_names_that_look_alike_when_typeset_are_refused(a: str, b: str) -> None:
    assert display_key(a) == display_key(b)
    with pytest.raises(CellError, match="look"):
        refuse_twins([real_symbol(a), real_symbol(b)])


def test_names_that_look_different_pass() -> None:
    refuse_twins([real_symbol("x"), real_symbol("X"), *element_symbols("W", 2, 2), real_symbol("W")])


def test_suggest_offers_the_closest_name() -> None:
    assert suggest("sinn", ["sin", "cos"]) == " (did you mean sin?)"
    assert suggest("zzz", ["sin", "cos"]) == ""


def test_guards_are_recorded_as_written() -> None:
    builder, value = build("exp(log(x)) + 1/(y - 1)")
    x, y = real_symbol("x"), real_symbol("y")
    assert value == x + 1 / (y - 1)  # sympy simplified exp(log(x)); the guard still says where it is defined
    guards = {(g.expression, g.divisor) for g in builder.guards}
    assert (sp.log(x), False) in guards and (y - 1, True) in guards


def test_a_matrix_product_too_large_to_write_out_is_refused_while_reading() -> None:
    shapes = {"A": (30, 30), "B": (30, 30)}
    with pytest.raises(CellError, match="would write out about .* symbolic terms"):
        build("A @ B @ A", shapes)
    _, product = build("A @ B", shapes)
    assert product.shape == (30, 30)  # type: ignore[attr-defined]


def test_a_function_of_a_large_argument_is_kept_as_written() -> None:
    """sympy's automatic rewriting of tanh asks for the sign of a 100-term sum: seconds. Small arguments are
    still evaluated (tanh(0) is 0, tanh(-x) is -tanh(x))."""
    _, value = build("tanh(W @ x)", {"W": (1, 100), "x": (100, 1)})
    assert isinstance(value[0], sp.tanh)  # type: ignore[index]
    _, small = build("tanh(0) + tanh(-x)")
    assert small == -sp.tanh(real_symbol("x"))
