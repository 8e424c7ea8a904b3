"""What a result says beside its numbers, as facts: the pipeline and the engine record them, and one view
(`views/notes.py`) words them, so that every display (text, LaTeX, the panels) says each the same way and a
program can read a note without parsing English."""

from __future__ import annotations

from dataclasses import dataclass

from jacmagic.model import Guard


@dataclass(frozen=True)
class HeldConstant:
    """Names held fixed (not differentiated), as the user declared them (an array by its name, never its entries),
    each with the variable it is one edit from ("": none), a hint at a typo given only for a lone name."""

    names: tuple[str, ...]
    suggestions: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeterminantTooLarge:
    """The symbolic determinant was not expanded; its value at a point is still computed. Either the Jacobian is
    larger than `limit` x `limit` (`size` rows), so it is never tried, or the expansion did not fit in the time
    budget (`seconds`): the note says which, as the two call for different remedies (a smaller map, --budget)."""

    size: int
    limit: int
    seconds: float

    @property
    def over_limit(self) -> bool:
        return self.size > self.limit


@dataclass(frozen=True)
class OffMainThread:
    """Time budgets cannot stop a step outside the main thread, so the expensive optional steps were skipped."""

    determinant_skipped: bool  # the symbolic determinant was skipped too, not only simplification


@dataclass(frozen=True)
class BudgetStopped:
    """Simplification stopped at the time budget: some entries are shown unsimplified."""

    seconds: float


@dataclass(frozen=True)
class ThroughStages:
    """The composed map is too large to write out: its Jacobian comes stage by stage."""


@dataclass(frozen=True)
class NotWrittenOut:
    """A --chain cell's Jacobian could not be written out entry by entry: too slow (`detail` ""), or the entry
    level refused the cell (`detail`: its message)."""

    detail: str = ""


@dataclass(frozen=True)
class UndefinedRow:
    """Row `row` (from 0) is undefined at the point because the map itself is not defined there."""

    row: int
    guard: Guard


@dataclass(frozen=True)
class UndefinedEntry:
    """Entry (`row`, `column`) (from 0) has no value though the map is defined: infinite, or no real value. Told
    from its number alone: evaluating it symbolically can take unbounded time (exp(exp(exp(x))))."""

    row: int
    column: int
    infinite: bool


@dataclass(frozen=True)
class MoreUndefined:
    """How many more undefined rows or entries there are than the notes list."""

    count: int


@dataclass(frozen=True)
class CheckResult:
    """`--check`: how the Jacobian compared with central differences of the map at 50 digits. `checked` points
    compared (of `wanted`), `failed` of them beyond the allowance, `worst` the largest relative deviation;
    `stopped_at` the time budget (seconds) when the map's values grew too large to compute, else None."""

    checked: int
    failed: int
    worst: float
    wanted: int
    stopped_at: float | None = None


Note = (HeldConstant | DeterminantTooLarge | OffMainThread | BudgetStopped | ThroughStages | NotWrittenOut
        | UndefinedRow | UndefinedEntry | MoreUndefined | CheckResult)
