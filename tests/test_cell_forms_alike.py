"""The same map as a plain cell and as a --chain cell gives one result that behaves alike: the gradient's types,
R.at at arrays of points, the framed --partials text, and the notation of the walkthrough's words. Every number is
checked against central differences of the map written here in numpy."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.errors import OptionError

Map = Callable[[Mapping[str, np.ndarray]], list[np.ndarray]]

# cell, the map by name in numpy (each output broadcasting over arrays of points)
CELLS: dict[str, tuple[str, Map]] = {
    "two lines": ("u = x*y\nv = sin(u) + x", lambda p: [np.sin(p["x"] * p["y"]) + p["x"]]),
    "a neuron": ("z = w*x - b\na = sigmoid(z)\nL = (a - t)**2",
                 lambda p: [(1 / (1 + np.exp(-(p["w"] * p["x"] - p["b"]))) - p["t"]) ** 2]),
    "one line": ("f = exp(x)*cos(y) - x**2", lambda p: [np.exp(p["x"]) * np.cos(p["y"]) - p["x"] ** 2]),
    "a def of a vector": ("def f(x1, x2):\n    u = x1 - x2\n    w = x1 + x2\n    return [np.sin(u) - w, u*w]\n",
                          lambda p: [np.sin(p["x1"] - p["x2"]) - (p["x1"] + p["x2"]),
                                     (p["x1"] - p["x2"]) * (p["x1"] + p["x2"])]),
}
STEP = 1e-6


def _central(function: Map, point: Mapping[str, np.ndarray], names: list[str]) -> np.ndarray:
    """(..., m, n) by central differences, one column per name, at every point of the broadcast arrays."""
    columns = []
    for name in names:
        up = function({**point, name: point[name] + STEP})
        down = function({**point, name: point[name] - STEP})
        columns.append(np.stack([(u - d) / (2 * STEP) for u, d in zip(up, down)], axis=-1))
    return np.stack(columns, axis=-1)


def _point(names: list[str], seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return {name: float(v) for name, v in zip(names, rng.uniform(-1.2, 1.2, len(names)))}


# -- named: one bug each --------------------------------------------------------------------------------------------

def test_a_numbers_gradient_is_a_float_in_a_chain_cell_as_in_a_plain_cell() -> None:
    """It was a 0-d array under --chain, np.float64 without it."""
    cell, function = CELLS["two lines"]
    want = _central(function, {"x": np.float64(1.0), "y": np.float64(2.0)}, ["x", "y"])[0]
    for chain in (False, True):
        gradient = jacobian(cell, chain=chain).gradient(x=1.0, y=2.0)
        assert all(type(g) is np.float64 for g in gradient.values()), (chain, gradient)
        np.testing.assert_allclose([gradient["x"], gradient["y"]], want, rtol=1e-7, atol=1e-9)


def test_at_of_a_chain_cell_takes_arrays_of_points_as_a_plain_cell() -> None:
    """It refused them: "x is 1 x 1, so it needs 1 value in that shape, got 2"."""
    cell, function = CELLS["two lines"]
    x, y = np.array([1.0, 2.0]), np.array([2.0, 3.0])
    want = _central(function, {"x": x, "y": y}, ["x", "y"])
    for chain in (False, True):
        got = jacobian(cell, chain=chain).at(x=x, y=y)
        assert got.shape == (2, 1, 2)
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


def test_arrays_of_points_that_do_not_broadcast_are_refused_naming_them_in_both_forms() -> None:
    """The plain cell let numpy's ValueError through."""
    for chain in (False, True):
        with pytest.raises(OptionError, match=r"x \(2\), y \(3\) do not broadcast"):
            jacobian(CELLS["two lines"][0], chain=chain).at(x=np.ones(2), y=np.ones(3))


def test_at_of_a_plain_cell_takes_the_default_point_and_keeps_at_values_as_a_chain_cell() -> None:
    """A plain cell's R.at() refused ("no value given for x, y") and R.at(y=...) ignored --at."""
    cell, function = CELLS["two lines"]
    for chain in (False, True):
        default = jacobian(cell, chain=chain).at()
        np.testing.assert_allclose(default, _central(function, {"x": 1.0, "y": 1.0}, ["x", "y"]), rtol=1e-7)
        result = jacobian(cell, chain=chain, at={"x": 0.5, "y": 2.0})
        y = np.array([2.0, -1.0, 3.0])
        np.testing.assert_allclose(result.at(y=y), _central(function, {"x": np.full(3, 0.5), "y": y}, ["x", "y"]),
                                   rtol=1e-7, atol=1e-9)
        with pytest.raises(OptionError, match="no value given for y"):
            jacobian(cell, chain=chain).at(x=2.0)


def test_arrays_of_points_of_a_network_too_large_to_write_out_are_walked_point_by_point() -> None:
    """No entry-by-entry Jacobian to vectorise: each point walked, the same numbers; a loop too long refused."""
    x = np.linspace(-1.0, 1.0, 50)
    result = jacobian("x: 50\nh = c * x\nL = sum(h**2)", chain=True, at={"x": x, "c": 1.0})
    assert result.whole is None and result.wrt == ("c", "x")

    def loss(p: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        return [np.sum((np.asarray(p["c"])[..., None] * p["x"]) ** 2, axis=-1)]

    c = np.array([[0.5, -2.0, 3.0]])
    got = result.at(c=c)
    assert got.shape == (1, 3, 1, 51)
    np.testing.assert_allclose(got[..., 0], _central(loss, {"c": c, "x": x}, ["c"])[..., 0], rtol=1e-6)
    np.testing.assert_allclose(got[..., 1:], 2 * c[..., None, None] ** 2 * x, rtol=1e-12)  # dL/dx = 2c²x
    with pytest.raises(OptionError, match="give fewer points at a time"):
        result.at(c=np.ones(100_000))


def test_a_declared_array_given_beside_arrays_of_points_is_one_point() -> None:
    x = np.array([1.0, -2.0])
    result = jacobian("x: 2\nh = c * x\nL = sum(h**2)", chain=True)
    c = np.array([1.0, 2.0, 3.0])
    got = result.at(c=c, x=x)
    assert got.shape == (3, 1, 3)
    np.testing.assert_allclose(got[:, 0, 1:], 2 * c[:, None] ** 2 * x, rtol=1e-12)


# -- the family: the same cells with and without --chain ------------------------------------------------------------

@pytest.mark.parametrize("chain", [False, True])
@pytest.mark.parametrize("name", list(CELLS))
def test_every_cell_form_gives_the_same_gradients_and_arrays_of_points(name: str, chain: bool) -> None:
    cell, function = CELLS[name]
    result = jacobian(cell, chain=chain, namespace={"np": np})
    names = [s.name for s in result.inputs]
    point = _point(names, seed=len(name))
    want = _central(function, point, names)
    gradient = result.gradient(**point)
    assert list(gradient) == names
    for j, n in enumerate(names):
        if want.shape[0] == 1:
            assert type(gradient[n]) is np.float64, (n, type(gradient[n]))
        else:
            assert isinstance(gradient[n], np.ndarray) and gradient[n].shape == (want.shape[0],)
        np.testing.assert_allclose(np.asarray(gradient[n]).reshape(-1), want[:, j], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(result.at(**point), want, rtol=1e-6, atol=1e-8)
    # arrays of points: the first name along one axis, the second along another, the rest one value
    rng = np.random.default_rng(7)
    many: dict[str, np.ndarray | float] = {**point, names[0]: rng.uniform(-1, 1, 3),
                                           names[1]: rng.uniform(-1, 1, (2, 1))}
    got = result.at(**many)
    assert got.shape == (2, 3, *want.shape)
    np.testing.assert_allclose(got, _central(function, {k: np.asarray(v) for k, v in many.items()}, names),
                               rtol=1e-6, atol=1e-8)


# -- the text views -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("chain", [False, True])
@pytest.mark.parametrize(("cell", "rows", "cols"), [
    ("u = x*y\nf = sin(u)", 1, 1),
    ("def f(x, y):\n    u = x*y\n    return [np.sin(u), u + x]\n", 2, 2),
    ("def f(x, y):\n    u = x*y\n    return [np.sin(u), u + x, u - y]\n", 3, 2)])
def test_partials_text_is_a_framed_matrix_with_j_on_its_middle_row(cell: str, rows: int, cols: int,
                                                                   chain: bool) -> None:
    """It printed Python-style lists, "J =" beside the second one, no frame."""
    text = str(jacobian(cell, partials=True, chain=chain, wrt=("x",) if cols == 1 else (), namespace={"np": np}))
    lines = text.splitlines()
    assert lines[0].startswith("J = ∂")  # J = ∂(f₁, f₂)/∂(x, y), then the partials, then the entries
    block = lines[1:2 if rows == 1 else 2 * rows]
    if rows == 1:
        assert block[0].startswith("J = [") and block[0].endswith("]")
    else:
        frame = [line[len("J = "):][0] + line[-1] for line in block]
        assert frame == ["⎡⎤", *["⎢⎥"] * (len(block) - 2), "⎣⎦"], block
        assert [line.startswith("J = ") for line in block] == [k == len(block) // 2 for k in range(len(block))]
    partials = [f"∂f{'' if rows == 1 else chr(0x2080 + i)}/∂{v}" for i in range(1, rows + 1) for v in "xy"[:cols]]
    assert all(sum(p in line for line in block) == 1 for p in partials), block
    assert not any(", ∂" in line for line in block)


def test_direction_words_typeset_names_as_the_walkthrough_does() -> None:
    """`--direction x1=1` was said "x1 = 1" beside ẋ₁ and ∂g/∂x₁."""
    result = jacobian("g(x1, x2) = [x1 - x2, x1 + x2]\nh(u, v) = [sin(u) - v, u*v]", chain=True, mode="forward",
                      direction={"x1": 1.0, "x2": -1.0})
    said = next(line for line in str(result).splitlines() if line.startswith("(one direction"))
    assert "x₁ = 1, x₂ = -1" in said and "x1" not in said


def test_forward_pass_rows_of_formula_stages_write_the_minus_sign_as_the_array_lines() -> None:
    """A stage of formulas wrote x₁ - x₂ (a hyphen) where a line of array operations writes x − 2."""
    text = str(jacobian("g(x1, x2) = [x1 - x2, x1 + x2]\nh(u, v) = [sin(u) - v, u*v]", chain=True))
    g = next(line for line in text.splitlines() if line.startswith("  g = "))
    local = next(line for line in text.splitlines() if "local Jacobian ∂h/∂g" in line)
    assert g.startswith("  g = [x₁ − x₂; x₁ + x₂]"), g
    formula = local.split(" = ")[1].rsplit(" (", 1)[0]
    assert formula == "[cos(u), −1; v, u]", local
    array_line = str(jacobian("u = x - 2\nv = 3 - u", chain=True))
    assert "  u = x − 2 = " in array_line


@pytest.mark.parametrize("cell", [
    "X: 2x6x6\nK: 3x3\nW: 2x4\nb: 2\nH = maxpool2d(relu(conv2d(X, K)), 2)\nL = sum(W @ flatten(H) + b)",
    "W: 2x3\nb: 2\nx: 3\nL = sum(tanh(W @ x + b))",
])
def test_the_default_point_is_in_each_arrays_own_shape_as_the_gradient_takes_it(cell: str) -> None:
    """A panel hunt found R.default_point() of an image stack in the working layout (12 x 6 for 2 x 6 x 6, a vector
    as a column) while gradient() and walkthrough().point give numpy's shapes."""
    result = jacobian(cell, chain=True)
    start = result.default_point()
    assert {name: value.shape for name, value in start.items()} == dict(result.dims)
    assert {name: g.shape for name, g in result.gradient(**start).items()} == dict(result.dims)
    assert {name: v.shape for name, v in result.walkthrough().point.items()} == dict(result.dims)
