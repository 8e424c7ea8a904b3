"""The closing words of a walk's gradients: with one stage (`f(x, y) = x*y` with --chain) its local Jacobian is
the whole Jacobian; "the product of the local Jacobians" read oddly for a single factor. Several stages keep it."""

from __future__ import annotations

import pytest

from jacmagic import jacobian


@pytest.mark.parametrize("cell", ["f(x, y) = x*y", "f(x, y) = [x*y, x + sin(y)]", "L = x*y"])
def test_a_one_stage_walk_says_its_local_jacobian_is_the_whole(cell: str) -> None:
    result = jacobian(cell, chain=True, at={"x": 0.5, "y": -1.5})
    text, latex = str(result), result.latex()
    assert len(result.walkthrough().backward) == 1
    assert "(one stage: its local Jacobian is the whole Jacobian; it matches" in text, text
    assert "one stage: its local Jacobian is the whole Jacobian" in latex
    assert "product of the local Jacobians" not in text + latex


@pytest.mark.parametrize("cell", ["z = x*y\nL = sin(z)", "g(x, y) = [x*y, x + y]\nh(u, v) = u*v"])
def test_a_walk_of_several_stages_says_the_product_of_local_jacobians(cell: str) -> None:
    result = jacobian(cell, chain=True, at={"x": 0.5, "y": -1.5})
    text = str(result)
    assert len(result.walkthrough().backward) > 1
    assert "(the product of the local Jacobians; it matches" in text, text
    assert "one stage" not in text
