"""The backprop walkthrough: every gradient it shows against independent numeric derivatives, the product of the
local Jacobians against the whole Jacobian, branches as sums, layers with matrix parameters."""

from __future__ import annotations

import math
import re

import mpmath
import numpy as np
import pytest
import sympy as sp

from jacmagic import jacobian
from jacmagic.chain.network_walk import LineStep, walk
from jacmagic.errors import CellError, OptionError
from jacmagic.panels.network_panel import NetworkPanel
from jacmagic.views.verdicts import verdict_words

from .helpers import assert_close, numeric_jacobian, read_aloud

sig = lambda t: 1 / (1 + mpmath.exp(-t))  # noqa: E731


# (cell, wrt, point, the same map written independently with mpmath, the order of its arguments)
NETWORKS = [
    ("g(x1, x2) = [x1*x2, x1 + x2]\nh(u, v) = [sin(u)*v]", "", {"x1": 0.4, "x2": 1.7},
     lambda x1, x2: [mpmath.sin(x1 * x2) * (x1 + x2)], ["x1", "x2"]),
    ("z = w*x + b\na = sigmoid(z)\nL = (a - t)**2", "w,b", {"w": 0.7, "b": -0.2, "x": 1.5, "t": 1.0},
     lambda w, b: [(sig(w * 1.5 + b) - 1.0) ** 2], ["w", "b"]),
    ("u = x*y\nv = u + x\nw = u*v", "", {"x": 0.4, "y": 1.7},  # u feeds v and w: a branch
     lambda x, y: [x * y * (x * y + x)], ["x", "y"]),
    ("f(a, b) = [a + b, a*b, exp(a)]\ng(p, q, r) = [p*q, q + r, r]\nh(s, t, u) = [s*t*u, s - u]\n"
     "k(m, n) = [tanh(m) + n]", "", {"a": 0.3, "b": -0.8},
     lambda a, b: [mpmath.tanh((a + b) * a * b * (a * b + mpmath.exp(a)) * mpmath.exp(a))
                   + (a + b) * a * b - mpmath.exp(a)], ["a", "b"]),
    ("h1 = tanh(w1*x + b1)\nh2 = tanh(w2*x + b2)\no = v1*h1 + v2*h2\nL = (o - t)^2\nR = L + 0.1*(w1^2 + w2^2)",
     "w1,w2,b1,b2", {"w1": 0.5, "w2": -0.3, "b1": 0.1, "b2": 0.2, "x": 1.2, "v1": 0.7, "v2": -1.1, "t": 0.4},
     lambda w1, w2, b1, b2: [(0.7 * mpmath.tanh(w1 * 1.2 + b1) - 1.1 * mpmath.tanh(w2 * 1.2 + b2) - 0.4) ** 2
                             + 0.1 * (w1**2 + w2**2)], ["w1", "w2", "b1", "b2"]),
]


@pytest.mark.parametrize(("cell", "wrt", "point", "independent", "order"), NETWORKS)
def test_walkthrough_gradients_equal_numeric_derivatives(cell: str, wrt: str, point: dict, independent: object,
                                                         order: list[str]) -> None:
    result = jacobian(cell, chain=True, wrt=wrt, at=point)
    walk = result.walkthrough()
    want = numeric_jacobian(independent, [point[n] for n in order])  # type: ignore[arg-type]
    assert_close(walk.gradient, want)
    assert walk.agrees
    assert [s.name for s in result.inputs] == order


def _local(step: LineStep, operand: str) -> np.ndarray:
    """The whole local Jacobian of a line by one operand, numerically, from the walk's own step."""
    return step.local_rows(operand, range(step.line.root.size))


@pytest.mark.parametrize(("cell", "point", "independent", "order"),
                         [(n[0], n[2], n[3], n[4]) for n in NETWORKS if n[0].startswith(("g(", "f("))])
def test_the_product_of_local_jacobians_is_the_whole_jacobian(cell: str, point: dict, independent: object,
                                                              order: list[str]) -> None:
    """Each stage is fed by the one before it whole: the local Jacobians multiplied in forward order are J."""
    result = jacobian(cell, chain=True)
    walk = result.walkthrough(**point)
    forward = walk.backward[::-1]
    first = forward[0]
    product = np.hstack([_local(first, name) for name in order])
    for before, step in zip(forward, forward[1:]):
        assert [leaf.name for leaf in step.line.leaves] == [before.line.name]  # a chain, not a branch
        product = _local(step, before.line.name) @ product
    want = numeric_jacobian(independent, [point[n] for n in order])  # type: ignore[arg-type]
    assert_close(product, want)
    assert_close(result.at(**point), want)


def _at(matrix: sp.MatrixBase, values: dict[str, float]) -> np.ndarray:
    return np.array(matrix.subs({s: values[s.name] for s in matrix.free_symbols}).evalf(), dtype=float)


def test_each_local_jacobian_shown_is_the_matrix_of_partials_the_walk_multiplies() -> None:
    """The sympy local Jacobian a step shows (in the stage's own parameters) at the stage's inputs equals the
    numbers the walk multiplies by."""
    cell, _, point, _, _ = NETWORKS[0]
    result = jacobian(cell, chain=True, at=point)
    walk = result.walkthrough()
    x1, x2 = point["x1"], point["x2"]
    g, h = result.steps
    u, v = x1 * x2, x1 + x2
    assert_close(_at(g.matrix, {"x1": x1, "x2": x2}), [[x2, x1], [1, 1]])
    assert_close(_at(h.matrix, {"u": u, "v": v}), [[v * np.cos(u), np.sin(u)]])
    by_step = {step.line.name: step for step in walk.backward}
    assert_close(np.hstack([_local(by_step["g"], "x1"), _local(by_step["g"], "x2")]), [[x2, x1], [1, 1]])
    assert_close(_local(by_step["h"], "g"), [[v * np.cos(u), np.sin(u)]])


def test_branches_are_summed() -> None:
    """x feeds u and v: its gradient is the sum of what each path brings, and the view writes that sum."""
    x, y = 0.4, 1.7
    result = jacobian("u = x*y\nv = u + x\nw = u*v", chain=True, at={"x": x, "y": y})
    walk = result.walkthrough()
    landing = [step for step in walk.backward if "x" in step.products]
    assert [step.line.name for step in landing] == ["v", "u"]
    first, second = (float(step.products["x"].ravel()[0]) for step in landing)
    assert float(np.ravel(landing[1].before["x"])[0]) == pytest.approx(first) and first != 0
    u, v = x * y, x * y + x
    assert first == pytest.approx(u) and second == pytest.approx((v + u) * y)  # through v; through u
    assert float(walk.gradients["x"].ravel()[0]) == pytest.approx(first + second)
    assert_close(walk.gradient, numeric_jacobian(lambda a, b: [a * b * (a * b + a)], [x, y]))
    number = r"([-\d.]+)"  # a 1 x 1 value is shown as its number
    shown = re.search(rf"\\frac\{{\\partial w\}}\{{\\partial x\}} = {number} \+ {number} = {number}",
                      result.latex())
    assert shown is not None
    assert [float(t) for t in shown.groups()] == pytest.approx([first, second, first + second], rel=1e-3)


def test_micrograd_neuron_published_gradients() -> None:
    """Karpathy's micrograd lecture: o = tanh(x1*w1 + x2*w2 + b) at x1=2, x2=0, w1=-3, w2=1, b=6.8813735870195432
    has x1.grad = -1.5, w1.grad = 1.0, x2.grad = 0.5, w2.grad = 0.0."""
    result = jacobian("n = x1*w1 + x2*w2 + b\no = tanh(n)", chain=True, wrt="x1,w1,x2,w2",
                      at={"x1": 2.0, "x2": 0.0, "w1": -3.0, "w2": 1.0, "b": 6.8813735870195432})
    assert result.walkthrough().gradient.tolist()[0] == pytest.approx([-1.5, 1.0, 0.5, 0.0], abs=1e-6)
    assert [float(s.value) for s in result.steps] == pytest.approx([0.8813735870195432, 0.7071067811865476])


LAYER = "W: 2x3\nx: 3\nb: 2\nt: 2\nz = W @ x + b\na = tanh(z)\nL = sum((a - t)**2)"
LAYER_POINT = {"W": [[0.1, 0.2, 0.3], [-0.4, 0.5, 0.6]], "x": [1.0, 2.0, -1.0], "b": [0.1, -0.2], "t": [0.5, -0.5]}


def layer_loss(*flat: mpmath.mpf) -> list[mpmath.mpf]:
    W = [list(flat[0:3]), list(flat[3:6])]
    b = flat[6:8]
    x, t = [1.0, 2.0, -1.0], [0.5, -0.5]
    a = [mpmath.tanh(sum(W[i][j] * x[j] for j in range(3)) + b[i]) for i in range(2)]
    return [sum((a[i] - t[i]) ** 2 for i in range(2))]


def test_layer_gradient_row_major_and_in_its_own_shape() -> None:
    result = jacobian(LAYER, chain=True, wrt="W,b", at=LAYER_POINT)
    assert [s.name for s in result.inputs] == ["W_1,1", "W_1,2", "W_1,3", "W_2,1", "W_2,2", "W_2,3", "b_1", "b_2"]
    flat = [v for row in LAYER_POINT["W"] for v in row] + LAYER_POINT["b"]  # type: ignore[union-attr]
    want = numeric_jacobian(layer_loss, flat)
    walk = result.walkthrough()
    assert_close(walk.gradient, want)
    assert_close(result.at(**result.default_point()), want)
    assert r"\frac{\partial L}{\partial W} &= \left[\begin{matrix}" in result.latex()
    assert "∂L/∂W = [[-0.381955, -0.76391, 0.381955], [0.581671, 1.16334, -0.581671]]" in str(result)
    assert [s.matrix.shape for s in result.steps] == [(2, 11), (2, 2), (1, 4)]


@pytest.mark.parametrize(("cell", "match"), [
    ("W: 2x3\nx: 2\nz = W @ x", r"line 3\b.*columns of the left \(2 x 3\).*rows of the right \(2 x 1\)"),
    ("W: 2x3\nx: 3\nz = W * x", r"line 3\b.*equal shapes.*use @"),
    ("W: 2x3\nz = 2*x", r"line 1\b.*declared but never used"),
    ("x: 3\ny = sin(x) + 1\nz = y + x\nL = exp(z)", None),
    ("x: 3\nL = x", None),
    ("x: 3\nL = sin(x) > 0", r"line 2\b.*a comparison is only allowed as the condition of where"),
    ("W: 2x3\nW = 1", r"line 2\b.*declared as an input"),
    ("f(x) = x\nW: 2", r"line 2\b.*go with assignment lines"),
    ("x: 0", r"line 1\b.*1 to"),
])
def test_shape_mistakes(cell: str, match: str | None) -> None:
    if match is None:
        assert jacobian(cell).matrix.shape == (3, 3)
        return
    with pytest.raises(CellError, match=match):
        jacobian(cell)


def test_at_checks_matrix_shapes() -> None:
    with pytest.raises(OptionError, match="W is 2 x 3, so it needs 6 values"):
        jacobian(LAYER, at={**LAYER_POINT, "W": [1.0, 2.0]})


def test_chain_panel_steps_and_follows_the_point() -> None:
    result = jacobian("z = w*x + b\na = sigmoid(z)\nL = (a - t)**2", chain=True, wrt="w,b",
                      at={"w": 0.7, "b": -0.2, "x": 1.5, "t": 1.0})
    panel = result.widget()
    assert isinstance(panel, NetworkPanel)
    assert 'data-name="L"' in re.search(r'<g class="jm-node jm-current"[^>]*>', panel.picture.value).group(0)
    panel.next.click()
    assert panel.position.value == 2 and "Backward step 2 of 3" in panel.detail.value
    assert 'class="jm-node jm-current" data-name="a"' in panel.picture.value
    panel.previous.click()
    panel.previous.click()
    assert "Forward pass" in panel.detail.value and "jm-current" not in panel.picture.value
    panel.controls["w"].box.value = -0.4
    panel.position.value = panel.position.max
    shown = [float(v) for v in re.findall(r"<b>([-\d.e]+)</b>", panel.detail.value)]  # ∂L/∂w, ∂L/∂b
    want = numeric_jacobian(lambda w, b: [(sig(w * 1.5 + b) - 1.0) ** 2], [-0.4, -0.2])
    assert shown[:2] == pytest.approx(want[0].tolist(), rel=1e-3)
    assert "matches the Jacobian of the composed map" in panel.detail.value


def test_layer_panel_groups_matrix_entries_in_the_graph() -> None:
    panel = jacobian(LAYER, chain=True, wrt="W,b", at=LAYER_POINT).widget()
    names = re.findall(r'data-name="([^"]+)"', panel.picture.value)
    assert sorted(names) == sorted(["W", "x", "b", "t", "z", "a", "L"])
    panel.position.value = panel.position.max
    assert "each in its array's own shape" in panel.detail.value and "∂L∂W:" in read_aloud(panel.detail.value)


def long_chain(stages: int) -> str:
    return "\n".join(f"f{k}(a{k}, b{k}, c{k}) = [sin(a{k})*b{k} + c{k}, tanh(b{k} + c{k}), a{k}*c{k} - exp(b{k}/10)]"
                     for k in range(stages))


def long_chain_numeric(stages: int) -> object:
    def run(a: mpmath.mpf, b: mpmath.mpf, c: mpmath.mpf) -> list[mpmath.mpf]:
        for _ in range(stages):
            a, b, c = mpmath.sin(a) * b + c, mpmath.tanh(b + c), a * c - mpmath.exp(b / 10)
        return [a, b, c]
    return run


def test_a_chain_too_large_to_compose_goes_through_its_stages() -> None:
    result = jacobian(long_chain(10), chain=True)
    assert result.whole is not None and result.whole.eager_matrix is None
    assert "too large to write out" in result.latex() and "too large to write out" in str(result)
    point = [0.3, -0.2, 0.5]
    want = numeric_jacobian(long_chain_numeric(10), point)
    assert_close(result.at(a0=point[0], b0=point[1], c0=point[2]), want)
    walk = result.walkthrough(a0=point[0], b0=point[1], c0=point[2])
    assert [step.line.name for step in walk.backward] == [f"f{k}" for k in reversed(range(10))]
    assert_close(walk.gradient, want)
    assert walk.agrees  # against the composed map's Jacobian, evaluated stage by stage
    grid = result.whole.at(a0=np.array([0.3, 0.1]), b0=np.array([-0.2, 0.0]), c0=0.5)
    assert grid.shape == (2, 3, 3)
    assert_close(grid[0], want)
    assert_close(grid[1], numeric_jacobian(long_chain_numeric(10), [0.1, 0.0, 0.5]))


def test_matrix_of_a_large_chain_is_composed_on_request() -> None:
    # Composing took 3 s at load 3.5 on 2 cores (now 0.02 s idle); the allowance is 5 budgets, 50 s: over 15x.
    result = jacobian(long_chain(5), chain=True, budget=10)
    assert result.whole is not None and result.whole.eager_matrix is None
    point = {"a0": 0.3, "b0": -0.2, "c0": 0.5}
    symbolic = np.array(result.matrix.subs({s: point[s.name] for s in result.inputs}).evalf(), dtype=float)
    assert_close(symbolic, numeric_jacobian(long_chain_numeric(5), list(point.values())))
    assert result.matrix == result.whole.matrix


def test_the_walkthrough_says_when_the_chain_does_not_match_or_cannot_be_compared() -> None:
    """The verdict's failure branches, reached with a deliberately wrong direct Jacobian, an overflowed one and
    an undefined one."""
    result = jacobian("u = x*y\nL = sin(u) + x", chain=True, at={"x": 0.4, "y": 1.2})
    walked = result.walkthrough()
    said = verdict_words(walked.check)
    assert walked.agrees and said.startswith("it matches the Jacobian of the composed map computed directly")
    point, direct = result.default_point(), numeric_jacobian(lambda x, y: [mpmath.sin(x * y) + x], [0.4, 1.2])
    assert walk(result.compiled, point, direct).agrees
    off = walk(result.compiled, point, direct * 1.001)
    assert off.agrees is False and "DOES NOT match" in verdict_words(off.check)
    overflowed = walk(result.compiled, point, np.full_like(direct, np.inf))
    assert overflowed.agrees is None and "could not be compared" in verdict_words(overflowed.check)
    assert "DOES NOT match" in verdict_words(walk(result.compiled, point, np.full_like(direct, np.nan)).check)


def test_central_differences_past_the_largest_double_cannot_compare_rather_than_fail() -> None:
    """exp(sum(x)/100000) at sum(x)/100000 = 709.78271: finite, as its gradient, but a step along a random
    direction passes the largest double. The check said "DOES NOT match" of right numbers."""
    result = jacobian("x: 100\nL = exp(sum(x)/100000)", chain=True, at={"x": np.full(100, 709782.712)})
    assert result.whole is None  # too large to write out: the check is by central differences
    walked = result.walkthrough()
    assert_close(walked.gradient, np.full((1, 100), math.exp(709.782712) / 100000))
    assert walked.agrees is None and "could not be compared with central differences" in verdict_words(walked.check)


def test_a_wrong_local_jacobian_of_a_stage_is_caught_by_the_walkthrough(monkeypatch: pytest.MonkeyPatch) -> None:
    """h's partials off by 0.1%: the product of the local Jacobians no longer matches the composed map's."""
    result = jacobian(NETWORKS[0][0], chain=True, at=NETWORKS[0][2])
    stage = result.network.lines[1].root
    right = stage._local
    monkeypatch.setattr(stage, "_local", lambda operands: right(operands) * 1.001)
    walked = result.walkthrough()
    assert walked.agrees is False and "DOES NOT match" in verdict_words(walked.check)
