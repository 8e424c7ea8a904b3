"""A def runs with sympy evaluating nothing (so a guard sympy would fold is still found), yet runs as Python runs it:
the constants it computes and looks at (if, ==, `in`, a dict, isinstance, int(), print) are sympy's values, it
prints once, and sympy's cache is neither lost nor mixed between the two modes. numpy, running the same def, is the
reference: every row numpy's value is defined in is numpy's central differences."""

from __future__ import annotations

import contextlib
import io
import math
import random
import re

import numpy as np
import pytest
import sympy as sp
from sympy.core import cache as sympy_cache
from sympy.core.parameters import global_parameters

from jacmagic import jacobian
from jacmagic.errors import CellError, TooManyEntries
from jacmagic.read import unevaluated
from jacmagic.read.names import real_symbol
from tests.hunt_maps import Grammar, Writer

STEP = 1e-6
INPUTS = ("x", "y", "v")


class _Sympy:
    """The sympy calls of the cells below, as numbers: what numpy's run of the def calls."""

    Max = staticmethod(lambda *a: max(a))
    sqrt = staticmethod(np.sqrt)
    Integer = staticmethod(int)
    Rational = staticmethod(lambda a, b: a / b)

    @staticmethod
    def Piecewise(*pairs):  # type: ignore[no-untyped-def]  # noqa: N802 - sympy's name
        return next(value for value, condition in pairs if condition)


def _numpy_def(cell: str):  # type: ignore[no-untyped-def]
    """The cell's def run by numpy itself (shape lines and imports left out)."""
    code = "\n".join(line for line in cell.split("\n") if not re.match(r"^(\w+: \d|import )", line))
    scope = {"np": np, "math": math, "sp": _Sympy, "relu": lambda z: np.maximum(z, 0),
             "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "softplus": lambda z: np.log1p(np.exp(z))}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(code, scope)  # noqa: S102 - the test's own cells
    return scope["f"]


def _values(f, point: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    with np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
        try:
            return np.array([float(t) for t in f(point[0], point[1], point[2:])])
        except (ValueError, TypeError, ZeroDivisionError, OverflowError):  # math's refusals, complex numbers
            return np.full(2, np.inf)  # no row can be told apart: such points are passed over


def _central(f, point: np.ndarray, step: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    steps = np.eye(len(point)) * step
    with np.errstate(all="ignore"):
        return np.stack([(_values(f, point + s) - _values(f, point - s)) / (2 * step) for s in steps], axis=-1)


def _check_against_numpy(cell: str, point: np.ndarray) -> None:
    """Rows numpy defines are its central differences; rows it has no value in are undefined. Points where two
    steps disagree (a kink or jump nearby) are passed over."""
    f = _numpy_def(cell)
    values = _values(f, point)
    defined = np.isfinite(values)
    want, coarse = _central(f, point, STEP), _central(f, point, 10 * STEP)
    if np.isinf(values).any() or not np.allclose(want[defined], coarse[defined], rtol=1e-3, atol=1e-4):
        return
    at = {"x": point[0], "y": point[1], "v": list(point[2:])}
    got = np.atleast_2d(jacobian(cell, at=at).at(**at))
    assert np.isnan(got[~defined]).all(), (cell, point, got)
    assert np.allclose(got[defined], want[defined], rtol=1e-4, atol=1e-5), (cell, point, got, want)


def _cell(body: str) -> str:
    return f"import numpy as np\nimport math\nimport sympy as sp\nv: 2\ndef f(x, y, v):\n{body}"


# -- named: one defect each -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("test", ["n == 3", "not n != 3", "n in (3, 4)", "{3: True}.get(n, False)",
                                  "isinstance(m, sp.Integer)", "r == 2"])
def test_a_def_testing_a_computed_whole_number_takes_the_branch_python_takes(test: str) -> None:
    """n = np.sum(np.array([1, 2])) was an unevaluated 1 + 2 while the def ran: n == 3 was False (sympy's == of
    how it is written), so the def silently took the other branch (a slope of 7 for numpy's 2)."""
    cell = _cell(f"    n = np.sum(np.array([1, 2]))\n    m, r = sp.Integer(1) + 2, sp.sqrt(4)\n"
                 f"    k = 2 if {test} else 7\n    return [k*x, y]\n")
    assert np.array_equal(jacobian(cell).at(x=0.5, y=1.0, v=[1.0, 2.0]), [[2, 0, 0, 0], [0, 1, 0, 0]])


def test_a_def_prints_the_numbers_it_computed_once() -> None:
    """print showed `c 1 + 2 2*(1 + 2)` and an f-string `c=1.0 + 2.0`; a def whose first, unevaluated run failed
    (v[n] with n an unevaluated sum) printed everything twice."""
    cell = _cell("    n = np.sum(np.array([1, 2]))\n    c = np.sum(np.array([1.0, 2.0]))\n    print('n', n, 2*n)\n"
                 "    print(f'c={c}')\n    print('first', v[[0, 1, 1][n - 2]])\n    return [n*x, y]\n")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        jacobian(cell)
    assert printed.getvalue() == "n 3 6\nc=3.00000000000000\nfirst v_2\n"


def test_numpys_maximum_of_a_part_sympy_folds_to_a_number_is_written_as_of_that_number() -> None:
    """np.maximum(y/y, 0.5 - x): the def saw y/y (not a number) first and kept it there, so the slope was written
    H(x + 0.5)/3 - 1/3 where np.maximum(1, 0.5 - x) writes -H(-x - 0.5)/3."""
    folded = jacobian("def f(x, y):\n    return [sp.Rational(1, 3)*np.maximum(y/y, 0.5 - x)]\n",
                      namespace={"sp": sp})
    written = jacobian("def f(x, y):\n    return [sp.Rational(1, 3)*np.maximum(1, 0.5 - x)]\n", namespace={"sp": sp})
    assert sp.srepr(folded.matrix) == sp.srepr(written.matrix)
    for x in (-2.0, 1.0):
        assert np.allclose(folded.at(x=x, y=0.7), [[-1 / 3 if x < -0.5 else 0.0, 0.0]])


def test_tracing_a_def_keeps_what_sympy_cached_before() -> None:
    """Switching sympy's evaluate flag clears its whole cache: every def traced lost it, and a re-run of the
    same cell computed everything again (a 12-entry softmax: 0.08 s of CPU before, 1.27 s)."""
    x = real_symbol("x")
    sp.sin(x + 17) * sp.cos(x)  # noqa: B018 - cached
    before = sum(w.cache_info().currsize for w in sympy_cache.CACHE)
    jacobian("def f(x):\n    return [np.exp(np.log(x)) + x/x]\n")
    assert sum(w.cache_info().currsize for w in sympy_cache.CACHE) >= before


def test_what_a_def_built_unevaluated_is_not_handed_to_evaluated_code_after() -> None:
    """The reason sympy clears its cache: x + x built unevaluated must not come back from the cache later."""
    x = real_symbol("x")
    jacobian("def f(x):\n    return [x + x, x*x, x - x + 1]\n")
    assert (x + x, x * x, x - x + 1) == (2 * x, x**2, sp.S.One)
    assert sp.srepr(sp.Add(x, x)) == sp.srepr(2 * x)


def test_what_sympy_evaluated_before_does_not_fold_a_guard_in_a_def() -> None:
    """exp(log(x)) evaluated (to x) and cached before the def runs must not be handed to the unevaluated run:
    the log's guard would be lost."""
    x = real_symbol("x")
    assert sp.exp(sp.log(x)) == x and sp.sqrt(x) ** 2 == x
    got = jacobian("def f(x, y):\n    return [np.exp(np.log(x)) + y, np.sqrt(x)**2, x + 1]\n").at(x=-1.0, y=2.0)
    assert np.isnan(got[:2]).all() and np.array_equal(got[2], [1.0, 0.0])


@pytest.mark.parametrize("inner", ["with sp.evaluate(True):\n        u = x + x",
                                   "with sp.evaluate(False):\n        u = x + x",
                                   "sp.core.cache.clear_cache()\n    u = x + x"])
def test_a_def_switching_sympys_evaluation_itself_leaves_both_caches_right(inner: str) -> None:
    x = real_symbol("x")
    cell = f"def f(x):\n    {inner}\n    return [np.exp(np.log(x)) * u]\n"
    got = jacobian(cell, namespace={"sp": sp})
    assert np.isnan(got.at(x=-1.0)).all() and np.allclose(got.at(x=2.0), [[8.0]])
    assert sp.srepr(x + x) == sp.srepr(2 * x) and sp.exp(sp.log(x)) == x


def test_where_sympys_cache_is_not_as_expected_the_flag_is_switched_as_sympy_does(
        monkeypatch: pytest.MonkeyPatch) -> None:
    cell = ("def f(x, y):\n    n = np.sum(np.array([1, 2]))\n    k = 2 if n == 3 else 7\n    print(n)\n"
            "    return [np.exp(np.log(x)) + k*np.where(y > 0, y, 2*y)]\n")
    usual = jacobian(cell)
    monkeypatch.setattr(unevaluated, "_cached", lambda: None)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        plain = jacobian(cell)
    assert printed.getvalue() == "3\n"  # the number, not 1 + 2: its test took Python's branch too
    assert plain.at(x=0.5, y=1.5).tolist() == [[1.0, 2.0]]  # type: ignore[union-attr]  # slope k = 2 in y
    assert sp.srepr(plain.matrix) == sp.srepr(usual.matrix)
    assert np.isnan(plain.at(x=-1.0, y=1.0)).all()


# -- the family: value-looking constructs around generated bodies, against numpy running the same def ---------------

WRAPS = [
    ("    w = np.sum(np.array([1.0, 2.0]))\n    if w > 2.5:\n        k = 2.0\n    else:\n        k = 5.0\n",
     "[k*({E}), {F}]"),
    ("    n = np.sum(np.array([1, 2]))\n    k = 2 if n == 3 else 7\n", "[k*({E}), {F}]"),
    ("    n = np.sum(np.array([1, 2]))\n    k = 2 if n != 3 else 7\n", "[k*({E}), {F}]"),
    ("    c = np.sum(np.array([1.0, -1.0]))\n    k = 3 if not c else 4\n", "[k*({E}), {F}]"),
    ("    n = int(np.sum(np.array([1.0, 2.0])))\n", "[({E})*n, x**n + {F}]"),
    ("    c = float(np.sqrt(np.array([4.0]))[0])\n", "[c*({E}), {F}]"),
    ("    s = 0\n    for i in range(len(v)):\n        s = s + v[i]*(i + 1)\n", "[s*({E}), {F}]"),
    ("    n = np.sum(np.ones(2))\n    s = 0\n    for i in range(int(n)):\n        s = s + v[i]**2\n", "[s + {E}, {F}]"),
    ("    n = np.sum(np.array([1, 1]))\n", "[v[n - 1]*({E}), {F}]"),
    ("    c = np.sum(np.array([1.0, 3.0]))\n", "[math.sqrt(c)*({E}) + math.log(3), math.exp(c - 4)*({F})]"),
    ("    u = np.array([[1, 2], [3, 4]]) @ v\n", "[u[0]*({E}), u[1] + {F}]"),
    ("    u = np.ones(2) * ({E})\n", "[u[0] + v[0], u[1]*({F})]"),
    ("", "[sp.Max({E}, 0), sp.Piecewise(({F}, x > 0), (y, True))]"),
    ("", "[sp.sqrt(({E})**2 + 1), sp.Rational(1, 3)*({F})]"),
    ("    a = np.max(np.array([1.0, 4.0]))\n    b = a >= 4\n    k = 1 if b else 3\n", "[k*({E}), {F}]"),
    ("    p = np.sum(np.array([1, 1]))\n", "[({E})**p, x**p*({F})]"),
    ("    out = [v[i]**(i + 1) for i in range(2) if i >= 0]\n", "[out[0] + {E}, out[1]*({F})]"),
    ("    k = np.sum(np.array([0.5]))\n    n = 0\n    while k < 2:\n        k = k + np.sum(np.array([0.5]))\n"
     "        n += 1\n", "[n*({E}), {F}]"),
    ("    c = max(np.sum(np.array([1.0, 2.0])), 2.5)\n", "[c*({E}), {F}]"),
    ("    d = {{1: 2.0, 3: 4.0}}\n    n = np.sum(np.array([1, 2]))\n", "[d.get(n, 9.0)*({E}), {F}]"),
    ("    n = np.sum(np.array([1, 2]))\n    k = 2 if n in (3, 5) else 7\n", "[k*({E}), {F}]"),
    ("    n = np.sum(np.array([1, 2]))\n    n += 1\n    u = [n, x]\n    w = u\n    w.append({E})\n",
     "[{{4: 2.0}}.get(u[0], 9.0)*u[-1], {F}]"),
    ("", "[np.where(x > 0, {E}, y), np.where(y > 1, x*y, {F}) + np.where(x < y, x, 2*y)]"),
]


def _cells(count: int, seed: int) -> list[tuple[str, np.ndarray]]:
    rng, write = random.Random(seed), Writer(python=True)
    cells = []
    for k in range(count):
        head, outputs = WRAPS[k % len(WRAPS)]
        parts = {"E": write(Grammar(rng, ("x", "y"), python=True).node(rng.choice([1, 2, 3]))),
                 "F": write(Grammar(rng, ("x", "y"), python=True).node(rng.choice([1, 2])))}
        cell = _cell(head.format(**parts) + "    return " + outputs.format(**parts) + "\n")
        cells.append((cell, np.array([rng.uniform(-2, 2) for _ in range(4)])))
    return cells


@pytest.mark.parametrize(("cell", "point"), _cells(88, 11), ids=lambda c: "" if isinstance(c, np.ndarray) else None)
def test_a_def_that_looks_at_its_values_has_numpys_jacobian(cell: str, point: np.ndarray) -> None:
    try:
        _check_against_numpy(cell, point)
    except CellError as err:  # a refusal the map deserves: numpy has no value of an output either
        assert not np.isfinite(_values(_numpy_def(cell), point)).all(), (cell, err)


def test_a_def_stopped_by_its_budget_leaves_sympy_evaluating_with_its_own_cache() -> None:
    """The alarm lands while the def runs unevaluated, with the run's caches in place: they are put back, the flag
    set again, before the refusal reaches the user."""
    x = real_symbol("x")
    caches = [cell.cell_contents for _, cell in unevaluated._cached() or ()]
    with pytest.raises(TooManyEntries, match="did not finish"):
        jacobian("def f(x):\n    while True:\n        x = x + x*x\n", budget=0.05)
    assert global_parameters.evaluate and not unevaluated._running
    assert all(a is b for a, b in zip(caches, [cell.cell_contents for _, cell in unevaluated._cached() or ()]))
    assert sp.srepr(x + x) == sp.srepr(2 * x) and sp.exp(sp.log(x)) == x


def test_sympy_failing_on_a_value_built_after_the_def_ran_is_told_at_its_line() -> None:
    """sp.Max of a complex constant runs unevaluated and fails only when its value is built, after the def: the
    refusal lost its line ('in f: ValueError ...' for 'line 3: in f: ...'). The def is run evaluated again."""
    cell = "import sympy as sp\ndef f(x, y):\n    return [sp.Max(np.arctanh(math.log(1e-8, 3)), 0), y]\n"
    with pytest.raises(CellError, match=r"^line 3: in f: ValueError: The argument .* is not comparable"):
        jacobian(cell, namespace={"math": math})


def test_a_list_or_array_bound_to_two_names_stays_one_when_its_numbers_are_settled() -> None:
    """Settling a list's or an array's computed numbers made a copy: b = a; b.append(x*x) left a without x*x, and
    w = u; w[1] = 5 left u[1] at 1 (the slope 2 for numpy's 2x + 7)."""
    cell = ("def f(x):\n    a = [np.sum(np.array([1, 2])), x]\n    b = a\n    b.append(x*x)\n"
            "    u = np.array([np.sum(np.array([1, 2])), 1])\n    w = u\n    w[1] = 5\n"
            "    k = 2 if u[0] == 3 and a[0] in (3,) else 7\n    return [a[-1] + u[1]*x + k*x]\n")
    assert np.allclose(jacobian(cell).at(x=0.5), [[2 * 0.5 + 7]])


def test_a_number_grown_by_an_augmented_assignment_is_its_value() -> None:
    """n += 1 on n = np.sum(np.array([1, 2])) was an unevaluated 1 + 2 + 1: {4: 2.0}.get(n, 9.0) gave 9.0."""
    cell = "def f(x):\n    n = np.sum(np.array([1, 2]))\n    n += 1\n    return [{4: 2.0}.get(n, 9.0) * x]\n"
    assert np.allclose(jacobian(cell).at(x=0.5), [[2.0]])


@pytest.mark.parametrize("body", ["    c = 0*np.sqrt(np.array([-1.0]))[0]\n    return [x + c, x]\n",
                                  "    return [x + 0*np.sqrt(np.array([-1.0]))[0], x]\n",
                                  "    c = np.exp(np.log(np.array([-2.0])))[0]\n    return [x*c, x]\n"])
def test_a_constant_without_a_real_value_is_refused_assigned_to_a_name_or_not(body: str) -> None:
    """numpy's 0*np.sqrt(-1.0) is nan in every output using it. Settled when assigned, the constant became sympy's
    0 and the output was defined (as sympy folds it), while written inline it was refused."""
    assert np.isnan(_values(_numpy_def(_cell(body)), np.array([1.0, 0.0, 0.0, 0.0]))[0])
    with pytest.raises(CellError, match="has no real value for any input"):
        jacobian(f"def f(x):\n{body}")


def test_a_def_printing_a_complex_constant_prints_it_once_as_sympy_writes_it() -> None:
    """sympy's printer asks evalf, which recursed without end on a complex constant while sympy evaluated nothing:
    the first run failed and the def was run again."""
    cell = ("def f(x, v):\n    d = np.log(np.array([-2.0]))[0]\n    c = np.sum(np.array([1.0, 2.0]))\n"
            "    print(d, [c, 2*c], np.array([c, x + x]), v)\n    print(f'{c:.3f} {c!r} {x + x}')\n    return [x*c]\n")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        jacobian(cell, at={"x": 1.0, "v": [1.0, 2.0]})
    assert printed.getvalue() == ("0.693147180559945 + I*pi [3.00000000000000, 6.00000000000000] "
                                  "[3.00000000000000 2*x] [v_1 v_2]\n3.000 3.00000000000000 2*x\n")


def _defined_elsewhere(code: str) -> dict[str, object]:
    """Functions as an earlier cell defines them: compiled under a name of their own, numpy the real one."""
    scope: dict[str, object] = {"np": np}
    exec(compile(code, "<earlier cell>", "exec"), scope)  # noqa: S102 - the test's own code
    return scope


def test_a_function_given_to_jacobian_tests_its_numbers_as_python_does() -> None:
    """Only a def cell's code is rewritten so that its tests see numbers; a function object ran unevaluated too,
    so n == 3 on np.sum(np.array([1, 2])) was False and the slope 7 (numpy's 2), and it printed 'n 1 + 2'."""
    f = _defined_elsewhere("def f(x):\n    n = np.sum(np.array([1, 2]))\n    print('n', n)\n"
                           "    return [2*x if n == 3 else 7*x]\n")["f"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        got = jacobian(f).at(x=0.5)
    assert np.array_equal(got, [[2.0]]) and printed.getvalue() == "n 3\n"


def test_a_helper_from_an_earlier_cell_tests_its_numbers_as_python_does() -> None:
    helpers = _defined_elsewhere("def scale():\n    n = np.sum(np.array([1, 2]))\n    return 2 if n == 3 else 7\n")
    cell = "def f(x):\n    return [scale()*np.exp(np.log(x))]\n"
    result = jacobian(cell, namespace=helpers)
    assert np.array_equal(result.at(x=0.5), [[2.0]]) and np.isnan(result.at(x=-1.0)).all()


def test_a_computed_number_looked_up_inline_is_its_value() -> None:
    """Written where it is used, not assigned: np.sum(...) in (3, 4), d.get(np.sum(...)), isinstance(1 + 2, ...)
    were False or the default silently; v[np.sum(...)], W[n, 0], range(n) failed and ran the def again."""
    cell = ("import sympy as sp\nv: 3\nW: 2x2\ndef f(x, v, W):\n"
            "    k = 2 if np.sum(np.array([1, 2])) in (3, 4) else 7\n"
            "    m = {3: 1.0}.get(np.sum(np.array([1, 2])), 9.0) + {3: 5.0}[np.sum(np.array([1, 2]))]\n"
            "    t = 1 if isinstance(sp.Integer(1) + 2, sp.Integer) else 11\n"
            "    w = v[np.sum(np.array([1, 1]))] + W[np.sum(np.array([1, 0])), 0]\n"
            "    return [(k + m + t + len(range(np.sum(np.array([1, 1])))))*x + w]\n")
    got = jacobian(cell).at(x=0.5, v=[1.0, 2.0, 3.0], W=[[1.0, 2.0], [3.0, 4.0]])
    assert np.array_equal(got, [[2 + 6 + 1 + 2, 0, 0, 1, 0, 0, 1, 0]])
