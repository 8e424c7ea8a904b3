"""How a chain of numbers shows its steps: a 1 x 1 local Jacobian is the number's formula (2(a − t), not
diag(2(a − t)); 1, not I), with no word on a structure a number does not have, every value a number (not a 1 x 1
matrix or table), and the local Jacobian's value equals central differences of the line written here in numpy."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import numpy as np
import pytest

from jacmagic import JacobianResult, jacobian
from jacmagic.errors import CellError

from .helpers import read_aloud

Values = Mapping[str, float]

# (cell, point, each line by hand in numpy from the values it reads)
CHAINS: list[tuple[str, dict[str, float], dict[str, Callable[[Values], float]]]] = [
    ("z = w*x + b\na = sigmoid(z)\nL = (a - t)**2", {"w": 0.7, "b": -0.2, "x": 1.5, "t": 1.0},
     {"z": lambda v: v["w"] * v["x"] + v["b"], "a": lambda v: 1 / (1 + np.exp(-v["z"])),
      "L": lambda v: (v["a"] - v["t"]) ** 2}),
    ("u = tanh(w*x - b)**2 + (p - q)*w", {"w": 0.7, "b": -0.2, "x": 1.5, "p": 1.0, "q": 2.0},
     {"u": lambda v: np.tanh(v["w"] * v["x"] - v["b"]) ** 2 + (v["p"] - v["q"]) * v["w"]}),
    ("r = exp(-s)/s\nL = r*s - s**3 + 1/r", {"s": 0.8},
     {"r": lambda v: np.exp(-v["s"]) / v["s"], "L": lambda v: v["r"] * v["s"] - v["s"] ** 3 + 1 / v["r"]}),
    # math-form functions of one number: stages of formulas, read entry by entry
    ("g(x) = [x**2]\nh(y) = [sin(y)*y]", {"x": 0.6},
     {"g": lambda v: v["x"] ** 2, "h": lambda v: np.sin(v["g"]) * v["g"]}),
]
_LOCAL = re.compile(r"local Jacobian ∂(\w+)/∂(\w+) = (.*) \(1 x 1\)(?: = (\S+))?$")
_STRUCTURE = ("diagonal", "element-wise", "a number times I", "dense", "column of ones")


def _central(line: Callable[[Values], float], values: Values, name: str, h: float = 1e-6) -> float:
    up, down = dict(values), dict(values)
    up[name] += h
    down[name] -= h
    return (line(up) - line(down)) / (2 * h)


@pytest.mark.parametrize(("cell", "point", "lines"), CHAINS, ids=[c.split("\n")[0] for c, _, _ in CHAINS])
def test_a_number_s_local_jacobian_is_its_formula_without_diag_or_a_structure(
        cell: str, point: dict[str, float], lines: dict[str, Callable[[Values], float]]) -> None:
    result = jacobian(cell, chain=True, at=point)
    assert isinstance(result, JacobianResult)
    walked = result.walkthrough()
    values = {**point, **{name: float(v.reshape(-1)[0]) for name, v in walked.values.items()}}
    text = str(result)
    shown = [m.groups() for m in map(_LOCAL.search, text.split("\n")) if m]
    wanted = {(line.name, leaf.name) for line in result.network.lines for leaf in line.leaves
              if leaf.name not in result.constants}
    assert {(of, by) for of, by, _, _ in shown} == wanted
    for of, by, formula, number in shown:
        assert "diag" not in formula and not re.search(r"\bI\b", formula), formula
        want = _central(lines[of], values, by)
        assert float(number or formula) == pytest.approx(want, rel=1e-5, abs=1e-6)  # 6 digits shown
    assert not any(words in text or words in result.latex() for words in _STRUCTURE)
    assert r"\operatorname{diag}" not in result.latex()
    assert r"\begin{matrix}" not in result.latex().split("forward pass", 1)[1]  # 0.7, never [0.7]: a 1 x 1 matrix
    panel = result.widget()
    for position in range(1, panel.position.max):
        panel.position.value = position
        said = read_aloud(panel.detail.value.split("</style>", 1)[1])
        assert "diag" not in said and not any(words in said for words in _STRUCTURE), said
        assert "<table" not in panel.detail.value  # a number is written as a number, not a 1 x 1 table


def test_a_signed_or_summed_number_is_bracketed_in_a_product() -> None:
    """x · (1 − tanh²(…)) · (−1), never x · 1 − tanh²(…) · −1 (which reads as another number)."""
    text = str(jacobian("u = tanh(w*x - b)**2", chain=True))
    (by_b,) = [line for line in text.split("\n") if "local Jacobian ∂u/∂b" in line]
    assert "· (1 − tanh²(w·x − b)) · (−1)" in by_b


def test_an_array_s_local_jacobian_keeps_its_diagonal_and_says_so() -> None:
    text = str(jacobian("x: 3\nh = tanh(x)\nL = sum(h)", chain=True))
    assert "∂h/∂x = diag(1 − tanh²(x)) (3 x 3)" in text and "(diagonal: the product is element-wise)" in text


def test_a_chain_of_numbers_only_says_there_is_nothing_to_differentiate() -> None:
    """Found by the MathML test: `u = 2` then `w = u*2 + sin(u)` with --chain crashed in the walk (numpy's
    ValueError); it is the user's mistake, said as for a plain cell."""
    with pytest.raises(CellError, match="nothing to differentiate by"):
        jacobian("u = 2\nw = u*(2) + sin(u)", chain=True)
