"""Every function the entry level knows that acts entry by entry is an array operation too: its gradient at array
level against central differences of numpy's own function, and against the entry-level Jacobian of the same cell
(the walkthrough's verdict); outside its domain it is undefined with its reason, never a number."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.chain.elementwise import FUNCTIONS
from jacmagic.chain.functions import KNOWN_FUNCTIONS, WHOLE_ARRAY
from jacmagic.result import JacobianResult
from jacmagic.views.verdicts import verdict_words

# name: (numpy's function, a point inside the domain)
REFERENCE: dict[str, tuple[Callable[[np.ndarray], np.ndarray], list[float]]] = {
    "tan": (np.tan, [0.3, -1.1, 1.4]), "sec": (lambda z: 1 / np.cos(z), [0.3, -1.1, 2.0]),
    "csc": (lambda z: 1 / np.sin(z), [0.3, -1.1, 2.0]), "cot": (lambda z: 1 / np.tan(z), [0.3, -1.1, 2.0]),
    "asin": (np.arcsin, [0.3, -0.9, 0.5]), "acos": (np.arccos, [0.3, -0.9, 0.5]),
    "arcsin": (np.arcsin, [0.1, 0.2, -0.7]), "asinh": (np.arcsinh, [0.3, -4.0, 2.5]),
    "acosh": (np.arccosh, [1.3, 4.0, 2.5]), "atanh": (np.arctanh, [0.3, -0.9, 0.5]),
    "log2": (np.log2, [0.3, 4.0, 9.5]), "log10": (np.log10, [0.3, 4.0, 9.5]),
    "cbrt": (np.cbrt, [0.3, -8.0, 2.5]), "erf": (np.vectorize(__import__("math").erf), [0.3, -1.2, 2.5]),
    "exp": (np.exp, [0.3, -1.2, 2.5]), "sinh": (np.sinh, [0.3, -1.2, 2.5]), "atan": (np.arctan, [0.3, -1.2, 2.5]),
}


def test_every_element_wise_function_of_the_entry_level_is_one_at_array_level() -> None:
    several = {"atan2", "arctan2", "hypot"}  # functions of two values
    jumps = {"sign", "heaviside", "step"}  # a derivative undefined at the jump: the entry level's to say
    one_argument = {name for name, (_, arities) in KNOWN_FUNCTIONS.items() if arities == (1,)} - WHOLE_ARRAY
    assert one_argument - set(FUNCTIONS) - jumps - several == set()


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_an_element_wise_function_at_array_level_matches_central_differences_and_the_entry_level(name: str) -> None:
    numpy, at = REFERENCE[name]
    z = np.array(at)
    result = jacobian(f"z: 3\nL = sum(2 * {name}(z))", chain=True, at={"z": z})
    assert isinstance(result, JacobianResult) and result.whole is not None
    h = 1e-6
    central = np.array([(np.sum(2 * numpy(z + h * e)) - np.sum(2 * numpy(z - h * e))) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(result.gradient()["z"], central, rtol=1e-6)
    walk = result.walkthrough()
    assert walk.agrees and "computed directly" in verdict_words(walk.check)


@pytest.mark.parametrize(("name", "shown", "outside"), [
    ("asin", "asin", 1.5), ("acos", "acos", -2.0), ("acosh", "acosh", 0.5), ("atanh", "atanh", 1.5),
    ("log2", "log₂", -1.0), ("log10", "log₁₀", -3.0)])
def test_outside_its_domain_a_function_is_undefined_with_its_reason(name: str, shown: str, outside: float) -> None:
    result = jacobian(f"z: 2\nL = sum({name}(z))", chain=True, at={"z": [outside, outside]})
    walk = result.walkthrough()
    assert np.isnan(result.gradient()["z"]).all()
    assert f"{shown}(z) has no finite real value here" in verdict_words(walk.check)


def test_numpys_inverse_trigonometric_and_other_ufuncs_are_traced_in_a_def() -> None:
    z = np.array([0.3, -0.6, 0.5])
    cell = ("def f(z):\n    return np.sum(np.arcsin(z) + np.arccos(z / 2) + np.arctanh(z) + np.tan(z) + np.cbrt(z)"
            " + np.log10(z + 2) + np.log2(z + 2) + np.arcsinh(z) + np.arccosh(z + 2))")
    result = jacobian(cell, chain=True, at={"z": z})
    assert isinstance(result, JacobianResult)

    def numpy(v: np.ndarray) -> float:
        return float(np.sum(np.arcsin(v) + np.arccos(v / 2) + np.arctanh(v) + np.tan(v) + np.cbrt(v)
                            + np.log10(v + 2) + np.log2(v + 2) + np.arcsinh(v) + np.arccosh(v + 2)))
    h = 1e-6
    central = np.array([(numpy(z + h * e) - numpy(z - h * e)) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(result.gradient()["z"], central, rtol=1e-6)
