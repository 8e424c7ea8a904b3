"""The forms shown: a Hessian's mixed partials printed alike and its symmetry checked without expanding a long
power, and the textbook determinants of the classic coordinate changes. Every form is checked against central
differences of the map written in numpy here, never against the program's own strings."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from jacmagic import jacobian
from jacmagic.__main__ import cell_lines
from jacmagic.chain import calculus, polynomials

from .helpers import assert_close, run_isolated

Numeric = Callable[..., float]


# -- a Hessian's symmetry is checked without expanding what would take hours -----------------------------------------

_LONG_SUM = " + ".join(f"x{i}" for i in range(28)) + " + x + y"


def test_a_hessians_symmetry_of_a_power_of_a_long_sum_is_checked_in_seconds_not_expanded() -> None:
    """d^2/dxdy of (x0 + ... + x27 + x + y)**20 * atan2(y, x), differentiated in the two orders, come out in two
    forms with 380*S**18 in them: proving them the same polynomial expanded S**18 into about 10^12 terms (no
    answer in a minute; the old `is_symmetric` ran outside any budget). Idle run: 0.3 s each."""
    code = f"""if True:
        import json, time
        import sympy as sp
        from jacmagic import jacobian
        from jacmagic.chain import calculus
        names = sp.symbols("{_LONG_SUM.replace(' + ', ' ')}", real=True)
        x, y = names[-2:]
        f = sp.Add(*names) ** 20 * sp.atan2(y, x)
        raw = calculus.jacobian(list(calculus.jacobian([f], [x, y])), [x, y])
        start = time.perf_counter()
        raw_symmetric = calculus.is_symmetric(raw)
        raw_seconds = time.perf_counter() - start
        result = jacobian("f(x, y) = [({_LONG_SUM})**20 * atan2(y, x)]", hessian=True, wrt="x, y")
        text = " ".join(str(result).split())  # its continued lines joined
        print(json.dumps([raw[0, 1] != raw[1, 0], raw_symmetric, raw_seconds, result.whole.hessians_symmetric,
                          "symmetric: the mixed partials agree" in text]))
    """
    differing, raw_symmetric, seconds, symmetric, said = run_isolated(code, timeout=240)
    assert differing, "the two orders must come out in different forms for this test to mean anything"
    assert raw_symmetric and symmetric and said
    assert seconds < 10  # idle: 0.2 s


def _long_power() -> sp.Expr:
    return sp.Add(*sp.symbols("a0:30")) ** 18


@pytest.mark.parametrize("expression", [
    sp.Symbol("x") + 1, (sp.Symbol("x") + sp.Symbol("y")) ** 5, sp.sin(sp.Symbol("x") + 1) ** 3 * (sp.Symbol("y") + 2),
    (sp.Symbol("x") + sp.Symbol("y") + 1) ** 3 * (sp.Symbol("x") - 2) ** 2, 1 / (sp.Symbol("x") + sp.Symbol("y")) ** 3,
    (sp.Symbol("x") * sp.Symbol("y") + sp.Symbol("z") ** 2 + 1) ** 4 - sp.Symbol("x") ** 7,
])
def test_the_expansion_estimate_is_never_below_the_terms_sympy_gets(expression: sp.Expr) -> None:
    assert polynomials.expanded_terms(expression) >= len(sp.Add.make_args(sp.expand(expression)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sp.symbols("x y z")), min_size=1, max_size=4), st.integers(1, 6),
       st.integers(-3, 3))
def test_the_expansion_estimate_bounds_a_generated_power_of_a_sum(terms: list[sp.Symbol], power: int,
                                                                   shift: int) -> None:
    expression = (sp.Add(*terms) + shift) ** power * (terms[0] - 1)
    assert polynomials.expanded_terms(expression) >= len(sp.Add.make_args(sp.expand(expression)))


def test_a_pair_too_long_to_expand_is_not_proved_a_polynomial_but_compared_at_points() -> None:
    s = _long_power()
    assert polynomials.expanded_terms(s) > polynomials.MAX_EXPANDED
    assert not polynomials.same_polynomial(s, s)  # not proved: the sample points decide, as for any unproved pair


# -- mixed partials printed alike ---------------------------------------------------------------------------------


def _second_differences(function: Numeric, point: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """d^2 function / dx_j dx_k by central differences, written here."""
    n = point.size
    steps = np.eye(n) * h
    return np.array([[(function(*(point + steps[j] + steps[k])) - function(*(point + steps[j] - steps[k])) -
                       function(*(point - steps[j] + steps[k])) + function(*(point - steps[j] - steps[k])))
                      / (4 * h * h) for k in range(n)] for j in range(n)])


def _assert_mirrored_and_right(cell: str, names: str, function: Numeric, seed: int) -> None:
    """The shown Hessian equals its transpose entry by entry as sympy objects, and central second differences
    at random points."""
    hessian = jacobian(cell, hessian=True, wrt=names.replace(" ", ", ")).hessian
    assert isinstance(hessian, sp.MatrixBase)
    n = hessian.rows
    for j in range(n):
        for k in range(n):
            assert sp.srepr(hessian[j, k]) == sp.srepr(hessian[k, j]), (j, k, hessian[j, k], hessian[k, j])
    symbols = sp.symbols(names, real=True)
    rng = np.random.default_rng(seed)
    for point in rng.uniform(0.4, 1.4, (3, n)):
        shown = np.array(hessian.subs(dict(zip(symbols, point))).evalf(), dtype=float)
        assert_close(shown, _second_differences(function, point), rel=2e-4)


def test_the_mixed_partials_of_atan2_are_printed_in_one_form() -> None:
    """atan2(y, x): d^2/dxdy and d^2/dydx came out as 2*y**2/(x**2 + y**2)**2 - 1/(x**2 + y**2) and
    1/(x**2 + y**2) - 2*x**2/(x**2 + y**2)**2 beside "symmetric: checked"."""
    _assert_mirrored_and_right("f(x, y) = [atan2(y, x)]", "x y", lambda x, y: math.atan2(y, x), 0)


# Pieces of generated maps: (the cell's text with {} for the arguments, the same in numpy), defined on (0.4, 1.4).
_ONE = [("sin({})", np.sin), ("exp({})", np.exp), ("log(1 + ({})**2)", lambda u: np.log(1 + u**2)),
        ("sqrt(1 + ({})**2)", lambda u: np.sqrt(1 + u**2)), ("tanh({})", np.tanh), ("atan({})", np.arctan)]
_TWO = [("({})*({})", lambda u, v: u * v), ("({}) + ({})", lambda u, v: u + v),
        ("({})/(1 + ({})**2)", lambda u, v: u / (1 + v**2)), ("atan2({}, {})", np.arctan2),
        ("hypot({}, {})", np.hypot), ("({})**2*({})", lambda u, v: u**2 * v)]

Piece = tuple[str, Callable[..., float]]


def _argument(k: int) -> Callable[..., float]:
    return lambda *p: p[k]


def _one(piece: Piece, inner: Piece) -> Piece:
    (text, f), (argument, g) = piece, inner
    return text.format(argument), lambda *p: f(g(*p))


def _two(piece: Piece, left: Piece, right: Piece) -> Piece:
    (text, f), (first, g), (second, h) = piece, left, right
    return text.format(first, second), lambda *p: f(g(*p), h(*p))


def _pieces(names: tuple[str, ...]) -> st.SearchStrategy[Piece]:
    leaves = st.sampled_from([(name, _argument(k)) for k, name in enumerate(names)])

    def extend(inner: st.SearchStrategy[Piece]) -> st.SearchStrategy[Piece]:
        return st.builds(_one, st.sampled_from(_ONE), inner) | st.builds(_two, st.sampled_from(_TWO), inner, inner)
    return st.recursive(leaves, extend, max_leaves=4)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([("x", "y"), ("x", "y", "z")]).flatmap(lambda names: st.tuples(st.just(names),
                                                                                      _pieces(names))))
def test_a_generated_maps_hessian_is_its_own_transpose_as_written_and_matches_second_differences(
        case: tuple[tuple[str, ...], Piece]) -> None:
    names, (text, function) = case
    _assert_mirrored_and_right(f"f({', '.join(names)}) = [{text}]", " ".join(names), function, len(text))


# -- textbook determinants of the classic coordinate changes -----------------------------------------------------

# (name, cell, variables, the map in numpy, the textbook determinant in those variables)
COORDINATES: list[tuple[str, str, str, Callable[..., list[float]], str]] = [
    ("polar", "x = r*cos(t); y = r*sin(t)", "r t", lambda r, t: [r * np.cos(t), r * np.sin(t)], "r"),
    ("cylindrical", "x = r*cos(t); y = r*sin(t); w = z", "r t z",
     lambda r, t, z: [r * np.cos(t), r * np.sin(t), z], "r"),
    ("spherical", "x = r*sin(t)*cos(p); y = r*sin(t)*sin(p); z = r*cos(t)", "r t p",
     lambda r, t, p: [r * np.sin(t) * np.cos(p), r * np.sin(t) * np.sin(p), r * np.cos(t)], "r**2*sin(t)"),
    ("elliptic", "x = a*cosh(mu)*cos(nu); y = a*sinh(mu)*sin(nu)", "mu nu",
     lambda mu, nu: [1.7 * np.cosh(mu) * np.cos(nu), 1.7 * np.sinh(mu) * np.sin(nu)],
     "a**2*(sinh(mu)**2 + sin(nu)**2)"),
    ("elliptic cylindrical", "x = a*cosh(mu)*cos(nu); y = a*sinh(mu)*sin(nu); w = z", "mu nu z",
     lambda mu, nu, z: [1.7 * np.cosh(mu) * np.cos(nu), 1.7 * np.sinh(mu) * np.sin(nu), z],
     "a**2*(sinh(mu)**2 + sin(nu)**2)"),
    ("prolate spheroidal", "x = a*sinh(mu)*sin(nu)*cos(p); y = a*sinh(mu)*sin(nu)*sin(p); z = a*cosh(mu)*cos(nu)",
     "mu nu p", lambda mu, nu, p: [1.7 * np.sinh(mu) * np.sin(nu) * np.cos(p),
                                   1.7 * np.sinh(mu) * np.sin(nu) * np.sin(p), 1.7 * np.cosh(mu) * np.cos(nu)],
     "a**3*sinh(mu)*sin(nu)*(sinh(mu)**2 + sin(nu)**2)"),
    ("parabolic", "x = s*t; y = (t**2 - s**2)/2", "s t", lambda s, t: [s * t, (t**2 - s**2) / 2], "s**2 + t**2"),
    ("log-polar", "x = exp(rho)*cos(t); y = exp(rho)*sin(t)", "rho t",
     lambda rho, t: [np.exp(rho) * np.cos(t), np.exp(rho) * np.sin(t)], "exp(2*rho)"),
    ("bipolar", "x = a*sinh(t)/(cosh(t) - cos(s)); y = a*sin(s)/(cosh(t) - cos(s))", "s t",
     lambda s, t: [1.7 * np.sinh(t) / (np.cosh(t) - np.cos(s)), 1.7 * np.sin(s) / (np.cosh(t) - np.cos(s))],
     "a**2/(cosh(t) - cos(s))**2"),
]


def _central_det(function: Callable[..., list[float]], point: np.ndarray, h: float = 1e-6) -> float:
    columns = [(np.array(function(*(point + h * e))) - np.array(function(*(point - h * e)))) / (2 * h)
               for e in np.eye(len(point))]
    return float(np.linalg.det(np.column_stack(columns)))


@pytest.mark.parametrize(("name", "cell", "names", "numeric", "textbook"), COORDINATES, ids=[c[0] for c in COORDINATES])
def test_a_classic_coordinate_changes_determinant_is_right_and_no_longer_than_the_textbooks(
        name: str, cell: str, names: str, numeric: Callable[..., list[float]], textbook: str) -> None:
    shown = jacobian(cell_lines(cell), det=True, wrt=names.replace(" ", ", ")).det
    assert isinstance(shown, sp.Expr)
    variables = sp.symbols(names, real=True)
    scope = {s.name: s for s in (*variables, sp.Symbol("a", real=True))}
    written = sp.sympify(textbook, locals=scope)
    assert sp.count_ops(shown) <= sp.count_ops(written), (shown, written)
    rng = np.random.default_rng(3)
    for point in rng.uniform(0.3, 1.4, (5, len(variables))):
        at = {**dict(zip(variables, point)), scope["a"]: 1.7}
        got = float(shown.subs(at))
        assert_close(got, _central_det(numeric, point), rel=1e-5)
        assert_close(abs(got), abs(float(written.subs(at))), rel=1e-9)  # the order of the variables gives the sign


def test_the_elliptic_determinant_is_shown_in_its_textbook_form() -> None:
    """Simplify leaves a^2*(sin(nu)^2*cosh(mu)^2 + cos(nu)^2*sinh(mu)^2); a textbook writes
    a^2*(sinh(mu)^2 + sin(nu)^2), which is what is shown."""
    shown = jacobian("x = a*cosh(mu)*cos(nu)\ny = a*sinh(mu)*sin(nu)", det=True, wrt="mu, nu").det
    a, mu, nu = sp.symbols("a mu nu", real=True)
    assert shown == a**2 * (sp.sinh(mu) ** 2 + sp.sin(nu) ** 2)


@pytest.mark.parametrize("cell", ["f(x, y) = [x**2*y, 5*x + sin(y)]", "x = r*cos(t)\ny = r*sin(t)",
                                  "x = r*sin(t)*cos(p)\ny = r*sin(t)*sin(p)\nz = r*cos(t)"])
def test_a_determinant_with_no_square_of_sin_or_cosh_left_is_not_rewritten(cell: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The common cases pay nothing for the rewriting: it is tried only where simplify left such squares."""
    tried: list[sp.Expr] = []
    monkeypatch.setattr(calculus, "pythagorean", lambda expression, way: tried.append(expression) or expression)
    assert jacobian(cell, det=True).det is not None
    assert tried == []


def test_a_mixed_partial_written_zero_on_one_side_is_written_zero_on_both() -> None:
    """atan2(x, x*y) is atan2(1, y) up to sign, so its mixed partial is 0: written 0 one way and as a quotient that
    cancels the other, the pair was left unmirrored (only nonzero upper entries were looked at; hypothesis found
    it). The second difference of the function itself says 0."""
    hessian = jacobian("f(x, y) = [atan2(x, (x)*(y))]", hessian=True, wrt="x, y").hessian
    assert isinstance(hessian, sp.MatrixBase)
    assert hessian[0, 1] == hessian[1, 0] == 0
    f, h = (lambda x, y: np.arctan2(x, x * y)), 1e-4
    x, y = 1.3, 0.7
    mixed = (f(x + h, y + h) - f(x + h, y - h) - f(x - h, y + h) + f(x - h, y - h)) / (4 * h * h)
    assert abs(mixed) < 1e-6
