"""At a break point - a kink or a step (abs, relu, max, min, where, sign, heaviside at their break) or the edge of
the domain (x**1.5 at 0) - no check says the walk DOES NOT match: the columns through the break are set aside and
the verdict says why; away from it a wrong local Jacobian is still caught. A one-stage --chain cell is a walk.

The right numbers are central differences of the map written here in numpy."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.chain.network_walk import walk
from jacmagic.chain.operations import Power
from jacmagic.views.verdicts import verdict_words

from .helpers import assert_close


def _forced(cell: str, **point: float) -> str:
    """The check along random directions (the one a large cell gets), in words."""
    result = jacobian(cell, chain=True)
    arrays = {n: np.full(result.compiled.shapes[n], float(v)) for n, v in point.items()}
    return verdict_words(walk(result.compiled, arrays).check)


@pytest.mark.parametrize("cell", ["y = x**1.5\nL = y*2", "def f(x):\n    y = x**1.5\n    return y*2"])
def test_a_power_1_5_at_zero_along_directions_says_a_step_leaves_the_domain_not_an_overflow(cell: str) -> None:
    said = _forced(cell, x=0.0)
    assert "overflow" not in said and "DOES NOT" not in said, said
    assert "x^1.5 has no value on one side" in said and "the derivative here is one-sided" in said, said


def test_a_step_at_zero_is_set_aside_and_named_never_called_a_mismatch() -> None:
    """where(x > 0, 1, 0) at 0: 0 on each side, the map jumps; central differences see 1/(2h)."""
    for said in (_forced("y = where(x > 0, 1, 0)\nL = y*2", x=0.0),
                 verdict_words(jacobian("y = where(x > 0, 1, 0)\nL = y*2", chain=True).walkthrough(x=0.0).check)):
        assert "DOES NOT" not in said and "where(x > 0, 1, 0) (line 1) jumps here" in said, said


def test_max_at_a_tie_in_the_direct_check_is_not_a_mismatch_on_zero_entries() -> None:
    """max(x, 0) at 0: the walk takes 0 (ReLU's convention), the entry level has none; it said DOES NOT match on
    its 0 defined entries."""
    said = verdict_words(jacobian("y = max(x, 0)\nL = y*2", chain=True).walkthrough(x=0.0).check)
    assert "DOES NOT" not in said and "has a kink here" in said, said


Map = Callable[[np.ndarray], np.ndarray]
# name: (the break as an array line of x (3 entries), the same in numpy, numpy's name for a def)
BREAKS: dict[str, tuple[str, Map, str]] = {
    "abs": ("abs(x)", np.abs, "np.abs(x)"),
    "relu": ("relu(x)", lambda x: np.maximum(x, 0), "np.maximum(x, 0)"),
    "max": ("max(x, 0)", lambda x: np.maximum(x, 0), "np.maximum(x, 0)"),
    "min": ("min(x, 0)", lambda x: np.minimum(x, 0), "np.minimum(x, 0)"),
    "where kink": ("where(x > 0, x, 0.5*x)", lambda x: np.where(x > 0, x, 0.5 * x), "np.where(x > 0, x, 0.5*x)"),
    "where step": ("where(x > 0, 1, 0)", lambda x: np.where(x > 0, 1.0, 0.0), "np.where(x > 0, x*0 + 1, x*0)"),
    "where shifted step": ("where(x > 0, x + 1, x)", lambda x: np.where(x > 0, x + 1, x),
                           "np.where(x > 0, x + 1, x)"),
    "sign": ("sign(x)", np.sign, "np.sign(x)"),
    "heaviside": ("heaviside(x)", lambda x: np.heaviside(x, 0.0), "np.heaviside(x, 0.0)"),
}
POINT = np.array([0.0, 0.7, -1.3])  # entry 0 at the break


def _cells(case: str) -> dict[str, str]:
    line, _, numpy_line = BREAKS[case]
    return {"--chain cell": f"x: 3\ny = {line}\nL = sum(y*y + 2*y) + sum(x**3)",
            "--chain def": f"import numpy as np\ndef f(x):\n    y = {numpy_line}\n    return np.sum(y*y + 2*y) "
                           "+ np.sum(x**3)"}


def _differences(case: str, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    f = BREAKS[case][1]

    def loss(v: np.ndarray) -> float:
        y = f(v)
        return float(np.sum(y * y + 2 * y) + np.sum(v**3))
    return np.array([(loss(x + h * e) - loss(x - h * e)) / (2 * h) for e in np.eye(len(x))])


@pytest.mark.parametrize("form", ["--chain cell", "--chain def"])
@pytest.mark.parametrize("case", BREAKS)
def test_no_check_calls_a_break_point_a_mismatch(case: str, form: str) -> None:
    result = jacobian(_cells(case)[form], chain=True, at={"x": POINT})  # a def's shapes come from the point
    gradient = np.asarray(result.gradient(x=POINT)["x"], dtype=float).ravel()
    for check in (result.walkthrough(x=POINT).check, walk(result.compiled, {"x": POINT.reshape(3, 1)}).check):
        said = verdict_words(check)
        assert check.agrees is not False and "DOES NOT" not in said, said
    assert_close(gradient[1:], _differences(case, POINT)[1:], rel=1e-5)  # away from the break: the derivative


@pytest.mark.parametrize("case", BREAKS)
def test_a_plain_check_at_a_break_point_does_not_fail(case: str) -> None:
    result = jacobian(f"L = {BREAKS[case][0]} + x**3", check=True, at={"x": 0.0})
    said = " ".join(result.notes)
    assert "FAILED" not in said and "check passed" in said, said


@pytest.mark.parametrize("case", BREAKS)
def test_a_wrong_slope_away_from_the_break_is_still_caught(monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    """x**3's slope 10% off (the injection of test_undefined_slopes): caught on the entries away from the break,
    by the direct check and along directions."""
    original = Power._slope
    monkeypatch.setattr(Power, "_slope", lambda self, z: original(self, z) * 1.1)
    result = jacobian(_cells(case)["--chain cell"], chain=True)
    for check in (result.walkthrough(x=POINT).check, walk(result.compiled, {"x": POINT.reshape(3, 1)}).check):
        assert check.agrees is False and "DOES NOT match" in verdict_words(check)


# -- one stage ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("cell", "f"), [
    ("f(x, y) = x*y", lambda x, y: np.array([x * y])),
    ("f(x, y) = [x*y, x + sin(y)]", lambda x, y: np.array([x * y, x + np.sin(y)])),
])
def test_a_single_function_is_a_one_stage_walk_in_forward_and_reverse_mode(cell: str, f: Callable[..., np.ndarray]
                                                                            ) -> None:
    """It was refused ("--chain needs at least two stages"): one local Jacobian is the whole."""
    x, y, h = 0.8, -1.7, 1e-6
    want = np.array([(f(x + h, y) - f(x - h, y)) / (2 * h), (f(x, y + h) - f(x, y - h)) / (2 * h)]).T
    result = jacobian(cell, chain=True, mode="both", direction={"x": 1.0, "y": 2.0}, at={"x": x, "y": y})
    walked = result.walkthrough()
    assert len(walked.backward) == 1 and walked.agrees and walked.forward_check.agrees
    assert_close(walked.gradient, want, rel=1e-6)
    assert_close(walked.forward_pass.tangent.ravel(), want @ [1.0, 2.0], rel=1e-6)  # type: ignore[union-attr]
    assert "step 1 of 1" in str(result)
    panel = result.widget()
    panel.position.value = panel.position.max
    assert "matches" in panel.detail.value
