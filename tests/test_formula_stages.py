"""A cell read entry by entry walks as stages of formulas (chain/formulas.py): a declared array feeding a stage
is one operand, so its local Jacobian is one readable block, not a sum over its entries, and its numbers are the
derivatives of the line written here in numpy."""

from __future__ import annotations

import numpy as np
import pytest

from jacmagic import JacobianResult, jacobian
from jacmagic.views.render import lines_whole

from .helpers import assert_close


def _central(function: object, point: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d function / d point (flattened row-major) by central differences: one column per entry."""
    flat = point.reshape(-1)
    columns = []
    for k in range(flat.size):
        step = np.zeros_like(flat)
        step[k] = h
        up, down = (np.asarray(function((flat + s).reshape(point.shape))) for s in (step, -step))  # type: ignore[operator]
        columns.append(((up - down) / (2 * h)).reshape(-1))
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("rows", [2, 11])  # 11: W_10,1 sorts before W_2,1 by name, not in row-major order
def test_a_declared_matrix_feeds_a_stage_of_formulas_whole(rows: int) -> None:
    """Found reading the one walk: h = W @ x, read entry by entry (the constant condition keeps it there), showed
    ∂h/∂W as [x₁; 0] · e₁ᵀ + [x₂; 0] · e₂ᵀ + ... and h's formulas "at W₁,₁ = W[0], ...", a flat index into a
    matrix. Now ∂h/∂W is one matrix of partials, W's entries named as the formulas name them."""
    rng = np.random.default_rng(rows)
    W, x = rng.uniform(-1, 1, (rows, 2)), rng.uniform(-1, 1, 2)
    cell = f"W: {rows}x2\nx: 2\nh = W @ x\nL = where(True, hypot(h[0], h[{rows - 1}]), 0)"
    result = jacobian(cell, chain=True, wrt="W,x", at={"W": W.tolist(), "x": x.tolist()})
    assert isinstance(result, JacobianResult)
    with lines_whole():  # each line whole, as the command line writes to a pipe
        text = str(result)
    (by_w,) = [line for line in text.split("\n") if "local Jacobian ∂h/∂W" in line]
    assert "e₁ᵀ" not in by_w and f"({rows} x {2 * rows})" in by_w and "W[0]" not in text
    walked = result.walkthrough()
    step = next(s for s in walked.backward if s.line.name == "h")
    assert_close(step.local_rows("W", list(range(rows))), _central(lambda w: w @ x, W), rel=1e-6)
    assert_close(step.local_rows("x", list(range(rows))), _central(lambda v: W @ v, x), rel=1e-6)

    def loss(w: np.ndarray, v: np.ndarray) -> float:
        h = w @ v
        return float(np.hypot(h[0], h[-1]))
    assert_close(walked.gradients["W"].reshape(-1), _central(lambda w: loss(w, x), W).reshape(-1), rel=1e-6)
    assert_close(walked.gradients["x"].reshape(-1), _central(lambda v: loss(W, v), x).reshape(-1), rel=1e-6)
    assert walked.check.agrees
