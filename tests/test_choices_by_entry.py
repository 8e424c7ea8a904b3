"""where(cond, a, b) and `a if cond else b` chosen entry by entry: a branch not taken at an entry does not make the
map undefined there (its sqrt, log or divisor is checked only where it is taken), and a condition is read as numpy
reads it (a number holds where it is not 0; == and != compare values). Every answer is compared with numpy written
here: np.where under errstate(all="ignore") for the values, central differences for the derivatives."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.errors import CellError
from tests.helpers import assert_close

STEP = 1e-6
Map = Callable[[np.ndarray], np.ndarray]


def _central(function: Map, point: np.ndarray) -> np.ndarray:
    """d function / d point (a flat vector of inputs) by central differences, numpy computing quietly: an untaken
    branch of np.where is nan or inf where it is not taken, as numpy's own is."""
    columns = []
    with np.errstate(all="ignore"):
        for j in range(point.size):
            step = np.zeros_like(point)
            step[j] = STEP
            columns.append((np.asarray(function(point + step), float) - np.asarray(function(point - step), float))
                           / (2 * STEP))
    return np.stack([np.atleast_1d(c) for c in columns], axis=-1)


# -- named: the branch not taken, entry by entry (the scalar case is in test_correctness_hunt.py) -------------------

# a formula in a vector v -> the same map in numpy; each has an entry where a branch not taken is undefined
VECTOR_CHOICES: dict[str, Map] = {
    "where(v > 0, sqrt(v), 0)": lambda v: np.where(v > 0, np.sqrt(v), 0),
    "where(v > 0, log(v), v)": lambda v: np.where(v > 0, np.log(v), v),
    "where(v > 0, 1/(v + abs(v)), v)": lambda v: np.where(v > 0, 1 / (v + np.abs(v)), v),
    "where(v < 0, v**2, sqrt(v) * log(v))": lambda v: np.where(v < 0, v**2, np.sqrt(v) * np.log(v)),
    "sqrt(v) if v > 0 else v**3": lambda v: np.where(v > 0, np.sqrt(v), v**3),
    "where((v > 0) & (v < 2), log(v), v)": lambda v: np.where((v > 0) & (v < 2), np.log(v), v),
    "where(v > 0, sqrt(sum(v * v)) * log(v), v)": lambda v: np.where(v > 0, np.sqrt(np.sum(v * v)) * np.log(v), v),
}
VECTOR_POINTS = [[-1.5, 2.5, 0.5], [0.7, -0.3, -2.0]]


def _cells(formula: str) -> dict[str, tuple[str, bool]]:
    """The formula as an assignment line, the same with --chain, and a math-form function of the entries."""
    entries = formula.replace("v", "[a, b, c]").replace("sum([a, b, c] * [a, b, c])", "sum([a*a, b*b, c*c])")
    return {"assignment": (f"v: 3\nf = {formula}", False), "chain": (f"v: 3\nf = {formula}", True),
            "math form": (f"f(a, b, c) = {entries}", False)}


def _point(form: str, values: list[float]) -> dict[str, object]:
    return dict(zip("abc", values)) if form == "math form" else {"v": values}


@pytest.mark.parametrize("formula", VECTOR_CHOICES)
@pytest.mark.parametrize("form", ["assignment", "chain", "math form"])
def test_a_branch_of_where_not_taken_at_an_entry_does_not_make_the_map_undefined(formula: str, form: str) -> None:
    """`v: 3` then `f = where(v > 0, sqrt(v), 0)` at v = (-1.5, 2.5, 0.5) was nan in every row ("sqrt(v_1) has
    no finite real value here"): the guards of a branch held at every entry, taken there or not."""
    cell, chain = _cells(formula)[form]
    result = jacobian(cell, chain=chain)
    for values in VECTOR_POINTS:
        want = _central(VECTOR_CHOICES[formula], np.array(values))
        assert_close(result.at(**_point(form, values)), want, rel=1e-5)
        assert jacobian(cell, chain=chain, at=_point(form, values)).notes == ()


# the same maps as numpy defs: np.where with the guarded branch as numpy users write it, warnings and all
DEF_CHOICES: dict[str, Map] = {
    "np.where(v > 0, np.sqrt(np.abs(v)), 0)": lambda v: np.where(v > 0, np.sqrt(np.abs(v)), 0),
    "np.where(v > 0, np.sqrt(v), 0)": lambda v: np.where(v > 0, np.sqrt(v), 0),
    "np.where(v > 0, np.log(v), v)": lambda v: np.where(v > 0, np.log(v), v),
    "np.where(v > 0, 1/(v + np.abs(v)), v)": lambda v: np.where(v > 0, 1 / (v + np.abs(v)), v),
}


@pytest.mark.parametrize("body", DEF_CHOICES)
@pytest.mark.parametrize("chain", [False, True])
def test_a_def_choosing_entry_by_entry_is_defined_where_numpy_is(body: str, chain: bool) -> None:
    cell = f"v: 3\ndef f(v):\n    return {body}\n"
    result = jacobian(cell, chain=chain)
    for values in VECTOR_POINTS:
        assert_close(result.at(v=values), _central(DEF_CHOICES[body], np.array(values)), rel=1e-5)
        assert jacobian(cell, chain=chain, at={"v": values}).notes == ()


DIVIDED_WHERE_NOT_ZERO = {
    "assignment": ("v: 3\nf = where(v != 0, 1/v, 0)", False),
    "chain": ("v: 3\nf = where(v != 0, 1/v, 0)", True),
    "math form": ("f(a, b, c) = where([a, b, c] != 0, 1/[a, b, c], 0)", False),
    "def": ("v: 3\ndef f(v):\n    return np.where(v != 0, 1/v, 0)\n", False),
}


@pytest.mark.parametrize("form", DIVIDED_WHERE_NOT_ZERO)
def test_where_not_zero_divides_only_where_the_entry_is_not_zero(form: str) -> None:
    """where(v != 0, 1/v, 0) at v = (0, 2, -0.5) is 0 in its first entry, as np.where gives; the def form gave
    -inf there (v != 0 of an array of symbols asked sympy whether v_1 is written as 0: never, so 1/v always)."""
    cell, chain = DIVIDED_WHERE_NOT_ZERO[form]
    values = [0.0, 2.0, -0.5]
    result = jacobian(cell, chain=chain, at=_point(form, values))
    assert result.notes == ()
    got = result.at(**_point(form, values))
    want = _central(lambda v: np.where(v != 0, 1 / np.where(v != 0, v, 1), 0), np.array(values))
    assert_close(got[1:], want[1:], rel=1e-5)  # the entries away from the jump at 0
    assert_close(got[0], [0.0, 0.0, 0.0])  # the branch taken at v_1 = 0 is the constant 0


# -- named: a number as a condition ----------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["def f(x, y):\n    return np.where(x, x*y, y)\n", "f(x, y) = where(x, x*y, y)",
                                  "f(x, y) = x*y if x else y"])
@pytest.mark.parametrize("x", [0.0, -1.5])
def test_a_number_as_the_condition_holds_where_it_is_not_zero(cell: str, x: float) -> None:
    """np.where(x, a, b) chooses a where x != 0, as numpy reads a number: the def gave nan (sympy took the symbol
    x for a condition of its own), the math form refused it ("a condition must be a comparison")."""
    want = [[2.0, -1.5]] if x else [[0.0, 1.0]]
    assert_close(jacobian(cell, at={"x": x, "y": 2.0}).at(x=x, y=2.0), want)


@pytest.mark.parametrize("test", ["x", "x - 1", "x == y", "not x", "x and y", "x or y"])
def test_a_def_testing_a_traced_value_is_refused_not_answered_for_one_branch(test: str) -> None:
    """`x*y if x else y` in a def took x*y at every point (Python asked sympy for the truth of the symbol x: always
    True); `if x == y` always took its else (sympy's == says whether two expressions are written alike). Such a
    test has no answer that holds for every input: it is refused as `if x > 0` is, naming its line."""
    with pytest.raises(CellError, match="control flow depends on a symbolic value.*np.where") as raised:
        jacobian(f"def f(x, y):\n    z = x + y\n    return x*y if {test} else z\n")
    assert raised.value.line == 3


def test_a_def_testing_numbers_and_names_still_runs_as_python() -> None:
    """The tests of anything but a traced value are Python's own: a default, a string, a count, a list."""
    cell = ("def f(x, y, k=2, kind='sq'):\n    names = [n for n in ('a', 'b') if n != 'b']\n"
            "    if kind == 'sq' and k and not None and names == ['a']:\n        return [x**k, y]\n    return [x, y]\n")
    assert_close(jacobian(cell).at(x=3.0, y=1.0), [[6.0, 0.0], [0.0, 1.0]])


# -- generated: conditions of every kind against numpy, entry by entry -------------------------------------------

_COMPARISONS = ["x > 0.3", "x <= y", "x == 0", "x != y", "y < -0.5", "x == y", "x >= 0"]
_NUMBERS = ["x", "x - y", "x * y", "y + 1"]


def _condition(rng: random.Random, depth: int) -> tuple[str, str, str, bool]:
    """A random condition as (numpy, formula with & | ~, formula with and/or/not, is it a comparison): numpy's &,
    | and ~ take comparisons, np.logical_and/or/not any numbers."""
    if depth == 0 or rng.random() < 0.3:
        if rng.random() < 0.6:
            atom = rng.choice(_COMPARISONS)
            return f"({atom})", f"({atom})", f"({atom})", True
        atom = rng.choice(_NUMBERS)
        return f"({atom})", f"({atom})", f"({atom})", False
    kind = rng.choice(["and", "or", "not"])
    left = _condition(rng, depth - 1)
    if kind == "not":
        numpy = f"(~{left[0]})" if left[3] else f"np.logical_not({left[0]})"
        return numpy, f"(~{left[1]})", f"(not {left[2]})", left[3]
    right = _condition(rng, depth - 1)
    mark = "&" if kind == "and" else "|"
    both = left[3] and right[3]
    numpy = f"({left[0]} {mark} {right[0]})" if both else f"np.logical_{kind}({left[0]}, {right[0]})"
    return numpy, f"({left[1]} {mark} {right[1]})", f"({left[2]} {kind} {right[2]})", both


CONDITIONS = list(dict.fromkeys(_condition(random.Random(seed), 2) for seed in range(40)))[:28]
THEN, OTHERWISE = "x*y + x**2", "sin(x) - y"
# points with entries exactly 0 and equal entries, where truthiness and == decide, then random ones (to one
# decimal, so that some fall on a condition's edge, where the derivative is the taken branch's)
_RANDOM = random.Random(7)
SCALAR_POINTS = [(0.0, 1.3), (-0.8, -0.8), (0.9, 0.0), (-1.1, 0.4), (0.5, -1.7),
                 *((round(_RANDOM.uniform(-2, 2), 1), round(_RANDOM.uniform(-2, 2), 1)) for _ in range(5))]
VECTORS_XY = [{"x": [0.0, -0.8, 0.9, -1.1, 0.5], "y": [1.3, -0.8, 0.0, 0.4, -1.7]},
                 *({name: [round(_RANDOM.uniform(-2, 2), 1) for _ in range(5)] for name in "xy"} for _ in range(2))]


def _frozen(condition: str) -> Callable[[np.ndarray, np.ndarray], Map]:
    """The map at a point (x, y) as numpy computes it, its condition decided at the point: its derivative is the
    taken branch's, entry by entry (at an entry on the condition's edge a difference across it would be the
    jump's)."""
    def at(x: np.ndarray, y: np.ndarray) -> Map:
        with np.errstate(all="ignore"):
            mask = np.asarray(eval(condition, {"np": np, "x": x, "y": y}), bool)  # noqa: S307 - the test's own text
        n = x.size

        def function(p: np.ndarray) -> np.ndarray:
            u, w = p[:n], p[n:]
            return np.where(mask, u * w + u**2, np.sin(u) - w)
        return function
    return at


def _by_name(result: object, got: np.ndarray) -> np.ndarray:
    """The columns of x's entries, then y's: an assignment cell takes its inputs in order of first appearance."""
    names = [s.name for s in result.inputs]  # type: ignore[attr-defined]
    return got[:, sorted(range(len(names)), key=lambda k: names[k].startswith("y"))]


def _forms(condition: tuple[str, str, str, bool], vector: bool) -> dict[str, tuple[str, bool]]:
    numpy, marks, words, _ = condition
    then, otherwise = THEN, OTHERWISE
    shapes = "x: 5\ny: 5\n" if vector else ""
    forms = {"def": (f"{shapes}def f(x, y):\n    return np.where({numpy}, {then}, np.{otherwise})\n", False),
             "& | ~": (f"{shapes}f = where({marks}, {then}, {otherwise})", False)}
    if not vector:
        forms = {**forms, "math form": (f"f(x, y) = where({marks}, {then}, {otherwise})", False),
                 "if else": (f"f(x, y) = {then} if {words} else {otherwise}", False)}
    else:
        forms["chain"] = (f"{shapes}f = where({marks}, {then}, {otherwise})", True)
    return forms


@pytest.mark.parametrize("condition", CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_generated_conditions_choose_as_numpy_does_for_numbers(condition: tuple[str, str, str, bool]) -> None:
    for form, (cell, chain) in _forms(condition, vector=False).items():
        result = jacobian(cell, chain=chain)
        for x, y in SCALAR_POINTS:
            function = _frozen(condition[0])(np.array([x]), np.array([y]))
            want = _central(function, np.array([x, y]))
            got = _by_name(result, result.at(x=x, y=y))
            assert np.allclose(got, want, rtol=1e-5, atol=1e-5), (form, cell, (x, y), got, want)


@pytest.mark.parametrize("condition", CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_generated_conditions_choose_as_numpy_does_entry_by_entry(condition: tuple[str, str, str, bool]) -> None:
    for form, (cell, chain) in _forms(condition, vector=True).items():
        result = jacobian(cell, chain=chain)
        for point in VECTORS_XY:
            x, y = (np.array(point[name]) for name in "xy")
            want = _central(_frozen(condition[0])(x, y), np.concatenate([x, y]))
            got = _by_name(result, result.at(**point))
            assert np.allclose(got, want, rtol=1e-5, atol=1e-5), (form, cell, point, got, want)
