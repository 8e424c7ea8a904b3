"""Every line a layer cell may hold is covered at array level (issue 23): sign, heaviside, step, atan2, hypot, a
power with a variable exponent, if-expressions and every condition where() takes, in layer lines and in numpy defs.
Gradients are checked against central differences of numpy written here, never against jacmagic's own output."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from jacmagic.chain.functions import KNOWN_FUNCTIONS
from jacmagic.errors import CellError
from jacmagic.model import Options
from jacmagic.pipeline import compute
from jacmagic.read.network import COVERED
from jacmagic.result import JacobianResult
from tests.helpers import assert_close

RNG = np.random.default_rng(23)
Arrays = dict[str, np.ndarray]


def _heaviside(z: np.ndarray) -> np.ndarray:
    return np.heaviside(z, 0.0)


# line, its value in numpy, how each input is drawn (away from kinks, jumps and a power's negative base)
def _away(n: tuple[int, ...]) -> np.ndarray:
    return RNG.uniform(0.2, 2.0, n) * RNG.choice([-1, 1], n)


def _positive(n: tuple[int, ...]) -> np.ndarray:
    return RNG.uniform(0.3, 2.0, n)


CASES: list[tuple[str, Callable[[Arrays], np.ndarray], Callable[[tuple[int, ...]], np.ndarray]]] = [
    ("sign(x) * z + x", lambda a: np.sign(a["x"]) * a["z"] + a["x"], _away),
    ("heaviside(x) * z + x * z", lambda a: _heaviside(a["x"]) * a["z"] + a["x"] * a["z"], _away),
    ("step(x - z) * x", lambda a: _heaviside(a["x"] - a["z"]) * a["x"], _away),
    ("atan2(z, x)", lambda a: np.arctan2(a["z"], a["x"]), _away),
    ("arctan2(x, 2) + z", lambda a: np.arctan2(a["x"], 2.0) + a["z"], _away),
    ("atan2(1, x * z)", lambda a: np.arctan2(1.0, a["x"] * a["z"]), _away),
    ("hypot(x, z)", lambda a: np.hypot(a["x"], a["z"]), _away),
    ("hypot(3, x) * z", lambda a: np.hypot(3.0, a["x"]) * a["z"], _away),
    ("x ** z", lambda a: a["x"] ** a["z"], _positive),
    ("2 ** x + z", lambda a: 2.0 ** a["x"] + a["z"], _positive),
    ("x ** (z + 1)", lambda a: a["x"] ** (a["z"] + 1), _positive),
    ("x ** sum(z)", lambda a: a["x"] ** np.sum(a["z"]), _positive),
    ("x if x > z else 2 * z", lambda a: np.where(a["x"] > a["z"], a["x"], 2 * a["z"]), _away),
    ("where(0.5 < x < 1.5, x * x, z)", lambda a: np.where((0.5 < a["x"]) & (a["x"] < 1.5), a["x"] ** 2, a["z"]),
     _away),
    ("where((x > 0) & (z < 0), x, z)", lambda a: np.where((a["x"] > 0) & (a["z"] < 0), a["x"], a["z"]), _away),
    ("where(x > 0 or z > 0, x * z, z)", lambda a: np.where((a["x"] > 0) | (a["z"] > 0), a["x"] * a["z"], a["z"]),
     _away),
    ("where(not x > 0, x, 3 * z)", lambda a: np.where(~(a["x"] > 0), a["x"], 3 * a["z"]), _away),
    ("where(x != z, x, z)", lambda a: np.where(a["x"] != a["z"], a["x"], a["z"]), _away),
    ("log(x, 2) * z", lambda a: np.log2(a["x"]) * a["z"], _positive),
    ("max(x, z, 1)", lambda a: np.maximum(np.maximum(a["x"], a["z"]), 1.0), _away),
    ("x ** 2 ** 2 - z", lambda a: a["x"] ** 4 - a["z"], _away),
]


def _cell(line: str, x: str = "3", z: str = "3") -> str:
    return f"x: {x}\nz: {z}\ny = {line}\nL = sum(y * y)"


def _loss(value: Callable[[Arrays], np.ndarray], arrays: Arrays) -> float:
    return float(np.sum(value(arrays) ** 2))


def _central(value: Callable[[Arrays], np.ndarray], arrays: Arrays, name: str, h: float = 1e-6) -> np.ndarray:
    gradient = np.zeros_like(arrays[name])
    for k in range(arrays[name].size):
        moved = []
        for sign in (1, -1):
            shifted = {n: a.copy() for n, a in arrays.items()}
            shifted[name].reshape(-1)[k] += sign * h
            moved.append(_loss(value, shifted))
        gradient.reshape(-1)[k] = (moved[0] - moved[1]) / (2 * h)
    return gradient


def _checked(cell: str, value: Callable[[Arrays], np.ndarray], arrays: Arrays) -> JacobianResult:
    result = compute(cell, Options(chain=True, at=tuple(arrays.items())))
    assert isinstance(result, JacobianResult)
    gradients = result.gradient()
    for name in result.wrt:
        assert_close(np.reshape(gradients[name], arrays[name].shape), _central(value, arrays, name), rel=1e-5)
    row = np.concatenate([np.ravel(gradients[name]) for name in result.wrt])
    assert_close(result.at().ravel(), row, rel=1e-9)
    assert result.walkthrough().check.agrees
    assert str(result) and result.latex()
    return result


@pytest.mark.parametrize(("line", "value", "draw"), CASES, ids=[case[0] for case in CASES])
def test_each_new_operation_has_the_gradient_of_central_differences(
        line: str, value: Callable[[Arrays], np.ndarray], draw: Callable[[tuple[int, ...]], np.ndarray]) -> None:
    for _ in range(3):
        _checked(_cell(line), value, {"x": draw((3,)), "z": draw((3,))})


@pytest.mark.parametrize(("line", "value"), [
    ("atan2(z, x)", lambda a: np.arctan2(a["z"], a["x"])),
    ("hypot(x, z)", lambda a: np.hypot(a["x"], a["z"])),
    ("x ** z", lambda a: a["x"] ** a["z"]),
])
def test_a_column_and_a_number_broadcast_over_a_matrix_in_two_argument_functions(
        line: str, value: Callable[[Arrays], np.ndarray]) -> None:
    column = {"x": _positive((3, 4)), "z": _positive((3, 1))}
    _checked(_cell(line, x="3x4", z="3x1"), value, column)
    number = {"x": _positive((3, 4)), "z": _positive((1, 1))}
    _checked(_cell(line, x="3x4", z="1"), value, {**number, "z": number["z"].reshape(())})


def test_every_known_function_has_an_array_level_operation() -> None:
    assert sorted(set(KNOWN_FUNCTIONS) - set(COVERED)) == []


@pytest.mark.parametrize("line", [case[0] for case in CASES])
def test_a_200_entry_cell_using_each_is_read_at_array_level(line: str) -> None:
    arrays = {"x": _positive((200,)), "z": _positive((200,))}
    result = compute(_cell(line, "200", "200"), Options(chain=True, at=tuple(arrays.items())))
    assert isinstance(result, JacobianResult)  # not the entry level, which cannot finish at this size
    assert np.isfinite(result.at()).all()


# -- where there is no value or no derivative: nan with a reason, never a crash -------------------------------------

def test_atan2_at_the_origin_is_undefined_with_a_reason() -> None:
    result = compute(_cell("atan2(z, x)"), Options(chain=True, at=(("x", [0.0, 1, 2]), ("z", [0.0, 1, -1]))))
    assert np.isnan(result.at()).all()  # L sums every entry: one undefined entry leaves L undefined
    check = result.walkthrough().check
    assert any("atan2" in why and "both arguments are 0" in why for why in check.undefined)
    assert str(result) and result.latex()


def test_hypot_at_the_origin_has_no_derivative_there_and_the_rest_is_defined() -> None:
    result = compute("x: 3\nz: 3\ny = hypot(x, z)\nL = sum(y)", Options(chain=True, at=(("x", [0.0, 3, 1]),
                                                                                         ("z", [0.0, 4, 1]))))
    got = result.at().ravel()
    assert np.isnan(got[[0, 3]]).all()
    assert_close(got[[1, 2, 4, 5]], [0.6, 1 / np.sqrt(2), 0.8, 1 / np.sqrt(2)])
    assert any("no derivative where both arguments are 0" in why for why in result.walkthrough().check.undefined)
    assert str(result) and result.latex()


def test_a_negative_base_to_a_variable_power_is_undefined_with_a_reason() -> None:
    result = compute(_cell("x ** z"), Options(chain=True, at=(("x", [-2.0, 1, 2]), ("z", [0.5, 1, 2]))))
    assert np.isnan(result.at()).all()
    assert any("negative base" in why for why in result.walkthrough().check.undefined)
    assert str(result) and result.latex()


def test_sign_and_heaviside_have_no_derivative_at_their_jump_as_the_entry_level_says() -> None:
    for name in ("sign", "heaviside", "step"):
        result = compute(f"x: 3\ny = {name}(x) + x\nL = sum(y)", Options(chain=True, at=(("x", [0.0, 1, -1]),)))
        assert_close(result.at().ravel()[1:], [1.0, 1.0])
        assert np.isnan(result.at().ravel()[0])
        check = result.walkthrough().check
        assert check.agrees  # against the entry level's Jacobian, nan at 0 too
        assert any("jumps at 0" in why for why in check.undefined)


def test_heaviside_is_0_at_0_and_sign_of_0_is_0() -> None:
    result = compute("x: 3\ny = heaviside(x) + 2 * sign(x) + x\nL = sum(y)", Options(chain=True,
                                                                                      at=(("x", [0.0, 2, -2]),)))
    assert result.walkthrough().values["y"].ravel().tolist() == [0.0, 5.0, -4.0]


def test_an_equality_in_where_takes_the_first_branch_exactly_where_equal() -> None:
    result = compute("x: 3\ny = where(x == 0, 5 * x, 2 * x)\nL = sum(y)", Options(chain=True,
                                                                                  at=(("x", [0.0, 1, -1]),)))
    assert result.at().ravel().tolist() == [5.0, 2.0, 2.0]  # the slope of the branch each entry takes


# -- closed forms: textbook rules, or a clear refusal -----------------------------------------------------------------

@pytest.mark.parametrize(("line", "value"), [
    ("atan2(z, x)", lambda a: np.arctan2(a["z"], a["x"])),
    ("hypot(x, z)", lambda a: np.hypot(a["x"], a["z"])),
    ("x ** z", lambda a: a["x"] ** a["z"]),
    ("2 ** x + x ** (z + 1)", lambda a: 2.0 ** a["x"] + a["x"] ** (a["z"] + 1)),
])
def test_the_closed_forms_of_two_argument_functions_match_central_differences(
        line: str, value: Callable[[Arrays], np.ndarray]) -> None:
    arrays = {"x": _positive((3,)), "z": _positive((3,))}
    result = _checked(_cell(line), value, arrays)
    known = result.network.forward({n: a.reshape(-1, 1) for n, a in arrays.items()})[0]
    for name in ("x", "z"):
        assert_close(np.ravel(result.formula(name).evaluate(known)), _central(value, arrays, name), rel=1e-5)
    scope: dict[str, object] = {"np": np}
    exec(result.code(), scope)  # noqa: S102 - the generated closed-form source, checked as code too
    got = scope["gradient"](**{n: a.reshape(-1, 1) for n, a in arrays.items()})  # type: ignore[operator]
    for name in ("x", "z"):
        assert_close(np.ravel(got[name]), np.ravel(_central(value, arrays, name)), rel=1e-5)


def test_the_closed_form_of_a_step_is_refused_naming_the_line() -> None:
    result = compute(_cell("sign(x) * z"), Options(chain=True, at=(("x", [1.0, -1, 2]), ("z", [1.0, 2, 3]))))
    from jacmagic.errors import OptionError

    with pytest.raises(OptionError, match=r"line 3 .*sign\(x\) has no closed-form rule"):
        result.formula("x")
    assert "closed form" not in str(result).split("the gradients")[-1] or str(result)


# -- numpy defs -------------------------------------------------------------------------------------------------------

DEFS = [
    "def f(x, z):\n    u = np.arctan2(z, x)\n    return np.sum(u * u)",
    "def f(x, z):\n    u = np.hypot(x, z) * z\n    return np.sum(u * u)",
    "def f(x, z):\n    u = np.power(x, z) + x ** (z + 1)\n    return np.sum(u * u)",
    "def f(x, z):\n    u = 2 ** x + 3.0 ** z\n    return np.sum(u * u)",
    "def f(x, z):\n    u = np.sign(x) * z + np.heaviside(z, 0.5) * x + np.heaviside(x, 0) * z\n"
    "    return np.sum(u * u)",
]


@pytest.mark.parametrize("source", DEFS)
def test_a_numpy_def_traces_the_new_operations_at_array_level(source: str) -> None:
    scope: dict[str, object] = {"np": np}
    exec(source, scope)  # noqa: S102 - the test's own numpy reference
    function = scope["f"]
    for _ in range(3):
        arrays = {"x": _positive((3,)) * RNG.choice([-1, 1], 3) if "sign" in source else _positive((3,)),
                  "z": _away((3,)) if "sign" in source else _positive((3,))}
        result = compute(source, Options(chain=True, at=tuple(arrays.items())))
        assert isinstance(result, JacobianResult)
        gradients = result.gradient()
        for name in ("x", "z"):
            want = _central(lambda a: np.sqrt(function(a["x"], a["z"])), arrays, name)  # type: ignore[operator]
            assert_close(np.ravel(gradients[name]), np.ravel(want), rel=1e-5)
        assert result.walkthrough().check.agrees


def test_a_def_with_a_traced_exponent_is_read_at_array_level_at_300_entries() -> None:
    source = "def f(x, z):\n    return np.sum(np.power(x, z) + np.arctan2(z, x) + np.hypot(x, z) + np.sign(x))"
    arrays = {"x": _positive((300,)), "z": _positive((300,))}
    result = compute(source, Options(chain=True, at=tuple(arrays.items())))
    assert isinstance(result, JacobianResult)
    assert np.isfinite(result.at()).all()


# -- a def returning a list of traced numbers ------------------------------------------------------------------------

def test_a_def_returning_a_list_of_traced_numbers_is_a_column_of_outputs() -> None:
    source = "def f(x, y):\n    u = x*y\n    return [u, x + y]"
    result = compute(source, Options(chain=True, at=(("x", 0.7), ("y", -0.3))))
    assert isinstance(result, JacobianResult)
    assert_close(result.at(), [[-0.3, 0.7], [1.0, 1.0]])  # ∂(xy, x + y)/∂(x, y) by hand
    assert result.walkthrough().check.agrees
    assert str(result) and result.latex()


def test_a_def_returning_a_tuple_with_a_number_is_a_column_too() -> None:
    source = "def f(x, y):\n    return (x * y, np.sin(x), 3.0)"
    result = compute(source, Options(chain=True, at=(("x", 0.7), ("y", -0.3))))
    assert_close(result.at(), [[-0.3, 0.7], [np.cos(0.7), 0.0], [0.0, 0.0]])


def test_a_def_returning_a_list_of_sums_of_big_arrays_is_read_at_array_level() -> None:
    source = "def f(x):\n    u = np.tanh(x)\n    return [np.sum(u), u[0]]"
    x = RNG.uniform(-1, 1, 300)
    result = compute(source, Options(chain=True, at=(("x", x),)))
    assert isinstance(result, JacobianResult)
    want = np.zeros((2, 300))
    want[0] = 1 - np.tanh(x) ** 2
    want[1, 0] = 1 - np.tanh(x[0]) ** 2
    assert_close(result.at(), want)


def test_a_def_returning_a_list_holding_an_array_is_refused_naming_the_line() -> None:
    source = "def f(x):\n    u = np.tanh(x)\n    return [np.sum(u), u]"
    with pytest.raises(CellError, match="line 3.*a list holding an array"):
        compute(source, Options(chain=True, at=(("x", np.ones(300)),)))
