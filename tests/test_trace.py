"""The Python form: functions traced with symbols, numpy and math mapped to sympy."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from typing import Any

import mpmath
import numpy as np
import pytest
import sympy as sp

from jacmagic.errors import CellError
from jacmagic.read.source import is_def_cell
from jacmagic.read.trace import trace_cell, trace_function, trace_object

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


# --- sizes: refused or bounded before anything can hang (issue 22) ---------------------------------------------

# The child's own peak: its address space's high-water mark (VmHWM, new at exec). ru_maxrss is carried over exec
# from the parent at fork, so a suite grown past 650 MB made every child report the suite's size (1.5 GB in CI).
SIZED_CHILD = """
import json, os, resource, sys, time
from IPython.core.interactiveshell import InteractiveShell

def peak_mb():
    if os.path.exists("/proc/self/status"):
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "jacmagic")
for setup, cell in json.loads(sys.argv[1]):
    ip.run_cell(setup)
    start = time.monotonic()
    run = ip.run_cell(cell)
    error = run.error_in_exec or run.error_before_exec
    print("@" + json.dumps({"seconds": time.monotonic() - start, "error": type(error).__name__,
                            "message": str(error), "peak_mb": peak_mb()}), flush=True)
"""
CHILD_TIMEOUT = 300  # seconds for a whole child: far beyond any budget; reaching it means something hangs


def run_in_a_shell(cases: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Each (setup, cell) run in turn in a real IPython shell in its own process, so a cell that hangs fails the
    test (killed after CHILD_TIMEOUT) instead of blocking the suite; one report per case."""
    child = subprocess.run([sys.executable, "-c", SIZED_CHILD, json.dumps(cases)], capture_output=True, text=True,
                           timeout=CHILD_TIMEOUT, env={**os.environ, "PYTHONPATH": os.getcwd()})
    reports = [json.loads(line[1:]) for line in child.stdout.splitlines() if line.startswith("@")]
    assert len(reports) == len(cases), child.stdout[-2000:] + child.stderr[-2000:]
    return reports


def test_a_point_of_ten_million_entries_is_refused_at_once_naming_the_parameter() -> None:
    """Used to trace 10^7 symbols: past 31 s and 719 MB. Idle now: 0.05 s, and the process peaks at 290 MB with the
    80 MB array (470 MB seen in a CI run on a busy machine, with the suite's other imports); the time bound is 200x,
    the memory bound under what the old tracing took before it was even a tenth done."""
    [report] = run_in_a_shell([("import numpy as np\nzbig = np.ones(10**7)",
                                "%%jacobian --at z=zbig\nimport numpy as np\ndef f(z): return np.sum(z)\n")])
    assert report["error"] == "UsageError", report
    assert "parameter z has 10,000,000 entries" in report["message"] and "at most 10,000" in report["message"]
    assert report["seconds"] < 10 and report["peak_mb"] < 650, report


SOFTMAX_3000 = ("%%jacobian\nimport numpy as np\nz: 3000\ndef f(z):\n    e = np.exp(z - np.max(z))\n"
                "    return e / np.sum(e)\n")
TOO_LARGE = [  # (setup, cell, what the refusal says)
    ("", "%%jacobian --at z=big\ndef f(z): return np.sum(z)\n", "parameter z has 10,001 entries"),
    ("", "%%jacobian --at a=half,b=half\ndef f(a, b): return np.sum(a) + np.sum(b)\n",
     "parameter a has 6,000 entries, 12,000 with the other parameters"),
    ("", "%%jacobian --at W=wide\ndef f(W): return np.sum(W)\n", r"parameter W has 12,000 entries \(200 x 60\)"),
    ("", "%%jacobian\nz: 200\ndef f(z):\n    e = np.exp(z - np.max(z))\n    return e / np.sum(e)\n",
     r"200 outputs that, written out, have more than 1,000,000 terms \(from z: 200\)"),
    ("", "%%jacobian --budget 0.2\nz: 2000\ndef f(z): return np.outer(z, np.sin(z)).ravel()\n",
     r"calling f with symbols \(2,000 inputs\) did not finish within 1 s"),
]
SIZED_SETUP = "import numpy as np\nbig = np.ones(10_001)\nhalf = np.ones(6000)\nwide = np.ones((200, 60))"


def test_a_declared_3000_entry_softmax_def_is_refused_within_seconds_naming_the_parameter() -> None:
    """Used to run past 40 s (sympy's Max compared every two of the 3000 entries). Idle now: 2.5 s; the bound is
    over 10x that."""
    [report] = run_in_a_shell([("", SOFTMAX_3000)])
    assert report["error"] == "UsageError", report
    assert "3,000 outputs that, written out, have more than 1,000,000 terms (from z: 3000)" in report["message"]
    assert report["seconds"] < 30, report


def test_def_cells_too_large_for_symbols_are_refused_quickly_with_what_is_too_large() -> None:
    """Sized by the point (a vector, two vectors, a matrix), by the outputs written out, and by the time a trace
    takes (the allowance: 5 budgets). Idle: under 1 s each; bounded at 10x the allowance or 20 s."""
    reports = run_in_a_shell([(SIZED_SETUP, "")] + [(setup, cell) for setup, cell, _ in TOO_LARGE])[1:]
    for (_, cell, message), report in zip(TOO_LARGE, reports):
        assert report["error"] == "UsageError", (cell, report)
        assert re.search(message, report["message"]), (message, report["message"])
        assert report["seconds"] < 20, (cell, report)


# --- the functions a def cell is offered, on vectors (issue 22) -------------------------------------------------

def central_differences(function: Any, *point: list[float], h: float = 1e-6) -> np.ndarray:
    """d function / d (the points' entries, in order) by central differences of numpy code written here."""
    sizes = [len(p) for p in point]
    flat = np.concatenate([np.asarray(p, dtype=float) for p in point])

    def at(values: np.ndarray) -> np.ndarray:
        return np.atleast_1d(function(*np.split(values, np.cumsum(sizes)[:-1])))

    columns = [(at(flat + h * e) - at(flat - h * e)) / (2 * h) for e in np.eye(len(flat))]
    return np.column_stack(columns)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


# Each function a def cell may call on a vector, as numpy (or jacmagic, for the activations) computes it.
NUMPY_REFERENCE: dict[str, Any] = {
    "abs": np.abs, "absolute": np.absolute, "fabs": np.fabs, "arccos": np.arccos, "arccosh": np.arccosh,
    "arcsin": np.arcsin, "arcsinh": np.arcsinh, "arctan": np.arctan, "arctanh": np.arctanh, "cbrt": np.cbrt,
    "cos": np.cos, "cosh": np.cosh, "erf": np.vectorize(math.erf), "exp": np.exp, "exp2": np.exp2,
    "expm1": np.expm1, "float64": np.float64, "log": np.log, "log10": np.log10, "log1p": np.log1p, "log2": np.log2,
    "relu": lambda z: np.maximum(0, z), "sigmoid": _sigmoid, "softplus": lambda z: np.logaddexp(0, z),
    "sign": np.sign, "sin": np.sin, "sinh": np.sinh, "sqrt": np.sqrt, "square": np.square, "tan": np.tan,
    "tanh": np.tanh, "arctan2": np.arctan2, "hypot": np.hypot, "logaddexp": np.logaddexp, "maximum": np.maximum,
    "minimum": np.minimum, "power": np.power, "heaviside": lambda z: np.heaviside(z, 0.5),
    "where": lambda z, w: np.where(z > 0.5, z, w),
}
TWO_ARGUMENTS = {"arctan2", "hypot", "logaddexp", "maximum", "minimum", "power", "where"}
Z, W = [0.35, 0.6, 0.85], [0.5, -0.25, 1.1]
POINTS = {"arccosh": [1.3, 2.0, 1.7], "relu": [-0.7, 0.4, 1.3], "sign": [-0.7, 0.4, 1.3], "abs": [-0.7, 0.4, 1.3],
          "absolute": [-0.7, 0.4, 1.3], "fabs": [-0.7, 0.4, 1.3], "cbrt": [-0.8, 0.3, 2.0],
          "maximum": [-0.7, 0.4, 1.3], "minimum": [-0.7, 0.4, 1.3], "heaviside": [-0.7, 0.4, 1.3]}


def test_every_twin_has_a_reference() -> None:
    from jacmagic.read.numpy_twins import ELEMENTWISE

    assert {name for name, f in ELEMENTWISE.items() if callable(f)} == set(NUMPY_REFERENCE)


def test_activations_in_a_def_act_entry_by_entry_on_a_vector() -> None:
    """sigmoid(z) was one output of nan, relu(z) an AttributeError: each is the diagonal of its slopes."""
    from jacmagic import jacobian

    point = [0.5, -1.0]
    for body, reference in (("sigmoid(z)", _sigmoid), ("relu(z)", lambda z: np.maximum(0, z))):
        result = jacobian(f"def f(z): return {body}\n", at={"z": point})
        assert_close(result.at(z=point), central_differences(reference, point))


@pytest.mark.parametrize("name", sorted(NUMPY_REFERENCE))
def test_each_function_offered_to_a_def_acts_on_a_vector_as_numpy_does(name: str) -> None:
    from jacmagic import jacobian
    from jacmagic.read.numpy_twins import ACTIVATIONS

    z = POINTS.get(name, Z)
    calls = [f"np.{name}"] + ([name] if name in ACTIVATIONS else [])
    for call in calls:
        if name in TWO_ARGUMENTS:
            arguments = "z > 0.5, z, w" if name == "where" else "z, w"
            cell = f"import numpy as np\ndef f(z, w):\n    return {call}({arguments})\n"
            got = jacobian(cell, at={"z": z, "w": W}).at(z=z, w=W)
            assert_close(got, central_differences(NUMPY_REFERENCE[name], z, W), rel=1e-6)
        else:
            arguments = "z, 0.5" if name == "heaviside" else "z"
            got = jacobian(f"import numpy as np\ndef f(z):\n    return {call}({arguments})\n", at={"z": z}).at(z=z)
            assert_close(got, central_differences(NUMPY_REFERENCE[name], z), rel=1e-6)


@pytest.mark.parametrize("name", ["sin", "exp", "sqrt", "atan2", "pow", "fabs"])
def test_a_math_function_given_a_vector_says_to_use_numpy(name: str) -> None:
    arguments = "z, z" if name in ("atan2", "pow") else "z"
    with pytest.raises(CellError, match=rf"math.{name} takes numbers, not an array.*np.{name}") as raised:
        trace_cell(f"import math\nz: 3\ndef f(z):\n    return math.{name}({arguments})\n", {})
    assert raised.value.line == 4


def test_np_heaviside_of_a_variable_value_at_zero_is_refused() -> None:
    with pytest.raises(CellError, match="second argument is its value at 0, a number; got w") as raised:
        trace_cell("import numpy as np\ndef f(z, w):\n    return np.heaviside(z, w)\n", {})
    assert raised.value.line == 3


# --- np.max and np.min at ties (issue 22) -----------------------------------------------------------------------

def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - np.max(z))
    return e / e.sum()


def _logsumexp(z: np.ndarray) -> np.ndarray:
    return np.log(np.sum(np.exp(z)))


SHIFTED = {  # body of def f(z) written with a shift by the max (or min) that cancels -> the map it computes
    "stable softmax": ("e = np.exp(z - np.max(z))\n    return e / np.sum(e)", _softmax),
    "shift by the min": ("e = np.exp(z - np.min(z))\n    return e / e.sum()", _softmax),
    "log_softmax": ("m = np.max(z)\n    return z - m - np.log(np.sum(np.exp(z - m)))",
                    lambda z: z - _logsumexp(z)),
    "logsumexp": ("m = np.amax(z)\n    return m + np.log(np.sum(np.exp(z - m)))", _logsumexp),
    "cross-entropy": ("e = np.exp(z - np.max(z))\n    return -np.sum(np.array([0.0, 1.0, 0.0, 0.0][:len(z)]) * "
                      "np.log(e / np.sum(e)))", lambda z: -np.log(_softmax(z)[1])),
}
TIES = [[3.0, 3.0, 1.0], [2.0, 2.0, 2.0], [0.5, -1.0, 0.5], [-1.0, 4.0, 4.0, 4.0]]


def test_the_readme_softmax_def_is_defined_at_a_tie_of_its_max() -> None:
    """At z = [3, 3, 1] the Jacobian exists (the shift by max cancels); it was nan in the tied columns."""
    from jacmagic import jacobian

    cell = "import numpy as np\ndef f(z):\n    e = np.exp(z - np.max(z))\n    return e / np.sum(e)\n"
    z = [3.0, 3.0, 1.0]
    assert_close(jacobian(cell, at={"z": z}).at(z=z), central_differences(_softmax, z))


@pytest.mark.parametrize("z", TIES, ids=str)
@pytest.mark.parametrize("form", list(SHIFTED))
def test_maps_shifted_by_their_max_are_right_at_every_tie(form: str, z: list[float]) -> None:
    from jacmagic import jacobian

    body, reference = SHIFTED[form]
    result = jacobian(f"import numpy as np\ndef f(z):\n    {body}\n", at={"z": z})
    assert_close(result.at(z=z), central_differences(reference, z), rel=1e-6)


@pytest.mark.parametrize("z", [[2.0, 2.0, 1.0], [1.0, 1.0, 1.0], [0.0, 5.0, -1.0], [-1.0, 0.5, 0.5]], ids=str)
def test_np_max_and_min_give_their_derivative_to_one_of_the_tied_entries(z: list[float]) -> None:
    """As np.argmax picks one: weights summing to 1 keep a shift that cancels exact."""
    from jacmagic import jacobian

    cell = "import numpy as np\ndef f(z):\n    return [np.max(z), -np.min(-np.array(z))]\n"
    got = jacobian(cell, at={"z": z}).at(z=z)
    for row in got:
        [picked] = np.flatnonzero(row)
        assert row[picked] == 1 and z[picked] == max(z), got


def test_np_max_of_a_hundred_entries_is_the_one_hot_of_the_largest() -> None:
    """sympy's Max compared every two entries when built (minutes for 300); built as written, tracing takes
    milliseconds (idle: 2 s for this whole test, most of it compiling the evaluator)."""
    from jacmagic import jacobian

    z = list(np.linspace(-1, 1, 100))
    result = jacobian("import numpy as np\nz: 100\ndef f(z):\n    return np.max(z)\n")
    assert_close(result.at(z=z), np.eye(100)[[-1]])


# --- helpers from the namespace (issue 22) -----------------------------------------------------------------------

def test_a_numpy_helper_from_an_earlier_cell_traces_like_one_in_the_cell(shell: Any) -> None:
    """`act` was called with real numpy on symbols ("loop of ufunc"); the line magic already rebound it."""
    shell.ok("import numpy as np\ndef act(z): return 1/(1 + np.exp(-z))")
    shell.ok("%%jacobian --at x=0.3,y=-0.7 --out R_act\ndef f(x, y): return [act(x*y), x]")
    point = [0.3, -0.7]
    want = central_differences(lambda x, y: np.concatenate([_sigmoid(x * y), x]), [0.3], [-0.7])
    assert_close(shell.ip.user_ns["R_act"].at(x=point[0], y=point[1]), want)
    assert shell.ip.user_ns["act"](0.0) == 0.5 and shell.ip.user_ns["np"] is np  # the user's own, untouched


HELPERS = {  # namespace code (as an earlier cell) -> the cell's body of def f(x)
    "helper calling a helper": ("def inner(t): return np.tanh(t)\ndef outer(t): return inner(t) * np.exp(t)",
                                "outer(x)"),
    "lambda": ("sq = lambda t: np.sqrt(1 + t**2)", "sq(x) * x"),
    "closure": ("def make(k):\n    def h(t): return np.exp(k * t)\n    return h\nh2 = make(2.0)", "h2(x)"),
    "numpy default": ("def g(t, fn=np.sin): return fn(t) * 2", "g(x)"),
    "recursion": ("def p(t, n): return t if n == 0 else np.sin(p(t, n - 1))", "p(x, 3)"),
    "math": ("import math\ndef m(t): return math.exp(t) + math.cos(t)", "m(x)"),
    "from-import": ("from numpy import cosh as ch\ndef c(t): return ch(t) ** 2", "c(x)"),
}


@pytest.mark.parametrize("helper", list(HELPERS))
def test_helpers_from_the_namespace_trace_as_numpy_computes_them(helper: str) -> None:
    """The namespace is a notebook's: its functions' globals are the namespace itself. The reference is the
    user's own f, run with numbers."""
    from jacmagic import jacobian

    setup, body = HELPERS[helper]
    namespace: dict[str, Any] = {}
    exec(f"import numpy as np\n{setup}", namespace)  # noqa: S102 - the test's own code, as an earlier cell
    cell = f"def f(x):\n    return {body}\n"
    user = dict(namespace)
    exec(cell, user)  # noqa: S102
    x = 0.4
    got = jacobian(cell, namespace=namespace, at={"x": x}).at(x=x)
    assert_close(got, central_differences(lambda v: np.array([user["f"](float(v[0]))]), [x]), rel=1e-6)
    assert namespace["np"] is np
