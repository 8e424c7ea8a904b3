"""The notes beside a result's numbers in words: the one place each fact of `jacmagic/notes.py` is said, for the
text, the LaTeX, the panels and `result.notes` alike."""

from __future__ import annotations

from collections.abc import Iterable
from functools import singledispatch

from jacmagic.notation import counted
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
from jacmagic.read.names import did_you_mean

# The constants named in a note: the rest are counted.
_NAMED_CONSTANTS = 12


def notes_words(facts: Iterable[Note]) -> tuple[str, ...]:
    """Each fact as its sentence, in order."""
    return tuple(words(fact) for fact in facts)


@singledispatch
def words(fact: Note) -> str:
    raise TypeError(f"no words for {fact!r}")


@words.register
def _(fact: HeldConstant) -> str:
    suggestions = fact.suggestions or ("",) * len(fact.names)
    shown = [name + did_you_mean(close) for name, close in
             zip(fact.names[:_NAMED_CONSTANTS], suggestions)]
    extra = len(fact.names) - _NAMED_CONSTANTS
    more = f" and {extra} more" if extra > 0 else ""
    return f"constants (held fixed, not differentiated): {', '.join(shown)}{more}"


@words.register
def _(fact: DeterminantTooLarge) -> str:
    why = (f"determinants larger than {fact.limit} x {fact.limit} are not expanded symbolically (this one is "
           f"{fact.size} x {fact.size})" if fact.over_limit else
           f"the determinant did not expand symbolically within the {fact.seconds:g} s time budget (--budget)")
    return f"{why}; its value at a point is still computed"


@words.register
def _(fact: OffMainThread) -> str:
    skipped = "simplification and the symbolic determinant were" if fact.determinant_skipped else \
        "simplification was"
    return ("this ran outside the main thread, where time budgets cannot stop a step (they use SIGALRM): "
            f"{skipped} skipped so that nothing can hang; every number at a point is unaffected")


@words.register
def _(fact: BudgetStopped) -> str:
    return f"simplification stopped at the {fact.seconds:g} s time budget; some entries are shown unsimplified"


@words.register
def _(fact: ThroughStages) -> str:
    return ("the composed map is too large to write out symbolically, so its Jacobian is built stage by stage; "
            "result.matrix composes it on request")


@words.register
def _(fact: NotWrittenOut) -> str:
    why = f"({fact.detail})" if fact.detail else "within the time budget"
    return f"the Jacobian could not be written out entry by entry {why}; the walkthrough is checked by central " \
        "differences"


@words.register
def _(fact: UndefinedRow) -> str:
    return f"row {fact.row + 1} is undefined at this point because the map itself is undefined there: " \
        f"{fact.guard.describe()}"


@words.register
def _(fact: UndefinedEntry) -> str:
    reason = "the derivative is infinite or too large for a float here (e.g. a vertical tangent, or overflow)" \
        if fact.infinite else ("the derivative has no real value here (e.g. 0/0, a kink, or the root or log of a "
                               "negative number in the derivative)")
    return f"entry ({fact.row + 1}, {fact.column + 1}) is undefined at this point: {reason}"


@words.register
def _(fact: MoreUndefined) -> str:
    return f"(and {fact.count} more undefined)"


@words.register
def _(fact: CheckResult) -> str:
    if fact.stopped_at is not None:
        said = f"; those checked {'FAILED' if fact.failed else 'passed'}" if fact.checked else ""
        return (f"check stopped at the {fact.stopped_at:g} s time budget after {fact.checked} of "
                f"{counted(fact.wanted, 'point')}: the map's values grow too large to compute at 50 digits{said}")
    if fact.checked == 0:
        return "check: no point was found where the map is defined, so nothing was compared"
    if fact.failed:
        return (f"check FAILED: the Jacobian differs from central finite differences by {fact.worst:.2g} "
                f"(relative) at {fact.failed} of {counted(fact.checked, 'point')}")
    return f"check passed: matches central finite differences at {counted(fact.checked, 'point')} (largest " \
        f"deviation {fact.worst:.1g})"
