"""Issue 27's faster paths give the same answers: symengine's results rebuilt in one walk, the grid evaluator's
entry-major writes, the panel's palette PNG, and what `import jacmagic` and the first compile load."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from jacmagic import jacobian as compute
from jacmagic.chain.calculus import jacobian

from .helpers import assert_close

x, y = sp.symbols("x y", real=True)
_SAFE_MAPS = [
    [sp.csc(x) * y, sp.sec(y) ** x],  # csc's derivative brings cot, which the cell never wrote
    [sp.acos(x / 3) + sp.erf(x * y), sp.log(x**2 + 1) * sp.atanh(y / 7)],
    [sp.Rational(1, 3) * sp.pi * x + sp.Float(2.5) * y, sp.exp(x) * sp.tanh(y) - sp.asinh(x * y)],
    [sp.sin(x) ** 2 * sp.cos(y) + sp.tan(x * y), sp.sqrt(x**2 + y**2) + sp.E ** (x / 10)],
]


@pytest.mark.parametrize("outputs", _SAFE_MAPS)
def test_symengine_results_come_back_exactly_as_sympy_differentiates_on_the_cells_real_symbols(
        outputs: list[sp.Expr]) -> None:
    got = jacobian(outputs, [x, y], use_symengine=True)
    assert got == sp.Matrix(outputs).jacobian([x, y])
    assert got.free_symbols <= {x, y}  # the cell's real symbols, not symengine's assumption-free ones


def test_a_grid_jacobian_is_each_points_jacobian_and_matches_central_differences() -> None:
    result = compute("f(x, y, z) = [x**2*sin(y), 0*z + 3, exp(z/4)*y - log(x)]")
    rng = np.random.default_rng(1)
    xs, ys, zs = rng.uniform(0.5, 2, (3, 7, 5))
    grid = result.at(x=xs, y=ys, z=zs)
    assert grid.shape == (7, 5, 3, 3)
    h = 1e-6

    def f(p: np.ndarray) -> np.ndarray:
        return np.array([p[0] ** 2 * np.sin(p[1]), 3.0, np.exp(p[2] / 4) * p[1] - np.log(p[0])])
    for i, j in [(0, 0), (3, 4), (6, 2)]:
        p = np.array([xs[i, j], ys[i, j], zs[i, j]])
        numeric = np.column_stack([(f(p + h * e) - f(p - h * e)) / (2 * h) for e in np.eye(3)])
        assert_close(grid[i, j], numeric, rel=1e-6)
        assert_close(grid[i, j], result.at(x=p[0], y=p[1], z=p[2]))


def test_the_plot_panels_picture_a_move_is_a_small_palette_png_that_looks_like_the_drawing() -> None:
    from PIL import Image

    from jacmagic.views.plot import MovingPicture, default_domain

    result = compute("x = r*cos(theta)\ny = r*sin(theta)", plot=True)
    point = result.default_point()
    moving = MovingPicture(result, default_domain(result, point))
    moving.png(point)
    sent = moving.png({**point, "r": 1.3})
    drawn = np.asarray(moving._canvas.buffer_rgba())[..., :3].astype(float)
    picture = Image.open(io.BytesIO(sent))
    assert picture.mode == "P" and len(sent) < 60_000  # was 393 kB of RGB
    assert np.abs(np.asarray(picture.convert("RGB"), dtype=float) - drawn).mean() < 3  # of 255


def test_import_jacmagic_loads_no_engine_and_the_first_compile_no_lazy_numpy_module() -> None:
    code = ("import sys, jacmagic; assert 'sympy' not in sys.modules, 'engine loaded at import'; "
            "r = jacmagic.jacobian('f(x, y) = [x*y, sin(x)]'); r.at(x=1.0, y=2.0); "
            "assert isinstance(r, jacmagic.JacobianResult); assert 'numpy.f2py' not in sys.modules, 'f2py'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
