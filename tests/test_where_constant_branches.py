"""np.where whose branches are numbers (`x * np.where(x > 0, 1.0, 0.0)`) in a numpy def: traced by --chain as by a
plain cell (the branches' slope is 0, the condition carries no gradient). It was refused with "write it with
np.where(cond, a, b)" although it was np.where: numpy, with no traced branch, asked the condition for its truth.
Compared with central differences of the same function run on numbers."""

from __future__ import annotations

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.errors import CellError

from .helpers import assert_close

POINT = np.array([1.3, -0.8, 0.45])  # off every break


def _differences(body: str, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """The Jacobian of `body` (of x, numpy) by central differences, one column per entry of x."""
    def f(v: np.ndarray) -> np.ndarray:
        return np.atleast_1d(np.asarray(eval(body, {"np": np, "x": v}), dtype=float))  # the test's own numpy
    return np.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))], axis=-1)


def _def(body: str) -> str:
    return f"import numpy as np\ndef f(x):\n    return {body}"


def test_a_chain_def_multiplied_by_where_of_two_numbers_is_traced() -> None:
    """The report: --chain --at x=1 refused it."""
    result = jacobian(_def("x * np.where(x > 0, 1.0, 0.0)"), chain=True, at={"x": 1.0})
    walked = result.walkthrough()
    assert walked.agrees
    assert_close(result.at(x=1.0), [[1.0]])
    assert_close(result.at(x=-2.0), [[0.0]])


BODIES = [
    "x * np.where(x > 0, 1.0, 0.0)",
    "x * np.where(x > 0, 0.0, 1.0)",
    "x * np.where(0 < x, 1, 0)",
    "x**2 * np.where(x >= 0.5, 2.0, -1.0)",
    "np.sin(x) * np.where(x <= 0, 3, 0.5)",
    "np.where(x < 0, -1.0, 1.0) * np.exp(x)",
    "np.where(x > 0, x, 0.0)",
    "np.where(x > 0, 0.0, x)",
    "np.where(x > 0, 2.0, x**2)",
    "np.where(x**2 > 0.5, np.sin(x), 1.5)",
    "np.where(x > 0, x, 0.25*x) + np.where(x < 1, 1.0, 0.0)",
    "np.where(x > 0, 1.0, 0.0) + x",
]


@pytest.mark.parametrize("chain", [True, False], ids=["--chain", "plain"])
@pytest.mark.parametrize("body", BODIES)
def test_where_with_number_branches_matches_central_differences(body: str, chain: bool) -> None:
    result = jacobian(_def(body), chain=chain, at={"x": POINT})
    assert_close(result.at(x=POINT), _differences(body, POINT), rel=1e-6)
    if chain:
        assert result.walkthrough(x=POINT).agrees


@pytest.mark.parametrize("chain", [True, False], ids=["--chain", "plain"])
def test_a_where_of_numbers_alone_has_slope_0_off_its_step(chain: bool) -> None:
    result = jacobian(_def("np.sum(np.where(x > 0, 1.0, 0.0))"), chain=chain, at={"x": POINT})
    assert_close(result.at(x=POINT), np.zeros((1, 3)))


@pytest.mark.parametrize("chain", [True, False], ids=["--chain", "plain"])
def test_np_select_is_refused_naming_np_select(chain: bool) -> None:
    """Not traced at either level: the refusal says so instead of pointing at np.where."""
    with pytest.raises(CellError) as refused:
        jacobian(_def("np.select([x > 0], [x], 0.0)"), chain=chain, at={"x": POINT})
    assert "np.select" in str(refused.value) and "write it with" not in str(refused.value)


def test_an_array_of_numbers_as_a_chain_branch_is_refused_for_its_true_reason() -> None:
    with pytest.raises(CellError, match="not a parameter of the function"):
        jacobian(_def("x * np.where(x > 0, np.ones(3), 0.5)"), chain=True, at={"x": POINT})


def test_an_if_on_a_comparison_still_says_to_use_np_where() -> None:
    cell = "import numpy as np\ndef f(x):\n    if x > 0:\n        return x\n    return 0.0*x"
    with pytest.raises(CellError, match="np.where"):
        jacobian(cell, chain=True, at={"x": 1.0})
