"""The compiled evaluator: points, grids, constant entries and undefined values."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from jacmagic.chain.evaluate import Evaluator, curvature, determinant_at

x, y = sp.symbols("x y", real=True)


def test_grid_with_constant_entries_broadcasts() -> None:
    evaluate = Evaluator(sp.Matrix([[2 * x, 5], [0, sp.cos(y)]]), (x, y))
    X, Y = np.meshgrid(np.linspace(-1, 1, 4), np.linspace(0, 2, 3))
    out = evaluate(X, Y)
    assert out.shape == (3, 4, 2, 2)
    assert np.allclose(out[..., 0, 0], 2 * X)
    assert np.allclose(out[..., 0, 1], 5.0)
    assert np.allclose(out[..., 1, 0], 0.0)
    assert np.allclose(out[..., 1, 1], np.cos(Y))


def test_single_point_shape_and_values() -> None:
    out = Evaluator(sp.Matrix([[x * y, x + y, 1]]), (x, y))(2.0, 3.0)
    assert out.shape == (1, 3)
    assert out.tolist() == [[6.0, 5.0, 1.0]]


def test_undefined_entries_are_nan_not_errors() -> None:
    out = Evaluator(sp.Matrix([[1 / y, sp.log(x), sp.sqrt(x)]]), (x, y))(-1.0, 0.0)
    assert np.isinf(out[0, 0]) and np.isnan(out[0, 1]) and np.isnan(out[0, 2])


def test_python_numbers_never_become_complex() -> None:
    out = Evaluator(sp.Matrix([[x ** sp.Rational(1, 3)]]), (x,))(-8)
    assert np.isnan(out[0, 0])


def test_determinant_at_points() -> None:
    matrices = np.array([[[1.0, 2.0], [3.0, 4.0]], [[np.nan, 0.0], [0.0, 1.0]]])
    dets = determinant_at(matrices)
    assert np.isclose(dets[0], -2.0) and np.isnan(dets[1])


def test_max_and_min_of_many_arguments() -> None:
    z = sp.symbols("z1:5", real=True)
    evaluate = Evaluator(sp.Matrix([[sp.Max(*z[:3]), sp.Min(*z), sp.Max(z[0], sp.Min(z[1], z[2], z[3]))]]), z)
    point = np.array([[0.5, -2.0, 3.0, 1.0], [4.0, 4.5, -1.0, 0.0]])
    out = evaluate(*point.T)
    assert np.allclose(out[:, 0, 0], point[:, :3].max(axis=1))
    assert np.allclose(out[:, 0, 1], point.min(axis=1))
    assert np.allclose(out[:, 0, 2], np.maximum(point[:, 0], point[:, 1:].min(axis=1)))


@pytest.mark.parametrize("hessian, gradient, point, reading", [
    ([[2, 0], [0, 2]], [0, 0], [0, 0], "local minimum"),  # x^2 + y^2 at 0
    ([[-2, 0], [0, -2]], [0, 0], [0, 0], "local maximum"),  # -(x^2 + y^2)
    ([[2, 0], [0, -2]], [0, 0], [0, 0], "saddle"),  # x^2 - y^2
    ([[0, 0], [0, 0]], [0, 0], [0, 0], "inconclusive"),  # x^4 + y^4 at 0
    ([[12, 0], [0, 0]], [4, 0], [1, 0], "not a critical point"),  # x^4 + y^4 at (1, 0)
    ([[2, 0], [0, 2]], [2, 0], [1, 0], "convex here"),  # x^2 + y^2 at (1, 0)
])
def test_curvature_reads_the_textbook_cases(hessian: list[list[float]], gradient: list[float], point: list[float],
                                            reading: str) -> None:
    eigenvalues, said = curvature(np.array(hessian, dtype=float), np.array(gradient, dtype=float), point)
    assert reading in said
    assert np.allclose(eigenvalues, np.linalg.eigvalsh(np.array(hessian, dtype=float)))


def test_curvature_of_an_undefined_hessian() -> None:
    eigenvalues, said = curvature(np.full((2, 2), np.nan), np.zeros(2), [0.0, 0.0])
    assert said == "undefined here" and np.isnan(eigenvalues).all()
