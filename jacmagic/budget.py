"""Time budgets for expensive symbolic steps (simplify, big determinants), so that nothing hangs the kernel.

A budget is a real-time alarm (SIGALRM) that raises `BudgetExceeded` inside the running computation. It nests with
an alarm someone else already set (a test harness, an outer budget): that alarm is re-armed on exit and, if it was
due first, its own handler runs. Outside the main thread signals cannot be used: an optional step (simplifying,
expanding a determinant) is then skipped, and a required one (differentiating, bounded by its size estimate
beforehand) runs without a clock.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sympy.core.cache import clear_cache

from .errors import BudgetExceeded

T = TypeVar("T")
# After the first alarm, keep nudging: library code may swallow one exception in a broad `except BaseException`.
_REPEAT = 0.05


def _can_use_signals() -> bool:
    return threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raises `BudgetExceeded` in the body once `seconds` have passed."""
    if seconds <= 0:
        raise BudgetExceeded()
    if not _can_use_signals():
        yield
        return
    start = time.monotonic()
    outer_handler = signal.getsignal(signal.SIGALRM)
    outer_delay, _ = signal.getitimer(signal.ITIMER_REAL)
    outer_due = start + outer_delay if outer_delay > 0 else None

    def on_alarm(signum: int, frame: Any) -> None:
        if outer_due is not None and time.monotonic() >= outer_due and callable(outer_handler):
            signal.signal(signal.SIGALRM, outer_handler)
            outer_handler(signum, frame)
        signal.setitimer(signal.ITIMER_REAL, _REPEAT)
        raise BudgetExceeded()

    signal.signal(signal.SIGALRM, on_alarm)
    first = seconds if outer_due is None else min(seconds, max(outer_delay, 1e-4))
    signal.setitimer(signal.ITIMER_REAL, first)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, outer_handler)
        if outer_due is not None:
            signal.setitimer(signal.ITIMER_REAL, max(outer_due - time.monotonic(), 1e-4))


class Budget:
    """A total time allowance shared by several steps of one cell."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.exceeded = False
        self.skipped = False  # an optional step was skipped: no clock outside the main thread

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, step: Callable[[], T], fallback: T, optional: bool = True) -> T:
        """`step()` within what is left of the budget, or `fallback` once the budget is spent (or at once when
        no clock can stop an optional step)."""
        if not _can_use_signals():
            if optional:
                self.skipped = True
                return fallback
            return step()
        try:
            with time_limit(self.remaining()):
                return step()
        except BudgetExceeded:
            self.exceeded = True
            clear_cache()  # the alarm may have landed inside sympy, half-way through filling a cache entry
            return fallback
