"""The correctness hunt: maps written every way a user may write them, their Jacobians, gradients, Hessians and
walkthroughs compared with central differences computed here (mpmath, or numpy written in the test), never with the
program's own output. Each bug found has a named test; the generated families are below them."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pytest
from IPython.core.error import UsageError

from jacmagic import jacobian
from jacmagic.errors import CellError
from tests.conftest import Shell
from tests.helpers import assert_close
from tests.hunt_maps import Grammar, Node, Undefined, Writer, reference_hessian, reference_jacobian

STEP = 1e-6


def _central(function, point: dict[str, float], names: list[str]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """m x n by central differences of `function` (a dict of numbers -> list of outputs), written in numpy."""
    columns = []
    for name in names:
        up = np.asarray(function({**point, name: point[name] + STEP}), dtype=float)
        down = np.asarray(function({**point, name: point[name] - STEP}), dtype=float)
        columns.append((up - down) / (2 * STEP))
    return np.stack(columns, axis=-1)


# -- named: one bug each --------------------------------------------------------------------------------------------

GUARDED_CHOICES = {
    "where(x > 0, sqrt(x), 0)": lambda p: [np.sqrt(p["x"]) if p["x"] > 0 else 0.0],
    "where(x > 0, log(x), x)": lambda p: [np.log(p["x"]) if p["x"] > 0 else p["x"]],
    "sqrt(x) if x > 0 else x**2": lambda p: [np.sqrt(p["x"]) if p["x"] > 0 else p["x"] ** 2],
    "where(x > 0, 1/x, 3*x)": lambda p: [1 / p["x"] if p["x"] > 0 else 3 * p["x"]],
    "where(x < 0, x*y, log(x)/y)": lambda p: [p["x"] * p["y"] if p["x"] < 0 else np.log(p["x"]) / p["y"]],
}


@pytest.mark.parametrize("formula", GUARDED_CHOICES)
@pytest.mark.parametrize("x", [-1.5, 2.0])
def test_a_branch_of_where_not_taken_does_not_make_the_map_undefined(formula: str, x: float) -> None:
    """`where(x > 0, sqrt(x), 0)` at x = -1 was nan ("sqrt(x) has no finite real value here"), though its value
    is 0 there, as np.where's and the def form's: the guards of a branch held even where it is not taken."""
    point = {"x": x, "y": 0.7}
    want = _central(GUARDED_CHOICES[formula], point, ["x", "y"])
    result = jacobian(f"f(x, y) = [{formula}]")
    assert_close(result.at(**point), want, rel=1e-6)
    assert jacobian(f"f(x, y) = [{formula}]", at=point).notes == ()


@pytest.mark.parametrize("code, function", [
    ("x * np.maximum(np.maximum(0.5, 1e8), z)", lambda p: [p["x"] * max(0.5, 1e8, p["z"])]),
    ("x * np.minimum(3, 1) + np.maximum(2, 7) * z", lambda p: [p["x"] * 1 + 7 * p["z"]]),
    ("np.max(np.array([2.0, 7.0])) * x - z", lambda p: [7 * p["x"] - p["z"]]),
])
def test_numpys_max_and_min_of_numbers_alone_give_the_extreme_one_in_a_def(code: str, function) -> None:  # type: ignore[no-untyped-def]
    """np.maximum(2, 7) traced to 2: sympy's Max of numbers, subclassed, kept the first number (its comparison of
    two numbers names sympy's own Max, not the subclass), so x * np.maximum(0.5, 1e8) had the slope 0.5."""
    point = {"x": 0.3, "z": -0.8}
    result = jacobian(f"def f(x, z):\n    return [{code}]\n")
    assert_close(result.at(**point), _central(function, point, ["x", "z"]), rel=1e-6)


def _nested_choice(p: dict[str, float]) -> list[float]:
    x, y = p["x"], p["y"]
    inner = x if y > x else 1.5
    other = x if x > (7 if np.pi > y else y) else y
    return [x if inner > other else y, x * y]


@pytest.mark.parametrize("point", [{"x": 1.218, "y": 1.97}, {"x": 3.0, "y": 0.0}, {"x": -0.4, "y": 5.0}])
def test_a_where_inside_a_where_condition_has_numbers_and_leaves_the_other_rows_alone(point: dict[str, float]) -> None:
    """The condition where(...) > where(...) became sympy's ITE, compiled to np.select of floats (its nan default),
    which np.select refuses: every entry of the Jacobian, of every row, was nan."""
    cell = "f(x, y) = [where(where(y > x, x, 1.5) > where(x > where(pi > y, 7, y), x, y), x, y), x*y]"
    want = _central(_nested_choice, point, ["x", "y"])
    assert_close(jacobian(cell).at(**point), want, rel=1e-6)
    code = ("def f(x, y):\n    return [np.where(np.where(y > x, x, 1.5) > np.where(x > np.where(np.pi > y, 7, y), "
            "x, y), x, y), x*y]\n")
    assert_close(jacobian(code).at(**point), want, rel=1e-6)


@pytest.mark.parametrize("point", [{"x": 2.0, "y": 30.0}, {"x": 2.0, "y": 0.25}, {"x": 0.5, "y": 3.0}])
def test_a_where_in_a_condition_holding_a_max_of_a_quotient_has_numbers(point: dict[str, float]) -> None:
    """R.at raised sympy's ValueError "The argument 'zoo' is not comparable": compiling the piecewise ran sympy's
    simplify_logic on its condition, which puts 0 for y in max(1/y, 0.5)."""
    def function(p: dict[str, float]) -> list[float]:
        x, y = p["x"], p["y"]
        return [x * y if (max(1 / y, 0.5) if x > 1 else x) > 1 else y]

    want = _central(function, point, ["x", "y"])
    assert_close(jacobian("f(x, y) = where(where(x > 1, max(1/y, 0.5), x) > 1, x*y, y)").at(**point), want, rel=1e-6)


@pytest.mark.parametrize("point", [{"x": 0.9, "y": 0.2}, {"x": -0.3, "y": 1.4}])
def test_the_determinant_of_a_map_with_max_of_a_trigonometric_constant_is_given_not_a_traceback(
        point: dict[str, float]) -> None:
    """--det raised sympy's ValueError (a rewritten -tan(E) "is not comparable"): simplifying the determinant
    rewrote max(y, x, -tan(E)) with exponentials of i, which Max refuses."""
    def function(p: dict[str, float]) -> list[float]:
        return [np.hypot(max(p["y"], p["x"], -np.tan(np.e)), p["x"]), p["y"]]

    result = jacobian("f(x, y) = [hypot(max(y, x, -tan(E)), x), y]", det=True)
    symbols = {str(s): s for s in result.inputs}
    determinant = float(result.det.subs({symbols[k]: v for k, v in point.items()}))
    assert abs(determinant - np.linalg.det(_central(function, point, ["x", "y"]))) < 1e-6


# -- generated: random maps over the whole grammar, in every cell form ----------------------------------------------

NAMES = ("x", "y", "z")
HELD = {"c": 0.7, "k": -1.3}  # constants: names not among the parameters


@dataclass
class Drawn:
    """One random map: its outputs as trees, its parameters, and points where it is defined away from breaks,
    each with the Jacobian by mpmath central differences."""

    outputs: list[Node]
    inputs: list[str]
    points: list[tuple[dict[str, float], np.ndarray]]

    def cell(self, form: str) -> str:
        math, code = Writer(python=False), Writer(python=True)
        if form == "math":
            return f"f({', '.join(self.inputs)}) = [{', '.join(math(o) for o in self.outputs)}]"
        if form == "def":
            parameters = ", ".join([*self.inputs, *(f"{name}={value}" for name, value in HELD.items())])
            return f"def f({parameters}):\n    return [{', '.join(code(o) for o in self.outputs)}]\n"
        lines: list[str] = []
        outputs = [_staged(o, lines, math) for o in self.outputs] if form == "chain" else self.outputs
        return "\n".join(lines + [f"o{i} = {math(o)}" for i, o in enumerate(outputs)])


def _staged(node: Node, lines: list[str], math: Writer, depth: int = 0) -> Node:
    """The tree with its compound parts at odd depths named on lines of their own (at most four): stages."""
    if node[0] in ("var", "name", "num"):
        return node
    node = tuple(_staged(part, lines, math, depth + 1) if isinstance(part, tuple) else part for part in node)
    if depth % 2 == 0 or len(lines) >= 4:
        return node
    lines.append(f"t{len(lines)} = {math(node)}")
    return ("name", f"t{len(lines) - 1}")


def _names(node: Node) -> set[str]:
    found = {node[1]} if node[0] == "var" else set()
    return found.union(*(_names(part) for part in node[1:] if isinstance(part, tuple)))


def _draw(seed: int, python: bool, depth: int = 3) -> Drawn | None:
    rng = random.Random(seed)
    inputs = list(NAMES[:rng.randint(1, 3)])
    grammar = Grammar(rng, inputs, tuple(HELD), python=python)
    outputs = [grammar.node(depth) for _ in range(rng.randint(1, 3))]
    inputs = [name for name in inputs if name in set().union(*map(_names, outputs))]
    points = []
    for _ in range(6):
        point = {name: round(rng.uniform(-2, 2), 3) for name in inputs}
        try:
            points.append((point, np.array(reference_jacobian(outputs, {**point, **HELD}, inputs))))
        except (Undefined, ZeroDivisionError, ValueError, OverflowError):
            continue
        if len(points) == 2:
            break
    return Drawn(outputs, inputs, points) if inputs and points else None


def _check_form(drawn: Drawn, form: str, **options: object) -> None:
    """R.at (and the walkthrough's gradient under --chain) against the references; inputs are matched by name, a
    cell of assignments ordering them by first use."""
    if form != "math":
        options["wrt"] = ",".join(drawn.inputs)
    result = jacobian(drawn.cell(form), **options)  # type: ignore[arg-type]
    order = [[str(s) for s in result.inputs].index(name) for name in drawn.inputs]
    for point, want in drawn.points:
        given = {**point, **{k: v for k, v in HELD.items() if k in result.constants}}
        got = np.asarray(result.at(**given), dtype=float)[:, order]
        assert np.all(np.abs(got - want) <= 1e-6 * np.maximum(1, np.abs(want))), (drawn.cell(form), point, got, want)
        if options.get("chain") and len(want) == 1:
            walked = result.walkthrough(**given).gradients
            assert_close([walked[name] for name in drawn.inputs], want[0], rel=1e-6)


def _check_hessians(drawn: Drawn) -> None:
    result = jacobian(drawn.cell("math"), hessian=True)
    order = [[str(s) for s in result.inputs].index(name) for name in drawn.inputs]
    for point, _ in drawn.points:
        given = {**point, **{k: v for k, v in HELD.items() if k in result.constants}}
        hessians = np.asarray(result.hessian_at(**given), dtype=float)[:, order][:, :, order]
        for output, got in zip(drawn.outputs, hessians):
            try:
                want = np.array(reference_hessian(output, {**point, **HELD}, drawn.inputs))
            except (Undefined, ZeroDivisionError, ValueError):
                continue
            assert np.all(np.abs(got - want) <= 1e-5 * np.maximum(1, np.abs(want))), (drawn.cell("math"), got, want)


def _generated(seeds: range, form: str) -> None:
    for seed in seeds:
        drawn = _draw(seed, python=form == "def")
        if drawn is None:
            continue
        try:
            if form == "hessian":
                _check_hessians(drawn)
            else:
                _check_form(drawn, form, chain=form == "chain")
        except CellError as error:  # a constant part with no real value (acos(1.5) in a branch) is refused
            assert "for any input" in str(error) or "for every input" in str(error), error


FORMS = ("math", "def", "assign", "chain", "hessian")


@pytest.mark.parametrize("form", FORMS)
def test_random_maps_have_the_jacobian_of_central_differences(form: str) -> None:
    _generated(range(40), form)


@pytest.mark.slow
@pytest.mark.parametrize("form", FORMS)
def test_many_random_maps_have_the_jacobian_of_central_differences(form: str) -> None:
    _generated(range(40, 600), form)


@pytest.mark.parametrize("code", ["y + math.log(x, 1.0)", "np.maximum(y, math.log(x, 1.0))", "y + x/0.0"])
def test_a_def_returning_what_is_undefined_everywhere_is_a_usage_error_as_a_formula_is(shell: Shell,
                                                                                       code: str) -> None:
    """A def's output holding sympy's zoo (x/0.0, a log to base 1) went through, and --check raised KeyError
    'ComplexInfinity' with a traceback; the same formula in the math form is refused as undefined everywhere."""
    ran = shell.run(f"%%jacobian --check --no-widgets\ndef f(x, y):\n    return [x, {code}, x]\n")
    assert type(ran.error) is UsageError and "undefined for every input" in str(ran.error), ran.error
    assert "in f: output 2:" in str(ran.error), ran.error  # the undefined output named, not the outputs at once
    assert "Traceback" not in ran.stdout
