"""The Python form: functions traced with symbols, numpy and math mapped to sympy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from jacmagic.errors import CellError
from jacmagic.trace import is_def_cell, trace_cell, trace_function, trace_object

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
