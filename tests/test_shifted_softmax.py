"""A softmax written shifted for stability, exp(z - M) / sum(exp(z - M)) for any M shared by every term (max(z), a
constant, a symbol, another entry), is read as jacmagic's own softmax of z in every cell form: its Jacobian is
diag(s) - s sᵀ with no step functions of max(z), its numbers stay finite at z = 1000, and log_softmax and logsumexp
written shifted likewise. Numbers compare against central differences of numpy written here."""

from __future__ import annotations

import random

import numpy as np
import pytest
import sympy as sp

from jacmagic import jacobian

from .helpers import assert_close

README_DEF = "def softmax(z):\n    e = np.exp(z - np.max(z))\n    return e / e.sum()\n"
STEP_PARTS = (sp.Heaviside, sp.Max, sp.Min, sp.DiracDelta)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _log_softmax(z: np.ndarray) -> np.ndarray:
    u = z - z.max()
    return u - np.log(np.exp(u).sum())


def _central(function: object, point: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences, a column per input: the functions here are smooth, max shift and all."""
    columns = []
    for k in range(point.size):
        step = np.zeros(point.size)
        step[k] = h
        columns.append((function(point + step) - function(point - step)) / (2 * h))  # type: ignore[operator]
    return np.stack(columns, axis=1)


def _without_steps(matrix: sp.MatrixBase) -> bool:
    return not any(e.atoms(*STEP_PARTS) or any(type(f).__name__.startswith("Reduced") for f in e.atoms(sp.Function))
                   for e in matrix)


def test_the_readme_softmax_def_shows_diag_s_minus_s_s_transposed_as_softmax_of_z_does() -> None:
    shifted = jacobian(README_DEF, at={"z": [1, 2, 3]}, namespace={"np": np})
    plain = jacobian("z: 3\ns = softmax(z)", at={"z": [1, 2, 3]})
    assert shifted.matrix == plain.matrix
    assert _without_steps(shifted.matrix)
    for text in (str(shifted), shifted.latex()):
        assert not any(part in text for part in ("max(", "max\\left", "H(", "u_{1}", "u₁"))
    assert str(shifted).split("\n", 1)[1] == str(plain).split("\n", 1)[1]  # all but the title's output names
    z = np.array([1.0, 2.0, 3.0])
    assert_close(shifted.at(), _central(_softmax, z))


@pytest.mark.parametrize("z", [[1000.0, 1001.0], [0.0, 0.0], [-800.0, -800.0, 3.0]])
def test_the_shifted_softmax_def_is_finite_and_exact_at_huge_values_and_ties(z: list[float]) -> None:
    result = jacobian(README_DEF, at={"z": z}, namespace={"np": np})
    point = np.array(z)
    assert np.isfinite(result.at()).all()
    assert_close(result.at(), _central(_softmax, point), rel=1e-6)


# -- the family: every shift, size and form, softmax and log_softmax ------------------------------------------------

SHIFTS = ("max", "constant", "float", "symbol", "entry")
FORMS = ("math form", "assignment", "def")


def _shift(kind: str, n: int, form: str, rng: random.Random) -> str:
    """The shift M as the form writes it."""
    k = rng.randrange(n)
    vector = "z" if form != "math form" else "[" + ", ".join(f"z{i + 1}" for i in range(n)) + "]"
    written = {"max": "np.max(z)" if form == "def" else f"max({vector})", "constant": str(rng.randint(-7, 7)),
               "float": f"{rng.uniform(-5, 5):.3f}", "symbol": "c",
               "entry": f"z{k + 1}" if form == "math form" else f"z[{k}]"}[kind]
    return written


def _cell(kind: str, shift: str, n: int, form: str) -> str:
    if form == "def":
        body = ("    e = np.exp(z - M)\n    return e / e.sum()" if kind == "softmax" else
                "    u = z - M\n    return u - np.log(np.sum(np.exp(u)))").replace("M", shift)
        return f"def f(z, c):\n{body}"
    vector = "z" if form == "assignment" else "[" + ", ".join(f"z{i + 1}" for i in range(n)) + "]"
    u = f"({vector} - {shift})"
    formula = f"exp{u} / sum(exp{u})" if kind == "softmax" else f"{u} - log(sum(exp{u}))"
    if form == "assignment":
        return f"z: {n}\nf = {formula}"
    names = ", ".join(f"z{i + 1}" for i in range(n))
    return f"f({names}, c) = {formula}"


def _point(form: str, z: np.ndarray, c: float, cell: str) -> dict[str, object]:
    given = {"c": c} if form != "assignment" or " c)" in cell else {}  # c is a variable where it is written
    if form == "math form":
        return {**{f"z{i + 1}": float(v) for i, v in enumerate(z)}, **given}
    return {"z": [float(v) for v in z], **given}


def _family() -> list[object]:
    rng = random.Random(20261206)
    cases = []
    for shift in SHIFTS:
        for form in FORMS:
            n = rng.randint(2, 6)
            for kind in ("softmax", "log_softmax"):
                cases.append(pytest.param(kind, shift, form, n, rng.randrange(10**6),
                                          id=f"{kind}-{shift}-{form}-{n}"))
    return cases


@pytest.mark.parametrize(("kind", "shift", "form", "n", "seed"), _family())
def test_a_shifted_softmax_in_every_form_is_the_softmax_of_z_by_central_differences(
        kind: str, shift: str, form: str, n: int, seed: int) -> None:
    rng = random.Random(seed)
    written = _shift(shift, n, form, rng)
    cell = _cell(kind, written, n, form)
    plain = jacobian(f"z: {n}\nf = {kind}(z)", at={"z": [0.0] * n})
    zs = [np.array([rng.uniform(-3, 3) for _ in range(n)]), np.zeros(n), np.array([500.0] * (n - 1) + [501.0])]
    result = jacobian(cell, at=_point(form, zs[0], 0.5, cell), namespace={"np": np})
    assert _without_steps(result.matrix), result.matrix
    entries = dict(zip(plain.inputs, result.inputs[:n]))
    assert result.matrix[:, :n] == plain.matrix.xreplace(entries)  # the shift's column (c) is 0 where an input
    assert all(e == 0 for e in result.matrix[:, n:])
    function = _softmax if kind == "softmax" else _log_softmax
    for z in zs:
        got = np.asarray(result.at(**_point(form, z, 0.5, cell)), dtype=float)[:, :n]
        assert_close(got, _central(function, z), rel=1e-6)
