"""Derivatives and determinants, against hand-derived textbook results and independent numeric derivatives."""

from __future__ import annotations

import time
from typing import Any

import mpmath
import numpy as np
import pytest
import symengine as se
import sympy as sp
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from jacmagic import jacobian as compute
from jacmagic.budget import Budget
from jacmagic.chain import canonical
from jacmagic.chain.calculus import (
    _to_symengine_known,
    determinant,
    from_entries,
    jacobian,
    symengine_safe,
    tidy,
    tidy_matrix,
)
from jacmagic.chain.functions import relu, sigmoid, softplus
from jacmagic.model import symbols_in

from .helpers import assert_close

r, theta, phi, x, y, z = sp.symbols("r theta phi x y z", real=True)


def test_polar_determinant_is_r() -> None:
    J = jacobian([r * sp.cos(theta), r * sp.sin(theta)], [r, theta])
    assert J == sp.Matrix([[sp.cos(theta), -r * sp.sin(theta)], [sp.sin(theta), r * sp.cos(theta)]])
    assert tidy(determinant(J, Budget(2)), Budget(2)) == r


def test_spherical_determinant_is_r_squared_sin_theta() -> None:
    xyz = [r * sp.sin(theta) * sp.cos(phi), r * sp.sin(theta) * sp.sin(phi), r * sp.cos(theta)]
    det = determinant(jacobian(xyz, [r, theta, phi]), Budget(2))
    assert tidy(det, Budget(5)) == r**2 * sp.sin(theta)  # simplify takes 0.3 s at load 3.5 on 2 cores: 15x


UNARY = [sp.sin, sp.cos, sp.tan, sp.sec, sp.csc, sp.asin, sp.acos, sp.atan, sp.sinh, sp.cosh, sp.tanh,
         sp.asinh, sp.atanh, sp.exp, sp.log, sp.erf, sp.sqrt]


def expressions() -> st.SearchStrategy[sp.Expr]:
    leaves = st.sampled_from([x, y, z, sp.Integer(2), sp.Rational(1, 3), sp.pi])

    def extend(children: st.SearchStrategy[sp.Expr]) -> st.SearchStrategy[sp.Expr]:
        return st.one_of(
            st.builds(lambda f, a: f(a), st.sampled_from(UNARY), children),
            st.builds(lambda a, b: a + b, children, children),
            st.builds(lambda a, b: a * b, children, children),
            st.builds(lambda a, k: a**k, children, st.sampled_from([2, 3, -1, sp.Rational(1, 2)])),
        )

    return st.recursive(leaves, extend, max_leaves=8)


@settings(max_examples=60, deadline=None)
@given(st.lists(expressions(), min_size=1, max_size=3))
def test_symengine_and_sympy_paths_agree(outputs: list[sp.Expr]) -> None:
    """The same derivatives, up to how factors are grouped: 2*(tan(x)**2 + 1)*tan(x) vs (2*tan(x)**2 + 2)*tan(x)."""
    assume(symengine_safe(outputs))  # e.g. sqrt(-3) is imaginary: not a real map
    fast = jacobian(outputs, [x, y, z], use_symengine=True)
    slow = jacobian(outputs, [x, y, z], use_symengine=False)
    assert fast.free_symbols <= {x, y, z} and all(s.is_real for s in fast.free_symbols)
    difference = (fast - slow).expand()
    if difference != sp.zeros(*fast.shape):  # e.g. y/(2*sqrt(x*y)) vs sqrt(x*y)/(2*x): equal, not alike
        for point in [(0.7, 1.3, 0.4), (1.9, 0.6, 1.1)]:
            at = dict(zip((x, y, z), point))
            gaps = [complex(d.evalf(30, subs=at)) for d in difference]
            sizes = [complex(e.evalf(30, subs=at)) for e in slow]
            assert all(abs(g) < 1e-9 * (1 + abs(s)) for g, s in zip(gaps, sizes))


def scaled_expressions() -> st.SearchStrategy[sp.Expr]:
    """The family above, some of it times a float or a rational, some of it a sum with a number."""
    numbers = st.sampled_from([2.5, 1e-3, -1.0, sp.Rational(-2, 3), sp.Integer(4)])
    return st.one_of(expressions(), st.builds(lambda e, c: c * e, expressions(), numbers),
                     st.builds(lambda e, c: c + e, expressions(), numbers))


@settings(max_examples=150, deadline=None)
@given(st.lists(scaled_expressions(), min_size=1, max_size=3))
@example([sp.sqrt(1 / x) * sp.atan(x) - 1.0])  # symengine writes sqrt(1/x) as x**(-1/2): rebuilt, not taken back
@example([x * sp.sqrt(1 / x), sp.exp(sp.log(y) + x) * sp.sin(z)])
def test_the_way_back_from_symengine_builds_what_sympys_evaluation_builds(outputs: list[sp.Expr]) -> None:
    """The way back reuses the map's own sympy parts (sin(x), exp(x/10)) and builds sums and products straight
    in canonical order where nothing combines (issue 27): the symengine forms are those symengine's own
    conversion gives, and every derivative equals, as a sympy object, symengine's own conversion (sympy's
    evaluation of every node), so that what is shown never changes."""
    assume(symengine_safe(outputs))
    converted, _, symbols = _to_symengine_known(outputs)
    assert converted == [se.sympify(o) for o in outputs]
    assert symbols == symbols_in(outputs)
    variables = [x, y, z]
    real = {se.Symbol(v.name)._sympy_(): v for v in variables}
    evaluated = {(i, j): se.sympify(o).diff(se.Symbol(v.name))._sympy_().xreplace(real)
                 for i, o in enumerate(outputs) for j, v in enumerate(variables)}
    # placed in a matrix the same way: sympy's matrix constructors may rewrite an entry (1/(2*sqrt(x)) becomes
    # sqrt(1/x)/2 in one of them, not in the other)
    expected = from_entries(len(outputs), len(variables), {k: e for k, e in evaluated.items() if e != 0})
    assert jacobian(outputs, variables, use_symengine=True) == expected


FACTORS = [(2, x), (x, y), (-1, x, sp.sin(y)), (sp.Rational(1, 3), x**2, sp.exp(y)), (x, x**2), (sp.exp(x),) * 2,
           (sp.exp(x), sp.exp(y)), (sp.exp(x), sp.E), (2, x + y), (-1, (x + y)**2), (x + 1, y + 2), (x + 1, (x + 1)**2),
           (2, sp.sqrt(2), x), (sp.sqrt(2), x), (sp.sin(x), sp.sin(x)**-1), (2.5, x), (x**y, y), (x**y, x), (0, x),
           (1, x), (sp.Integer(2)**sp.Rational(1, 3), x), ((x * y)**sp.Rational(1, 2), x), (x, y, z, sp.cos(x)),
           (sp.Rational(1, 10), sp.exp(x / 10)), (-2, sp.exp(x), sp.sin(y)), (sp.exp(x), sp.E**y), (sp.exp(x), x**sp.E),
           (2 * x, y), (x * y, 3 * z), (-x, -y), (2 * x, x), (x * y, x + 1), (sp.sin(x), 2 * x * y)]
TERMS = [(x, 2 * x), (2 * x, 3 * x * y), (1, x, 2), (0, x), (x, -x), (3, 2 * (x + y)), (x + y, z), (sp.sqrt(2), x),
         (sp.Integer(2)**-1 * x, y), (2.5, x), (sp.pi, 1, x), (x * sp.sin(y), -x * sp.sin(y) / 3, z), (x**2, x, 7),
         (x + y, z + 1), (x + y, -x), (2, x + 1), (x + 2 * y, 3 * y + z)]


@pytest.mark.parametrize("args", FACTORS + TERMS)
def test_canonical_sums_and_products_equal_sympys_evaluation(args: tuple[Any, ...]) -> None:
    """Each shortcut against sympy's own evaluation, where it applies and where it must step aside (two factors
    of one base, a number times a sum, like terms, two numbers), in both orders."""
    args = tuple(sp.sympify(a) for a in args)
    for ordered in (args, args[::-1]):
        assert canonical.product(*ordered) == sp.Mul(*args)
        assert canonical.total(*ordered) == sp.Add(*args)


def test_symengine_and_sympy_paths_are_identical_on_common_maps() -> None:
    maps = [[r * sp.cos(theta), r * sp.sin(theta)], [x**2 * y, 5 * x + sp.sin(y)], [sp.exp(x * z) + x * y * z],
            [sp.sinh(x) * sp.log(y), sp.atan(x / y), sp.sqrt(x**2 + y**2)]]
    for outputs in maps:
        variables = sorted(set().union(*(o.free_symbols for o in outputs)), key=str)
        assert jacobian(outputs, variables, use_symengine=True) == jacobian(outputs, variables, use_symengine=False)


def test_activations_take_the_sympy_path_and_differentiate_correctly() -> None:
    outputs = [sigmoid(x * y), relu(x - y), softplus(z)]
    assert not symengine_safe(outputs)
    J = jacobian(outputs, [x, y, z])
    s = sigmoid(x * y)
    assert sp.simplify(J[0, 0] - y * s * (1 - s)) == 0
    assert J[1, 0] == sp.Heaviside(x - y, 0)
    assert J[1, 1] == -sp.Heaviside(x - y, 0)
    assert J[2, 2] == sigmoid(z)


@pytest.mark.parametrize("expression", [sp.Abs(x), sp.sign(x), sp.cot(x), sp.acosh(x), sp.atan2(x, y)])
def test_functions_symengine_gets_wrong_or_different_are_kept_on_sympy(expression: sp.Expr) -> None:
    assert not symengine_safe([expression])


def test_big_determinant_is_not_expanded() -> None:
    n = 9
    M = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"a{i}{j}", real=True))
    assert determinant(M, Budget(2)) is None


def test_budget_falls_back_to_what_we_had() -> None:
    slow = sum(sp.sin(x + k * y) ** 3 * sp.cos(x - k * y) ** 2 for k in range(25))
    budget = Budget(0.2)
    start = time.monotonic()
    assert tidy(slow, budget) == slow
    assert time.monotonic() - start < 5  # 0.2 s at load 3.5 on 2 cores (the budget itself): 25x
    assert budget.exceeded


def test_tidy_matrix_simplifies_entries_until_the_budget_runs_out() -> None:
    messy = sp.ImmutableMatrix([[sp.sin(x) ** 2 + sp.cos(x) ** 2, x]])
    assert tidy_matrix(messy, Budget(2)) == sp.ImmutableMatrix([[1, x]])
    assert tidy_matrix(messy, Budget(0.0001)) == messy


# --- the Hessian: the Jacobian of the gradient ---------------------------------------------------------------

HESSIAN_CASES = [
    ("x**2*y + sin(x*z) + exp(y)*z", lambda x, y, z: x**2 * y + mpmath.sin(x * z) + mpmath.exp(y) * z),
    ("tanh(x - y)*z**3 + sqrt(1 + x**2)", lambda x, y, z: mpmath.tanh(x - y) * z**3 + mpmath.sqrt(1 + x**2)),
    ("log(1 + x**2 + y**2)/(2 + z**2)", lambda x, y, z: mpmath.log(1 + x**2 + y**2) / (2 + z**2)),
]


@pytest.mark.parametrize("formula, reference", HESSIAN_CASES, ids=[c[0] for c in HESSIAN_CASES])
def test_hessian_equals_sympys_and_second_differences(formula: str, reference: Any) -> None:
    from jacmagic import jacobian

    result = jacobian(f"f(x, y, z) = {formula}", hessian=True)
    x, y, z = result.inputs
    assert sp.simplify(result.hessian - sp.hessian(result.expressions[0], (x, y, z))) == sp.zeros(3, 3)
    assert result.symbolic.hessians_symmetric
    for point in ([0.3, -0.7, 1.1], [-1.2, 0.4, 0.25]):
        want = np.array([[float(mpmath.diff(reference, point, tuple(int(k in (j, i)) + int(k == j == i)
                                                                     for k in range(3))))
                          for j in range(3)] for i in range(3)])
        assert_close(result.hessian_at(**dict(zip("xyz", point)))[0], want, rel=1e-8)


def test_a_vector_map_has_one_hessian_per_output() -> None:
    from jacmagic import jacobian

    result = jacobian("f(x, y) = [x*y, x**3, log(y)]", hessian=True)
    assert isinstance(result.hessian, tuple) and len(result.hessian) == 3
    at = result.hessian_at(x=2.0, y=-1.0)
    assert at.shape == (3, 2, 2)
    assert_close(at[0], [[0, 1], [1, 0]])
    assert_close(at[1], [[12, 0], [0, 0]])
    assert np.isnan(at[2]).all()  # log(y) is undefined at y = -1: so is its Hessian


def test_the_hessian_is_asked_for_and_needs_a_map_small_enough_to_write_out() -> None:
    from jacmagic import jacobian
    from jacmagic.errors import OptionError

    with pytest.raises(OptionError, match="--hessian"):
        _ = jacobian("f(x) = x**3").hessian
    chain = "\n".join(f"a{k} = sin(a{k - 1}) + a{k - 1}" for k in range(1, 36))
    with pytest.raises(OptionError, match="--hessian needs the Jacobian written out"):
        jacobian(chain, hessian=True)


# Textbook critical points: (Hessian, what it reads); the map times 10^k reads the same at any k.
CRITICAL = [
    (lambda x, y: x**2 + y**2, "local minimum"),
    (lambda x, y: -(x**2) - y**2, "local maximum"),
    (lambda x, y: x**2 - y**2, "saddle"),
    (lambda x, y: x * y, "saddle"),
    (lambda x, y: x**4 + y**2, "inconclusive"),
]


@pytest.mark.parametrize(("form", "reading"), CRITICAL)
@pytest.mark.parametrize("k", range(-12, 13, 4))
def test_the_hessians_reading_does_not_depend_on_scale(form: Any, reading: str, k: int) -> None:
    """1e-10*(x^2 + y^2) at 0 was read "inconclusive: an eigenvalue is 0" (eigenvalues 2e-10 against an
    absolute 1e-9): eigenvalues are judged against the largest, the gradient against the Hessian times the
    point's scale."""
    c = 10.0**k
    xs, ys = sp.symbols("x y", real=True)
    cell = f"f(x, y) = {sp.sstr(c * form(xs, ys))}"
    said = str(compute(cell, hessian=True, at={"x": 0.0, "y": 0.0}))
    assert f"a critical point: a {reading}" in said or f"a critical point, and {reading}" in said


@pytest.mark.parametrize("k", range(-12, 1, 3))
def test_a_point_near_zero_is_not_critical_just_for_being_small(k: int) -> None:
    """x*y at (1e-10, 0) was called a critical point: its gradient (0, 1e-10) is as large as the Hessian moves it
    across the point's scale. x^2 at 10^k likewise."""
    for cell, at in (("f(x, y) = x*y", {"x": 10.0**k, "y": 0.0}), ("f(x, y) = x**2 + y**2", {"x": 10.0**k, "y": 0.0})):
        said = str(compute(cell, hessian=True, at=at))
        assert "not a critical point" in said, (cell, at)
