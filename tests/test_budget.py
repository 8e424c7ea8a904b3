"""Time budgets interrupt slow steps, and leave an alarm set by someone else working."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

import pytest

from jacmagic import JacobianResult, jacobian
from jacmagic.budget import Budget, time_limit
from jacmagic.errors import BudgetExceeded

from .helpers import assert_close


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


def _in_a_thread(work: Callable[[], object]) -> object:
    box: list[object] = []
    thread = threading.Thread(target=lambda: box.append(work()))
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "an optional step ran unbudgeted in a thread"
    return box[0]


def test_outside_the_main_thread_optional_steps_are_skipped_and_required_ones_run() -> None:
    budget = Budget(0.1)
    assert _in_a_thread(lambda: budget.run(lambda: spin(60) or "done", "fallback")) == "fallback"
    assert budget.skipped and not budget.exceeded
    assert _in_a_thread(lambda: Budget(0.1).run(lambda: "differentiated", None, optional=False)) == "differentiated"


def test_a_jacobian_from_a_thread_says_what_it_skipped() -> None:
    slow = " + ".join(f"sin(x + {k}*y)**3*cos(x - {k}*y)**2" for k in range(40))
    result = _in_a_thread(lambda: jacobian(f"f(x, y) = [{slow}]", simplify="full", budget=300))
    assert isinstance(result, JacobianResult)
    assert any("outside the main thread" in note for note in result.notes)
    h = 1e-6
    value = [float(result.map_function()(x, 0.2)[0]) for x in (0.3 - h, 0.3 + h)]
    assert_close(result.at(x=0.3, y=0.2)[0, 0], (value[1] - value[0]) / (2 * h), rel=1e-5)


def test_the_determinant_budget_starts_after_differentiation() -> None:
    """Differentiation has its own allowance: a slow one must not spend the determinant's time (it did, and a
    2 x 2 relu map's determinant came back "too large to expand" at --budget 0.2)."""
    cell = "f(x, y) = [relu(x*y) + sin(x)*x, relu(x - y)*cos(y) + tanh(x*y)]"
    result = jacobian(cell, det=True, budget=0.2, at={"x": 0.7, "y": 0.3})
    assert result.symbolic_det is not None and not any("too large" in note for note in result.notes)
    assert_close(result.det_at(result.at(x=0.7, y=0.3)), float(result.symbolic_det.subs({s: v for s, v in zip(
        result.inputs, (0.7, 0.3))})))


def test_walkthrough_data_can_be_compared_without_numpy_errors() -> None:
    walk = jacobian("u = x*y\nL = sin(u)", chain=True).walkthrough()
    assert walk == walk and walk != jacobian("u = x*y\nL = sin(u)", chain=True).walkthrough()
