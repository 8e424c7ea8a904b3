"""The Python form: functions traced with symbols, numpy and math mapped to sympy."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from jacmagic.errors import CellError
from jacmagic.trace import is_def_cell, trace_cell, trace_function, trace_object

from .helpers import assert_close, numeric_jacobian

x, y = sp.symbols("x y", real=True)


def test_def_cell_with_numpy_helpers_and_locals() -> None:
    cell = (
        "def helper(t):\n"
        "    return np.tanh(t) * 2\n"
        "\n"
        "def f(x, y):\n"
        "    s = x * y\n"
        "    return [helper(s), math.exp(x) + numpy.sqrt(y)]\n"
    )
    model = trace_cell(cell, {})
    assert model.inputs == (x, y)
    assert model.expressions == (2 * sp.tanh(x * y), sp.exp(x) + sp.sqrt(y))
    assert [s.name for s in model.outputs] == ["f_1", "f_2"]


def test_def_cell_sees_the_namespace_without_changing_it() -> None:
    namespace = {"k": 3}
    model = trace_cell("def f(x):\n    return k * x", namespace)
    assert model.expressions == (3 * x,)
    assert namespace == {"k": 3}


def test_a_function_written_with_real_numpy_traces() -> None:
    from numpy import exp

    def f(x: float, y: float) -> np.ndarray:
        return np.array([np.sin(x) * y, exp(y), np.where(x > 0, x, 0.0)])

    model = trace_function(f)
    assert model.expressions[:2] == (sp.sin(x) * y, sp.exp(y))
    assert model.expressions[2] == sp.Piecewise((x, x > 0), (0.0, True))
    assert np.allclose(f(0.3, 0.7)[:2], [math.sin(0.3) * 0.7, math.exp(0.7)])  # the user's f is untouched


def test_a_bare_input_is_an_output() -> None:
    assert trace_cell("def f(t, s):\n    return [s * t, t]", {}).expressions == (sp.Symbol("s", real=True) *
                                                                              sp.Symbol("t", real=True),
                                                                              sp.Symbol("t", real=True))


def test_defaults_are_kept_not_differentiated() -> None:
    def f(x: float, scale: float = 2.0) -> float:
        return scale * x

    model = trace_function(f)
    assert model.inputs == (x,)
    assert model.expressions == (2.0 * x,)


@pytest.mark.parametrize(("cell", "line", "match"), [
    ("def f(x):\n    if x > 0:\n        return x\n    return -x", 2, "np.where"),
    ("def f(x):\n    return x + nope", 2, "nope"),
    ("def f(x):\n    return np.fft(x)", 2, "np.fft has no symbolic twin"),
    ("def f(x):\n    return float(x)", 2, "float"),
    ("def f(x):\n  return x +", 2, "invalid syntax"),
    ("import os", 1, "defines no function"),
    ("def f():\n    return 1", None, "takes no inputs"),
    ("def f(x):\n    return 'a'", None, "returns a str"),
    ("def f(x):\n    return [[x]]", None, "nested"),
])
def test_python_mistakes(cell: str, line: int | None, match: str) -> None:
    with pytest.raises(CellError, match=match) as caught:
        trace_cell(cell, {})
    assert caught.value.line == line


def test_sympy_objects() -> None:
    a, b = sp.symbols("a b")
    model = trace_object(sp.Matrix([a * b, a + b]), "F")
    assert model.inputs == sp.symbols("a b", real=True)  # taken as real, as a cell's names are
    assert [s.name for s in model.outputs] == ["F_1", "F_2"]
    with pytest.raises(CellError, match="int"):
        trace_object(3, "n")


def test_def_cells_are_recognised() -> None:
    assert is_def_cell("import numpy as np\ndef f(x):\n    return x")
    assert not is_def_cell("f(x) = x")
    assert not is_def_cell("x = r*cos(t)")


SOFTMAX_CELL = "import numpy as np\ndef softmax(z):\n    e = np.exp(z)\n    return e / np.sum(e)\n"


def _softmax_jacobian(z: np.ndarray) -> np.ndarray:
    """The textbook form, diag(s) - s s^T, computed without jacmagic."""
    s = np.exp(z) / np.exp(z).sum()
    return np.diag(s) - np.outer(s, s)


@pytest.mark.parametrize("z", [[1.0, 2.0, 3.0], [-0.5, 0.0, 4.0, 1.5]])
def test_a_vector_parameter_takes_its_shape_from_the_point(z: list[float]) -> None:
    from jacmagic import jacobian

    result = jacobian(SOFTMAX_CELL, at={"z": z})
    assert [s.name for s in result.inputs] == [f"z_{i}" for i in range(1, len(z) + 1)]
    assert_close(result.at(z=z), _softmax_jacobian(np.array(z)))
    assert_close(result.at(z=np.array(z[::-1])), _softmax_jacobian(np.array(z[::-1])))


def test_a_shape_line_sizes_vector_and_matrix_parameters() -> None:
    cell = ("import numpy as np\nW: 2x3\nx: 3\n"
            "def layer(W, x, b):\n    return np.tanh(W @ x + b)\n")
    model = trace_cell(cell, {})
    assert [(s.name, s.rows, s.cols) for s in model.shapes] == [("W", 2, 3), ("x", 3, 1)]
    assert len(model.inputs) == 6 + 3 + 1 and len(model.outputs) == 2

    def layer(*values: mpmath.mpf) -> list[mpmath.mpf]:
        w, v, b = [values[0:3], values[3:6]], values[6:9], values[9]
        return [mpmath.tanh(sum(wi * vi for wi, vi in zip(row, v)) + b) for row in w]

    from jacmagic import jacobian
    point = [0.3, -0.2, 0.5, 0.1, 0.7, -0.4, 1.0, 2.0, -1.0, 0.25]
    result = jacobian(cell)
    names = [s.name for s in result.inputs]
    assert_close(result.at(**dict(zip(names, point))), numeric_jacobian(layer, point))


def test_numpy_reductions_where_and_products_on_vectors() -> None:
    cell = ("import numpy as np\nz: 3\ndef f(z):\n"
            "    return [z[0] * 2, np.max(z), np.sum(np.where(z > 0, z, 0)), z @ z, np.mean(z), np.dot(z, z.T)]\n")
    from jacmagic import jacobian
    point = np.array([0.5, -1.0, 2.0])
    got = jacobian(cell).at(z=point)
    want = np.array([[2, 0, 0], [0, 0, 1], [1, 0, 1], 2 * point, [1 / 3] * 3, 2 * point])
    assert_close(got, want)


@pytest.mark.parametrize("body, used", [
    ("return np.sum(np.exp(z))", "np.sum"), ("return z[0] * 2", "subscriptable"),
    ("return z.sum()", "attribute"), ("return np.ones(3) @ z", "dimension"), ("return np.max(z)", "np.max"),
])
def test_a_vector_used_without_a_shape_asks_for_it(body: str, used: str) -> None:
    with pytest.raises(CellError, match=rf"(?s){used}.*--at z=\[1, 2, 3\]") as raised:
        trace_cell(f"import numpy as np\ndef f(z):\n    {body}\n", {})
    assert raised.value.line == 3


def test_a_shape_line_for_a_name_that_is_not_a_parameter_is_refused() -> None:
    with pytest.raises(CellError, match="y is declared but is not a parameter of f") as raised:
        trace_cell("y: 3\ndef f(z):\n    return z\n", {})
    assert raised.value.line == 1


def test_a_matrix_returned_whole_is_refused() -> None:
    with pytest.raises(CellError, match="returns a 2 x 2 array; return a vector"):
        trace_cell("import numpy as np\nW: 2x2\ndef f(W):\n    return W * 2\n", {})
