"""Shapes returned equal shapes given, for every public method (issue 25): cells whose arrays are given as (n,),
(n, 1), (1, n), (r, c), numbers and (k, h, w) batches of images, as layer lines and as a numpy def, with one
number or a vector out; every array a result returns comes back in the shape its value was given in (or declared),
and every value of a line in the shape numpy gives it (computed here by running the lines with numpy)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.result import JacobianResult

RNG = np.random.default_rng(2025)
KINDS: dict[str, tuple[int, ...]] = {"vector": (3,), "column": (3, 1), "row": (1, 3), "matrix": (2, 3),
                                     "number": (), "batch": (2, 4, 4)}


def _declared(shape: tuple[int, ...]) -> str:
    """A layer cell's declaration of an array of numpy shape `shape` (a number needs none)."""
    return "x".join(map(str, shape)) if len(shape) != 1 else str(shape[0])


def _conv2d(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Valid correlation of each image of a batch (k, h, w) with the kernel, one output entry at a time."""
    k, w = kernel.shape
    out = np.zeros((x.shape[0], x.shape[1] - k + 1, x.shape[2] - w + 1))
    for n, i, j in itertools.product(*map(range, out.shape)):
        out[n, i, j] = np.sum(x[n, i:i + k, j:j + w] * kernel)
    return out


def _cell(kind: str, form: str, vector_out: bool) -> tuple[str, dict[str, Any], list[tuple[str, str]]]:
    """A cell with x of the kind and a number s, its point, and its lines (name, numpy expression)."""
    batch = kind == "batch"
    point: dict[str, Any] = {"x": RNG.standard_normal(KINDS[kind]) if KINDS[kind] else 0.3, "s": 0.7}
    inner = "x"
    if batch:
        point["K"] = RNG.standard_normal((2, 2))
        inner = "conv2d(x, K)"
    lines = [("h", f"np.tanh({inner}) * s")]
    summed = "h ** 2" if kind == "number" and form == "def" else "np.sum(h ** 2)"  # np.sum of a number: see below
    lines.append(("L", "h * 2.0" if vector_out else summed))
    if form == "def":
        params = ", ".join(point)
        body = "".join(f"    {name} = {code}\n" for name, code in lines[:-1])
        return f"def L({params}):\n{body}    return {lines[-1][1]}\n", point, lines
    declarations = [f"{n}: {_declared(np.shape(v))}" for n, v in point.items() if np.ndim(v)]
    layer = [f"{name} = {code.replace('np.', '')}" for name, code in lines]
    return "\n".join(declarations + layer) + "\n", point, lines


def _numpy_values(point: Mapping[str, Any], lines: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Each line's value as numpy computes it, independently of jacmagic."""
    scope: dict[str, Any] = {"np": np, "conv2d": _conv2d, **point}
    for name, code in lines:
        scope[name] = eval(code, scope)  # noqa: S307 - the test's own expressions
    return {name: np.asarray(scope[name]) for name, _ in lines}


CASES = list(itertools.product(KINDS, ("layer", "def"), (False, True)))


@pytest.mark.parametrize(("kind", "form", "vector_out"), CASES,
                         ids=[f"{k}-{f}-{'vector out' if v else 'number out'}" for k, f, v in CASES])
def test_every_public_method_returns_arrays_in_the_shapes_given(kind: str, form: str, vector_out: bool) -> None:
    cell, point, lines = _cell(kind, form, vector_out)
    given = {name: np.shape(value) for name, value in point.items()}
    values = _numpy_values(point, lines)
    out = values["L"].shape  # the output's numpy shape: () for the loss
    lead = (int(np.prod(out)),) if out else ()
    if kind != "batch" and (form == "layer" or len(out) < 2):  # the entry level: no batches, a def returns a vector
        entry_level = jacobian(cell, at=point, namespace={"np": np})
        assert isinstance(entry_level, JacobianResult)
        for gradients in (entry_level.gradient(), entry_level.gradient(**point)):
            assert {n: g.shape for n, g in gradients.items()} == {n: lead + s for n, s in given.items()}
    result = jacobian(cell, chain=True, at=point, namespace={"np": np})
    assert isinstance(result, JacobianResult)  # every --chain cell, numbers only too, is walked as one graph
    entries = sum(int(np.prod(s)) for s in given.values())
    other = {name: np.asarray(value) * 1.5 for name, value in point.items()}

    assert result.at(**other).shape == (max(1, int(np.prod(out))), entries)
    for gradients in (result.gradient(), result.gradient(**other), result.gradient(x=other["x"])):
        assert {n: g.shape for n, g in gradients.items()} == {n: lead + s for n, s in given.items()}
    for walked in (result.walkthrough(), result.walkthrough(x=other["x"])):
        assert {n: v.shape for n, v in walked.point.items()} == given
        assert {n: v.shape for n, v in walked.values.items()} == {**given, **{n: v.shape for n, v in values.items()}}
        assert {n: g.shape for n, g in walked.gradients.items()} == {n: lead + s for n, s in given.items()}
    np.testing.assert_allclose(result.walkthrough().values["L"], values["L"], rtol=1e-12)
    if not vector_out and kind != "batch":  # the closed form (conv2d has none yet), at the walkthrough's values
        formula = result.formula("x").evaluate(result.walkthrough().values)
        assert formula.shape == given["x"]
        np.testing.assert_allclose(formula, result.gradient()["x"], rtol=1e-10)

    from jacmagic.panels.network_panel import NetworkPanel

    panel = NetworkPanel(result)
    assert {n: np.shape(c.value) for n, c in panel.controls.items()} == given
    assert {n: v.shape for n, v in panel.point().items()} == given


def test_a_def_returning_a_matrix_gets_its_array_result_though_the_entry_level_wants_a_vector() -> None:
    """Found by the test above: the entry-level cross-check's 'return a vector' refused the whole cell."""
    x = RNG.standard_normal((2, 3))
    result = jacobian("def f(x):\n    return np.tanh(x) * 2.0\n", chain=True, at={"x": x}, namespace={"np": np})
    assert isinstance(result, JacobianResult)
    assert result.gradient()["x"].shape == (6, 2, 3)
    np.testing.assert_allclose(result.at(x=x), np.diag(2 * (1 - np.tanh(x.ravel()) ** 2)), atol=1e-12)


def test_the_walkthrough_shows_a_batch_of_images_in_its_batch_shape() -> None:
    """Values of a batch were shown as their 8 x 3 working stack; each is (k, h, w), as numpy has it."""
    x = RNG.standard_normal((2, 4, 3))
    text = str(jacobian("x: 2x4x3\nh = tanh(x)\nL = sum(h ** 2)", chain=True, at={"x": x}))
    assert "step 2 of 2: h (line 2), 2 x 4 x 3" in text
    assert text.count("(2 x 4 x 3)") >= 3 and "(8 x 3)" not in text  # the point, h, and the gradient
    first = np.tanh(x[0])
    assert f"h = tanh(x) = [[[{', '.join(f'{v:g}' for v in first[0])}]" in text
