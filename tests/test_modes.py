"""Forward mode beside reverse mode: the same chain of local Jacobians multiplied from the input side gives the
same Jacobian (and J times a direction), checked against independent numeric derivatives; the cost counts
against hand counts; the panel steps through either mode; mistakes in --mode and --direction are clear errors."""

from __future__ import annotations

import re

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jacmagic import jacobian
from jacmagic.errors import CellError, JacmagicError
from jacmagic.panels.network_panel import NetworkPanel
from jacmagic.views.verdicts import verdict_words

from .conftest import Shell
from .helpers import assert_close, numeric_jacobian
from .test_backprop import LAYER, LAYER_POINT, NETWORKS, layer_loss, long_chain, long_chain_numeric
from .test_properties import SCALE, VARIABLES, Formula, formulas

CASES = [(cell, wrt, point, independent, order) for cell, wrt, point, independent, order in NETWORKS] + [
    (LAYER, "W,b", LAYER_POINT, layer_loss, None),
    (long_chain(10), "", {"a0": 0.3, "b0": -0.2, "c0": 0.5}, long_chain_numeric(10), ["a0", "b0", "c0"]),
    ("g(t) = [cos(t), sin(t), t]\nh(a, b, c) = [a*b*c, a + b + c, exp(a - c), b**2]", "", {"t": 0.7},
     lambda t: [mpmath.cos(t) * mpmath.sin(t) * t, mpmath.cos(t) + mpmath.sin(t) + t, mpmath.exp(mpmath.cos(t) - t),
                mpmath.sin(t) ** 2], ["t"]),
]


def _independent(cell: str, point: dict, independent: object, order: list[str] | None) -> np.ndarray:
    if order is None:  # the layer: W row-major, then b
        flat = [v for row in point["W"] for v in row] + point["b"]
        return numeric_jacobian(independent, flat)  # type: ignore[arg-type]
    return numeric_jacobian(independent, [point[n] for n in order])  # type: ignore[arg-type]


@pytest.mark.parametrize(("cell", "wrt", "point", "independent", "order"), CASES)
def test_forward_equals_reverse_equals_direct(cell: str, wrt: str, point: dict, independent: object,
                                              order: list[str] | None) -> None:
    result = jacobian(cell, chain=True, wrt=wrt, at=point, mode="both")
    walk = result.walkthrough()
    want = _independent(cell, point, independent, order)
    assert walk.forward_pass is not None
    assert_close(walk.forward_pass.tangent, want)
    assert_close(walk.gradient, want)
    assert walk.agrees and walk.forward_agrees
    said = verdict_words(walk.forward_check)
    assert "it matches" in said and "direction" not in said


@pytest.mark.parametrize(("cell", "wrt", "point", "independent", "order"), CASES)
def test_a_direction_gives_the_jacobian_times_it(cell: str, wrt: str, point: dict, independent: object,
                                                 order: list[str] | None) -> None:
    plain = jacobian(cell, chain=True, wrt=wrt)
    names = [s.name for s in plain.inputs]
    if order is None:  # a layer cell: arrays are given whole, W = 1.5 everywhere and b_2 = -0.5
        direction: dict = {"W": np.full((2, 3), 1.5), "b": [0.0, -0.5]}
        v = np.array([1.5] * 6 + [0.0, -0.5])
    else:
        direction = {names[0]: 1.5, names[-1]: -0.5} if len(names) > 1 else {names[0]: 2.0}
        v = np.array([direction.get(n, 0.0) for n in names])
    result = jacobian(cell, chain=True, wrt=wrt, at=point, direction=direction)
    assert result.options.mode == "forward"
    tangent = result.walkthrough().forward_pass.tangent  # type: ignore[union-attr]
    assert tangent.shape == (len(result.outputs), 1)
    assert_close(tangent[:, 0], _independent(cell, point, independent, order) @ v)


def test_each_forward_step_is_the_local_jacobian_times_the_incoming_tangents() -> None:
    """By hand: g(x, y) = [x*y, x + y], h(u, v) = [sin(u)*v] at (0.4, 1.7), along x."""
    result = jacobian(NETWORKS[0][0], chain=True, at=NETWORKS[0][2], direction={"x1": 1})
    walk = result.walkthrough()
    first, second = walk.forward_pass.steps  # type: ignore[union-attr]
    back = {step.line.name: step for step in walk.backward}
    x, y = 0.4, 1.7
    assert [first.incoming[n].ravel().tolist() for n in ("x1", "x2")] == [[1], [0]]
    local = np.hstack([back["g"].local_rows(n, [0, 1]) for n in ("x1", "x2")])
    assert_close(local, [[y, x], [1, 1]])
    assert_close(first.product[:, :, 0], local @ [[1], [0]])
    assert_close(first.product[:, :, 0], [[y], [1]])  # the tangents of u = x*y and v = x + y along x
    assert_close(second.incoming["g"], first.product)
    u, v = x * y, x + y
    assert_close(back["h"].local_rows("g", [0]), [[v * np.cos(u), np.sin(u)]])
    assert_close(second.product[:, :, 0], [[np.cos(u) * v * y + np.sin(u)]])


# Counted by hand: each pass multiplies a vector by every local Jacobian, rows x columns multiply-adds.
COUNTS = [
    # g: 2 x 2, h: 1 x 2 -> 6 per pass; 1 output, 2 inputs
    (NETWORKS[0][0], "", (1, 2, 6, 12, "reverse mode, by a factor of 2")),
    # u = x*y: 1 x 2; v = u + x: 1 x 2 (u, and x directly); w = u*v: 1 x 2 -> 6 per pass
    (NETWORKS[2][0], "", (1, 2, 6, 12, "reverse mode, by a factor of 2")),
    # g: 3 x 1, h: 4 x 3 -> 15 per pass; 4 outputs, 1 input
    (CASES[-1][0], "", (4, 1, 60, 15, "forward mode, by a factor of 4")),
    # z = w*x + b by w, b (and x, t constants feed it): 1 x 3 (w, x, b); a: 1 x 1; L: 1 x 2 (a, t) -> 6 per pass
    (NETWORKS[1][0], "w,b", (1, 2, 6, 12, "reverse mode, by a factor of 2")),
    # three 3 x 3 stages, 3 outputs and 3 inputs: the same either way
    (long_chain(3), "", (3, 3, 81, 81, "neither: as many outputs as inputs, so both modes cost the same")),
]


@pytest.mark.parametrize(("cell", "wrt", "counts"), COUNTS)
def test_costs_match_hand_counts(cell: str, wrt: str, counts: tuple) -> None:
    result = jacobian(cell, chain=True, wrt=wrt)
    cost = result.cost
    assert (cost.outputs, cost.inputs, cost.reverse, cost.forward, cost.cheaper) == counts
    words = cost.words()
    assert f"reverse mode needs {counts[0]:,} pass" in words and f"{counts[2]:,} multiply-adds" in words
    assert f"forward mode {counts[1]:,} pass" in words and f"{counts[3]:,} multiply-adds" in words
    assert f"cost: {words}" in " ".join(str(result).split())  # its continued lines joined


def test_a_direction_says_what_it_costs_alone() -> None:
    result = jacobian(CASES[-1][0], chain=True, direction={"t": 1})
    assert "J times the direction alone takes forward mode 1 pass, 15 multiply-adds" in str(result)


def test_the_views_show_the_mode_asked_for() -> None:
    cell, _, point, _, _ = NETWORKS[0]
    reverse = jacobian(cell, chain=True, at=point)
    forward = jacobian(cell, chain=True, at=point, mode="forward")
    both = jacobian(cell, chain=True, at=point, mode="both")
    for result, backward, ahead in ((reverse, True, False), (forward, False, True), (both, True, True)):
        for shown in (str(result), result.latex()):
            assert ("reverse mode, from the output back" in shown) is backward
            assert ("forward mode, from the inputs on" in shown) is ahead
    # tangents along x1 and x2 side by side: g's local Jacobian [[x2, x1], [1, 1]], then J, by hand
    assert "g\u0307 = ∂g/∂x₁·x\u0307₁ + ∂g/∂x₂·x\u0307₂ = [[1.7, 0.4], [1, 1]]" in str(forward)
    assert "h\u0307 = ∂h/∂g·g\u0307 = [3.40473, 1.28195]" in str(forward)
    assert r"\dot{h} = \frac{\partial h}{\partial g}\,\dot{g}" in forward.latex()
    assert reverse.walkthrough().forward_pass is None


def test_the_panel_steps_forward_mode_from_the_inputs_and_lights_the_graph_that_way() -> None:
    cell, _, point, independent, order = NETWORKS[1]
    result = jacobian(cell, chain=True, wrt="w,b", at=point, mode="both")
    panel = result.widget()
    assert isinstance(panel, NetworkPanel) and panel.mode in panel.children
    panel.mode.value = "forward"
    panel.position.value = 1
    assert "Forward-mode step 1 of 3" in panel.detail.value and 'data-flow="forward"' in panel.picture.value
    assert 'class="jm-node jm-current" data-name="z"' in panel.picture.value
    panel.next.click()
    assert 'class="jm-node jm-current" data-name="a"' in panel.picture.value
    assert 'class="jm-node jm-done" data-name="z"' in panel.picture.value
    panel.mode.value = "reverse"
    assert 'data-flow="reverse"' in panel.picture.value and "Backward step 2 of 3" in panel.detail.value
    hot = re.search(r'<line class="jm-hot" x1="(\d+)"[^>]* x2="(\d+)"', panel.picture.value)
    assert hot and int(hot.group(1)) > int(hot.group(2))  # the gradient points back, right to left
    panel.mode.value = "forward"
    hot = re.search(r'<line class="jm-hot" x1="(\d+)"[^>]* x2="(\d+)"', panel.picture.value)
    assert hot and int(hot.group(1)) < int(hot.group(2))
    panel.controls["w"].box.value = -0.4
    panel.position.value = panel.position.max
    shown = [float(v) for v in re.findall(r"<td>([^<]+)</td>", panel.detail.value)]
    want = numeric_jacobian(independent, [-0.4, point["b"]])  # type: ignore[arg-type]
    assert shown[:2] == pytest.approx(want[0].tolist(), rel=1e-3)
    assert "tangents of the outputs" in panel.detail.value and "cost: for the whole 1 x 2" in panel.detail.value


def test_forward_mode_alone_has_no_toggle() -> None:
    panel = jacobian(NETWORKS[0][0], chain=True, mode="forward").widget()
    assert panel.mode not in panel.children and panel.mode.value == "forward"
    panel.position.value = 1
    assert "Forward-mode step 1" in panel.detail.value


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"mode": "forward"}, r"--mode is how --chain multiplies.*add --chain"),
    ({"direction": {"x1": 1}}, r"--direction is how --chain multiplies.*add --chain"),
    ({"chain": True, "mode": "sideways"}, r"--mode takes reverse, forward or both"),
    ({"chain": True, "mode": "reverse", "direction": {"x1": 1}}, r"reverse mode has none: use --mode forward"),
    ({"chain": True, "direction": {"x3": 1}}, r"--direction x3 is not a variable of this map; its names are x1, x2"),
    ({"chain": True, "wrt": "x1", "direction": {"x2": 1}}, r"--direction: x2 is a constant"),
    ({"chain": True, "direction": {"x1": 0}}, r"--direction needs finite numbers, not all 0"),
])
def test_mode_and_direction_mistakes(kwargs: dict, match: str) -> None:
    with pytest.raises(JacmagicError, match=match):
        jacobian(NETWORKS[0][0], **kwargs)


def test_modes_through_the_magic(shell: Shell) -> None:
    ran = shell.ok("%%jacobian --chain --mode both --at x=0.5 --out R\ng(x) = [x, x**2]\nh(u, v) = [u*v]")
    assert any("forward mode, from the inputs on" in o.get("text/html", "") for o in ran.outputs)  # words: HTML
    assert any("reverse mode, from the output back" in o.get("text/plain", "") for o in ran.outputs)
    ran = shell.ok("%%jacobian --chain --direction W=[[1,0],[0,0]] --at W=[[1,2],[3,4]],x=[0.5,-1]\n"
                   "W: 2x2\nx: 2\nh = tanh(W @ x)\nL = sum(h)")
    assert any("one direction, W = [[1, 0], [0, 0]]" in o.get("text/plain", "") for o in ran.outputs)
    bad = shell.run("%%jacobian --chain --mode reverse --direction x=1\ng(x) = [x, x**2]\nh(u, v) = [u*v]")
    assert type(bad.error).__name__ == "UsageError" and "reverse mode has none" in str(bad.error)
    assert shell.ip.user_ns["R"].options.mode == "both"  # the failed cell bound nothing


def _renamed(formula: Formula, old: str, new: str) -> Formula:
    return Formula(re.sub(rf"\b{old}\b", new, formula.text), lambda v: formula.value({**v, old: v[new]}))


@settings(max_examples=25 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formulas, formulas, formulas, st.lists(st.floats(-1.2, 1.2).map(lambda t: round(t, 3)), min_size=6,
                                                   max_size=6))
def test_random_chains_agree_in_both_modes(first: Formula, second: Formula, third: Formula,
                                           numbers: list[float]) -> None:
    """a = F1(x, y, z); b = F2 with a for x; c = F3 with b for y: forward, reverse and an independent derivative."""
    stages = [("a", first), ("b", _renamed(second, "x", "a")), ("c", _renamed(third, "y", "b"))]
    cell = "\n".join(f"{name} = {formula.text}" for name, formula in stages)
    # every stage a constant: nothing to differentiate (the refusal is test_a_chain_of_constants_is_refused)
    assume(any(re.search(rf"\b{v}\b", cell) for v in VARIABLES))
    try:
        result = jacobian(cell, chain=True, mode="both", simplify="none")
    except CellError as err:  # every stage a constant: nothing to differentiate
        assume("no input variables" not in err.message)
        raise
    names = [s.name for s in result.inputs]
    point = dict(zip(VARIABLES, numbers[:3]))

    def independent(*values: mpmath.mpf) -> list[mpmath.mpf]:
        env = {**dict(zip(VARIABLES, map(mpmath.mpf, numbers[:3]))), **dict(zip(names, values))}
        for name, formula in stages:
            env[name] = formula.value(env)
        return [env[o.name] for o in result.outputs]

    want = numeric_jacobian(independent, [point[n] for n in names])
    if not np.all(np.abs(want) < 1e8):
        return
    walk = result.walkthrough(**{name: point[name] for name in result.names})
    assert walk.forward_pass is not None
    assert np.allclose(walk.forward_pass.tangent, want, rtol=1e-7, atol=1e-7), (cell, point)
    assert np.allclose(walk.gradient, want, rtol=1e-7, atol=1e-7), (cell, point)
    direction = np.array(numbers[3:3 + len(names)]) + 1.5  # never 0
    along = jacobian(cell, chain=True, simplify="none", direction=dict(zip(names, direction.tolist())))
    ahead = along.walkthrough(**{name: point[name] for name in along.names}).forward_pass
    assert ahead is not None
    assert np.allclose(ahead.tangent[:, 0], want @ direction, rtol=1e-7, atol=1e-7), (cell, point)


OVERFLOW_BESIDE = "a = x\nb = exp(3)\nc = exp(y**3 + b**3)"


@pytest.mark.parametrize("mode", ["reverse", "forward", "both"])
def test_a_value_independent_of_the_inputs_stays_so_beside_an_overflow(mode: str) -> None:
    """Found by the random chains: c = exp(b^3) overflows, b does not depend on x, so dc/dx is 0 exactly,
    not 0 * inf = undefined, in either mode; and the check agrees with the composed map's Jacobian."""
    result = jacobian(OVERFLOW_BESIDE, chain=True, wrt="x", mode=mode)
    walk = result.walkthrough(x=0.0, y=0.0)
    assert_close(walk.gradient, [[1.0], [0.0]])
    assert "DOES NOT" not in verdict_words(walk.check)


@pytest.mark.parametrize("mode", ["forward", "both"])
def test_forward_mode_keeps_a_value_independent_of_the_inputs_so_beside_an_overflow(mode: str) -> None:
    result = jacobian(OVERFLOW_BESIDE, chain=True, wrt="x", mode=mode)
    assert_close(result.whole.at(x=0.0, y=0.0), [[1.0], [0.0]])  # type: ignore[union-attr]
    forward = result.walkthrough(x=0.0, y=0.0).forward_pass
    assert forward is not None
    assert_close(forward.tangent, [[1.0], [0.0]])


@pytest.mark.parametrize("mode", ["reverse", "both"])
def test_a_chain_of_constants_is_refused(mode: str) -> None:
    with pytest.raises(CellError, match="no input variables"):
        jacobian("a = 2\nb = a\nc = b", chain=True, mode=mode).walkthrough()
