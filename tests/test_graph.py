"""The computational graph: which value feeds which stage, drawn left to right, the current stage highlighted."""

from __future__ import annotations

import re

import sympy as sp

from jacmagic import jacobian
from jacmagic.views.graph import layout, sparsity_svg, svg

BRANCH = "u = x*y\nv = sin(u)\nw = u + x\nL = v*w"


def test_edges_follow_the_data_and_columns_its_depth() -> None:
    graph = layout(jacobian(BRANCH, chain=True).chain)
    assert set(graph.edges) == {("x", "u"), ("y", "u"), ("u", "v"), ("u", "w"), ("x", "w"), ("v", "L"), ("w", "L")}
    column = {name: x for name, (x, _) in graph.positions.items()}
    assert column["x"] == column["y"] < column["u"] < column["v"] == column["w"] < column["L"]
    assert graph.labels["u"] == "u"


def test_a_matrix_is_one_node_named_after_it() -> None:
    """In the entry-level chain (sign, which the array level leaves to it, keeps this cell there) and in the
    array-level one."""
    result = jacobian("W: 2x2\nx: 2\nz = W @ x + sign(x[0])\nL = sum(tanh(z))", chain=True, wrt="W")
    graph = layout(result.chain, result.shapes)  # type: ignore[union-attr]
    assert {"W", "x", "z", "L"} <= set(graph.positions) and not any("W_1" in n for n in graph.positions)
    panel = jacobian("W: 2x2\nx: 2\nz = W @ x\nL = sum(tanh(z))", chain=True, wrt="W").widget()
    assert set(panel.graph.positions) == {"W", "x", "z", "L"}


def test_the_current_stage_and_the_edges_into_it_are_highlighted() -> None:
    graph = layout(jacobian(BRANCH, chain=True).chain)
    picture = svg(graph, "w")
    assert re.findall(r'class="jm-node jm-current" data-name="([^"]+)"', picture) == ["w"]
    assert picture.count('stroke="#d9480f" stroke-width="3"') == 1 + 2  # the node and its two incoming edges
    assert "jm-current" not in svg(graph, None)


def test_sparsity_marks_exactly_the_nonzero_entries() -> None:
    x, y = sp.symbols("x y")
    picture = sparsity_svg(sp.Matrix([[x, 0, 1], [0, 0, y]]))
    assert picture.count("<rect") == 1 + 3  # the frame and one square per entry not identically zero
