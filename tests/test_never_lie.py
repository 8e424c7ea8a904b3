"""The reproducers of the never-lie and kernel issues, each by name, and the families they belong to.

Every right answer here is independent of jacmagic: a value from the issue derived by hand, or mpmath's numerical
derivative at 30 digits of the map written with mpmath.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from IPython.core.error import UsageError

from jacmagic import JacmagicError, jacobian
from jacmagic.read.names import display_key

from .conftest import Shell
from .helpers import assert_close, numeric_jacobian


def at(cell: str, point: dict[str, object], **options: object) -> np.ndarray:
    return jacobian(cell, at=point, **options).at(**point)


# (cell, options, point, an independent map written with mpmath over the differentiated variables, the others fixed)
WRONG_NUMBERS = {
    "sigmoid_in_a_denominator": ("f(x, y) = 2*x/sigmoid(y)", {"wrt": "x"}, {"x": 0.3, "y": 0.5},
                                 lambda x: [2 * x * (1 + mpmath.exp(-0.5))]),
    "sigmoid_of_a_constant_divides": ("f(x) = 3*x/sigmoid(2)", {}, {"x": 1.0},
                                      lambda x: [3 * x * (1 + mpmath.exp(-2))]),
    "sigmoid_in_an_exponent": ("f(y) = y*2**sigmoid(3)", {}, {"y": 1.0},
                               lambda y: [y * 2 ** (1 / (1 + mpmath.exp(-3)))]),
    "simplify_full_keeps_values": ("f(v, x) = 100**v*x", {"simplify": "full"}, {"v": 2.0, "x": 1.0},
                                   lambda v, x: [mpmath.power(100, v) * x]),
    "simplify_full_keeps_signs": ("f(y) = sqrt(abs(y))", {"simplify": "full"}, {"y": -1.81},
                                  lambda y: [mpmath.sqrt(abs(y))]),
    "real_cube_root_of_erf": ("f(I) = cbrt(erf(I))", {}, {"I": -0.5259},
                              lambda i: [mpmath.sign(mpmath.erf(i)) * mpmath.cbrt(abs(mpmath.erf(i)))]),
    "real_cube_root": ("f(x) = cbrt(x)", {}, {"x": -8.0}, lambda x: [mpmath.sign(x) * mpmath.cbrt(abs(x))]),
    "abs_of_relu_at_a_negative": ("f(x) = abs(relu(x))", {}, {"x": -1.38}, lambda x: [abs(max(0, x))]),
    "huge_integer_constant": ("f(x) = x*atan(10**20)", {}, {"x": 1.0}, lambda x: [x * mpmath.atan(10**20)]),
    "sign_times_x": ("f(x) = sign(x)*x", {}, {"x": 0.5}, lambda x: [mpmath.sign(x) * x]),
    "sign_of_acos": ("f(x) = sign(acos(x))*x", {}, {"x": 0.5}, lambda x: [mpmath.sign(mpmath.acos(x)) * x]),
    "abs_with_a_constant": ("f(N, a) = (N - a)/abs(N)", {"simplify": "full", "wrt": "N"}, {"N": 1.5, "a": 2.0},
                            lambda n: [(n - 2) / abs(n)]),
    "cancelled_constant_accepted": ("f(rho) = rho - sigma0 + sigma0", {}, {"rho": 1.0, "sigma0": 2.0},
                                    lambda rho: [rho]),
}


@pytest.mark.parametrize("name", WRONG_NUMBERS)
def test_reproducer_gives_the_right_number(name: str) -> None:
    cell, options, point, function = WRONG_NUMBERS[name]
    result = jacobian(cell, at=point, **options)
    want = numeric_jacobian(function, [point[s.name] for s in result.inputs])
    assert_close(result.at(**point), want)


def test_erf_on_arrays_and_a_fractional_power_of_a_negative_value() -> None:
    result = jacobian("f(x) = erf(x)")
    grid = np.linspace(-1, 1, 5)
    assert_close(result.at(x=grid)[:, 0, 0], [2 / math.sqrt(math.pi) * math.exp(-v * v) for v in grid])
    assert np.isnan(at("f(x) = erf(x)**0.5", {"x": -0.5})).all()


@pytest.mark.parametrize(("cell", "point"), [
    ("f(x) = log(x)", {"x": -1.0}),
    ("f(x) = exp(log(x))", {"x": -1.0}),
    ("f(x) = sqrt(x)**2", {"x": -1.0}),
    ("f(x) = (x**2 - 1)/(x - 1)", {"x": 1.0}),
    ("a = sqrt(x)\nb = a**2", {"x": -1.0}),
])
@pytest.mark.parametrize("simplify", ["auto", "full", "none"])
def test_the_maps_own_domain_decides(cell: str, point: dict[str, float], simplify: str) -> None:
    result = jacobian(cell, at=point, simplify=simplify)
    assert np.isnan(result.at(**point)).all()
    assert any("undefined at this point because the map itself is undefined there" in note for note in result.notes)


def test_the_domain_holds_through_a_chain_too() -> None:
    result = jacobian("a = sqrt(x)\nb = a**2", at={"x": -1.0}, chain=True)
    assert np.isnan(result.walkthrough().gradient).all()


def test_chain_name_both_an_input_and_used_later() -> None:
    result = jacobian("g(x) = [x**2]\nh(u) = [u*x]", chain=True, at={"x": 2.0})
    walk = result.walkthrough()
    assert_close(walk.gradient, [[12.0]])
    assert walk.agrees


def test_a_constant_stage_in_a_chain() -> None:
    result = jacobian("t = sigmoid(2)\nL = (x - t)**2", chain=True, at={"x": 1.0})
    want = 2 * (1 - 1 / (1 + math.exp(-2)))
    assert_close(result.walkthrough().gradient, [[want]])


@pytest.mark.parametrize(("cell", "columns"), [
    ("W: 2x2\nw: 12\nL = sum(W*W) + sum(w)", 4 + 12),
    ("H: 2\nh = tanh(H)\nL = sum(h)", 2),
    ("X: 1x2\nx: 12\nL = sum(X) + sum(x)", 2 + 12),
])
def test_entries_of_different_matrices_never_merge(cell: str, columns: int) -> None:
    result = jacobian(cell)
    names = [s.name for s in result.inputs]
    assert len(names) == len(set(names)) == columns


def test_tanh_layer_gradient_is_its_own() -> None:
    result = jacobian("H: 2\nh = tanh(H)\nL = sum(h)", at={"H": [0.3, 0.5]})
    assert_close(result.at(H=[0.3, 0.5]), [[1 - math.tanh(0.3) ** 2, 1 - math.tanh(0.5) ** 2]])


@pytest.mark.parametrize(("cell", "message"), [
    ("W: 2x2\nL = sum(W) + W_1", None),
    ("x: 2\nL = sum(x) + x_1", "entry of x"),
    ("g(x) = [x, x**2]\nh(a, b) = [a + b + g_1]", "output of g"),
    ("f(theta, θ) = theta + θ", "look the same"),
    ("f(x1, x_1) = x1 + x_1", "look the same"),
    ("f(w12, w_12) = w12*w_12", "look the same"),
    ("f(x_, x) = x_ + x", "look the same"),
])
def test_names_that_would_merge_or_look_alike_are_refused(cell: str, message: str | None) -> None:
    if message is None:
        assert len(jacobian(cell).inputs) == 5
        return
    with pytest.raises(JacmagicError, match=message):
        jacobian(cell, chain="h(" in cell)


def test_display_keys() -> None:
    assert display_key("theta") == display_key("θ") and display_key("x1") == display_key("x_1")
    assert display_key("ab_c") != display_key("abc") and display_key("X") != display_key("x")


def test_sympy_symbols_of_one_name_are_refused() -> None:
    x, xr = sp.Symbol("x"), sp.Symbol("x", real=True)
    with pytest.raises(JacmagicError, match="same name"):
        jacobian(sp.Matrix([x * xr, x]))


@pytest.mark.parametrize(("cell", "options", "message"), [
    ("f(x) = x/(2-2)", {}, "division by zero"),
    ("f(x) = 0**x", {}, "0 to a variable power"),
    ("f(x) = x*10**4400", {}, "too large"),
    ("f(x) = log(x, 1)", {}, "divides by zero"),
    ("f(N) = sigmoid(exp(1e20))*N", {}, "too large to compute"),
    ("f(x) = x**2", {"budget": float("nan")}, "--budget"),
    ("f(x) = x**2", {"budget": 0}, "--budget"),
    ("f(x) = x**2", {"budget": -1}, "--budget"),
    ("f(x) = x**2", {"budget": 1e300}, "--budget"),
    ("def f(x):\n    return x // 2", {"at": {"x": 1.0}}, "line 2: the operator // is a step function"),
    ("def f(x):\n    return x % 2", {"at": {"x": 1.0}}, "line 2: the operator % is a step function"),
])
def test_tracebacks_became_clear_errors(cell: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(JacmagicError, match=message):
        jacobian(cell, **options).latex()


def test_abs_of_a_plain_sympy_symbol_evaluates() -> None:
    assert_close(jacobian(sp.Abs(sp.Symbol("x")), at={"x": 1.0}).at(x=-2.0), [[-1.0]])


@pytest.mark.parametrize("value", [sp.Function("g")(sp.Symbol("x")), sp.Integral(sp.Symbol("x") ** 2, sp.Symbol("x"))])
def test_sympy_objects_without_a_formula_are_refused(value: sp.Expr) -> None:
    with pytest.raises(JacmagicError, match="explicit formula"):
        jacobian(value, at={"x": 1.0})


def test_a_namespace_object_that_raises_on_getattr_does_not_break_def_cells() -> None:
    class Hostile:
        def __getattr__(self, name: str) -> object:
            raise RuntimeError(name)

    result = jacobian("def f(x):\n    return x**2", namespace={"hostile": Hostile()})
    assert_close(result.at(x=3.0), [[6.0]])


@pytest.mark.parametrize(("body", "slope"), [("v * 2", 2), ("3 * v", 3), ("v + np.array([1., 2.])", 1),
                                             ("np.exp(v) - np.exp(v) + 2*v", 2)])
def test_numpy_arrays_inside_a_def_are_element_wise(body: str, slope: float) -> None:
    result = jacobian(f"def f(x, y):\n    v = np.array([x, y])\n    return {body}")
    assert_close(result.at(x=0.3, y=0.7), slope * np.eye(2))


def test_np_cbrt_in_a_def_is_the_real_root() -> None:
    assert_close(at("def f(x):\n    return np.cbrt(x)", {"x": -8.0}), [[1 / 12]])


def test_check_does_not_cry_wolf_and_still_catches_a_wrong_jacobian() -> None:
    steep = jacobian("f(lamda, gamma, x2, q) = [(2.75 - q + 1e2 + x2)**4 + tanh(lamda) + gamma]", check=True)
    assert any(note.startswith("check passed") for note in steep.notes)
    from dataclasses import replace

    good = jacobian("f(x, y) = [x*y, sin(x)]", check=True)
    x, y = good.inputs
    # d sin(x)/dx is not sin(x)
    wrong = replace(good.symbolic, eager_matrix=sp.ImmutableMatrix([[y, x], [sp.sin(x), 0]]))
    assert any(note.startswith("check FAILED") for note in wrong.notes)


def test_walkthrough_with_steep_stages_matches() -> None:
    result = jacobian("u = sin(100*y) * x\nv = u**3 + 1000*u\nL = v*x", chain=True, at={"x": 1.3, "y": 0.7})
    assert result.walkthrough().agrees


def test_constants_are_said_with_a_typo_hint() -> None:
    notes = jacobian("f(x, y) = x**2*yy").notes
    assert any("constants" in n and "yy (did you mean y?)" in n for n in notes)


def test_det_on_a_map_that_cannot_be_square_says_so() -> None:
    with pytest.raises(JacmagicError, match="no choice of variables makes it square"):
        jacobian("f(u, v) = [u, v, u*v]", det=True)


def test_walkthrough_lists_only_the_asked_gradients() -> None:
    result = jacobian("z = w*x + b\na = sigmoid(z)\nL = (a - t)**2", chain=True, wrt="w,b")
    walk = result.walkthrough()
    added_to = {name for back in walk.backward for name, product in back.products.items() if np.any(product)}
    assert {"w", "b"} <= added_to and not added_to & {"x", "t"}
    assert set(walk.gradients) == {"w", "b"}
    assert "∂L/∂x" not in str(result) and "∂L/∂t" not in str(result)


def test_panel_reads_huge_values_right() -> None:
    panel = jacobian("f(x, y) = [x*1e300, y]").widget()
    panel.variables["x"].value = 1e8
    assert "singular" not in panel.output.value
    panel.variables["x"].value = 1e308
    slider = panel.variables["x"].slider
    assert all(math.isfinite(v) for v in (slider.min, slider.max, slider.step))


# --- through the magic: pasted input and the session -------------------------------------------------------------

@pytest.mark.parametrize("option", ["--at x=[1, -2]", '--at "x=[1, -2]"', "--at 'x=[1, -2]'", "--at x=[1,-2]"])
def test_pasted_lists_with_negative_numbers(shell: Shell, option: str) -> None:
    result = shell.ok(f"%%jacobian {option}\nx: 2\nL = sum(x*x)").result
    assert_close(result.at(**dict(result.point)), [[2.0, -4.0]])


def test_at_takes_a_notebook_array_and_refuses_other_objects(shell: Shell) -> None:
    shell.ip.user_ns["W0"] = np.array([[1.0, 2.0], [3.0, 4.0]])
    result = shell.ok("%%jacobian --at W=W0\nW: 2x2\nL = sum(W*W)").result
    assert_close(result.at(**dict(result.point)), [[2.0, 4.0, 6.0, 8.0]])
    shell.ip.user_ns["D"] = {"a": 1}
    ran = shell.run("%%jacobian --at W=D\nW: 2x2\nL = sum(W*W)")
    assert type(ran.error) is UsageError and "dict" in str(ran.error)


def test_repeated_options_are_joined(shell: Shell) -> None:
    result = shell.ok("%%jacobian --at x=1 --at y=2 --wrt y --wrt x\nf(x, y) = [x*y**2]").result
    assert [s.name for s in result.inputs] == ["y", "x"] and dict(result.point) == {"x": 1.0, "y": 2.0}


@pytest.mark.parametrize("name", ["__builtins__", "get_ipython", "__name__", "lambda", "_", "_i3", "_42", "print",
                                  "In", "Out", "exit"])
def test_out_refuses_names_the_session_relies_on(shell: Shell, name: str) -> None:
    ran = shell.run(f"%%jacobian --out {name}\nf(x) = [x]")
    assert type(ran.error) is UsageError
    shell.ok("%%jacobian\nf(x) = [x]")  # the next cell runs


def test_out_takes_the_name_python_reads(shell: Shell) -> None:
    shell.ok("%%jacobian --out Ｒ\nf(x) = [x]")
    assert "R" in shell.ip.user_ns and "Ｒ" not in shell.ip.user_ns


def test_out_is_not_bound_when_the_display_fails(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    from jacmagic.panels import widgets

    def broken(result: object) -> list[object]:
        raise RuntimeError("display failed")

    shell.ip.user_ns["kept"] = "before"
    monkeypatch.setattr(widgets, "displays", broken)
    assert shell.run("%%jacobian --out kept\nf(x) = [x]").error is not None
    assert shell.ip.user_ns["kept"] == "before"


@pytest.mark.parametrize("setup", ["L = []\nthing = L.append", "class thing:\n    def __init__(self, x):\n"
                                   "        raise SystemExit", "thing = 'def f(x):\\n    return x'"])
def test_line_magic_calls_only_functions(shell: Shell, setup: str) -> None:
    shell.ok(setup)
    ran = shell.run("%jacobian thing")
    assert type(ran.error) is UsageError and "takes a Python function" in str(ran.error)
    assert shell.ip.user_ns.get("L", []) == []


def test_an_at_point_beyond_a_float_is_refused(shell: Shell) -> None:
    ran = shell.run("%%jacobian --at x=1e309\nf(x) = [x]")
    assert type(ran.error) is UsageError and "too large for a float" in str(ran.error)


def test_partials_are_cut_like_the_rest() -> None:
    result = jacobian("x: 30\nf = x*x", partials=True)
    assert len(result.latex()) < 20_000 and len(str(result)) < 20_000


def test_a_formula_line_may_start_with_the_matrix_product() -> None:
    result = jacobian("W: 2x2\nx: 2\nh = (W\n@ x)\nL = sum(h)")
    assert result.shape == (1, 6)


def _chain_derivative(a: float, lines: int) -> float:
    """d a_n / d a_0 for a_k = sin(a_{k-1}) + a_{k-1}: the product of cos(a_{k-1}) + 1, by the chain rule."""
    product = 1.0
    for _ in range(lines):
        product *= math.cos(a) + 1
        a = math.sin(a) + a
    return product


@pytest.mark.parametrize("chain", [False, True])
def test_long_assignment_chain_goes_stage_by_stage(chain: bool) -> None:
    """35 nested lines are 2**35 nodes written out: estimated before any work, and computed stage by stage."""
    cell = "\n".join(f"a{k} = sin(a{k - 1}) + a{k - 1}" for k in range(1, 36))
    result = jacobian(cell, budget=0.2, chain=chain, at={"a0": 0.3})
    whole = result.symbolic  # the entry-level view (with --chain walked line by line beside it)
    assert whole.eager_matrix is None and any("stage by stage" in n for n in whole.notes)
    for a in (0.3, -1.2, 2.0):
        assert_close(result.at(a0=a), [[_chain_derivative(a, 35)]])
    with pytest.raises(JacmagicError, match="too large to build symbolically"):
        _ = result.matrix


def test_tiny_budgets_leave_no_poisoned_session() -> None:
    cell = "\n".join(f"a{k} = sin(a{k - 1})*a{k - 1} + cos(a{k - 1})" for k in range(1, 14))
    for budget in (0.002, 0.004, 0.008) * 20:
        try:
            jacobian(cell, budget=budget, det=False, simplify="full").latex()
        except JacmagicError:
            pass
    assert_close(jacobian("f(x) = sin(x)").at(x=0.0), [[1.0]])


def test_a_float_beyond_symengines_range_takes_the_sympy_path() -> None:
    """Found by the wide property test: 2**1e20 overflowed symengine's float on the way back to sympy."""
    result = jacobian("f(x, y) = [x*2**1e20 + y]")
    assert_close(result.at(x=1.0, y=2.0)[:, 1], [1.0])
    assert np.isinf(result.at(x=1.0, y=2.0)[0, 0])


def test_a_constant_sympy_cannot_call_real_is_checked_by_its_number() -> None:
    """Found by the wide property test: (sin(1e20))**atan(2) is a negative number to a non-integer power."""
    assert math.sin(1e20) < 0
    result = jacobian("f(x) = x + sin(1e20)**atan(2)", at={"x": 1.0})
    assert np.isnan(result.at(x=1.0)).all()
    assert_close(jacobian("f(x) = x/sinh(2)").at(x=1.0), [[1 / math.sinh(2)]])


# -- softmax and logsumexp far from 0: computed max-shifted, never called undefined where they have a value --------

def _softmax_by_hand(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def test_logsumexp_at_a_thousand_is_a_half_each_not_undefined() -> None:
    result = jacobian("f(x, y) = [logsumexp([x, y])]", at={"x": 1000, "y": 1000})
    assert_close(result.at(x=1000, y=1000), [[0.5, 0.5]])
    assert not any("undefined" in note for note in result.notes)


def test_softmax_near_a_thousand_has_its_jacobian_beside_a_passed_check() -> None:
    point = {"x": 1000.0, "y": 1001.0, "z": 999.0}
    result = jacobian("f(x, y, z) = softmax([x, y, z])", at=point, check=True)
    s = _softmax_by_hand(np.array([1000.0, 1001.0, 999.0]))
    assert_close(result.at(**point), np.diag(s) - np.outer(s, s), rel=1e-9)
    assert not any("undefined" in note for note in result.notes)


# (cell of three inputs or one, the Jacobian by a hand max-shifted numpy formula)
STABLE = {
    "softmax": ("f(x, y, z) = softmax([x, y, z])", lambda z: np.diag(_softmax_by_hand(z))
                - np.outer(_softmax_by_hand(z), _softmax_by_hand(z))),
    "logsumexp": ("f(x, y, z) = [logsumexp([x, y, z])]", lambda z: _softmax_by_hand(z)[None, :]),
    "log_softmax": ("f(x, y, z) = log_softmax([x, y, z])",
                    lambda z: np.eye(3) - np.outer(np.ones(3), _softmax_by_hand(z))),
    "cross_entropy": ("f(x, y, z) = [-log(softmax([x, y, z])[1])]",
                      lambda z: (_softmax_by_hand(z) - np.eye(3)[1])[None, :]),
    "softplus": ("f(x) = [softplus(x)]", lambda z: np.exp(-np.logaddexp(0, -z))[None, :]),
    "sigmoid": ("f(x) = [sigmoid(x)]", lambda z: (np.exp(-np.logaddexp(0, -z)) * np.exp(-np.logaddexp(0, z)))[None, :]),
}


@pytest.mark.parametrize("scale", [1e2, -1e2, 1e3, -1e3, 1e4, -1e4])
@pytest.mark.parametrize("name", STABLE)
def test_stable_functions_at_large_inputs_match_a_hand_stable_formula(name: str, scale: float) -> None:
    cell, by_hand = STABLE[name]
    result = jacobian(cell)
    z = scale + np.array([0.0, 1.0, -0.5])[:len(result.inputs)]
    point = {s.name: float(v) for s, v in zip(result.inputs, z)}
    assert_close(result.at(**point), by_hand(z), rel=1e-9)
    if len(result.inputs) == 3:  # the same at the array level
        array_cell = "z: 3\n" + {"softmax": "s = softmax(z)", "logsumexp": "L = logsumexp(z)",
                                 "log_softmax": "s = log_softmax(z)",
                                 "cross_entropy": "L = -log(softmax(z)[1])"}[name]
        assert_close(jacobian(array_cell, chain=True).at(z=z), by_hand(z), rel=1e-9)
