"""Issue 23: a note is a fact in the engine and a sentence only in the views (`views/notes.py`), so every display
says it the same way and no result stores English."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import numpy as np
import pytest
import sympy as sp

from jacmagic import jacobian
from jacmagic.chain.check import finite_difference_check, high_precision_map
from jacmagic.model import Guard
from jacmagic.notes import (
    BudgetStopped,
    CheckResult,
    DeterminantTooLarge,
    HeldConstant,
    MoreUndefined,
    Note,
    NotWrittenOut,
    OffMainThread,
    ThroughStages,
    UndefinedEntry,
    UndefinedRow,
)
from jacmagic.views.notes import notes_words, words

x, y = sp.symbols("x y", real=True)

# One fact of every kind, with the sentence the views give it (as the results said before issue 23).
SAID: list[tuple[Note, str]] = [
    (HeldConstant(("xx", "b"), ("x1", "")), "constants (held fixed, not differentiated): xx (did you mean x1?), b"),
    (HeldConstant(tuple(f"c{k}" for k in range(14))),
     "constants (held fixed, not differentiated): c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11 and 2 more"),
    (DeterminantTooLarge(50, 8, 2.0), "determinants larger than 8 x 8 are not expanded symbolically (this one is 50 "
     "x 50); its value at a point is still computed"),
    (DeterminantTooLarge(8, 8, 0.3), "the determinant did not expand symbolically within the 0.3 s time budget "
     "(--budget); its value at a point is still computed"),
    (OffMainThread(determinant_skipped=True), "this ran outside the main thread, where time budgets cannot stop a "
     "step (they use SIGALRM): simplification and the symbolic determinant were skipped so that nothing can hang; "
     "every number at a point is unaffected"),
    (BudgetStopped(2.0), "simplification stopped at the 2 s time budget; some entries are shown unsimplified"),
    (ThroughStages(), "the composed map is too large to write out symbolically, so its Jacobian is built stage by "
     "stage; result.matrix composes it on request"),
    (NotWrittenOut(), "the Jacobian could not be written out entry by entry within the time budget; the walkthrough "
     "is checked by central differences"),
    (NotWrittenOut("a def returning a matrix"), "the Jacobian could not be written out entry by entry (a def "
     "returning a matrix); the walkthrough is checked by central differences"),
    (UndefinedRow(1, Guard(sp.log(x), 3)), "row 2 is undefined at this point because the map "
     "itself is undefined there: log(x) has no finite real value here (line 3)"),
    (UndefinedEntry(0, 2, infinite=True), "entry (1, 3) is undefined at this point: the derivative is infinite or "
     "too large for a float here (e.g. a vertical tangent, or overflow)"),
    (MoreUndefined(4), "(and 4 more undefined)"),
    (CheckResult(3, 0, 2e-12, 3), "check passed: matches central finite differences at 3 points (largest deviation "
     "2e-12)"),
    (CheckResult(2, 1, 0.013, 3), "check FAILED: the Jacobian differs from central finite differences by 0.013 "
     "(relative) at 1 of 2 points"),
    (CheckResult(0, 0, 0.0, 3), "check: no point was found where the map is defined, so nothing was compared"),
    (CheckResult(1, 0, 0.0, 3, stopped_at=0.5), "check stopped at the 0.5 s time budget after 1 of 3 points: the "
     "map's values grow too large to compute at 50 digits; those checked passed"),
]


@pytest.mark.parametrize(("fact", "sentence"), SAID, ids=[type(f).__name__ for f, _ in SAID])
def test_every_kind_of_note_is_a_fact_worded_by_the_one_view(fact: Note, sentence: str) -> None:
    assert words(fact) == sentence


def test_a_50_by_50_determinant_says_the_size_limit_not_the_time_budget() -> None:
    """A 50 x 50 --det cell said "too large to expand symbolically within the time budget": it is never tried,
    as determinants past 8 x 8 are not expanded (docs/guarantees.md); the number at the point is still right."""
    result = jacobian("x: 50\ny = tanh(x)", det=True, at={"x": np.linspace(-1, 1, 50)})
    assert DeterminantTooLarge(50, 8, 2.0) in result.facts
    said = next(note for note in result.notes if "determinant" in note)
    assert "larger than 8 x 8" in said and "50 x 50" in said and "time budget" not in said
    assert result.symbolic.det_at(result.at()) == pytest.approx(np.prod(1 - np.tanh(np.linspace(-1, 1, 50)) ** 2))


def test_an_8_by_8_determinant_past_its_budget_says_the_time_budget() -> None:
    """Within the size limit, a determinant sympy cannot expand in --budget seconds says so, with the budget.
    (The cell takes 0.6 s idle, the expansion stopped at the budget: no wall-clock assertion.)"""
    names = [f"v{i}" for i in range(8)]
    rows = [" + ".join(f"relu({names[j]})*{names[(i + j) % 8]}*sin({names[(i * j + 1) % 8]})" for j in range(8))
            for i in range(8)]
    result = jacobian(f"f({', '.join(names)}) = [" + ", ".join(rows) + "]", det=True, budget=0.3)
    assert DeterminantTooLarge(8, 8, 0.3) in result.facts
    said = next(note for note in result.notes if "determinant" in note)
    assert "0.3 s time budget" in said and "larger than" not in said


def test_every_kind_of_note_has_words() -> None:
    assert {type(fact) for fact, _ in SAID} == set(typing.get_args(Note))


def _sentences(value: Any) -> list[str]:
    """The strings with a space in `value` (a field, or a tuple of them): English, never a name."""
    if isinstance(value, str):
        return [value] if " " in value else []
    if isinstance(value, tuple):
        return [s for v in value for s in _sentences(v)]
    return []


RESULTS = [
    ("f = x1*sin(x2) + xx", {"wrt": "x1,x2", "at": {"x1": 1.0, "x2": 2.0, "xx": 3.0}, "check": True}),
    ("f(x, y) = [log(x), y/x]", {"at": {"x": 0.0, "y": 1.0}}),
    ("z = w*x + b\na = sigmoid(z)", {"chain": True, "wrt": "w"}),
    ("\n".join(f"a{k} = sin(a{k - 1}) + a{k - 1}" for k in range(1, 36)), {"budget": 0.2, "at": {"a0": 0.3}}),
]


@pytest.mark.parametrize(("cell", "options"), RESULTS)
def test_no_result_stores_a_sentence(cell: str, options: dict[str, Any]) -> None:
    """Every dataclass field and every computed value of both result types holds facts and names, no English
    (the cell's own text aside)."""
    result = jacobian(cell, **options)
    assert result.notes and result.notes == notes_words(result.facts)
    for held in (result, result.whole):
        if held is None:
            continue
        stored = {f.name: getattr(held, f.name) for f in dataclasses.fields(held) if f.name != "text"}
        stored.update(vars(held))  # what cached properties computed, notes included
        stored.pop("text", None)
        assert {name: _sentences(value) for name, value in stored.items() if _sentences(value)} == {}


def test_the_check_is_a_fact_counting_points_and_failures() -> None:
    def right(point: np.ndarray) -> np.ndarray:
        a, b = point
        return np.array([[b, a]])

    function = high_precision_map([x * y], (x, y))
    passed = finite_difference_check(right, function, (x, y), 2)
    assert (passed.checked, passed.failed, passed.stopped_at) == (3, 0, None) and passed.worst < 1e-9
    failed = finite_difference_check(lambda p: right(p) * 1.01, function, (x, y), 2)
    # 1% off, relative to the value checked: 0.01 / 1.01
    assert (failed.checked, failed.failed) == (3, 3) and failed.worst == pytest.approx(0.01 / 1.01)


def test_the_text_and_the_panel_word_the_notes_as_the_result_does() -> None:
    result = jacobian("f(x, y) = [log(x), y*c]", wrt="x,y", at={"x": -1.0, "y": 1.0, "c": 2.0})
    assert len(result.notes) == 2
    text = " ".join(str(result).split())  # its continued lines joined
    assert all(f"note: {note}" in text for note in result.notes)
    whole = result.symbolic
    panel = whole.widget()
    html = panel.render_html(whole.at(x=-1.0, y=1.0, c=2.0), 4)
    assert result.notes[1].split(": ")[0] in html  # "row 1 is undefined ... undefined there"


def test_an_undefined_row_says_the_map_itself_is_undefined_there() -> None:
    """The note read "because the map is: log(x) has no finite real value here", a sentence missing its word;
    it now says what is undefined (the map, not only its derivative) before the reason."""
    result = jacobian("f(x) = log(x)", at={"x": -1.0})
    said = [note for note in result.notes if note.startswith("row 1 is undefined")]
    assert said == ["row 1 is undefined at this point because the map itself is undefined there: log(x) has no "
                    "finite real value here (line 1)"]
