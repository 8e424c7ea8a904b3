"""Time budgets interrupt slow steps, and leave an alarm set by someone else working."""

from __future__ import annotations

import signal
import time

import pytest

from jacmagic.budget import Budget, time_limit
from jacmagic.errors import BudgetExceeded


def spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_time_limit_interrupts() -> None:
    start = time.monotonic()
    with pytest.raises(BudgetExceeded):
        with time_limit(0.1):
            spin(5)
    assert time.monotonic() - start < 1


def test_budget_run_returns_fallback_and_remembers() -> None:
    budget = Budget(0.1)
    assert budget.run(lambda: spin(5) or "done", "fallback") == "fallback"
    assert budget.exceeded
    assert Budget(5).run(lambda: "done", "fallback") == "done"


class OuterAlarm(Exception):
    pass


def test_an_outer_alarm_still_fires_with_its_own_handler() -> None:
    def outer(signum: int, frame: object) -> None:
        raise OuterAlarm()

    previous = signal.signal(signal.SIGALRM, outer)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with time_limit(0.05):
            pass
        with pytest.raises(OuterAlarm):
            with time_limit(5):
                spin(5)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_an_outer_alarm_is_rearmed_after_a_budget() -> None:
    def outer(signum: int, frame: object) -> None:
        raise OuterAlarm()

    previous = signal.signal(signal.SIGALRM, outer)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(BudgetExceeded):
            with time_limit(0.05):
                spin(5)
        with pytest.raises(OuterAlarm):
            spin(5)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
