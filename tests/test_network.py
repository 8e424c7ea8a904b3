"""Layer cells as array operations: every operation's derivative against the entry-level (sympy) Jacobian and
central differences, a softmax classifier against a hand-written numpy backprop, the cut of every part of the
walkthrough at MNIST size, shapes that do not fit, forward mode, the panel."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from jacmagic import JacobianResult, jacobian
from jacmagic.chain.formulas import Formulas
from jacmagic.chain.network_walk import outputs_at
from jacmagic.errors import CellError, OptionError
from jacmagic.model import Options
from jacmagic.pipeline import compute_entries
from jacmagic.read.network import read_network
from jacmagic.views.mathml import formula
from jacmagic.views.verdicts import verdict_words

from .conftest import Shell
from .helpers import assert_close, read_aloud
from .test_properties import SCALE

RNG = np.random.default_rng(7)

# Cells over every operation the array reader covers; each is small enough for the entry-level reader too.
CELLS = [
    "W: 3x4\nx: 4\nb: 3\nh = tanh(W @ x + b)\nL = sum(h**2)",
    "W1: 3x4\nb1: 3\nW2: 2x3\nb2: 2\nx: 4\ny: 2\nh = relu(W1 @ x + b1)\nz = W2 @ h + b2\nL = -sum(y * log(softmax(z)))",
    "z: 4\ny: 4\nL = -sum(y * log_softmax(z))",
    "z: 4\nL = logsumexp(2 * z) - mean(z)",
    "x: 3\nW: 3x3\nu = W.T @ x\nL = norm(u) + dot(u, x) + u[0] * x[-1]",
    "x: 3\ns = sigmoid(x) / (1 + exp(-x)) - softplus(x) * sin(x)\nL = max(s) + min(cos(x))",
    "A: 2x3\nB: 3x2\nC = A @ B\nL = sum(sqrt(C**2 + 1)) + C[1, 0] * atan(C[0, 1])",
    "x: 3\nk = 2\ny = (x - k)**3 / (abs(x) + k)\nL = sum(sinh(y) - cosh(x) / 5)",
    "x: 3\ns = softmax(x)",  # a vector output: one row per entry
    "W: 2x2\nx: 2\nh = tanh(W @ x) * s\nL = sum((h - t)**2)",  # numbers beside arrays
    "x: 2\nu = tanh(x)\nv = 2 * u\nL = sum(u * v)",  # u feeds two lines: its gradient is a sum
]


def _random_point(result: JacobianResult) -> dict[str, np.ndarray]:
    return {name: RNG.uniform(-1.2, 1.2, result.network.shape_of(name)) + 0.1 for name in result.names}


@pytest.mark.parametrize("cell", CELLS, ids=[c.split("\n")[-1][:40] for c in CELLS])
def test_every_operation_matches_the_entry_level_jacobian_and_central_differences(cell: str) -> None:
    result = jacobian(cell, chain=True)
    assert isinstance(result, JacobianResult)
    entries = compute_entries(cell, Options())
    for _ in range(3):
        point = _random_point(result)
        got = result.at(**point)
        order = {s.name: j for j, s in enumerate(entries.inputs)}
        want = entries.at(**_numbers_as_floats(result, point))[:, [order[s.name] for s in result.inputs]]
        assert_close(got, want, rel=1e-9)
        walked = result.walkthrough(**point)
        assert walked.agrees and "computed directly" in verdict_words(walked.check)
        assert_close(_central(result, point), got, rel=1e-5)


@pytest.mark.parametrize("cell", CELLS, ids=[c.split("\n")[-1][:40] for c in CELLS])
def test_forward_mode_matches_on_every_operation(cell: str) -> None:
    """Each operation's Jacobian-vector product, through the whole cell, equals the entry-level Jacobian times the
    directions: one per input, and one random direction."""
    result = jacobian(cell, chain=True, mode="both")
    entries = compute_entries(cell, Options())
    point = _random_point(result)
    order = {s.name: j for j, s in enumerate(entries.inputs)}
    want = entries.at(**_numbers_as_floats(result, point))[:, [order[s.name] for s in result.inputs]]
    walked = result.walkthrough(**point)
    assert walked.forward_pass is not None and walked.forward_agrees
    assert_close(walked.forward_pass.tangent, want, rel=1e-9)
    direction = {name: RNG.standard_normal(result.network.shape_of(name)) for name in result.wrt}
    along = jacobian(cell, chain=True, direction=direction)
    v = np.concatenate([direction[name].ravel() for name in result.wrt])
    assert_close(along.walkthrough(**point).forward_pass.tangent[:, 0], want @ v, rel=1e-9)  # type: ignore[union-attr]


def _numbers_as_floats(result: JacobianResult, point: dict[str, np.ndarray]) -> dict[str, object]:
    """The point as the entry-level result takes it: arrays whole, a number as a float (an array there would be
    a grid of points)."""
    return {n: v if n in result.network.declared else float(v[0, 0]) for n, v in point.items()}


def _central(result: JacobianResult, point: dict[str, np.ndarray]) -> np.ndarray:
    """The Jacobian by central differences of the map, one input entry at a time."""
    columns = []
    for name in result.wrt:
        for k in range(point[name].size):
            moved = []
            for sign in (1, -1):
                shifted = {n: v.copy() for n, v in point.items()}
                shifted[name].reshape(-1)[k] += sign * 1e-6
                moved.append(outputs_at(result.network, shifted))
            columns.append((moved[0] - moved[1]) / 2e-6)
    return np.stack(columns, axis=1)


OPERATIONS = ["tanh({})", "sigmoid({})", "exp({} / 3)", "sin({})", "({})**2", "2 * {} - 1", "{} / (2 + {}**2)",
              "softplus({})", "atan({})", "log(1 + {}**2)", "sqrt(1 + {}**2)", "({}) * (W @ v)", "softmax({})",
              "log_softmax({})"]


@settings(max_examples=25 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(OPERATIONS), min_size=1, max_size=4), st.sampled_from(["sum", "mean", "norm",
                                                                                         "logsumexp", "max"]))
def test_random_layer_chains_match_the_entry_level_jacobian(operations: list[str], reduce: str) -> None:
    lines, previous = ["v: 3"], "v"
    for k, operation in enumerate(operations):
        lines.append(f"a{k} = " + operation.replace("{}", previous))
        previous = f"a{k}"
    lines.append(f"L = {reduce}({previous})")
    if any("W" in line for line in lines):
        lines.insert(1, "W: 3x3")
    cell = "\n".join(lines)
    result = jacobian(cell, chain=True)
    entries = compute_entries(cell, Options())
    point = _random_point(result)
    order = {s.name: j for j, s in enumerate(entries.inputs)}
    want = entries.at(**point)[:, [order[s.name] for s in result.inputs]]
    assert np.allclose(result.at(**point), want, rtol=1e-8, atol=1e-10), cell


def classifier(inputs: int, hidden: int, classes: int) -> tuple[str, dict[str, np.ndarray]]:
    cell = (f"W1: {hidden}x{inputs}\nb1: {hidden}\nW2: {classes}x{hidden}\nb2: {classes}\nx: {inputs}\ny: {classes}\n"
            "h = relu(W1 @ x + b1)\nz = W2 @ h + b2\nL = -sum(y * log(softmax(z)))")
    rng = np.random.default_rng(inputs)
    point = {"W1": rng.standard_normal((hidden, inputs)) * 0.2, "b1": rng.standard_normal(hidden) * 0.1,
             "W2": rng.standard_normal((classes, hidden)) * 0.2, "b2": rng.standard_normal(classes) * 0.1,
             "x": rng.random(inputs), "y": np.eye(classes)[classes // 3]}
    return cell, point


def numpy_backprop(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The textbook backward pass of the classifier, written by hand."""
    a = p["W1"] @ p["x"] + p["b1"]
    h = np.maximum(a, 0)
    z = p["W2"] @ h + p["b2"]
    s = np.exp(z - z.max())
    s /= s.sum()
    dz = s - p["y"]
    dh = p["W2"].T @ dz
    da = dh * (a > 0)
    return {"W1": np.outer(da, p["x"]), "b1": da, "W2": np.outer(dz, h), "b2": dz, "dz": dz}


@pytest.mark.parametrize("sizes", [(64, 16, 10), (64, 32, 10), (784, 128, 10)])
def test_the_classifier_gradient_equals_a_hand_written_backprop(sizes: tuple[int, int, int]) -> None:
    cell, point = classifier(*sizes)
    result = jacobian(cell, chain=True, wrt="W1,b1,W2,b2", at=point)
    gradient = result.gradient()
    want = numpy_backprop(point)
    for name in ("W1", "b1", "W2", "b2"):
        got = gradient[name].reshape(want[name].shape)
        assert np.allclose(got, want[name], rtol=1e-10, atol=1e-12 * np.abs(want[name]).max()), name
    assert result.shape == (1, sum(int(np.prod(np.shape(point[n]))) for n in ("W1", "b1", "W2", "b2")))
    walked = result.walkthrough()
    assert walked.agrees and "random directions" in verdict_words(walked.check)
    step_l = walked.backward[0]
    assert_close(step_l.products["z"][0, :, 0], want["dz"], rel=1e-12)  # dL/dz = p - y, shown at the L step


def test_a_value_used_twice_collects_both_paths() -> None:
    result = jacobian("x: 2\nu = tanh(x)\nv = 2 * u\nL = sum(u * v)", chain=True, at={"x": [0.3, -0.4]})
    u = np.tanh([0.3, -0.4])
    assert_close(result.gradient()["x"], 4 * u * (1 - u**2), rel=1e-12)  # L = 2 sum(u^2)
    assert "(a second path)" in str(result)


def test_the_walkthrough_shows_p_minus_y_and_cuts_every_part_at_mnist_size() -> None:
    cell, point = classifier(784, 128, 10)
    result = jacobian(cell, chain=True, wrt="W1,b1,W2,b2", at=point)
    shown = result.displays
    size = sum(len(v if isinstance(v, (str, bytes)) else str(v)) for d in shown if isinstance(d, dict)
               for v in d.values())
    assert size <= 200_000
    latex = [d["text/latex"] for d in shown if isinstance(d, dict) and "text/latex" in d]
    assert max(map(len, latex)) < 5_000  # MathJax refuses longer expressions ("internal buffer size exceeded")
    text = str(result)
    for row in re.findall(r"\[([^\[\]]*)\]", text):  # every innermost bracket: at most 8 + 2 numbers and an ellipsis
        assert len(row.split(", ")) <= 11, row
    assert "(128 x 784)" in text and "(1 x 101,770)" in text
    p_minus_y = numpy_backprop(point)["dz"]
    assert f"∂L/∂z = upstream · ∂L/∂z = [{p_minus_y[0]:.6g}, {p_minus_y[1]:.6g}" in text
    assert "local Jacobian ∂h/∂W₁ = diag(H(W₁x + b₁)) · (I₁₂₈ ⊗ xᵀ) (128 x 100,352)" in text
    assert "diagonal: the product is element-wise" in text and "Kronecker, block rows of xᵀ" in text
    assert "local Jacobian ∂L/∂z = −1 · 1ᵀ · diag(y) · diag(1/(softmax(z))) · (diag(s) − s sᵀ)" in text
    pictures = [d for d in shown if isinstance(d, dict) and "image/png" in d]
    assert len(pictures) == 2 and "∂L/∂W₁ in the shape of W1 (128 x 784)" in pictures[0]["text/plain"]
    assert "∂L/∂W₂ in the shape of W2 (10 x 128)" in pictures[1]["text/plain"]
    assert pictures[0]["image/png"].startswith(b"\x89PNG")
    assert "reverse mode needs 1 pass (one per output), " in text and "forward mode 101,770 passes" in text


def test_counts_make_the_point_for_the_64_32_10_classifier() -> None:
    cell, point = classifier(64, 32, 10)
    cost = jacobian(cell, chain=True, wrt="W1,b1,W2,b2").cost
    assert (cost.outputs, cost.inputs) == (1, 2_410) and cost.cheaper.startswith("reverse mode, by a factor of 2,410")


@pytest.mark.parametrize(("cell", "match"), [
    ("W1: 3x4\nW2: 2x3\nx: 4\nh = W1 @ x\nz = W2 @ x", r"line 5, column 5: @ needs the columns of the left \(2 x 3\) "
                                                       r"to match the rows of the right \(4 x 1\)"),
    ("x: 3\ny: 4\nL = sum(x * y)", r"line 3.*\* needs equal shapes, got 3 x 1 and 4 x 1; use @"),
    ("x: 3\nW: 2x2\nL = dot(x, W)", r"dot\(\) takes two vectors of the same length"),
    ("x: 3\nW: 2x2\nL = sum(x)", r"line 2: W is declared but never used"),
    ("W: 4000x4000\nL = sum(W)", r"a shape needs 1 to 10,000,000 entries"),
])
def test_shape_mistakes_name_the_line_and_both_shapes(cell: str, match: str) -> None:
    with pytest.raises(CellError, match=match):
        jacobian(cell, chain=True)


@pytest.mark.parametrize("chain", [False, True])
def test_a_product_of_two_column_vectors_suggests_the_dot_product(chain: bool) -> None:
    """`x @ x` is numpy's dot product of 1-D arrays; a cell's vectors are columns, so it is refused, and the
    refusal now says how the dot product is written. Both spellings it gives are that product: gradient 2x."""
    with pytest.raises(CellError, match=r"line 2, column 5: .* \(3 x 1\) .* \(3 x 1\); vectors are columns here, "
                                        r"so a dot product is written a\.T @ b or dot\(a, b\)"):
        jacobian("x: 3\ny = x @ x", chain=chain)
    point = np.array([0.3, -1.2, 2.0])
    h = 1e-6
    want = [((point + h * e) @ (point + h * e) - (point - h * e) @ (point - h * e)) / (2 * h) for e in np.eye(3)]
    for written in ("x.T @ x", "dot(x, x)"):
        result = jacobian(f"x: 3\ny = {written}", chain=chain, at={"x": point})
        assert_close(result.at(x=point).ravel(), np.array(want), rel=1e-6)


@pytest.mark.parametrize(("cell", "match"), [
    ("x1: 30\nx_1: 30\nL = sum(x1) + sum(x_1)", r"x1 and x_1 look the same once typeset"),
    ("theta: 30\nθ: 30\nL = sum(theta * θ)", r"look the same once typeset"),
    ("x: 30\nх: 30\nL = sum(x) + sum(х)", r"look alike but are different names"),
])
def test_names_that_collide_are_refused_at_any_size(cell: str, match: str) -> None:
    """Found by trying it: a network too large for the entry-level reader skipped its name checks."""
    with pytest.raises(CellError, match=match):
        jacobian(cell, chain=True)


def test_a_large_cell_beyond_the_array_reader_says_which_line_and_why() -> None:
    with pytest.raises(CellError, match=r"line 3: this line uses something the array-level walkthrough does not "
                                        r"cover .* too large for the entry-level one \(the declared shapes have "
                                        r"20,000 entries .*softmax"):
        jacobian("x: 20000\nh = tanh(x)\nL = sum(where(True, h, 2 * h))", chain=True)


def test_without_chain_a_large_network_says_to_add_it() -> None:
    cell, _ = classifier(784, 128, 10)
    with pytest.raises(CellError, match=r"102,564 entries in all \(the largest, W1, 128 x 784\).*add --chain"):
        jacobian(cell)


def test_arrays_are_given_whole_by_name() -> None:
    cell, point = classifier(6, 4, 3)
    result = jacobian(cell, chain=True, wrt="W1,b1,W2,b2")
    listed = {n: np.asarray(v).tolist() for n, v in point.items()}
    assert_close(result.at(**listed), result.at(**point))
    with pytest.raises(OptionError, match=r"W1 is 4 x 6, so it needs 24 values in that shape, got 3"):
        result.at(**{**point, "W1": [1.0, 2.0, 3.0]})
    with pytest.raises(OptionError, match=r"W3 is not a variable of this map; its names are W1, b1, W2, b2, x, y"):
        result.at(**point, W3=1.0)
    from jacmagic.pipeline import compute

    with pytest.raises(OptionError, match=r"--range: W9 is not a variable of this map"):
        compute(cell, Options(chain=True, ranges=(("W9", 0.0, 1.0),)))
    with pytest.raises(OptionError, match=r"no value given for y"):
        result.at(**{n: v for n, v in point.items() if n != "y"})


def test_forward_mode_on_a_network_equals_reverse_mode() -> None:
    cell, point = classifier(8, 5, 3)
    result = jacobian(cell, chain=True, wrt="W1,b1,W2,b2", at=point, mode="both")
    walked = result.walkthrough()
    assert walked.forward_pass is not None and walked.forward_agrees
    assert_close(walked.forward_pass.tangent, walked.gradient.T.reshape(1, -1).reshape(walked.gradient.shape), 1e-12)
    direction = {"W2": np.ones((3, 5)), "b1": np.arange(5.0)}
    along = jacobian(cell, chain=True, wrt="W1,b1,W2,b2", at=point, direction=direction)
    v = np.concatenate([np.zeros(40), np.arange(5.0), np.ones(15), np.zeros(3)])
    assert_close(along.walkthrough().forward_pass.tangent[:, 0], walked.gradient @ v, 1e-12)  # type: ignore[union-attr]
    assert "J·v = " in str(along) and "forward mode, from the inputs on" in str(along)
    big, _ = classifier(784, 128, 10)
    with pytest.raises(OptionError, match=r"forward mode along all 101,770 inputs .* give one --direction"):
        jacobian(big, chain=True, wrt="W1,b1,W2,b2", mode="forward")


def test_symbolic_options_need_a_small_network() -> None:
    cell, _ = classifier(64, 16, 10)
    with pytest.raises(OptionError, match=r"--hessian needs the Jacobian written out symbolically"):
        jacobian(cell, chain=True, hessian=True)
    small = jacobian("W: 2x2\nx: 2\nL = sum(tanh(W @ x))", chain=True, wrt="W", hessian=True, at={"x": [1, 2],
                                                                                                  "W": np.eye(2)})
    assert small.whole is not None and small.whole.hessians
    assert [s.matrix.shape for s in small.steps] == [(1, 4)]  # one line: the whole map's Jacobian by W
    with pytest.raises(OptionError, match=r"too large to write out entry by entry"):
        _ = jacobian(cell, chain=True).steps[0].matrix


def test_the_panel_steps_through_a_network_and_follows_an_edited_entry() -> None:
    cell, point = classifier(64, 32, 10)
    result = jacobian(cell, chain=True, wrt="W1,b1,W2,b2", at=point)
    panel = result.widget()
    assert set(panel.graph.positions) >= {"W1", "x", "h", "z", "L"}
    panel.position.value = 1
    assert "Backward step 1 of 3" in panel.detail.value and 'data-name="L"' in re.search(
        r'<g class="jm-node jm-current"[^>]*>', panel.picture.value).group(0)  # type: ignore[union-attr]
    panel.position.value = 3
    assert "(I64⊗xT)" not in read_aloud(panel.detail.value) and "(I32⊗xT)" in read_aloud(panel.detail.value)
    assert "32 x 2,048" in panel.detail.value  # the local Jacobian, cut to the window, says its shape
    control = panel.controls["W2"]
    control.picks[0].value, control.picks[1].value = 3, 5
    assert float(control.box.value) == pytest.approx(point["W2"][3, 5], rel=1e-3)  # in the panel's 4 digits
    before = panel.walk.gradients["W2"].copy()
    panel.digits_box.value = 6  # showing more digits changes no value
    assert len(control.box.value.lstrip("-").replace(".", "").lstrip("0")) >= 5
    assert (panel.walk.gradients["W2"] == before).all() and control.value[3, 5] == point["W2"][3, 5]
    walk = panel.walk
    control.picks[1].value, panel.digits_box.value = 6, 7  # picking an entry or showing digits computes nothing again
    assert panel.walk is walk
    control.picks[1].value, panel.digits_box.value = 5, 6
    control.box.value = "not a number"  # refused: the entry's value comes back
    assert float(control.box.value) == pytest.approx(point["W2"][3, 5], rel=1e-5)
    control.box.value = "2.5"
    assert control.box.value == "2.5"  # as typed
    panel.position.value = panel.position.max
    moved = {**point, "W2": point["W2"].copy()}
    moved["W2"][3, 5] = 2.5
    want = numpy_backprop(moved)["W2"]
    cells = re.findall(r"<td>([^<]+)</td>", panel.detail.value.split(formula(r"\frac{\partial L}{\partial W_{2}}"))[1])
    assert float(cells[0]) == pytest.approx(want[0, 0], rel=1e-3)


def test_a_network_through_the_magic_and_the_terminal(shell: Shell) -> None:
    shell.ip.user_ns.update({"W0": np.full((3, 4), 0.1), "x0": np.arange(4.0)})
    ran = shell.ok("%%jacobian --chain --wrt W --at W=W0, x=x0 --out net\nW: 3x4\nx: 4\nL = sum(tanh(W @ x))")
    assert any("I₃ ⊗ xᵀ" in o.get("text/plain", "") for o in ran.outputs)
    assert isinstance(shell.ip.user_ns["net"], JacobianResult)
    bad = shell.run("%%jacobian --chain\nW: 3x4\nx: 3\nL = sum(W @ x)")
    assert type(bad.error).__name__ == "UsageError" and "line 3" in str(bad.error) and "3 x 4" in str(bad.error)
    assert isinstance(shell.ip.user_ns["net"], JacobianResult)


def test_the_reader_leaves_what_it_does_not_cover_to_the_entry_level_reader() -> None:
    """A condition that is a constant (every other function and form is covered since issue 23): the entry-level
    reader reads it into stages, and the one walk walks them (each stage a line of formulas), with the same
    numbers."""
    for cell in ("x: 2\nu = x + where(True, x[0], 1)\nL = sum(tanh(u))", "x: 2\nu = 2 * x\nL = sum(u) if True else 0"):
        with pytest.raises(Exception) as caught:
            read_network(cell)
        assert caught.type.__name__ == "NotStructured"
        result = jacobian(cell, chain=True, at={"x": [0.5, -0.25]})
        assert isinstance(result, JacobianResult) and result.walkthrough().agrees
        assert any(isinstance(line.root, Formulas) for line in result.network.lines)


def test_a_number_beside_arrays_may_be_given_as_a_one_entry_array() -> None:
    """Found by the MathML test: a 1 x 1 array for an undeclared scalar crashed with numpy's TypeError."""
    cell = "W: 2x2\nx: 2\nh = tanh(W @ x) * s\nL = sum((h - t)**2)"
    point = {"W": np.eye(2), "x": np.array([0.5, -0.5]), "t": 0.2}
    one = jacobian(cell, chain=True, at={**point, "s": np.array([[0.8]])}).gradient()
    assert_close(np.ravel(one["W"]), np.ravel(jacobian(cell, chain=True, at={**point, "s": 0.8}).gradient()["W"]))
    with pytest.raises(OptionError, match=r"s is 1 x 1, so it needs 1 value in that shape, got 2$"):
        jacobian(cell, chain=True, at={**point, "s": np.array([0.8, 0.1])})
    assert "J at s = 2, x = 1 = [1  2]" in str(jacobian("y = s*x", at={"s": np.array([[2.0]]), "x": 1}))
    with pytest.raises(OptionError, match=r"--at s: one number .* 2 values in the shape \(2,\)"):
        jacobian("y = s*x", at={"s": np.array([2.0, 3.0]), "x": 1})
    with pytest.raises(OptionError, match=r"--at s: 'abc' is not a number"):
        jacobian("y = s*x", at={"s": "abc", "x": 1})


# -- the domain, kinks and ties: the array level says what the entry level says ----------------------------------

def _both_levels(cell: str, point: dict[str, object]) -> tuple[JacobianResult, np.ndarray, np.ndarray]:
    """The array-level result at `point`, its Jacobian, and the entry-level (no --chain) Jacobian in its columns."""
    result = jacobian(cell, chain=True, at=point)
    assert isinstance(result, JacobianResult)
    entries = jacobian(cell, at=point)
    order = {s.name: j for j, s in enumerate(entries.inputs)}
    return result, result.at(**point), entries.at(**point)[:, [order[s.name] for s in result.inputs]]


def _same(got: np.ndarray, want: np.ndarray) -> None:
    assert (np.isnan(got) == np.isnan(want)).all(), (got, want)
    assert_close(np.nan_to_num(got), np.nan_to_num(want), rel=1e-9)


def test_chain_log_of_a_negative_sum_is_undefined_with_its_reason_not_minus_one() -> None:
    result, got, want = _both_levels("x: 2\nL = log(sum(x))", {"x": [-3, 2]})
    assert np.isnan(want).all() and np.isnan(got).all()
    assert np.isnan(result.gradient(x=[-3, 2])["x"]).all()
    walked = result.walkthrough(x=[-3, 2])
    said = verdict_words(walked.check)
    assert "log(sum(x)) has no finite real value here (line 2)" in said and "DOES NOT" not in said
    shown = str(result)
    flat = " ".join(shown.split())  # the words as read, wherever the text's width continued a line
    assert "has no finite real value" in flat and "-1" not in shown.split("every value")[1]
    panel = result.widget()
    panel.position.value = panel.position.max
    assert "has no finite real value" in panel.detail.value


def test_chain_sum_of_reciprocals_at_zero_is_undefined_not_minus_infinity() -> None:
    result, got, want = _both_levels("x: 2\nL = sum(1/x)", {"x": [0, 2]})
    _same(got, want)
    assert np.isnan(result.gradient(x=[0, 2])["x"]).all()
    assert "division by zero: it divides by x, which is 0 here (line 2)" in verdict_words(result.walkthrough().check)


# Cells and points on the edge of the domain (and just inside it): both levels give the same numbers and the
# same undefined entries; the array level's check judges the defined ones and says why the rest are undefined.
DOMAIN_EDGES = [
    ("x: 2\nL = sum(log(x))", [[0, 1], [-1, 2], [1e-300, 3]]),
    ("x: 2\nh = sqrt(x)\nL = sum(h * x)", [[-1, 4], [4, 9]]),
    ("x: 2\nL = sum(x ** -1) + sum(x ** 0.5)", [[0, 1], [-2, 1], [2, 1]]),
    ("x: 3\nh = log(x) * 0\nL = sum(h)", [[-1, 1, 2]]),  # times 0 is still undefined, as written
    ("x: 2\nW: 2x2\nh = W @ x\nL = sum(log(h))", [{"x": [1, 1], "W": [[1, 1], [-1, -1]]}]),
    ("x: 2\nL = sum(exp(log(x)))", [[0, 1]]),  # exp(log(0)) is not 0
]


@pytest.mark.parametrize("cell,points", DOMAIN_EDGES, ids=[c.split("\n")[-1][:30] for c, _ in DOMAIN_EDGES])
def test_the_domain_decides_at_both_levels(cell: str, points: list[object]) -> None:
    for where in points:
        point = where if isinstance(where, dict) else {"x": where}
        result, got, want = _both_levels(cell, point)
        _same(got, want)
        walked = result.walkthrough(**point)
        assert walked.agrees, verdict_words(walked.check)
        said = verdict_words(walked.check)
        assert ("no finite real value" in said or "division by zero" in said) == \
            bool(np.isnan(want).any())
        assert_close(walked.gradient[np.isfinite(want)], want[np.isfinite(want)])


def test_a_vector_output_is_undefined_only_in_its_undefined_entries() -> None:
    result = jacobian("x: 2\ny = 1 / (x - 1)", chain=True)
    got = result.at(x=[1, 3])
    assert np.isnan(got[0]).all()
    assert_close(got[1], [0, -1 / 4])  # d/dx2 of 1/(x2 - 1) at 3, by hand


def test_chain_abs_at_its_kink_is_zero_as_in_the_frameworks_and_the_check_matches() -> None:
    result, got, want = _both_levels("b: 2\nL = sum(abs(b))", {"b": [0, 1]})
    assert_close(got, [[0, 1]])
    assert_close(want, [[0, 1]])
    assert verdict_words(result.walkthrough().check).startswith("it matches")


# Points exactly on a kink or a tie: abs, relu and a bare max(z, 0) have derivative 0 there (the frameworks'
# convention, the README's); max and min of a vector are undefined where two entries tie (no one entry is
# picked), and the check judges the entries that are defined.
KINKS = [
    ("b: 3\nL = sum(abs(b))", {"b": [0, 1, -2]}),
    ("b: 3\nh = relu(b)\nL = sum(h * b)", {"b": [0, 1, -2]}),
    ("b: 2\nW: 2x2\nh = abs(W @ b)\nL = sum(h)", {"b": [1, 1], "W": [[1, -1], [2, 3]]}),
    ("b: 3\nL = max(b) + sum(b)", {"b": [2, 2, 1]}),
    ("b: 3\nL = min(b) + sum(abs(b))", {"b": [0, 0, 1]}),
    ("b: 3\nh = relu(b)\ny = h * 2", {"b": [0, 1, -1]}),
]


@pytest.mark.parametrize("cell,point", KINKS, ids=[c.split("\n")[-1][:30] for c, _ in KINKS])
def test_kinks_and_ties_agree_at_both_levels(cell: str, point: dict[str, object]) -> None:
    result, got, want = _both_levels(cell, point)
    _same(got, want)
    assert result.walkthrough().agrees


def test_relu_and_abs_have_derivative_zero_at_the_kink_at_the_entry_level() -> None:
    for cell in ("f(x) = [relu(x)]", "f(x) = [abs(x)]", "f(x) = [heaviside(x + 1)]"):
        assert_close(jacobian(cell).at(x=0.0), [[0.0]])


# -- a layer cell the array reader leaves to the entry level keeps the layer cell's API -----------------------------

FALLEN_BACK = [  # (cell, point, the map by hand in numpy); a constant condition is not among the array operations
    ("x: 2\nh = where(True, hypot(x[0], x[1]), 0)\nL = h**2", {"x": [1.0, -2.0]},
     lambda x: [np.hypot(x[0], x[1]) ** 2]),
    ("x: 2\nW: 2x2\nh = W @ x\nL = where(True, hypot(h[0], h[1]), 0)", {"x": [1.0, 2.0], "W": [[1, 2], [3, 4]]},
     lambda x, w: [np.hypot(*(w @ x))]),
    ("x: 2\nh = where(True, hypot(x[0], x[1]), 0) * x\ny = tanh(h)", {"x": [0.5, -1.5]},  # a vector output
     lambda x: np.tanh(np.hypot(x[0], x[1]) * x)),
]


@pytest.mark.parametrize("cell,point,by_hand", FALLEN_BACK, ids=[c.split("\n")[-1][:30] for c, _, _ in FALLEN_BACK])
def test_a_layer_cell_read_into_stages_has_gradient_and_walkthrough_with_arrays(
        cell: str, point: dict[str, list[object]], by_hand: Callable[..., object]) -> None:
    result = jacobian(cell, chain=True, at=point)
    assert any(isinstance(line.root, Formulas) for line in result.network.lines)  # read into stages, walked as one
    gradients = result.gradient(**point)
    arrays = {name: np.asarray(value, dtype=float) for name, value in point.items()}
    for name, value in arrays.items():
        columns = []
        for k in range(value.size):
            step = np.zeros(value.size)
            step[k] = 1e-6
            moved = [{**arrays, name: (value.ravel() + sign * step).reshape(value.shape)} for sign in (1, -1)]
            ends = [np.ravel(by_hand(*(m[n] for n in point))) for m in moved]
            columns.append((ends[0] - ends[1]) / 2e-6)
        numeric = np.stack(columns, axis=1)
        assert_close(gradients[name].reshape(numeric.shape[0], -1), numeric, rel=1e-6)
    assert result.walkthrough(**point).agrees


# -- memory: estimated from the shapes before anything is allocated, refused past the limit ------------------------

CAPPED = """
import resource, sys
cap = int(sys.argv[1]) << 20
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
from jacmagic import JacmagicError, jacobian
try:
    result = jacobian(sys.argv[2], chain=True)
    print("shown", len(str(result)), result.gradient().keys() if result.shape[0] == 1 else result.shape)
except JacmagicError as err:
    print("refused", err)
"""


def _capped(cell: str, megabytes: int = 2500) -> str:
    """The cell in its own process whose address space is capped (the import alone takes about 600 MB of it):
    a walkthrough that outgrew its estimate would end in a MemoryError or a kill, not in these words."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", CAPPED, str(megabytes), cell], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("cell", [
    "x: 8000\nh = tanh(x)\ny = h * 2",  # a vector output: 8,000 gradient rows through every value
    "u: 8000\nv: 1x8000\nM = u @ v\nL = sum(M)",  # a computed 8,000 x 8,000 matrix
    "x: 1000000\ny = tanh(x)",  # a million outputs
])
def test_a_walkthrough_past_the_memory_limit_is_refused_before_allocating(cell: str) -> None:
    said = _capped(cell)
    assert said.startswith("refused") and "GB of numbers, over the 1.0 GB limit" in said, said
    assert "allow more with --memory GB" in said


def test_the_memory_limit_is_an_option_and_a_setting(shell: Shell) -> None:
    """Configurable like the budget: --memory on the cell, JacobianMagic.memory for the session."""
    cell = "x: 3000\nh = tanh(x)\ny = h * 2"  # 3,000 gradient rows through every value: about 0.5 GB
    said = shell.run(f"%%jacobian --chain --memory 0.1 --no-widgets\n{cell}").error
    assert isinstance(said, UsageError) and "over the 102 MB limit" in str(said)
    shell.ok("%config JacobianMagic.memory = 0.1")
    try:
        said = shell.run(f"%%jacobian --chain --no-widgets\n{cell}").error
        assert isinstance(said, UsageError) and "over the 102 MB limit" in str(said)
    finally:
        shell.ok("%config JacobianMagic.memory = 1.0")
    for bad in ("0", "-1", "nan", "5000"):
        said = shell.run(f"%%jacobian --chain --memory {bad} --no-widgets\nx: 2\nL = sum(x)").error
        range_words = "--memory takes a number of gigabytes at least 0.001 (1 MB) and at most 1024"
        assert type(said) is UsageError and range_words in str(said), said


@pytest.mark.parametrize("cell", [
    "x: 1000000\nh = tanh(x)\nL = sum(h)",
    "u: 2000\nv: 1x2000\nM = u @ v\nL = sum(M)",
    "x: 1500\nh = tanh(x)\ng = sin(h) * h + h\ny = g / 2",
])
def test_a_walkthrough_within_the_memory_limit_runs_under_a_capped_address_space(cell: str) -> None:
    assert _capped(cell).startswith("shown")


def test_the_memory_estimate_bounds_what_the_walkthrough_holds() -> None:
    import tracemalloc

    from jacmagic.chain.network_walk import memory_needed

    for cell in ("x: 600\nh = tanh(x)\ny = h * 2", "W: 30x40\nx: 40\nb: 30\nh = relu(W @ x + b)\ny = softmax(h)",
                 "u: 300\nv: 1x300\nM = u @ v\nL = sum(M)"):
        network = read_network(cell)
        tracemalloc.start()
        result = jacobian(cell, chain=True)
        str(result), result.steps, result.gradient(), result.at(**result.default_point())
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= memory_needed(network, network.inputs), cell


# -- shapes: every array comes back in the shape it was given or declared in -------------------------------------

# (declaration, the value given in the call or None, the shape the gradient and the point come back in)
SHAPES = [
    ("x: 3", None, (3,)), ("x: 3", (3,), (3,)), ("x: 3", (3, 1), (3, 1)),
    ("x: 3x1", None, (3, 1)), ("x: 3x1", (3,), (3,)), ("x: 3x1", (3, 1), (3, 1)),
    ("x: 1x3", None, (1, 3)), ("x: 1x3", (3,), (3,)), ("x: 1x3", (1, 3), (1, 3)),
    ("x: 2x3", None, (2, 3)), ("x: 2x3", (2, 3), (2, 3)),
    ("", None, ()), ("", (), ()),  # x a number: not declared
]


@pytest.mark.parametrize("declared,given,want", SHAPES)
@pytest.mark.parametrize("size", ["small", "large"])  # with and without the entry-level result beside it
def test_gradients_and_the_walkthrough_keep_the_shape_given_or_declared(
        declared: str, given: tuple[int, ...] | None, want: tuple[int, ...], size: str) -> None:
    big = "V: 9x9\n" if size == "large" else ""
    cell = f"{declared}\nk: 2\n{big}u = tanh(c * x)\nL = sum(u * u) + sum(k * k)" + (" + sum(V * V)" if big else "")
    x = RNG.uniform(-1, 1, given if given is not None else want)
    declared_shape = {"x: 3": (3,), "x: 3x1": (3, 1), "x: 1x3": (1, 3), "x: 2x3": (2, 3), "": ()}[declared]
    at = {"c": 0.7, "k": [1.0, 2.0], "x": x.reshape(declared_shape), **({"V": np.eye(9)} if big else {})}
    result = jacobian(cell.strip(), chain=True, at=at)
    assert isinstance(result, JacobianResult) and (result.whole is None) == bool(big)
    values = {"x": x} if given is not None else {}
    gradient = result.gradient(**values)
    u = np.tanh(0.7 * x)
    assert gradient["x"].shape == want and gradient["c"].shape == () and gradient["k"].shape == (2,)
    assert_close(gradient["x"], 2 * u * (1 - u**2) * 0.7)  # d sum(tanh(cx)^2) / dx by hand
    walked = result.walkthrough(**values)
    assert walked.point["x"].shape == want and walked.gradients["x"].shape == want
    assert walked.values["u"].shape == want and walked.values["L"].shape == ()
    assert result.at(**values).shape == (1, result.shape[1])
    if result.whole is not None:  # the entry level gives the same shapes
        entry = result.whole.gradient(**values)
        assert entry["x"].shape == want and entry["c"].shape == ()
        assert_close(entry["x"], gradient["x"])


def test_b1_minus_lr_times_its_gradient_keeps_b1s_shape() -> None:
    cell, point = classifier(64, 32, 10)
    result = jacobian(cell, chain=True, at=point)
    gradient = result.gradient()
    b1 = point["b1"] - 0.1 * gradient["b1"]
    assert b1.shape == (32,) and gradient["W1"].shape == (32, 64) and gradient["x"].shape == (64,)
    assert_close(gradient["b1"], numpy_backprop(point)["b1"], rel=1e-10)


def test_the_jacobian_of_a_vector_by_a_vector_is_one_matrix() -> None:
    w = RNG.standard_normal((10, 64))
    result = jacobian("W: 10x64\nx: 64\nz = W @ x", chain=True, wrt="x", at={"W": w, "x": np.ones(64)})
    assert_close(result.gradient()["x"], w)  # (outputs x inputs), not (10, 64, 1)
    assert_close(result.at(x=np.zeros(64)), w)


def test_a_point_moves_one_array_at_a_time() -> None:
    cell, point = classifier(64, 16, 10)
    result = jacobian(cell, chain=True, wrt="W1,b1,W2,b2", at=point)
    x5 = RNG.random(64)
    moved = {**point, "x": x5}
    want = numpy_backprop(moved)
    got = result.gradient(x=x5)
    for name in ("W1", "b1", "W2", "b2"):
        assert_close(got[name], want[name], rel=1e-10)
    assert_close(result.at(x=x5), result.at(**moved))
    assert_close(result.walkthrough(x=x5).gradient, result.at(**moved))
    bare = jacobian(cell, chain=True, wrt="W1,b1,W2,b2", at={"W1": point["W1"], "x": point["x"]})
    with pytest.raises(OptionError, match=r"no value given for b1, W2, b2, y, and --at gives none"):
        bare.gradient(x=x5)


def test_a_layer_cell_read_into_stages_gives_gradients_in_the_declared_shapes() -> None:
    at = {"c": 2.0, "x": [0.1, 0.2, 0.3], "W": [[1.0], [2.0], [3.0]]}
    result = jacobian("x: 3\nW: 3x1\nu = tan(x) * c + where(False, c, 0)\nL = sum(u) + sum(W * x)", chain=True,
                      at=at)
    # a constant condition: the array reader leaves it to the entry-level reader, whose stages are walked as lines
    assert any(isinstance(line.root, Formulas) for line in result.network.lines)
    gradient = result.gradient()
    assert {n: g.shape for n, g in gradient.items()} == {"x": (3,), "c": (), "W": (3, 1)}
    x = np.array(at["x"])
    assert_close(gradient["x"], 2 / np.cos(x) ** 2 + np.array([1.0, 2.0, 3.0]))
    moved = result.gradient(x=np.ones((3, 1)), W=np.zeros(3))  # shapes as given; c keeps its --at value
    assert moved["x"].shape == (3, 1) and moved["W"].shape == (3,)
    assert_close(moved["x"][:, 0], 2 / np.cos(1.0) ** 2 * np.ones(3))


def test_the_panel_holds_each_array_in_its_own_shape() -> None:
    cell, point = classifier(8, 4, 3)
    panel = jacobian(cell, chain=True, at=point).widget()
    held = panel.point()
    assert {n: v.shape for n, v in held.items()} == {n: np.shape(v) for n, v in point.items()}
    assert panel.walk.gradients["b1"].shape == (4,) and panel.controls["b1"].value.shape == (4,)


@pytest.mark.parametrize("x_shape,h_shape", [((4,), (3,)), ((4, 1), (3, 1))])
def test_a_traced_def_keeps_the_shapes_of_its_point_and_a_number_parameter(x_shape: tuple[int, ...],
                                                                             h_shape: tuple[int, ...]) -> None:
    source = "def f(W, x, c):\n    h = np.tanh(W @ x) * c\n    return np.sum(h ** 2)"
    w, x = RNG.uniform(-0.5, 0.5, (3, 4)), RNG.uniform(-1, 1, x_shape)
    result = jacobian(source, chain=True, at={"W": w, "x": x, "c": 2.0})
    assert isinstance(result, JacobianResult) and result.whole is not None  # small: checked by the entry level too
    walked = result.walkthrough()
    assert walked.agrees, verdict_words(walked.check)
    assert walked.values["h"].shape == h_shape and walked.values["f"].shape == ()
    gradient = result.gradient()
    h = np.tanh(w @ x) * 2.0
    assert gradient["c"].shape == () and gradient["x"].shape == x_shape
    assert_close(gradient["c"], np.sum(2 * h * h / 2.0))  # d sum((c t)^2) / dc = 2 c sum(t^2)
