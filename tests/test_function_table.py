"""One table of the functions a cell may call (issue 23, "two function tables"): every name of `chain.functions.TABLE`
is read by the entry-level reader and by the array reader, and both give numpy's value and central differences of
numpy's function written here; aliases are one record; and every other function table is derived from TABLE, so no
function name is written twice."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.chain import binary, elementwise, functions, matrix_functions
from jacmagic.chain.functions import ARRAY_LEVEL, ENTRY_LEVEL, TABLE, Elementwise, TwoPlace
from jacmagic.chain.images import USAGE
from jacmagic.errors import CellError
from jacmagic.read import network
from jacmagic.read.array_trace import trace_network
from jacmagic.read.network import read_network
from jacmagic.read.numpy_rules import table_ufuncs

Arrays = dict[str, np.ndarray]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _erf(z: np.ndarray) -> np.ndarray:
    import math

    return np.vectorize(math.erf)(z)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


_INSIDE = np.array([0.3, 0.55, 0.7])  # inside every domain of the one-argument functions but acosh's
_KINKED = np.array([-0.6, 0.3, 0.8])  # both sides of a kink or jump at 0, away from it
_MATRIX = np.array([[2.0, 0.3], [0.1, 1.5]])  # positive determinant, well conditioned

# one argument, entry by entry: numpy's function and the point
ONE: dict[str, tuple[Callable[[np.ndarray], np.ndarray], np.ndarray]] = {
    "sin": (np.sin, _INSIDE), "cos": (np.cos, _INSIDE), "tan": (np.tan, _INSIDE),
    "sec": (lambda z: 1 / np.cos(z), _INSIDE), "csc": (lambda z: 1 / np.sin(z), _INSIDE),
    "cot": (lambda z: np.cos(z) / np.sin(z), _INSIDE), "asin": (np.arcsin, _INSIDE), "acos": (np.arccos, _INSIDE),
    "atan": (np.arctan, _KINKED), "sinh": (np.sinh, _KINKED), "cosh": (np.cosh, _KINKED), "tanh": (np.tanh, _KINKED),
    "asinh": (np.arcsinh, _KINKED), "acosh": (np.arccosh, np.array([1.3, 2.0, 2.5])), "atanh": (np.arctanh, _INSIDE),
    "exp": (np.exp, _KINKED), "log": (np.log, _INSIDE), "ln": (np.log, _INSIDE), "log2": (np.log2, _INSIDE),
    "log10": (np.log10, _INSIDE), "sqrt": (np.sqrt, _INSIDE), "cbrt": (np.cbrt, np.array([-8.0, 0.3, 2.5])),
    "abs": (np.abs, _KINKED), "sign": (np.sign, _KINKED), "erf": (_erf, _KINKED),
    "heaviside": (lambda z: (z > 0).astype(float), _KINKED), "sigmoid": (_sigmoid, _KINKED),
    "relu": (lambda z: np.maximum(z, 0), _KINKED), "softplus": (lambda z: np.log1p(np.exp(z)), _KINKED),
    "gelu": (lambda z: z * (1 + _erf(z / np.sqrt(2))) / 2, _KINKED),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), _KINKED),
}
# other calls: the cell's last line, numpy's value of the inputs, the inputs (declared shape, point)
OTHER: dict[str, tuple[str, Callable[[Arrays], float], dict[str, tuple[str, np.ndarray]]]] = {
    "atan2": ("L = sum(atan2(z, x))", lambda a: np.sum(np.arctan2(a["z"], a["x"])),
              {"z": ("3", _KINKED), "x": ("3", np.array([0.5, -0.4, 1.1]))}),
    "hypot": ("L = sum(hypot(z, x))", lambda a: np.sum(np.hypot(a["z"], a["x"])),
              {"z": ("3", _KINKED), "x": ("3", np.array([0.5, -0.4, 1.1]))}),
    "max": ("L = max(z)", lambda a: np.max(a["z"]), {"z": ("3", _KINKED)}),
    "min": ("L = min(z)", lambda a: np.min(a["z"]), {"z": ("3", _KINKED)}),
    "where": ("L = sum(where(z > 0, z * z, 3 * z))", lambda a: np.sum(np.where(a["z"] > 0, a["z"] ** 2, 3 * a["z"])),
              {"z": ("3", _KINKED)}),
    "sum": ("L = sum(z)", lambda a: np.sum(a["z"]), {"z": ("3", _KINKED)}),
    "mean": ("L = mean(z)", lambda a: np.mean(a["z"]), {"z": ("3", _KINKED)}),
    "norm": ("L = norm(z)", lambda a: np.linalg.norm(a["z"]), {"z": ("3", _KINKED)}),
    "logsumexp": ("L = logsumexp(z)", lambda a: np.log(np.sum(np.exp(a["z"]))), {"z": ("3", _KINKED)}),
    "softmax": ("L = sum(softmax(z) ** 2)", lambda a: np.sum(_softmax(a["z"]) ** 2), {"z": ("3", _KINKED)}),
    "log_softmax": ("L = sum(log_softmax(z) ** 2)", lambda a: np.sum(np.log(_softmax(a["z"])) ** 2),
                    {"z": ("3", _KINKED)}),
    "transpose": ("L = sum(exp(transpose(z)))", lambda a: np.sum(np.exp(a["z"])), {"z": ("3", _KINKED)}),
    "dot": ("L = dot(z, x)", lambda a: a["z"] @ a["x"], {"z": ("3", _KINKED), "x": ("3", _INSIDE)}),
    "cross_entropy": ("L = cross_entropy(z, y)", lambda a: -np.sum(a["y"] * np.log(_softmax(a["z"]))),
                      {"z": ("3", _KINKED), "y": ("3", np.array([0.2, 0.5, 0.3]))}),
    "mse": ("L = mse(z, x)", lambda a: np.mean((a["z"] - a["x"]) ** 2), {"z": ("3", _KINKED), "x": ("3", _INSIDE)}),
    "tr": ("L = tr(X)", lambda a: np.trace(a["X"]), {"X": ("2x2", _MATRIX)}),
    "det": ("L = det(X)", lambda a: np.linalg.det(a["X"]), {"X": ("2x2", _MATRIX)}),
    "logdet": ("L = logdet(X)", lambda a: np.log(np.linalg.det(a["X"])), {"X": ("2x2", _MATRIX)}),
    "inv": ("L = sum(inv(X))", lambda a: np.sum(np.linalg.inv(a["X"])), {"X": ("2x2", _MATRIX)}),
}


def _case(name: str) -> tuple[str, Callable[[Arrays], float], Arrays]:
    """The cell calling `name` (an alias in its record's case), numpy's value of it, the point."""
    primary = next(p for p, record in TABLE.items() if ARRAY_LEVEL[name] is record)
    if primary in ONE:
        f, at = ONE[primary]
        return f"z: 3\nL = sum(2 * {name}(z))", lambda a: float(np.sum(2 * f(a["z"]))), {"z": at}
    line, value, inputs = OTHER[primary]
    declared = "\n".join(f"{n}: {shape}" for n, (shape, _) in inputs.items())
    return f"{declared}\n{line.replace(primary + '(', name + '(')}", value, {n: at for n, (_, at) in inputs.items()}


def _central(value: Callable[[Arrays], float], point: Arrays, h: float = 1e-6) -> Arrays:
    """Central differences of numpy's value by every entry of every input."""
    found = {}
    for name, at in point.items():
        slopes = np.zeros(at.shape)
        for index in np.ndindex(at.shape):
            step = np.zeros(at.shape)
            step[index] = h
            slopes[index] = (value({**point, name: at + step}) - value({**point, name: at - step})) / (2 * h)
        found[name] = slopes
    return found


def _by_entry(arrays: Arrays) -> dict[str, float]:
    """Each entry by the entry level's name of it: z_2 for z[1], X_1,2 for X[0, 1]."""
    return {f"{name}_{','.join(str(i + 1) for i in index) if at.ndim == 2 else index[0] + 1}": float(at[index])
            for name, at in arrays.items() for index in np.ndindex(at.shape)}


@pytest.mark.parametrize("name", sorted(ARRAY_LEVEL))
def test_every_table_name_gives_numpys_value_and_slope_at_both_levels(name: str) -> None:
    cell, value, point = _case(name)
    read_network(cell)  # the array reader takes it (NotStructured would send it to the entry level)
    result = jacobian(cell, chain=True, at=point)
    central = _central(value, point)
    walk = result.walkthrough()
    assert walk.values["L"].item() == pytest.approx(value(point), rel=1e-9, abs=1e-12)
    for input_name, slopes in result.gradient().items():
        np.testing.assert_allclose(slopes, central[input_name], rtol=1e-6, atol=1e-8)
    if name not in ENTRY_LEVEL:  # trace: the array level's name of tr only
        assert result.whole is None
        with pytest.raises(CellError, match=f"unknown function {name}"):
            jacobian(cell)
        return
    entry = result.whole
    assert entry is not None and walk.agrees
    names = [str(symbol) for symbol in entry.inputs]
    at = _by_entry(point)
    assert float(entry.expressions[0].subs({s: at[str(s)] for s in entry.inputs}).evalf()) == pytest.approx(
        value(point), rel=1e-9, abs=1e-12)
    slopes = _by_entry(central)
    np.testing.assert_allclose(entry.at(**point).ravel(), [slopes[n] for n in names], rtol=1e-6, atol=1e-8)


def test_every_name_has_a_case_here() -> None:
    """A new function in the table needs its numpy reference above."""
    primaries = set(ONE) | set(OTHER)
    assert primaries == set(TABLE)


@pytest.mark.parametrize(("alias", "name"), [(a, n) for n, r in TABLE.items() for a in r.aliases + r.array_aliases])
def test_an_alias_is_the_same_record_at_each_level_it_is_taken(alias: str, name: str) -> None:
    assert ARRAY_LEVEL[alias] is TABLE[name]
    if alias in TABLE[name].aliases:
        assert functions.KNOWN_FUNCTIONS[alias] == functions.KNOWN_FUNCTIONS[name]
    if isinstance(TABLE[name].numeric, Elementwise):
        assert elementwise.FUNCTIONS[alias] is elementwise.FUNCTIONS[name]


def test_no_function_name_is_written_twice() -> None:
    """A name is one record's name or alias, and every other table of function names is derived from TABLE."""
    spelled = [n for name, record in TABLE.items() for n in record.names(name, array=True)]
    assert len(spelled) == len(set(spelled))
    assert {n: f for n, (f, _) in functions.KNOWN_FUNCTIONS.items()} == {n: r.formula for n, r in ENTRY_LEVEL.items()}
    assert {n: a for n, (_, a) in functions.KNOWN_FUNCTIONS.items()} == {n: r.arities for n, r in ENTRY_LEVEL.items()}
    assert elementwise.FUNCTIONS == {n: r.numeric for n, r in ARRAY_LEVEL.items() if isinstance(r.numeric, Elementwise)}
    assert {n: t for n, t in binary.TWO_PLACE.items() if n != "**"} == {
        n: r.numeric for n, r in ARRAY_LEVEL.items() if isinstance(r.numeric, TwoPlace)}
    assert network.COVERED == set(ARRAY_LEVEL) | {"**"} | set(USAGE)
    assert all(matrix_functions.CALLS[n][0] == ARRAY_LEVEL[n].arities for n in matrix_functions.CALLS)
    assert functions.WHOLE_ARRAY == {n for n, r in ENTRY_LEVEL.items() if r.whole}
    # and no module of the array level lists a function name again as a key or a set of names
    root = Path(functions.__file__).parent.parent
    for module in ("chain/elementwise.py", "chain/binary.py", "chain/matrix_functions.py", "read/network.py",
                   "read/formula.py"):
        tree = ast.parse((root / module).read_text())
        listed = {e.value for node in ast.walk(tree) if isinstance(node, (ast.Dict, ast.Set))
                  for e in (node.keys if isinstance(node, ast.Dict) else node.elts)
                  if isinstance(e, ast.Constant) and isinstance(e.value, str)}
        assert not listed & set(ARRAY_LEVEL), (module, sorted(listed & set(ARRAY_LEVEL)))


@pytest.mark.parametrize("cell", ["y = sinn(x)", "x: 3\ny = sinn(x)"])
def test_an_unknown_function_is_named_with_the_tables_nearest_name(cell: str) -> None:
    with pytest.raises(CellError, match=r"unknown function sinn \(did you mean sin\?\)"):
        jacobian(cell)


@pytest.mark.parametrize("name", sorted(set(table_ufuncs()) - {"heaviside"}))  # np.heaviside(z, h): its own rule
def test_numpys_function_of_a_table_name_is_the_tables_in_a_traced_def(name: str) -> None:
    """np.sin, np.arctan, ... in a def traced at array level: numpy's own value and central differences."""
    record = ARRAY_LEVEL[name]
    f, at = ONE[next(p for p, r in TABLE.items() if r is record)]
    cell = f"def L(z):\n    return np.sum(2 * np.{name}(z))\n"
    trace_network(cell, {"np": np}, {"z": at})  # the array-level tracer takes it
    result = jacobian(cell, at={"z": at}, chain=True, namespace={"np": np})
    value = lambda a: float(np.sum(2 * f(a["z"])))  # noqa: E731
    assert result.walkthrough().values["L"].item() == pytest.approx(value({"z": at}), rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(result.gradient()["z"].reshape(-1), _central(value, {"z": at})["z"], rtol=1e-6,
                               atol=1e-8)
