"""The computational graph: which value feeds which stage, drawn left to right, the current stage highlighted."""

from __future__ import annotations

import re

import pytest
import sympy as sp

from jacmagic import jacobian
from jacmagic.views.graph import Layout, sparsity_svg, svg

BRANCH = "u = x*y\nv = sin(u)\nw = u + x\nL = v*w"


def _graph(cell: str, **options: object) -> Layout:
    """The graph the walkthrough panel draws: one node per line of the one walk and per input."""
    panel = jacobian(cell, chain=True, **options).widget()  # type: ignore[arg-type]
    return panel.graph  # type: ignore[no-any-return]


def test_edges_follow_the_data_and_columns_its_depth() -> None:
    graph = _graph(BRANCH)
    assert set(graph.edges) == {("x", "u"), ("y", "u"), ("u", "v"), ("u", "w"), ("x", "w"), ("v", "L"), ("w", "L")}
    column = {name: x for name, (x, _) in graph.positions.items()}
    assert column["x"] == column["y"] < column["u"] < column["v"] == column["w"] < column["L"]
    assert graph.labels["u"] == "u"


def test_a_stage_of_formulas_is_one_node_fed_by_the_stage_before_it() -> None:
    """A math-form chain, now lines of formulas in the one walk: g is one node (not one per entry), h is fed by
    g whole, and the inputs feed g."""
    graph = _graph("g(x1, x2) = [x1*x2, x1 + x2]\nh(u, v) = [sin(u)*v]")
    assert set(graph.edges) == {("x1", "g"), ("x2", "g"), ("g", "h")}
    assert graph.labels["x1"] == "x₁"


@pytest.mark.parametrize("cell", ["W: 2x2\nx: 2\nz = W @ x\nL = sum(tanh(z))",
                                  "W: 2x2\nx: 2\nz = W @ x + sign(x[0])\nL = sum(tanh(z))",
                                  # a constant condition: read entry by entry, its lines stages of formulas
                                  "W: 2x2\nx: 2\nz = W @ x\nL = where(True, hypot(z[0], z[1]), 0)"])
def test_a_matrix_is_one_node_named_after_it(cell: str) -> None:
    """Whether the cell is read as arrays or entry by entry, a matrix (and a value computed whole) is one node."""
    graph = _graph(cell, wrt="W")
    assert set(graph.positions) == {"W", "x", "z", "L"}
    assert set(graph.edges) == {("W", "z"), ("x", "z"), ("z", "L")}


def test_the_current_stage_and_the_edges_into_it_are_highlighted() -> None:
    graph = _graph(BRANCH)
    picture = svg(graph, "w")
    assert re.findall(r'class="jm-node jm-current" data-name="([^"]+)"', picture) == ["w"]
    assert picture.count('stroke="#d9480f" stroke-width="3"') == 1 + 2  # the node and its two incoming edges
    assert "jm-current" not in svg(graph, None)


def test_the_panel_lights_the_stage_it_shows() -> None:
    panel = jacobian(BRANCH, chain=True).widget()
    for position in range(1, panel.position.max):
        panel.position.value = position
        lit = re.findall(r'class="jm-node jm-current[^"]*" data-name="([^"]+)"', panel.picture.value)
        assert lit == [panel.walk.backward[position - 1].line.name]


def test_sparsity_marks_exactly_the_nonzero_entries() -> None:
    x, y = sp.symbols("x y")
    picture = sparsity_svg(sp.Matrix([[x, 0, 1], [0, 0, y]]))
    assert picture.count("<rect") == 1 + 3  # the frame and one square per entry not identically zero
