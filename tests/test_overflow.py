"""An overflow is not a domain error: an output too large for a double (exp(1000)) keeps its derivatives that are
exactly 0 (by the inputs it does not depend on), while an undefined output (log of a negative, a division by 0)
has its whole row undefined, in reverse mode, forward mode and the entry level alike."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jacmagic import jacobian
from jacmagic.views.verdicts import verdict_words

from .helpers import assert_close

MODES = ["reverse", "forward", "both"]


def _walked(cell: str, mode: str, **point: float) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, str]:
    """Reverse mode's Jacobian, forward mode's tangents (None in reverse mode), the entry level's Jacobian, and
    the check's words, at `point` (the names the cell uses)."""
    result = jacobian(cell, chain=True, mode=mode)
    here = {name: point[name] for name in result.names}
    walk = result.walkthrough(**here)
    ahead = walk.forward_pass.tangent if walk.forward_pass is not None else None
    return walk.gradient, ahead, result.whole.at(**here), verdict_words(walk.check)  # type: ignore[union-attr]


def _valued(cell: str, **point: float) -> np.ndarray:
    """Which outputs have a number at `point`, by the entry level's own map (not the array walk)."""
    whole = jacobian(cell, chain=True).whole
    with np.errstate(all="ignore"):
        return np.isfinite(whole.map_function()(*(point[s.name] for s in whole.arguments)))


@pytest.mark.parametrize("mode", MODES)
def test_a_domain_error_beside_an_independent_input_keeps_its_whole_row_undefined(mode: str) -> None:
    """log(y - 5) at y = 0 has no value, so no derivative by x either (not 0), as the entry level says; the
    output beside it keeps its own row."""
    gradient, ahead, whole, said = _walked("a = x\nc = log(y - 5)", mode, x=0.0, y=0.0)
    want = np.array([[1.0, 0.0], [np.nan, np.nan]])
    for got in (gradient, whole) + ((ahead,) if ahead is not None else ()):
        assert np.array_equal(np.isnan(got), np.isnan(want)), got
        assert_close(got[0], want[0])
    assert "log(y − 5) has no finite real value here" in said and "DOES NOT" not in said


@pytest.mark.parametrize("mode", MODES)
def test_an_overflow_keeps_the_zeros_of_the_inputs_it_does_not_depend_on(mode: str) -> None:
    """exp(1000 y) at y = 1 overflows: d/dx is 0 exactly (every mode), d/dy has no number (inf or nan); the
    note says why the value is missing: an overflow."""
    gradient, ahead, whole, said = _walked("a = x\nc = exp(1000*y)", mode, x=0.0, y=1.0)
    for got in (gradient, whole) + ((ahead,) if ahead is not None else ()):
        assert_close(got[:, 0], [1.0, 0.0])
        assert got[0, 1] == 0 and not np.isfinite(got[1, 1])
    assert "too large for double precision here (overflow)" in said and "DOES NOT" not in said


@pytest.mark.parametrize("mode", MODES)
def test_a_domain_error_of_an_overflowed_value_is_undefined(mode: str) -> None:
    """log(b - 5) and 1/(b - 1) where b = exp(1000 y) overflowed: the entry level's guards (log's argument, the
    divisor) have no finite value, so the rows are undefined, not 0 by z."""
    cell = "b = exp(1000*y)\nc = log(b - 5) + z\nd = z/(b - 1)"
    gradient, ahead, whole, _ = _walked(cell, mode, y=1.0, z=0.5)
    for got in (gradient, whole) + ((ahead,) if ahead is not None else ()):
        assert np.isnan(got).all(), got


@pytest.mark.parametrize("mode", MODES)
def test_entries_of_one_array_are_undefined_or_overflowed_each_on_its_own(mode: str) -> None:
    """[log(y - 5), exp(1000 y), x] at y = 1: the first entry has no value (its row undefined), the second
    overflowed (0 by x, which it does not depend on), the third is x (inputs in first-use order: y, x)."""
    result = jacobian("v = [log(y - 5), exp(1000*y), x]", chain=True, mode=mode)
    walk = result.walkthrough(x=0.5, y=1.0)
    for got in (walk.gradient,) + ((walk.forward_pass.tangent,) if walk.forward_pass is not None else ()):
        assert np.isnan(got[0]).all() and np.isnan(got[1, 0]), got
        assert_close(got[1:, 1], [0.0, 1.0])
        assert got[2, 0] == 0


def test_an_overflow_the_entry_level_simplifies_away_is_not_called_a_mismatch() -> None:
    """exp(1000 y) exp(-1000 y) x is x to sympy (d/dx = 1) but inf * 0 in doubles: the walk has no number for it,
    and the check says it could not compare, not that the walk is wrong."""
    walk = jacobian("a = x\nc = exp(1000*y)*exp(-1000*y)*x", chain=True).walkthrough(x=0.5, y=1.0)
    assert walk.agrees is None and "DOES NOT" not in verdict_words(walk.check)
    assert "could not be compared" in verdict_words(walk.check)


# Pieces of a generated line, by what they are at the point x = 0.3, y = 1, z = 1 and b (an earlier line) as it
# comes: {u} and {v} are inputs or the earlier line.
# (exp(u)**800, not **300: e**300 is a finite 1.9e130, whose sine has no digit in doubles to agree on.)
OVERFLOWS = ["exp(1000*{u})", "cosh(1000*{u})", "{v}*exp(1000*{u})", "exp({u})**800"]
DOMAIN_ERRORS = ["log({u} - 5)", "sqrt({u} - 5)", "{v}/({u} - 1)", "({u} - 5)**0.5"]
PLAIN = ["{u}*{v}", "sin({u}) + {v}", "{u}**2"]
POINT = {"x": 0.3, "y": 1.0, "z": 1.0}


@st.composite
def pieces(draw: st.DrawFn, names: list[str]) -> str:
    template = draw(st.sampled_from(OVERFLOWS + DOMAIN_ERRORS + PLAIN))
    return template.format(u=draw(st.sampled_from(names)), v=draw(st.sampled_from(names)))


@st.composite
def chains(draw: st.DrawFn) -> str:
    """a = x (an output of x alone, beside everything), b from y and z, c from y, z and perhaps b: overflows,
    domain errors and plain parts, alone, added or multiplied."""
    b = draw(pieces(["y", "z"]))
    parts = draw(st.lists(pieces(["y", "z", "b"]), min_size=1, max_size=2))
    c = draw(st.sampled_from([" + ", " * "])).join(parts)
    return f"a = x\nb = {b}\nc = {c}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chains(), st.sampled_from(MODES))
def test_overflows_and_domain_errors_agree_with_the_entry_level(cell: str, mode: str) -> None:
    """Entry by entry against the entry level (`whole.at`): undefined where it is undefined, exactly 0 where it
    is (an input the output does not depend on), equal where the output has a value; where an output overflowed,
    a derivative by an input it depends on may have no number (the doubles' own inf and nan)."""
    gradient, ahead, whole, said = _walked(cell, mode, **POINT)
    values = _valued(cell, **POINT)
    for got in (gradient,) + ((ahead,) if ahead is not None else ()):
        assert got.shape == whole.shape
        assert (np.isnan(got) == np.isnan(whole))[np.isnan(whole)].all(), (cell, got, whole)
        assert (got[whole == 0] == 0).all(), (cell, got, whole)
        valued = values[:, None] & np.isfinite(whole)
        assert np.allclose(got[valued], whole[valued], rtol=1e-7, atol=1e-9), (cell, got, whole)
        unvalued = ~values[:, None] & ~np.isnan(whole) & (whole != 0)
        assert (~np.isfinite(got[unvalued]) | np.isclose(got[unvalued], whole[unvalued])).all(), (cell, got, whole)
    assert "DOES NOT" not in said, (cell, said)
    want = _differences(cell, POINT)
    compared = np.isfinite(want) & np.isfinite(gradient)
    assert np.allclose(gradient[compared], want[compared], rtol=1e-5, atol=1e-6), (cell, gradient, want)


# The generated lines in numpy (the test's own map, not jacmagic's): each line a numpy expression of the names before.
_NUMPY = {"exp": np.exp, "cosh": np.cosh, "log": np.log, "sqrt": np.sqrt, "sin": np.sin}


def _outputs(cell: str, point: dict[str, float], outputs: tuple[str, ...]) -> np.ndarray:
    known = {name: np.float64(value) for name, value in point.items()}  # numpy's inf and nan, never Python's error
    with np.errstate(all="ignore"):
        for line in cell.splitlines():
            name, expression = line.split(" = ")
            known[name] = np.float64(eval(expression, {"__builtins__": {}, **_NUMPY}, dict(known)))  # noqa: S307
    return np.array([known[name] for name in outputs])


def _differences(cell: str, point: dict[str, float], h: float = 1e-6) -> np.ndarray:
    """d (a, b, c) / d (x, y, z) by central differences in numpy, nan where an output or a neighbour has no finite
    value (an overflow or a domain error: nothing to difference), in the walk's column order."""
    result = jacobian(cell, chain=True)
    outputs = result.network.outputs
    here = _outputs(cell, point, outputs)
    columns = []
    for name in result.names:
        ahead = _outputs(cell, {**point, name: point[name] + h}, outputs)
        behind = _outputs(cell, {**point, name: point[name] - h}, outputs)
        with np.errstate(all="ignore"):
            column = (ahead - behind) / (2 * h)
        column[~(np.isfinite(here) & np.isfinite(ahead) & np.isfinite(behind))] = np.nan
        columns.append(column)
    return np.array(columns).T
